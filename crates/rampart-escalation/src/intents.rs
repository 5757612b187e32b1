//! Restricted intents: the rules that decide whether a customer's message
//! must go to a human instead of the AI.
//!
//! Pure and synchronous: [`assess`] takes a message and returns the intents
//! it shows, the severity and the action. No I/O, so it is tested here
//! exhaustively and costs microseconds per message.
//!
//! # How matching works
//!
//! The message is first normalised ([`normalise`]): lowercased (Unicode
//! aware), every character that is not a letter or digit turned into a
//! space, and split into words. "I'll SUE you!!!" becomes
//! `["i", "ll", "sue", "you"]`. Patterns are then matched against whole
//! words only, so "suede" never matches "sue" and "fireplace" never matches
//! "fire"; extra whitespace, punctuation and case make no difference.
//!
//! A pattern is a sequence of slots separated by spaces. A slot lists
//! alternatives separated by `|`; `_` joins several words into one
//! alternative (`can_t` stands for "can t", the normalised "can't"); a
//! trailing `?` makes the slot optional. So `speak|talk to|with a|the? human`
//! matches "speak to a human" and "talk with human".
//!
//! The patterns are indexed by the words they can start with, so each word
//! of a message is tried only against the patterns that could match from
//! it (`cargo bench -p rampart-escalation --bench assess`).
//!
//! Some words are safe only in context. "Sue" is also a first name, so it
//! counts when followed by an object ("sue you") or after an intent ("going
//! to sue"), not on its own. A pattern can also refuse a match when the next
//! or previous word shows a harmless compound ("fire pit", "flood
//! insurance", "personal injury"). When in doubt the rules lean toward a
//! handoff: a needless human review costs minutes, a missed emergency or
//! legal threat costs far more.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

/// A kind of request the AI must not answer alone. The variants are in
/// alphabetical order of their names, so sorting intents sorts their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Intent {
    Billing,
    Dispute,
    Emergency,
    HumanRequested,
    Legal,
    Security,
}

impl Intent {
    pub const ALL: [Self; 6] = [
        Self::Billing,
        Self::Dispute,
        Self::Emergency,
        Self::HumanRequested,
        Self::Legal,
        Self::Security,
    ];

    /// The name used on the wire, such as `human_requested`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Billing => "billing",
            Self::Dispute => "dispute",
            Self::Emergency => "emergency",
            Self::HumanRequested => "human_requested",
            Self::Legal => "legal",
            Self::Security => "security",
        }
    }

    /// How urgently a human must take over: danger to people first, then
    /// legal and security exposure, then money, then preference.
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Self::Emergency => Severity::Critical,
            Self::Legal | Self::Security => Severity::High,
            Self::Dispute | Self::Billing => Severity::Medium,
            Self::HumanRequested => Severity::Low,
        }
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a message is, ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Critical,
}

/// Who should answer the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AiAnswer,
    Handoff,
}

/// One restricted intent found in a message, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub intent: Intent,
    /// Names the class of phrase that matched ("legal: mentions suing or
    /// legal action"), never the message itself, which may hold personal
    /// data and is the customer's to repeat, not ours.
    pub reason: String,
}

/// The verdict on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// One per intent found, sorted by intent.
    pub findings: Vec<Finding>,
    /// The highest severity of the findings; [`Severity::None`] without any.
    pub severity: Severity,
    /// [`Action::Handoff`] exactly when something was found.
    pub action: Action,
}

impl Assessment {
    /// The intents found, sorted and without duplicates.
    pub fn intents(&self) -> impl Iterator<Item = Intent> + '_ {
        self.findings.iter().map(|finding| finding.intent)
    }
}

