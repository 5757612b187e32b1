//! Environments from outside, as an operator meets them: what
//! `RAMPART_ENV=production` refuses (each refusal naming its setting, all
//! listed at once), TLS to PostgreSQL and Redis against servers configured
//! for it here (and refused when their certificate is not from the trusted
//! CA), a sound production configuration starting, and keys bound to the
//! environment that issued them.

mod servers;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::secret::{hex, random_bytes};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

use servers::{TestPki, free_port, tls_postgres, tls_redis};

fn rampart() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rampart"));
    // The developer's or CI's environment must not leak into these runs.
    for (name, _) in std::env::vars() {
        if name.starts_with("RAMPART_")
            || ["DATABASE_URL", "REDIS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"].contains(&name.as_str())
        {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("rampart runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the run failed and said each of `needles` on stderr.
fn fails_saying(output: &Output, needles: &[&str]) -> String {
    let stderr = stderr(output);
    assert!(!output.status.success(), "succeeded; stderr: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    }
    stderr
}

fn random_hex() -> String {
    hex(&random_bytes::<32>())
}

/// Files of sound secrets for every service, and a PKI made by the binary.
struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("key-hash-secret", &random_hex());
        write("totp-key", &random_hex());
        write(
            "audit-signing-key.pem",
            &rampart_audit::SigningKey::generate_pem().unwrap(),
        );
        write(
            "master-key",
            &rampart_crm::vault::LocalMasterKeys::generate().unwrap(),
        );
        write("admin-token", &random_hex());
        let init = run(rampart()
            .args(["pki", "init", "--dir"])
            .arg(dir.path().join("pki")));
        assert!(init.status.success(), "{}", stderr(&init));
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// `rampart serve` of all five services with these secrets.
    fn serve_all(&self) -> Command {
        let mut command = rampart();
        command
            .args(["serve", "gateway", "auth", "crm", "escalation", "audit"])
            .env("RAMPART_PKI_DIR", self.path("pki"))
            .env("RAMPART_KEY_HASH_SECRET_FILE", self.path("key-hash-secret"))
            .env("RAMPART_TOTP_ENCRYPTION_KEY_FILE", self.path("totp-key"))
            .env(
                "RAMPART_AUDIT_SIGNING_KEY_FILE",
                self.path("audit-signing-key.pem"),
            )
            .env("RAMPART_MASTER_KEY_FILE", self.path("master-key"));
        command
    }
}

#[test]
fn an_unknown_environment_is_refused_naming_rampart_env() {
    for value in ["prod", "Production", "dev"] {
        let output = run(rampart().args(["migrate"]).env("RAMPART_ENV", value));
        fails_saying(
            &output,
            &["RAMPART_ENV", "development, staging or production"],
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rampart.toml");
    std::fs::write(&file, "env = \"live\"\n").unwrap();
    fails_saying(
        &run(rampart().arg("--config").arg(&file).arg("migrate")),
        &["RAMPART_ENV", "\"live\""],
    );
    // The flag wins over the environment variable.
    fails_saying(
        &run(rampart()
            .args(["--env", "qa", "migrate"])
            .env("RAMPART_ENV", "production")),
        &["RAMPART_ENV", "\"qa\""],
    );
}

#[test]
fn rampart_dev_refuses_production() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(rampart()
        .args(["dev", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .env("RAMPART_ENV", "production"));
    fails_saying(&output, &["rampart dev", "RAMPART_ENV=production"]);
    // Refused before anything is made.
    assert!(!dir.path().join("data").exists());
    // The settings file's `env` counts too.
    let file = dir.path().join("rampart.toml");
    std::fs::write(&file, "env = \"production\"\n").unwrap();
    fails_saying(
        &run(rampart()
            .arg("--config")
            .arg(&file)
            .args(["dev", "--data-dir"])
            .arg(dir.path().join("data"))),
        &["RAMPART_ENV=production"],
    );
}

#[test]
fn production_lists_every_refusal_each_naming_its_setting() {
    let secrets = Secrets::generate();
    let short = secrets.path("short");
    std::fs::write(&short, "0f1e2d3c").unwrap();
    let output = run(secrets
        .serve_all()
        .env("RAMPART_ENV", "production")
        .env("DATABASE_URL", "postgres://rampart@127.0.0.1:1/rampart")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("RAMPART_ADMIN_LISTEN", "0.0.0.0:0")
        .env_remove("RAMPART_KEY_HASH_SECRET_FILE")
        .env("RAMPART_KEY_HASH_SECRET_FILE", &short)
        .env_remove("RAMPART_TOTP_ENCRYPTION_KEY_FILE")
        .env("RAMPART_TOTP_ENCRYPTION_KEY", "42".repeat(32))
        .env(
            "RAMPART_BILLING_WEBHOOK_SECRET",
            "whsec_changeme_changeme_changeme_0000",
        ));
    let text = fails_saying(
        &output,
        &[
            "6 unfit setting(s)",
            "DATABASE_URL has sslmode=prefer",
            "REDIS_URL is redis://",
            "RAMPART_ADMIN_LISTEN is 0.0.0.0:0",
            "RAMPART_ADMIN_TOKEN_FILE",
            "RAMPART_KEY_HASH_SECRET is too short",
            "RAMPART_TOTP_ENCRYPTION_KEY repeats",
            "RAMPART_BILLING_WEBHOOK_SECRET contains \"changeme\"",
        ],
    );
    // Nothing but the refusals: no connection was tried.
    assert!(!text.contains("cannot connect"), "{text}");

    // The in-process defaults: SQLite and no Redis.
    fails_saying(
        &run(secrets
            .serve_all()
            .env("RAMPART_ENV", "production")
            .env("DATABASE_URL", "sqlite://rampart.db")),
        &[
            "2 unfit setting(s)",
            "DATABASE_URL is SQLite",
            "REDIS_URL is not set",
        ],
    );
    // verify-full without a CA, and a CA that is not there.
    fails_saying(
        &run(secrets
            .serve_all()
            .env("RAMPART_ENV", "production")
            .env(
                "DATABASE_URL",
                "postgres://r@127.0.0.1:1/r?sslmode=verify-full",
            )
            .env("REDIS_URL", "rediss://127.0.0.1:1/#insecure")),
        &[
            "2 unfit setting(s)",
            "DATABASE_URL has no sslrootcert",
            "REDIS_URL ends in #insecure",
        ],
    );
    fails_saying(
        &run(rampart()
            .arg("migrate")
            .env("RAMPART_ENV", "production")
            .env(
                "DATABASE_URL",
                "postgres://r@127.0.0.1:1/r?sslmode=verify-full&sslrootcert=/no/such/ca.pem",
            )),
        &["DATABASE_URL names sslrootcert=/no/such/ca.pem"],
    );
    // A secret `rampart dev` generated, taken from its data folder.
    let data = tempfile::tempdir().unwrap();
    let dev_data = rampart::dev_data::DataDir::open(data.path()).unwrap();
    let _lock = dev_data.lock().unwrap();
    dev_data.key_hash_secret().unwrap();
    fails_saying(
        &run(secrets
            .serve_all()
            .env("RAMPART_ENV", "production")
            .env("DATABASE_URL", "sqlite://rampart.db")
            .env(
                "RAMPART_KEY_HASH_SECRET_FILE",
                data.path().join("secrets/key-hash-secret"),
            )),
        &["RAMPART_KEY_HASH_SECRET_FILE is", "`rampart dev` generated"],
    );
    // The same settings are not refused outside production: development
    // goes on to connect (and fails on the unreachable database instead).
    let output = run(secrets
        .serve_all()
        .env("RAMPART_ENV", "staging")
        .env("DATABASE_URL", "postgres://rampart@127.0.0.1:1/rampart")
        .env("REDIS_URL", "redis://127.0.0.1:1"));
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(!text.contains("unfit setting"), "{text}");
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn edge_client(edge_ca: &Path) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(edge_ca).unwrap())
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A whole stack from `rampart serve`, reachable on its edge and admin
/// listener.
struct Stack {
    _running: Running,
    edge: String,
    admin: String,
    admin_key: String,
}

/// Starts `command` (all five services) on free ports and waits until the
/// edge is ready; `None` when the process exits first (its stderr then in
/// the error).
async fn start_stack(mut command: Command, client: &reqwest::Client) -> Result<Stack, String> {
    let admin_key = PlaintextApiKey::generate(KeyKind::Admin);
    let edge_port = free_port();
    let admin_port = free_port();
    command
        .env("RAMPART_ADMIN_API_KEY", admin_key.expose())
        .env("RAMPART_GATEWAY_LISTEN", format!("127.0.0.1:{edge_port}"))
        .env("RAMPART_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for service in ["auth", "crm", "escalation", "audit"] {
        let port = free_port();
        let upper = service.to_ascii_uppercase();
        command.env(
            format!("RAMPART_{upper}_LISTEN"),
            format!("127.0.0.1:{port}"),
        );
        command.env(
            format!("RAMPART_{upper}_URL"),
            format!("https://127.0.0.1:{port}"),
        );
    }
    let mut running = Running(command.spawn().unwrap());
    let edge = format!("https://localhost:{edge_port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(_)) = running.0.try_wait() {
            let mut text = String::new();
            if let Some(mut err) = running.0.stderr.take() {
                use std::io::Read;
                let _ = err.read_to_string(&mut text);
            }
            return Err(text);
        }
        let ready = client.get(format!("{edge}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "rampart serve not ready in 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Keep the pipe drained so a chatty process never blocks on it.
    if let Some(mut err) = running.0.stderr.take() {
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    }
    Ok(Stack {
        _running: running,
        edge,
        admin: format!("http://127.0.0.1:{admin_port}"),
        admin_key: admin_key.expose().to_owned(),
    })
}

impl Stack {
    /// Creates a tenant; its first API key.
    async fn tenant_key(&self, client: &reqwest::Client, name: &str) -> String {
        let response = client
            .post(format!("{}/v1/admin/tenants", self.edge))
            .header("X-Admin-API-Key", &self.admin_key)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        created["api_key"].as_str().unwrap().to_owned()
    }

    /// Status and problem body of creating a customer with `key`.
    async fn create_customer(&self, client: &reqwest::Client, key: &str) -> (u16, Value) {
        let response = client
            .post(format!("{}/v1/crm/customers", self.edge))
            .header("X-API-Key", key)
            .json(&json!({ "name": "Pat" }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let mut body: Value = response.json().await.unwrap_or(Value::Null);
        // The request id differs on every answer.
        if let Some(object) = body.as_object_mut() {
            object.remove("request_id");
            object.remove("instance");
        }
        (status, body)
    }
}

/// The database URL of `server` over TLS, checked against `ca`.
fn postgres_url(port: u16, database: &str, ca: &Path) -> String {
    format!(
        "postgres://postgres@127.0.0.1:{port}/{database}?sslmode=verify-full&sslrootcert={}",
        ca.display()
    )
}

#[tokio::test]
async fn tls_backends_production_start_and_environment_bound_keys() {
    let pki = TestPki::generate();
    let Some(postgres) = tls_postgres(&pki).await else {
        return;
    };
    let Some(redis) = tls_redis(&pki).await else {
        return;
    };
    let ca = pki.path("ca.pem");
    let other_ca = pki.path("other-ca.pem");

    // PostgreSQL: verify-full against the CA connects and migrates; against
    // another CA, or in plain text, it is refused.
    let url = postgres_url(postgres.port, "postgres", &ca);
    let migrate = run(rampart()
        .arg("migrate")
        .env("RAMPART_ENV", "production")
        .env("DATABASE_URL", &url));
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    fails_saying(
        &run(rampart()
            .arg("migrate")
            .env("RAMPART_ENV", "production")
            .env(
                "DATABASE_URL",
                postgres_url(postgres.port, "postgres", &other_ca),
            )),
        &["cannot connect"],
    );
    fails_saying(
        &run(rampart().arg("migrate").env(
            "DATABASE_URL",
            format!(
                "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
                postgres.port
            ),
        )),
        &["cannot connect"],
    );

    // Redis: rediss:// against the CA answers; another CA, or the system's
    // roots (which never signed the test CA), are refused.
    let redis_url = format!("rediss://127.0.0.1:{}/0", redis.port);
    let ping = |ca: Option<Vec<u8>>| {
        let url = redis_url.clone();
        async move {
            let client = rampart_kit::redis_connect::open_with_ca(&url, ca.as_deref())?;
            let mut connection = tokio::time::timeout(
                Duration::from_secs(5),
                client.get_multiplexed_async_connection(),
            )
            .await??;
            let pong: String = redis::cmd("PING").query_async(&mut connection).await?;
            anyhow::Ok(pong)
        }
    };
    assert_eq!(
        ping(Some(std::fs::read(&ca).unwrap())).await.unwrap(),
        "PONG"
    );
    assert!(ping(Some(std::fs::read(&other_ca).unwrap())).await.is_err());
    assert!(ping(None).await.is_err());

    // A sound production configuration starts: TLS to both backends,
    // secrets of its own, the admin listener's metrics behind a token.
    let secrets = Secrets::generate();
    let client = edge_client(&secrets.path("pki/edge-ca.pem"));
    let production = |ca: &Path| {
        let mut command = secrets.serve_all();
        command
            .env("RAMPART_ENV", "production")
            .env("DATABASE_URL", &url)
            .env("REDIS_URL", &redis_url)
            .env("RAMPART_REDIS_CA_FILE", ca)
            .env("RAMPART_ADMIN_TOKEN_FILE", secrets.path("admin-token"));
        command
    };
    // Redis behind a certificate from another CA: refused at start.
    let refused = start_stack(production(&other_ca), &client)
        .await
        .err()
        .expect("a Redis certificate from another CA must stop the start");
    assert!(refused.contains("Redis"), "{refused}");

    let prod = start_stack(production(&ca), &client)
        .await
        .unwrap_or_else(|stderr| panic!("production did not start: {stderr}"));
    let http = reqwest::Client::new();
    let token = std::fs::read_to_string(secrets.path("admin-token")).unwrap();
    let metrics = |authorization: Option<String>| {
        let mut request = http.get(format!("{}/metrics", prod.admin));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request.send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), 401);
    assert_eq!(
        metrics(Some(format!("Bearer {}x", token.trim())))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        metrics(Some(format!("Bearer {}", token.trim())))
            .await
            .unwrap()
            .status(),
        200
    );
    for open in ["/healthz", "/readyz"] {
        let response = http
            .get(format!("{}{open}", prod.admin))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{open}");
    }

    // Staging on the same database, Redis and secret.
    let mut staging_command = secrets.serve_all();
    staging_command
        .env("RAMPART_ENV", "staging")
        .env("DATABASE_URL", &url)
        .env("REDIS_URL", &redis_url)
        .env("RAMPART_REDIS_CA_FILE", &ca);
    let staging = start_stack(staging_command, &client)
        .await
        .unwrap_or_else(|stderr| panic!("staging did not start: {stderr}"));

    let production_key = prod.tenant_key(&client, "Prod Co").await;
    let staging_key = staging.tenant_key(&client, "Staging Co").await;
    let unknown = PlaintextApiKey::generate(KeyKind::Live);
    for (stack, own, other) in [
        (&prod, &production_key, &staging_key),
        (&staging, &staging_key, &production_key),
    ] {
        assert_eq!(stack.create_customer(&client, own).await.0, 201);
        let refused = stack.create_customer(&client, other).await;
        let never_issued = stack.create_customer(&client, unknown.expose()).await;
        assert_eq!(refused.0, 401, "{refused:?}");
        // The same answer as a key never issued: nothing says it exists
        // elsewhere.
        assert_eq!(refused, never_issued);
    }
}
