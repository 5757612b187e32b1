//! One small set of error codes, mapped to both gRPC and HTTP.
//!
//! Services answer with `tonic::Status`; the gateway turns a status back into
//! an HTTP problem response through the same table, so a code means the same
//! thing on every hop. A status's message is part of the wire contract and is
//! shown to clients: services put only client-safe text in it, and
//! [`internal`] is the one way to answer an unexpected failure, logging the
//! cause and returning nothing of it.

use http::StatusCode;
use tonic::{Code, Status};

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    /// The request is well formed but the thing is not in a state that
    /// allows it (an AI reply while a person has the conversation, a
    /// handoff someone else claimed, a policy edited meanwhile).
    StateConflict,
    PayloadTooLarge,
    ResourceExhausted,
    Unavailable,
    Timeout,
    Internal,
}

impl ErrorCode {
    #[must_use]
    pub fn grpc(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::NotFound => Code::NotFound,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::StateConflict => Code::FailedPrecondition,
            Self::PayloadTooLarge => Code::OutOfRange,
            Self::ResourceExhausted => Code::ResourceExhausted,
            Self::Unavailable => Code::Unavailable,
            Self::Timeout => Code::DeadlineExceeded,
            Self::Internal => Code::Internal,
        }
    }

    #[must_use]
    pub fn http(self) -> StatusCode {
        match self {
            Self::InvalidArgument => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::AlreadyExists | Self::StateConflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code a backend's gRPC status stands for. Codes a service never
    /// answers on purpose count as internal.
    #[must_use]
    pub fn from_grpc(code: Code) -> Self {
        match code {
            Code::InvalidArgument => Self::InvalidArgument,
            // Aborted: a concurrent change won; reading again and retrying
            // is the caller's move, as for a failed precondition.
            Code::FailedPrecondition | Code::Aborted => Self::StateConflict,
            Code::Unauthenticated => Self::Unauthenticated,
            Code::PermissionDenied => Self::PermissionDenied,
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists => Self::AlreadyExists,
            Code::OutOfRange => Self::PayloadTooLarge,
            Code::ResourceExhausted => Self::ResourceExhausted,
            Code::Unavailable => Self::Unavailable,
            Code::DeadlineExceeded => Self::Timeout,
            _ => Self::Internal,
        }
    }

    /// A short, stable title for problem responses.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::InvalidArgument => "Invalid request",
            Self::Unauthenticated => "Authentication required",
            Self::PermissionDenied => "Not allowed",
            Self::NotFound => "Not found",
            Self::AlreadyExists => "Already exists",
            Self::StateConflict => "Conflict with the current state",
            Self::PayloadTooLarge => "Request too large",
            Self::ResourceExhausted => "Too many requests",
            Self::Unavailable => "Service unavailable",
            Self::Timeout => "Request timed out",
            Self::Internal => "Internal error",
        }
    }

    /// A stable, machine-readable slug, used as the problem `type` suffix.
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid-request",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "forbidden",
            Self::NotFound => "not-found",
            Self::AlreadyExists => "conflict",
            Self::StateConflict => "state-conflict",
            Self::PayloadTooLarge => "payload-too-large",
            Self::ResourceExhausted => "rate-limited",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        }
    }

    /// A status with this code and a client-safe message.
    #[must_use]
    pub fn status(self, message: impl Into<String>) -> Status {
        Status::new(self.grpc(), message)
    }
}

/// Answers an unexpected failure: the cause is logged, the caller learns
/// nothing of it.
pub fn internal(error: impl std::fmt::Display) -> Status {
    tracing::error!(error = %error, "internal error");
    Status::internal("internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidArgument,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::StateConflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::ResourceExhausted,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
        ErrorCode::Internal,
    ];

    #[test]
    fn grpc_mapping_round_trips() {
        for code in ALL {
            assert_eq!(ErrorCode::from_grpc(code.grpc()), code);
        }
    }

    #[test]
    fn unknown_grpc_codes_are_internal() {
        assert_eq!(ErrorCode::from_grpc(Code::DataLoss), ErrorCode::Internal);
        assert_eq!(ErrorCode::from_grpc(Code::Unknown), ErrorCode::Internal);
    }

    #[test]
    fn internal_status_hides_the_cause() {
        let status = internal("connection to 10.0.0.3 refused");
        assert_eq!(status.message(), "internal error");
    }
}
