//! A tenant's escalation policy: the document behind `GET` and
//! `PUT /v1/escalation/policy`, stored as a new version on every write.
//!
//! It holds what detection adds ([`DetectionPolicy`]), severities per
//! intent, response-time targets per severity, the escalation contacts, the
//! escalation chain and the guardrails on AI replies. Every field has a
//! default, so `{}` is a valid policy and the built-in version 0 is
//! `TenantPolicy::default()`.
//!
//! The chain works as PagerDuty's does: level 1 is notified when the
//! handoff opens and has until the handoff's due time (from the response
//! targets); each later level is notified when the level before it missed
//! its deadline, and has its own `delay_secs`. After the last level the
//! whole chain starts again, `repeats` times. When the repeats are spent
//! the handoff stays with the last level, which is why every level must
//! name at least one contact or role: a handoff never ends up with nobody.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::policy::{DetectionPolicy, SeverityName};

/// The whole policy document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPolicy {
    /// Intents and languages the tenant adds to detection.
    #[serde(default)]
    pub detection: DetectionPolicy,
    /// Severity per intent (built-in or the tenant's), overriding the
    /// built-in severity. An emergency or security intent can be raised but
    /// never lowered below high.
    #[serde(default)]
    pub severities: BTreeMap<String, SeverityName>,
    #[serde(default)]
    pub response_targets: ResponseTargets,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub chain: Chain,
    #[serde(default)]
    pub guardrails: Guardrails,
    /// Where escalation notifications are posted, signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

/// How soon a person must answer a handoff, per severity, in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseTargets {
    pub critical_secs: u32,
    pub high_secs: u32,
    pub medium_secs: u32,
    pub low_secs: u32,
}

impl Default for ResponseTargets {
    fn default() -> Self {
        Self {
            critical_secs: 5 * 60,
            high_secs: 15 * 60,
            medium_secs: 60 * 60,
            low_secs: 4 * 60 * 60,
        }
    }
}

/// Someone escalations reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Unique within the policy; levels name contacts by it.
    pub name: String,
    pub kind: ContactKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164, for the telephony issue's calls and texts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// What a contact is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Security,
    Billing,
    TechnicalIncident,
    General,
}

/// The escalation chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// At least one level, at most 10.
    pub levels: Vec<Level>,
    /// How many times the whole chain starts again after its last level.
    #[serde(default)]
    pub repeats: u32,
}

impl Default for Chain {
    /// One level: the tenant's managers and owners, reminded twice.
    fn default() -> Self {
        Self {
            levels: vec![Level {
                contacts: Vec::new(),
                roles: vec!["manager".to_owned(), "owner".to_owned()],
                delay_secs: 15 * 60,
            }],
            repeats: 2,
        }
    }
}

/// One level of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Contact names from `contacts`.
    #[serde(default)]
    pub contacts: Vec<String>,
    /// Tenant roles (`owner`, `manager`, `agent`) whose users see the
    /// handoff as theirs at this level.
    #[serde(default)]
    pub roles: Vec<String>,
    /// How long this level has before the next is notified (level 1 has
    /// until the due time instead, and uses this only on repeats).
    pub delay_secs: u32,
}

/// What the guardrails check in every AI reply, beyond what they always
/// check (secrets and key-like strings, card numbers, other customers'
/// contact details).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guardrails {
    /// Phrases or promises the AI must not make ("full refund",
    /// "guaranteed"), in the pattern language of [`crate::patterns`].
    pub forbidden_phrases: Vec<String>,
    /// Hosts the AI may link to (a host allows its subdomains). Any other
    /// link is a finding.
    pub allowed_link_hosts: Vec<String>,
    /// Legal advice in a reply is blocked.
    pub block_legal_advice: bool,
    /// Medical advice in a reply is blocked.
    pub block_medical_advice: bool,
    /// What a blocked reply does to the conversation.
    pub on_block: OnBlock,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            forbidden_phrases: Vec::new(),
            allowed_link_hosts: Vec::new(),
            block_legal_advice: true,
            block_medical_advice: true,
            on_block: OnBlock::Handoff,
        }
    }
}

/// What a blocked AI reply does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBlock {
    /// Hand the conversation to a person.
    #[default]
    Handoff,
    /// Keep it with the AI, which may propose another reply.
    Retry,
}

/// A signed webhook for escalation notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `https://` (or `http://` to a loopback address, for development).
    pub url: String,
    /// The signing secret, at least 32 characters. Write-only: never
    /// serialised back; a write without it keeps the previous one.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
}
