//! Twilio's webhooks: `POST /v1/telephony/twilio/sms` and
//! `POST /v1/telephony/twilio/voice`.
//!
//! No API key: a webhook is authenticated by its `X-Twilio-Signature`,
//! which only the CRM can check (the auth token is the called number's
//! channel's, sealed in the CRM). The edge does what only it can, and
//! nothing more:
//! - the address's rate limit (the same as for any caller) and the body
//!   limit;
//! - the content type: a form, or JSON (Twilio's `bodySHA256` variant);
//! - the URL the signature covers: the configured public URL, the request's
//!   path, and `?` with its raw query when it has one. Never the `Host`
//!   header, which the caller writes. Without a public URL every webhook is
//!   refused (503): there is no URL a signature could be checked against.
//!
//! It then forwards the raw body, that URL and the signature to the CRM's
//! `TelephonyService` as `system:twilio-webhook`, and answers its TwiML.
//! The CRM's refusals pass through: one 401 for an unknown number, a bad
//! signature and a foreign account alike; a redelivery is a 409 of its own
//! type, `replayed`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use rampart_kit::error::ErrorCode;
use rampart_proto::crm::v1::TwilioWebhookRequest;

use crate::Gateway;
use crate::authn::{Anonymous, system_principal};
use crate::backends::call;
use crate::problem::ApiError;

/// The audit actor of webhook-driven changes: `system:twilio-webhook`.
const WEBHOOK_ACTOR: &str = "twilio-webhook";
/// Twilio's signature header.
const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// `POST /v1/telephony/twilio/sms`
#[utoipa::path(
    post,
    path = "/v1/telephony/twilio/sms",
    tag = "telephony",
    request_body(content_type = "application/x-www-form-urlencoded", description = "Twilio's SMS webhook parameters (To, From, Body, MessageSid, AccountSid, ...), or JSON with bodySHA256 in the URL"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's HMAC-SHA1 of the public URL and the sorted parameters, under the number's auth token")),
    responses(
        (status = 200, description = "TwiML (text/xml): an opt-out keyword's confirmation, the help text, or an empty response", content_type = "text/xml", body = String),
        (status = 400, description = "The body is not a Twilio webhook"),
        (status = 401, description = "Unknown number, missing or bad signature, or an account that is not the number's (one answer for all)"),
        (status = 409, description = "A redelivery of a message already handled (type replayed); nothing changed"),
        (status = 413, description = "The body is larger than the edge accepts"),
        (status = 415, description = "Not a form or JSON"),
        (status = 503, description = "No public URL is configured, or the CRM is down"),
    ),
)]
pub async fn sms(
    State(gateway): State<Arc<Gateway>>,
    _limited: Anonymous,
    request: Request,
) -> Result<Response, ApiError> {
    forward(&gateway, "sms", request).await
}

/// `POST /v1/telephony/twilio/voice`
#[utoipa::path(
    post,
    path = "/v1/telephony/twilio/voice",
    tag = "telephony",
    request_body(content_type = "application/x-www-form-urlencoded", description = "Twilio's voice webhook parameters (To, From, CallSid, AccountSid, Digits, RecordingUrl, ...); `?step=consent` or `?step=recording` for the call's later steps"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's HMAC-SHA1 of the public URL and the sorted parameters, under the number's auth token")),
    responses(
        (status = 200, description = "TwiML (text/xml): the greeting, or the recording announcement with the consent question or the recording", content_type = "text/xml", body = String),
        (status = 400, description = "The body is not a Twilio webhook, or names a call this number did not answer"),
        (status = 401, description = "Unknown number, missing or bad signature, or an account that is not the number's (one answer for all)"),
        (status = 409, description = "A redelivery of a call step already handled (type replayed); nothing changed"),
        (status = 413, description = "The body is larger than the edge accepts"),
        (status = 415, description = "Not a form or JSON"),
        (status = 503, description = "No public URL is configured, or the CRM is down"),
    ),
)]
pub async fn voice(
    State(gateway): State<Arc<Gateway>>,
    _limited: Anonymous,
    request: Request,
) -> Result<Response, ApiError> {
    forward(&gateway, "voice", request).await
}

