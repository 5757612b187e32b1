//! An audit event as stored, and the bytes of it that the Merkle log hashes.
//!
//! ```text
//! leaf data = "rampart.audit.leaf.v1\n"
//!             || field(log_id) || field(event_id) || field(tenant_id)
//!             || field(actor) || field(credential_id) || field(action)
//!             || field(target) || field(occurred_at) || field(service)
//!             || field(request_id) || field(outcome) || field(client_addr)
//!             || schema_version as 4 bytes big-endian
//!             || number of details as 8 bytes big-endian
//!             || field(key) || field(value)   for each detail, keys in byte order
//! field(x)  = len(x) as 8 bytes big-endian || x (UTF-8)
//! leaf hash = SHA-256(0x00 || leaf data)               (RFC 6962)
//! ```
//!
//! The length prefixes make the encoding unambiguous; the log id binds an
//! event to its log, so it cannot be replayed into another. Every stored
//! field is covered, including the ones that look like metadata.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::merkle::{Hash, leaf_hash};

const LEAF_FORMAT: &[u8] = b"rampart.audit.leaf.v1\n";

/// One stored event: every field its leaf hash covers. Text that came from
/// callers is stored escaped ([`escape_text`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub event_id: String,
    /// Empty for platform events.
    pub tenant_id: String,
    pub actor: String,
    pub credential_id: String,
    pub action: String,
    pub target: String,
    /// RFC 3339 in UTC with microseconds, exactly as stored.
    pub occurred_at: String,
    /// The producing service, from its certificate.
    pub service: String,
    pub request_id: String,
    pub outcome: String,
    pub client_addr: String,
    pub details: BTreeMap<String, String>,
    pub schema_version: u32,
}

impl Event {
    /// The bytes its leaf hash covers, in the log `log_id`.
    #[must_use]
    pub fn leaf_data(&self, log_id: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(LEAF_FORMAT);
        let mut field = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        for text in [
            log_id,
            &self.event_id,
            &self.tenant_id,
            &self.actor,
            &self.credential_id,
            &self.action,
            &self.target,
            &self.occurred_at,
            &self.service,
            &self.request_id,
            &self.outcome,
            &self.client_addr,
        ] {
            field(text.as_bytes());
        }
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        out.extend_from_slice(&(self.details.len() as u64).to_be_bytes());
        for (key, value) in &self.details {
            for bytes in [key.as_bytes(), value.as_bytes()] {
                out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
        out
    }

    /// Its RFC 6962 leaf hash in the log `log_id`.
    #[must_use]
    pub fn leaf_hash(&self, log_id: &str) -> Hash {
        leaf_hash(&self.leaf_data(log_id))
    }
}

/// Escapes text from callers so that, printed anywhere (a terminal, a log
/// line, a JSON lines export), it cannot start a new line, move the cursor
/// or reorder what follows it: a backslash becomes `\\`, and control
/// characters, line and paragraph separators, bidirectional overrides and
/// invisible format characters become `\u{XXXX}`. Everything else, including
/// any other non-ASCII text, is kept. The escaping is reversible, and text
/// that needed none is unchanged.
#[must_use]
pub fn escape_text(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if needs_escape(c) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// Whether stored text is in escaped form: what an offline verifier checks
/// before it trusts a value to be printable.
#[must_use]
pub fn is_escaped(text: &str) -> bool {
    !text.chars().any(|c| c != '\\' && needs_escape(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Event {
        Event {
            event_id: "0192f0c1-7e4a-7b1d-9c3e-000000000001".to_owned(),
            tenant_id: "ten_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
            actor: "api_key:key_1".to_owned(),
            credential_id: "key_1".to_owned(),
            action: "customer.created".to_owned(),
            target: "customer:1".to_owned(),
            occurred_at: "2025-01-02T03:04:05.000006Z".to_owned(),
            service: "crm".to_owned(),
            request_id: "req-1".to_owned(),
            outcome: "success".to_owned(),
            client_addr: "192.0.2.7".to_owned(),
            details: BTreeMap::from([("reason".to_owned(), "x".to_owned())]),
            schema_version: 1,
        }
    }

    #[test]
    fn every_field_changes_the_leaf() {
        let base = sample();
        let log = base.tenant_id.clone();
        let changes: Vec<fn(&mut Event)> = vec![
            |e| e.event_id.push('0'),
            |e| e.tenant_id.clear(),
            |e| e.actor.push('x'),
            |e| e.credential_id.clear(),
            |e| e.action = "tenant.created".to_owned(),
            |e| e.target.push('2'),
            |e| e.occurred_at = "2025-01-02T03:04:05.000007Z".to_owned(),
            |e| e.service = "auth".to_owned(),
            |e| e.request_id.clear(),
            |e| e.outcome = "failure".to_owned(),
            |e| e.client_addr.clear(),
            |e| {
                e.details.insert("reason".to_owned(), "y".to_owned());
            },
            |e| {
                e.details.insert("role".to_owned(), "x".to_owned());
            },
            |e| e.schema_version = 2,
        ];
        for change in changes {
            let mut changed = base.clone();
            change(&mut changed);
            assert_ne!(changed.leaf_hash(&log), base.leaf_hash(&log), "{changed:?}");
        }
        assert_ne!(base.leaf_hash(&log), base.leaf_hash("platform"));
    }

    #[test]
    fn the_encoding_is_unambiguous() {
        let mut a = sample();
        let mut b = sample();
        a.actor = "ab".to_owned();
        a.credential_id = "c".to_owned();
        b.actor = "a".to_owned();
        b.credential_id = "bc".to_owned();
        assert_ne!(a.leaf_hash("l"), b.leaf_hash("l"));
        a.details = BTreeMap::from([("ab".to_owned(), "c".to_owned())]);
        b.details = BTreeMap::from([("a".to_owned(), "bc".to_owned())]);
        a.actor = "x".to_owned();
        b.actor = "x".to_owned();
        a.credential_id = "y".to_owned();
        b.credential_id = "y".to_owned();
        assert_ne!(a.leaf_hash("l"), b.leaf_hash("l"));
    }

    #[test]
    fn escaping_keeps_text_on_one_line() {
        assert_eq!(escape_text("plain ünïcode"), "plain ünïcode");
        assert_eq!(
            escape_text("a\nb\\c\u{202e}d\u{2028}"),
            "a\\u{000a}b\\\\c\\u{202e}d\\u{2028}"
        );
        assert_eq!(escape_text("\u{1b}[2J"), "\\u{001b}[2J");
        for raw in ["x\ny", "\r", "\u{7f}", "\u{200b}", "a\\nb"] {
            let escaped = escape_text(raw);
            assert!(is_escaped(&escaped), "{escaped:?}");
            assert!(!escaped.contains('\n'));
        }
        assert!(!is_escaped("x\ny"));
        // Escaping is injective: a literal backslash-n differs from a newline.
        assert_ne!(escape_text("a\\u{000a}"), escape_text("a\n"));
    }
}
