//! `rampart serve` without a gateway still has an admin listener when one
//! is configured: a process running only auth, crm, escalation and audit
//! answers `/metrics` (the audit delivery and revocation series, behind the
//! admin token) and `/healthz`, `/readyz`; production refuses to open it
//! beyond loopback without the token.

use std::process::Stdio;
use std::time::{Duration, Instant};

use rampart_kit::metrics::sample_in;
use rampart_kit::outbox::{AuditRecord, Outbox};

use super::{Running, client, fails_saying, free_port, rampart, run};

const TOKEN: &str = "metrics-token-0123456789abcdef0123456789";

#[tokio::test]
async fn a_services_only_process_serves_its_metrics_and_health() {
    let Some(database_url) = rampart_kit::testing::fresh_postgres_database().await else {
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
    // An audited change the crm committed while nothing ran: the relay of
    // the process below delivers it, and measures how long it waited.
    let db = rampart_kit::db::connect(&database_url).await.unwrap();
    let mut waiting = AuditRecord::success(
        &rampart_kit::testing::admin_principal(),
        None,
        "tenant.created",
        "tenant:t".into(),
    );
    waiting.occurred_at -= chrono::Duration::seconds(2);
    Outbox::new("crm_audit_outbox")
        .record(&db, [waiting])
        .await
        .unwrap();

    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let token_file = write("admin-token", TOKEN.to_owned());
    let mut command = rampart();
    command
        .args(["serve", "auth", "crm", "escalation", "audit"])
        .env(
            "RAMPART_MASTER_KEY_FILE",
            write(
                "crm-master-key",
                rampart_crm::vault::LocalMasterKeys::generate().unwrap(),
            ),
        )
        .env(
            "RAMPART_AUDIT_SIGNING_KEY_FILE",
            write(
                "audit-signing-key.pem",
                rampart_audit::SigningKey::generate_pem().unwrap(),
            ),
        )
        .env("RAMPART_PKI_DIR", &pki)
        .env("DATABASE_URL", &database_url)
        .env("RAMPART_KEY_HASH_SECRET", "0123456789abcdef".repeat(3))
        .env("RAMPART_TOTP_ENCRYPTION_KEY", "42".repeat(32))
        .env("RAMPART_ADMIN_TOKEN_FILE", &token_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let admin_port = free_port();
    command.env("RAMPART_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"));
    for service in ["gateway", "auth", "crm", "escalation", "audit"] {
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

    // Plain HTTP; the edge CA is only there because the helper wants one.
    let client = client(&pki.join("edge-ca.pem"));
    let admin = format!("http://127.0.0.1:{admin_port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{admin}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "no admin listener within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let live = client.get(format!("{admin}/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);

    // Without the token, or with another, nothing is read.
    for presented in [None, Some("wrong-token"), Some(&TOKEN[1..])] {
        let mut request = client.get(format!("{admin}/metrics"));
        if let Some(token) = presented {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{presented:?}");
        assert!(!response.text().await.unwrap().contains("rampart_"));
    }

    let lag_count = "rampart_audit_delivery_lag_seconds_count{outbox=\"crm_audit_outbox\"}";
    let gauges = ["auth_audit_outbox", "crm_audit_outbox", "esc_audit_outbox"].map(|outbox| {
        format!("rampart_audit_outbox_oldest_pending_age_seconds{{outbox=\"{outbox}\"}}")
    });
    let mut text = String::new();
    // Each relay reports on its own first pass: wait for the event's lag
    // and for every relay's gauge.
    while sample_in(&text, lag_count) != Some(1.0)
        || gauges
            .iter()
            .any(|series| sample_in(&text, series).is_none())
    {
        assert!(
            Instant::now() < deadline,
            "the waiting event's lag or a relay's backlog never showed:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let response = client
            .get(format!("{admin}/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        text = response.text().await.unwrap();
    }
    // It waited at least the 2 s since its change.
    let lag = sample_in(
        &text,
        "rampart_audit_delivery_lag_seconds_sum{outbox=\"crm_audit_outbox\"}",
    )
    .unwrap();
    assert!(lag >= 2.0, "{lag}\n{text}");
    // This process watches no bus, so it lost no channel and measured no
    // spread.
    assert_eq!(
        sample_in(&text, "rampart_revocation_channel_down_total"),
        Some(0.0)
    );
    assert!(!text.contains("rampart_revocation_spread_seconds_count"));
    assert!(text.ends_with("# EOF\n"));
    // No gateway here: none of its series.
    assert!(!text.contains("rampart_gateway_"), "{text}");
}

#[test]
fn production_refuses_an_open_services_admin_listener_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    fails_saying(
        &run(rampart()
            .args(["serve", "crm"])
            .env("RAMPART_ENV", "production")
            .env("RAMPART_PKI_DIR", dir.path())
            .env("RAMPART_ADMIN_LISTEN", "0.0.0.0:9464")),
        "RAMPART_ADMIN_LISTEN is 0.0.0.0:9464, beyond loopback, and RAMPART_ADMIN_TOKEN_FILE is not set",
    );
}
