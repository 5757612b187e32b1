//! The command line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rampart_kit::CancellationToken;
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::config::secret_from_env;
use rampart_kit::environment::Environment;
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_kit::secret::ExposeSecret;
use rampart_kit::telemetry::{self, LogFormat};
use tokio::net::TcpListener;

use crate::production;
use crate::settings::{self, FileSettings};
use crate::stack::{self, DevOptions, DevStorage, StackConfig};

/// Rampart: a secure, multi-tenant backend for AI-assisted customer support.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about)]
pub struct Cli {
    /// A TOML settings file; flags and environment variables override it.
    #[arg(long, env = "RAMPART_CONFIG", global = true)]
    config: Option<PathBuf>,

    /// Log format: readable (pretty) or one JSON object per line (json).
    /// Default: pretty for `dev`, json otherwise.
    #[arg(long, env = "RAMPART_LOG_FORMAT", global = true, value_enum)]
    log_format: Option<LogFormatArg>,

    /// Where this runs: development (the default), staging or production.
    /// Production refuses to start on settings fit only for a laptop;
    /// staging's and production's keys do not work in each other.
    #[arg(long = "env", env = "RAMPART_ENV", global = true)]
    environment: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole stack in this process on the embedded default
    /// (SQLite, in-process cache), with generated certificates and secrets.
    Dev(DevArgs),
    /// Run chosen services against PostgreSQL and Redis, for production.
    Serve(ServeArgs),
    /// Apply database migrations for the services that have a database.
    Migrate(MigrateArgs),
    /// Certificates for the internal mesh and the edge.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Platform administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(crate::audit_cli::AuditCommand),
    /// The handoff gate's detection.
    #[command(subcommand)]
    Escalation(crate::escalation_cli::EscalationCommand),
    /// Incidents: contain, restore, verify integrity, report.
    Incident(crate::incident_cli::IncidentArgs),
    /// The monthly security checklist as a report (Markdown, and JSON).
    Checklist(crate::checklist::ChecklistArgs),
}

#[derive(Debug, Args)]
struct DevArgs {
    /// Where SQLite files, certificates and generated secrets live.
    #[arg(long, env = "RAMPART_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The HTTPS edge's address.
    #[arg(long, env = "RAMPART_LISTEN")]
    listen: Option<String>,
    /// The internal admin listener (metrics, health); default 127.0.0.1:9464.
    #[arg(long, env = "RAMPART_ADMIN_LISTEN")]
    admin_listen: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The services to run: gateway, auth, crm, escalation, audit.
    #[arg(required = true)]
    services: Vec<String>,
    /// The folder with the internal CA, service certificates and edge
    /// certificate (see `rampart pki init`).
    #[arg(long, env = "RAMPART_PKI_DIR")]
    pki_dir: Option<PathBuf>,
    /// PostgreSQL for auth, crm and audit.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Redis for the gateway's shared rate limits.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// The internal admin listener (metrics, health). With the gateway,
    /// default 127.0.0.1:9464; without it, only when set here or in the
    /// file. Never the public port.
    #[arg(long, env = "RAMPART_ADMIN_LISTEN")]
    admin_listen: Option<String>,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// The database to migrate.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Generate an internal CA with one certificate per service, and an edge
    /// CA with a certificate for the given names.
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// DNS names or IP addresses the edge certificate covers.
        #[arg(long = "edge-name", default_values = ["localhost", "127.0.0.1"])]
        edge_names: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Print a new platform admin key, for RAMPART_ADMIN_API_KEY.
    GenerateKey,
    /// Create a platform admin account with a TOTP second factor: how the
    /// first admin is made. The password is read from
    /// RAMPART_NEW_ADMIN_PASSWORD or, if unset, from the first line of
    /// standard input; the TOTP secret is printed once.
    CreateUser(CreateAdminArgs),
}

