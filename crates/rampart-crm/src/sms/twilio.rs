//! Twilio's REST API for outbound messages: `POST
//! {api}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic
//! `AccountSid:AuthToken` and the form fields `To`, `From` and `Body`.
//! A `201` answers the message's resource (its `sid`, `SM…`, and
//! `status`); an error answers `{"code", "message", "more_info",
//! "status"}`.
//!
//! What an answer means for a retry is decided here, once:
//! - no connection (refused, no route, TLS failed, connect timed out), or
//!   `429`/`503`: nothing was created, [`SendError::Retryable`];
//! - another `4xx` (`400` invalid number, `401` bad credentials, `403`,
//!   `404` unknown account): [`SendError::Permanent`], with Twilio's error
//!   number;
//! - a timeout after the request went out, a connection lost mid-answer, a
//!   `5xx` other than `503`, or a `2xx` without a `sid`:
//!   [`SendError::Unknown`]. Twilio may have queued the message.
//!
//! Twilio's error `message` often quotes the number (`The 'To' number +1…
//! is not a valid phone number`), so it is neither kept nor logged: only
//! the status and the error number are.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rampart_kit::secret::ExposeSecret;
use serde::Deserialize;

use super::{Accepted, OutboundSms, SendError, SmsProvider};
use crate::store::TwilioAccount;

/// How long connecting may take; the whole call is bounded by the
/// settings' `request_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Twilio's REST API at a configured base URL.
#[derive(Debug, Clone)]
pub struct TwilioRest {
    api: reqwest::Url,
    client: reqwest::Client,
}

/// The part of a message resource the sender keeps.
#[derive(Deserialize)]
struct MessageResource {
    sid: Option<String>,
}

/// Twilio's error body.
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<u32>,
}

impl TwilioRest {
    /// A client of the API at `api` (`https://api.twilio.com`, or the
    /// loopback provider's `http://127.0.0.1:…`), each call bounded by
    /// `request_timeout`. Plain `http://` is refused except to a loopback
    /// address: the credentials travel in every request.
    pub fn new(api: &str, request_timeout: Duration) -> anyhow::Result<Self> {
        let api = reqwest::Url::parse(api)
            .map_err(|error| anyhow::anyhow!("the Twilio API URL {api:?}: {error}"))?;
        let loopback = api.host_str().is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        match api.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => anyhow::bail!(
                "the Twilio API URL must be https:// (or http:// to a loopback address)"
            ),
        }
        if api.cannot_be_a_base() || !api.username().is_empty() || api.password().is_some() {
            anyhow::bail!("the Twilio API URL must be a plain base URL");
        }
        Ok(Self {
            api,
            client: client(request_timeout)?,
        })
    }

    fn messages_url(&self, account_sid: &str) -> Result<reqwest::Url, SendError> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| permanent_local("the API URL cannot be a base"))?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", account_sid, "Messages.json"]);
        Ok(url)
    }
}

fn permanent_local(detail: &str) -> SendError {
    SendError::Permanent {
        status: None,
        code: None,
        detail: detail.to_owned(),
    }
}

/// The HTTP client: TLS on ring with the platform's roots (reqwest is
/// built without a provider of its own), no redirects (they would carry
/// the credentials elsewhere), no proxy from the environment.
fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    static TLS: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    let tls = TLS
        .get_or_init(|| {
            use rustls_platform_verifier::BuilderVerifierExt;
            Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_platform_verifier()
            .map_err(|error| error.to_string())?
            .with_no_client_auth())
        })
        .as_ref()
        .map_err(|error| anyhow::anyhow!("building the Twilio TLS client: {error}"))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls.clone())
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|error| anyhow::anyhow!("building the Twilio client: {error}"))
}

impl SmsProvider for TwilioRest {
    async fn send(
        &self,
        account: &TwilioAccount,
        sms: &OutboundSms,
    ) -> Result<Accepted, SendError> {
        let url = self.messages_url(&account.account_sid)?;
        let form = [
            ("To", sms.to.as_str()),
            ("From", account.phone_number.as_str()),
            ("Body", sms.body.as_str()),
        ];
        let sent = self
            .client
            .post(url)
            .basic_auth(
                &account.account_sid,
                Some(account.auth_token.expose_secret()),
            )
            .form(&form)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Err(transport_error(&error)),
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) if status.is_success() => {
                return Err(SendError::Unknown {
                    detail: format!("http {}: answer lost ({})", status.as_u16(), kind(&error)),
                });
            }
            // An error status is enough to classify the answer.
            Err(_) => Default::default(),
        };
        classify(status, &body)
    }
}

/// What a transport error means: before the request left (retry) or after
/// (unknown).
fn transport_error(error: &reqwest::Error) -> SendError {
    if error.is_connect() || error.is_builder() {
        SendError::Retryable {
            detail: format!("not connected ({})", kind(error)),
        }
    } else {
        SendError::Unknown {
            detail: format!("no answer ({})", kind(error)),
        }
    }
}

