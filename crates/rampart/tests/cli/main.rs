//! The `rampart` binary as an operator runs it: bad settings are refused
//! with a message naming them, `serve` runs the whole stack on PostgreSQL
//! and Redis, and `dev` keeps its data folder to itself and lets the first
//! admin made in it sign in.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

fn rampart() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rampart"));
    // The developer's or CI's environment must not leak into these runs.
    for name in [
        "DATABASE_URL",
        "REDIS_URL",
        "RAMPART_PKI_DIR",
        "RAMPART_CONFIG",
        "RAMPART_ADMIN_API_KEY",
        "RAMPART_ADMIN_API_KEY_FILE",
        "RAMPART_KEY_HASH_SECRET",
        "RAMPART_KEY_HASH_SECRET_FILE",
        "RAMPART_AUDIT_SIGNING_KEY",
        "RAMPART_AUDIT_SIGNING_KEY_FILE",
        "RAMPART_AUDIT_CHECKPOINT_INTERVAL",
        "RAMPART_LISTEN",
        "RAMPART_DATA_DIR",
        "RAMPART_ADMIN_LISTEN",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "RAMPART_ADMIN_EMAIL_DOMAINS",
        "RAMPART_NEW_ADMIN_PASSWORD",
        "RAMPART_LOG_FORMAT",
        "RAMPART_TRANSPORT",
    ] {
        command.env_remove(name);
    }
    command.stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("rampart runs")
}

/// Asserts the run failed and said `needle` on stderr.
fn fails_saying(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "succeeded; stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
}

#[test]
fn serve_names_each_missing_setting() {
    let dir = tempfile::tempdir().unwrap();
    fails_saying(
        &run(rampart().args(["serve", "gateway"])),
        "RAMPART_PKI_DIR",
    );
    fails_saying(
        &run(rampart().args(["serve", "billing"])),
        "unknown service \"billing\"",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "crm"])
            .env("RAMPART_PKI_DIR", dir.path())),
        "DATABASE_URL",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "crm"])
            .env("RAMPART_PKI_DIR", dir.path())
            .env("DATABASE_URL", "mysql://db/rampart")),
        "DATABASE_URL must start with postgres://",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "gateway"])
            .env("RAMPART_PKI_DIR", dir.path())),
        "REDIS_URL",
    );
    // The crm seals personal data under its master key: no key, no start.
    fails_saying(
        &run(rampart()
            .args(["serve", "crm"])
            .env("RAMPART_PKI_DIR", dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")),
        "set RAMPART_MASTER_KEY (or RAMPART_MASTER_KEY_FILE)",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "crm"])
            .env("RAMPART_PKI_DIR", dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("RAMPART_MASTER_KEY", "dG9vIHNob3J0")),
        "RAMPART_MASTER_KEY: bad master key: a master key must be 32 bytes",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "auth"])
            .env("RAMPART_PKI_DIR", dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")),
        "RAMPART_KEY_HASH_SECRET",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "audit"])
            .env("RAMPART_PKI_DIR", dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")),
        "RAMPART_AUDIT_SIGNING_KEY",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "audit"])
            .env("RAMPART_PKI_DIR", dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("RAMPART_AUDIT_SIGNING_KEY", "not a key")
            .env("RAMPART_AUDIT_CHECKPOINT_INTERVAL", "0")),
        "RAMPART_AUDIT_CHECKPOINT_INTERVAL must be a whole number of seconds",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "escalation"])
            .env("RAMPART_PKI_DIR", dir.path())),
        "DATABASE_URL",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "escalation"])
            .env("RAMPART_PKI_DIR", dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("RAMPART_ESCALATION_LISTEN", "everywhere")),
        "RAMPART_ESCALATION_LISTEN must be an address and port",
    );
    fails_saying(
        &run(rampart()
            .args(["serve", "escalation"])
            .env("RAMPART_PKI_DIR", dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("RAMPART_ESCALATION_LISTEN", "127.0.0.1:0")
            .env("RAMPART_SMTP_RELAY", "127.0.0.1:25")),
        "set both RAMPART_SMTP_RELAY and RAMPART_SMTP_FROM",
    );
}