async fn forward(gateway: &Gateway, channel: &str, request: Request) -> Result<Response, ApiError> {
    let Some(public_url) = &gateway.config.public_url else {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "telephony webhooks need the edge's public URL, which is not configured",
        ));
    };
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !is_twilio_media_type(&content_type) {
        return Err(ApiError {
            detail: "the body must be application/x-www-form-urlencoded or application/json".into(),
            ..ApiError::unsupported_media_type()
        });
    }
    // A header that is not text cannot be a signature: sent as absent.
    let signature = parts
        .headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let limit = gateway.config.body_limit;
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body must be at most {limit} bytes"),
        )
    })?;
    let url = signed_url(public_url, parts.uri.path(), parts.uri.query());
    let principal = system_principal(&parts, WEBHOOK_ACTOR);
    let answer = call(
        &principal,
        &gateway.backends.telephony,
        TwilioWebhookRequest {
            channel: channel.to_owned(),
            url,
            signature,
            content_type,
            body: body.to_vec(),
        },
        async |mut telephony, request| telephony.twilio_webhook(request).await,
    )
    .await
    .map_err(replayed_or)?;
    let mut response = (StatusCode::OK, answer.twiml).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    Ok(response)
}

/// The URL Twilio signed: the public URL (without a trailing `/`), the
/// path, and the raw query as received.
fn signed_url(public_url: &str, path: &str, query: Option<&str>) -> String {
    let base = public_url.trim_end_matches('/');
    match query {
        Some(query) => format!("{base}{path}?{query}"),
        None => format!("{base}{path}"),
    }
}

fn is_twilio_media_type(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        || media_type.eq_ignore_ascii_case("application/json")
}

/// The CRM's ALREADY_EXISTS for a webhook is a replay: a 409 of its own
/// type, so a provider's dashboard shows what happened.
fn replayed_or(error: ApiError) -> ApiError {
    if error.status == StatusCode::CONFLICT && error.slug == ErrorCode::AlreadyExists.slug() {
        return ApiError {
            slug: "replayed",
            title: "Replayed",
            ..error
        };
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_url_is_the_public_urls_with_the_raw_query() {
        assert_eq!(
            signed_url("https://hooks.example/", "/v1/telephony/twilio/voice", None),
            "https://hooks.example/v1/telephony/twilio/voice"
        );
        assert_eq!(
            signed_url(
                "https://hooks.example:8443",
                "/v1/telephony/twilio/voice",
                Some("step=consent&x=%20")
            ),
            "https://hooks.example:8443/v1/telephony/twilio/voice?step=consent&x=%20"
        );
    }

    /// A gateway without a public URL, whose backends are unreachable.
    fn router_without_public_url() -> axum::Router {
        let pki = rampart_kit::testing::TestPki::generate();
        let tls = pki
            .load_service(rampart_kit::pki::ServiceName::Gateway)
            .unwrap();
        let closed = "https://127.0.0.1:9".to_owned();
        let urls = crate::BackendUrls {
            auth: closed.clone(),
            crm: closed.clone(),
            escalation: closed.clone(),
            audit: closed,
        };
        let gateway = Gateway::new(
            crate::Config::default(),
            crate::Backends::connect(&urls, &tls).unwrap(),
            rampart_kit::rate_limit::RateLimiter::memory(),
            rampart_kit::revocation::RevocationBus::in_process(),
        );
        super::super::router(gateway)
    }

    #[tokio::test]
    async fn without_a_public_url_every_webhook_is_refused() {
        use tower::ServiceExt;
        let router = router_without_public_url();
        for path in ["/v1/telephony/twilio/sms", "/v1/telephony/twilio/voice"] {
            let request = http::Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "attacker.example")
                .body(axum::body::Body::from("To=%2B14155550100"))
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        }
    }

    #[test]
    fn only_forms_and_json_are_forwarded() {
        assert!(is_twilio_media_type("application/x-www-form-urlencoded"));
        assert!(is_twilio_media_type("Application/JSON; charset=utf-8"));
        assert!(!is_twilio_media_type("text/plain"));
        assert!(!is_twilio_media_type(""));
    }

    #[test]
    fn already_exists_becomes_replayed() {
        let error = replayed_or(ApiError::new(ErrorCode::AlreadyExists, "seen"));
        assert_eq!(error.slug, "replayed");
        assert_eq!(error.status, StatusCode::CONFLICT);
        let other = replayed_or(ApiError::new(ErrorCode::StateConflict, "x"));
        assert_ne!(other.slug, "replayed");
    }
}
