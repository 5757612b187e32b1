//! The role matrix: every CRM route the gateway serves, tried with every
//! kind of tenant credential, on both storage backends.
//!
//! [`routes`] is the table: each route with the least role a signed-in
//! person needs and the one key scope it asks for (the policy of
//! `docs/data-protection.md`, "Who may do what"). [`credentials`] is the
//! list of callers: an owner's, a manager's and an agent's session (signed
//! in through the real routes), a key holding each tenant scope alone, and a
//! `rk_test_` key. For every pair the expected answer is computed from the
//! table, never copied from what the server says: allowed is the route's
//! success status, refused is a 403 problem. Every write names a witness,
//! a read made before and after it with a credential that may read: a
//! refused write must leave it as it was, and an allowed one must change
//! it (so a witness that sees nothing cannot pass a refusal as harmless).
//!
//! To add a route, add a [`Route`] to [`routes`]; its path and body may use
//! the placeholders of [`World::fill`].

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::accounts::{post, session, tenant_with_owner};
use crate::crm_at_rest::CrmDatabase;
use crate::harness::{Backend, TestStack, read};

const STAFF_PASSWORD: &str = "orange kettle whistles at dawn";

/// Every scope a tenant key may hold but `keys`: what the keys that set up
/// and read back the fixtures hold.
pub(crate) const FIXTURE_SCOPES: [&str; 5] = ["read", "write", "settings", "owner", "audit"];

/// The matrix sends about a thousand requests from one address in well
/// under a minute; the edge's limits are tested elsewhere (`keys`, `edge`).
fn unlimited() -> rampart_gateway::Config {
    use rampart_kit::rate_limit::Quota;
    rampart_gateway::Config {
        per_address: Quota::per_minute(10_000_000),
        per_credential: Quota::per_minute(10_000_000),
        ..rampart_gateway::Config::default()
    }
}

#[tokio::test]
async fn role_matrix_embedded() {
    let stack = TestStack::start_with(Backend::Embedded, unlimited())
        .await
        .expect("embedded runs");
    role_matrix(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn role_matrix_on_postgres_and_redis() {
    let Some(stack) = TestStack::start_with(Backend::PostgresRedis, unlimited()).await else {
        return;
    };
    role_matrix(&stack).await;
    stack.stop().await;
}

/// A tenant user's role, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    Agent,
    Manager,
    Owner,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Manager => "manager",
            Self::Owner => "owner",
        }
    }
}

/// Which data a credential works on (`rk_test_` keys: the test mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Live,
    Test,
}

impl Mode {
    fn environment(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }
}

/// A credential as a client presents it.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    Key(String),
    Session(String),
}

impl Credential {
    pub(crate) fn on(&self, stack: &TestStack, method: Method, path: &str) -> RequestBuilder {
        let request = stack.request(method, path);
        match self {
            Self::Key(key) => request.header("X-API-Key", key),
            Self::Session(token) => request.bearer_auth(token),
        }
    }

