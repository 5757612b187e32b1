//! Starting Rampart's services inside this process.
//!
//! [`start`] runs any set of services, each on the listener it is handed, and
//! is what `rampart serve` uses. [`start_dev`] builds on it for the embedded
//! default: all five services on loopback, internal ports chosen by the OS,
//! SQLite files and generated secrets under the data folder — or, for tests,
//! an external PostgreSQL and Redis instead.
//!
//! The admin listener (metrics, health), when there is one, is the
//! gateway's if the gateway runs here, and otherwise a services-only one
//! ([`rampart_gateway::admin_listener::serve_services`]) that rides with the
//! first service started, so a process of `rampart serve auth crm` can be
//! scraped and probed too.
//!
//! Shutdown is ordered, front to back: the gateway stops taking requests and
//! finishes those in flight, then auth, crm and escalation stop, then audit,
//! so no request is cut off because a service behind it went first. Each
//! stage waits at most [`STAGE_GRACE`]. The first service to fail starts
//! the same shutdown, so a half-running stack never lingers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use rampart_gateway::backends::CoLocated;
use rampart_gateway::{BackendUrls, Backends, Gateway};
use rampart_kit::CancellationToken;
use rampart_kit::local::{LocalServices, Transport};
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_kit::rate_limit::RateLimiter;
use rampart_kit::revocation::RevocationBus;
use rampart_kit::secret::SecretString;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::dev_data::DataDir;

/// How long one shutdown stage may take before the next is told to stop.
const STAGE_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// Shutdown stages: a service stops only after every service in front of it.
fn stage(service: ServiceName) -> usize {
    match service {
        ServiceName::Gateway => 0,
        ServiceName::Auth | ServiceName::Crm | ServiceName::Escalation => 1,
        ServiceName::Audit => 2,
    }
}

const STAGES: usize = 3;

/// Everything needed to run a chosen set of services.
pub struct StackConfig {
    pub pki: PkiDir,
    /// The services to run here, each with its listener.
    pub listeners: Vec<(ServiceName, TcpListener)>,
    /// Where every backend service can be reached (`https://host:port`),
    /// whether it runs here or elsewhere.
    pub urls: HashMap<ServiceName, String>,
    /// The database of each service that has one and runs here.
    pub databases: HashMap<ServiceName, String>,
    /// Redis for the gateway's rate limits: URL and key prefix. `None` means
    /// in-process limits (single process only).
    pub redis: Option<(String, String)>,
    pub key_hash_secret: Option<SecretString>,
    pub admin_api_key: Option<SecretString>,
    pub gateway: rampart_gateway::Config,
    /// The audit checkpoint signing key (PKCS#8 PEM), needed when audit
    /// runs here, and how often audit signs checkpoints.
    pub audit_signing_key: Option<SecretString>,
    pub audit_checkpoint_interval: std::time::Duration,
    /// The key auth seals TOTP secrets under (32 bytes, hex).
    pub totp_encryption_key: Option<SecretString>,
    /// The master key wrapping the crm's tenant keys, needed when the crm
    /// runs here.
    pub crm_master_key: Option<Arc<dyn rampart_crm::vault::MasterKey>>,
    /// People's accounts: sessions, admin office domains, hashing bound.
    pub accounts: rampart_auth::AccountSettings,
    /// Escalation's deadline tick and SMTP relay.
    pub escalation: rampart_escalation::Settings,
    /// The crm's providers (SMS, calendars).
    pub crm: rampart_crm::Integrations,
    /// How the gateway reaches the services running beside it in this
    /// process (services elsewhere are always reached over gRPC).
    pub transport: Transport,
    /// The internal admin listener (metrics, health): the gateway's when
    /// the gateway runs here, otherwise the services-only one. Its token is
    /// `gateway.admin_token` either way.
    pub admin_listener: Option<TcpListener>,
}

/// Services running in this process.
pub struct RunningStack {
    shutdown: CancellationToken,
    /// One child token per service, so a single service can be stopped.
    services: HashMap<ServiceName, CancellationToken>,
    tasks: JoinSet<(ServiceName, anyhow::Result<()>)>,
    /// Where the services running here are registered for in-process calls.
    local: LocalServices,
}

