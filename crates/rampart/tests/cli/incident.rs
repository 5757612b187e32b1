//! `rampart incident` as an operator runs it, against a stack started here
//! (in this process, on the embedded default and on PostgreSQL + Redis): contain, report, restore, an
//! unknown target refused by name, and `verify` passing on a clean stack
//! and failing once an admin appears that the baseline does not know.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};

use super::{rampart, run};

struct Stack {
    url: String,
    ca: std::path::PathBuf,
    admin_key: String,
    http: reqwest::Client,
    running: rampart::stack::DevStack,
    /// Where the stack's databases are, as the operator's environment
    /// names them: `DATABASE_URL` or `RAMPART_DATA_DIR`.
    database: (&'static str, String),
    _dir: tempfile::TempDir,
}

/// The stack on the embedded default, or on PostgreSQL + Redis; `None`
/// when those are unavailable outside CI.
async fn start(external: bool) -> Option<Stack> {
    let live = super::start_live_stack(external).await?;
    let database = match &live.database_url {
        Some(url) => ("DATABASE_URL", url.clone()),
        None => (
            "RAMPART_DATA_DIR",
            live.dir.path().to_str().unwrap().to_owned(),
        ),
    };
    Some(Stack {
        url: live.url,
        ca: live.ca,
        admin_key: live.admin_key,
        http: live.http,
        running: live.running,
        database,
        _dir: live.dir,
    })
}

impl Stack {
    /// Runs `rampart incident <args>` against this stack, off the async
    /// runtime so the stack keeps serving.
    async fn incident(&self, args: &[&str]) -> Output {
        let mut command = rampart();
        command
            .arg("incident")
            .args(["--url", &self.url])
            .arg("--ca-file")
            .arg(&self.ca)
            .args(args)
            .env("RAMPART_ADMIN_API_KEY", &self.admin_key)
            .env_remove("DATABASE_URL")
            .env_remove("RAMPART_DATA_DIR")
            .env(self.database.0, &self.database.1);
        tokio::task::spawn_blocking(move || run(&mut command))
            .await
            .unwrap()
    }

