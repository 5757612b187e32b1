//! Guardrails on AI replies: what a reply the AI proposes may not contain,
//! and what happens to it.
//!
//! Each check is a pure function over the reply's text:
//! - [`secrets`]: Rampart's key formats, cloud and SaaS tokens, JWTs, PEM
//!   private keys, and credentials written after "password:" and the like;
//! - [`personal`]: card numbers (by Luhn), and phone numbers and e-mail
//!   addresses that are not the conversation's customer's own;
//! - [`links`]: links to hosts outside the tenant's allowlist;
//! - [`advice`]: legal and medical advice, and the tenant's forbidden
//!   phrases, matched on the normalised words as detection does.
//!
//! The first three give spans, which are masked with `[redacted]` (the
//! outcome is REDACT), unless masking would leave mostly redactions, when
//! the reply is blocked; the last gives findings that block the reply.
//! A finding says what kind of thing was found and why, never the thing.

pub mod advice;
pub mod links;
pub mod personal;
pub mod secrets;

use std::ops::Range;

use crate::patterns::Pattern;
use crate::policies::CompiledPolicy;
use crate::tenant_policy::Guardrails;

/// The longest reply reviewed, in characters (the same bound as a
/// customer's message).
pub const MAX_REPLY_CHARS: usize = crate::message::MAX_TEXT_CHARS;
/// What a masked span becomes.
pub const MASK: &str = "[redacted]";

/// What kind of thing a finding is; the wire names are the proto's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Secret,
    CardNumber,
    OtherCustomerContact,
    ForbiddenPhrase,
    Link,
    LegalAdvice,
    MedicalAdvice,
}

impl Kind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::CardNumber => "card_number",
            Self::OtherCustomerContact => "other_customer_contact",
            Self::ForbiddenPhrase => "forbidden_phrase",
            Self::Link => "link",
            Self::LegalAdvice => "legal_advice",
            Self::MedicalAdvice => "medical_advice",
        }
    }
}

/// One thing found in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    /// Why, in words; never the secret or the personal data itself.
    pub reason: String,
}

/// A part of the reply to mask, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte offsets into the reply, on character boundaries.
    pub range: Range<usize>,
    pub finding: Finding,
}

impl Span {
    pub(crate) fn new(range: Range<usize>, kind: Kind, reason: impl Into<String>) -> Self {
        Self {
            range,
            finding: Finding {
                kind,
                reason: reason.into(),
            },
        }
    }
}

/// What happens to the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    Redact,
    Block,
}

/// The verdict on one reply.
#[derive(Clone, PartialEq, Eq)]
pub struct Review {
    pub outcome: Outcome,
    /// The reply as it may leave: as proposed when allowed, masked when
    /// redacted, empty when blocked.
    pub text: String,
    /// Without duplicates, in the order found.
    pub findings: Vec<Finding>,
}

/// Shows the outcome and findings only: the text is the AI's reply.
impl std::fmt::Debug for Review {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Review")
            .field("outcome", &self.outcome)
            .field("findings", &self.findings)
            .finish_non_exhaustive()
    }
}

