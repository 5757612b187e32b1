//! Rampart's telephony helpers: the security-sensitive parts of the phone
//! and SMS channels, kept free of I/O so they can be tested against the
//! provider's published vectors and fuzzed.
//!
//! - [`twilio_signature`]: `X-Twilio-Signature` over form and JSON
//!   webhooks, and the form parser that feeds it.
//! - [`opt_out`]: the SMS opt-out, opt-in and help keywords.
//! - [`consent`]: whether a call may be recorded, by the tenant's setting
//!   and its jurisdiction's consent rule.
//! - [`twiml`]: the voice webhook's answers, with tenant text escaped.

pub mod consent;
pub mod opt_out;
pub mod twilio_signature;
pub mod twiml;
