//! Inbound telephony (issue 24, parts 1, 2 and 4): Twilio's SMS and voice
//! webhooks, verified against the called number's channel, turned into
//! conversations, opt-out changes and call records.
//!
//! The gateway forwards each webhook untouched (its raw body, the public
//! URL it was made to, the signature header) with its own
//! `system:twilio-webhook` principal; every decision is made here, in this
//! order:
//!
//! 1. The body is read as Twilio sends it (a form, or JSON whose URL
//!    carries `bodySHA256`); anything else is INVALID_ARGUMENT.
//! 2. The tenant is the called number's (`To`): the one `twilio` channel
//!    with that number, whoever's it is. Nothing else in the request can
//!    name a tenant.
//! 3. The signature is verified with that channel's auth token, and the
//!    request's `AccountSid` must be the channel's. An unknown number, a
//!    missing or wrong signature and a foreign account all answer the same
//!    UNAUTHENTICATED, and an unknown number costs the same HMACs (under a
//!    throwaway key), so neither the answer nor its timing tells a caller
//!    which numbers are connected.
//! 4. The request's key (its MessageSid, or its CallSid and step) must not
//!    have been handled within [`receipts::REPLAY_WINDOW`]: a redelivery is
//!    ALREADY_EXISTS and changes nothing (see [`receipts`] for how a
//!    failed effect stays redeliverable).
//! 5. [`sms`] or [`voice`] does the work and answers the TwiML.

pub mod receipts;
pub mod sms;
pub mod voice;

use rampart_kit::outbox::Outbox;
use rampart_kit::principal::Principal;
use rampart_kit::secret::ExposeSecret;
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::telephony_service_server::TelephonyService;
use rampart_telephony::twilio_signature::{self, FormError};
use sea_orm::DatabaseConnection;
use subtle::ConstantTimeEq;
use tonic::{Request, Response, Status};

use crate::Error;
use crate::domain::{E164Number, InvalidInput};
use crate::gate::Escalation;
use crate::store::{DataScope, TwilioAccount, find_twilio_channel, twilio_account};
use crate::vault::Vault;

/// The gateway's principal for Twilio's webhooks: `system:twilio-webhook`.
pub const WEBHOOK_CREDENTIAL: &str = "system:twilio-webhook";

/// The most bytes of body this service reads (the gateway's limit is
/// smaller; this is the CRM's own bound).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Which of the edge's two routes a webhook came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    Sms,
    Voice,
}

/// A webhook that verified: the channel's account, its tenant and mode,
/// and the request's parameters.
pub struct Verified {
    pub account: TwilioAccount,
    pub scope: DataScope,
    /// The form's parameters (or the JSON body's top-level fields).
    pub params: Vec<(String, String)>,
    /// The URL the signature covered, for building the next step's URL.
    pub url: String,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Verified {
    /// The first value of parameter `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The TelephonyService implementation.
#[derive(Debug, Clone)]
pub struct TelephonyApi {
    db: DatabaseConnection,
    outbox: Outbox,
    vault: Vault,
    escalation: Escalation,
    /// The key an unknown number's signature is checked under, so its
    /// refusal costs what a known number's does. Random per process and
    /// never used for anything else.
    throwaway_key: [u8; 32],
}

impl TelephonyApi {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        vault: Vault,
        escalation: Escalation,
    ) -> Self {
        let mut throwaway_key = [0_u8; 32];
        // Should the system's generator fail, the key is still one nobody
        // holds a signature for: the refusal stands either way.
        let _ =
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut throwaway_key);
        Self {
            db,
            outbox,
            vault,
            escalation,
            throwaway_key,
        }
    }

    /// Steps 1 to 3 of the module documentation.
    async fn verify(&self, request: &proto::TwilioWebhookRequest) -> Result<Verified, Error> {
        let body = Body::read(&request.content_type, &request.body)?;
        let params = body.params()?;
        let signature = (!request.signature.is_empty()).then_some(request.signature.as_str());
        // The called number; one that does not parse is unknown.
        let channel = match param(&params, "To").map(E164Number::parse) {
            Some(Ok(number)) => find_twilio_channel(&self.db, number.as_str()).await?,
            _ => None,
        };
        let Some(row) = channel else {
            // The same MACs a known number costs, under a key nobody has.
            let _ = body.verify(&self.throwaway_key, &request.url, &params, signature);
            return Err(Error::WebhookRefused);
        };
        let account = twilio_account(&self.db, &self.vault, &row).await?;
        let verified = body.verify(
            account.auth_token.expose_secret().as_bytes(),
            &request.url,
            &params,
            signature,
        );
        let sid_matches = param(&params, "AccountSid")
            .is_some_and(|sid| bool::from(sid.as_bytes().ct_eq(account.account_sid.as_bytes())));
        if verified.is_err() || !sid_matches {
            tracing::info!(
                channel_id = %account.channel_id,
                reason = ?verified.err(),
                sid_matches,
                "twilio webhook refused"
            );
            return Err(Error::WebhookRefused);
        }
        let scope = DataScope {
            tenant_id: account.tenant_id.clone(),
            mode: account.mode,
        };
        Ok(Verified {
            account,
            scope,
            params,
            url: request.url.clone(),
        })
    }
}

