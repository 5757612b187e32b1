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

use crate::detector::Detector;
use crate::intents::{Intent, Severity};
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `https://` (or `http://` to a loopback address, for development).
    pub url: String,
    /// The signing secret, at least 32 characters. Write-only: never
    /// serialised back; a write without it keeps the previous one.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
}

/// Leaves the secret out: a policy is logged and compared in tests.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The largest policy document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The shortest and longest response target or level delay, in seconds
/// (one second, so tests can watch a deadline pass; seven days).
pub const TARGET_SECS: std::ops::RangeInclusive<u32> = 1..=604_800;
/// Most levels in a chain, and most repeats of it.
pub const MAX_LEVELS: usize = 10;
pub const MAX_REPEATS: u32 = 10;
/// Most contacts, forbidden phrases and allowed link hosts.
pub const MAX_CONTACTS: usize = 100;
pub const MAX_FORBIDDEN_PHRASES: usize = 500;
pub const MAX_LINK_HOSTS: usize = 200;
/// The shortest and longest webhook signing secret, in characters.
pub const WEBHOOK_SECRET_CHARS: std::ops::RangeInclusive<usize> = 32..=512;
/// The roles a level may name.
pub const LEVEL_ROLES: [&str; 3] = ["owner", "manager", "agent"];

/// What is wrong with a policy document: the field (`contacts[1].email`)
/// and the problem. Shown to the caller as it is, so it never holds a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidPolicy {
    pub field: String,
    pub problem: String,
}

impl InvalidPolicy {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// The top-level sections of the document, as the audit record names them.
pub const SECTIONS: [&str; 7] = [
    "detection",
    "severities",
    "response_targets",
    "contacts",
    "chain",
    "guardrails",
    "webhook",
];

impl TenantPolicy {
    /// Parses a document strictly (unknown fields are refused) and checks
    /// it. `had_secret` tells whether the version before it holds a webhook
    /// secret, which a document without one keeps.
    pub fn parse(document: &str, had_secret: bool) -> Result<Self, InvalidPolicy> {
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(InvalidPolicy::new(
                "document",
                format!("must be at most {MAX_DOCUMENT_BYTES} bytes"),
            ));
        }
        let policy: Self = serde_json::from_str(document).map_err(|error| {
            // serde's message names the field and the line, not the values
            // of well-typed fields.
            InvalidPolicy::new("document", format!("is not a valid policy: {error}"))
        })?;
        policy.check(had_secret)?;
        Ok(policy)
    }

    /// The document as stored and returned: JSON, without the secret.
    #[must_use]
    pub fn to_document(&self) -> String {
        serde_json::to_string(self).expect("a policy serialises")
    }

    /// Checks everything serde cannot: detection compiles, names are known,
    /// numbers are in range, contacts are reachable.
    pub fn check(&self, had_secret: bool) -> Result<(), InvalidPolicy> {
        Detector::new(&self.detection)
            .map_err(|error| InvalidPolicy::new("detection", error.to_string()))?;
        self.check_severities()?;
        self.check_targets()?;
        self.check_contacts()?;
        self.check_chain()?;
        self.check_guardrails()?;
        self.check_webhook(had_secret)
    }

    /// The effective severity of an intent found: the policy's, else the
    /// intent's own.
    #[must_use]
    pub fn severity_of(&self, intent: &str, built_in: Severity) -> Severity {
        self.severities
            .get(intent)
            .map_or(built_in, |name| Severity::from(*name))
    }