#[derive(Debug, Args)]
struct CreateAdminArgs {
    /// The admin's email; it must be in the office domains.
    #[arg(long)]
    email: String,
    /// The platform's office domains (comma-separated); default:
    /// RAMPART_ADMIN_EMAIL_DOMAINS.
    #[arg(long, env = "RAMPART_ADMIN_EMAIL_DOMAINS")]
    office_domains: Option<String>,
    /// A `rampart dev` data folder: its auth database and secrets are used.
    #[arg(long, conflicts_with = "database_url")]
    data_dir: Option<PathBuf>,
    /// Otherwise the auth database; the secrets then come from
    /// RAMPART_KEY_HASH_SECRET and RAMPART_TOTP_ENCRYPTION_KEY (or _FILE).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

/// Runs the command; `main` only reports the error.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = FileSettings::load(cli.config.as_deref())?;
    let environment = settings::environment(cli.environment.as_deref(), &file)?;
    // The drills' failpoints follow the environment resolved here, flag
    // included, never a stray RAMPART_ENV; and only one named outright, not
    // the development default.
    if cli.environment.is_some() || file.env.is_some() {
        rampart_audit::failpoints::set_environment(environment);
    }
    let default_format = match cli.command {
        Command::Dev(_) => LogFormat::Pretty,
        _ => LogFormat::Json,
    };
    let format = match (cli.log_format, file.log_format.as_deref()) {
        (Some(LogFormatArg::Pretty), _) | (None, Some("pretty")) => LogFormat::Pretty,
        (Some(LogFormatArg::Json), _) | (None, Some("json")) => LogFormat::Json,
        (None, None) => default_format,
        (None, Some(other)) => bail!("log_format must be \"pretty\" or \"json\", not {other:?}"),
    };
    match cli.command {
        Command::Dev(args) => {
            let _telemetry = telemetry::init(format)?;
            dev(args, &file, environment).await
        }
        Command::Serve(args) => {
            let _telemetry = telemetry::init(format)?;
            serve(args, &file, environment).await
        }
        Command::Migrate(args) => migrate(args, &file, environment).await,
        Command::Pki(PkiCommand::Init { dir, edge_names }) => {
            let pki = PkiDir::new(dir);
            if pki.ensure_generated(&edge_names)? {
                println!(
                    "generated certificates and keys in {}",
                    pki.path().display()
                );
            } else {
                println!(
                    "{} already holds a complete set; nothing changed",
                    pki.path().display()
                );
            }
            Ok(())
        }
        Command::Audit(command) => crate::audit_cli::run(command),
        Command::Escalation(command) => crate::escalation_cli::run(command),
        Command::Admin(AdminCommand::GenerateKey) => {
            println!("{}", PlaintextApiKey::generate(KeyKind::Admin).expose());
            Ok(())
        }
        Command::Admin(AdminCommand::CreateUser(args)) => create_admin(args, environment).await,
        Command::Incident(args) => crate::incident_cli::run(args, &file).await,
        Command::Checklist(args) => crate::checklist::run(args, &file).await,
    }
}

fn admin_key_from_env() -> anyhow::Result<Option<rampart_kit::secret::SecretString>> {
    let key = secret_from_env("RAMPART_ADMIN_API_KEY")?;
    if let Some(key) = &key {
        match PlaintextApiKey::parse(key.expose_secret()) {
            Ok(parsed) if parsed.kind() == KeyKind::Admin => {}
            _ => bail!(
                "RAMPART_ADMIN_API_KEY is not a Rampart admin key (rk_admin_...); generate one with `rampart admin generate-key`"
            ),
        }
    }
    Ok(key)
}

/// The admin listener's token, from `RAMPART_ADMIN_TOKEN_FILE` (or
/// `RAMPART_ADMIN_TOKEN`).
fn admin_token_from_env() -> anyhow::Result<Option<rampart_kit::secret::SecretString>> {
    secret_from_env("RAMPART_ADMIN_TOKEN")
}