#[test]
fn dev_refuses_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    fails_saying(
        &run(rampart()
            .args(["dev", "--listen", "port 80"])
            .current_dir(dir.path())),
        "--listen must be an address and port",
    );
    fails_saying(
        &run(rampart()
            .args(["dev", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env("RAMPART_ADMIN_API_KEY", "letmein")),
        "rampart admin generate-key",
    );
    fails_saying(
        &run(rampart()
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "nowhere",
            ])
            .current_dir(dir.path())),
        "--admin-listen must be an address and port",
    );
    let expired = dir.path().join("expired.toml");
    std::fs::write(
        &expired,
        "[security_txt]\ncontact = [\"mailto:security@example.com\"]\nexpires = \"2020-01-01T00:00:00Z\"\n",
    )
    .unwrap();
    fails_saying(
        &run(rampart()
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--config",
            ])
            .arg(&expired)
            .current_dir(dir.path())),
        "has passed",
    );
    fails_saying(
        &run(rampart()
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .env("RAMPART_TRANSPORT", "carrier-pigeon")
            .current_dir(dir.path())),
        "RAMPART_TRANSPORT must be \"in-process\" or \"grpc\"",
    );
    let settings = dir.path().join("rampart.toml");
    std::fs::write(&settings, "lissten = \"127.0.0.1:0\"\n").unwrap();
    fails_saying(
        &run(rampart()
            .args(["dev", "--config"])
            .arg(&settings)
            .current_dir(dir.path())),
        "is not valid",
    );
}

#[test]
fn admin_generate_key_prints_a_valid_admin_key() {
    let output = run(rampart().args(["admin", "generate-key"]));
    assert!(output.status.success());
    let key = String::from_utf8(output.stdout).unwrap();
    let parsed = PlaintextApiKey::parse(key.trim()).expect("a well-formed key");
    assert_eq!(parsed.kind(), KeyKind::Admin);
}

/// A free loopback port. The port is released before the child binds it;
/// `serve` takes fixed addresses, so this small race is the price of
/// running the real binary.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client(edge_ca: &Path) -> reqwest::Client {
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

