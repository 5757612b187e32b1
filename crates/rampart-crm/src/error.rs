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
    /// Also the answer for another tenant's conversation, a malformed id,
    /// and a widget caller whose visitor token does not match: a widget key
    /// cannot probe for conversations that are not its visitor's.
    #[error("conversation not found")]
    ConversationNotFound,
    /// The conversation is closed (or, for a reply, resolved): nothing more
    /// is written in it.
    #[error("conversation is {0}")]
    ConversationEnded(&'static str),
    /// An AI reply while a person has the conversation, or is about to (a
    /// customer message waits for the gate): the AI stays silent.
    #[error("a person has this conversation")]
    PersonHasConversation,
    /// A status change the handoff steps do not allow.
    #[error("a conversation cannot go from {from} to {to}")]
    TransitionRefused {
        from: &'static str,
        to: &'static str,
    },
    /// Also the answer for another tenant's appointment and a malformed id.
    #[error("appointment not found")]
    AppointmentNotFound,
    /// Also the answer for another tenant's job note and a malformed id.
    #[error("job note not found")]
    JobNoteNotFound,
    /// An appointment status change its steps do not allow (see
    /// [`crate::domain::AppointmentStatus::may_become`]).
    #[error("an appointment cannot go from {from} to {to}")]
    AppointmentStateConflict {
        from: &'static str,
        to: &'static str,
    },
    /// Also the answer for another tenant's channel and a malformed id.
    #[error("channel not found")]
    ChannelNotFound,
    /// Also the answer for another tenant's erasure request and a
    /// malformed id.
    #[error("erasure request not found")]
    ErasureRequestNotFound,
    /// The customer is under a legal hold: their data may not be erased
    /// until it is released.
    #[error("the customer is under a legal hold; release it before erasing")]
    CustomerHeld,
    /// The audit service could not sign the deletion certificate, so the
    /// erasure was rolled back: nothing was deleted.
    #[error("the deletion certificate could not be signed; nothing was erased, retry later")]
    CertificateUnavailable,
    /// A tenant already has the most channels one mode may hold.
    #[error("at most 50 channels may be connected; delete one first")]
    TooManyChannels,
    /// A settings write named a version that is no longer the current one:
    /// someone else wrote meanwhile.
    #[error("the settings were changed since version {expected}; read them again")]
    VersionConflict { expected: u32 },
    /// A billing state move the table does not allow (or one another move
    /// overtook); names both states.
    #[error("a tenant's billing state cannot go from {from} to {to}")]
    BillingTransitionRefused {
        from: crate::domain::billing::BillingState,
        to: crate::domain::billing::BillingState,
    },
    /// A billing webhook event id seen before with a different body (or for
    /// another tenant).
    #[error("billing event id was already used for a different event")]
    BillingEventConflict,
    /// The idempotency key was first used for a different request.
    #[error("idempotency_key was already used for a different request")]
    IdempotencyConflict,
    /// The guardrails could not be reached, so the AI reply did not leave
    /// (fail closed).
    #[error("the guardrails are unavailable; the reply was not sent")]
    GuardrailsUnavailable,
    /// The number is already another channel's, this tenant's or another's:
    /// the message does not say whose.
    #[error("this phone number is already connected")]
    PhoneNumberTaken,
    /// A telephony webhook whose called number is unknown, whose signature
    /// is missing or does not verify, or whose account is not the number's:
    /// one answer for all of them, so a caller cannot tell which numbers
    /// exist.
    #[error("the request could not be verified")]
    WebhookRefused,
    /// A telephony webhook already handled (its message or call step was
    /// seen within the replay window): nothing was changed.
    #[error("this webhook was already delivered")]
    WebhookReplayed,
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
            Error::TenantNotFound
            | Error::CustomerNotFound
            | Error::ConversationNotFound
            | Error::AppointmentNotFound
            | Error::JobNoteNotFound
            | Error::ChannelNotFound
            | Error::ErasureRequestNotFound => ErrorCode::NotFound.status(error.to_string()),
            Error::CustomerHeld => ErrorCode::StateConflict.status(error.to_string()),
            Error::CertificateUnavailable => ErrorCode::Unavailable.status(error.to_string()),
            Error::AppointmentStateConflict { .. } => {
                ErrorCode::StateConflict.status(error.to_string())
            }
            Error::ConversationEnded(_)
            | Error::PersonHasConversation
            | Error::TransitionRefused { .. } => Status::failed_precondition(error.to_string()),
            Error::TooManyChannels => ErrorCode::StateConflict.status(error.to_string()),
            Error::VersionConflict { .. } => ErrorCode::StateConflict.status(error.to_string()),
            Error::BillingTransitionRefused { .. } => {
                ErrorCode::StateConflict.status(error.to_string())
            }
            Error::IdempotencyConflict | Error::BillingEventConflict => {
                ErrorCode::AlreadyExists.status(error.to_string())
            }
            Error::GuardrailsUnavailable => ErrorCode::Unavailable.status(error.to_string()),
            Error::PhoneNumberTaken => ErrorCode::StateConflict.status(error.to_string()),
            Error::WebhookRefused => ErrorCode::Unauthenticated.status(error.to_string()),
            Error::WebhookReplayed => ErrorCode::AlreadyExists.status(error.to_string()),
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
