//! Calendar sync (issue 24, part 5) end to end, against a fake Google on
//! loopback ([`rampart_e2e::fake_google`]): the test plays the owner's
//! browser, reading the authorisation URL the edge answers and bringing a
//! code back to the callback.
//!
//! Shown: the OAuth flow with PKCE (the fake checks S256), a forged state
//! and a replayed state refused, a code for another challenge refused, a
//! broader scope refused (revoked, nothing stored), the token refreshed
//! when the calendar refuses an expired one, revocation on disconnect,
//! another tenant's owner seeing and disconnecting nothing, an agent and a
//! read-only key unable to connect, appointments created / changed /
//! cancelled in Rampart becoming events inserted / patched / deleted, and
//! an event of the business's coming back as busy time. Each scenario runs
//! embedded and on PostgreSQL + Redis.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use rampart_e2e::fake_google::{EVENTS_SCOPE, FakeGoogle};

use crate::accounts::tenant_with_owner;
use crate::crm_roles::{Credential, Mode, Role, issue_key, staff_session};
use crate::harness::{Backend, TestStack, edge_tls, read};

const CALENDAR_ID: &str = "team@group.calendar.example";
const CLIENT_ID: &str = "rampart-test-client.apps.example";
const CALLBACK: &str = "/v1/owner/calendar/callback";

async fn start(backend: Backend) -> Option<(TestStack, FakeGoogle)> {
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let fake = FakeGoogle::start(CALENDAR_ID, CLIENT_ID, &secret).await;
    let crm = rampart_crm::Integrations {
        calendar: rampart_crm::calendar::CalendarSettings {
            auth_url: fake.auth_url(),
            token_url: fake.token_url(),
            revoke_url: fake.revoke_url(),
            api_base: fake.api_base(),
            client_id: Some(CLIENT_ID.to_owned()),
            client_secret: Some(secret.into()),
        },
        ..Default::default()
    };
    let accounts = rampart_auth::AccountSettings {
        admin_email_domains: vec![crate::harness::OFFICE_DOMAIN.to_owned()],
        ..rampart_auth::AccountSettings::default()
    };
    let stack = TestStack::start_with_integrations(
        backend,
        rampart_gateway::Config::default(),
        accounts,
        crm,
    )
    .await?;
    Some((stack, fake))
}

macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use crate::harness::Backend;

            #[tokio::test]
            async fn embedded() {
                let (stack, fake) = super::start(Backend::Embedded).await.expect("embedded runs");
                super::$scenario(&stack, &fake).await;
                stack.stop().await;
            }

            #[tokio::test]
            async fn postgres_and_redis() {
                let Some((stack, fake)) = super::start(Backend::PostgresRedis).await else {
                    return;
                };
                super::$scenario(&stack, &fake).await;
                stack.stop().await;
            }
        }
    )*};
}

on_both!(connect_sync_and_disconnect, a_broader_scope_is_refused);

/// The public URL `rampart dev` gives the edge.
fn public_url(stack: &TestStack) -> String {
    format!("https://{}", stack.stack.edge_addr)
}

/// A client of the edge that shows redirects instead of following them.
fn browser(stack: &TestStack) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(edge_tls(
            &stack.stack.edge_ca,
            rustls::DEFAULT_VERSIONS,
            &[],
        ))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Starts a connection as `owner`; the authorisation URL's parameters,
