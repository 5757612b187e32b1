//! Trains the shipped model on the corpus's `train` split and writes
//! `model/weights.bin`:
//!
//! `cargo run -p rampart-escalation --example train`
//!
//! Deterministic: the same corpus always gives the same file.

use rampart_escalation::eval::{BUILT_IN_CORPUS, parse_corpus};
use rampart_escalation::intents::Intent;
use rampart_escalation::model::Model;

/// Gradient-descent rounds per intent.
const ROUNDS: usize = 600;
/// The probability above which the model adds an intent: high, so the
/// model only adds what it is confident about.
const THRESHOLD: f32 = 0.65;

fn main() {
    let examples: Vec<(String, Vec<Intent>)> = parse_corpus(BUILT_IN_CORPUS)
        .expect("corpus parses")
        .into_iter()
        .filter(|example| example.split == "train")
        .map(|example| {
            let intents = example
                .intents
                .iter()
                .filter_map(|name| Intent::parse(name))
                .collect();
            (example.text, intents)
        })
        .collect();
    let model = Model::train(&examples, ROUNDS, THRESHOLD);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/model/weights.bin");
    std::fs::write(path, model.to_bytes()).expect("weights written");
    println!(
        "trained on {} messages, wrote model/weights.bin",
        examples.len()
    );
}