async fn dev(args: DevArgs, file: &FileSettings, environment: Environment) -> anyhow::Result<()> {
    if environment == Environment::Production {
        bail!(
            "rampart dev does not run with RAMPART_ENV=production: it generates its secrets and keeps its data on this machine; use `rampart serve` for production"
        );
    }
    let data_dir = args
        .data_dir
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(".rampart"));
    let listen = match args.listen.as_deref().or(file.listen.as_deref()) {
        Some(value) => settings::parse_listen(value, "--listen")?,
        None => SocketAddr::from(([127, 0, 0, 1], 8443)),
    };
    let admin_listen = settings::admin_listen(args.admin_listen.as_deref(), file)?;
    let admin_api_key = admin_key_from_env()?;
    let data = crate::dev_data::DataDir::open(&data_dir)?;
    // Held until this process ends; taken before binding, so a second
    // `rampart dev` on this folder is told why rather than "port in use".
    let _lock = data.lock()?;
    let admin_sign_in_path = data.admin_sign_in_path()?;
    let gateway = rampart_gateway::Config {
        admin_sign_in_path: Some(admin_sign_in_path.expose_secret().to_owned()),
        billing_webhook_secret: Some(match secret_from_env("RAMPART_BILLING_WEBHOOK_SECRET")? {
            Some(secret) => secret,
            None => data.billing_webhook_secret()?,
        }),
        admin_token: admin_token_from_env()?,
        ..gateway_config(file)?
    };
    let mut accounts = settings::account_settings_from_env()?;
    accounts.environment = environment;
    // `admin create-user --data-dir` keeps the domains it was given in the
    // folder, so the admin it made can sign in here.
    for domain in data.office_domains()? {
        if !accounts.admin_email_domains.contains(&domain) {
            accounts.admin_email_domains.push(domain);
        }
    }
    let edge_listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; is another rampart running? (--listen picks another address)"))?;
    let admin_listener = TcpListener::bind(admin_listen)
        .await
        .with_context(|| format!("cannot listen on {admin_listen} for metrics; is another rampart running? (--admin-listen picks another address)"))?;
    let transport = settings::transport(file)?;
    let stack = stack::start_dev(DevOptions {
        crm: rampart_crm::Integrations {
            calendar: settings::calendar_settings_from_env()?,
            ..Default::default()
        },
        data_dir: data_dir.clone(),
        edge_listener,
        admin_api_key,
        storage: DevStorage::Embedded,
        gateway,
        accounts,
        admin_listener: Some(admin_listener),
        // A developer's machine: webhook receivers on loopback are fine.
        escalation: rampart_escalation::Settings {
            webhook_targets: rampart_escalation::handoffs::WebhookTargets::AnyAddress,
            ..rampart_escalation::Settings::default()
        },
        transport,
    })
    .await?;
    let edge = stack.edge_addr;
    println!();
    println!("rampart dev is running");
    println!("  edge:      https://{edge}");
    if let Some(admin) = stack.admin_addr {
        println!("  metrics:   http://{admin}/metrics   (internal admin listener)");
    }
    println!("  data:      {}", data_dir.display());
    println!(
        "  transport: {transport}   ({})",
        match transport {
            rampart_kit::local::Transport::InProcess =>
                "the gateway calls the services in this process",
            rampart_kit::local::Transport::Grpc =>
                "the gateway calls the services over gRPC with mutual TLS",
        }
    );
    println!(
        "  sms:       {}   (loopback Twilio stand-in: texts stop here)",
        stack.sms_provider.url()
    );
    println!(
        "  edge CA:   {}   (curl --cacert this file)",
        stack.edge_ca.display()
    );
    if stack.admin_key_generated {
        println!("  admin key: {}", stack.admin_api_key.expose_secret());
        println!(
            "             shown once; also kept in {}",
            data_dir.join("secrets/admin-api-key").display()
        );
    } else {
        println!(
            "  admin key: from RAMPART_ADMIN_API_KEY or {}",
            data_dir.join("secrets/admin-api-key").display()
        );
    }
    println!(
        "  admins sign in at https://{edge}/v1/auth/{}/sign-in   (keep this path private)",
        admin_sign_in_path.expose_secret()
    );
    println!(
        "  first admin: cargo run -p rampart -- admin create-user --data-dir {} --email you@yourcompany.example --office-domains yourcompany.example",
        data_dir.display()
    );
    println!("             then restart rampart dev: it reads the office domains when it starts");
    println!();
    stop_on_signal(stack.running.shutdown_token());
    stack.running.wait().await
}