#[tokio::test]
async fn serve_runs_the_stack_on_postgres_and_redis() {
    let Some(database_url) = rampart_kit::testing::fresh_postgres_database().await else {
        return;
    };
    let Some((redis_url, _)) = rampart_kit::testing::redis_namespace().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let init = run(rampart().args(["pki", "init", "--dir"]).arg(&pki));
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let migrate = run(rampart().arg("migrate").env("DATABASE_URL", &database_url));
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let admin_key = PlaintextApiKey::generate(KeyKind::Admin);
    let secret_file = dir.path().join("key-hash-secret");
    std::fs::write(
        &secret_file,
        "0123456789abcdef0123456789abcdef0123456789abcdef",
    )
    .unwrap();
    let signing_key_file = dir.path().join("audit-signing-key.pem");
    std::fs::write(
        &signing_key_file,
        rampart_audit::SigningKey::generate_pem().unwrap(),
    )
    .unwrap();
    let master_key_file = dir.path().join("crm-master-key");
    std::fs::write(
        &master_key_file,
        rampart_crm::vault::LocalMasterKeys::generate().unwrap(),
    )
    .unwrap();
    let mut command = rampart();
    command
        .args(["serve", "gateway", "auth", "crm", "escalation", "audit"])
        .env("RAMPART_MASTER_KEY_FILE", &master_key_file)
        .env("RAMPART_AUDIT_SIGNING_KEY_FILE", &signing_key_file)
        .env("RAMPART_PKI_DIR", &pki)
        .env("DATABASE_URL", &database_url)
        .env("REDIS_URL", &redis_url)
        .env("RAMPART_KEY_HASH_SECRET_FILE", &secret_file)
        .env("RAMPART_TOTP_ENCRYPTION_KEY", "42".repeat(32))
        .env("RAMPART_ADMIN_API_KEY", admin_key.expose())
        .env("RAMPART_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap());
    let edge_port = free_port();
    command.env("RAMPART_GATEWAY_LISTEN", format!("127.0.0.1:{edge_port}"));
    let admin_port = free_port();
    command.env("RAMPART_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"));
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
    let _running = Running(command.spawn().unwrap());

    let client = client(&pki.join("edge-ca.pem"));
    let base = format!("https://localhost:{edge_port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rampart serve not ready within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let created: Value = client
        .post(format!("{base}/v1/admin/tenants"))
        .header("X-Admin-API-Key", admin_key.expose())
        .json(&json!({ "name": "Served Co" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["api_key"].as_str().expect("tenant key").to_owned();
    // One process with every service: the start-up log says the gateway
    // calls them in process (the default transport).
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    let transport = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["transport"].is_string())
        .unwrap_or_else(|| panic!("no transport in the start-up log: {log}"));
    assert_eq!(transport["transport"], "in-process", "{transport}");
    assert_eq!(
        transport["message"],
        "the gateway calls auth, crm, escalation, audit in this process; any other service over gRPC with mutual TLS",
        "{transport}"
    );
    let response = client
        .post(format!("{base}/v1/crm/customers"))
        .header("X-API-Key", &key)
        .json(&json!({ "name": "Pat" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    // Metrics are on the admin listener, by route template, and not on the
    // public port.
    let metrics = client
        .get(format!("http://127.0.0.1:{admin_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            "rampart_gateway_http_requests_total{method=\"POST\",route=\"/v1/crm/customers\",status=\"201\"} 1"
        ),
        "{text}"
    );
    let public = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
}

mod audit_verify {
    //! `rampart audit verify` as an auditor runs it: only the export and
    //! the public key; what it checked on stdout; exit status 1 on any
    //! failure, each named.

    use std::collections::BTreeMap;

    use rampart_audit::checkpoint::SigningKey;
    use rampart_audit::export::{FORMAT, Header, Line};
    use rampart_audit::leaf::Event;
    use rampart_audit::merkle::Frontier;

    use super::{rampart, run};

    const LOG: &str = "ten_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f";

    fn event(n: u64) -> Event {
        Event {
            event_id: format!("0192f0c1-7e4a-7b1d-9c3e-{n:012}"),
            tenant_id: LOG.to_owned(),
            actor: "api_key:key_1".to_owned(),
            credential_id: "key_1".to_owned(),
            action: "customer.created".to_owned(),
            target: format!("customer:{n}"),
            occurred_at: "2025-01-02T03:04:05.000006Z".to_owned(),
            service: "crm".to_owned(),
            request_id: format!("req-{n}"),
            outcome: "success".to_owned(),
            client_addr: String::new(),
            details: BTreeMap::new(),
            schema_version: 1,
        }
    }

    /// An export of `size` events signed with `key`, as lines.
    fn export(key: &SigningKey, size: u64) -> Vec<String> {
        let mut frontier = Frontier::new();
        for n in 0..size {
            frontier.push(event(n).leaf_hash(LOG), |_, _| {});
        }
        let header = Header {
            format: FORMAT.to_owned(),
            log_id: LOG.to_owned(),
            from: 0,
            to: size,
            checkpoint: key.sign(
                LOG,
                size,
                &frontier.root(),
                "2025-01-02T03:04:05Z".to_owned(),
            ),
            public_key: key.public_key().hex(),
            left: vec![],
            right: vec![],
            consistency: None,
        };
        let mut lines = vec![serde_json::to_string(&header).unwrap()];
        for n in 0..size {
            let e = event(n);
            lines.push(
                serde_json::to_string(&Line {
                    index: n,
                    leaf_hash: Some(rampart_audit::hex(&e.leaf_hash(LOG))),
                    event: e,
                })
                .unwrap(),
            );
        }
        lines
    }

    #[test]
    fn verify_reports_what_it_checked_and_names_failures() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let key_file = dir.path().join("audit.pub");
        std::fs::write(&key_file, key.public_key().to_pem()).unwrap();
        let good = dir.path().join("good.jsonl");
        std::fs::write(&good, export(&key, 5).join("\n")).unwrap();

        let output = run(rampart()
            .args(["audit", "verify"])
            .arg(&good)
            .arg("--public-key")
            .arg(&key_file));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        assert!(stdout.contains("5/5 events valid"), "{stdout}");
        assert!(stdout.contains("valid (trusted public key)"), "{stdout}");
        assert!(stdout.contains("result: OK"), "{stdout}");

        // One event changed, one removed: each named, exit status 1.
        let mut lines = export(&key, 5);
        lines[2] = lines[2].replace("customer:1", "customer:9");
        lines.remove(4);
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, lines.join("\n")).unwrap();
        let output = run(rampart()
            .args(["audit", "verify"])
            .arg(&bad)
            .arg("--public-key")
            .arg(&key_file));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("3/5 events valid"), "{stdout}");
        assert!(
            stdout.contains("FAIL index 1: the event does not match"),
            "{stdout}"
        );
        assert!(
            stdout.contains("missing range: the event at index 3 is absent"),
            "{stdout}"
        );

        // Signed by another key than the trusted one.
        let other = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let forged = dir.path().join("forged.jsonl");
        std::fs::write(&forged, export(&other, 5).join("\n")).unwrap();
        let output = run(rampart()
            .args(["audit", "verify"])
            .arg(&forged)
            .arg("--public-key")
            .arg(&key_file));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("bad signature"), "{stdout}");

        // An older checkpoint the log no longer extends (it was longer).
        let previous = dir.path().join("previous.jsonl");
        std::fs::write(&previous, export(&key, 8).join("\n")).unwrap();
        let output = run(rampart()
            .args(["audit", "verify"])
            .arg(&good)
            .arg("--public-key")
            .arg(&key_file)
            .arg("--previous-checkpoint")
            .arg(&previous));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("events at indexes 5 to 7 were removed"),
            "{stdout}"
        );
    }

    /// A deletion certificate as the customer holds it: valid with the
    /// audit key, refused when a byte of it changes or another key is
    /// trusted.
    #[test]
    fn verify_certificate_checks_the_signature_offline() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let key_file = dir.path().join("audit.pub");
        std::fs::write(&key_file, key.public_key().to_pem()).unwrap();
        let statement = serde_json::json!({
            "format": rampart_audit::certificate::FORMAT,
            "certificate_id": "era_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f",
            "subject": "customer:cus_0192f0c17e4a7b1d9c3e1a2b3c4d5e70",
            "executed_at": "2026-12-02T10:00:00Z",
            "deleted": {"customer": 1, "messages": 7},
        });
        let certificate = key.sign_certificate(statement).unwrap();
        let text = serde_json::to_string_pretty(&certificate).unwrap();
        let good = dir.path().join("certificate.json");
        std::fs::write(&good, &text).unwrap();
        let verify = |file: &std::path::Path, key_file: &std::path::Path| {
            run(rampart()
                .args(["audit", "verify-certificate"])
                .arg(file)
                .arg("--public-key")
                .arg(key_file))
        };

        let output = verify(&good, &key_file);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        assert!(
            stdout.contains("valid: deletion certificate era_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f"),
            "{stdout}"
        );

        let changed = dir.path().join("changed.json");
        std::fs::write(&changed, text.replace("\"messages\": 7", "\"messages\": 8")).unwrap();
        let output = verify(&changed, &key_file);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("does not match its statement"), "{stderr}");

        let other = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let other_file = dir.path().join("other.pub");
        std::fs::write(&other_file, other.public_key().to_pem()).unwrap();
        let output = verify(&good, &other_file);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("not the trusted key"), "{stderr}");
    }
}