impl RunningStack {
    /// The services running here, for callers in this process (a second
    /// gateway in a benchmark); registered whichever transport the stack's
    /// own gateway uses.
    #[must_use]
    pub fn local_services(&self) -> &LocalServices {
        &self.local
    }

    /// The token that stops every service.
    #[must_use]
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops one service, leaving the others running (for outage drills and
    /// tests).
    pub fn stop_service(&self, service: ServiceName) {
        if let Some(token) = self.services.get(&service) {
            token.cancel();
        }
    }

    /// Waits until every service has stopped; the first failure stops the
    /// others and is returned.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let (service, result) = joined.context("a service task panicked")?;
            if let Err(error) = result {
                tracing::error!(%service, error = %format!("{error:#}"), "service failed");
                self.shutdown.cancel();
                first_error.get_or_insert(error.context(format!("the {service} service failed")));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Stops every service and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

fn url_of(urls: &HashMap<ServiceName, String>, service: ServiceName) -> anyhow::Result<String> {
    urls.get(&service)
        .cloned()
        .with_context(|| format!("no address configured for the {service} service"))
}

fn database_of(
    databases: &HashMap<ServiceName, String>,
    service: ServiceName,
) -> anyhow::Result<String> {
    databases
        .get(&service)
        .cloned()
        .with_context(|| format!("no database configured for the {service} service"))
}

/// A service ready to run: everything it needs has been read and checked.
type ServiceFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

/// Starts the configured services. Every service's settings are read and
/// checked before any of them starts, so a bad setting never leaves a
/// partial stack running.
pub async fn start(config: StackConfig) -> anyhow::Result<RunningStack> {
    let shutdown = CancellationToken::new();
    let stage_tokens: Vec<CancellationToken> =
        (0..STAGES).map(|_| CancellationToken::new()).collect();
    let mut services = HashMap::new();
    let mut prepared: Vec<(ServiceName, ServiceFuture)> = Vec::new();
    // One bus for the whole stack: auth publishes on it, every gateway
    // watches it. Through Redis it reaches gateways in other processes.
    let revocations = match &config.redis {
        Some((url, prefix)) => RevocationBus::redis(url, &format!("{prefix}revocations")).await?,
        None => RevocationBus::in_process(),
    };
    let mut admin_listener = config.admin_listener;
    let gateway_here = config
        .listeners
        .iter()
        .any(|(service, _)| *service == ServiceName::Gateway);
    // The services the gateway calls straight into, when it runs here.
    let co_located = CoLocated {
        services: LocalServices::new(),
        hosted: match config.transport {
            Transport::InProcess if gateway_here => config
                .listeners
                .iter()
                .map(|(service, _)| *service)
                .filter(|service| *service != ServiceName::Gateway)
                .collect(),
            _ => Vec::new(),
        },
    };
    if gateway_here {
        let hosted: Vec<&str> = co_located.hosted.iter().map(|s| s.as_str()).collect();
        tracing::info!(
            transport = %config.transport,
            in_process = ?hosted,
            "the gateway calls {} in this process; any other service over gRPC with mutual TLS",
            if hosted.is_empty() { "no service".to_owned() } else { hosted.join(", ") },
        );
    }
    for (service, listener) in config.listeners {
        let tls = config.pki.load_service(service)?;
        let token = stage_tokens[stage(service)].child_token();
        services.insert(service, token.clone());
        let future: ServiceFuture = match service {
            ServiceName::Gateway => {
                let urls = BackendUrls {
                    auth: url_of(&config.urls, ServiceName::Auth)?,
                    crm: url_of(&config.urls, ServiceName::Crm)?,
                    escalation: url_of(&config.urls, ServiceName::Escalation)?,
                    audit: url_of(&config.urls, ServiceName::Audit)?,
                };
                let backends = Backends::connect_with(&urls, &tls, &co_located)?;
                let limiter = match &config.redis {
                    Some((url, prefix)) => RateLimiter::redis(url, prefix).await?,
                    None => RateLimiter::memory(),
                };
                let (chain, key) = config.pki.load_edge()?;
                let edge_tls = rampart_gateway::edge::tls_config(chain, key)?;
                let gateway = Gateway::new(
                    config.gateway.clone(),
                    backends,
                    limiter,
                    revocations.clone(),
                );
                let edge = rampart_gateway::run(gateway.clone(), listener, edge_tls, token.clone());
                match admin_listener.take() {
                    Some(admin) => {
                        let admin = rampart_gateway::run_admin(gateway, admin, token.clone());
                        Box::pin(async move { tokio::try_join!(edge, admin).map(|_| ()) })
                    }
                    None => Box::pin(edge),
                }
            }
            ServiceName::Auth => {
                let auth_config = rampart_auth::Config {
                    database_url: database_of(&config.databases, service)?,
                    audit_url: url_of(&config.urls, ServiceName::Audit)?,
                    key_hash_secret: config.key_hash_secret.clone().context(
                        "the auth service needs a key-hash secret (RAMPART_KEY_HASH_SECRET)",
                    )?,
                    admin_api_key: config.admin_api_key.clone(),
                    revocations: revocations.clone(),
                    totp_encryption_key: config.totp_encryption_key.clone().context(
                        "the auth service needs a TOTP encryption key (RAMPART_TOTP_ENCRYPTION_KEY)",
                    )?,
                    accounts: config.accounts.clone(),
                };
                Box::pin(rampart_auth::run_co_located(
                    auth_config,
                    listener,
                    tls,
                    co_located.services.clone(),
                    token.clone(),
                ))
            }
            ServiceName::Crm => {
                let crm_config = rampart_crm::Config {
                    database_url: database_of(&config.databases, service)?,
                    audit_url: url_of(&config.urls, ServiceName::Audit)?,
                    escalation_url: url_of(&config.urls, ServiceName::Escalation)?,
                    master_key: config
                        .crm_master_key
                        .clone()
                        .context("the crm service needs a master key (RAMPART_MASTER_KEY)")?,
                    integrations: config.crm.clone(),
                };
                Box::pin(rampart_crm::run_co_located(
                    crm_config,
                    listener,
                    tls,
                    co_located.services.clone(),
                    token.clone(),
                ))
            }
            ServiceName::Escalation => {
                let escalation_config = rampart_escalation::Config {
                    database_url: database_of(&config.databases, service)?,
                    audit_url: url_of(&config.urls, ServiceName::Audit)?,
                    deadline_tick: config.escalation.deadline_tick,
                    smtp: config.escalation.smtp.clone(),
                    webhook_targets: config.escalation.webhook_targets,
                };
                Box::pin(rampart_escalation::run_co_located(
                    escalation_config,
                    listener,
                    tls,
                    co_located.services.clone(),
                    token.clone(),
                ))
            }
            ServiceName::Audit => {
                let signing_key = config
                    .audit_signing_key
                    .as_ref()
                    .context("the audit service needs a signing key (RAMPART_AUDIT_SIGNING_KEY)")?;
                let audit_config = rampart_audit::Config {
                    database_url: database_of(&config.databases, service)?,
                    signing_key: rampart_audit::SigningKey::from_pem(
                        rampart_kit::secret::ExposeSecret::expose_secret(signing_key),
                    )
                    .context("RAMPART_AUDIT_SIGNING_KEY")?,
                    checkpoint_interval: config.audit_checkpoint_interval,
                };
                Box::pin(rampart_audit::run_co_located(
                    audit_config,
                    listener,
                    tls,
                    co_located.services.clone(),
                    token.clone(),
                ))
            }
        };
        let future = match admin_listener.take_if(|_| !gateway_here) {
            Some(admin) => {
                let admin = rampart_gateway::admin_listener::serve_services(
                    config.gateway.admin_token.clone(),
                    admin,
                    shutdown.clone(),
                    token,
                );
                Box::pin(async move { tokio::try_join!(future, admin).map(|_| ()) })
            }
            None => future,
        };
        prepared.push((service, future));
    }

    // Each running service holds a sender of its stage; the stage is over
    // when its receiver sees every sender dropped.
    let (stage_senders, stage_receivers): (Vec<_>, Vec<_>) =
        (0..STAGES).map(|_| mpsc::channel::<()>(1)).unzip();
    let mut tasks = JoinSet::new();
    for (service, future) in prepared {
        let stage_alive = stage_senders[stage(service)].clone();
        tasks.spawn(async move {
            let result = future.await;
            drop(stage_alive);
            (service, result)
        });
    }
    drop(stage_senders);
    tokio::spawn(stop_in_stages(
        shutdown.clone(),
        stage_tokens,
        stage_receivers,
    ));
    Ok(RunningStack {
        shutdown,
        services,
        tasks,
        local: co_located.services,
    })
}

/// Waits for `shutdown`, then stops the stages front to back.
async fn stop_in_stages(
    shutdown: CancellationToken,
    stage_tokens: Vec<CancellationToken>,
    stage_receivers: Vec<mpsc::Receiver<()>>,
) {
    shutdown.cancelled().await;
    for (token, mut running) in stage_tokens.into_iter().zip(stage_receivers) {
        token.cancel();
        // `recv` answers `None` once every service of the stage has ended.
        if tokio::time::timeout(STAGE_GRACE, running.recv())
            .await
            .is_err()
        {
            tracing::warn!("a shutdown stage overran its grace period; stopping the next anyway");
        }
    }
}

/// How often `rampart dev` signs audit checkpoints.
const DEV_CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the embedded default keeps its data, or the external backends that
/// replace it (used by tests against PostgreSQL and Redis).
#[derive(Debug, Clone)]
pub enum DevStorage {
    /// SQLite files and in-process limits.
    Embedded,
    /// One PostgreSQL database shared by all services, and Redis.
    External {
        database_url: String,
        redis_url: String,
        redis_prefix: String,
    },
}

/// How to start the whole stack in one process.
pub struct DevOptions {
    pub data_dir: PathBuf,
    pub edge_listener: TcpListener,
    /// The platform admin key; generated into the data folder when `None`.
    pub admin_api_key: Option<SecretString>,
    pub storage: DevStorage,
    pub gateway: rampart_gateway::Config,
    /// People's accounts: sessions, admin office domains, hashing bound.
    pub accounts: rampart_auth::AccountSettings,
    /// The gateway's internal admin listener (metrics, health); `None`
    /// runs without one.
    pub admin_listener: Option<TcpListener>,
    /// Escalation's deadline tick and SMTP relay.
    pub escalation: rampart_escalation::Settings,
    /// The crm's providers (SMS, calendars).
    pub crm: rampart_crm::Integrations,
    /// How the gateway reaches the other services, all in this process.
    pub transport: Transport,
}

/// The whole stack, running.
pub struct DevStack {
    pub edge_addr: SocketAddr,
    /// Where the admin listener (metrics, health) is, if there is one.
    pub admin_addr: Option<SocketAddr>,
    /// The CA certificate clients of the edge should trust.
    pub edge_ca: PathBuf,
    pub pki: PkiDir,
    /// Where each internal service listens.
    pub internal: HashMap<ServiceName, SocketAddr>,
    pub admin_api_key: SecretString,
    /// Whether the admin key was generated by this start (print it once).
    pub admin_key_generated: bool,
    pub running: RunningStack,
    /// The loopback SMS provider the crm sends texts to (Twilio's wire
    /// format; no text leaves the machine). Stopped when dropped.
    pub sms_provider: rampart_crm::sms::loopback::LoopbackProvider,
}

/// Starts all five services: the gateway on `edge_listener`, the others on
/// loopback ports chosen by the OS.
pub async fn start_dev(options: DevOptions) -> anyhow::Result<DevStack> {
    let data = DataDir::open(&options.data_dir)?;
    let pki = data.pki();
    let edge_addr = options.edge_listener.local_addr()?;
    let admin_addr = options
        .admin_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let mut edge_names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !edge_addr.ip().is_loopback() && !edge_addr.ip().is_unspecified() {
        edge_names.push(edge_addr.ip().to_string());
    }
    pki.ensure_generated(&edge_names)?;

    let (admin_api_key, admin_key_generated) = match options.admin_api_key {
        Some(key) => (key, false),
        None => data.admin_api_key()?,
    };

    let mut listeners = vec![(ServiceName::Gateway, options.edge_listener)];
    let mut urls = HashMap::new();
    let mut internal = HashMap::new();
    for service in [
        ServiceName::Auth,
        ServiceName::Crm,
        ServiceName::Escalation,
        ServiceName::Audit,
    ] {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .with_context(|| format!("cannot bind a loopback port for {service}"))?;
        let addr = listener.local_addr()?;
        urls.insert(service, format!("https://{addr}"));
        internal.insert(service, addr);
        listeners.push((service, listener));
    }

    let (databases, redis) = match options.storage {
        DevStorage::Embedded => {
            let databases = [
                ServiceName::Auth,
                ServiceName::Crm,
                ServiceName::Escalation,
                ServiceName::Audit,
            ]
            .into_iter()
            .map(|s| (s, rampart_kit::db::sqlite_url(&data.database(s.as_str()))))
            .collect();
            (databases, None)
        }
        DevStorage::External {
            database_url,
            redis_url,
            redis_prefix,
        } => {
            if !database_url.starts_with("postgres") {
                bail!("the external database must be PostgreSQL");
            }
            let databases = [
                ServiceName::Auth,
                ServiceName::Crm,
                ServiceName::Escalation,
                ServiceName::Audit,
            ]
            .into_iter()
            .map(|s| (s, database_url.clone()))
            .collect();
            (databases, Some((redis_url, redis_prefix)))
        }
    };

    // Under `rampart dev` the edge's own address is its public URL, unless
    // one is configured: webhook signatures and OAuth redirects cover it.
    let public_url = options.gateway.public_url.clone().or_else(|| {
        let host = if edge_addr.ip().is_unspecified() {
            format!("localhost:{}", edge_addr.port())
        } else {
            edge_addr.to_string()
        };
        Some(format!("https://{host}"))
    });
    // Texts go to a loopback stand-in for Twilio, which logs one line per
    // accepted message (never its text).
    let sms_provider = rampart_crm::sms::loopback::LoopbackProvider::start_for_development()
        .await
        .context("starting the loopback SMS provider")?;
    let mut crm = options.crm;
    crm.sms.twilio_api_url = sms_provider.url();
    let running = start(StackConfig {
        crm,
        pki: pki.clone(),
        listeners,
        urls,
        databases,
        redis,
        key_hash_secret: Some(data.key_hash_secret()?),
        admin_api_key: Some(admin_api_key.clone()),
        gateway: rampart_gateway::Config {
            public_url,
            ..options.gateway
        },
        audit_signing_key: Some(data.audit_signing_key()?),
        audit_checkpoint_interval: DEV_CHECKPOINT_INTERVAL,
        totp_encryption_key: Some(data.totp_encryption_key()?),
        crm_master_key: Some(parse_master_key(&data.crm_master_key()?)?),
        accounts: options.accounts,
        admin_listener: options.admin_listener,
        escalation: options.escalation,
        transport: options.transport,
    })
    .await?;
    Ok(DevStack {
        edge_addr,
        admin_addr,
        edge_ca: pki.edge_ca_cert(),
        pki,
        internal,
        admin_api_key,
        admin_key_generated,
        running,
        sms_provider,
    })
}

/// Parses the crm's master keyring (`v2:<base64>,v1:<base64>`, or one bare
/// base64 key), from RAMPART_MASTER_KEY or the dev data folder.
pub fn parse_master_key(
    text: &SecretString,
) -> anyhow::Result<Arc<dyn rampart_crm::vault::MasterKey>> {
    let keys = rampart_crm::vault::LocalMasterKeys::parse(
        rampart_kit::secret::ExposeSecret::expose_secret(text),
    )
    .map_err(|error| anyhow::anyhow!("RAMPART_MASTER_KEY: {error}"))?;
    Ok(Arc::new(keys))
}