/// Assesses a customer's message.
#[must_use]
pub fn assess(text: &str) -> Assessment {
    let normalised = normalise(text);
    let words: Vec<&str> = normalised.split_whitespace().collect();

    // Only the patterns that can start with a word are tried where it
    // stands, so a message costs a lookup per word plus the patterns that
    // could match, not every pattern at every word.
    let mut matched = vec![false; RULES.rules.len()];
    for (start, word) in words.iter().enumerate() {
        let Some(candidates) = RULES.by_first_word.get(word) else {
            continue;
        };
        for &(rule, pattern) in candidates {
            if !matched[rule] && RULES.rules[rule].patterns[pattern].matches_at(&words, start) {
                matched[rule] = true;
            }
        }
    }

    // Rules are listed most specific first within an intent, so the first
    // rule that matches gives that intent's reason.
    let mut findings: Vec<Finding> = Vec::new();
    for (rule, _) in RULES.rules.iter().zip(matched).filter(|(_, hit)| *hit) {
        if findings.iter().any(|found| found.intent == rule.intent) {
            continue;
        }
        findings.push(Finding {
            intent: rule.intent,
            reason: format!("{}: {}", rule.intent, rule.reason),
        });
    }
    findings.sort_by_key(|finding| finding.intent);

    let severity = findings
        .iter()
        .map(|finding| finding.intent.severity())
        .max()
        .unwrap_or(Severity::None);
    let action = if findings.is_empty() {
        Action::AiAnswer
    } else {
        Action::Handoff
    };
    Assessment {
        findings,
        severity,
        action,
    }
}

/// The message's words after [`crate::normalise`], joined by spaces.
#[must_use]
pub fn normalise(text: &str) -> String {
    crate::normalise::normalise(text).joined()
}

/// A pattern as written in [`RULE_TABLE`], with the words that, next to a
/// match, show it to be harmless.
#[derive(Debug, Clone, Copy)]
struct PatternSpec {
    text: &'static str,
    unless_next: &'static [&'static str],
    unless_previous: &'static [&'static str],
    only_at_end: bool,
}

const fn p(text: &'static str) -> PatternSpec {
    PatternSpec {
        text,
        unless_next: &[],
        unless_previous: &[],
        only_at_end: false,
    }
}

impl PatternSpec {
    /// No match when the word right after the match is one of `words`.
    const fn unless_next(mut self, words: &'static [&'static str]) -> Self {
        self.unless_next = words;
        self
    }

    /// No match when the word right before the match is one of `words`.
    const fn unless_previous(mut self, words: &'static [&'static str]) -> Self {
        self.unless_previous = words;
        self
    }

    /// A match only when nothing follows it.
    const fn only_at_end(mut self) -> Self {
        self.only_at_end = true;
        self
    }
}

struct RuleSpec {
    intent: Intent,
    /// The class of phrase, shown as the reason.
    reason: &'static str,
    patterns: &'static [PatternSpec],
}

/// Words after "fire" that make it a thing for sale or a chore, not a blaze.
const HARMLESS_AFTER_FIRE: &[&str] = &[
    "pit",
    "pits",
    "place",
    "places",
    "extinguisher",
    "extinguishers",
    "safety",
    "inspection",
    "inspections",
    "door",
    "doors",
    "rated",
    "rating",
    "resistant",
    "proof",
    "retardant",
    "wood",
    "starter",
    "starters",
    "insurance",
    "code",
    "codes",
    "drill",
    "drills",
    "escape",
    "brick",
    "bricks",
    "bowl",
    "bowls",
    "pump",
    "pumps",
    "up",
    "off",
];

/// Words after "flood" that make it a product, map or policy.
const HARMLESS_AFTER_FLOOD: &[&str] = &[
    "insurance",
    "zone",
    "zones",
    "light",
    "lights",
    "lamp",
    "lamps",
    "plain",
    "plains",
    "barrier",
    "barriers",
    "defence",
    "defences",
    "defense",
    "defenses",
    "risk",
    "map",
    "maps",
];

/// Words after "in court" / "to court" that make it a street name.
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "road",
    "rd",
    "lane",
    "ln",
    "avenue",
    "ave",
    "drive",
    "dr",
    "way",
    "place",
    "yard",
    "apartments",
];

