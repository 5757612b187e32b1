//! Errors as RFC 9457 problem responses.
//!
//! Every error the gateway answers, its own or a backend's, leaves through
//! [`ApiError`]: `application/problem+json` with a stable `type`, a `title`,
//! the HTTP `status`, a client-safe `detail` and the `request_id` that ties
//! it to the logs. Internals (addresses, SQL, stack traces) are logged here
//! and never returned. The shape is a wire contract: change it only with a
//! new version. [`Problem`] is the same shape as the OpenAPI document
//! describes it.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use rampart_kit::error::ErrorCode;
use serde::Serialize;
use tonic::{Code, Status};

/// An error on its way to the client. The request id is filled in by the
/// pipeline on the way out.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub retry_after: Option<Duration>,
}

/// The start of escalation's refusal of an AI reply for a tenant an
/// incident froze (`rampart_escalation::freeze::AI_FROZEN`).
const AI_FROZEN_PREFIX: &str = "ai replies are frozen";

/// An AI reply's refusal: escalation's freeze of the AI during an incident
/// becomes a 409 of its own type, `ai-frozen`, so a client (the AI
/// integration) can tell it from a conversation a person has; anything
/// else passes unchanged.
pub(crate) fn ai_frozen_or(error: ApiError) -> ApiError {
    if error.status == StatusCode::CONFLICT && error.detail.starts_with(AI_FROZEN_PREFIX) {
        return ApiError {
            status: StatusCode::CONFLICT,
            slug: "ai-frozen",
            title: "AI frozen",
            detail: error.detail,
            retry_after: None,
        };
    }
    error
}

impl ApiError {
    #[must_use]
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status: code.http(),
            slug: code.slug(),
            title: code.title(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    #[must_use]
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, detail)
    }

    #[must_use]
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, detail)
    }

    #[must_use]
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, detail)
    }

    #[must_use]
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "no such resource")
    }

    #[must_use]
    pub fn rate_limited(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::ResourceExhausted,
                "rate limit exceeded; retry later",
            )
        }
    }

    #[must_use]
    pub fn unsupported_media_type() -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            slug: "unsupported-media-type",
            title: "Unsupported media type",
            detail: "the body must be JSON, sent with Content-Type: application/json".into(),
            retry_after: None,
        }
    }

    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            slug: "method-not-allowed",
            title: "Method not allowed",
            detail: "this route does not accept that method".into(),
            retry_after: None,
        }
    }

    /// An unexpected failure: logged in full, answered as an opaque 500.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "internal error");
        Self::new(ErrorCode::Internal, "an internal error occurred")
    }

    /// A backend's answer. Only codes whose messages services write for
    /// clients pass their message through; anything else is replaced.
    pub fn from_backend(service: &'static str, status: &Status) -> Self {
        let code = ErrorCode::from_grpc(status.code());
        match status.code() {
            Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::FailedPrecondition
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::OutOfRange => Self::new(code, status.message()),
            Code::Unavailable => {
                tracing::warn!(service, message = status.message(), "backend unavailable");
                Self::new(
                    code,
                    format!("the {service} service is unavailable; retry later"),
                )
            }
            Code::DeadlineExceeded | Code::Cancelled => {
                tracing::warn!(service, message = status.message(), "backend timed out");
                Self::new(
                    ErrorCode::Timeout,
                    format!("the {service} service did not answer in time"),
                )
            }
            // A status carrying a source was made by this side's transport
            // (connection refused, reset, GOAWAY while shutting down), not
            // sent by the service: the backend is unreachable right now.
            _ if std::error::Error::source(status).is_some() => {
                tracing::warn!(service, error = %status, "backend unreachable");
                Self::new(
                    ErrorCode::Unavailable,
                    format!("the {service} service is unavailable; retry later"),
                )
            }
            _ => Self::internal(format_args!("{service} answered {status:?}")),
        }
    }
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    r#type: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// An error, as every route answers it (RFC 9457). The document's copy of
/// [`crate::problem::ApiError`]'s body; a test keeps the two in step.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `urn:rampart:problem:<slug>`, stable per kind of error.
    #[schema(example = "urn:rampart:problem:invalid-argument")]
    r#type: String,
    /// A short summary of the kind of error.
    title: String,
    /// The HTTP status code.
    status: u16,
    /// What went wrong with this request, safe to show to the client.
    detail: String,
    /// The request id, also in the `X-Request-Id` header; quote it to
    /// support.
    request_id: Option<String>,
}

/// The request id, put in the response extensions by the pipeline so a
/// problem body can carry it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl ApiError {
    /// The response, with the request id when known.
    #[must_use]
    pub fn into_response_with(self, request_id: Option<&str>) -> Response {
        let body = ProblemBody {
            r#type: format!("urn:rampart:problem:{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            request_id,
        };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response.extensions_mut().insert(self);
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The pipeline sees the ApiError in the extensions and rewrites the
        // body with the request id.
        self.into_response_with(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_internals_are_hidden() {
        let status = Status::internal("relation \"crm_customer\" does not exist");
        let error = ApiError::from_backend("crm", &status);
        assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.detail.contains("crm_customer"));
    }

    #[test]
    fn client_errors_pass_their_message() {
        let status = Status::invalid_argument("email: missing @");
        let error = ApiError::from_backend("crm", &status);
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(error.detail, "email: missing @");
    }

    #[test]
    fn unavailable_hides_the_transport_error() {
        let status = Status::unavailable("tcp connect error: 10.1.2.3:7001 refused");
        let error = ApiError::from_backend("auth", &status);
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.detail.contains("10.1.2.3"));
    }

    #[test]
    fn transport_failures_are_unavailable_not_internal() {
        let mut status = Status::internal("h2 protocol error: http2 error");
        status.set_source(std::sync::Arc::new(std::io::Error::other("goaway")));
        let error = ApiError::from_backend("auth", &status);
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.detail.contains("h2"));
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let response =
            ApiError::rate_limited(Duration::from_millis(1500)).into_response_with(Some("r"));
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
