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
    /// Unknown user, wrong password, disabled account, or an admin on the
    /// public route: one answer for all, so it never tells which.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Too many recent failures for this account, address or second factor.
    #[error("too many failed attempts; wait and try again later")]
    Throttled,
    /// Every place for a password hash is taken, running or waiting; the
    /// request was not evaluated.
    #[error("too many sign-ins in progress; retry in a few seconds")]
    Busy,
    /// A session token that is unknown, expired or revoked.
    #[error("invalid or expired session")]
    InvalidSession,
    /// A sign-in challenge that is unknown, expired or already used.
    #[error("invalid or expired sign-in challenge; sign in again")]
    InvalidChallenge,
    /// A wrong, reused or malformed second-factor code.
    #[error("invalid code")]
    InvalidCode,
    /// A new password the policy refuses; the message says why.
    #[error("{0}")]
    WeakPassword(String),
    /// The caller is known but may not do this; the message says what is
    /// needed.
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist, or belongs to another tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(String),
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

impl From<Status> for Error {
    /// The principal checks in `rampart_kit` answer a `Status`.
    fn from(status: Status) -> Self {
        match status.code() {
            tonic::Code::PermissionDenied => Self::Forbidden(status.message().to_owned()),
            tonic::Code::Unauthenticated => Self::InvalidSession,
            _ => Self::Internal(anyhow::anyhow!("{status}")),
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::MalformedKey
            | Error::InvalidKey
            | Error::InvalidCredentials
            | Error::InvalidSession
            | Error::InvalidChallenge
            | Error::InvalidCode => ErrorCode::Unauthenticated.status(message),
            Error::InvalidArgument(_) | Error::WeakPassword(_) => {
                ErrorCode::InvalidArgument.status(message)
            }
            Error::Throttled | Error::Busy => ErrorCode::ResourceExhausted.status(message),
            Error::Forbidden(_) => ErrorCode::PermissionDenied.status(message),
            Error::NotFound(_) => ErrorCode::NotFound.status(message),
            Error::AlreadyExists(_) | Error::Conflict(_) => {
                ErrorCode::AlreadyExists.status(message)
            }
            Error::Internal(error) => internal(format!("{error:#}")),
        }
    }
}
