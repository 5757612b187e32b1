//! What the authentication steps read from a request and the limits they
//! count it against: its headers as text, the client's address (for auth's
//! records and for the per-address rate-limit bucket), its request id, and
//! the rate limiter's verdict on a bucket.

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

/// The client address's limit, the first step for every caller, known or
/// not, so that floods of bad credentials are throttled.
pub(crate) async fn limit_address(parts: &Parts, gateway: &Gateway) -> Result<(), ApiError> {
    limit(
        gateway,
        &address_bucket(parts),
        gateway.config.per_address,
        "address",
    )
    .await
}

/// Checks `bucket` against `quota`; `kind` names the kind of bucket in the
/// metrics (`address`, `credential`), never the bucket itself.
pub(crate) async fn limit(
    gateway: &Gateway,
    bucket: &str,
    quota: Quota,
    kind: &'static str,
) -> Result<(), ApiError> {
    match gateway.limiter.check(bucket, quota).await {
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
