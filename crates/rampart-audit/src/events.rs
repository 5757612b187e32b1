//! Parsing appended events. A batch is taken whole or not at all: the first
//! event that does not parse rejects the call, naming its index, before
//! anything is stored.

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::ids::TenantId;
use rampart_proto::audit::v1::AuditEvent;

use crate::error::Error;

/// The most events one append may carry; the outbox relay sends 200.
pub(crate) const MAX_BATCH: usize = 1000;

/// The id of the platform's own log, for events with no tenant. Tenant ids
/// start with `ten_`, so it cannot collide with one.
pub const PLATFORM_LOG_ID: &str = "platform";

const MAX_ACTION: usize = 64;
const MAX_ACTOR: usize = 200;
const MAX_CREDENTIAL_ID: usize = 200;
const MAX_TARGET: usize = 512;
const MAX_REQUEST_ID: usize = 128;
const MAX_OCCURRED_AT: usize = 64;

/// Which log an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum LogId {
    Platform,
    Tenant(TenantId),
}

impl LogId {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Platform => PLATFORM_LOG_ID,
            Self::Tenant(tenant) => tenant.as_str(),
        }
    }
}

/// An event that passed every check, in the form it is stored and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidEvent {
    pub log: LogId,
    /// The UUID in its canonical hyphenated lowercase form, so the same id
    /// written two ways is still recognised as a duplicate.
    pub event_id: String,
    pub actor: String,
    pub credential_id: String,
    pub action: String,
    pub target: String,
    /// Normalised to UTC with microseconds.
    pub occurred_at: String,
    pub request_id: String,
    pub outcome: String,
}

impl ValidEvent {
    pub(crate) fn tenant_id(&self) -> &str {
        match &self.log {
            LogId::Platform => "",
            LogId::Tenant(tenant) => tenant.as_str(),
        }
    }
}

/// Parses a whole batch, or names the first event that is wrong.
pub(crate) fn parse_batch(events: Vec<AuditEvent>) -> Result<Vec<ValidEvent>, Error> {
    if events.len() > MAX_BATCH {
        return Err(Error::InvalidArgument(format!(
            "at most {MAX_BATCH} events per call, got {}",
            events.len()
        )));
    }
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            parse_event(event)
                .map_err(|problem| Error::InvalidArgument(format!("event {index}: {problem}")))
        })
        .collect()
}

/// Checks one event. `service` is not read: the audit service fills it in
/// from the caller's certificate.
fn parse_event(event: AuditEvent) -> Result<ValidEvent, String> {
    let event_id = uuid::Uuid::try_parse(&event.event_id)
        .map_err(|_| "event_id must be a UUID".to_owned())?
        .hyphenated()
        .to_string();
    let log = if event.tenant_id.is_empty() {
        LogId::Platform
    } else {
        LogId::Tenant(
            TenantId::parse(&event.tenant_id)
                .map_err(|_| "tenant_id must be empty or a tenant id".to_owned())?,
        )
    };
    let action_ok = !event.action.is_empty()
        && event.action.len() <= MAX_ACTION
        && event
            .action
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.');
    if !action_ok {
        return Err(format!(
            "action must be 1 to {MAX_ACTION} characters of a-z, '_' and '.'"
        ));
    }
    if event.actor.is_empty() {
        return Err("actor must not be empty".to_owned());
    }
    text_field("actor", &event.actor, MAX_ACTOR)?;
    text_field("credential_id", &event.credential_id, MAX_CREDENTIAL_ID)?;
    text_field("target", &event.target, MAX_TARGET)?;
    text_field("request_id", &event.request_id, MAX_REQUEST_ID)?;
    if event.occurred_at.len() > MAX_OCCURRED_AT {
        return Err("occurred_at must be an RFC 3339 time".to_owned());
    }
    let occurred_at = DateTime::parse_from_rfc3339(&event.occurred_at)
        .map_err(|_| "occurred_at must be an RFC 3339 time".to_owned())?
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    if event.outcome != "success" && event.outcome != "failure" {
        return Err("outcome must be \"success\" or \"failure\"".to_owned());
    }
    Ok(ValidEvent {
        log,
        event_id,
        actor: event.actor,
        credential_id: event.credential_id,
        action: event.action,
        target: event.target,
        occurred_at,
        request_id: event.request_id,
        outcome: event.outcome,
    })
}

