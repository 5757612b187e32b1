//! A local SMS provider that speaks Twilio's wire format on loopback: what
//! `rampart dev` and the tests send to, since these machines reach no
//! outside service.
//!
//! It answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` as
//! Twilio does: HTTP Basic `AccountSid:AuthToken` checked against the
//! accounts it was given (or, under `rampart dev`, any well-formed pair,
//! since it cannot know the tenants' tokens), the sid in the path matching
//! the one authenticated, the form fields `To`, `From` and `Body` checked,
//! and JSON answers: the message resource with a new `SM…` sid (`201`), or
//! Twilio's error shape (`code`, `message`, `more_info`, `status`). It
//! records every message it accepted. Test knobs make it answer `503` to
//! the next requests, or accept a message and then never answer (the
//! sender's timeout case: sent, answer lost).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine;
use rampart_kit::CancellationToken;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

/// Who may send.
#[derive(Debug, Clone)]
enum Accounts {
    /// Only these sids, each with its token.
    Known(HashMap<String, String>),
    /// Any `AC…` sid with a non-empty token (`rampart dev`).
    Any,
}

/// A message the provider accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct AcceptedMessage {
    pub sid: String,
    pub account_sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
}

/// Shows the sids and the sending number only.
impl std::fmt::Debug for AcceptedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptedMessage")
            .field("sid", &self.sid)
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Inner {
    accounts: Accounts,
    accepted: Vec<AcceptedMessage>,
    /// Requests (authenticated or not) it answered or is answering.
    requests: usize,
    /// The next this many authenticated requests answer 503, creating
    /// nothing.
    fail_next: usize,
    /// The next this many valid messages are accepted, then never
    /// answered.
    hang_next: usize,
    /// Log one line per accepted message (`rampart dev`).
    log: bool,
}

/// The running provider, stopped when dropped.
#[derive(Debug)]
pub struct LoopbackProvider {
    address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: CancellationToken,
}

impl Drop for LoopbackProvider {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl LoopbackProvider {
    /// Serves on `127.0.0.1:0`, accepting only the accounts added with
    /// [`add_account`](Self::add_account).
    pub async fn start() -> anyhow::Result<Self> {
        Self::serve(Accounts::Known(HashMap::new()), false).await
    }

    /// Serves on `127.0.0.1:0` for `rampart dev`: any well-formed account
    /// is accepted, and each accepted message is logged (its sid, account
    /// and sending number; never the recipient or the text).
    pub async fn start_for_development() -> anyhow::Result<Self> {
        Self::serve(Accounts::Any, true).await
    }

    async fn serve(accounts: Accounts, log: bool) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner {
            accounts,
            accepted: Vec::new(),
            requests: 0,
            fail_next: 0,
            hang_next: 0,
            log,
        }));
        let stop = CancellationToken::new();
        let router = Router::new()
            .route(
                "/2010-04-01/Accounts/{account_sid}/Messages.json",
                post(create_message),
            )
            .with_state(Served {
                inner: inner.clone(),
                stop: stop.clone(),
            });
        let until = stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { until.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::error!(error = %error, "the loopback SMS provider failed");
            }
        });
        Ok(Self {
            address,
            inner,
            stop,
        })
    }

    /// The base URL to configure as the Twilio API URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Accepts `account_sid` authenticated with `auth_token` (replacing its
    /// token if it was known).
    pub fn add_account(&self, account_sid: &str, auth_token: &str) {
        if let Accounts::Known(accounts) = &mut self.lock().accounts {
            accounts.insert(account_sid.to_owned(), auth_token.to_owned());
        }
    }

    /// Every message accepted so far, oldest first.
    #[must_use]
    pub fn accepted(&self) -> Vec<AcceptedMessage> {
        self.lock().accepted.clone()
    }

    /// How many requests arrived so far, refused ones included.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// Answers the next `count` authenticated requests `503`, creating
    /// nothing.
    pub fn fail_next(&self, count: usize) {
        self.lock().fail_next = count;
    }

    /// Accepts the next `count` valid messages and then never answers.
    pub fn hang_next(&self, count: usize) {
        self.lock().hang_next = count;
    }
}