async fn serve(
    args: ServeArgs,
    file: &FileSettings,
    environment: Environment,
) -> anyhow::Result<()> {
    let mut services = Vec::new();
    for name in &args.services {
        let service = ServiceName::parse(name)?;
        if !services.contains(&service) {
            services.push(service);
        }
    }
    let pki_dir = args
        .pki_dir
        .or_else(|| file.pki_dir.clone())
        .context("set RAMPART_PKI_DIR (or --pki-dir) to the folder made by `rampart pki init`")?;
    let needs_database = services.iter().any(|s| !matches!(s, ServiceName::Gateway));
    let serves_gateway = services.contains(&ServiceName::Gateway);
    let serves = |service| services.contains(&service);
    let database_url = args.database_url.or_else(|| file.database_url.clone());
    let redis_url = args.redis_url.or_else(|| file.redis_url.clone());
    // A gateway always has one (its default is loopback); other services
    // only when asked, so that several `rampart serve` on one machine do not
    // contend for the default port.
    let admin_listen = if serves_gateway {
        Some(settings::admin_listen(args.admin_listen.as_deref(), file)?)
    } else {
        settings::configured_admin_listen(args.admin_listen.as_deref(), file)?
    };
    // Every secret is read (not yet required) first, so that production's
    // refusals can be listed together before anything else stops the start.
    let read_if = |wanted: bool, name: &str| {
        if wanted {
            secret_from_env(name)
        } else {
            Ok(None)
        }
    };
    let key_hash_secret = read_if(serves(ServiceName::Auth), "RAMPART_KEY_HASH_SECRET")?;
    let totp_encryption_key = read_if(serves(ServiceName::Auth), "RAMPART_TOTP_ENCRYPTION_KEY")?;
    let admin_api_key = admin_key_from_env()?;
    let audit_signing_key = read_if(serves(ServiceName::Audit), "RAMPART_AUDIT_SIGNING_KEY")?;
    let master_key_text = read_if(serves(ServiceName::Crm), "RAMPART_MASTER_KEY")?;
    let billing_webhook_secret = secret_from_env("RAMPART_BILLING_WEBHOOK_SECRET")?;
    let admin_sign_in_path = secret_from_env("RAMPART_ADMIN_SIGN_IN_PATH")?;
    let admin_token = read_if(admin_listen.is_some(), "RAMPART_ADMIN_TOKEN")?;
    if environment == Environment::Production {
        let mut secrets = Vec::new();
        for (name, secret, min_len) in [
            (
                "RAMPART_KEY_HASH_SECRET",
                &key_hash_secret,
                production::MIN_SECRET_LEN,
            ),
            (
                "RAMPART_TOTP_ENCRYPTION_KEY",
                &totp_encryption_key,
                production::MIN_SECRET_LEN,
            ),
            (
                "RAMPART_ADMIN_API_KEY",
                &admin_api_key,
                production::MIN_SECRET_LEN,
            ),
            (
                "RAMPART_AUDIT_SIGNING_KEY",
                &audit_signing_key,
                production::MIN_SECRET_LEN,
            ),
            (
                "RAMPART_MASTER_KEY",
                &master_key_text,
                production::MIN_SECRET_LEN,
            ),
            (
                "RAMPART_BILLING_WEBHOOK_SECRET",
                &billing_webhook_secret,
                production::MIN_SECRET_LEN,
            ),
            // A path segment, not a key: its own rule asks for 16.
            ("RAMPART_ADMIN_SIGN_IN_PATH", &admin_sign_in_path, 16),
            (
                "RAMPART_ADMIN_TOKEN",
                &admin_token,
                production::MIN_SECRET_LEN,
            ),
        ] {
            if let Some(secret) = secret {
                secrets.push((name, secret, min_len));
            }
        }
        production::check(&production::ProductionSettings {
            database_url: database_url.as_deref(),
            needs_database,
            redis_url: redis_url.as_deref(),
            needs_redis: serves_gateway || serves(ServiceName::Auth),
            admin_listen,
            admin_token: admin_token.is_some(),
            secrets,
        })?;
    }

    let mut databases = HashMap::new();
    if needs_database {
        let url = database_url
            .context("set DATABASE_URL (or --database-url) for auth, crm, escalation and audit")?;
        settings::check_database_url(&url, "DATABASE_URL")?;
        for service in [
            ServiceName::Auth,
            ServiceName::Crm,
            ServiceName::Escalation,
            ServiceName::Audit,
        ] {
            databases.insert(service, url.clone());
        }
    }
    let redis = match redis_url {
        Some(url) => {
            settings::check_redis_url(&url, "REDIS_URL")?;
            Some((url, "rampart".to_owned()))
        }
        None if serves_gateway => {
            bail!("set REDIS_URL (or --redis-url): gateways share rate limits through Redis")
        }
        None => None,
    };
    let key_hash_secret = if serves(ServiceName::Auth) {
        Some(key_hash_secret.context(
            "set RAMPART_KEY_HASH_SECRET (or RAMPART_KEY_HASH_SECRET_FILE): at least 32 random bytes for hashing API keys",
        )?)
    } else {
        None
    };
    let mut gateway = if serves_gateway {
        gateway_config(file)?
    } else {
        rampart_gateway::Config::default()
    };
    let audit_signing_key = if serves(ServiceName::Audit) {
        Some(audit_signing_key.context(
            "set RAMPART_AUDIT_SIGNING_KEY (or RAMPART_AUDIT_SIGNING_KEY_FILE): an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)",
        )?)
    } else {
        None
    };

    let totp_encryption_key = if serves(ServiceName::Auth) {
        Some(totp_encryption_key.context(
            "set RAMPART_TOTP_ENCRYPTION_KEY (or RAMPART_TOTP_ENCRYPTION_KEY_FILE): 32 random bytes in hex for sealing TOTP secrets",
        )?)
    } else {
        None
    };
    let crm_master_key = if serves(ServiceName::Crm) {
        let text = master_key_text.context(
            "set RAMPART_MASTER_KEY (or RAMPART_MASTER_KEY_FILE): the crm's master key, 32 random bytes in base64 (`v1:<base64>`, or `v2:<base64>,v1:<base64>` while rotating); the crm will not start without it",
        )?;
        Some(stack::parse_master_key(&text)?)
    } else {
        None
    };
    let audit_checkpoint_interval = settings::audit_checkpoint_interval()?;
    // Without it the billing webhook refuses every call (503).
    gateway.billing_webhook_secret = billing_webhook_secret;
    // Without it the telephony webhooks refuse every call (503).
    gateway.public_url = settings::public_url(file, environment)?;
    gateway.admin_token = admin_token;
    if let Some(segment) = admin_sign_in_path {
        settings::check_admin_sign_in_path(segment.expose_secret())?;
        gateway.admin_sign_in_path = Some(segment.expose_secret().to_owned());
    }
    let mut urls = HashMap::new();
    for service in ServiceName::ALL {
        urls.insert(service, settings::peer_url(file, service)?);
    }
    let mut listeners = Vec::new();
    for service in services {
        let addr = settings::serve_listen(file, service)?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for {service}"))?;
        tracing::info!(%service, %addr, "listening");
        listeners.push((service, listener));
    }
    let admin_listener = match admin_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for the admin listener"))?;
            tracing::info!(%addr, "admin listener (metrics, health)");
            Some(listener)
        }
        None => None,
    };
    let running = stack::start(StackConfig {
        crm: rampart_crm::Integrations {
            sms: settings::sms_settings_from_env()?,
            calendar: settings::calendar_settings_from_env()?,
        },
        pki: PkiDir::new(pki_dir),
        listeners,
        urls,
        databases,
        redis,
        key_hash_secret,
        admin_api_key,
        audit_signing_key,
        audit_checkpoint_interval,
        gateway,
        totp_encryption_key,
        crm_master_key,
        accounts: rampart_auth::AccountSettings {
            environment,
            ..settings::account_settings_from_env()?
        },
        admin_listener,
        escalation: rampart_escalation::Settings {
            webhook_targets: rampart_escalation::handoffs::WebhookTargets::for_environment(
                environment,
            ),
            ..settings::escalation_settings_from_env()?
        },
        transport: settings::transport(file)?,
    })
    .await?;
    stop_on_signal(running.shutdown_token());
    running.wait().await
}

