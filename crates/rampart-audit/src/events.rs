//! Parsing appended events. A batch is taken whole or not at all: the first
//! event that does not parse, or does not fit its action's schema
//! ([`rampart_kit::audit_schema`]), rejects the call, naming its index,
//! before anything is stored.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::api_key::PlaintextApiKey;
use rampart_kit::audit_schema;
use rampart_kit::ids::TenantId;
use rampart_proto::audit::v1::AuditEvent;

use crate::error::Error;
use crate::leaf::{Event, escape_text};

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
const MAX_CLIENT_ADDR: usize = 64;
const MAX_DETAILS: usize = 16;
const MAX_DETAIL_KEY: usize = 32;
const MAX_DETAIL_VALUE: usize = 256;

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

/// An event that passed every check, in the form it is stored and hashed
/// (its `service` is filled in from the caller's certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidEvent {
    pub log: LogId,
    pub event: Event,
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
/// from the caller's certificate. Identifiers must parse; free text is
/// escaped ([`escape_text`]) and anything shaped like a Rampart API key in
/// it is redacted, so a stored event can neither forge log lines nor carry
/// a usable key.
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
    if event.details.len() > MAX_DETAILS {
        return Err(format!("details must have at most {MAX_DETAILS} entries"));
    }
    for key in event.details.keys() {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_DETAIL_KEY
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(format!(
                "details keys must be 1 to {MAX_DETAIL_KEY} characters of a-z, 0-9 and '_'"
            ));
        }
    }
    let kind = audit_schema::check(
        &event.action,
        event.schema_version,
        &event.outcome,
        event.details.keys().map(String::as_str),
    )
    .map_err(|problem| problem.to_string())?;
    let schema_version = if event.schema_version == 0 {
        kind.version
    } else {
        event.schema_version
    };
    if event.actor.is_empty() {
        return Err("actor must not be empty".to_owned());
    }
    if event.occurred_at.len() > MAX_OCCURRED_AT {
        return Err("occurred_at must be an RFC 3339 time".to_owned());
    }
    let occurred_at = DateTime::parse_from_rfc3339(&event.occurred_at)
        .map_err(|_| "occurred_at must be an RFC 3339 time".to_owned())?
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut details = BTreeMap::new();
    for (key, value) in event.details {
        let value = text_field("details value", &value, MAX_DETAIL_VALUE)?;
        details.insert(key, value);
    }
    Ok(ValidEvent {
        event: Event {
            tenant_id: match &log {
                LogId::Platform => String::new(),
                LogId::Tenant(tenant) => tenant.as_str().to_owned(),
            },
            event_id,
            actor: text_field("actor", &event.actor, MAX_ACTOR)?,
            credential_id: text_field("credential_id", &event.credential_id, MAX_CREDENTIAL_ID)?,
            action: event.action,
            target: text_field("target", &event.target, MAX_TARGET)?,
            occurred_at,
            service: String::new(),
            request_id: text_field("request_id", &event.request_id, MAX_REQUEST_ID)?,
            outcome: event.outcome,
            client_addr: text_field("client_addr", &event.client_addr, MAX_CLIENT_ADDR)?,
            details,
            schema_version,
        },
        log,
    })
}

/// Free text, escaped and with API keys redacted, then bounded.
fn text_field(name: &str, value: &str, max_chars: usize) -> Result<String, String> {
    let stored = escape_text(&redact_api_keys(value));
    if stored.chars().count() > max_chars {
        return Err(format!("{name} must be at most {max_chars} characters"));
    }
    Ok(stored)
}

