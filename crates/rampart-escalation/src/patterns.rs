//! The pattern language the rule tables and tenants' phrases are written
//! in, and its matcher.
//!
//! A pattern is a sequence of slots separated by spaces. A slot lists
//! alternatives separated by `|`; `_` joins several words into one
//! alternative (`can_t` stands for "can t", the normalised "can't"); a
//! trailing `?` makes the slot optional. So `speak|talk to|with a|the? human`
//! matches "speak to a human" and "talk with human". Every word is
//! normalised as messages are ([`crate::normalise::phrase_words`]), so a
//! table may write "fuga de gás" and still match "fuga de gas".
//!
//! Patterns match whole words only: "suede" never matches "sue". A pattern
//! can refuse a match when the next or previous word shows a harmless
//! compound ("fire pit", "personal injury"), or when anything follows it.

use crate::intents::Intent;
use crate::normalise::phrase_words;

/// A pattern as written in a rule table, with the words that, next to a
/// match, show it to be harmless.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PatternSpec {
    pub text: &'static str,
    pub unless_next: &'static [&'static str],
    pub unless_previous: &'static [&'static str],
    pub only_at_end: bool,
}

pub(crate) const fn p(text: &'static str) -> PatternSpec {
    PatternSpec {
        text,
        unless_next: &[],
        unless_previous: &[],
        only_at_end: false,
    }
}

impl PatternSpec {
    /// No match when the word right after the match is one of `words`.
    pub const fn unless_next(mut self, words: &'static [&'static str]) -> Self {
        self.unless_next = words;
        self
    }

    /// No match when the word right before the match is one of `words`.
    pub const fn unless_previous(mut self, words: &'static [&'static str]) -> Self {
        self.unless_previous = words;
        self
    }

    /// A match only when nothing follows it.
    pub const fn only_at_end(mut self) -> Self {
        self.only_at_end = true;
        self
    }
}

/// One rule of a built-in table: an intent, the class of phrase it finds
/// (shown as the reason) and its patterns, most specific first.
pub(crate) struct RuleSpec {
    pub intent: Intent,
    pub reason: &'static str,
    pub patterns: &'static [PatternSpec],
}

/// One slot of a compiled pattern: any one of its alternatives (each a
/// sequence of words), or nothing if it is optional.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub alternatives: Vec<Vec<String>>,
    pub optional: bool,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub slots: Vec<Slot>,
    pub unless_next: Vec<String>,
    pub unless_previous: Vec<String>,
    pub only_at_end: bool,
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Nothing but separators or optional slots at the start.
    Empty,
    StartsOptional,
}

impl Pattern {
    /// Compiles a table's pattern; the tables are tested to compile.
    pub fn from_spec(spec: &PatternSpec) -> Result<Self, PatternError> {
        let mut pattern = Self::parse(spec.text)?;
        pattern.unless_next = spec
            .unless_next
            .iter()
            .flat_map(|w| phrase_words(w))
            .collect();
        pattern.unless_previous = spec
            .unless_previous
            .iter()
            .flat_map(|w| phrase_words(w))
            .collect();
        pattern.only_at_end = spec.only_at_end;
        Ok(pattern)
    }

    /// Parses the pattern syntax, normalising every word.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let mut slots = Vec::new();
        for slot in text.split_whitespace() {
            let (alternatives, optional) = match slot.strip_suffix('?') {
                Some(rest) => (rest, true),
                None => (slot, false),
            };
            let alternatives: Vec<Vec<String>> = alternatives
                .split('|')
                .map(|alternative| alternative.split('_').flat_map(phrase_words).collect())
                .filter(|words: &Vec<String>| !words.is_empty())
                .collect();
            if alternatives.is_empty() {
                continue;
            }
            slots.push(Slot {
                alternatives,
                optional,
            });
        }
        match slots.first() {
            None => Err(PatternError::Empty),
            Some(first) if first.optional => Err(PatternError::StartsOptional),
            Some(_) => Ok(Self {
                slots,
                unless_next: Vec::new(),
                unless_previous: Vec::new(),
                only_at_end: false,
            }),
        }
    }

    /// Where a match of the pattern starting at `start` ends (exclusive),
    /// if it matches there with no harmless word right before or after it.
    pub fn match_end(&self, words: &[&str], start: usize) -> Option<usize> {
        let harmless_before = start
            .checked_sub(1)
            .is_some_and(|before| self.unless_previous.iter().any(|w| w == words[before]));
        if harmless_before {
            return None;
        }
        let acceptable_end = |end: usize| match words.get(end) {
            _ if end == start => false,
            None => true,
            Some(_) if self.only_at_end => false,
            Some(next) => !self.unless_next.iter().any(|w| w == next),
        };
        end_from(&self.slots, words, start, &acceptable_end)
    }

    /// Whether the pattern matches a run of `words` starting at `start`.
    #[cfg(test)]
    pub fn matches_at(&self, words: &[&str], start: usize) -> bool {
        self.match_end(words, start).is_some()
    }

    /// The words a match can start with: the first slot is never optional,
    /// so these are its alternatives' first words.
    pub fn first_words(&self) -> impl Iterator<Item = &str> + '_ {
        self.slots[0]
            .alternatives
            .iter()
            .map(|alternative| alternative[0].as_str())
    }
}

/// Where `slots` can end when matched against `words` from `position`, at
/// an end `acceptable_end` takes. Tries every way through the optional
/// slots, so "speak to a human" is found whether or not "a" is present.
fn end_from(
    slots: &[Slot],
    words: &[&str],
    position: usize,
    acceptable_end: &dyn Fn(usize) -> bool,
) -> Option<usize> {
    let Some((slot, rest)) = slots.split_first() else {
        return acceptable_end(position).then_some(position);
    };
    if slot.optional
        && let Some(end) = end_from(rest, words, position, acceptable_end)
    {
        return Some(end);
    }
    slot.alternatives.iter().find_map(|alternative| {
        let fits = words.len() >= position + alternative.len()
            && words[position..]
                .iter()
                .zip(alternative)
                .all(|(word, expected)| word == expected);
        if fits {
            end_from(rest, words, position + alternative.len(), acceptable_end)
        } else {
            None
        }
    })
}
