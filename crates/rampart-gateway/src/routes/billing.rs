//! A tenant's billing state: read and moved by platform admins, and moved
//! by the billing provider's signed webhook.
//!
//! Both moves go the same way: the CRM moves the billing state (its table
//! of allowed transitions, the `billing.state_changed` audit event, the
//! webhook's event id, all in one transaction), then auth sets the tenant's
//! access state from it and announces the tenant's revocation, so every
//! gateway drops the tenant's cached verdicts and the next request of a
//! suspended tenant is refused with a 403 (see [`crate::authn`]).
//!
//! The order is safe to break between the two calls: when auth cannot be
//! reached the route answers 503 and claims nothing. The CRM's side is
//! already recorded, and repeating the call converges: an admin asking for
//! the state the tenant is now in is a no-op for the CRM and sets auth
//! again; a redelivered webhook event is a replay for the CRM and sets auth
//! again. Auth's side is idempotent and re-announces every time.
//!
//! The webhook (`POST /v1/billing/webhook`) is authenticated by its
//! signature alone, in Stripe's shape: `Rampart-Billing-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the shared
//! secret from configuration, compared in constant time (ring's verify).
//! The signature is checked before anything else of the body is read, then
//! the timestamp must be within five minutes of this gateway's clock, so a
//! captured delivery cannot be replayed later; within the window the event
//! id makes a replay a no-op.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, Request, State};
use http::header;
use rampart_kit::error::ErrorCode;
use rampart_kit::principal::Principal;
use rampart_kit::secret::ExposeSecret;
use rampart_proto::auth::v1::SetTenantAccessRequest;
use rampart_proto::crm::v1 as crm;
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::authn::{AdminCaller, system_principal};
use crate::backends::call;
use crate::json_body::{JsonBody, MAX_JSON_DEPTH, json_depth_within};
use crate::problem::ApiError;

/// The webhook's signature header.
pub const SIGNATURE_HEADER: &str = "rampart-billing-signature";
/// How far a webhook's timestamp may be from this gateway's clock.
pub const SIGNATURE_TOLERANCE_SECS: u64 = 5 * 60;
/// The most `v1` values one header may carry (two cover a secret rotation):
/// each costs an HMAC over the whole body, so an unbounded list would let
/// one request buy many.
const MAX_SIGNATURES: usize = 4;
/// The audit actor of webhook-driven changes: `system:billing-webhook`.
const WEBHOOK_ACTOR: &str = "billing-webhook";

/// A tenant's billing state.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillingView {
    pub tenant_id: String,
    /// trial, active, past_due, suspended or canceled.
    pub state: String,
    /// Whether the tenant's keys and sessions are refused (suspended or
    /// canceled); its data is kept.
    pub access_suspended: bool,
    /// RFC 3339: when the state last changed.
    pub changed_at: String,
    /// Whether this call moved the state (absent on reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
    /// Whether this webhook event had been applied before (webhook only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
}

/// A state to move a tenant to.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingChange {
    /// trial, active, past_due, suspended or canceled.
    state: String,
    /// A short code (letters, digits, '_', '-', '.'), such as
    /// "payment_failed"; never personal data.
    reason: Option<String>,
}

/// A billing webhook event. Fields a provider adds are ignored (they are
/// still covered by the signature).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BillingEvent {
    /// The provider's event id; a redelivery carries the same.
    id: String,
    /// The provider's event type, for the provider's records only.
    #[serde(rename = "type")]
    #[allow(dead_code)]
    kind: Option<String>,
    tenant_id: String,
    /// The state the tenant moves to.
    state: String,
    reason: Option<String>,
}