    /// The top-level sections that differ from `before`, in document order.
    /// A new webhook secret counts as a change of `webhook`.
    #[must_use]
    pub fn changed_sections(&self, before: &Self) -> Vec<&'static str> {
        let differs = |section: &str| match section {
            "detection" => self.detection != before.detection,
            "severities" => self.severities != before.severities,
            "response_targets" => self.response_targets != before.response_targets,
            "contacts" => self.contacts != before.contacts,
            "chain" => self.chain != before.chain,
            "guardrails" => self.guardrails != before.guardrails,
            _ => self.webhook != before.webhook,
        };
        SECTIONS
            .into_iter()
            .filter(|section| differs(section))
            .collect()
    }

    fn check_severities(&self) -> Result<(), InvalidPolicy> {
        for (name, severity) in &self.severities {
            let field = format!("severities.{name}");
            let built_in = Intent::parse(name);
            let custom = self.detection.intents.iter().any(|i| i.name == *name);
            if built_in.is_none() && !custom {
                return Err(InvalidPolicy::new(
                    field,
                    "names no built-in intent and none of the policy's own",
                ));
            }
            let must_stay_high = matches!(built_in, Some(Intent::Emergency | Intent::Security));
            if must_stay_high && Severity::from(*severity) < Severity::High {
                return Err(InvalidPolicy::new(field, "must be high or critical"));
            }
        }
        Ok(())
    }

    fn check_targets(&self) -> Result<(), InvalidPolicy> {
        let targets = &self.response_targets;
        for (name, secs) in [
            ("critical_secs", targets.critical_secs),
            ("high_secs", targets.high_secs),
            ("medium_secs", targets.medium_secs),
            ("low_secs", targets.low_secs),
        ] {
            if !TARGET_SECS.contains(&secs) {
                return Err(InvalidPolicy::new(
                    format!("response_targets.{name}"),
                    "must be 1 to 604800 seconds",
                ));
            }
        }
        Ok(())
    }

    fn check_contacts(&self) -> Result<(), InvalidPolicy> {
        if self.contacts.len() > MAX_CONTACTS {
            return Err(InvalidPolicy::new(
                "contacts",
                format!("must hold at most {MAX_CONTACTS} contacts"),
            ));
        }
        for (n, contact) in self.contacts.iter().enumerate() {
            let field = |name: &str| format!("contacts[{n}].{name}");
            let name = contact.name.trim();
            if name.is_empty() || name.chars().count() > 100 || name != contact.name {
                return Err(InvalidPolicy::new(
                    field("name"),
                    "must be 1 to 100 characters without surrounding spaces",
                ));
            }
            if self.contacts[..n].iter().any(|c| c.name == contact.name) {
                return Err(InvalidPolicy::new(field("name"), "is used twice"));
            }
            if contact.email.is_none() && contact.phone.is_none() {
                return Err(InvalidPolicy::new(
                    field("email"),
                    "or phone is needed to reach the contact",
                ));
            }
            if let Some(email) = &contact.email
                && !is_email(email)
            {
                return Err(InvalidPolicy::new(
                    field("email"),
                    "must be an e-mail address",
                ));
            }
            if let Some(phone) = &contact.phone
                && !is_e164(phone)
            {
                return Err(InvalidPolicy::new(
                    field("phone"),
                    "must be an E.164 number such as +14155550123",
                ));
            }
        }
        Ok(())
    }

    fn check_chain(&self) -> Result<(), InvalidPolicy> {
        let levels = &self.chain.levels;
        if levels.is_empty() || levels.len() > MAX_LEVELS {
            return Err(InvalidPolicy::new(
                "chain.levels",
                format!("must hold 1 to {MAX_LEVELS} levels"),
            ));
        }
        if self.chain.repeats > MAX_REPEATS {
            return Err(InvalidPolicy::new(
                "chain.repeats",
                format!("must be at most {MAX_REPEATS}"),
            ));
        }
        for (n, level) in levels.iter().enumerate() {
            let field = |name: &str| format!("chain.levels[{n}].{name}");
            if level.contacts.is_empty() && level.roles.is_empty() {
                return Err(InvalidPolicy::new(
                    field("contacts"),
                    "or roles must name someone: a handoff never ends up with nobody",
                ));
            }
            if let Some(unknown) = level
                .contacts
                .iter()
                .find(|name| !self.contacts.iter().any(|c| c.name == **name))
            {
                return Err(InvalidPolicy::new(
                    field("contacts"),
                    format!("names {unknown:?}, which is not in contacts"),
                ));
            }
            if let Some(unknown) = level
                .roles
                .iter()
                .find(|role| !LEVEL_ROLES.contains(&role.as_str()))
            {
                return Err(InvalidPolicy::new(
                    field("roles"),
                    format!("names {unknown:?}; roles are owner, manager or agent"),
                ));
            }
            if !TARGET_SECS.contains(&level.delay_secs) {
                return Err(InvalidPolicy::new(
                    field("delay_secs"),
                    "must be 1 to 604800 seconds",
                ));
            }
        }
        Ok(())
    }

    fn check_guardrails(&self) -> Result<(), InvalidPolicy> {
        let guardrails = &self.guardrails;
        if guardrails.forbidden_phrases.len() > MAX_FORBIDDEN_PHRASES {
            return Err(InvalidPolicy::new(
                "guardrails.forbidden_phrases",
                format!("must hold at most {MAX_FORBIDDEN_PHRASES} phrases"),
            ));
        }
        for (n, phrase) in guardrails.forbidden_phrases.iter().enumerate() {
            crate::policy::compile_phrase(phrase).map_err(|error| {
                InvalidPolicy::new(
                    format!("guardrails.forbidden_phrases[{n}]"),
                    error.to_string(),
                )
            })?;
        }
        if guardrails.allowed_link_hosts.len() > MAX_LINK_HOSTS {
            return Err(InvalidPolicy::new(
                "guardrails.allowed_link_hosts",
                format!("must hold at most {MAX_LINK_HOSTS} hosts"),
            ));
        }
        for (n, host) in guardrails.allowed_link_hosts.iter().enumerate() {
            if !is_hostname(host) {
                return Err(InvalidPolicy::new(
                    format!("guardrails.allowed_link_hosts[{n}]"),
                    "must be a host name such as help.example.com",
                ));
            }
        }
        Ok(())
    }

    fn check_webhook(&self, had_secret: bool) -> Result<(), InvalidPolicy> {
        let Some(webhook) = &self.webhook else {
            return Ok(());
        };
        if !is_webhook_url(&webhook.url) {
            return Err(InvalidPolicy::new(
                "webhook.url",
                "must be an https:// URL (http:// only to a loopback address)",
            ));
        }
        match &webhook.secret {
            // Printable only: the secret is stored as text, and a NUL or a
            // line break in it would be refused by PostgreSQL or mangled by
            // whoever copies it to the receiver.
            Some(secret)
                if !WEBHOOK_SECRET_CHARS.contains(&secret.chars().count())
                    || secret.chars().any(char::is_control) =>
            {
                Err(InvalidPolicy::new(
                    "webhook.secret",
                    "must be 32 to 512 printable characters",
                ))
            }
            None if !had_secret => Err(InvalidPolicy::new(
                "webhook.secret",
                "is needed when a webhook is first set",
            )),
            _ => Ok(()),
        }
    }
}

