//! What the authentication steps read from a request and the limits they
//! count it against: its headers as text, the client's address (for auth's
//! records and for the per-address rate-limit bucket), its request id, and
//! the rate limiter's verdict on a bucket.
//!
//! The shared limiter fails closed, with one exception: the routes that
//! revoke ([`REVOCATION_ROUTES`]). Containment must never wait for a cache,
//! so while the shared limiter (Redis) is away those routes are counted by
//! this process's own limiter instead, and go on to auth and its database.
//! They stay limited and authenticated; only where they are counted changes.

use axum::extract::MatchedPath;
use http::Method;
use http::request::Parts;
use rampart_kit::error::ErrorCode;
use rampart_kit::rate_limit::{Decision, Quota};

use crate::Gateway;
use crate::pipeline::ClientAddr;
use crate::problem::{ApiError, RequestId};

/// A header as text; present but not visible ASCII is a client error.
pub(crate) fn header<'a>(parts: &'a Parts, name: &str) -> Result<Option<&'a str>, ApiError> {
    parts
        .headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::invalid(format!("the {name} header is not valid text")))
        })
        .transpose()
}

/// The client's IP address as text, as auth records it.
pub(crate) fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ClientAddr>()
        .map_or_else(|| "unknown".to_owned(), |addr| addr.0.ip().to_string())
}

/// The client's IP address for a principal: empty when unknown.
pub(crate) fn principal_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ClientAddr>()
        .map(|addr| addr.0.ip().to_string())
        .unwrap_or_default()
}

/// The id the pipeline gave this request.
pub(crate) fn request_id(parts: &Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default()
}

/// The rate-limit bucket of the client's address.
pub(crate) fn address_bucket(parts: &Parts) -> String {
    parts.extensions.get::<ClientAddr>().map_or_else(
        || "addr:unknown".to_owned(),
        |addr| format!("addr:{}", addr.0.ip()),
    )
}

/// The routes (method and template) that revoke credentials or contain an
/// incident: they reach auth while the shared rate limiter is away.
pub(crate) const REVOCATION_ROUTES: [(Method, &str); 9] = [
    (Method::DELETE, "/v1/admin/api-keys/{key_id}"),
    (
        Method::DELETE,
        "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}",
    ),
    (Method::POST, "/v1/admin/users/{user_id}/revoke-sessions"),
    (Method::POST, "/v1/users/{user_id}/revoke-sessions"),
    (Method::DELETE, "/v1/api-keys/{key_id}"),
    (Method::DELETE, "/v1/auth/sessions/{session_id}"),
    (Method::POST, "/v1/auth/sessions/revoke-all"),
    (Method::POST, "/v1/admin/incidents"),
    (Method::POST, "/v1/admin/incidents/{incident_id}/restore"),
];

/// Whether the request is for one of the [`REVOCATION_ROUTES`]; matched on
/// the route template, so no path trick can claim it.
pub(crate) fn is_revocation_route(parts: &Parts) -> bool {
    let Some(template) = parts.extensions.get::<MatchedPath>() else {
        return false;
    };
    REVOCATION_ROUTES
        .iter()
        .any(|(method, route)| parts.method == *method && template.as_str() == *route)
}

/// The client address's limit, the first step for every caller, known or
/// not, so that floods of bad credentials are throttled.
pub(crate) async fn limit_address(parts: &Parts, gateway: &Gateway) -> Result<(), ApiError> {
    limit(
        parts,
        gateway,
        &address_bucket(parts),
        gateway.config.per_address,
        "address",
    )
    .await
}

/// Checks `bucket` against `quota`; `kind` names the kind of bucket in the
/// metrics (`address`, `credential`), never the bucket itself. On a
/// revocation route ([`is_revocation_route`]) an unreachable shared limiter
/// gives way to this process's own.
pub(crate) async fn limit(
    parts: &Parts,
    gateway: &Gateway,
    bucket: &str,
    quota: Quota,
    kind: &'static str,
) -> Result<(), ApiError> {
    let decision = match gateway.limiter.check(bucket, quota).await {
        Err(error) if is_revocation_route(parts) => {
            tracing::warn!(
                error = %format!("{error:#}"),
                "rate limiter unavailable; a revocation is counted by this process"
            );
            gateway.local_limiter.check(bucket, quota).await
        }
        decision => decision,
    };
    match decision {
        Ok(Decision::Allowed) => {
            gateway.metrics.rate_limit(true, kind);
            Ok(())
        }
        Ok(Decision::Limited { retry_after }) => {
            gateway.metrics.rate_limit(false, kind);
            // Held, so that a client looping on refusals is slowed to the
            // pace of its own limit instead of costing the edge a request's
            // work per loop (see `Config::refusal_hold`).
            tokio::time::sleep(retry_after.min(gateway.config.refusal_hold)).await;
            Err(ApiError::rate_limited(retry_after))
        }
        Err(error) => {
            // Fail closed: without the limiter there is no limit to trust.
            tracing::error!(error = %format!("{error:#}"), "rate limiter unavailable");
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "the service is temporarily unavailable; retry later",
            ))
        }
    }
}