/// Replaces every word that parses as a Rampart API key (prefix, secret and
/// checksum) with a marker: a producer that slipped a key into a field must
/// not put it in a log that many people read.
fn redact_api_keys(text: &str) -> String {
    if !text.contains("rk_") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.starts_with("rk_") && PlaintextApiKey::parse(word).is_ok() {
            out.push_str("[redacted api key]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_kit::api_key::KeyKind;

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
            client_addr: "192.0.2.1".to_owned(),
            details: [("scopes".to_owned(), "read write".to_owned())].into(),
            schema_version: 0,
        }
    }

    fn parse_one(event: AuditEvent) -> ValidEvent {
        parse_batch(vec![event]).unwrap().remove(0)
    }

    #[test]
    fn a_good_event_is_normalised() {
        let mut event = good();
        event.event_id = event.event_id.to_uppercase();
        let tenant = event.tenant_id.clone();
        let valid = parse_one(event.clone());
        assert_eq!(valid.event.event_id, event.event_id.to_lowercase());
        assert_eq!(valid.event.occurred_at, "2025-01-02T01:04:05.000000Z");
        assert_eq!(valid.event.tenant_id, tenant);
        assert_eq!(valid.log.as_str(), tenant);
        assert_eq!(valid.event.service, "");
        assert_eq!(valid.event.schema_version, 1);
        assert_eq!(valid.event.details["scopes"], "read write");
    }

    #[test]
    fn an_empty_tenant_is_the_platform_log() {
        let mut event = good();
        event.tenant_id.clear();
        let valid = parse_one(event);
        assert_eq!(valid.log, LogId::Platform);
        assert_eq!(valid.log.as_str(), "platform");
        assert_eq!(valid.event.tenant_id, "");
    }

    #[test]
    fn text_from_callers_is_escaped_not_refused() {
        let mut event = good();
        event.target = "customer:1\n2025-01-01 admin signed in\u{202e}".to_owned();
        event.request_id = "r\r\x1b[2J".to_owned();
        let valid = parse_one(event);
        assert_eq!(
            valid.event.target,
            "customer:1\\u{000a}2025-01-01 admin signed in\\u{202e}"
        );
        assert_eq!(valid.event.request_id, "r\\u{000d}\\u{001b}[2J");
    }

    #[test]
    fn api_keys_in_text_are_redacted() {
        let key = PlaintextApiKey::generate(KeyKind::Live);
        let mut event = good();
        event.target = format!("oops:{} leaked", key.expose());
        event
            .details
            .insert("reason".to_owned(), key.expose().to_owned());
        let valid = parse_one(event);
        assert_eq!(valid.event.target, "oops:[redacted api key] leaked");
        assert_eq!(valid.event.details["reason"], "[redacted api key]");
        // Text that merely starts like a key is kept.
        assert_eq!(redact_api_keys("rk_live_short"), "rk_live_short");
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
            ("unknown action", |e| {
                e.action = "customer.teleported".to_owned()
            }),
            ("actor", |e| e.actor.clear()),
            ("actor", |e| e.actor = "x".repeat(201)),
            ("target", |e| e.target = "\n".repeat(100)),
            ("request_id", |e| e.request_id = "r".repeat(129)),
            ("occurred_at", |e| e.occurred_at = "yesterday".to_owned()),
            ("occurred_at", |e| {
                e.occurred_at = "2025-01-02 03:04:05".to_owned()
            }),
            ("outcome", |e| e.outcome = "ok".to_owned()),
            ("outcome", |e| e.outcome = "locked".to_owned()),
            ("detail", |e| {
                e.details.insert("password".to_owned(), "x".to_owned());
            }),
            ("details keys", |e| {
                e.details.insert("Bad Key".to_owned(), "x".to_owned());
            }),
            ("details value", |e| {
                e.details.insert("reason".to_owned(), "x".repeat(257));
            }),
            ("schema version", |e| e.schema_version = 9),
            ("client_addr", |e| e.client_addr = "a".repeat(65)),
        ];
        for (field, break_it) in breakages {
            let mut bad = good();
            break_it(&mut bad);
            let Err(Error::InvalidArgument(message)) = parse_batch(vec![good(), good(), bad])
            else {
                panic!("{field}: a bad event was accepted");
            };
            assert!(message.starts_with("event 2: "), "{message}");
            assert!(message.contains(field), "{field}: {message}");
        }
    }

    #[test]
    fn batches_are_bounded() {
        assert!(parse_batch(vec![good(); MAX_BATCH]).is_ok());
        assert!(parse_batch(vec![good(); MAX_BATCH + 1]).is_err());
        assert!(parse_batch(Vec::new()).unwrap().is_empty());
    }
}