/// A transport error's kind, never its text (which may quote the URL).
fn kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else if error.is_request() {
        "request"
    } else {
        "other"
    }
}

/// An answer's meaning (see the module's doc).
fn classify(status: reqwest::StatusCode, body: &[u8]) -> Result<Accepted, SendError> {
    let code = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|error| error.code);
    let detail = match code {
        Some(code) => format!("http {}, twilio error {code}", status.as_u16()),
        None => format!("http {}", status.as_u16()),
    };
    if status.is_success() {
        let sid = serde_json::from_slice::<MessageResource>(body)
            .ok()
            .and_then(|message| message.sid)
            .filter(|sid| is_message_sid(sid));
        return sid
            .map(|provider_id| Accepted { provider_id })
            .ok_or_else(|| SendError::Unknown {
                detail: format!("{detail} without a message sid"),
            });
    }
    match status.as_u16() {
        429 | 503 => Err(SendError::Retryable { detail }),
        400..=499 => Err(SendError::Permanent {
            status: Some(status.as_u16()),
            code,
            detail,
        }),
        _ => Err(SendError::Unknown { detail }),
    }
}

/// `SM` or `MM` and 32 hex digits: what is stored as the provider id.
fn is_message_sid(sid: &str) -> bool {
    sid.len() == 34
        && (sid.starts_with("SM") || sid.starts_with("MM"))
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    const SID: &str = "SM0123456789abcdef0123456789abcdef";

    #[test]
    fn created_with_a_sid_is_accepted() {
        let body = format!(r#"{{"sid":"{SID}","status":"queued"}}"#);
        assert_eq!(
            classify(StatusCode::CREATED, body.as_bytes()),
            Ok(Accepted {
                provider_id: SID.to_owned()
            })
        );
    }

    #[test]
    fn created_without_a_usable_sid_is_unknown_not_retried() {
        for body in [&b"{}"[..], b"not json", br#"{"sid":"SM'; drop"}"#] {
            assert!(matches!(
                classify(StatusCode::CREATED, body),
                Err(SendError::Unknown { .. })
            ));
        }
    }

    #[test]
    fn throttled_and_unavailable_are_retryable() {
        let body = br#"{"code":20429,"message":"Too Many Requests","status":429}"#;
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, body),
            Err(SendError::Retryable { .. })
        ));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, b""),
            Err(SendError::Retryable { .. })
        ));
    }

    #[test]
    fn client_errors_are_permanent_with_the_error_number_and_no_message() {
        let body = br#"{"code":21211,"message":"The 'To' number +15558675309 is not a valid phone number.","status":400}"#;
        let Err(error) = classify(StatusCode::BAD_REQUEST, body) else {
            panic!("accepted");
        };
        assert_eq!(
            error,
            SendError::Permanent {
                status: Some(400),
                code: Some(21211),
                detail: "http 400, twilio error 21211".to_owned(),
            }
        );
        assert!(!error.to_string().contains("5558675309"));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, br#"{"code":20003}"#),
            Err(SendError::Permanent {
                status: Some(401),
                code: Some(20003),
                ..
            })
        ));
    }

    #[test]
    fn other_server_errors_are_unknown() {
        for status in [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::GATEWAY_TIMEOUT,
        ] {
            assert!(matches!(
                classify(status, b""),
                Err(SendError::Unknown { .. })
            ));
        }
    }

    #[test]
    fn the_api_url_must_be_https_or_loopback_http() {
        let timeout = Duration::from_secs(1);
        assert!(TwilioRest::new("https://api.twilio.com", timeout).is_ok());
        assert!(TwilioRest::new("http://127.0.0.1:4010", timeout).is_ok());
        assert!(TwilioRest::new("http://[::1]:4010", timeout).is_ok());
        assert!(TwilioRest::new("http://api.twilio.com", timeout).is_err());
        assert!(TwilioRest::new("http://10.0.0.1", timeout).is_err());
        assert!(TwilioRest::new("https://user:pw@api.twilio.com", timeout).is_err());
        assert!(TwilioRest::new("ftp://api.twilio.com", timeout).is_err());
        assert!(TwilioRest::new("not a url", timeout).is_err());
    }

    #[test]
    fn the_messages_url_keeps_the_base_path_and_escapes_the_sid() {
        let timeout = Duration::from_secs(1);
        let api = TwilioRest::new("https://api.twilio.com", timeout).unwrap();
        assert_eq!(
            api.messages_url("AC123").unwrap().as_str(),
            "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
        );
        let api = TwilioRest::new("http://127.0.0.1:9/base/", timeout).unwrap();
        assert_eq!(
            api.messages_url("AC/../x").unwrap().as_str(),
            "http://127.0.0.1:9/base/2010-04-01/Accounts/AC%2F..%2Fx/Messages.json"
        );
    }
}
