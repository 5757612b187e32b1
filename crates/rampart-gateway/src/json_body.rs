//! The JSON body a handler reads, and what it may ask of the gateway.
//!
//! [`JsonBody`] checks, in order: the content type, the size (bounded by
//! [`crate::Config::body_limit`], before and while reading), the nesting
//! depth, then the shape. Nesting is bounded before the parser runs, so that
//! no request body can make the gateway recurse deeply. serde_json's own
//! recursion limit (128) would also stop it, but no Rampart request needs
//! more than a few levels, and a tighter, explicit limit gives a clear error.

use std::sync::Arc;

use axum::extract::{FromRequest, OptionalFromRequest, Request};
use http::header;
use rampart_kit::error::ErrorCode;
use serde::de::DeserializeOwned;

use crate::Gateway;
use crate::problem::ApiError;

/// A JSON body: `Content-Type: application/json`, within the size limit,
/// well formed, of the expected shape. Each failure is a problem response
/// that says which.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<Gateway>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, gateway: &Arc<Gateway>) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::unsupported_media_type());
        }
        let limit = gateway.config.body_limit;
        let too_large = || {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body must be at most {limit} bytes"),
            )
        };
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        if !json_depth_within(&bytes, MAX_JSON_DEPTH) {
            return Err(ApiError::invalid(format!(
                "the JSON body nests deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|error| ApiError::invalid(format!("invalid JSON body: {error}")))
    }
}

/// An optional JSON body: absent when the request has neither a content type
/// nor a body; otherwise it must be valid like any [`JsonBody`].
impl<T: DeserializeOwned> OptionalFromRequest<Arc<Gateway>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(
        request: Request,
        gateway: &Arc<Gateway>,
    ) -> Result<Option<Self>, ApiError> {
        let has_type = request.headers().contains_key(header::CONTENT_TYPE);
        let length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if !has_type && length.unwrap_or(0) == 0 {
            return Ok(None);
        }
        <Self as FromRequest<Arc<Gateway>>>::from_request(request, gateway)
            .await
            .map(Some)
    }
}

/// The deepest nesting of arrays and objects a JSON body may have.
pub const MAX_JSON_DEPTH: usize = 32;

/// Whether the arrays and objects in `json` nest at most `max` deep. A
/// single pass over the bytes, skipping strings; it does not check that the
/// JSON is well formed (the parser does that next).
#[must_use]
pub fn json_depth_within(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    }

    #[test]
    fn depth_is_counted_across_arrays_and_objects() {
        assert!(json_depth_within(nested(32).as_bytes(), 32));
        assert!(!json_depth_within(nested(33).as_bytes(), 32));
        assert!(json_depth_within(b"{\"name\":\"x\"}", 1));
        assert!(!json_depth_within(b"{\"a\":{}}", 1));
        assert!(json_depth_within(b"", 0));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = format!(
            "{{\"name\":\"{}\\\"{}\"}}",
            "[".repeat(100),
            "{".repeat(100)
        );
        assert!(json_depth_within(text.as_bytes(), 1));
    }
}