/// `GET /v1/admin/tenants/{tenant_id}/billing`
#[utoipa::path(
    get,
    path = "/v1/admin/tenants/{tenant_id}/billing",
    tag = "admin",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)")),
    responses(
        (status = 200, description = "The tenant's billing state", body = BillingView),
        (status = 404, description = "No such tenant"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn get_billing(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
) -> Result<Json<BillingView>, ApiError> {
    let billing = call(
        &caller.principal,
        &gateway.backends.billing,
        crm::GetBillingStateRequest { tenant_id },
        async |mut billing, request| billing.get_billing_state(request).await,
    )
    .await?;
    Ok(Json(view(billing, None, None)))
}

/// `PUT /v1/admin/tenants/{tenant_id}/billing`
#[utoipa::path(
    put,
    path = "/v1/admin/tenants/{tenant_id}/billing",
    tag = "admin",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)")),
    request_body = BillingChange,
    responses(
        (status = 200, description = "The tenant's billing state after the change (asking for the current state changes nothing)", body = BillingView),
        (status = 400, description = "state or reason does not parse"),
        (status = 404, description = "No such tenant"),
        (status = 409, description = "The transition is not allowed; the detail names both states"),
        (status = 503, description = "Auth could not apply the tenant's access; the billing state may have moved; repeat the call"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn put_billing(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
    JsonBody(body): JsonBody<BillingChange>,
) -> Result<Json<BillingView>, ApiError> {
    let request = crm::TransitionBillingRequest {
        tenant_id,
        state: body.state,
        reason: body.reason.unwrap_or_default(),
        source: "admin".to_owned(),
        ..Default::default()
    };
    transition(&gateway, &caller.principal, request).await
}

/// `POST /v1/billing/webhook`
#[utoipa::path(
    post,
    path = "/v1/billing/webhook",
    tag = "admin",
    request_body = BillingEvent,
    params(("Rampart-Billing-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" under the shared webhook secret>")),
    responses(
        (status = 200, description = "Applied, or a redelivery of an applied event (replayed)", body = BillingView),
        (status = 400, description = "The body is not a billing event"),
        (status = 401, description = "Missing or bad signature, or a timestamp more than five minutes off"),
        (status = 404, description = "No such tenant"),
        (status = 409, description = "The transition is not allowed, or the event id was used for a different event"),
        (status = 503, description = "The webhook is not configured, or a backend is down; deliver again"),
    ),
)]
pub async fn webhook(
    State(gateway): State<Arc<Gateway>>,
    request: Request,
) -> Result<Json<BillingView>, ApiError> {
    let Some(secret) = &gateway.config.billing_webhook_secret else {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "the billing webhook is not configured",
        ));
    };
    let (parts, body) = request.into_parts();
    let signature = parts
        .headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| ApiError::unauthenticated("send the Rampart-Billing-Signature header"))?
        .to_str()
        .map_err(|_| bad_signature())?;
    let body = read_body(&gateway, &parts.headers, body).await?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
    check_signature(&key, signature, &body, unix_now())?;
    let event = parse_event(&body)?;
    let fingerprint =
        rampart_kit::secret::hex(ring::digest::digest(&ring::digest::SHA256, &body).as_ref());
    let principal = system_principal(&parts, WEBHOOK_ACTOR);
    let request = crm::TransitionBillingRequest {
        tenant_id: event.tenant_id,
        state: event.state,
        reason: event.reason.unwrap_or_default(),
        source: "webhook".to_owned(),
        event_id: event.id,
        event_fingerprint: fingerprint,
    };
    transition(&gateway, &principal, request).await
}

/// The CRM's move, then auth's access state; see the module documentation
/// for why this order is safe to interrupt.
async fn transition(
    gateway: &Gateway,
    principal: &Principal,
    request: crm::TransitionBillingRequest,
) -> Result<Json<BillingView>, ApiError> {
    let moved = call(
        principal,
        &gateway.backends.billing,
        request,
        async |mut billing, request| billing.transition_billing(request).await,
    )
    .await?;
    let billing = moved
        .billing
        .ok_or_else(|| ApiError::internal("crm answered a transition without its state"))?;
    call(
        principal,
        &gateway.backends.auth,
        SetTenantAccessRequest {
            tenant_id: billing.tenant_id.clone(),
            suspended: billing.access_suspended,
            billing_state: billing.state.clone(),
        },
        async |mut auth, request| auth.set_tenant_access(request).await,
    )
    .await
    .map_err(|error| {
        tracing::warn!(
            tenant_id = %billing.tenant_id,
            state = %billing.state,
            detail = %error.detail,
            "billing state recorded but the tenant's access is not applied yet"
        );
        // Whatever auth said, the caller must repeat the call.
        ApiError::new(
            ErrorCode::Unavailable,
            "the billing state is recorded but the tenant's access could not be applied; repeat the request",
        )
    })?;
    Ok(Json(view(
        billing,
        Some(moved.changed),
        Some(moved.replayed),
    )))
}

fn view(billing: crm::BillingState, changed: Option<bool>, replayed: Option<bool>) -> BillingView {
    BillingView {
        tenant_id: billing.tenant_id,
        state: billing.state,
        access_suspended: billing.access_suspended,
        changed_at: billing.changed_at,
        changed,
        replayed,
    }
}