/// Bounded, and free of control characters, which would let a value forge
/// lines in logs and exports.
fn text_field(name: &str, value: &str, max_chars: usize) -> Result<(), String> {
    if value.chars().count() > max_chars {
        return Err(format!("{name} must be at most {max_chars} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{name} must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> AuditEvent {
        AuditEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            tenant_id: TenantId::generate().into_string(),
            actor: "api_key:key_1".to_owned(),
            credential_id: "key_1".to_owned(),
            action: "api_key.issued".to_owned(),
            target: "api_key:key_2".to_owned(),
            occurred_at: "2025-01-02T03:04:05+02:00".to_owned(),
            service: "whatever the caller says".to_owned(),
            request_id: "req-1".to_owned(),
            outcome: "success".to_owned(),
        }
    }

    #[test]
    fn a_good_event_is_normalised() {
        let mut event = good();
        event.event_id = event.event_id.to_uppercase();
        let tenant = event.tenant_id.clone();
        let valid = parse_batch(vec![event.clone()]).unwrap().remove(0);
        assert_eq!(valid.event_id, event.event_id.to_lowercase());
        assert_eq!(valid.occurred_at, "2025-01-02T01:04:05.000000Z");
        assert_eq!(valid.tenant_id(), tenant);
        assert_eq!(valid.log.as_str(), tenant);
    }

    #[test]
    fn an_empty_tenant_is_the_platform_log() {
        let mut event = good();
        event.tenant_id.clear();
        let valid = parse_batch(vec![event]).unwrap().remove(0);
        assert_eq!(valid.log, LogId::Platform);
        assert_eq!(valid.log.as_str(), "platform");
        assert_eq!(valid.tenant_id(), "");
    }

    #[test]
    fn each_bad_field_is_refused_with_its_index() {
        /// A field name the message must mention, and how to break it.
        type Breakage = (&'static str, fn(&mut AuditEvent));
        let breakages: Vec<Breakage> = vec![
            ("event_id", |e| e.event_id = "not-a-uuid".to_owned()),
            ("tenant_id", |e| e.tenant_id = "ten_nope".to_owned()),
            ("action", |e| e.action.clear()),
            ("action", |e| e.action = "Tenant.Created".to_owned()),
            ("action", |e| e.action = "a".repeat(65)),
            ("action", |e| e.action = "api-key.issued".to_owned()),
            ("actor", |e| e.actor.clear()),
            ("actor", |e| e.actor = "x".repeat(201)),
            ("target", |e| e.target = "line\nbreak".to_owned()),
            ("request_id", |e| e.request_id = "r".repeat(129)),
            ("credential_id", |e| e.credential_id = "\u{7f}".to_owned()),
            ("occurred_at", |e| e.occurred_at = "yesterday".to_owned()),
            ("occurred_at", |e| {
                e.occurred_at = "2025-01-02 03:04:05".to_owned()
            }),
            ("outcome", |e| e.outcome = "ok".to_owned()),
        ];
        for (field, break_it) in breakages {
            let mut bad = good();
            break_it(&mut bad);
            let Err(Error::InvalidArgument(message)) = parse_batch(vec![good(), good(), bad])
            else {
                panic!("{field}: a bad event was accepted");
            };
            assert!(message.starts_with("event 2: "), "{message}");
            assert!(message.contains(field), "{message}");
        }
    }

    #[test]
    fn batches_are_bounded() {
        assert!(parse_batch(vec![good(); MAX_BATCH]).is_ok());
        assert!(parse_batch(vec![good(); MAX_BATCH + 1]).is_err());
        assert!(parse_batch(Vec::new()).unwrap().is_empty());
    }
}
