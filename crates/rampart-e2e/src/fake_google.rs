//! A stand-in for Google's OAuth and Calendar endpoints on loopback, for
//! the calendar sync tests (these machines reach no outside service).
//!
//! It implements what Rampart calls, checking what Google checks: the token
//! endpoint (`authorization_code` with the PKCE S256 verifier checked
//! against the challenge the test registered with the code, single-use
//! codes, client authentication; `refresh_token`), the revocation endpoint,
//! and Calendar v3 events insert / patch / delete / list on ONE calendar
//! (any other calendar id is refused, and so is any token not issued or
//! expired). The test plays the browser: it reads the authorisation URL
//! Rampart built, registers a code for its challenge ([`FakeGoogle::issue_code`])
//! and calls the callback itself.
//!
//! Knobs: the scope granted ([`FakeGoogle::grant_scope`]), expiring every
//! access token ([`FakeGoogle::expire_access_tokens`]), an outage of the
//! Calendar API ([`FakeGoogle::fail_calendar_calls`]), and the record of
//! calls, revocations and events.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use base64::Engine;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The scope Rampart must ask for.
pub const EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";

#[derive(Debug, Default)]
struct Fake {
    client_id: String,
    client_secret: String,
    calendar_id: String,
    /// code -> (S256 challenge, redirect URI, scope to grant)
    codes: HashMap<String, (String, String, String)>,
    /// Access tokens issued and still good.
    access: HashSet<String>,
    refresh: HashSet<String>,
    revoked: Vec<String>,
    events: BTreeMap<String, Value>,
    calls: Vec<String>,
    granted_scope: Option<String>,
    issued: u64,
    /// Calendar calls still to answer 503.
    failures: u32,
}

/// The running fake.
pub struct FakeGoogle {
    pub base: String,
    state: Arc<Mutex<Fake>>,
    task: JoinHandle<()>,
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGoogle {
    /// Starts on 127.0.0.1:0, serving `calendar_id` only, for the client
    /// `client_id` / `client_secret`.
    pub async fn start(calendar_id: &str, client_id: &str, client_secret: &str) -> Self {
        let state = Arc::new(Mutex::new(Fake {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            calendar_id: calendar_id.to_owned(),
            ..Fake::default()
        }));
        let router = Router::new()
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route(
                "/calendar/v3/calendars/{calendar}/events",
                post(insert_event).get(list_events),
            )
            .route(
                "/calendar/v3/calendars/{calendar}/events/{event}",
                patch(patch_event).delete(delete_event),
            )
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { base, state, task }
    }

    pub fn auth_url(&self) -> String {
        format!("{}/authorize", self.base)
    }
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.base)
    }
    pub fn api_base(&self) -> String {
        format!("{}/calendar/v3", self.base)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fake> {
        self.state.lock().expect("fake state")
    }

    /// A code the token endpoint exchanges once, for the verifier whose
    /// S256 is `challenge` and the same `redirect_uri`, as a consenting
    /// owner's browser would bring back.
    pub fn issue_code(&self, challenge: &str, redirect_uri: &str) -> String {
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        let mut fake = self.lock();
        let scope = fake
            .granted_scope
            .clone()
            .unwrap_or_else(|| EVENTS_SCOPE.to_owned());
        fake.codes.insert(
            code.clone(),
            (challenge.to_owned(), redirect_uri.to_owned(), scope),
        );
        code
    }

    /// Grants `scope` instead of the events scope to the next codes.
    pub fn grant_scope(&self, scope: Option<&str>) {
        self.lock().granted_scope = scope.map(str::to_owned);
    }

    /// The next `count` Calendar calls answer 503, as an outage would.
    pub fn fail_calendar_calls(&self, count: u32) {
        self.lock().failures = count;
    }

    /// Every access token issued so far stops working (refresh tokens go on).
    pub fn expire_access_tokens(&self) {
        self.lock().access.clear();
    }

    /// The calls made, as `METHOD path` (`POST /token grant_type=...`).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The tokens revoked, in order.
    pub fn revoked(&self) -> Vec<String> {
        self.lock().revoked.clone()
    }

    /// Whether `token` is a refresh token still good.
    pub fn refresh_token_live(&self, token: &str) -> bool {
        self.lock().refresh.contains(token)
    }

    /// The refresh tokens still good.
    pub fn live_refresh_tokens(&self) -> Vec<String> {
        self.lock().refresh.iter().cloned().collect()
    }

    /// The calendar's events by id.
    pub fn events(&self) -> BTreeMap<String, Value> {
        self.lock().events.clone()
    }

    /// Adds an event of the business's own (not Rampart's).
    pub fn add_event(&self, id: &str, starts_at: &str, ends_at: &str) {
        self.lock().events.insert(
            id.to_owned(),
            json!({
                "id": id,
                "status": "confirmed",
                "summary": "dentist",
                "start": {"dateTime": starts_at},
                "end": {"dateTime": ends_at},
            }),
        );
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, axum::Json(json!({ "error": code }))).into_response()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// HTTP Basic client authentication (the oauth2 crate's default), or the
/// client id and secret in the body.
fn client_ok(fake: &Fake, headers: &HeaderMap, params: &HashMap<String, String>) -> bool {
    if let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic) else {
            return false;
        };
        let text = String::from_utf8_lossy(&decoded).into_owned();
        let Some((id, secret)) = text.split_once(':') else {
            return false;
        };
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return decode(id) == fake.client_id && decode(secret) == fake.client_secret;
    }
    params.get("client_id") == Some(&fake.client_id)
        && params.get("client_secret") == Some(&fake.client_secret)
}

