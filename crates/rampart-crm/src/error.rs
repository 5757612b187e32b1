//! What can go wrong in the CRM, and how each failure is answered.
//!
//! The variants are the failures a caller can act on, plus [`Error::Internal`]
//! for everything else; only this module turns them into a gRPC status, so
//! the wire contract is written down once.

use rampart_kit::error::{ErrorCode, internal};
use sea_orm::DbErr;
use tonic::Status;

use crate::domain::InvalidInput;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field does not parse; the message names the field.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    #[error("tenant not found")]
    TenantNotFound,
    /// Also the answer for another tenant's customer and for a malformed
    /// id, so a caller cannot learn that an id exists elsewhere.
    #[error("customer not found")]
    CustomerNotFound,
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
            Error::InvalidInput(error) => ErrorCode::InvalidArgument.status(error.to_string()),
            Error::TenantNotFound | Error::CustomerNotFound => {
                ErrorCode::NotFound.status(error.to_string())
            }
            Error::Internal(error) => internal(format!("{error:#}")),
        }
    }
}

/// Lets handlers use `?` on a parse result directly.
impl From<InvalidInput> for Status {
    fn from(error: InvalidInput) -> Self {
        Error::from(error).into()
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn invalid_input_names_the_field() {
        let status = Status::from(InvalidInput::new("email", "must contain exactly one @"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "email must contain exactly one @");
    }

    #[test]
    fn not_found_is_not_permission_denied() {
        let status = Status::from(Error::CustomerNotFound);
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "customer not found");
    }

    #[test]
    fn internal_errors_are_hidden() {
        let status = Status::from(Error::from(DbErr::Custom("disk full on /var/db".into())));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
