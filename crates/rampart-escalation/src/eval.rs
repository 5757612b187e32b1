//! Evaluation against a labelled corpus: precision and recall per intent
//! and per language, handoff recall and the false-handoff rate.
//!
//! The corpus is JSON lines, one message each:
//! `{"text": "...", "lang": "es", "intents": ["legal"], "split": "heldout"}`;
//! no intents means the AI may answer. The built-in corpus
//! ([`BUILT_IN_CORPUS`]) has a `train` split the model learns from and a
//! `heldout` split written with different phrasings, which the CI test and
//! `rampart escalation eval` measure.
//!
//! Definitions:
//! - per intent: precision = found and labelled / found; recall = found and
//!   labelled / labelled.
//! - handoff recall: messages with any label that were handed off / messages
//!   with any label (the gate's own measure: did a human get it).
//! - false-handoff rate: messages with no label that were handed off /
//!   messages with no label.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::detector::Detector;
use crate::intents::{Action, Intent};

/// The corpus shipped with the crate.
pub const BUILT_IN_CORPUS: &str = include_str!("../corpus/messages.jsonl");

/// One labelled message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub text: String,
    pub lang: String,
    pub intents: Vec<String>,
    pub split: String,
}

/// Parses a JSON-lines corpus, naming the line of the first bad entry.
pub fn parse_corpus(jsonl: &str) -> Result<Vec<Example>, String> {
    let mut examples = Vec::new();
    for (number, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let example: Example =
            serde_json::from_str(line).map_err(|error| format!("line {}: {error}", number + 1))?;
        if let Some(unknown) = example.intents.iter().find(|i| Intent::parse(i).is_none()) {
            return Err(format!("line {}: unknown intent {unknown:?}", number + 1));
        }
        examples.push(example);
    }
    Ok(examples)
}

/// Counts for one intent or language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl Counts {
    #[must_use]
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    #[must_use]
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
}

/// A ratio, 1.0 when there is nothing to measure.
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// A message the detector got wrong, for the report.
#[derive(Debug, Clone)]
pub struct Miss {
    pub text: String,
    pub lang: String,
    pub expected: Vec<String>,
    pub found: Vec<String>,
}

/// The figures of one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub messages: usize,
    pub per_intent: BTreeMap<&'static str, Counts>,
    /// Per language: intent-level counts over its messages.
    pub per_language: BTreeMap<String, Counts>,
    /// Messages with a label / of those, handed off.
    pub labelled: usize,
    pub labelled_handed_off: usize,
    /// Messages without a label / of those, handed off.
    pub unlabelled: usize,
    pub false_handoffs: usize,
    pub misses: Vec<Miss>,
}

impl Report {
    #[must_use]
    pub fn handoff_recall(&self) -> f64 {
        ratio(self.labelled_handed_off, self.labelled)
    }

    #[must_use]
    pub fn false_handoff_rate(&self) -> f64 {
        if self.unlabelled == 0 {
            0.0
        } else {
            self.false_handoffs as f64 / self.unlabelled as f64
        }
    }

    #[must_use]
    pub fn recall(&self, intent: Intent) -> f64 {
        self.per_intent
            .get(intent.as_str())
            .copied()
            .unwrap_or_default()
            .recall()
    }

    /// The report as the `eval` command prints it.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "messages: {}", self.messages);
        let _ = writeln!(
            out,
            "\n{:<16} {:>9} {:>9} {:>6}",
            "intent", "precision", "recall", "n"
        );
        for (name, counts) in &self.per_intent {
            let _ = writeln!(
                out,
                "{name:<16} {:>9.3} {:>9.3} {:>6}",
                counts.precision(),
                counts.recall(),
                counts.true_positives + counts.false_negatives
            );
        }
        let _ = writeln!(
            out,
            "\n{:<16} {:>9} {:>9} {:>6}",
            "language", "precision", "recall", "n"
        );
        for (lang, counts) in &self.per_language {
            let _ = writeln!(
                out,
                "{lang:<16} {:>9.3} {:>9.3} {:>6}",
                counts.precision(),
                counts.recall(),
                counts.true_positives + counts.false_negatives
            );
        }
        let _ = writeln!(
            out,
            "\nhandoff recall: {:.3} ({}/{} messages that need a human)",
            self.handoff_recall(),
            self.labelled_handed_off,
            self.labelled
        );
        let _ = writeln!(
            out,
            "false handoffs: {:.3} ({}/{} messages the AI may answer)",
            self.false_handoff_rate(),
            self.false_handoffs,
            self.unlabelled
        );
        if !self.misses.is_empty() {
            let _ = writeln!(out, "\nmistakes:");
            for miss in &self.misses {
                let _ = writeln!(
                    out,
                    "  [{}] expected {:?}, found {:?}: {}",
                    miss.lang, miss.expected, miss.found, miss.text
                );
            }
        }
        out
    }
}

/// Evaluates `detector` on the examples of `split` (all when `None`).
#[must_use]
pub fn evaluate(detector: &Detector, examples: &[Example], split: Option<&str>) -> Report {
    let mut report = Report::default();
    for intent in Intent::ALL {
        report.per_intent.insert(intent.as_str(), Counts::default());
    }
    for example in examples
        .iter()
        .filter(|e| split.is_none_or(|s| e.split == s))
    {
        report.messages += 1;
        let assessment = detector.assess(&example.text);
        let found: Vec<String> = assessment
            .intents()
            .map(|intent| intent.as_str().to_owned())
            .collect();
        let handed_off = assessment.action == Action::Handoff;
        if example.intents.is_empty() {
            report.unlabelled += 1;
            report.false_handoffs += usize::from(handed_off);
        } else {
            report.labelled += 1;
            report.labelled_handed_off += usize::from(handed_off);
        }
        let language = report.per_language.entry(example.lang.clone()).or_default();
        for intent in Intent::ALL {
            let expected = example.intents.iter().any(|i| i == intent.as_str());
            let got = found.iter().any(|i| i == intent.as_str());
            let counts = report.per_intent.get_mut(intent.as_str()).expect("all");
            for c in [&mut *counts, &mut *language] {
                match (expected, got) {
                    (true, true) => c.true_positives += 1,
                    (false, true) => c.false_positives += 1,
                    (true, false) => c.false_negatives += 1,
                    (false, false) => {}
                }
            }
        }
        let mut expected = example.intents.clone();
        expected.sort();
        if expected != found {
            report.misses.push(Miss {
                text: example.text.clone(),
                lang: example.lang.clone(),
                expected,
                found,
            });
        }
    }
    report
}