/// A plain e-mail address: one `@`, a local part, a dotted domain, no
/// spaces or controls. Deliverability is the mail server's to judge.
pub(crate) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && is_hostname(domain)
}

/// E.164: `+`, then 8 to 15 digits, the first not 0.
pub(crate) fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A DNS host name: labels of ASCII letters, digits and inner hyphens.
pub(crate) fn is_hostname(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `https://host[:port][/path]`, or `http://` to a loopback host.
fn is_webhook_url(url: &str) -> bool {
    let (rest, secure) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, true)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, false)
    } else {
        return false;
    };
    if url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((host, _)) => host,
            None => return false,
        }
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let well_formed = is_hostname(host) || host.parse::<std::net::IpAddr>().is_ok();
    well_formed && (secure || loopback)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(document: &str) -> InvalidPolicy {
        TenantPolicy::parse(document, false).unwrap_err()
    }

    #[test]
    fn an_empty_document_is_the_default_policy() {
        assert_eq!(
            TenantPolicy::parse("{}", false).unwrap(),
            TenantPolicy::default()
        );
        let default = TenantPolicy::default().to_document();
        assert_eq!(
            TenantPolicy::parse(&default, false).unwrap(),
            TenantPolicy::default()
        );
    }

    #[test]
    fn each_problem_names_its_field() {
        let cases = [
            (r#"{"colour": 1}"#, "document"),
            (
                r#"{"severities": {"emergency": "low"}}"#,
                "severities.emergency",
            ),
            (
                r#"{"severities": {"security": "medium"}}"#,
                "severities.security",
            ),
            (
                r#"{"severities": {"weather": "low"}}"#,
                "severities.weather",
            ),
            (
                r#"{"response_targets": {"low_secs": 0}}"#,
                "response_targets.low_secs",
            ),
            (
                r#"{"response_targets": {"high_secs": 604801}}"#,
                "response_targets.high_secs",
            ),
            (
                r#"{"contacts": [{"name": "a", "kind": "security", "email": "nope"}]}"#,
                "contacts[0].email",
            ),
            (
                r#"{"contacts": [{"name": "a", "kind": "billing", "phone": "0155"}]}"#,
                "contacts[0].phone",
            ),
            (
                r#"{"contacts": [{"name": "a", "kind": "general"}]}"#,
                "contacts[0].email",
            ),
            (
                r#"{"contacts": [{"name": "a", "kind": "general", "phone": "+14155550123"}, {"name": "a", "kind": "general", "phone": "+14155550124"}]}"#,
                "contacts[1].name",
            ),
            (r#"{"chain": {"levels": []}}"#, "chain.levels"),
            (
                r#"{"chain": {"levels": [{"delay_secs": 60}]}}"#,
                "chain.levels[0].contacts",
            ),
            (
                r#"{"chain": {"levels": [{"contacts": ["ghost"], "delay_secs": 60}]}}"#,
                "chain.levels[0].contacts",
            ),
            (
                r#"{"chain": {"levels": [{"roles": ["ceo"], "delay_secs": 60}]}}"#,
                "chain.levels[0].roles",
            ),
            (
                r#"{"chain": {"levels": [{"roles": ["agent"], "delay_secs": 0}]}}"#,
                "chain.levels[0].delay_secs",
            ),
            (
                r#"{"chain": {"levels": [{"roles": ["agent"], "delay_secs": 60}], "repeats": 11}}"#,
                "chain.repeats",
            ),
            (
                r#"{"guardrails": {"forbidden_phrases": ["x?"]}}"#,
                "guardrails.forbidden_phrases[0]",
            ),
            (
                r#"{"guardrails": {"allowed_link_hosts": ["https://example.com"]}}"#,
                "guardrails.allowed_link_hosts[0]",
            ),
            (
                r#"{"webhook": {"url": "http://example.com/hook", "secret": "0123456789abcdef0123456789abcdef"}}"#,
                "webhook.url",
            ),
            (
                r#"{"webhook": {"url": "https://example.com/hook", "secret": "short"}}"#,
                "webhook.secret",
            ),
            (
                r#"{"webhook": {"url": "https://example.com/hook"}}"#,
                "webhook.secret",
            ),
            (
                r#"{"webhook": {"url": "https://example.com/hook", "secret": "0123456789abcdef\u00000123456789abcdef"}}"#,
                "webhook.secret",
            ),
            (
                r#"{"detection": {"intents": [{"name": "Bad Name", "severity": "low", "phrases": {}}]}}"#,
                "detection",
            ),
        ];
        for (document, field) in cases {
            let error = invalid(document);
            assert_eq!(error.field, field, "{document}: {error}");
            assert!(error.to_string().starts_with(field), "{error}");
        }
    }

    #[test]
    fn a_webhook_without_a_secret_keeps_the_previous_one() {
        let document = r#"{"webhook": {"url": "https://example.com/hook"}}"#;
        assert!(TenantPolicy::parse(document, true).is_ok());
    }

    #[test]
    fn the_secret_is_never_serialised_or_printed() {
        let secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t";
        let document =
            format!(r#"{{"webhook": {{"url": "http://127.0.0.1:9/hook", "secret": "{secret}"}}}}"#);
        let policy = TenantPolicy::parse(&document, false).unwrap();
        assert!(!policy.to_document().contains(secret));
        assert!(!format!("{policy:?}").contains(secret));
    }

    #[test]
    fn oversize_documents_are_refused_before_parsing() {
        let document = format!(
            r#"{{"contacts": [], "x": "{}"}}"#,
            "a".repeat(MAX_DOCUMENT_BYTES)
        );
        assert_eq!(invalid(&document).field, "document");
    }

    #[test]
    fn tenant_intents_may_have_severities_but_emergency_stays_high() {
        let document = r#"{
            "detection": {"intents": [{"name": "warranty_claim", "severity": "low",
                           "phrases": {"en": ["warranty claim"]}}]},
            "severities": {"warranty_claim": "high", "emergency": "critical", "billing": "low"}
        }"#;
        let policy = TenantPolicy::parse(document, false).unwrap();
        assert_eq!(
            policy.severity_of("warranty_claim", Severity::Low),
            Severity::High
        );
        assert_eq!(policy.severity_of("legal", Severity::High), Severity::High);
    }

    #[test]
    fn changed_sections_name_what_differs() {
        let before = TenantPolicy::default();
        let mut after = before.clone();
        assert!(after.changed_sections(&before).is_empty());
        after.chain.repeats = 3;
        after.guardrails.block_legal_advice = false;
        assert_eq!(after.changed_sections(&before), ["chain", "guardrails"]);
    }

    #[test]
    fn urls_and_hosts() {
        assert!(is_webhook_url("https://hooks.example.com/rampart?x=1"));
        assert!(is_webhook_url("http://127.0.0.1:8080/hook"));
        assert!(is_webhook_url("http://[::1]:8080/hook"));
        assert!(is_webhook_url("http://localhost/hook"));
        assert!(!is_webhook_url("http://10.0.0.1/hook"));
        assert!(!is_webhook_url("https://user@example.com/hook"));
        assert!(!is_webhook_url("ftp://example.com"));
        assert!(!is_webhook_url("https://"));
        assert!(is_hostname("help.example.com"));
        assert!(!is_hostname("-bad.example.com"));
        assert!(!is_hostname("a..b"));
        assert!(is_email("ops@example.com"));
        assert!(!is_email("ops@localhost"));
        assert!(!is_email("a b@example.com"));
        assert!(is_e164("+14155550123"));
        assert!(!is_e164("+0155"));
    }
}
