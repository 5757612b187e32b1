//! What can go wrong in escalation, and how each failure is answered.
//!
//! The variants are the failures a caller can act on, plus
//! [`Error::Internal`] for everything else (logged, answered without
//! detail); only this module turns them into a gRPC status.

use rampart_kit::error::{ErrorCode, internal};
use sea_orm::DbErr;
use tonic::Status;

use crate::tenant_policy::InvalidPolicy;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("channel must be one of phone, sms, web or widget")]
    UnknownChannel,
    #[error("text must not be empty")]
    EmptyText,
    #[error("text must be at most 4000 characters")]
    TextTooLong,
    /// A request's id does not parse; names the field.
    #[error("{0} is malformed")]
    MalformedId(&'static str),
    #[error("customer_contacts must hold at most 20 entries of at most 320 characters")]
    TooManyContacts,
    /// The policy document is refused; the message names the field.
    #[error(transparent)]
    InvalidPolicy(#[from] InvalidPolicy),
    /// `expected_version` is not the current version.
    #[error("expected_version is {expected} but the current version is {current}")]
    VersionMismatch { expected: u32, current: u32 },
    /// Another write took the same version number first.
    #[error("the policy changed meanwhile, read it again")]
    ConcurrentPolicyWrite,
    /// A message id with a receipt of another tenant's: answered as if it
    /// did not exist, so a caller learns nothing about other tenants.
    #[error("message not found")]
    MessageNotFound,
    /// Anything unexpected: logged, and answered without detail.
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow::Error),
}

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        Self::Internal(error.into())
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::UnknownChannel
            | Error::EmptyText
            | Error::TextTooLong
            | Error::MalformedId(_)
            | Error::TooManyContacts
            | Error::InvalidPolicy(_) => ErrorCode::InvalidArgument.status(error.to_string()),
            Error::VersionMismatch { .. } => Status::failed_precondition(error.to_string()),
            Error::ConcurrentPolicyWrite => Status::aborted(error.to_string()),
            Error::MessageNotFound => ErrorCode::NotFound.status(error.to_string()),
            Error::Internal(error) => internal(format!("{error:#}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_an_invalid_argument_naming_its_field() {
        for (error, field) in [
            (Error::UnknownChannel, "channel"),
            (Error::EmptyText, "text"),
            (Error::TextTooLong, "text"),
            (Error::MalformedId("message_id"), "message_id"),
            (Error::TooManyContacts, "customer_contacts"),
        ] {
            let status = Status::from(error);
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with(field), "{status:?}");
        }
    }

    #[test]
    fn internal_errors_are_hidden() {
        let status = Status::from(Error::from(DbErr::Custom("disk full on /var/db".into())));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn the_length_limit_in_the_message_is_the_enforced_one() {
        assert!(
            Error::TextTooLong
                .to_string()
                .contains(&crate::message::MAX_TEXT_CHARS.to_string())
        );
    }
}