/// A webhook's body, by its content type.
enum Body<'a> {
    Form(&'a [u8]),
    Json(&'a [u8]),
}

impl<'a> Body<'a> {
    fn read(content_type: &str, body: &'a [u8]) -> Result<Self, Error> {
        if body.len() > MAX_BODY_BYTES {
            return Err(InvalidInput::new("body", "must be at most 64 KiB").into());
        }
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media_type.as_str() {
            "application/x-www-form-urlencoded" => Ok(Self::Form(body)),
            "application/json" => Ok(Self::Json(body)),
            _ => Err(InvalidInput::new(
                "content_type",
                "must be application/x-www-form-urlencoded or application/json",
            )
            .into()),
        }
    }

    fn params(&self) -> Result<Vec<(String, String)>, Error> {
        match self {
            Self::Form(body) => twilio_signature::parse_form(body).map_err(|error| {
                let problem = match error {
                    FormError::TooManyParams => "has too many parameters",
                    FormError::NotUtf8 => "is not UTF-8 once decoded",
                };
                InvalidInput::new("body", problem).into()
            }),
            Self::Json(body) => {
                let malformed = || InvalidInput::new("body", "must be a JSON object");
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(body).map_err(|_| malformed())?;
                if object.len() > twilio_signature::MAX_FORM_PARAMS {
                    return Err(InvalidInput::new("body", "has too many parameters").into());
                }
                Ok(object
                    .into_iter()
                    .map(|(name, value)| match value {
                        serde_json::Value::String(text) => (name, text),
                        other => (name, other.to_string()),
                    })
                    .collect())
            }
        }
    }

    fn verify(
        &self,
        token: &[u8],
        url: &str,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> Result<(), twilio_signature::SignatureError> {
        match self {
            Self::Form(_) => twilio_signature::verify_form(token, url, params, signature),
            Self::Json(body) => twilio_signature::verify_json(token, url, body, signature),
        }
    }
}

#[tonic::async_trait]
impl TelephonyService for TelephonyApi {
    async fn twilio_webhook(
        &self,
        request: Request<proto::TwilioWebhookRequest>,
    ) -> Result<Response<proto::TwilioWebhookResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        if principal.credential_id != WEBHOOK_CREDENTIAL {
            return Err(Status::permission_denied(
                "only the gateway's twilio webhook may call this service",
            ));
        }
        let request = request.into_inner();
        let kind = match request.channel.as_str() {
            "sms" => WebhookKind::Sms,
            "voice" => WebhookKind::Voice,
            _ => return Err(InvalidInput::new("channel", "must be sms or voice").into()),
        };
        let verified = self.verify(&request).await?;
        let twiml = match kind {
            WebhookKind::Sms => sms::handle(self, &principal, &verified).await?,
            WebhookKind::Voice => voice::handle(self, &verified).await?,
        };
        Ok(Response::new(proto::TwilioWebhookResponse { twiml }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_twilio_content_types_are_read() {
        assert!(matches!(
            Body::read("application/x-www-form-urlencoded; charset=utf-8", b"a=1"),
            Ok(Body::Form(_))
        ));
        assert!(matches!(
            Body::read("Application/JSON", b"{}"),
            Ok(Body::Json(_))
        ));
        for other in ["", "text/plain", "multipart/form-data; boundary=x"] {
            assert!(Body::read(other, b"a=1").is_err(), "{other}");
        }
        assert!(Body::read("application/json", &vec![b' '; MAX_BODY_BYTES + 1]).is_err());
    }

    #[test]
    fn json_bodies_read_their_top_level_fields() {
        let body = br#"{"To": "+14155550100", "NumMedia": 0}"#;
        let params = Body::Json(body).params().unwrap();
        assert_eq!(param(&params, "To"), Some("+14155550100"));
        assert_eq!(param(&params, "NumMedia"), Some("0"));
        assert!(Body::Json(b"[1]").params().is_err());
        assert!(Body::Form(b"a=%ff").params().is_err());
    }
}