    /// Sends `body` (none when `Null`) to `path`; the answer's status and
    /// JSON.
    pub(crate) async fn send(
        &self,
        stack: &TestStack,
        method: Method,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        read(
            self.request(stack, method, path, body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    fn request(
        &self,
        stack: &TestStack,
        method: Method,
        path: &str,
        body: &Value,
    ) -> RequestBuilder {
        let request = self.on(stack, method, path);
        if body.is_null() {
            request
        } else {
            request.json(body)
        }
    }

    /// A read that must succeed.
    pub(crate) async fn get(&self, stack: &TestStack, path: &str) -> Value {
        let (status, body) = self.send(stack, Method::GET, path, &Value::Null).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// A create that must succeed; the created object.
    pub(crate) async fn create(&self, stack: &TestStack, path: &str, body: Value) -> Value {
        let (status, answer) = self.send(stack, Method::POST, path, &body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {answer}");
        answer
    }
}

/// A tenant key issued by the platform admin: `environment` (`live` or
/// `test`) and exactly `scopes`.
pub(crate) async fn issue_key(
    stack: &TestStack,
    tenant_id: &str,
    mode: Mode,
    scopes: &[&str],
) -> Credential {
    let (status, body) = read(
        stack
            .as_admin(
                Method::POST,
                &format!("/v1/admin/tenants/{tenant_id}/api-keys"),
            )
            .json(&json!({ "environment": mode.environment(), "scopes": scopes }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = body["api_key"].as_str().unwrap().to_owned();
    let prefix = format!("rk_{}_", mode.environment());
    assert!(key.starts_with(&prefix), "{key} is not a {prefix} key");
    Credential::Key(key)
}

/// Adds a user with `role` through the owner's session and signs them in.
pub(crate) async fn staff_session(
    stack: &TestStack,
    tenant: &crate::harness::Tenant,
    owner: &str,
    role: Role,
) -> Credential {
    let email = format!("{}@staff.example", role.name());
    let (status, user) = post(
        stack,
        "/v1/users",
        Some(owner),
        json!({ "email": email, "password": STAFF_PASSWORD, "role": role.name() }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["role"], role.name(), "{user}");
    Credential::Session(session(stack, tenant, &email, STAFF_PASSWORD).await)
}

/// Who a route lets in: people from a least role, keys holding one scope.
/// `None` on either side: nobody of that kind (customer messages and AI
/// replies come from an integration, agent replies from a person).
#[derive(Debug, Clone, Copy)]
struct Admits {
    people: Option<Role>,
    key: Option<&'static str>,
}

const fn admits(people: Option<Role>, key: Option<&'static str>) -> Admits {
    Admits { people, key }
}

/// What reads back a write's effect, with the fixture key of the
/// credential's mode.
#[derive(Debug, Clone, Copy)]
enum Witness {
    /// A GET of this path (placeholders filled as the route's).
    Get(&'static str),
    /// The customer's legal hold, which no route reads: its row.
    LegalHold,
}

/// One route of the table.
struct Route {
    method: Method,
    /// With placeholders (see [`World::fill`]).
    path: &'static str,
    /// JSON text with placeholders; `None` sends no body.
    body: Option<&'static str>,
    admits: Admits,
    success: StatusCode,
    /// `None` for reads, which change nothing.
    witness: Option<Witness>,
}

/// A business settings document, every field present, the pricing notes
/// unique to the request.
const SETTINGS: &str = r#"{"settings": {
    "time_zone": "Europe/London",
    "opening_hours": {"monday": [{"open": "08:00", "close": "17:00"}], "tuesday": [],
        "wednesday": [], "thursday": [], "friday": [], "saturday": [], "sunday": []},
    "emergency": {"keywords": ["burst pipe"], "after_hours_phone": null},
    "sms_templates": {},
    "pricing_notes": "call-out fee, version {nonce}",
    "transcripts_enabled": false
}}"#;

/// Every CRM route the gateway serves, with the least role and the key
/// scope the policy names.
fn routes() -> Vec<Route> {
    use Role::{Agent, Manager, Owner};
    let read = admits(Some(Agent), Some("read"));
    let write = admits(Some(Agent), Some("write"));
    let customer_write = admits(Some(Manager), Some("write"));
    let settings = admits(Some(Manager), Some("settings"));
    let owner = admits(Some(Owner), Some("owner"));
    let integration = admits(None, Some("write"));
    let person = admits(Some(Agent), None);
    let route = |method, path, body, admits, success, witness| Route {
        method,
        path,
        body,
        admits,
        success,
        witness,
    };
    let get = |path, admits| route(Method::GET, path, None, admits, StatusCode::OK, None);
    vec![
        // Customers.
        route(
            Method::POST,
            "/v1/crm/customers",
            Some(r#"{"name": "Matrix Customer {nonce}", "phone": "0161 496 {digits}"}"#),
            customer_write,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/crm/customers?limit=100")),
        ),
        get("/v1/crm/customers", read),
        get("/v1/crm/customers?phone={phone}", read),
        get("/v1/crm/customers?email={email}", read),
        get("/v1/crm/customers/{customer}", read),
        route(
            Method::PATCH,
            "/v1/crm/customers/{customer}",
            Some(r#"{"address": "{nonce} Mill Lane"}"#),
            customer_write,
            StatusCode::OK,
            Some(Witness::Get("/v1/crm/customers/{customer}")),
        ),
        route(
            Method::PUT,
            "/v1/crm/customers/{customer}/legal-hold",
            Some(r#"{"held": true, "reason": "dispute {nonce}"}"#),
            owner,
            StatusCode::OK,
            Some(Witness::LegalHold),
        ),
        // Conversations and their messages.
        route(
            Method::POST,
            "/v1/crm/conversations",
            Some(r#"{"channel": "web"}"#),
            write,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/crm/conversations?limit=100")),
        ),
        get("/v1/crm/conversations", read),
        get("/v1/crm/conversations/{conversation}", read),
        route(
            Method::POST,
            "/v1/crm/conversations/{conversation}/messages",
            Some(r#"{"text": "what time do you open on saturday ({nonce})"}"#),
            integration,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/crm/conversations/{conversation}")),
        ),
        route(
            Method::POST,
            "/v1/crm/conversations/{conversation}/ai-replies",
            Some(r#"{"text": "We open at nine on Saturdays ({nonce})."}"#),
            integration,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/crm/conversations/{conversation}")),
        ),
        route(
            Method::POST,
            "/v1/crm/conversations/{conversation}/agent-replies",
            Some(r#"{"text": "An engineer will call you back ({nonce})."}"#),
            person,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/crm/conversations/{conversation}")),
        ),
        route(
            Method::PUT,
            "/v1/crm/conversations/{conversation}/summary",
            Some(r#"{"summary": "asked about opening hours ({nonce})"}"#),
            write,
            StatusCode::OK,
            Some(Witness::Get("/v1/crm/conversations/{conversation}")),
        ),
        // The gateway serves no route for SetConversationStatus: a
        // conversation's status moves with its handoff (claim, resolve,
        // hand back), under `/v1/handoffs`, which escalation checks.
        //
        // Appointments and job notes.
        route(
            Method::POST,
            "/v1/crm/appointments",
            Some(
                r#"{"customer_id": "{customer}", "starts_at": "2031-05-06T09:00:00Z",
                    "ends_at": "2031-05-06T11:00:00Z", "service_type": "boiler service {nonce}"}"#,
            ),
            write,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/crm/appointments?limit=100")),
        ),
        get("/v1/crm/appointments", read),
        get("/v1/crm/appointments/{appointment}", read),
        route(
            Method::PATCH,
            "/v1/crm/appointments/{appointment}",
            Some(r#"{"service_type": "annual check {nonce}"}"#),
            write,
            StatusCode::OK,
            Some(Witness::Get("/v1/crm/appointments/{appointment}")),
        ),
        route(
            Method::POST,
            "/v1/crm/job-notes",
            Some(r#"{"customer_id": "{customer}", "text": "replaced the valve {nonce}"}"#),
            write,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/crm/job-notes?limit=100")),
        ),
        get("/v1/crm/job-notes", read),
        get("/v1/crm/job-notes/{job_note}", read),
        // The business's configuration.
        get("/v1/owner/settings", settings),
        route(
            Method::PUT,
            "/v1/owner/settings",
            Some(SETTINGS),
            settings,
            StatusCode::OK,
            Some(Witness::Get("/v1/owner/settings")),
        ),
        route(
            Method::POST,
            "/v1/owner/channels",
            Some(
                r#"{"kind": "sms", "display_name": "Line {nonce}",
                    "credentials": {"auth_token": "tok-{nonce}"}}"#,
            ),
            owner,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/owner/channels")),
        ),
        get("/v1/owner/channels", owner),
        route(
            Method::DELETE,
            "/v1/owner/channels/{channel}",
            None,
            owner,
            StatusCode::NO_CONTENT,
            Some(Witness::Get("/v1/owner/channels")),
        ),
        get("/v1/owner/retention", owner),
        route(
            Method::PUT,
            "/v1/owner/retention",
            Some(r#"{"conversations_days": {days}, "job_notes_days": 365}"#),
            owner,
            StatusCode::OK,
            Some(Witness::Get("/v1/owner/retention")),
        ),
        // Erasure: the owner's. Each request works on a customer of its
        // own, so an allowed execution erases nobody the table needs.
        route(
            Method::POST,
            "/v1/owner/erasure-requests",
            Some(r#"{"customer_id": "{fresh_customer}", "reason": "asked {nonce}"}"#),
            owner,
            StatusCode::CREATED,
            Some(Witness::Get("/v1/owner/erasure-requests?limit=100")),
        ),
        get("/v1/owner/erasure-requests", owner),
        get("/v1/owner/erasure-requests/{erasure}", owner),
        route(
            Method::POST,
            "/v1/owner/erasure-requests/{erasure}/execute",
            None,
            owner,
            StatusCode::OK,
            Some(Witness::Get("/v1/owner/erasure-requests/{erasure}")),
        ),
        // Reports are a manager's (the settings scope); the bulk export
        // is the owner's alone.
        get("/v1/crm/reports/summary", settings),
        get(
            "/v1/crm/reports/summary?from=2031-04-01T00:00:00Z&to=2031-05-01T00:00:00Z",
            settings,
        ),
        get("/v1/owner/export", owner),
    ]
}

/// Who holds a credential: a person with a role, or a key with scopes in
/// a mode.
#[derive(Debug, Clone, Copy)]
enum Holder {
    Person(Role),
    Key {
        mode: Mode,
        scopes: &'static [&'static str],
    },
}

impl Holder {
    fn mode(self) -> Mode {
        match self {
            Self::Person(_) => Mode::Live,
            Self::Key { mode, .. } => mode,
        }
    }

    /// What the table says, for this holder.
    fn may(self, admits: Admits) -> bool {
        match self {
            Self::Person(role) => admits.people.is_some_and(|least| role >= least),
            Self::Key { scopes, .. } => admits.key.is_some_and(|scope| scopes.contains(&scope)),
        }
    }
}

struct Caller {
    label: String,
    holder: Holder,
    credential: Credential,
}

/// Every kind of tenant credential of `tenant`.
async fn credentials(
    stack: &TestStack,
    tenant: &crate::harness::Tenant,
    owner: &str,
) -> Vec<Caller> {
    let mut callers = vec![Caller {
        label: "owner session".to_owned(),
        holder: Holder::Person(Role::Owner),
        credential: Credential::Session(owner.to_owned()),
    }];
    for role in [Role::Manager, Role::Agent] {
        callers.push(Caller {
            label: format!("{} session", role.name()),
            holder: Holder::Person(role),
            credential: staff_session(stack, tenant, owner, role).await,
        });
    }
    const SCOPES: [&[&str]; 6] = [
        &["read"],
        &["write"],
        &["settings"],
        &["owner"],
        &["keys"],
        &["audit"],
    ];
    for scopes in SCOPES {
        callers.push(Caller {
            label: format!("live key {scopes:?}"),
            holder: Holder::Key {
                mode: Mode::Live,
                scopes,
            },
            credential: issue_key(stack, &tenant.id, Mode::Live, scopes).await,
        });
    }
    // A test key gets what its scopes give, in its own mode.
    const TEST_SCOPES: &[&str] = &["read", "write"];
    callers.push(Caller {
        label: format!("test key {TEST_SCOPES:?}"),
        holder: Holder::Key {
            mode: Mode::Test,
            scopes: TEST_SCOPES,
        },
        credential: issue_key(stack, &tenant.id, Mode::Test, TEST_SCOPES).await,
    });
    callers
}

/// One mode's fixtures, and the key that made them and reads them back.
pub(crate) struct World {
    pub(crate) key: Credential,
    pub(crate) customer: String,
    pub(crate) phone: String,
    pub(crate) email: String,
    pub(crate) appointment: String,
    pub(crate) job_note: String,
}

impl World {
    /// A customer (with a phone and an e-mail), an appointment and a job
    /// note, made by `key`.
    pub(crate) async fn create(stack: &TestStack, key: Credential, tag: &str) -> Self {
        let phone = format!("0161496{:04}", rand_digits() % 10_000);
        let email = format!("{tag}.customer@example.com");
        let customer = key
            .create(
                stack,
                "/v1/crm/customers",
                json!({ "name": format!("{tag} Customer"), "phone": phone, "email": email }),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let appointment = key
            .create(
                stack,
                "/v1/crm/appointments",
                json!({
                    "customer_id": customer,
                    "starts_at": "2031-04-01T09:00:00Z",
                    "ends_at": "2031-04-01T10:00:00Z",
                    "service_type": "first visit",
                }),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let job_note = key
            .create(
                stack,
                "/v1/crm/job-notes",
                json!({ "appointment_id": appointment, "text": "checked the pressure" }),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            key,
            customer,
            phone,
            email,
            appointment,
            job_note,
        }
    }

    /// Fills the placeholders of `templates`: `{customer}`, `{phone}`,
    /// `{email}`, `{appointment}`, `{job_note}`; `{conversation}`,
    /// `{channel}`, `{fresh_customer}` and `{erasure}` (an open erasure
    /// request of a fresh customer), made afresh for this request (an
    /// allowed write changes them, a delete consumes them); `{nonce}`, `{digits}` and `{days}`,
    /// different for every request.
    async fn fill<const N: usize>(
        &self,
        stack: &TestStack,
        nonce: u32,
        templates: [&str; N],
    ) -> [String; N] {
        let uses = |placeholder: &str| templates.iter().any(|t| t.contains(placeholder));
        let mut values = vec![
            ("{customer}", self.customer.clone()),
            ("{phone}", self.phone.clone()),
            ("{email}", self.email.clone()),
            ("{appointment}", self.appointment.clone()),
            ("{job_note}", self.job_note.clone()),
            ("{nonce}", format!("n{nonce}")),
            ("{digits}", format!("{:04}", nonce % 10_000)),
            ("{days}", (1 + nonce % 3650).to_string()),
        ];
        if uses("{conversation}") {
            let conversation = self
                .key
                .create(stack, "/v1/crm/conversations", json!({ "channel": "web" }))
                .await;
            values.push(("{conversation}", id_of(&conversation)));
        }
        if uses("{fresh_customer}") || uses("{erasure}") {
            let customer = self
                .key
                .create(
                    stack,
                    "/v1/crm/customers",
                    json!({ "name": format!("Erasable {nonce}") }),
                )
                .await;
            values.push(("{fresh_customer}", id_of(&customer)));
            if uses("{erasure}") {
                let request = self
                    .key
                    .create(
                        stack,
                        "/v1/owner/erasure-requests",
                        json!({ "customer_id": id_of(&customer), "reason": "matrix" }),
                    )
                    .await;
                values.push(("{erasure}", id_of(&request)));
            }
        }
        if uses("{channel}") {
            let channel = self
                .key
                .create(
                    stack,
                    "/v1/owner/channels",
                    json!({ "kind": "email", "display_name": format!("Inbox {nonce}") }),
                )
                .await;
            values.push(("{channel}", id_of(&channel)));
        }
        templates.map(|template| {
            values
                .iter()
                .fold(template.to_owned(), |text, (placeholder, value)| {
                    text.replace(placeholder, value)
                })
        })
    }
}

pub(crate) fn id_of(object: &Value) -> String {
    object["id"].as_str().expect("an id").to_owned()
}

/// A few random digits, so that two runs on one database do not meet.
fn rand_digits() -> u32 {
    u32::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into().unwrap())
}

/// The witness's reading: what the route's write would change.
async fn witness(
    stack: &TestStack,
    database: &CrmDatabase,
    world: &World,
    witness: Witness,
    path: &str,
) -> Value {
    match witness {
        Witness::Get(_) => world.key.get(stack, path).await,
        Witness::LegalHold => database.legal_hold(&world.customer).await,
    }
}

/// Whether `response` is a problem with `status`, as every refusal must be.
pub(crate) async fn problem(response: reqwest::Response, status: StatusCode) -> Result<(), String> {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (actual, body) = read(response).await;
    if actual != status
        || content_type.as_deref() != Some("application/problem+json")
        || body["status"] != status.as_u16()
    {
        return Err(format!(
            "expected a {status} problem, got {actual} ({content_type:?}): {body}"
        ));
    }
    Ok(())
}

async fn role_matrix(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Matrix Plumbing").await;
    let database = CrmDatabase::open(stack).await;
    let live = World::create(
        stack,
        issue_key(stack, &tenant.id, Mode::Live, &FIXTURE_SCOPES).await,
        "live",
    )
    .await;
    let test = World::create(
        stack,
        issue_key(stack, &tenant.id, Mode::Test, &FIXTURE_SCOPES).await,
        "test",
    )
    .await;
    let callers = credentials(stack, &tenant, &owner).await;
    let routes = routes();

    let mut failures = Vec::new();
    let mut nonce = rand_digits() % 1_000_000;
    let mut pairs = 0;
    for route in &routes {
        for caller in &callers {
            nonce += 1;
            pairs += 1;
            let world = match caller.holder.mode() {
                Mode::Live => &live,
                Mode::Test => &test,
            };
            let witness_path = match route.witness {
                Some(Witness::Get(path)) => path,
                _ => "",
            };
            let [path, body, witness_path] = world
                .fill(
                    stack,
                    nonce,
                    [route.path, route.body.unwrap_or("null"), witness_path],
                )
                .await;
            let body: Value = serde_json::from_str(&body).expect("a route's body is JSON");
            let before = match route.witness {
                Some(kind) => Some(witness(stack, &database, world, kind, &witness_path).await),
                None => None,
            };

            let allowed = caller.holder.may(route.admits);
            let what = format!("{} {} as {}", route.method, route.path, caller.label);
            let response = caller
                .credential
                .request(stack, route.method.clone(), &path, &body)
                .send()
                .await
                .unwrap();
            if allowed {
                let status = response.status();
                if status != route.success {
                    let (_, answer) = read(response).await;
                    failures.push(format!(
                        "{what}: allowed by the table, expected {}, got {status}: {answer}",
                        route.success
                    ));
                }
            } else if let Err(problem) = problem(response, StatusCode::FORBIDDEN).await {
                failures.push(format!("{what}: refused by the table, {problem}"));
            }

            if let (Some(kind), Some(before)) = (route.witness, before) {
                let after = witness(stack, &database, world, kind, &witness_path).await;
                match (allowed, before == after) {
                    (false, false) => failures.push(format!(
                        "{what}: refused, yet it changed {witness_path}: {before} -> {after}"
                    )),
                    (true, true) => failures.push(format!(
                        "{what}: allowed, yet its witness saw no change: {after}"
                    )),
                    _ => {}
                }
            }
        }
    }
    assert_eq!(pairs, routes.len() * callers.len());
    assert!(
        failures.is_empty(),
        "{} of {pairs} pairs differ from the policy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
