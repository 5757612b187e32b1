//! The detector: normalisation, language, rules, context and the model put
//! together into one decision.
//!
//! 1. [`crate::normalise`] turns the message into words.
//! 2. [`crate::language`] names its language (reported with the decision).
//! 3. The rules of every language, built-in and the tenant's, are matched:
//!    customers mix languages ("mera account hack ho gaya"), so no table is
//!    switched off by the detected language. Patterns are indexed by the
//!    words they can start with, so each word is tried only against the
//!    patterns that could match from it.
//! 4. [`crate::context`] discounts negated or reported matches, except for
//!    emergency and security.
//! 5. The trained model ([`crate::model`]) may add an intent the rules
//!    missed. It never removes one: rules are the floor.
//!
//! A [`Detector`] is built once per policy and shared; a decision is pure,
//! synchronous and allocation-light.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::context;
use crate::intents::{Action, Assessment, CustomFinding, Finding, Intent, Severity};
use crate::language::{self, ExtraLanguage};
use crate::model::{self, Model};
use crate::normalise::{normalise, phrase_words};
use crate::patterns::Pattern;
use crate::policy::{self, DetectionPolicy, PolicyError};
use crate::rules;

/// What a rule finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    BuiltIn(Intent),
    /// An index into [`Detector::custom`].
    Custom(usize),
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub label: Label,
    /// The class of phrase, shown as the reason.
    pub reason: String,
    /// Names the rule in a decision receipt (`rule:en:emergency:3`): which
    /// table, which intent, which rule of the table.
    pub signal: String,
    pub patterns: Vec<Pattern>,
}

impl Rule {
    /// Emergencies and security incidents are never discounted as negated
    /// or reported (see [`crate::context`]).
    pub(crate) fn may_be_discounted(&self) -> bool {
        !matches!(
            self.label,
            Label::BuiltIn(Intent::Emergency | Intent::Security)
        )
    }
}

/// The compiled rules, the tenant's intents and languages, and the model.
#[derive(Debug)]
pub struct Detector {
    pub(crate) rules: Vec<Rule>,
    /// For each word, the (rule, pattern) pairs that can match from it.
    by_first_word: HashMap<String, Vec<(usize, usize)>>,
    /// The tenant's intents: name and severity.
    custom: Vec<(String, Severity)>,
    languages: Vec<ExtraLanguage>,
    extra_negations: Vec<String>,
    model: Option<&'static Model>,
}

static BUILT_IN: LazyLock<Detector> = LazyLock::new(|| {
    Detector::new(&DetectionPolicy::default()).expect("the built-in tables compile")
});