async fn migrate(
    args: MigrateArgs,
    file: &FileSettings,
    environment: Environment,
) -> anyhow::Result<()> {
    let url = args
        .database_url
        .or_else(|| file.database_url.clone())
        .context("set DATABASE_URL (or --database-url)")?;
    if environment == Environment::Production {
        production::check(&production::ProductionSettings {
            database_url: Some(&url),
            needs_database: true,
            ..production::ProductionSettings::default()
        })?;
    }
    settings::check_database_url(&url, "DATABASE_URL")?;
    let db = rampart_kit::db::connect(&url).await?;
    rampart_auth::migrate(&db)
        .await
        .context("auth migrations failed")?;
    rampart_crm::migrate(&db)
        .await
        .context("crm migrations failed")?;
    rampart_escalation::migrate(&db)
        .await
        .context("escalation migrations failed")?;
    rampart_audit::migrate(&db)
        .await
        .context("audit migrations failed")?;
    rampart_kit::db::close(db).await;
    println!("migrations applied for auth, crm, escalation and audit");
    Ok(())
}

/// `rampart admin create-user`: a platform admin straight into the auth
/// database, with a TOTP secret printed once.
async fn create_admin(args: CreateAdminArgs, environment: Environment) -> anyhow::Result<()> {
    let data = args
        .data_dir
        .as_deref()
        .map(crate::dev_data::DataDir::open)
        .transpose()?;
    let (database_url, key_hash_secret, totp_key) = match (&data, &args.database_url) {
        (Some(data), _) => (
            rampart_kit::db::sqlite_url(&data.database("auth")),
            data.key_hash_secret()?,
            data.totp_encryption_key()?,
        ),
        (None, Some(url)) => {
            settings::check_database_url(url, "DATABASE_URL")?;
            (
                url.clone(),
                secret_from_env("RAMPART_KEY_HASH_SECRET")?.context(
                    "set RAMPART_KEY_HASH_SECRET (or _FILE), as for `rampart serve auth`",
                )?,
                secret_from_env("RAMPART_TOTP_ENCRYPTION_KEY")?.context(
                    "set RAMPART_TOTP_ENCRYPTION_KEY (or _FILE), as for `rampart serve auth`",
                )?,
            )
        }
        (None, None) => bail!("name the database: --data-dir for `rampart dev`, or DATABASE_URL"),
    };
    let mut accounts = settings::account_settings_from_env()?;
    // Recovery codes are hashed under the environment's secret, as auth
    // will check them.
    accounts.environment = environment;
    if let Some(domains) = &args.office_domains {
        accounts.admin_email_domains = settings::parse_domains(domains);
    }
    if let Some(data) = &data
        && accounts.admin_email_domains.is_empty()
    {
        accounts.admin_email_domains = data.office_domains()?;
    }
    if accounts.admin_email_domains.is_empty() {
        bail!(
            "set the platform's office domains (--office-domains or RAMPART_ADMIN_EMAIL_DOMAINS)"
        );
    }
    let password = match secret_from_env("RAMPART_NEW_ADMIN_PASSWORD")? {
        Some(password) => password,
        None => {
            eprintln!("password for {} (at least 15 characters):", args.email);
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            rampart_kit::secret::SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    };
    let domains = accounts.admin_email_domains.clone();
    let created = rampart_auth::create_platform_admin(
        &database_url,
        &key_hash_secret,
        &totp_key,
        accounts,
        &args.email,
        &password,
    )
    .await?;
    if let Some(data) = &data {
        data.add_office_domains(&domains)?;
    }
    println!(
        "created platform admin {} ({})",
        created.email, created.user_id
    );
    println!("add this second factor to an authenticator app now; it is shown once:");
    println!("  secret: {}", created.totp_secret.expose_secret());
    println!("  uri:    {}", created.provisioning_uri.expose_secret());
    println!("the first code entered at sign-in confirms it");
    if data.is_some() {
        println!(
            "the data folder keeps the office domains; restart rampart dev if it is running, so it reads them"
        );
    }
    Ok(())
}

/// The gateway's settings from the file: defaults, plus security.txt, rate
/// limits and connection limits.
fn gateway_config(file: &FileSettings) -> anyhow::Result<rampart_gateway::Config> {
    let config = settings::rate_limits(
        file,
        rampart_gateway::Config {
            security_txt: settings::security_txt(file, chrono::Utc::now())?,
            ..rampart_gateway::Config::default()
        },
    )?;
    settings::edge_limits(file, config)
}

/// Cancels `token` on Ctrl-C or SIGTERM.
fn stop_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for SIGTERM");
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        token.cancel();
    });
}
