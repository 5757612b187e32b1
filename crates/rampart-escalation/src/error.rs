//! What can go wrong in an evaluation, and how each failure is answered.
//!
//! Only malformed requests: evaluation does no I/O and cannot fail
//! unexpectedly, so unlike the services with storage there is no internal
//! variant.

use rampart_kit::error::ErrorCode;
use tonic::Status;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("channel must be one of phone, sms, web or widget")]
    UnknownChannel,
    #[error("text must not be empty")]
    EmptyText,
    #[error("text must be at most 4000 characters")]
    TextTooLong,
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::UnknownChannel | Error::EmptyText | Error::TextTooLong => {
                ErrorCode::InvalidArgument.status(error.to_string())
            }
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
        ] {
            let status = Status::from(error);
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with(field), "{status:?}");
        }
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