/// The rules, grouped by intent, most specific first within each.
static RULE_TABLE: &[RuleSpec] = &[
    // Emergency: danger to people or property, now.
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a gas leak or carbon monoxide",
        patterns: &[
            p("gas is|was? leak|leaks|leaking|smell|smells|odor|odour"),
            p("leaking|leaky|smell|smells|smelling|smelled|smelt gas"),
            p("smell|smells|smelling of gas"),
            p("carbon monoxide"),
            p("co poisoning"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a fire or smoke",
        patterns: &[
            p("fire|fires|blaze|flames").unless_next(HARMLESS_AFTER_FIRE),
            p("smell|smells|smelling|smelled|see|seeing|saw|thick|black smoke"),
            p("smoke everywhere|coming|pouring|filling"),
            p("burning smell"),
            p("smell|smells|smelling of? burning"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports an injury or medical emergency",
        patterns: &[
            p("injury|injuries").unless_previous(&["personal"]),
            p("injured|bleeding|unconscious|unresponsive|electrocuted|electrocution"),
            p("overdose|overdosed|ambulance|paramedic|paramedics|poisoned|poisoning"),
            p("swallowed|ingested|drank bleach|poison|chemicals|cleaner|pills|battery|batteries"),
            // A bare "911" is also a house number ("911 Oak Street").
            p(
                "call|calling|called|dial|dialing|dialling|dialed|dialled|phone|phoned|ring|text|texted 911",
            ),
            p("911 now|please|asap|immediately|help|emergency"),
            p("911").only_at_end(),
            p("medical emergency"),
            p("it|this|there|we|i is|s|have|has|got an|a emergency"),
            p("can_t|cannot|cant|can_not|couldn_t breathe"),
            p("not|isn_t|stopped breathing"),
            p("heart attack"),
            p("passed out"),
            p("someone|somebody|badly|seriously is|got? hurt"),
        ],
    },
    RuleSpec {
        intent: Intent::Emergency,
        reason: "reports a flood or burst pipe",
        patterns: &[
            p("flood|floods|flooded|flooding").unless_next(HARMLESS_AFTER_FLOOD),
            p("burst|bursting|exploded pipe|pipes|main|mains"),
            p("pipe|pipes burst"),
            p("water everywhere"),
            p("water pouring|gushing"),
            p("water is|s? coming|pouring|leaking|dripping through|from the? ceiling|roof"),
        ],
    },
    // Legal: threats of legal action, lawyers.
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions suing or legal action",
        patterns: &[
            // "Sue" is also a name: an object or an intent must go with it.
            p("sue you|u|ya|yall|your|the|them|this|that|him|her|everyone|everybody|over"),
            p("i|we|ll|gonna|wanna will|shall|would|could|might? sue"),
            p(
                "going|want|wants|plan|planning|intend|intends|threaten|threatening|decided|ready|prepared to sue",
            ),
            p("sued|suing|lawsuit|lawsuits|litigation|litigate"),
            p("class action"),
            p("legal action|actions|proceedings|claim|case|steps|recourse"),
            p("small claims"),
            p("cease and desist"),
            p("breach of contract"),
            p("in|to court").unless_next(STREET_WORDS),
            p("court case|order|date|summons|hearing"),
        ],
    },
    RuleSpec {
        intent: Intent::Legal,
        reason: "mentions a lawyer",
        patterns: &[
            p("lawyer|lawyers|attorney|attorneys|solicitor|solicitors|barrister|barristers"),
            p("legal counsel|team|department|advice|representation"),
        ],
    },
    // Security: the customer's account, data or money may be in someone
    // else's hands.
    RuleSpec {
        intent: Intent::Security,
        reason: "reports stolen credentials or identity",
        patterns: &[
            p(
                "password|passwords|credentials|login|identity|card|account|details was|were|is|got|been|has_been|have_been? stolen|leaked|compromised",
            ),
            p("stolen|leaked password|passwords|credentials|identity|card|details"),
            p("stole|steal|stealing my password|card|identity|account|details|information|data"),
            p("identity theft|fraud"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports hacking or unauthorised access",
        patterns: &[
            p("hacked|hacker|hackers|hacking|compromised"),
            p(
                "unauthorized|unauthorised access|login|logins|activity|transaction|transactions|charge|charges|purchase|purchases",
            ),
            p(
                "someone|somebody else? accessed|used|broke_into|logged_into|got_into my account|card",
            ),
            p("account takeover"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports a data breach",
        patterns: &[
            // "Breach of contract" is a legal matter, found by the legal rules.
            p("breach|breached|breaches").unless_next(&["of"]),
            p(
                "breach|breaches of data|security|privacy|confidentiality|my|our|your|customer|personal",
            ),
            p("data|security|privacy breach"),
            p("data leak|leaked"),
            p("leaked my|our data|information|details|info"),
        ],
    },
    RuleSpec {
        intent: Intent::Security,
        reason: "reports fraud or phishing",
        patterns: &[
            p("fraud|fraudulent|fraudster|fraudsters"),
            p("phishing|phished|phish"),
            p(
                "suspicious email|emails|link|links|text|texts|message|messages|call|calls|login|activity",
            ),
        ],
    },
    // Dispute: the customer contests a payment or the service.
    RuleSpec {
        intent: Intent::Dispute,
        reason: "mentions a chargeback or payment dispute",
        patterns: &[
            p("chargeback|chargebacks"),
            p("charge back"),
            p("dispute|disputes|disputed|disputing"),
            p("reverse|reversing|reversed the? charge|payment|transaction"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "demands a refund",
        patterns: &[
            p("demand|demands|demanding|demanded a|my|the|full? refund|refunds"),
            p("my money back"),
        ],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "alleges a scam or rip-off",
        patterns: &[p(
            "scam|scams|scammed|scammer|scammers|scamming|ripoff|rip_off|ripped_off|swindled|cheated|con_artist|con_artists",
        )],
    },
    RuleSpec {
        intent: Intent::Dispute,
        reason: "makes a complaint",
        patterns: &[
            p("complaint|complaints|complain|complaining|complained"),
            p("better business bureau"),
            p("bbb"),
        ],
    },
    // Billing: money the customer was or will be charged.
    RuleSpec {
        intent: Intent::Billing,
        reason: "reports a wrong or failed charge",
        patterns: &[
            p("charged twice|double|again|two_times|2x|three_times"),
            p("double charged|charge|charges|billed|billing"),
            p("overcharged|overcharge|overcharging|overbilled|overbilling"),
            p(
                "payment|payments|card|transaction was|is|got|keeps|has_been? failed|failing|declined|bounced|rejected|didn_t_go_through",
            ),
            p("failed|declined|rejected payment|payments|transaction|charge"),
            p("wrong|incorrect|extra|unexpected|hidden charge|charges|fee|fees|amount"),
        ],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks for a refund",
        patterns: &[p(
            "refund|refunds|refunded|refunding|reimburse|reimbursed|reimbursement",
        )],
    },
    RuleSpec {
        intent: Intent::Billing,
        reason: "asks about invoices or bills",
        patterns: &[
            p("invoice|invoices|invoiced|invoicing|billing|billed"),
            // "Bill" is also a name: a determiner must go with it.
            p(
                "my|the|this|that|your|last|latest|monthly|final|first|a gas|water|electric|electricity|power|energy|phone|service? bill|bills",
            ),
        ],
    },
    // Human requested: the customer wants a person, whatever the topic.
    RuleSpec {
        intent: Intent::HumanRequested,
        reason: "asks for a human",
        patterns: &[
            p(
                "speak|talk|chat|speaking|talking|chatting to|with a|an|the|your|some? real|actual|live? human|humans|person|people|agent|representative|rep|manager|supervisor|operator|someone|somebody|staff|employee|owner",
            ),
            p(
                "transfer|connect|put me? to|with|through to? a|an|the|your|some? real|actual|live? human|person|agent|representative|rep|manager|supervisor|operator|someone|somebody",
            ),
            p(
                "want|need|demand|get|give me|us? a|an|the|your real|actual|live? human|manager|supervisor|representative|operator",
            ),
            p("real|actual|live human|humans|person|people|agent"),
            p("human being|please"),
            p("not|no|stop a|an|the? bot|robot|chatbot|machine"),
            p("don_t|do_not want|need a|an|the? bot|robot|chatbot|machine|ai"),
        ],
    },
];

/// One slot of a compiled pattern: any one of its alternatives (each a
/// sequence of words), or nothing if it is optional.
#[derive(Debug)]
struct Slot {
    alternatives: Vec<Vec<&'static str>>,
    optional: bool,
}

#[derive(Debug)]
struct Pattern {
    slots: Vec<Slot>,
    unless_next: &'static [&'static str],
    unless_previous: &'static [&'static str],
    only_at_end: bool,
}

impl Pattern {
    fn compile(spec: &PatternSpec) -> Self {
        let slots = spec
            .text
            .split_whitespace()
            .map(|slot| {
                let (alternatives, optional) = match slot.strip_suffix('?') {
                    Some(rest) => (rest, true),
                    None => (slot, false),
                };
                Slot {
                    alternatives: alternatives
                        .split('|')
                        .map(|alternative| alternative.split('_').collect())
                        .collect(),
                    optional,
                }
            })
            .collect();
        Self {
            slots,
            unless_next: spec.unless_next,
            unless_previous: spec.unless_previous,
            only_at_end: spec.only_at_end,
        }
    }

    /// Whether the pattern matches a run of `words` starting at `start`,
    /// with no harmless word right before or after it.
    fn matches_at(&self, words: &[&str], start: usize) -> bool {
        let harmless_before = start
            .checked_sub(1)
            .is_some_and(|before| self.unless_previous.contains(&words[before]));
        if harmless_before {
            return false;
        }
        let acceptable_end = |end: usize| match words.get(end) {
            _ if end == start => false,
            None => true,
            Some(_) if self.only_at_end => false,
            Some(next) => !self.unless_next.contains(next),
        };
        matches_from(&self.slots, words, start, &acceptable_end)
    }

    /// The words a match can start with. The first slot is never optional
    /// (a test checks the table), so these are its alternatives' first
    /// words.
    fn first_words(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.slots[0]
            .alternatives
            .iter()
            .map(|alternative| alternative[0])
    }
}

/// Whether `slots` match `words` from `position` to some end that
/// `acceptable_end` takes. Tries every way through the optional slots, so
/// "speak to a human" is found whether or not "a" is present.
fn matches_from(
    slots: &[Slot],
    words: &[&str],
    position: usize,
    acceptable_end: &dyn Fn(usize) -> bool,
) -> bool {
    let Some((slot, rest)) = slots.split_first() else {
        return acceptable_end(position);
    };
    if slot.optional && matches_from(rest, words, position, acceptable_end) {
        return true;
    }
    slot.alternatives.iter().any(|alternative| {
        words[position..].starts_with(alternative)
            && matches_from(rest, words, position + alternative.len(), acceptable_end)
    })
}

struct Rule {
    intent: Intent,
    reason: &'static str,
    patterns: Vec<Pattern>,
}

/// [`RULE_TABLE`] compiled, with its patterns indexed by the words they
/// can start with.
struct RuleSet {
    rules: Vec<Rule>,
    /// For each word, the (rule, pattern) pairs that can match from it.
    by_first_word: HashMap<&'static str, Vec<(usize, usize)>>,
}

/// [`RULE_TABLE`] compiled once, on first use.
static RULES: LazyLock<RuleSet> = LazyLock::new(|| {
    let rules: Vec<Rule> = RULE_TABLE
        .iter()
        .map(|spec| Rule {
            intent: spec.intent,
            reason: spec.reason,
            patterns: spec.patterns.iter().map(Pattern::compile).collect(),
        })
        .collect();
    let mut by_first_word: HashMap<&'static str, Vec<(usize, usize)>> = HashMap::new();
    for (r, rule) in rules.iter().enumerate() {
        for (p, pattern) in rule.patterns.iter().enumerate() {
            for word in pattern.first_words() {
                let candidates = by_first_word.entry(word).or_default();
                if !candidates.contains(&(r, p)) {
                    candidates.push((r, p));
                }
            }
        }
    }
    RuleSet {
        rules,
        by_first_word,
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    impl Pattern {
        /// Whether the pattern matches anywhere in `words`, tried at every
        /// word without the index.
        fn is_found_in(&self, words: &[&str]) -> bool {
            (0..words.len()).any(|start| self.matches_at(words, start))
        }
    }

    fn intents(text: &str) -> Vec<Intent> {
        assess(text).intents().collect()
    }

    #[track_caller]
    fn assert_intents(text: &str, expected: &[Intent]) {
        assert_eq!(intents(text), expected, "{text:?}");
    }

    #[track_caller]
    fn assert_only(intent: Intent, texts: &[&str]) {
        for text in texts {
            assert_intents(text, &[intent]);
        }
    }

    #[track_caller]
    fn assert_none(texts: &[&str]) {
        for text in texts {
            assert_intents(text, &[]);
        }
    }

    // The rule table itself.

    #[test]
    fn every_pattern_word_is_already_normalised() {
        // A word that normalisation would change could never match.
        for rule in &RULES.rules {
            for pattern in &rule.patterns {
                assert!(
                    !pattern.slots.is_empty(),
                    "empty pattern in {}",
                    rule.reason
                );
                assert!(
                    !pattern.slots[0].optional,
                    "pattern of {} starts optional",
                    rule.reason
                );
                let words = pattern
                    .slots
                    .iter()
                    .flat_map(|slot| slot.alternatives.iter().flatten())
                    .chain(pattern.unless_next)
                    .chain(pattern.unless_previous);
                for word in words {
                    assert_eq!(normalise(word), *word, "in {}", rule.reason);
                    assert!(!word.is_empty(), "empty word in {}", rule.reason);
                }
            }
        }
    }

    #[test]
    fn every_intent_has_rules() {
        for intent in Intent::ALL {
            assert!(
                RULE_TABLE.iter().any(|rule| rule.intent == intent),
                "{intent}"
            );
        }
    }

    #[test]
    fn intents_sort_by_name() {
        let mut names: Vec<&str> = Intent::ALL.iter().map(|i| i.as_str()).collect();
        names.sort_unstable();
        let by_order: Vec<&str> = Intent::ALL.iter().map(|i| i.as_str()).collect();
        assert_eq!(names, by_order);
    }

    /// The classifier without the index, as it was first written: every
    /// pattern of every rule tried at every word.
    fn assess_by_scanning(text: &str) -> Vec<Finding> {
        let normalised = normalise(text);
        let words: Vec<&str> = normalised.split_whitespace().collect();
        let mut findings: Vec<Finding> = Vec::new();
        for rule in &RULES.rules {
            if findings.iter().any(|found| found.intent == rule.intent) {
                continue;
            }
            let hit = rule
                .patterns
                .iter()
                .any(|pattern| pattern.is_found_in(&words));
            if hit {
                findings.push(Finding {
                    intent: rule.intent,
                    reason: format!("{}: {}", rule.intent, rule.reason),
                });
            }
        }
        findings.sort_by_key(|finding| finding.intent);
        findings
    }

    #[test]
    fn the_index_finds_what_scanning_every_pattern_finds() {
        // Messages made of the rules' own words (and a few others), so
        // that patterns, vetoes and near misses all come up.
        let mut vocabulary: Vec<&str> = RULES
            .rules
            .iter()
            .flat_map(|rule| &rule.patterns)
            .flat_map(|pattern| {
                pattern
                    .slots
                    .iter()
                    .flat_map(|slot| slot.alternatives.iter().flatten().copied())
                    .chain(pattern.unless_next.iter().copied())
                    .chain(pattern.unless_previous.iter().copied())
            })
            .chain(["hello", "opening", "hours", "tomorrow", "please", "x"])
            .collect();
        vocabulary.sort_unstable();
        vocabulary.dedup();

        // A fixed xorshift sequence: the same messages on every run.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % below as u64).expect("fits")
        };
        let mut with_findings = 0;
        for _ in 0..20_000 {
            let length = 1 + next(8);
            let text = (0..length)
                .map(|_| vocabulary[next(vocabulary.len())])
                .collect::<Vec<_>>()
                .join(" ");
            let expected = assess_by_scanning(&text);
            assert_eq!(assess(&text).findings, expected, "{text:?}");
            with_findings += usize::from(!expected.is_empty());
        }
        // Not a comparison of empty answers.
        assert!(
            with_findings > 2_000,
            "only {with_findings} messages matched"
        );
    }

    // The pattern engine.

    fn found(spec: PatternSpec, text: &str) -> bool {
        let normalised = normalise(text);
        let words: Vec<&str> = normalised.split_whitespace().collect();
        Pattern::compile(&spec).is_found_in(&words)
    }

    #[test]
    fn optional_slots_may_be_present_or_absent() {
        let spec = p("speak|talk to a|the? human");
        assert!(found(spec, "speak to a human"));
        assert!(found(spec, "talk to human now"));
        assert!(found(spec, "please, talk to the human"));
        assert!(!found(spec, "speak to an human"));
        assert!(!found(spec, "speak human"));
    }

    #[test]
    fn joined_words_match_in_sequence() {
        let spec = p("can_t|cannot breathe");
        assert!(found(spec, "I can't breathe"));
        assert!(found(spec, "i cannot breathe"));
        assert!(!found(spec, "can breathe"));
        assert!(!found(spec, "t breathe"));
    }

    #[test]
    fn neighbouring_words_can_veto_a_match() {
        let spec = p("fire").unless_next(&["pit"]).unless_previous(&["cease"]);
        assert!(found(spec, "fire"));
        assert!(found(spec, "fire pit fire"));
        assert!(!found(spec, "fire pit"));
        assert!(!found(spec, "cease fire"));
        let spec = p("911").only_at_end();
        assert!(found(spec, "911!"));
        assert!(!found(spec, "911 Oak Street"));
    }

    // Normalisation.

    #[test]
    fn normalisation_lowercases_and_drops_punctuation() {
        assert_eq!(
            normalise("I'll SUE you!!!")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["i", "ll", "sue", "you"]
        );
        assert_eq!(
            normalise("Ça   VA?\tÖL-Leck…")
                .split_whitespace()
                .collect::<Vec<_>>(),
            // Accents are stripped since detection normalises them away.
            ["ca", "va", "ol", "leck"]
        );
        assert_eq!(normalise("911"), "911");
    }

    // The examples the product is specified by.

    #[test]
    fn a_threat_to_sue_is_a_legal_handoff() {
        let assessment = assess("I will sue you");
        assert_eq!(assessment.action, Action::Handoff);
        assert_eq!(assessment.severity, Severity::High);
        assert_eq!(assessment.findings.len(), 1);
        assert_eq!(assessment.findings[0].intent, Intent::Legal);
        assert_eq!(
            assessment.findings[0].reason,
            "legal: mentions suing or legal action"
        );
    }

    #[test]
    fn an_opening_hours_question_is_for_the_ai() {
        let assessment = assess("what time do you open");
        assert_eq!(assessment.action, Action::AiAnswer);
        assert_eq!(assessment.severity, Severity::None);
        assert!(assessment.findings.is_empty());
    }

    // Each intent, in the ways customers write it.

    #[test]
    fn legal_threats_are_found() {
        assert_only(
            Intent::Legal,
            &[
                "I WILL SUE YOU!!!",
                "i'll sue",
                "we're going to sue the company",
                "I am planning to sue",
                "my lawyer will be in touch",
                "I have contacted an attorney",
                "expect a lawsuit",
                "we will take legal action",
                "see you in court",
                "I'll take this to court",
                "consider this a cease and desist",
                "I'm filing in small claims",
                "This is a breach of contract",
                "they were sued last year",
            ],
        );
    }

    #[test]
    fn security_incidents_are_found() {
        assert_only(
            Intent::Security,
            &[
                "my account was hacked",
                "I think there was a data breach",
                "my password was stolen",
                "someone stole my password",
                "there is fraud on my account",
                "I got a phishing email pretending to be you",
                "I see unauthorized access to my profile",
                "I'm a victim of identity theft",
                "somebody logged into my account",
            ],
        );
    }

    #[test]
    fn disputes_are_found() {
        assert_only(
            Intent::Dispute,
            &[
                "I'm going to file a chargeback",
                "I want to dispute this",
                "this is a scam",
                "you ripped off my mother",
                "I want to make a complaint",
                "reporting you to the Better Business Bureau",
                "I want my money back",
            ],
        );
    }

    #[test]
    fn billing_questions_are_found() {
        assert_only(
            Intent::Billing,
            &[
                "I was charged twice",
                "can you resend the invoice",
                "question about billing",
                "my payment failed",
                "I was overcharged",
                "can I get a refund",
                "my bill is higher than last month",
                "the card was declined",
                "there is a hidden fee",
                "my gas bill is wrong",
                "my card got declined",
            ],
        );
    }

    #[test]
    fn emergencies_are_found() {
        assert_only(
            Intent::Emergency,
            &[
                "there's a fire in the kitchen",
                "the basement is flooded",
                "I think there is a gas leak",
                "I smell gas",
                "it smells of gas in here",
                "someone has an injury",
                "he is bleeding",
                "my dad can't breathe",
                "I CANNOT BREATHE",
                "call an ambulance",
                "should I call 911",
                "911!!!",
                "911 please hurry",
                "my kid swallowed bleach",
                "it's an emergency",
                "This is a medical emergency",
                "water is coming through the ceiling",
                "our carbon monoxide alarm is beeping",
                "a pipe burst",
                "we have a burst pipe",
                "I smell smoke",
                "the boiler is on fire",
                "water everywhere!",
                "she passed out",
            ],
        );
    }

    #[test]
    fn requests_for_a_human_are_found() {
        assert_only(
            Intent::HumanRequested,
            &[
                "can I speak to a human",
                "I want to talk to a real person",
                "let me speak with your manager",
                "transfer me to an agent",
                "put me through to a representative",
                "real person please",
                "I want a human",
                "get me a supervisor",
                "speak to someone",
                "human please",
                "I don't want a bot",
                "Speak.    To.   A.   Human.",
            ],
        );
    }

    // What must not match.

    #[test]
    fn ordinary_questions_match_nothing() {
        assert_none(&[
            "what time do you open",
            "do you do weekend appointments?",
            "how much is a drain cleaning",
            "can you come on Tuesday afternoon",
            "thanks, that was helpful!",
            "Is parking available near your office?",
            "",
            "   ",
            "!!!???",
        ]);
    }

    #[test]
    fn words_inside_other_words_do_not_match() {
        assert_none(&[
            "do you clean suede shoes",
            "fireplace cleaning price",
            "how much to install a firewall",
            "are you pursuing new clients",
            "is the courtyard open",
            "what's the price of a gasket",
            "do you sell lawnmowers",
            "I need a billboard",
            "do you fix scampi machines",
            "is the floodlight included",
            "our hackathon venue needs cleaning",
        ]);
    }

    #[test]
    fn names_that_are_also_keywords_do_not_match() {
        assert_none(&[
            "Hi, this is Sue from the front desk",
            "Sue's order is ready",
            "please ask Bill to call me",
            "Bill said you could come Friday",
        ]);
    }

    #[test]
    fn harmless_compounds_do_not_match() {
        assert_none(&[
            "do you sell fire pits",
            "how much is a fire extinguisher refill",
            "we need a fire safety inspection",
            "fire place cleaning",
            "is my house in a flood zone",
            "do you install flood lights",
            "I live at 12 Oak Court",
            "we moved to Court Street",
            "I'm a personal injury paralegal",
            "we had a gas stove installed",
            "how long does a smoke detector battery last",
            "can you fire up the boiler remotely",
            "is 911 Oak Street in your service area",
            "do you offer emergency callouts",
            "is there an emergency fee",
        ]);
    }

    // Several intents at once.

    #[test]
    fn several_intents_are_sorted_and_the_highest_severity_wins() {
        let assessment = assess("Fire! Also I was charged twice and I want to speak to a manager");
        assert_eq!(
            assessment.intents().collect::<Vec<_>>(),
            [Intent::Billing, Intent::Emergency, Intent::HumanRequested]
        );
        assert_eq!(assessment.severity, Severity::Critical);
        assert_eq!(assessment.action, Action::Handoff);
        assert_eq!(assessment.findings.len(), 3);
        assert!(assessment.findings[1].reason.starts_with("emergency: "));
    }

    #[test]
    fn an_intent_appears_once_however_often_it_matches() {
        let assessment = assess("lawsuit, lawyer, attorney, court case, sue you, I will sue");
        assert_eq!(assessment.intents().collect::<Vec<_>>(), [Intent::Legal]);
        assert_eq!(assessment.findings.len(), 1);
    }

    #[test]
    fn severity_is_the_maximum_of_the_intents() {
        let cases = [
            ("I want to speak to a human", Severity::Low),
            ("I want a refund", Severity::Medium),
            ("this is a scam", Severity::Medium),
            ("I was hacked", Severity::High),
            ("my lawyer says hi", Severity::High),
            ("I smell gas", Severity::Critical),
            ("get me a human, I smell gas", Severity::Critical),
            ("refund now or I'll sue you", Severity::High),
        ];
        for (text, severity) in cases {
            assert_eq!(assess(text).severity, severity, "{text:?}");
        }
    }

    #[test]
    fn reasons_name_the_class_and_never_echo_the_message() {
        let text = "My account 4242-4242 was hacked by john.doe@example.com";
        let assessment = assess(text);
        assert_eq!(assessment.findings.len(), 1);
        let reason = &assessment.findings[0].reason;
        assert_eq!(reason, "security: reports hacking or unauthorised access");
        assert!(!reason.contains("4242") && !reason.contains("john"));
    }

    #[test]
    fn the_first_matching_class_gives_the_reason() {
        let assessment = assess("there is a gas leak and a fire");
        assert_eq!(
            assessment.findings[0].reason,
            "emergency: reports a gas leak or carbon monoxide"
        );
    }

    #[test]
    fn the_longest_allowed_message_is_assessed_quickly() {
        let text = "please help me with my sink ".repeat(143);
        assert!(text.chars().count() <= 4004);
        let started = std::time::Instant::now();
        assert!(assess(&text).findings.is_empty());
        // Generous: catches an accidental blow-up, not a slow machine.
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
