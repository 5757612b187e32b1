//! Incidents from outside: containment never waits for a cache (with the
//! stack's Redis stopped, an operator's revocation still reaches auth and
//! its database, the revoked key is refused, and every other route keeps
//! failing closed), and `POST /v1/admin/incidents` contains a tenant, a
//! user or a key at every gateway within a second, records one audit
//! event, refuses bad and unknown targets and non-admins, and restores.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rampart::stack::{DevOptions, DevStack, DevStorage, start_dev};
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::secret::SecretString;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::accounts::{OWNER_PASSWORD, post, session, tenant_with_owner};
use crate::harness::{Backend, Tenant, TestStack, edge_client, expect_problem, read};

/// A redis-server of this test alone, on a port of its own, so the test
/// can stop it without touching anyone else's Redis.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one; `None` when `redis-server` is not installed outside CI.
    async fn start() -> Option<Self> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe");
            probe.local_addr().expect("probe address").port()
        };
        let mut redis = Self { port, child: None };
        if let Err(error) = redis.spawn() {
            assert!(
                std::env::var("CI").is_err(),
                "redis-server is required under CI: {error}"
            );
            eprintln!("skipping: redis-server unavailable: {error}");
            return None;
        }
        redis.wait_up().await;
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the server answers `PING` (spoken raw: RESP inline).
    async fn wait_up(&self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let pong = async {
                let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
                stream.write_all(b"PING\r\n").await?;
                let mut answer = [0_u8; 7];
                stream.read_exact(&mut answer).await?;
                std::io::Result::Ok(&answer == b"+PONG\r\n")
            };
            if pong.await.unwrap_or(false) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "private redis-server did not come up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("stop redis-server");
            child.wait().expect("reap redis-server");
        }
    }

    async fn restart(&mut self) {
        self.spawn().expect("restart redis-server");
        self.wait_up().await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PostgreSQL stack on a private Redis.
struct RedisStack {
    base: String,
    client: reqwest::Client,
    admin_key: String,
    stack: DevStack,
    _dir: tempfile::TempDir,
}

impl RedisStack {
    async fn start(redis: &PrivateRedis) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = rampart_kit::testing::fresh_postgres_database().await?;
        let admin = PlaintextApiKey::generate(KeyKind::Admin);
        let stack = start_dev(DevOptions {
            crm: Default::default(),
            data_dir: dir.path().to_path_buf(),
            edge_listener: TcpListener::bind("127.0.0.1:0").await.expect("bind edge"),
            admin_api_key: Some(SecretString::from(admin.expose().to_owned())),
            storage: DevStorage::External {
                database_url,
                redis_url: redis.url(),
                redis_prefix: format!("rampart-test-{}", uuid::Uuid::new_v4().simple()),
            },
            gateway: rampart_gateway::Config::default(),
            accounts: rampart_auth::AccountSettings::default(),
            admin_listener: None,
            escalation: rampart_escalation::Settings::default(),
            transport: rampart_e2e::harness::transport_under_test(),
        })
        .await
        .expect("stack starts");
        let this = Self {
            base: format!("https://localhost:{}", stack.edge_addr.port()),
            client: edge_client(&stack.edge_ca, &[]),
            admin_key: admin.expose().to_owned(),
            stack,
            _dir: dir,
        };
        this.wait_ready().await;
        Some(this)
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !self
            .client
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            assert!(tokio::time::Instant::now() < deadline, "stack not ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn as_admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("X-Admin-API-Key", &self.admin_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("send")).await
    }

    async fn with_key(&self, key: &str, path: &str) -> StatusCode {
        self.client
            .get(format!("{}{path}", self.base))
            .header("X-API-Key", key)
            .send()
            .await
            .expect("send")
            .status()
    }
}

/// Part 7 of issue 22: with Redis stopped, the admin revoke route answers
/// 2xx (the revocation is in auth's database), the revoked key is refused,
/// and routes that do not revoke still fail closed; once Redis is back the
/// key stays refused and the rest works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_is_revoked_while_redis_is_down() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let Some(stack) = RedisStack::start(&redis).await else {
        return;
    };
    let (status, tenant) = stack
        .as_admin(
            Method::POST,
            "/v1/admin/tenants",
            Some(json!({ "name": "Leaky Pipes", "office_domains": ["example.com"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    let tenant_id = tenant["tenant_id"].as_str().expect("tenant_id").to_owned();
    let key = tenant["api_key"].as_str().expect("api_key").to_owned();
    let (status, keys) = stack
        .as_admin(
            Method::GET,
            &format!("/v1/admin/tenants/{tenant_id}/api-keys"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let key_id = keys["keys"][0]["key_id"]
        .as_str()
        .expect("key_id")
        .to_owned();
    assert_eq!(
        stack.with_key(&key, "/v1/crm/customers").await,
        StatusCode::OK
    );

    redis.stop();

    // A route that revokes nothing still fails closed without its limiter.
    let (status, body) = stack.as_admin(Method::GET, "/v1/admin/tenants", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        stack.with_key(&key, "/v1/crm/customers").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "a live key is not waved through without the limiter"
    );

    let (status, body) = stack
        .as_admin(
            Method::DELETE,
            &format!("/v1/admin/tenants/{tenant_id}/api-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the revocation reaches auth: {body}"
    );
    assert!(body["revoked_at"].is_string(), "{body}");

    redis.restart().await;
    // Once the limiter answers again, the revoked key is refused by the
    // database's verdict, and other routes work.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = stack.as_admin(Method::GET, "/v1/admin/tenants", None).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stack did not recover once Redis was back ({status})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        stack.with_key(&key, "/v1/crm/customers").await,
        StatusCode::UNAUTHORIZED,
        "the key revoked while Redis was away stays revoked"
    );
    stack.stack.running.stop().await.expect("clean shutdown");
}

// `POST /v1/admin/incidents` and its restore, on both backends.

/// The status `path` answers at `base` for a request holding `key` (an
/// `X-API-Key`) or `token` (a bearer session).
async fn status_at(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    key: Option<&str>,
    token: Option<&str>,
) -> StatusCode {
    let mut request = client.get(format!("{base}{path}"));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("send").status()
}

/// Polls until `status_of` answers `wanted`, within a second of `since`.
async fn within_a_second<F, Fut>(wanted: StatusCode, since: tokio::time::Instant, status_of: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StatusCode>,
{
    loop {
        let status = status_of().await;
        if status == wanted {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "still {status} after a second, waiting for {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn admin_call(
    stack: &TestStack,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = stack.as_admin(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().await.expect("send")).await
}

async fn contain(stack: &TestStack, kind: &str, id: &str) -> (StatusCode, Value) {
    admin_call(
        stack,
        Method::POST,
        "/v1/admin/incidents",
        Some(json!({ "target_kind": kind, "target_id": id, "reason": "e2e drill" })),
    )
    .await
}

/// The platform log's events with `action` on `target`, once `count` of
/// them are there (the outbox delivers them a moment after the commit).
async fn platform_events(
    stack: &TestStack,
    action: &str,
    target: &str,
    count: usize,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = admin_call(
            stack,
            Method::GET,
            &format!("/v1/admin/audit?log=platform&action={action}&target={target}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let events = body["events"].as_array().cloned().unwrap_or_default();
        if events.len() >= count || tokio::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn issue_key(stack: &TestStack, tenant: &Tenant) -> String {
    let (status, body) = admin_call(
        stack,
        Method::POST,
        &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        Some(json!({ "name": "after the incident" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["api_key"].as_str().expect("api_key").to_owned()
}

/// The problem `/v1/crm/customers` answers at `base` for `key`, a 403.
async fn customers_problem(stack: &TestStack, base: &str, key: &str) -> Value {
    let response = stack
        .client
        .get(format!("{base}/v1/crm/customers"))
        .header("X-API-Key", key)
        .send()
        .await
        .expect("send");
    expect_problem(response, StatusCode::FORBIDDEN).await
}

/// Moves `tenant`'s billing state as an admin.
async fn set_billing(stack: &TestStack, tenant: &str, state: &str) -> (StatusCode, Value) {
    admin_call(
        stack,
        Method::PUT,
        &format!("/v1/admin/tenants/{tenant}/billing"),
        Some(json!({ "state": state, "reason": "incident_drill" })),
    )
    .await
}

/// Starts a web conversation with an everyday question, as `key`.
async fn start_conversation(stack: &TestStack, key: &str) -> (StatusCode, Value) {
    read(
        stack
            .request(Method::POST, "/v1/crm/conversations")
            .header("X-API-Key", key)
            .json(&json!({ "channel": "web", "text": "What time do you open on Saturday?" }))
            .send()
            .await
            .expect("send"),
    )
    .await
}

/// Posts an AI reply to `conversation` as `key`.
async fn ai_reply(stack: &TestStack, key: &str, conversation: &str) -> reqwest::Response {
    stack
        .request(
            Method::POST,
            &format!("/v1/crm/conversations/{conversation}/ai-replies"),
        )
        .header("X-API-Key", key)
        .json(&json!({ "text": "We open at nine on Saturdays." }))
        .send()
        .await
        .expect("send")
}

async fn tenant_containment(backend: Backend) {
    let Some(stack) = TestStack::start(backend).await else {
        return;
    };
    let (tenant, _email, owner) = tenant_with_owner(&stack, "Burst Main").await;
    let bystander = stack.create_tenant("Bystander Plumbing").await;
    let second_key = issue_key(&stack, &tenant).await;
    let second = stack.start_second_gateway().await;
    let mut bases = vec![stack.base.clone()];
    if let Some((base, _)) = &second {
        bases.push(base.clone());
    }
    // Every verdict cached at every gateway before the incident.
    for base in &bases {
        for key in [&tenant.key, &second_key] {
            let status = status_at(&stack.client, base, "/v1/crm/customers", Some(key), None).await;
            assert_eq!(status, StatusCode::OK);
        }
        let status = status_at(&stack.client, base, "/v1/auth/me", None, Some(&owner)).await;
        assert_eq!(status, StatusCode::OK);
    }

    // From outside first: a tenant owner is not an admin, and bad or
    // unknown targets change nothing.
    let response = stack
        .request(Method::POST, "/v1/admin/incidents")
        .bearer_auth(&owner)
        .json(&json!({ "target_kind": "tenant", "target_id": tenant.id }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN).await;
    let response = stack
        .as_tenant(&tenant, Method::POST, "/v1/admin/incidents")
        .json(&json!({ "target_kind": "tenant", "target_id": tenant.id }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
    let unknown = "ten_0190f0f0f0f07000800000000000000a";
    let response = stack
        .as_admin(Method::POST, "/v1/admin/incidents")
        .json(&json!({ "target_kind": "tenant", "target_id": unknown }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::NOT_FOUND).await;
    assert!(
        problem["detail"].as_str().unwrap().contains(unknown),
        "{problem}"
    );
    for (kind, id) in [
        ("user", "usr_0190f0f0f0f07000800000000000000a"),
        ("key", "key_0190f0f0f0f07000800000000000000a"),
        ("admin_key", "key_0190f0f0f0f07000800000000000000a"),
    ] {
        let (status, body) = contain(&stack, kind, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(body["detail"].as_str().unwrap().contains(id), "{body}");
    }
    for body in [
        json!({ "target_kind": "galaxy", "target_id": tenant.id }),
        json!({ "target_kind": "tenant", "target_id": "ten_nope" }),
        json!({ "target_kind": "tenant" }),
        json!({ "target_kind": "user", "target_id": tenant.id }),
        json!({ "target_kind": "tenant", "target_id": tenant.id, "extra": 1 }),
    ] {
        let (status, problem) = admin_call(
            &stack,
            Method::POST,
            "/v1/admin/incidents",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {problem}");
    }
    for (method, path) in [
        (Method::GET, "/v1/admin/incidents/inc_nope"),
        (Method::POST, "/v1/admin/incidents/inc_nope/restore"),
    ] {
        let (status, body) = admin_call(&stack, method, path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    }
    let (status, body) = admin_call(
        &stack,
        Method::GET,
        "/v1/admin/incidents/inc_0190f0f0f0f07000800000000000000a",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    for key in [&tenant.key, &second_key] {
        let status = status_at(
            &stack.client,
            &stack.base,
            "/v1/crm/customers",
            Some(key),
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a refused containment changed nothing"
        );
    }

    // Contain.
    let (status, incident) = contain(&stack, "tenant", &tenant.id).await;
    let contained_at = tokio::time::Instant::now();
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let id = incident["incident_id"]
        .as_str()
        .expect("incident_id")
        .to_owned();
    assert!(id.starts_with("inc_"), "{incident}");
    assert_eq!(incident["credentials_revoked"], 2, "{incident}");
    assert_eq!(incident["sessions_revoked"], 1, "{incident}");
    assert_eq!(incident["tenant_id"], tenant.id.as_str(), "{incident}");
    assert!(incident["restored_at"].is_null(), "{incident}");
    for base in &bases {
        for key in [&tenant.key, &second_key] {
            within_a_second(StatusCode::UNAUTHORIZED, contained_at, || {
                status_at(&stack.client, base, "/v1/crm/customers", Some(key), None)
            })
            .await;
        }
        within_a_second(StatusCode::UNAUTHORIZED, contained_at, || {
            status_at(&stack.client, base, "/v1/auth/me", None, Some(&owner))
        })
        .await;
    }
    // Isolated: even a key issued now is refused until restore, with a
    // problem naming the isolation.
    let fresh = issue_key(&stack, &tenant).await;
    for base in &bases {
        let problem = customers_problem(&stack, base, &fresh).await;
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("tenant-isolated"),
            "an isolated tenant's new key: {problem}"
        );
    }
    // Billing is not the isolation: reactivating the account does not let
    // the tenant back in.
    let (status, body) = set_billing(&stack, &tenant.id, "active").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for base in &bases {
        let problem = customers_problem(&stack, base, &fresh).await;
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("tenant-isolated"),
            "billing reactivation let an isolated tenant in: {problem}"
        );
    }
    // Another tenant is untouched.
    let status = status_at(
        &stack.client,
        &stack.base,
        "/v1/crm/customers",
        Some(&bystander.key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, fetched) = admin_call(
        &stack,
        Method::GET,
        &format!("/v1/admin/incidents/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    assert_eq!(fetched["target_id"], tenant.id.as_str());
    let events = platform_events(&stack, "incident.contained", &format!("incident:{id}"), 1).await;
    assert_eq!(events.len(), 1, "one incident.contained event: {events:?}");
    assert_eq!(events[0]["details"]["target_kind"], "tenant");
    assert_eq!(events[0]["details"]["target_id"], tenant.id.as_str());
    assert_eq!(events[0]["details"]["credentials_revoked"], "2");

    // Restore: the isolation goes, the revocations stay.
    let (status, restored) = admin_call(
        &stack,
        Method::POST,
        &format!("/v1/admin/incidents/{id}/restore"),
        None,
    )
    .await;
    let restored_at = tokio::time::Instant::now();
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert!(restored["restored_at"].is_string(), "{restored}");
    for base in &bases {
        within_a_second(StatusCode::OK, restored_at, || {
            status_at(&stack.client, base, "/v1/crm/customers", Some(&fresh), None)
        })
        .await;
        for key in [&tenant.key, &second_key] {
            let status = status_at(&stack.client, base, "/v1/crm/customers", Some(key), None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked stays revoked");
        }
    }
    // Billing's suspension is its own refusal, with its own problem, and
    // the restore did not touch it.
    // (`canceled` is reachable from every state, and back to `active`.)
    let (status, body) = set_billing(&stack, &tenant.id, "canceled").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let suspended = customers_problem(&stack, &stack.base, &fresh).await;
    assert!(
        suspended["type"]
            .as_str()
            .unwrap()
            .ends_with("tenant-suspended"),
        "{suspended}"
    );
    let (status, body) = set_billing(&stack, &tenant.id, "active").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let status = status_at(
        &stack.client,
        &stack.base,
        "/v1/crm/customers",
        Some(&fresh),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "billing reactivation after restore");
    // Restoring again changes nothing and records nothing more.
    let (status, again) = admin_call(
        &stack,
        Method::POST,
        &format!("/v1/admin/incidents/{id}/restore"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["restored_at"], restored["restored_at"]);
    let events = platform_events(&stack, "incident.restored", &format!("incident:{id}"), 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events_later =
        platform_events(&stack, "incident.restored", &format!("incident:{id}"), 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events_later.len(), 1, "{events_later:?}");
    if let Some((_, running)) = second {
        running.stop().await.expect("second gateway stops");
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_tenant_is_contained_and_restored_on_embedded() {
    tenant_containment(Backend::Embedded).await;
}

#[tokio::test]
async fn a_tenant_is_contained_and_restored_on_postgres_and_redis() {
    tenant_containment(Backend::PostgresRedis).await;
}

async fn user_and_key_containment(backend: Backend) {
    let Some(stack) = TestStack::start(backend).await else {
        return;
    };
    let (tenant, email, owner) = tenant_with_owner(&stack, "Drip Stop").await;
    let (status, me) = read(
        stack
            .request(Method::GET, "/v1/auth/me")
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let user_id = me["user_id"].as_str().unwrap().to_owned();
    let bystander = stack.create_tenant("Dry Basement").await;
    // Conversations the AI has before the incident.
    let (status, started) = start_conversation(&stack, &tenant.key).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_ne!(started["status"], "handed_off", "{started}");
    let conversation = started["id"].as_str().unwrap().to_owned();
    let (status, started) = start_conversation(&stack, &bystander.key).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let bystanders = started["id"].as_str().unwrap().to_owned();

    // A user: their sessions end and they cannot sign in until restored.
    let (status, incident) = contain(&stack, "user", &user_id).await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    assert_eq!(incident["sessions_revoked"], 1, "{incident}");
    // The AI is frozen for the user's tenant: a customer's message goes to
    // a person, and an AI reply is refused with a problem of its own.
    let (status, started) = start_conversation(&stack, &tenant.key).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(
        started["status"], "handed_off",
        "a frozen tenant's customer: {started}"
    );
    let response = ai_reply(&stack, &tenant.key, &conversation).await;
    let problem = expect_problem(response, StatusCode::CONFLICT).await;
    assert!(
        problem["type"].as_str().unwrap().ends_with("ai-frozen"),
        "{problem}"
    );
    // Another tenant's AI answers as before.
    let response = ai_reply(&stack, &bystander.key, &bystanders).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (status, started) = start_conversation(&stack, &bystander.key).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_ne!(started["status"], "handed_off", "{started}");
    let status = status_at(
        &stack.client,
        &stack.base,
        "/v1/auth/me",
        None,
        Some(&owner),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let sign_in = json!({ "tenant_id": tenant.id, "email": email, "password": OWNER_PASSWORD });
    let (status, body) = post(&stack, "/v1/auth/sign-in", None, sign_in.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The tenant's key is not part of a user's incident.
    let status = status_at(
        &stack.client,
        &stack.base,
        "/v1/crm/customers",
        Some(&tenant.key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = incident["incident_id"].as_str().unwrap();
    let (status, body) = admin_call(
        &stack,
        Method::POST,
        &format!("/v1/admin/incidents/{id}/restore"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = session(&stack, &tenant, &email, OWNER_PASSWORD).await;
    // The AI answers the tenant again.
    let response = ai_reply(&stack, &tenant.key, &conversation).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (status, started) = start_conversation(&stack, &tenant.key).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_ne!(started["status"], "handed_off", "{started}");
    for action in ["incident.ai_frozen", "incident.ai_unfrozen"] {
        let events = platform_events(&stack, action, &format!("incident:{id}"), 1).await;
        assert_eq!(events.len(), 1, "{action}: {events:?}");
        assert_eq!(events[0]["details"]["tenant_id"], tenant.id.as_str());
    }
    let status = status_at(
        &stack.client,
        &stack.base,
        "/v1/auth/me",
        None,
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A key: revoked for good; a tenant key is not an admin key.
    let (status, keys) = admin_call(
        &stack,
        Method::GET,
        &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let key_id = keys["keys"][0]["key_id"].as_str().unwrap().to_owned();
    let (status, body) = contain(&stack, "admin_key", &key_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let status = status_at(
        &stack.client,
        &stack.base,
        "/v1/crm/customers",
        Some(&tenant.key),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a refused containment changed nothing"
    );
    let (status, incident) = contain(&stack, "key", &key_id).await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    assert_eq!(incident["credentials_revoked"], 1, "{incident}");
    let status = status_at(
        &stack.client,
        &stack.base,
        "/v1/crm/customers",
        Some(&tenant.key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let id = incident["incident_id"].as_str().unwrap();
    let (status, body) = admin_call(
        &stack,
        Method::POST,
        &format!("/v1/admin/incidents/{id}/restore"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let status = status_at(
        &stack.client,
        &stack.base,
        "/v1/crm/customers",
        Some(&tenant.key),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a contained key stays revoked"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_user_and_a_key_are_contained_on_embedded() {
    user_and_key_containment(Backend::Embedded).await;
}

#[tokio::test]
async fn a_user_and_a_key_are_contained_on_postgres_and_redis() {
    user_and_key_containment(Backend::PostgresRedis).await;
}