fn bad_signature() -> ApiError {
    ApiError::unauthenticated("the Rampart-Billing-Signature does not verify")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The body, as JSON within the gateway's size limit: the exact bytes the
/// signature covers.
async fn read_body(
    gateway: &Gateway,
    headers: &http::HeaderMap,
    body: axum::body::Body,
) -> Result<Vec<u8>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::unsupported_media_type());
    }
    let limit = gateway.config.body_limit;
    axum::body::to_bytes(body, limit)
        .await
        .map(|bytes| bytes.to_vec())
        .map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body must be at most {limit} bytes"),
            )
        })
}

/// Checks `t=<unix>,v1=<hex>` against `body` at `now`: the HMAC first (in
/// constant time), then the timestamp's distance from `now`.
pub fn check_signature(
    key: &hmac::Key,
    header: &str,
    body: &[u8],
    now: u64,
) -> Result<(), ApiError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value),
            Some(("v1", value)) => signatures.push(value),
            // Other schemes (a provider's v0, say) are not ours.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(bad_signature)?;
    if signatures.len() > MAX_SIGNATURES {
        return Err(bad_signature());
    }
    let seconds: u64 = timestamp.parse().map_err(|_| bad_signature())?;
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    // Several v1 values let a provider sign with an old and a new secret
    // while the secret is rotated.
    let verified = signatures
        .iter()
        .any(|hex| decode_hex(hex).is_some_and(|tag| hmac::verify(key, &signed, &tag).is_ok()));
    if !verified {
        return Err(bad_signature());
    }
    if seconds.abs_diff(now) > SIGNATURE_TOLERANCE_SECS {
        return Err(ApiError {
            title: "Stale signature",
            slug: "stale-signature",
            ..ApiError::unauthenticated(
                "the Rampart-Billing-Signature timestamp is more than five minutes from now; deliver the event again",
            )
        });
    }
    Ok(())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn parse_event(body: &[u8]) -> Result<BillingEvent, ApiError> {
    if !json_depth_within(body, MAX_JSON_DEPTH) {
        return Err(ApiError::invalid(format!(
            "the JSON body nests deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::invalid(format!("invalid billing event: {error}")))
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"whsec_test")
    }

    fn sign(at: u64, body: &[u8]) -> String {
        let mut signed = format!("{at}.").into_bytes();
        signed.extend_from_slice(body);
        let tag = hmac::sign(&key(), &signed);
        format!("t={at},v1={}", rampart_kit::secret::hex(tag.as_ref()))
    }

    #[test]
    fn a_good_signature_within_the_window_passes() {
        let body = br#"{"id":"evt_1"}"#;
        assert!(check_signature(&key(), &sign(NOW, body), body, NOW).is_ok());
        assert!(check_signature(&key(), &sign(NOW - 299, body), body, NOW).is_ok());
        assert!(check_signature(&key(), &sign(NOW + 299, body), body, NOW).is_ok());
    }

    #[test]
    fn more_signatures_than_a_rotation_needs_are_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(NOW, body);
        let padded = format!("{good}{}", ",v1=00".repeat(MAX_SIGNATURES));
        assert!(check_signature(&key(), &padded, body, NOW).is_err());
        let few = format!("{good}{}", ",v1=00".repeat(MAX_SIGNATURES - 1));
        assert!(check_signature(&key(), &few, body, NOW).is_ok());
    }

    #[test]
    fn a_changed_body_or_timestamp_or_secret_fails() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(NOW, body);
        let error = check_signature(&key(), &header, br#"{"id":"evt_2"}"#, NOW).unwrap_err();
        assert_eq!(error.status, StatusCode::UNAUTHORIZED);
        assert_eq!(error.slug, "unauthenticated");
        let moved = header.replace(&format!("t={NOW}"), &format!("t={}", NOW + 1));
        assert!(check_signature(&key(), &moved, body, NOW).is_err());
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"another secret");
        assert!(check_signature(&other, &header, body, NOW).is_err());
        for malformed in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert!(
                check_signature(&key(), malformed, body, NOW).is_err(),
                "{malformed}"
            );
        }
    }

    #[test]
    fn a_stale_timestamp_is_refused_with_its_own_title() {
        let body = b"{}";
        for at in [NOW - 301, NOW + 301] {
            let error = check_signature(&key(), &sign(at, body), body, NOW).unwrap_err();
            assert_eq!(error.status, StatusCode::UNAUTHORIZED);
            assert_eq!(error.title, "Stale signature");
        }
    }
}
