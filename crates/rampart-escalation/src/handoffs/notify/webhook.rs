//! The signed webhook: a JSON POST with `Rampart-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` and
//! `Rampart-Event-Id: <notification id>`.
//!
//! The timestamp is signed with the body so a receiver can refuse a
//! replayed request ([`verify_signature`] with a tolerance); the event id
//! lets it ignore a resend of one it already took (delivery is at least
//! once).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ring::hmac;

use super::Failure;

/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

pub const SIGNATURE_HEADER: &str = "Rampart-Signature";
pub const EVENT_ID_HEADER: &str = "Rampart-Event-Id";

/// The `Rampart-Signature` value for `body` signed at `at`.
#[must_use]
pub fn sign(secret: &str, body: &str, at: DateTime<Utc>) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let t = at.timestamp();
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", super::hex(tag.as_ref()))
}

/// Why a webhook request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Expired,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a `Rampart-Signature` header against the body received, for a
/// receiver: the HMAC must match (compared in constant time) and its
/// timestamp be within `tolerance` of `now`, either way, so an old request
/// replayed is refused.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => {
                signatures.push(super::unhex(value, 64).ok_or(SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.timestamp().abs_diff(timestamp) > tolerance.unsigned_abs() {
        return Err(SignatureError::Expired);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    // Several v1 values let a receiver accept the old and the new secret's
    // signature during a rotation.
    if signatures
        .iter()
        .any(|tag| hmac::verify(&key, &signed, tag).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// One HTTP client for every delivery: TLS on ring with the platform's
/// roots, as reqwest is built without a provider of its own.
fn client() -> Result<&'static reqwest::Client, Failure> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            use rustls_platform_verifier::BuilderVerifierExt;
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_platform_verifier()
            .map_err(|error| error.to_string())?
            .with_no_client_auth();
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .timeout(TIMEOUT)
                // A redirect would send the signed event somewhere the
                // tenant did not configure.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| Failure::permanent(format!("building the webhook client: {error}")))
}

/// Whether `url` may receive events: `https://`, or `http://` to a
/// loopback address (development). The policy checks this when it is
/// written; checking again here keeps a stored URL from ever sending a
/// signed event in the clear across a network.
fn allowed(url: &reqwest::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(super::email::is_loopback),
        _ => false,
    }
}

/// POSTs `body` to `url`, signed; a 2xx answer is a delivery.
pub(crate) async fn post(
    url: &str,
    secret: &str,
    event_id: &str,
    body: &str,
) -> Result<(), Failure> {
    let url = reqwest::Url::parse(url)
        .ok()
        .filter(allowed)
        .ok_or_else(|| Failure::permanent("the webhook URL must be https (or http to loopback)"))?;
    let response = client()?
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sign(secret, body, Utc::now()))
        .header(EVENT_ID_HEADER, event_id)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|error| Failure::retry(format!("webhook request failed: {error}")))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::retry(format!("webhook answered {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-webhook-secret-of-at-least-32-chars";
    const WINDOW: Duration = Duration::from_secs(300);

    #[test]
    fn webhooks_go_over_https_or_to_loopback_only() {
        for (url, ok) in [
            ("https://hooks.example.com/x", true),
            ("http://127.0.0.1:8080/x", true),
            ("http://localhost/x", true),
            ("http://[::1]:9/x", true),
            ("http://hooks.example.com/x", false),
            ("http://10.0.0.1/x", false),
            ("ftp://127.0.0.1/x", false),
        ] {
            assert_eq!(allowed(&reqwest::Url::parse(url).unwrap()), ok, "{url}");
        }
    }

    #[test]
    fn a_signature_verifies_and_tampering_does_not() {
        let now = Utc::now();
        let body = r#"{"event":"handoff.opened"}"#;
        let header = sign(SECRET, body, now);
        assert_eq!(
            verify_signature(SECRET, &header, body.as_bytes(), now, WINDOW),
            Ok(())
        );
        assert_eq!(
            verify_signature("another-secret", &header, body.as_bytes(), now, WINDOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(SECRET, &header, b"{}", now, WINDOW),
            Err(SignatureError::Mismatch)
        );
        let later = now + chrono::Duration::seconds(301);
        assert_eq!(
            verify_signature(SECRET, &header, body.as_bytes(), later, WINDOW),
            Err(SignatureError::Expired)
        );
        for junk in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz"] {
            assert_eq!(
                verify_signature(SECRET, junk, body.as_bytes(), now, WINDOW),
                Err(SignatureError::Malformed),
                "{junk}"
            );
        }
    }
}