impl Detector {
    /// The built-in rules and model, with no tenant additions.
    #[must_use]
    pub fn built_in() -> &'static Self {
        &BUILT_IN
    }

    /// Compiles the built-in rules and a tenant's policy.
    pub fn new(policy: &DetectionPolicy) -> Result<Self, PolicyError> {
        if policy.phrase_count() > policy::MAX_PHRASES {
            return Err(PolicyError::TooManyPhrases);
        }
        let mut rules: Vec<Rule> = rules::TABLES
            .iter()
            .flat_map(|(code, specs)| {
                specs
                    .iter()
                    .enumerate()
                    .map(move |(n, spec)| (code, n, spec))
            })
            .map(|(code, n, spec)| Rule {
                label: Label::BuiltIn(spec.intent),
                reason: spec.reason.to_owned(),
                signal: format!("rule:{code}:{}:{n}", spec.intent),
                patterns: spec
                    .patterns
                    .iter()
                    .map(|pattern| Pattern::from_spec(pattern).expect("built-in patterns compile"))
                    .collect(),
            })
            .collect();

        let mut languages = Vec::new();
        let mut extra_negations = Vec::new();
        for language in &policy.languages {
            policy::check_language_code(&language.code)?;
            if languages
                .iter()
                .any(|known: &ExtraLanguage| known.code == language.code)
            {
                return Err(PolicyError::DuplicateLanguage(language.code.clone()));
            }
            let function_words: Vec<String> = language
                .function_words
                .iter()
                .flat_map(|w| phrase_words(w))
                .collect();
            if function_words.len() < 5 {
                return Err(PolicyError::TooFewFunctionWords(language.code.clone()));
            }
            languages.push(ExtraLanguage {
                code: language.code.clone(),
                function_words,
            });
            extra_negations.extend(language.negations.iter().flat_map(|w| phrase_words(w)));
            for (intent_name, phrases) in &language.phrases {
                let intent = Intent::parse(intent_name)
                    .ok_or_else(|| PolicyError::UnknownIntent(intent_name.clone()))?;
                rules.push(Rule {
                    label: Label::BuiltIn(intent),
                    reason: format!("matches the tenant's {} phrases", language.code),
                    signal: format!("rule:{}:{intent}:tenant", language.code),
                    patterns: phrases
                        .iter()
                        .map(|phrase| policy::compile_phrase(phrase))
                        .collect::<Result<_, _>>()?,
                });
            }
        }

        let mut custom: Vec<(String, Severity)> = Vec::new();
        for intent in &policy.intents {
            policy::check_intent_name(&intent.name)?;
            if custom.iter().any(|(name, _)| *name == intent.name) {
                return Err(PolicyError::DuplicateIntent(intent.name.clone()));
            }
            let label = Label::Custom(custom.len());
            custom.push((intent.name.clone(), intent.severity.into()));
            for (code, phrases) in &intent.phrases {
                rules.push(Rule {
                    label,
                    reason: "matches the tenant's phrases".to_owned(),
                    signal: format!("rule:{code}:{}:tenant", intent.name),
                    patterns: phrases
                        .iter()
                        .map(|phrase| policy::compile_phrase(phrase))
                        .collect::<Result<_, _>>()?,
                });
            }
        }

        let mut by_first_word: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (r, rule) in rules.iter().enumerate() {
            for (p, pattern) in rule.patterns.iter().enumerate() {
                for word in pattern.first_words() {
                    let candidates = by_first_word.entry(word.to_owned()).or_default();
                    if !candidates.contains(&(r, p)) {
                        candidates.push((r, p));
                    }
                }
            }
        }
        Ok(Self {
            rules,
            by_first_word,
            custom,
            languages,
            extra_negations,
            model: model::built_in(),
        })
    }

    /// The same detector without the trained model: rules alone, for
    /// measuring what the model adds.
    #[must_use]
    pub fn rules_only(mut self) -> Self {
        self.model = None;
        self
    }

    /// Decides on one message.
    #[must_use]
    pub fn assess(&self, text: &str) -> Assessment {
        self.assess_with_signals(text).0
    }

    /// Decides on one message, and names what fired: the rules that
    /// matched (`rule:en:emergency:3`) and the model's signals at or above
    /// their threshold (`model:emergency:0.91`), for the decision receipt.
    #[must_use]
    pub fn assess_with_signals(&self, text: &str) -> (Assessment, Vec<String>) {
        let normalised = normalise(text);
        let words = normalised.words();
        let language = language::detect(&normalised, &self.languages).to_owned();

        let mut matched = vec![false; self.rules.len()];
        for (start, word) in words.iter().enumerate() {
            let Some(candidates) = self.by_first_word.get(*word) else {
                continue;
            };
            for &(r, p) in candidates {
                if matched[r] {
                    continue;
                }
                let rule = &self.rules[r];
                let Some(end) = rule.patterns[p].match_end(&words, start) else {
                    continue;
                };
                let discounted = rule.may_be_discounted()
                    && context::discounts(&normalised.tokens, start, end, &self.extra_negations);
                matched[r] = !discounted;
            }
        }

        // Rules are listed most specific first within an intent, so the
        // first rule that matches gives that intent's reason.
        let mut findings: Vec<Finding> = Vec::new();
        let mut custom: Vec<CustomFinding> = Vec::new();
        let mut signals: Vec<String> = Vec::new();
        for (rule, _) in self.rules.iter().zip(matched).filter(|(_, hit)| *hit) {
            signals.push(rule.signal.clone());
            match rule.label {
                Label::BuiltIn(intent) => {
                    if !findings.iter().any(|found| found.intent == intent) {
                        findings.push(Finding {
                            intent,
                            reason: format!("{intent}: {}", rule.reason),
                        });
                    }
                }
                Label::Custom(index) => {
                    let (name, severity) = &self.custom[index];
                    if !custom.iter().any(|found| found.name == *name) {
                        custom.push(CustomFinding {
                            name: name.clone(),
                            severity: *severity,
                            reason: format!("{name}: {}", rule.reason),
                        });
                    }
                }
            }
        }

        if let Some(model) = self.model {
            let scores = model.scores(&normalised.joined());
            for (intent, score) in Intent::ALL.into_iter().zip(scores) {
                if score < model.threshold(intent) {
                    continue;
                }
                signals.push(format!("model:{intent}:{score:.2}"));
                if !findings.iter().any(|found| found.intent == intent) {
                    findings.push(Finding {
                        intent,
                        reason: format!("{intent}: the trained model's signal"),
                    });
                }
            }
        }
        findings.sort_by_key(|finding| finding.intent);
        custom.sort_by(|a, b| a.name.cmp(&b.name));

        let severity = findings
            .iter()
            .map(|finding| finding.intent.severity())
            .chain(custom.iter().map(|found| found.severity))
            .max()
            .unwrap_or(Severity::None);
        let action = if findings.is_empty() && custom.is_empty() {
            Action::AiAnswer
        } else {
            Action::Handoff
        };
        let assessment = Assessment {
            findings,
            custom,
            severity,
            action,
            language,
        };
        (assessment, signals)
    }
}
