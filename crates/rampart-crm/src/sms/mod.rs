//! Outbound text messages (issue 24, part 3): the provider trait, its
//! Twilio implementation, the loopback provider for development and tests,
//! and the outbox that sends, retries and never texts an opted-out number.
//!
//! - [`SmsProvider`]: sends one message through a tenant's `twilio`
//!   account and says what happened in the only terms that matter for a
//!   retry ([`SendError`]): nothing was accepted (retry), the provider
//!   refused it for good (do not), or the request went out and its answer
//!   was lost (do not either: it may have been sent).
//! - [`twilio::TwilioRest`]: Twilio's `Messages.json` REST call.
//! - [`loopback::LoopbackProvider`]: a local server speaking the same wire
//!   format, which `rampart dev` and the tests send to.
//! - [`outbox`]: replies in SMS conversations are enqueued in the
//!   transaction that stores them; [`outbox::spawn_sender`] claims due
//!   rows and sends them, reading the opt-out ledger at every attempt.

pub mod loopback;
pub mod outbox;
pub mod twilio;

use std::future::Future;
use std::time::Duration;

use crate::domain::Phone;
use crate::store::TwilioAccount;

pub use outbox::{SenderPass, send_due, spawn_sender};

/// Where outbound messages go, and how hard the sender tries.
#[derive(Debug, Clone)]
pub struct SmsSettings {
    /// Twilio's REST API base (`RAMPART_TWILIO_API_URL`); `rampart dev`
    /// points it at the loopback provider. `https://`, or `http://` to a
    /// loopback address.
    pub twilio_api_url: String,
    /// Attempts per message before it is `failed`, retryable failures
    /// included (the first attempt counts).
    pub max_attempts: u32,
    /// The wait after the first retryable failure; doubled after each
    /// following one, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How often the sender looks for due messages.
    pub tick: Duration,
    /// How long one provider call may take, connection included. A call
    /// that runs out after its request was sent has an unknown outcome.
    pub request_timeout: Duration,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            twilio_api_url: "https://api.twilio.com".to_owned(),
            max_attempts: 5,
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(15 * 60),
            tick: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl SmsSettings {
    /// How long a claimed message belongs to its worker: longer than any
    /// provider call can last, so a row is never claimed again while a
    /// call for it may still be in flight. A lease that runs out means its
    /// worker stopped mid-send: the row becomes `unknown`, not due.
    #[must_use]
    pub fn lease(&self) -> Duration {
        self.request_timeout * 2 + Duration::from_secs(10)
    }

    /// The wait before attempt `attempts + 1`, after `attempts` made.
    #[must_use]
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(16);
        self.first_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// One text to send: to the customer's number, from the channel's.
#[derive(Clone)]
pub struct OutboundSms {
    pub to: Phone,
    pub body: String,
}

/// Shows neither the number nor the text.
impl std::fmt::Debug for OutboundSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundSms")
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Its id at the provider (Twilio's `SM…` sid).
    pub provider_id: String,
}

/// Why a message was not (known to be) accepted. `detail` says what
/// happened in terms that hold no personal data (an HTTP status, a
/// provider error number, a transport error's kind): it is stored as the
/// row's `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Nothing was accepted: the connection was refused, or the provider
    /// answered 429 or 503. Safe to try again later.
    #[error("retryable: {detail}")]
    Retryable { detail: String },
    /// The provider refused the message and would refuse it again (bad
    /// credentials, an invalid number, an unsubscribed recipient).
    #[error("refused: {detail}")]
    Permanent {
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// The provider's error number, when it gave one.
        code: Option<u32>,
        detail: String,
    },
    /// The request was sent and no usable answer came back (a timeout, a
    /// connection lost, a 5xx other than 503): the message may have been
    /// sent. Sending again could text the customer twice.
    #[error("unknown outcome: {detail}")]
    Unknown { detail: String },
}

impl SendError {
    /// Twilio's error for a recipient who replied STOP to the sending
    /// number: the provider's own opt-out, honoured like the ledger's.
    pub const UNSUBSCRIBED_RECIPIENT: u32 = 21610;

    /// The error text kept on the row.
    #[must_use]
    pub fn detail(&self) -> &str {
        match self {
            Self::Retryable { detail }
            | Self::Permanent { detail, .. }
            | Self::Unknown { detail } => detail,
        }
    }
}

/// Sends text messages through a tenant's account at a provider.
pub trait SmsProvider: Send + Sync + 'static {
    /// Sends `sms` from `account`'s number with `account`'s credentials.
    fn send(
        &self,
        account: &TwilioAccount,
        sms: &OutboundSms,
    ) -> impl Future<Output = Result<Accepted, SendError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let settings = SmsSettings {
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(300),
            ..SmsSettings::default()
        };
        assert_eq!(settings.backoff(1), Duration::from_secs(30));
        assert_eq!(settings.backoff(2), Duration::from_secs(60));
        assert_eq!(settings.backoff(3), Duration::from_secs(120));
        assert_eq!(settings.backoff(4), Duration::from_secs(240));
        assert_eq!(settings.backoff(5), Duration::from_secs(300));
        assert_eq!(settings.backoff(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn a_lease_outlasts_any_call() {
        let settings = SmsSettings::default();
        assert!(settings.lease() > settings.request_timeout * 2);
    }

    #[test]
    fn an_outbound_sms_debug_shows_neither_number_nor_text() {
        let sms = OutboundSms {
            to: Phone::parse("+15558675309").unwrap(),
            body: "your code is 1234".to_owned(),
        };
        let shown = format!("{sms:?}");
        assert!(!shown.contains("5558675309"), "{shown}");
        assert!(!shown.contains("1234"), "{shown}");
    }
}
