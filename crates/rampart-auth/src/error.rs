//! What can go wrong in the auth service, and how each failure is answered.

use rampart_kit::error::{ErrorCode, internal};
use tonic::Status;

/// The failures a caller can act on, plus one for everything unexpected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The presented text is not shaped like a Rampart key at all.
    #[error("malformed API key")]
    MalformedKey,
    /// A well-formed key that is unknown, revoked, or not the admin key.
    /// One variant for all of them, so an answer never tells which.
    #[error("invalid API key")]
    InvalidKey,
    /// A request field that does not parse; the message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    /// The caller may not do this; the message says what it lacks.
    #[error("{0}")]
    PermissionDenied(String),
    /// No such object, or one of another tenant: the answer is the same.
    #[error("{0}")]
    NotFound(String),
    /// The object is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// Anything else: logged, never shown to the caller.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for Error {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(error).context("database error"))
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::MalformedKey => ErrorCode::Unauthenticated.status("malformed API key"),
            Error::InvalidKey => ErrorCode::Unauthenticated.status("invalid API key"),
            Error::InvalidArgument(message) => ErrorCode::InvalidArgument.status(message),
            Error::PermissionDenied(message) => ErrorCode::PermissionDenied.status(message),
            Error::NotFound(message) => ErrorCode::NotFound.status(message),
            Error::Conflict(message) => ErrorCode::AlreadyExists.status(message),
            Error::Internal(error) => internal(format!("{error:#}")),
        }
    }
}
