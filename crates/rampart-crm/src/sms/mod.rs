//! Outbound text messages (issue 24, part 3): the provider trait, its
//! Twilio implementation, the loopback provider for development and tests,
//! and the outbox that sends, retries and never texts an opted-out number.

/// Where outbound messages go.
#[derive(Debug, Clone, Default)]
pub struct SmsSettings {}