/// checked to be exactly what Rampart must ask for.
async fn begin(
    stack: &TestStack,
    fake: &FakeGoogle,
    owner: &Credential,
) -> HashMap<String, String> {
    let (status, body) = owner
        .send(
            stack,
            Method::POST,
            "/v1/owner/calendar/connect",
            &json!({ "calendar_id": CALENDAR_ID }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = url::Url::parse(body["authorization_url"].as_str().expect("url")).expect("a URL");
    let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(
        params["redirect_uri"],
        format!("{}{CALLBACK}", public_url(stack))
    );
    assert_eq!(params["scope"], EVENTS_SCOPE, "only the events scope");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["access_type"], "offline");
    assert!(params["state"].len() >= 16, "{params:?}");
    assert_eq!(params["code_challenge"].len(), 43, "{params:?}");
    assert!(
        url.as_str().starts_with(&format!("{}?", fake.auth_url())),
        "{url}"
    );
    params
}

/// The provider's redirect back: the callback's status, Location and body.
async fn come_back(stack: &TestStack, code: &str, state: &str) -> (StatusCode, String, String) {
    let mut url = url::Url::parse(&stack.url(CALLBACK)).unwrap();
    url.query_pairs_mut()
        .append_pair("code", code)
        .append_pair("state", state);
    let response = browser(stack).get(url).send().await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap_or_default();
    (status, location, body)
}

async fn status(stack: &TestStack, who: &Credential) -> Value {
    who.get(stack, "/v1/owner/calendar").await
}

/// Waits until `check` holds of the fake's events.
async fn eventually(
    what: &str,
    fake: &FakeGoogle,
    check: impl Fn(&std::collections::BTreeMap<String, Value>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = fake.events();
        if check(&events) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen; events: {events:?}; calls: {:?}",
            fake.calls()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn event_of<'a>(
    events: &'a std::collections::BTreeMap<String, Value>,
    appointment: &str,
) -> Option<&'a Value> {
    events
        .values()
        .find(|event| event["extendedProperties"]["private"]["rampart_appointment"] == appointment)
}

fn same_instant(value: &Value, expected: &str) -> bool {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    value.as_str().and_then(parse).is_some() && value.as_str().and_then(parse) == parse(expected)
}

async fn connect_sync_and_disconnect(stack: &TestStack, fake: &FakeGoogle) {
    let (tenant, _, owner_token) = tenant_with_owner(stack, "Calendar Plumbing").await;
    let owner = Credential::Session(owner_token.clone());
    let owner_key = issue_key(stack, &tenant.id, Mode::Live, &["owner"]).await;
    let writer = issue_key(stack, &tenant.id, Mode::Live, &["read", "write"]).await;
    let reader = issue_key(stack, &tenant.id, Mode::Live, &["read"]).await;
    let agent = staff_session(stack, &tenant, &owner_token, Role::Agent).await;
    assert_eq!(status(stack, &owner).await["connected"], false);

    // An agent and a read-only key cannot start a connection.
    for (who, label) in [(&agent, "agent"), (&reader, "read key")] {
        let (code, body) = who
            .send(
                stack,
                Method::POST,
                "/v1/owner/calendar/connect",
                &json!({ "calendar_id": CALENDAR_ID }),
            )
            .await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{label}: {body}");
    }
    // Malformed input: a clear error.
    let (code, body) = owner
        .send(
            stack,
            Method::POST,
            "/v1/owner/calendar/connect",
            &json!({ "calendar_id": "" }),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");

    // A forged state is refused, and so is a callback without one.
    let (code, _, body) = come_back(stack, "whatever", "forged-state-0123456789").await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let (code, body) = read(
        browser(stack)
            .get(stack.url(CALLBACK))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");

    // A code issued for another challenge fails PKCE at the provider, and
    // uses up the state: the right code cannot follow it.
    let first = begin(stack, fake, &owner).await;
    let wrong = fake.issue_code("A".repeat(43).as_str(), &first["redirect_uri"]);
    let (code, _, body) = come_back(stack, &wrong, &first["state"]).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let right = fake.issue_code(&first["code_challenge"], &first["redirect_uri"]);
    let (code, _, body) = come_back(stack, &right, &first["state"]).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "a used state: {body}");
    assert_eq!(status(stack, &owner).await["connected"], false);

    // The flow: consent, the code back, connected.
    let params = begin(stack, fake, &owner).await;
    let code_value = fake.issue_code(&params["code_challenge"], &params["redirect_uri"]);
    let (code, _, body) = come_back(stack, &code_value, &params["state"]).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(
        body.contains(&format!(
            "url={}/console/#calendar=connected",
            public_url(stack)
        )),
        "on to the console: {body}"
    );
    // Replayed, the same state (and code) is refused.
    let (code, _, body) = come_back(stack, &code_value, &params["state"]).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "a replayed state: {body}");

    let connected = status(stack, &owner_key).await;
    assert_eq!(connected["connected"], true, "{connected}");
    assert_eq!(connected["calendar_id"], CALENDAR_ID);
    assert_eq!(connected["scope"], EVENTS_SCOPE);
    let refresh_tokens = fake.live_refresh_tokens();
    assert_eq!(refresh_tokens.len(), 1, "one grant is live");
    let stored = connection_bytes(stack).await;
    assert!(!stored.is_empty(), "the connection is stored");
    assert!(
        !contains(&stored, refresh_tokens[0].as_bytes()),
        "the refresh token is stored sealed, not as it was issued"
    );
    let text = connected.to_string();
    assert!(
        !text.contains("access-") && !text.contains("refresh-"),
        "no token shown: {text}"
    );

    // Another tenant's owner sees no calendar and cannot disconnect this one.
    let other = stack.create_tenant("Other Calendar Co").await;
    let other_owner = issue_key(stack, &other.id, Mode::Live, &["owner"]).await;
    assert_eq!(status(stack, &other_owner).await["connected"], false);
    let (code, body) = other_owner
        .send(stack, Method::DELETE, "/v1/owner/calendar", &Value::Null)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(status(stack, &owner_key).await["connected"], true);
    assert!(
        fake.revoked().is_empty(),
        "nothing revoked for the other tenant"
    );

    // An appointment booked in Rampart becomes an event.
    let customer = writer
        .create(
            stack,
            "/v1/crm/customers",
            json!({ "name": "Ada Calendar", "phone": "0161 496 0123" }),
        )
        .await;
    let appointment = writer
        .create(
            stack,
            "/v1/crm/appointments",
            json!({
                "customer_id": customer["id"],
                "starts_at": "2031-05-06T09:00:00Z",
                "ends_at": "2031-05-06T11:00:00Z",
                "service_type": "boiler service",
            }),
        )
        .await;
    let id = appointment["id"].as_str().unwrap().to_owned();
    eventually("the insert", fake, |events| {
        event_of(events, &id)
            .is_some_and(|e| same_instant(&e["start"]["dateTime"], "2031-05-06T09:00:00Z"))
    })
    .await;
    let event = event_of(&fake.events(), &id).unwrap().clone();
    assert!(
        event["id"].as_str().unwrap().starts_with("rampart"),
        "{event}"
    );
    assert!(
        !event.to_string().contains("Ada"),
        "no customer data in the provider's calendar: {event}"
    );

    // Changed: patched.
    let (code, body) = writer
        .send(
            stack,
            Method::PATCH,
            &format!("/v1/crm/appointments/{id}"),
            &json!({ "starts_at": "2031-05-06T13:00:00Z", "ends_at": "2031-05-06T15:00:00Z" }),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    eventually("the patch", fake, |events| {
        event_of(events, &id)
            .is_some_and(|e| same_instant(&e["start"]["dateTime"], "2031-05-06T13:00:00Z"))
    })
    .await;
    assert!(
        fake.calls().iter().any(|c| c.starts_with("PATCH events")),
        "{:?}",
        fake.calls()
    );

    // The access token expires: the next push refreshes it first.
    fake.expire_access_tokens();
    let (code, body) = writer
        .send(
            stack,
            Method::PATCH,
            &format!("/v1/crm/appointments/{id}"),
            &json!({ "service_type": "annual check" }),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    eventually("the patch after a refresh", fake, |events| {
        event_of(events, &id).is_some_and(|e| {
            e["summary"]
                .as_str()
                .is_some_and(|s| s.contains("annual check"))
        })
    })
    .await;
    assert!(
        fake.calls()
            .iter()
            .any(|c| c == "POST /token grant_type=refresh_token"),
        "{:?}",
        fake.calls()
    );

    // The calendar is down for two calls: the push is retried, with
    // backoff, until it lands.
    fake.fail_calendar_calls(2);
    let retried = writer
        .create(
            stack,
            "/v1/crm/appointments",
            json!({
                "customer_id": customer["id"],
                "starts_at": "2031-06-01T09:00:00Z",
                "ends_at": "2031-06-01T10:00:00Z",
                "service_type": "retried visit",
            }),
        )
        .await;
    let retried_id = retried["id"].as_str().unwrap().to_owned();
    eventually("the insert after an outage", fake, |events| {
        event_of(events, &retried_id).is_some()
    })
    .await;
    let inserts = fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("POST events"))
        .count();
    assert!(
        inserts >= 4,
        "two failed attempts before the one that landed: {:?}",
        fake.calls()
    );

    // An event of the business's, and a second appointment: both busy.
    fake.add_event("dentist01", "2031-05-07T13:00:00Z", "2031-05-07T14:00:00Z");
    let second = writer
        .create(
            stack,
            "/v1/crm/appointments",
            json!({
                "customer_id": customer["id"],
                "starts_at": "2031-05-07T09:00:00Z",
                "ends_at": "2031-05-07T10:00:00Z",
                "service_type": "leak check",
            }),
        )
        .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    eventually("the second insert", fake, |events| {
        event_of(events, &second_id).is_some()
    })
    .await;
    let busy = reader
        .get(
            stack,
            "/v1/calendar/busy?from=2031-05-07T00:00:00Z&to=2031-05-08T00:00:00Z",
        )
        .await;
    assert_eq!(busy["calendar_connected"], true, "{busy}");
    let intervals = busy["intervals"].as_array().unwrap();
    assert_eq!(
        intervals.len(),
        2,
        "Rampart's own event is not counted twice: {busy}"
    );
    assert_eq!(intervals[0]["source"], "appointment", "{busy}");
    assert!(
        same_instant(&intervals[0]["starts_at"], "2031-05-07T09:00:00Z"),
        "{busy}"
    );
    assert_eq!(intervals[1]["source"], "calendar", "{busy}");
    assert!(
        same_instant(&intervals[1]["starts_at"], "2031-05-07T13:00:00Z"),
        "{busy}"
    );
    assert!(
        same_instant(&intervals[1]["ends_at"], "2031-05-07T14:00:00Z"),
        "{busy}"
    );
    let (code, body) = reader
        .send(
            stack,
            Method::GET,
            "/v1/calendar/busy?from=2031-05-08T00:00:00Z&to=2031-05-07T00:00:00Z",
            &Value::Null,
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");

    // Cancelled: deleted.
    let (code, body) = writer
        .send(
            stack,
            Method::PATCH,
            &format!("/v1/crm/appointments/{id}"),
            &json!({ "status": "cancelled" }),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    eventually("the delete", fake, |events| event_of(events, &id).is_none()).await;
    assert!(
        fake.events().contains_key("dentist01"),
        "the business's event stays"
    );

    // An agent cannot disconnect; the owner can: revoked, then deleted.
    let (code, body) = agent
        .send(stack, Method::DELETE, "/v1/owner/calendar", &Value::Null)
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let (code, body) = owner_key
        .send(stack, Method::DELETE, "/v1/owner/calendar", &Value::Null)
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        fake.revoked(),
        refresh_tokens,
        "the grant's refresh token was revoked"
    );
    assert!(fake.live_refresh_tokens().is_empty());
    assert_eq!(status(stack, &owner).await["connected"], false);
    let (code, body) = owner_key
        .send(stack, Method::DELETE, "/v1/owner/calendar", &Value::Null)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    assert!(
        connection_bytes(stack).await.is_empty(),
        "the tokens are gone"
    );

    // The trail: the refused callback, the connection (as the owner who
    // started it) and the disconnection.
    let events = trail_until(stack, &tenant, |events| {
        [
            "calendar.connect_failed",
            "calendar.connected",
            "calendar.disconnected",
        ]
        .iter()
        .all(|action| events.iter().any(|e| e["action"] == *action))
    })
    .await;
    let of = |action: &str| {
        events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap()
            .clone()
    };
    assert_eq!(of("calendar.connect_failed")["outcome"], "failure");
    let connected = of("calendar.connected");
    assert!(
        connected["actor"].as_str().unwrap().starts_with("user:"),
        "{connected}"
    );
    assert!(
        of("calendar.disconnected")["actor"]
            .as_str()
            .unwrap()
            .starts_with("api_key:")
    );
    let text = serde_json::to_string(&events).unwrap();
    for token in &refresh_tokens {
        assert!(!text.contains(token.as_str()), "no token in the trail");
    }
}

/// The sealed token columns of every stored connection, as someone with
/// the database (and not the keys) reads them.
async fn connection_bytes(stack: &TestStack) -> Vec<u8> {
    use sea_orm::ConnectionTrait;
    let url = stack.database_url.clone().unwrap_or_else(|| {
        let data = rampart::dev_data::DataDir::open(&stack.data_dir).expect("data dir");
        rampart_kit::db::sqlite_url(&data.database("crm"))
    });
    let db = rampart_kit::db::connect(&url)
        .await
        .expect("the CRM database");
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT access_token, refresh_token FROM crm_calendar_connection",
        ))
        .await
        .expect("connection rows");
    let mut bytes = Vec::new();
    for row in rows {
        for column in ["access_token", "refresh_token"] {
            bytes.extend(row.try_get::<Vec<u8>>("", column).expect(column));
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Waits until the tenant's trail (read with its first key) holds what
/// `done` accepts.
async fn trail_until(
    stack: &TestStack,
    tenant: &crate::harness::Tenant,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (code, body) = read(
            stack
                .as_tenant(tenant, Method::GET, "/v1/owner/audit?limit=100")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        let events = body["events"].as_array().unwrap().clone();
        if done(&events) {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the trail never showed the calendar events: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_broader_scope_is_refused(stack: &TestStack, fake: &FakeGoogle) {
    let tenant = stack.create_tenant("Scope Creep Ltd").await;
    let owner = issue_key(stack, &tenant.id, Mode::Live, &["owner"]).await;
    fake.grant_scope(Some("https://www.googleapis.com/auth/calendar"));
    let params = begin(stack, fake, &owner).await;
    let code_value = fake.issue_code(&params["code_challenge"], &params["redirect_uri"]);
    let (code, _, body) = come_back(stack, &code_value, &params["state"]).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("scope"), "{body}");
    assert_eq!(
        status(stack, &owner).await["connected"],
        false,
        "nothing stored"
    );
    assert_eq!(fake.revoked().len(), 1, "what was granted was revoked");
    assert!(fake.live_refresh_tokens().is_empty());
    // The fake calendar saw no call at all.
    assert!(
        fake.calls()
            .iter()
            .all(|c| c.starts_with("POST /token") || c == "POST /revoke"),
        "{:?}",
        fake.calls()
    );
}

#[tokio::test]
async fn connecting_without_a_client_answers_503() {
    let stack = TestStack::start(Backend::Embedded)
        .await
        .expect("embedded runs");
    let tenant = stack.create_tenant("Unconfigured Co").await;
    let owner = issue_key(&stack, &tenant.id, Mode::Live, &["owner"]).await;
    let (code, body) = owner
        .send(
            &stack,
            Method::POST,
            "/v1/owner/calendar/connect",
            &json!({ "calendar_id": "primary" }),
        )
        .await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["detail"], "calendar sync is not configured", "{body}");
    stack.stop().await;
}
