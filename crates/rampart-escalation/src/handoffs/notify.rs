//! Notifications to escalation contacts: a signed webhook and e-mail over
//! SMTP, delivered from the `esc_notification` table.
//!
//! SKELETON: filled in by the handoffs work.

/// Where e-mail notifications are sent.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `host:port` of the SMTP relay.
    pub relay: String,
    /// The From address.
    pub from: String,
}
