//! `rampart checklist` as an operator runs it, against a stack started
//! here on the embedded default and on PostgreSQL + Redis: a clean stack
//! passes (the backup really restored, every count equal); an admin
//! without a second factor fails the run by name; a failed sign-in shows
//! by account and address; the next run shows a role change since the
//! one before; keys past their rotation age fail; a bad database URL is
//! a clear error. Each run is stored in the stack: the latest report reads
//! back byte for byte, with one `checklist.completed` audit event carrying
//! its SHA-256, and the storing route refuses what is not an admin's
//! well-formed report of bounded size.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{rampart, run};

struct Stack {
    url: String,
    ca: PathBuf,
    admin_key: String,
    http: reqwest::Client,
    /// `--data-dir` or `--database-url`, as the operator would pass it.
    database: [String; 2],
    running: rampart::stack::DevStack,
    dir: tempfile::TempDir,
}

/// The stack on the embedded default, or on PostgreSQL + Redis; `None`
/// when those are unavailable outside CI.
async fn start(external: bool) -> Option<Stack> {
    let live = super::start_live_stack(external).await?;
    let database = match &live.database_url {
        Some(url) => ["--database-url".to_owned(), url.clone()],
        None => [
            "--data-dir".to_owned(),
            live.dir.path().to_str().unwrap().to_owned(),
        ],
    };
    Some(Stack {
        url: live.url,
        ca: live.ca,
        admin_key: live.admin_key,
        http: live.http,
        database,
        running: live.running,
        dir: live.dir,
    })
}

