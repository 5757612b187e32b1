//! E-mail notifications over SMTP (lettre's async transport).
//!
//! The relay is `host:port`. A loopback relay is spoken to in plain SMTP
//! (a local MTA, or a test's); any other must offer STARTTLS, so handoff
//! ids and severities do not cross a network in the clear.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use super::{Failure, SmtpConfig};

/// How long the relay has to take a message.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The subject and text of the e-mail for a notification's payload.
fn render(payload: &str) -> Result<(String, String), Failure> {
    let event: Value = serde_json::from_str(payload)
        .map_err(|_| Failure::permanent("the notification's payload is not JSON"))?;
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
    let level = event["level"].as_i64().unwrap_or(1);
    let severity = text("severity");
    let what = if text("event") == "handoff.opened" {
        "opened"
    } else {
        "escalated"
    };
    let subject = format!("[Rampart] handoff {what}: {severity} (level {level})");
    let body = format!(
        "A conversation needs a person.\n\n\
         Handoff: {}\nConversation: {}\nSeverity: {severity}\nLevel: {level}\n\
         Due: {}\n\nOpen the handoff queue to claim it.\n",
        text("handoff_id"),
        text("conversation_id"),
        text("due_at"),
    );
    Ok((subject, body))
}

pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sends the e-mail for `payload` to `to` through the relay.
pub(crate) async fn send(smtp: &SmtpConfig, to: &str, payload: &str) -> Result<(), Failure> {
    let (host, port) = smtp
        .relay
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .ok_or_else(|| Failure::permanent("the SMTP relay must be host:port"))?;
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|_| Failure::permanent("the SMTP from address is malformed"))?;
    let to: Mailbox = to
        .parse()
        .map_err(|_| Failure::permanent("the contact's e-mail address is malformed"))?;
    let (subject, body) = render(payload)?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .body(body)
        .map_err(|error| Failure::permanent(format!("building the e-mail: {error}")))?;

    let transport = if is_loopback(host) {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|error| Failure::permanent(format!("the SMTP relay: {error}")))?
    }
    .port(port)
    .timeout(Some(TIMEOUT))
    .build();
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|error| Failure::retry(format!("SMTP delivery failed: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_names_severity_and_level() {
        let payload = r#"{"event":"handoff.escalated","severity":"high","level":2,
            "handoff_id":"hof_1","conversation_id":"cnv_1","due_at":"2026-01-01T00:00:00Z"}"#;
        let (subject, body) = render(payload).unwrap();
        assert_eq!(subject, "[Rampart] handoff escalated: high (level 2)");
        assert!(body.contains("hof_1") && body.contains("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn only_loopback_relays_go_without_tls() {
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("[::1]"));
        assert!(!is_loopback("smtp.example.com") && !is_loopback("10.0.0.1"));
    }
}
