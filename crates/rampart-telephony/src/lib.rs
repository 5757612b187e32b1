//! Rampart's telephony helpers: the security-sensitive parts of the phone
//! and SMS channels, kept free of I/O so they can be tested against the
//! provider's published vectors and fuzzed.
//!
//! - [`twilio_signature`]: `X-Twilio-Signature` over form and JSON
//!   webhooks, and the form parser that feeds it.
//! - [`opt_out`]: the SMS opt-out, opt-in and help keywords.

pub mod opt_out;
pub mod twilio_signature;