    async fn admin_post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("X-Admin-API-Key", &self.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn status_with_key(&self, key: &str) -> reqwest::StatusCode {
        self.http
            .get(format!("{}/v1/crm/customers", self.url))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_on_the_embedded_default() {
    contain_report_restore_and_verify_through_the_binary(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_on_postgres_and_redis() {
    contain_report_restore_and_verify_through_the_binary(true).await;
}

async fn contain_report_restore_and_verify_through_the_binary(external: bool) {
    let Some(stack) = start(external).await else {
        return;
    };
    let baseline = stack._dir.path().join("baseline.json");
    let baseline_arg = baseline.to_str().unwrap();

    // The stack runs in this test's process: its binary is this one.
    let served = rampart_gateway::executable_sha256().unwrap();
    let clean = stack
        .incident(&[
            "verify",
            "--save-baseline",
            baseline_arg,
            "--expect-binary-sha256",
            &served,
        ])
        .await;
    assert!(
        clean.status.success(),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );
    let clean = stack
        .incident(&[
            "verify",
            "--baseline",
            baseline_arg,
            "--expect-binary-sha256",
            &served,
        ])
        .await;
    assert!(
        clean.status.success(),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );
    assert!(
        stdout(&clean).contains("admins match the baseline"),
        "{}",
        stdout(&clean)
    );
    assert!(stdout(&clean).contains("sha256"), "{}", stdout(&clean));

    let unknown = "ten_0190f0f0f0f07000800000000000000a";
    let refused = stack.incident(&["contain", "--tenant", unknown]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("404") && stderr(&refused).contains(unknown),
        "{}",
        stderr(&refused)
    );
    let missing_target = stack.incident(&["contain"]).await;
    assert!(!missing_target.status.success());

    let tenant = stack
        .admin_post(
            "/v1/admin/tenants",
            json!({ "name": "Copper Joint", "office_domains": ["example.com"] }),
        )
        .await;
    let tenant_id = tenant["tenant_id"].as_str().unwrap();
    let key = tenant["api_key"].as_str().unwrap();
    assert_eq!(stack.status_with_key(key).await, reqwest::StatusCode::OK);

    let contained = stack
        .incident(&["contain", "--tenant", tenant_id, "--reason", "cli drill"])
        .await;
    assert!(contained.status.success(), "{}", stderr(&contained));
    let incident: Value = serde_json::from_slice(&contained.stdout).unwrap();
    let id = incident["incident_id"].as_str().unwrap().to_owned();
    assert_eq!(incident["credentials_revoked"], 1, "{incident}");
    assert_eq!(
        stack.status_with_key(key).await,
        reqwest::StatusCode::UNAUTHORIZED
    );

    let restored = stack.incident(&["restore", "--id", &id]).await;
    assert!(restored.status.success(), "{}", stderr(&restored));
    let restored: Value = serde_json::from_slice(&restored.stdout).unwrap();
    assert!(restored["restored_at"].is_string(), "{restored}");

    // The audit relay delivers a moment after the commit.
    let report_path = stack._dir.path().join("report.md");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let report = loop {
        let output = stack
            .incident(&[
                "report",
                "--id",
                &id,
                "--out",
                report_path.to_str().unwrap(),
            ])
            .await;
        assert!(output.status.success(), "{}", stderr(&output));
        let report = std::fs::read_to_string(&report_path).unwrap();
        if report.contains("incident.restored") || std::time::Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for needle in [
        &format!("# Incident {id}"),
        "incident.contained",
        "incident.restored",
        tenant_id,
        "## Root cause",
        "## Preventive controls",
    ] {
        assert!(report.contains(needle), "{needle} missing from:\n{report}");
    }

    // A new admin the baseline does not know fails verification.
    stack
        .admin_post(
            "/v1/admin/users",
            json!({ "email": "intruder@corp.example", "password": "quiet harbour lanterns drift east", "role": "admin" }),
        )
        .await;
    let changed = stack
        .incident(&[
            "verify",
            "--baseline",
            baseline_arg,
            "--expect-binary-sha256",
            &served,
        ])
        .await;
    assert!(!changed.status.success(), "{}", stdout(&changed));
    assert!(
        stdout(&changed).contains("added") && stdout(&changed).contains("intruder@corp.example"),
        "{}",
        stdout(&changed)
    );

    // A server binary other than the release's fails, naming both sums;
    // so does one other than the CLI's own when no sum is given (the
    // `rampart` binary is not this test's).
    let wrong = "0".repeat(64);
    let other = stack
        .incident(&["verify", "--expect-binary-sha256", &wrong])
        .await;
    assert!(!other.status.success(), "{}", stdout(&other));
    assert!(
        stdout(&other).contains(&served) && stdout(&other).contains(&wrong),
        "{}",
        stdout(&other)
    );
    let default = stack.incident(&["verify"]).await;
    assert!(!default.status.success(), "{}", stdout(&default));
    assert!(
        stdout(&default).contains("this binary"),
        "{}",
        stdout(&default)
    );

    // Every service's migrations pass; one applied that this binary does
    // not know fails, named.
    assert!(
        stdout(&clean_migrations(&stack, &served).await).contains("audit migrations: all applied")
    );
    let auth_url = if external {
        stack.database.1.clone()
    } else {
        rampart_kit::db::sqlite_url(&stack._dir.path().join("auth.db"))
    };
    let auth_db = sea_orm::Database::connect(auth_url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &auth_db,
        "INSERT INTO auth_migrations (version, applied_at) VALUES ('m9999_planted', 0)",
    )
    .await
    .unwrap();
    auth_db.close().await.unwrap();
    let planted = stack
        .incident(&["verify", "--expect-binary-sha256", &served])
        .await;
    assert!(!planted.status.success(), "{}", stdout(&planted));
    assert!(
        stdout(&planted).contains("auth migrations") && stdout(&planted).contains("m9999_planted"),
        "{}",
        stdout(&planted)
    );
    assert!(
        stdout(&planted).contains("crm migrations: all applied"),
        "{}",
        stdout(&planted)
    );
    stack.running.running.stop().await.unwrap();
}

/// `verify` with the right checksum, before anything is planted.
async fn clean_migrations(stack: &Stack, served: &str) -> Output {
    let output = stack
        .incident(&["verify", "--expect-binary-sha256", served])
        .await;
    assert!(output.status.success(), "{}", stdout(&output));
    output
}
