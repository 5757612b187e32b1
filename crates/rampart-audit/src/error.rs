//! What can go wrong in the audit service, and how each failure is answered.

use rampart_kit::error::{ErrorCode, internal};
use tonic::Status;

/// The failures a caller can act on, plus one for everything unexpected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A request that does not parse; the message says where and why.
    #[error("{0}")]
    InvalidArgument(String),
    /// The caller may not read this log; the message says what is needed.
    #[error("{0}")]
    Forbidden(String),
    /// The log, event or size asked for is not there (or not the caller's).
    #[error("{0}")]
    NotFound(String),
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
            Error::InvalidArgument(message) => ErrorCode::InvalidArgument.status(message),
            Error::Forbidden(message) => ErrorCode::PermissionDenied.status(message),
            Error::NotFound(message) => ErrorCode::NotFound.status(message),
            Error::Internal(error) => internal(format!("{error:#}")),
        }
    }
}