impl Review {
    /// The finding kinds, comma-joined without duplicates, for logs and
    /// the audit record.
    #[must_use]
    pub fn kinds(&self) -> String {
        let mut kinds: Vec<&str> = Vec::new();
        for kind in self.findings.iter().map(|finding| finding.kind.as_str()) {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds.join(",")
    }
}

/// Reviews a reply under the tenant's policy. `customer_contacts` are the
/// conversation's own customer's phone numbers and e-mail addresses.
#[must_use]
pub fn review(text: &str, customer_contacts: &[String], policy: &CompiledPolicy) -> Review {
    review_with(
        text,
        customer_contacts,
        &policy.policy.guardrails,
        &policy.forbidden_phrases,
    )
}

/// [`review`] with the guardrails and the compiled forbidden phrases.
fn review_with(
    text: &str,
    customer_contacts: &[String],
    guardrails: &Guardrails,
    forbidden: &[Pattern],
) -> Review {
    let mut spans = secrets::find(text);
    spans.extend(personal::find(
        text,
        customer_contacts,
        &guardrails.allowed_link_hosts,
    ));
    spans.extend(links::find(text, &guardrails.allowed_link_hosts));
    let blocking = advice::find(text, guardrails, forbidden);

    let mut findings: Vec<Finding> = Vec::new();
    for finding in spans
        .iter()
        .map(|span| &span.finding)
        .chain(blocking.iter())
    {
        if !findings.contains(finding) {
            findings.push(finding.clone());
        }
    }
    if findings.is_empty() {
        return Review {
            outcome: Outcome::Allow,
            text: text.to_owned(),
            findings,
        };
    }
    let masked = mask(text, spans.into_iter().map(|span| span.range).collect());
    if !blocking.is_empty() || mostly_redactions(text, &masked) {
        return Review {
            outcome: Outcome::Block,
            text: String::new(),
            findings,
        };
    }
    Review {
        outcome: Outcome::Redact,
        text: masked,
        findings,
    }
}

/// Replaces every range (merged where they overlap or touch) by [`MASK`].
fn mask(text: &str, mut ranges: Vec<Range<usize>>) -> String {
    ranges.sort_by_key(|range| range.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for range in merged {
        out.push_str(&text[at..range.start]);
        out.push_str(MASK);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether what is left after masking is mostly masks: such a reply says
/// nothing useful and is stopped instead.
fn mostly_redactions(original: &str, masked: &str) -> bool {
    let visible = |text: &str| text.chars().filter(|c| c.is_alphanumeric()).count();
    let masks = masked.matches(MASK).count();
    let left = visible(masked).saturating_sub(masks * visible(MASK));
    let before = visible(original);
    before > 0 && left * 2 < before
}

/// Maximal runs of characters for which `keep` holds, with byte ranges.
pub(crate) fn runs(text: &str, keep: impl Fn(char) -> bool) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (at, c) in text.char_indices() {
        match (keep(c), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                out.push(from..at);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        out.push(from..text.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Review {
        review_with(text, &[], &Guardrails::default(), &[])
    }

    #[test]
    fn a_plain_reply_is_allowed_as_it_is() {
        let review = check("Our shop opens at 9am, order 12345 ships on Monday.");
        assert_eq!(review.outcome, Outcome::Allow);
        assert_eq!(
            review.text,
            "Our shop opens at 9am, order 12345 ships on Monday."
        );
        assert!(review.findings.is_empty());
    }

    #[test]
    fn a_secret_is_masked_and_the_rest_kept() {
        let key = "AKIAIOSFODNN7EXAMPLE";
        let review = check(&format!(
            "Sure, here is the configuration you asked for today: access key {key}, region eu-west-1."
        ));
        assert_eq!(review.outcome, Outcome::Redact);
        assert!(!review.text.contains("AKIA"), "{}", review.text);
        assert!(!review.text.contains("EXAMPLE"), "{}", review.text);
        assert!(review.text.contains("access key [redacted], region"));
        assert_eq!(review.findings.len(), 1);
        assert_eq!(review.findings[0].kind, Kind::Secret);
        assert!(!review.findings[0].reason.contains(key));
    }

    #[test]
    fn a_reply_that_is_mostly_a_secret_is_blocked() {
        let review = check("ghp_abcdefghijklmnopqrstuvwxyz0123456789");
        assert_eq!(review.outcome, Outcome::Block);
        assert!(review.text.is_empty());
        assert_eq!(review.findings[0].kind, Kind::Secret);
    }

    #[test]
    fn advice_blocks_even_with_redactions() {
        let review = check(
            "You have a strong case and you should sue them; see https://lawyers.example.net/x",
        );
        assert_eq!(review.outcome, Outcome::Block);
        let kinds = review.kinds();
        assert_eq!(kinds, "link,legal_advice");
    }

    #[test]
    fn odd_text_never_breaks_the_review() {
        for text in [
            "é@é.com ü-----BEGIN PRIVATE KEY-----",
            "wwwé. https://é/ɑ www.é",
            "+١٢٣ ４２４２ ４２４２ ４２４２ ４２４２",
            "password:é password:",
            "-----BEGIN ",
            "@",
            "take",
        ] {
            let _ = check(text);
        }
    }

    proptest::proptest! {
        #[test]
        fn a_redacted_reply_keeps_no_finding(text in "([a-zA-Z0-9 .:/@+_=-]|é|ü|\\n){0,300}") {
            let review = check(&text);
            if review.outcome == Outcome::Allow {
                proptest::prop_assert_eq!(&review.text, &text);
            }
            if review.outcome == Outcome::Redact {
                proptest::prop_assert!(review.text.contains(MASK));
            }
        }

        #[test]
        fn secrets_in_prose_are_masked_whole(
            before in "[a-z ]{0,40}",
            body in "[A-Za-z0-9]{40}",
            after in "[a-z ]{0,40}",
        ) {
            let text = format!("{before} rk_live_{body} {after} and more words to keep it a reply");
            let review = check(&text);
            proptest::prop_assert!(!review.text.contains(&body[..8]));
        }
    }

    #[test]
    fn masks_merge_where_they_touch() {
        assert_eq!(
            mask("abcdef", vec![1..3, 2..4, 5..6]),
            "a[redacted]e[redacted]"
        );
        assert_eq!(mask("abc", vec![]), "abc");
    }
}