#[test]
fn admin_create_user_makes_an_admin_with_a_second_factor() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let create = |email: &str| {
        run(rampart()
            .args(["admin", "create-user", "--data-dir"])
            .arg(&data)
            .args(["--email", email, "--office-domains", "corp.example"])
            .env("RAMPART_NEW_ADMIN_PASSWORD", "seventeen purple lighthouses"))
    };
    let made = create("ops@corp.example");
    let out = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(
        out.contains("created platform admin ops@corp.example"),
        "{out}"
    );
    assert!(
        out.contains("otpauth://totp/Rampart:ops@corp.example?secret="),
        "{out}"
    );
    assert!(!out.contains("seventeen purple"), "{out}");
    // Outside the office domains, and a second time, it is refused.
    for email in ["ops@gmail.example", "ops@corp.example"] {
        let refused = create(email);
        assert!(!refused.status.success(), "{email}");
    }
}

/// The README's first-admin path under `rampart dev`: the admin made with
/// `admin create-user --data-dir --office-domains` signs in (their password
/// is taken and the second factor asked for) once dev starts on that
/// folder; and a second `rampart dev` on the folder refuses to start.
#[tokio::test]
async fn dev_holds_its_folder_and_lets_the_first_admin_sign_in() {
    const PASSWORD: &str = "seventeen purple lighthouses";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let made = run(rampart()
        .args(["admin", "create-user", "--data-dir"])
        .arg(&data)
        .args([
            "--email",
            "ops@corp.example",
            "--office-domains",
            "corp.example",
        ])
        .env("RAMPART_NEW_ADMIN_PASSWORD", PASSWORD));
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let edge_port = free_port();
    let log = dir.path().join("dev.log");
    let _first = Running(
        rampart()
            .arg("dev")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", &format!("127.0.0.1:{edge_port}")])
            .args(["--admin-listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let edge_ca = data.join("pki/edge-ca.pem");
    let base = format!("https://localhost:{edge_port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // The CA is written during start: trust it once it is there.
        let ready = if edge_ca.exists() {
            client(&edge_ca)
                .get(format!("{base}/readyz"))
                .send()
                .await
                .ok()
        } else {
            None
        };
        if ready.is_some_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rampart dev not ready within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Other ports, same folder: refused, naming the reason.
    fails_saying(
        &run(rampart().arg("dev").arg("--data-dir").arg(&data).args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])),
        "another rampart dev is already using the data folder",
    );

    let client = client(&edge_ca);
    let path = std::fs::read_to_string(data.join("secrets/admin-sign-in-path")).unwrap();
    let sign_in = |password: &'static str| {
        client
            .post(format!("{base}/v1/auth/{}/sign-in", path.trim()))
            .json(&json!({ "email": "ops@corp.example", "password": password }))
            .send()
    };
    let wrong = sign_in("not the admin password").await.unwrap();
    assert_eq!(wrong.status(), 401);
    let taken = sign_in(PASSWORD).await.unwrap();
    assert_eq!(taken.status(), 200);
    let pending: Value = taken.json().await.unwrap();
    assert_eq!(pending["second_factor_required"], true, "{pending}");

    // Its readable log, redirected to a file, holds no colour codes.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\x1b'), "escape codes in {log:?}");
}
/// A stack started in this process for an operator command to run
/// against, on the embedded default or on PostgreSQL + Redis.
struct LiveStack {
    url: String,
    ca: std::path::PathBuf,
    admin_key: String,
    http: reqwest::Client,
    /// The database URL on PostgreSQL + Redis; `None` on the embedded
    /// default, whose databases are in `dir`.
    database_url: Option<String>,
    running: rampart::stack::DevStack,
    dir: tempfile::TempDir,
}

/// Starts a [`LiveStack`] with a generated admin key and waits until it is
/// ready; `None` when PostgreSQL or Redis are unavailable outside CI.
async fn start_live_stack(external: bool) -> Option<LiveStack> {
    use rampart::stack::{DevOptions, DevStorage, start_dev};
    use rampart_kit::secret::SecretString;

    let dir = tempfile::tempdir().unwrap();
    let (storage, database_url) = if external {
        let database_url = rampart_kit::testing::fresh_postgres_database().await?;
        let (redis_url, redis_prefix) = rampart_kit::testing::redis_namespace().await?;
        (
            DevStorage::External {
                database_url: database_url.clone(),
                redis_url,
                redis_prefix,
            },
            Some(database_url),
        )
    } else {
        (DevStorage::Embedded, None)
    };
    let admin = PlaintextApiKey::generate(KeyKind::Admin);
    let stack = start_dev(DevOptions {
        crm: Default::default(),
        data_dir: dir.path().to_path_buf(),
        edge_listener: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        admin_api_key: Some(SecretString::from(admin.expose().to_owned())),
        storage,
        gateway: rampart_gateway::Config::default(),
        accounts: rampart_auth::AccountSettings {
            admin_email_domains: vec!["corp.example".to_owned()],
            ..rampart_auth::AccountSettings::default()
        },
        admin_listener: None,
        escalation: rampart_escalation::Settings::default(),
        transport: rampart_kit::local::Transport::default(),
    })
    .await
    .unwrap();
    let http = client(&stack.edge_ca);
    let url = format!("https://localhost:{}", stack.edge_addr.port());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "stack not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(LiveStack {
        url,
        ca: stack.edge_ca.clone(),
        admin_key: admin.expose().to_owned(),
        http,
        database_url,
        running: stack,
        dir,
    })
}

mod admin_listener;
mod checklist;
mod incident;