#[derive(Clone)]
struct Served {
    inner: Arc<Mutex<Inner>>,
    stop: CancellationToken,
}

/// Twilio's form fields for a message.
#[derive(Deserialize)]
struct MessageForm {
    #[serde(rename = "To")]
    to: Option<String>,
    #[serde(rename = "From")]
    from: Option<String>,
    #[serde(rename = "Body")]
    body: Option<String>,
}

/// Twilio's error answer.
fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })),
    )
        .into_response()
}

/// The account sid and token of a Basic `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (sid, token) = text.split_once(':')?;
    Some((sid.to_owned(), token.to_owned()))
}

fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

fn is_account_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("AC") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

async fn create_message(
    State(served): State<Served>,
    Path(account_sid): Path<String>,
    headers: HeaderMap,
    form: Result<Form<MessageForm>, FormRejection>,
) -> Response {
    {
        let mut inner = served.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.requests += 1;
        let authenticated = basic_credentials(&headers).is_some_and(|(sid, token)| {
            let known = match &inner.accounts {
                Accounts::Known(accounts) => accounts.get(&sid).is_some_and(|expected| {
                    bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
                }),
                Accounts::Any => is_account_sid(&sid) && !token.is_empty(),
            };
            known && sid == account_sid
        });
        if !authenticated {
            return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        }
        if inner.fail_next > 0 {
            inner.fail_next -= 1;
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                20503,
                "Service Unavailable",
            );
        }
        let Ok(Form(form)) = form else {
            return error(
                StatusCode::BAD_REQUEST,
                21604,
                "A 'To' phone number is required.",
            );
        };
        let Some(to) = form.to.filter(|to| !to.is_empty()) else {
            return error(
                StatusCode::BAD_REQUEST,
                21604,
                "A 'To' phone number is required.",
            );
        };
        if !is_e164(&to) {
            return error(StatusCode::BAD_REQUEST, 21211, "Invalid 'To' Phone Number");
        }
        let Some(from) = form.from.filter(|from| is_e164(from)) else {
            return error(
                StatusCode::BAD_REQUEST,
                21603,
                "A 'From' phone number is required.",
            );
        };
        let Some(body) = form.body.filter(|body| !body.is_empty()) else {
            return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
        };
        let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
        if inner.log {
            tracing::info!(
                sid = %sid,
                account_sid = %account_sid,
                from = %from,
                "loopback SMS provider accepted a message"
            );
        }
        inner.accepted.push(AcceptedMessage {
            sid: sid.clone(),
            account_sid: account_sid.clone(),
            to: to.clone(),
            from: from.clone(),
            body: body.clone(),
        });
        let hang = inner.hang_next > 0;
        inner.hang_next = inner.hang_next.saturating_sub(1);
        if !hang {
            let resource = serde_json::json!({
                "sid": sid,
                "account_sid": account_sid,
                "to": to,
                "from": from,
                "body": body,
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": format!("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"),
            });
            return (StatusCode::CREATED, Json(resource)).into_response();
        }
    }
    // Accepted, and the answer never comes: until the provider stops.
    served.stop.cancelled().await;
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sids_are_checked_like_twilio() {
        assert!(is_e164("+15558675309"));
        assert!(!is_e164("15558675309"));
        assert!(!is_e164("+1555"));
        assert!(!is_e164("+1555867530x"));
        assert!(is_account_sid("AC0123456789abcdef0123456789abcdef"));
        assert!(!is_account_sid("AC0123"));
        assert!(!is_account_sid("SM0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn basic_credentials_are_parsed_or_refused() {
        let mut headers = HeaderMap::new();
        assert_eq!(basic_credentials(&headers), None);
        let encoded = base64::engine::general_purpose::STANDARD.encode("ACx:tok:en");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("ACx".to_owned(), "tok:en".to_owned()))
        );
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic_credentials(&headers), None);
    }
}
