//! What a tenant adds to detection through its policy, without a release:
//! intents of its own with phrases per language, and languages of its own.
//!
//! The policy is data (JSON or TOML through serde); [`crate::Detector::new`]
//! checks and compiles it once, so a decision costs the same however the
//! policy was written. Phrases use the pattern language of
//! [`crate::patterns`] ("warranty|guarantee claim").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::intents::{Intent, Severity};
use crate::patterns::{Pattern, PatternError};

/// Most phrases a policy may hold in all; a bound keeps one decision's
/// cost bounded (the bench measures 500).
pub const MAX_PHRASES: usize = 2000;
/// Longest phrase, in characters.
pub const MAX_PHRASE_CHARS: usize = 200;

/// A tenant's additions to the built-in detection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionPolicy {
    /// Intents of the tenant's own, such as `warranty_claim`.
    #[serde(default)]
    pub intents: Vec<CustomIntent>,
    /// Languages beyond the built-in ones.
    #[serde(default)]
    pub languages: Vec<LanguagePolicy>,
}

/// A tenant-defined intent: its name, how urgent it is, and its phrases per
/// language code (`en`, `es`, `it`...). Phrases of every language apply to
/// every message: customers mix languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomIntent {
    pub name: String,
    pub severity: SeverityName,
    pub phrases: BTreeMap<String, Vec<String>>,
}

/// A language a tenant adds: the function words that detect it, its
/// negation words, and phrases for built-in intents in it, keyed by the
/// intent's wire name (`legal`, `emergency`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguagePolicy {
    pub code: String,
    pub function_words: Vec<String>,
    #[serde(default)]
    pub negations: Vec<String>,
    #[serde(default)]
    pub phrases: BTreeMap<String, Vec<String>>,
}

/// A severity as a policy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityName {
    Low,
    Medium,
    High,
    Critical,
}

impl From<SeverityName> for Severity {
    fn from(name: SeverityName) -> Self {
        match name {
            SeverityName::Low => Self::Low,
            SeverityName::Medium => Self::Medium,
            SeverityName::High => Self::High,
            SeverityName::Critical => Self::Critical,
        }
    }
}

/// What is wrong with a policy, naming the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("intent name {0:?} must be 1 to 40 lowercase letters, digits or underscores")]
    BadIntentName(String),
    #[error("intent name {0:?} is a built-in intent or is defined twice")]
    DuplicateIntent(String),
    #[error("language code {0:?} must be 2 to 12 letters, digits or hyphens")]
    BadLanguageCode(String),
    #[error("language {0:?} is built in or defined twice")]
    DuplicateLanguage(String),
    #[error("language {0:?} needs at least 5 function words to be detected")]
    TooFewFunctionWords(String),
    #[error("phrases name {0:?}, which is not a built-in intent")]
    UnknownIntent(String),
    #[error("phrase {0:?} has no words or starts with an optional slot")]
    BadPhrase(String),
    #[error("a phrase is longer than 200 characters")]
    PhraseTooLong,
    #[error("a policy holds at most 2000 phrases")]
    TooManyPhrases,
}

pub(crate) fn check_intent_name(name: &str) -> Result<(), PolicyError> {
    let well_formed = (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(PolicyError::BadIntentName(name.to_owned()));
    }
    if Intent::parse(name).is_some() {
        return Err(PolicyError::DuplicateIntent(name.to_owned()));
    }
    Ok(())
}

pub(crate) fn check_language_code(code: &str) -> Result<(), PolicyError> {
    let well_formed = (2..=12).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !well_formed {
        return Err(PolicyError::BadLanguageCode(code.to_owned()));
    }
    let built_in = crate::language::BUILT_IN
        .iter()
        .any(|(built_in, _)| built_in.eq_ignore_ascii_case(code))
        || ["hi", "ta"].contains(&code);
    if built_in {
        return Err(PolicyError::DuplicateLanguage(code.to_owned()));
    }
    Ok(())
}

pub(crate) fn compile_phrase(phrase: &str) -> Result<Pattern, PolicyError> {
    if phrase.chars().count() > MAX_PHRASE_CHARS {
        return Err(PolicyError::PhraseTooLong);
    }
    Pattern::parse(phrase).map_err(|error| match error {
        PatternError::Empty | PatternError::StartsOptional => {
            PolicyError::BadPhrase(phrase.to_owned())
        }
    })
}

impl DetectionPolicy {
    /// How many phrases the policy holds in all.
    #[must_use]
    pub fn phrase_count(&self) -> usize {
        let intents: usize = self
            .intents
            .iter()
            .flat_map(|intent| intent.phrases.values())
            .map(Vec::len)
            .sum();
        let languages: usize = self
            .languages
            .iter()
            .flat_map(|language| language.phrases.values())
            .map(Vec::len)
            .sum();
        intents + languages
    }
}