impl Stack {
    /// Runs `rampart checklist <args>` against this stack and its
    /// databases, off the async runtime so the stack keeps serving.
    async fn checklist(&self, args: &[&str]) -> Output {
        let mut command = rampart();
        command
            .arg("checklist")
            .args(["--url", &self.url])
            .arg("--ca-file")
            .arg(&self.ca)
            .args(&self.database)
            .args(args)
            .env("RAMPART_ADMIN_API_KEY", &self.admin_key);
        tokio::task::spawn_blocking(move || run(&mut command))
            .await
            .unwrap()
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
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

    /// `GET /v1/admin/checklist/reports/latest`.
    async fn latest_report(&self) -> Value {
        self.admin(
            reqwest::Method::GET,
            "/v1/admin/checklist/reports/latest",
            Value::Null,
        )
        .await
    }

    /// The `checklist.completed` event of report `report_id` in the
    /// platform log, once the relay has delivered it.
    async fn completed_event(&self, report_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let page = self
                .admin(
                    reqwest::Method::GET,
                    &format!(
                        "/v1/admin/audit?action=checklist.completed&target=checklist_report:{report_id}"
                    ),
                    Value::Null,
                )
                .await;
            if let Some(event) = page["events"].as_array().unwrap().first() {
                assert_eq!(page["events"].as_array().unwrap().len(), 1, "{page}");
                return event.clone();
            }
            assert!(
                Instant::now() < deadline,
                "checklist.completed never reached audit"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The storing route as an attacker meets it: a tenant's key, a tenant
/// user's session, an oversized body, malformed JSON, a report that hides
/// a failure. None of them changes the latest report.
async fn refuses_what_is_not_an_admins_report(stack: &Stack, tenant_id: &str, owner_id: &str) {
    let before = stack.latest_report().await;
    let path = format!("{}/v1/admin/checklist/reports", stack.url);
    let report = before["report"].to_string();
    let status = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    };

    // A tenant's own API key, in either header.
    let tenant_key = stack
        .admin(
            reqwest::Method::POST,
            &format!("/v1/admin/tenants/{tenant_id}/api-keys"),
            json!({ "name": "checklist attacker" }),
        )
        .await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    for header in ["X-API-Key", "X-Admin-API-Key"] {
        let (code, body) = status(
            stack
                .http
                .post(&path)
                .header(header, &tenant_key)
                .header("Content-Type", "application/json")
                .body(report.clone()),
        )
        .await;
        assert_eq!(code, reqwest::StatusCode::UNAUTHORIZED, "{header}: {body}");
    }
    // A tenant user's session: forbidden, whatever the role.
    stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/v1/admin/users/{owner_id}"),
            json!({ "role": "agent" }),
        )
        .await;
    let signed_in = stack
        .http
        .post(format!("{}/v1/auth/sign-in", stack.url))
        .json(&json!({ "tenant_id": tenant_id, "email": "owner@example.com", "password": "quiet harbour lanterns drift east" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), reqwest::StatusCode::OK);
    let token = signed_in.json::<Value>().await.unwrap()["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, body) = status(
        stack
            .http
            .post(&path)
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(report.clone()),
    )
    .await;
    assert_eq!(code, reqwest::StatusCode::FORBIDDEN, "{body}");
    let (code, body) = status(stack.http.get(format!("{path}/latest")).bearer_auth(&token)).await;
    assert_eq!(code, reqwest::StatusCode::FORBIDDEN, "{body}");
    // No credential at all.
    let (code, _) = status(stack.http.get(format!("{path}/latest"))).await;
    assert_eq!(code, reqwest::StatusCode::UNAUTHORIZED);

    let admin_post = |body: String| {
        stack
            .http
            .post(&path)
            .header("X-Admin-API-Key", &stack.admin_key)
            .header("Content-Type", "application/json")
            .body(body)
    };
    // Oversized: refused with 413 and a problem saying the bound.
    let mut huge: Value = before["report"].clone();
    huge["padding"] = Value::String("x".repeat(600 * 1024));
    let (code, body) = status(admin_post(huge.to_string())).await;
    assert_eq!(code, reqwest::StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body.contains("at most 524288 bytes"), "{body}");
    // Malformed JSON.
    let (code, body) = status(admin_post("{\"generated_at\": ".to_owned())).await;
    assert_eq!(code, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("invalid JSON body"), "{body}");
    // Well-formed JSON that is not a report, and a report whose summary
    // hides its failed item.
    let (code, body) = status(admin_post("[1, 2, 3]".to_owned())).await;
    assert_eq!(code, reqwest::StatusCode::BAD_REQUEST, "{body}");
    let mut forged: Value = before["report"].clone();
    assert!(forged["summary"]["fail"].as_u64().unwrap() >= 1, "{forged}");
    forged["summary"]["pass"] = json!(forged["items"].as_array().unwrap().len());
    forged["summary"]["fail"] = json!(0);
    forged["summary"]["warn"] = json!(0);
    let (code, body) = status(admin_post(forged.to_string())).await;
    assert_eq!(code, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("does not count its items"), "{body}");

    let after = stack.latest_report().await;
    assert_eq!(after["report_id"], before["report_id"]);
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The item `id` of a JSON report.
fn item(report_path: &Path, id: &str) -> Value {
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report_path).unwrap()).unwrap();
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id)
        .unwrap_or_else(|| panic!("no item {id} in {report}"))
        .clone()
}

fn evidence(item: &Value) -> String {
    item["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("[{}] {}\n", e["status"], e["text"].as_str().unwrap()))
        .collect()
}

async fn checklist_end_to_end(external: bool) {
    let Some(stack) = start(external).await else {
        return;
    };
    let json_arg = stack.path("checklist.json");
    let json_path = PathBuf::from(&json_arg);

    // A clean stack passes, with a real backup and restore.
    let clean = stack.checklist(&["--json", &json_arg]).await;
    assert!(
        clean.status.success(),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );
    let markdown = stdout(&clean);
    assert!(
        markdown.contains("# Rampart monthly security checklist"),
        "{markdown}"
    );
    let backup = item(&json_path, "backup");
    assert_eq!(backup["status"], "pass", "{}", evidence(&backup));
    assert!(
        evidence(&backup).contains("every count equal after restore"),
        "{}",
        evidence(&backup)
    );
    if external {
        assert!(
            evidence(&backup).contains("restored into scratch database rampart_checklist_")
                && evidence(&backup).contains("dropped"),
            "{}",
            evidence(&backup)
        );
    } else {
        assert!(
            evidence(&backup).contains("auth.db copy: PRAGMA integrity_check ok"),
            "{}",
            evidence(&backup)
        );
    }
    let drill = item(&json_path, "incident_drill");
    assert_eq!(drill["status"], "pass", "{}", evidence(&drill));
    assert!(
        evidence(&drill).contains("refused at the edge") && evidence(&drill).contains("deleted"),
        "{}",
        evidence(&drill)
    );
    assert_eq!(item(&json_path, "second_factor")["status"], "pass");
    let credentials = item(&json_path, "credentials");
    if external {
        // No key files to date the master and signing keys by, and no
        // rotation recorded: their ages are unknown, which warns.
        assert_eq!(credentials["status"], "warn", "{}", evidence(&credentials));
        assert!(
            evidence(&credentials).contains("master key: age unknown"),
            "{}",
            evidence(&credentials)
        );
    } else {
        assert_eq!(credentials["status"], "pass", "{}", evidence(&credentials));
        assert!(
            evidence(&credentials).contains("secrets/crm-master-key"),
            "{}",
            evidence(&credentials)
        );
    }

    // The run was stored: the latest report is the file, byte for byte,
    // and the platform log holds its checklist.completed event.
    assert!(
        stderr(&clean).contains("stored as chk_"),
        "{}",
        stderr(&clean)
    );
    let written = std::fs::read(&json_path).unwrap();
    let first = stack.latest_report().await;
    assert_eq!(first["sha256"], sha256_hex(&written), "{first}");
    assert_eq!(
        first["report"],
        serde_json::from_slice::<Value>(&written).unwrap()
    );
    assert_eq!(first["fail"], 0, "{first}");
    let event = stack
        .completed_event(first["report_id"].as_str().unwrap())
        .await;
    assert_eq!(event["event_id"], first["audit_event_id"], "{event}");
    assert_eq!(event["details"]["sha256"], first["sha256"], "{event}");
    assert_eq!(
        event["details"]["pass"],
        first["pass"].to_string(),
        "{event}"
    );
    assert_eq!(event["actor"], first["stored_by"], "{event}");

    // A tenant with an owner, a platform admin without a second factor,
    // and a failed sign-in.
    let tenant = stack
        .admin(
            reqwest::Method::POST,
            "/v1/admin/tenants",
            json!({ "name": "Brass Fittings", "office_domains": ["example.com"] }),
        )
        .await;
    let tenant_id = tenant["tenant_id"].as_str().unwrap().to_owned();
    let owner = stack
        .admin(
            reqwest::Method::POST,
            &format!("/v1/admin/tenants/{tenant_id}/users"),
            json!({ "email": "owner@example.com", "password": "quiet harbour lanterns drift east", "role": "owner" }),
        )
        .await;
    let owner_id = owner["user_id"].as_str().unwrap().to_owned();
    stack
        .admin(
            reqwest::Method::POST,
            "/v1/admin/users",
            json!({ "email": "no2fa@corp.example", "password": "quiet harbour lanterns drift east", "role": "admin" }),
        )
        .await;
    let refused = stack
        .http
        .post(format!("{}/v1/auth/sign-in", stack.url))
        .json(&json!({ "tenant_id": tenant_id, "email": "owner@example.com", "password": "not the password at all" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    // The audit relay delivers a moment after the commit.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = stack
            .admin(
                reqwest::Method::GET,
                &format!("/v1/admin/audit?log={tenant_id}&action=user.sign_in"),
                Value::Null,
            )
            .await;
        if !page["events"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the sign-in never reached audit");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let second = stack.checklist(&["--json", &json_arg]).await;
    assert!(!second.status.success(), "{}", stdout(&second));
    assert!(
        stderr(&second).contains("the checklist failed"),
        "{}",
        stderr(&second)
    );
    let markdown = stdout(&second);
    assert!(
        markdown.contains("[FAIL] no2fa@corp.example (usr_")
            && markdown.contains("is a platform admin without a second factor"),
        "{markdown}"
    );
    let sign_ins = evidence(&item(&json_path, "sign_ins"));
    assert!(
        sign_ins.contains(&format!(
            "account user:{owner_id} (owner@example.com): 1 failed"
        )),
        "{sign_ins}"
    );
    assert!(sign_ins.contains("address 127.0.0.1"), "{sign_ins}");
    let users = evidence(&item(&json_path, "users"));
    assert!(
        users.contains("added no2fa@corp.example") && users.contains("added owner@example.com"),
        "{users}"
    );

    // A role change shows in the next run, and every key is past a
    // rotation age of zero days.
    stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/v1/admin/users/{owner_id}"),
            json!({ "role": "manager" }),
        )
        .await;
    let third = stack
        .checklist(&["--json", &json_arg, "--max-key-age-days", "0"])
        .await;
    assert!(!third.status.success(), "{}", stdout(&third));
    let users = evidence(&item(&json_path, "users"));
    assert!(
        users.contains("role changed owner@example.com") && users.contains("owner -> manager"),
        "{users}"
    );
    assert!(!users.contains("added"), "{users}");
    let credentials = item(&json_path, "credentials");
    assert_eq!(credentials["status"], "fail", "{}", evidence(&credentials));
    assert!(
        evidence(&credentials).contains(&format!("tenant {tenant_id} key"))
            && evidence(&credentials).contains("over the 0-day rotation age"),
        "{}",
        evidence(&credentials)
    );

    // The failed run was stored too, and is now the latest.
    let latest = stack.latest_report().await;
    assert_ne!(latest["report_id"], first["report_id"]);
    assert_eq!(
        latest["sha256"],
        sha256_hex(&std::fs::read(&json_path).unwrap())
    );
    assert!(latest["fail"].as_u64().unwrap() >= 1, "{latest}");

    refuses_what_is_not_an_admins_report(&stack, &tenant_id, &owner_id).await;

    // --no-store prints and writes the report but stores nothing.
    let unstored = stack.checklist(&["--json", &json_arg, "--no-store"]).await;
    assert!(
        !stderr(&unstored).contains("stored as"),
        "{}",
        stderr(&unstored)
    );
    assert!(stdout(&unstored).contains("# Rampart monthly security checklist"));
    assert_eq!(
        stack.latest_report().await["report_id"],
        latest["report_id"]
    );

    // A database URL that is not one is refused before anything runs.
    let mut bad = rampart();
    bad.args([
        "checklist",
        "--url",
        &stack.url,
        "--database-url",
        "mysql://db/rampart",
    ])
    .env("RAMPART_ADMIN_API_KEY", &stack.admin_key);
    let bad = tokio::task::spawn_blocking(move || run(&mut bad))
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("DATABASE_URL must start with postgres://"),
        "{}",
        stderr(&bad)
    );
    stack.running.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_on_the_embedded_default() {
    checklist_end_to_end(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_on_postgres_and_redis() {
    checklist_end_to_end(true).await;
}

/// A PostgreSQL server that cannot be reached fails the backup item with
/// the reason, and the run exits non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_the_backup_by_name() {
    let Some(mut stack) = start(false).await else {
        return;
    };
    stack.database = [
        "--database-url".to_owned(),
        "postgres://nobody@127.0.0.1:1/none".to_owned(),
    ];
    let json_arg = stack.path("checklist.json");
    let output = stack.checklist(&["--json", &json_arg]).await;
    assert!(!output.status.success(), "{}", stdout(&output));
    let backup = item(Path::new(&json_arg), "backup");
    assert_eq!(backup["status"], "fail");
    assert!(
        evidence(&backup).contains("cannot connect to postgres://nobody:***@127.0.0.1:1/none"),
        "{}",
        evidence(&backup)
    );
    stack.running.running.stop().await.unwrap();
}

/// The tenant users route the review reads is for platform admins only,
/// and names an unknown tenant rather than answering an empty list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_users_are_listed_for_platform_admins_only() {
    let Some(stack) = start(false).await else {
        return;
    };
    let tenant = stack
        .admin(
            reqwest::Method::POST,
            "/v1/admin/tenants",
            json!({ "name": "Tin Roofing", "office_domains": ["example.com"] }),
        )
        .await;
    let tenant_id = tenant["tenant_id"].as_str().unwrap();
    let tenant_key = tenant["api_key"].as_str().unwrap();
    stack
        .admin(
            reqwest::Method::POST,
            &format!("/v1/admin/tenants/{tenant_id}/users"),
            json!({ "email": "owner@example.com", "password": "quiet harbour lanterns drift east", "role": "owner" }),
        )
        .await;
    let listed = stack
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/tenants/{tenant_id}/users"),
            Value::Null,
        )
        .await;
    let users = listed["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{listed}");
    assert_eq!(users[0]["role"], "owner");
    assert_eq!(users[0]["second_factor"], false);
    assert!(users[0].get("password_hash").is_none(), "{listed}");

    let get = |key_header: &'static str, key: String, path: String| {
        let request = stack
            .http
            .get(format!("{}{path}", stack.url))
            .header(key_header, key);
        async move { request.send().await.unwrap().status() }
    };
    let path = format!("/v1/admin/tenants/{tenant_id}/users");
    // The tenant's own key is not an admin key, in either header.
    assert_eq!(
        get("X-API-Key", tenant_key.to_owned(), path.clone()).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get("X-Admin-API-Key", tenant_key.to_owned(), path.clone()).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    let unknown = "ten_0190f0f0f0f07000800000000000000a";
    assert_eq!(
        get(
            "X-Admin-API-Key",
            stack.admin_key.clone(),
            format!("/v1/admin/tenants/{unknown}/users")
        )
        .await,
        reqwest::StatusCode::NOT_FOUND
    );
    let malformed = get(
        "X-Admin-API-Key",
        stack.admin_key.clone(),
        "/v1/admin/tenants/not-a-tenant/users".to_owned(),
    )
    .await;
    assert!(malformed.is_client_error(), "{malformed}");
    stack.running.running.stop().await.unwrap();
}
