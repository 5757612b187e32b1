//! Restricted intents: the rules that decide whether a customer's message
//! must go to a human instead of the AI.
//!
//! Pure and synchronous: [`assess`] takes a message and returns the intents
//! it shows, the severity and the action. No I/O, so it is tested here
//! exhaustively and costs microseconds per message.
//!
//! How a decision is made (normalisation, language, rules per language,
//! negation and reported speech, the trained model) is described in
//! [`crate::detector`]; the pattern language in [`crate::patterns`]; the
//! rule tables are in `rules/`, one file per language.
//!
//! When in doubt the rules lean toward a handoff: a needless human review
//! costs minutes, a missed emergency or legal threat costs far more.

use std::fmt;

use crate::detector::Detector;

/// A kind of request the AI must not answer alone. The variants are in
/// alphabetical order of their names, so sorting intents sorts their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Intent {
    Billing,
    Dispute,
    Emergency,
    HumanRequested,
    Legal,
    Privacy,
    Security,
}

impl Intent {
    pub const ALL: [Self; 7] = [
        Self::Billing,
        Self::Dispute,
        Self::Emergency,
        Self::HumanRequested,
        Self::Legal,
        Self::Privacy,
        Self::Security,
    ];

    /// The intent with this wire name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|intent| intent.as_str() == name)
    }

    /// The name used on the wire, such as `human_requested`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Billing => "billing",
            Self::Dispute => "dispute",
            Self::Emergency => "emergency",
            Self::HumanRequested => "human_requested",
            Self::Legal => "legal",
            Self::Privacy => "privacy",
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
            Self::Dispute | Self::Billing | Self::Privacy => Severity::Medium,
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

/// A tenant-defined intent found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFinding {
    pub name: String,
    pub severity: Severity,
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
    /// The tenant's own intents found, sorted by name.
    pub custom: Vec<CustomFinding>,
    /// The detected language: `en`, `es`, `fr`, `de`, `pt`, `hi`, `ta`,
    /// `hi-Latn`, `ta-Latn` or a tenant language's code.
    pub language: String,
}

impl Assessment {
    /// The intents found, sorted and without duplicates.
    pub fn intents(&self) -> impl Iterator<Item = Intent> + '_ {
        self.findings.iter().map(|finding| finding.intent)
    }
}

/// Assesses a customer's message with the built-in rules and model.
#[must_use]
pub fn assess(text: &str) -> Assessment {
    Detector::built_in().assess(text)
}

/// The message's words after [`crate::normalise`], joined by spaces.
#[must_use]
pub fn normalise(text: &str) -> String {
    crate::normalise::normalise(text).joined()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::Label;
    use crate::patterns::{Pattern, PatternSpec, p};
    use crate::policy::DetectionPolicy;

    /// The built-in rules without the model, as a test can inspect them.
    static RULES: std::sync::LazyLock<Detector> = std::sync::LazyLock::new(|| {
        Detector::new(&DetectionPolicy::default())
            .unwrap()
            .rules_only()
    });

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
                    .chain(&pattern.unless_next)
                    .chain(&pattern.unless_previous);
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
                crate::rules::built_in().any(|rule| rule.intent == intent),
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
    /// pattern of every rule tried at every word (with the same context
    /// discount).
    fn assess_by_scanning(text: &str) -> Vec<Finding> {
        let normalised = crate::normalise::normalise(text);
        let words = normalised.words();
        let mut findings: Vec<Finding> = Vec::new();
        for rule in &RULES.rules {
            let Label::BuiltIn(intent) = rule.label else {
                continue;
            };
            if findings.iter().any(|found| found.intent == intent) {
                continue;
            }
            let hit = rule.patterns.iter().any(|pattern| {
                (0..words.len()).any(|start| {
                    pattern.match_end(&words, start).is_some_and(|end| {
                        !rule.may_be_discounted()
                            || !crate::context::discounts(&normalised.tokens, start, end, &[])
                    })
                })
            });
            if hit {
                findings.push(Finding {
                    intent,
                    reason: format!("{intent}: {}", rule.reason),
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
                    .flat_map(|slot| slot.alternatives.iter().flatten())
                    .chain(&pattern.unless_next)
                    .chain(&pattern.unless_previous)
                    .map(String::as_str)
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
            assert_eq!(RULES.assess(&text).findings, expected, "{text:?}");
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
        Pattern::from_spec(&spec).unwrap().is_found_in(&words)
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