fn s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

async fn token(State(state): State<Arc<Mutex<Fake>>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    let mut fake = state.lock().expect("fake state");
    let grant = params.get("grant_type").cloned().unwrap_or_default();
    fake.calls.push(format!("POST /token grant_type={grant}"));
    if !client_ok(&fake, &headers, &params) {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    fake.issued += 1;
    let n = fake.issued;
    let access = format!("access-{n}-{}", uuid::Uuid::new_v4().simple());
    match grant.as_str() {
        "authorization_code" => {
            let Some(code) = params.get("code") else {
                return error(StatusCode::BAD_REQUEST, "invalid_request");
            };
            // Single use: gone whether or not the verifier matches.
            let Some((challenge, redirect_uri, scope)) = fake.codes.remove(code) else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let Some(verifier) = params.get("code_verifier") else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            if s256(verifier) != challenge || params.get("redirect_uri") != Some(&redirect_uri) {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            let refresh = format!("refresh-{n}-{}", uuid::Uuid::new_v4().simple());
            fake.access.insert(access.clone());
            fake.refresh.insert(refresh.clone());
            axum::Json(json!({
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": scope,
            }))
            .into_response()
        }
        "refresh_token" => {
            let Some(refresh) = params.get("refresh_token") else {
                return error(StatusCode::BAD_REQUEST, "invalid_request");
            };
            if !fake.refresh.contains(refresh) {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            fake.access.insert(access.clone());
            axum::Json(json!({
                "access_token": access,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": EVENTS_SCOPE,
            }))
            .into_response()
        }
        _ => error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

async fn revoke(State(state): State<Arc<Mutex<Fake>>>, body: Bytes) -> Response {
    let params = form(&body);
    let mut fake = state.lock().expect("fake state");
    fake.calls.push("POST /revoke".to_owned());
    let Some(token) = params.get("token") else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let known = fake.refresh.remove(token) | fake.access.remove(token);
    fake.revoked.push(token.clone());
    if known {
        StatusCode::OK.into_response()
    } else {
        error(StatusCode::BAD_REQUEST, "invalid_token")
    }
}

/// The bearer token is one issued and good, and the calendar is the one.
fn refused(fake: &mut Fake, headers: &HeaderMap, calendar: &str) -> Option<Response> {
    if fake.failures > 0 {
        fake.failures -= 1;
        return Some(error(StatusCode::SERVICE_UNAVAILABLE, "backendError"));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !fake.access.contains(token) {
        return Some(error(StatusCode::UNAUTHORIZED, "invalid_token"));
    }
    if calendar != fake.calendar_id {
        return Some(error(StatusCode::NOT_FOUND, "notFound"));
    }
    None
}

async fn insert_event(
    State(state): State<Arc<Mutex<Fake>>>,
    Path(calendar): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut fake = state.lock().expect("fake state");
    fake.calls.push(format!("POST events {calendar}"));
    if let Some(response) = refused(&mut fake, &headers, &calendar) {
        return response;
    }
    let Ok(mut event) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "badRequest");
    };
    let id = event["id"]
        .as_str()
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    if fake.events.contains_key(&id) {
        return error(StatusCode::CONFLICT, "duplicate");
    }
    event["id"] = json!(id);
    event["status"] = json!("confirmed");
    fake.events.insert(id, event.clone());
    axum::Json(event).into_response()
}

async fn patch_event(
    State(state): State<Arc<Mutex<Fake>>>,
    Path((calendar, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut fake = state.lock().expect("fake state");
    fake.calls.push(format!("PATCH events {calendar} {id}"));
    if let Some(response) = refused(&mut fake, &headers, &calendar) {
        return response;
    }
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "badRequest");
    };
    let Some(event) = fake.events.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "notFound");
    };
    for (key, value) in changes {
        event[key] = value;
    }
    axum::Json(event.clone()).into_response()
}

async fn delete_event(
    State(state): State<Arc<Mutex<Fake>>>,
    Path((calendar, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut fake = state.lock().expect("fake state");
    fake.calls.push(format!("DELETE events {calendar} {id}"));
    if let Some(response) = refused(&mut fake, &headers, &calendar) {
        return response;
    }
    match fake.events.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => error(StatusCode::GONE, "deleted"),
    }
}

async fn list_events(
    State(state): State<Arc<Mutex<Fake>>>,
    Path(calendar): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let mut fake = state.lock().expect("fake state");
    fake.calls.push(format!("GET events {calendar}"));
    if let Some(response) = refused(&mut fake, &headers, &calendar) {
        return response;
    }
    let query: HashMap<String, String> = form(uri.query().unwrap_or_default().as_bytes());
    let parse = |key: &str| {
        query
            .get(key)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let (Some(from), Some(to)) = (parse("timeMin"), parse("timeMax")) else {
        return error(StatusCode::BAD_REQUEST, "badRequest");
    };
    let items: Vec<Value> = fake
        .events
        .values()
        .filter(|event| {
            let at = |key: &str| {
                event[key]["dateTime"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            };
            matches!((at("start"), at("end")), (Some(start), Some(end)) if start < to && end > from)
        })
        .cloned()
        .collect();
    axum::Json(json!({ "items": items })).into_response()
}
