//! The cost of classifying one customer message: what the escalation
//! service spends on every `Evaluate` call, and the only work on the path
//! that `cargo xtask bench-edge` measures past the gateway.
//!
//! Run: `cargo bench -p rampart-escalation --bench assess`
//!
//! Besides criterion's figures, the run prints the p99 of a decision on a
//! 2 KB message against a policy of 500 tenant rules (the issue's bar:
//! under 1 ms), measured call by call.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_escalation::Detector;
use rampart_escalation::intents::assess;
use rampart_escalation::policy::DetectionPolicy;

/// The message every `bench-edge` request sends: nothing restricted.
const ROUTINE: &str = "what are your opening hours?";

/// A longer routine message: every word is tried against the rules.
const LONG_ROUTINE: &str = "Hi there, I booked a boiler service for next Tuesday morning \
    and wanted to check whether the engineer can come after ten, and whether I need to \
    clear the cupboard first. Thanks very much for your help with this!";

/// A message that must go to a human, for more than one reason.
const RESTRICTED: &str = "I was charged twice on my last bill and if you don't refund me \
    I will sue, let me speak to a real person";

/// A 2 KB message: routine sentences in several languages, a negated
/// threat and a real emergency at the end.
fn two_kilobytes() -> String {
    let parts = [
        LONG_ROUTINE,
        "Hola, quería saber si pueden venir el lunes por la mañana a revisar la caldera.",
        "Je ne vais pas porter plainte, je voudrais seulement un nouveau rendez-vous.",
        "mera appointment kal ka hai, kya aap time badal sakte ho?",
    ];
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 2000 {
        text.push_str(parts[i % parts.len()]);
        text.push(' ');
        i += 1;
    }
    text.push_str("Also water is coming through the ceiling.");
    text
}

/// A policy of 500 tenant phrases: 50 intents of 10 phrases each, half of
/// them patterns with alternatives.
fn five_hundred_rules() -> DetectionPolicy {
    let intents: Vec<String> = (0..50)
        .map(|i| {
            let phrases: Vec<String> = (0..10)
                .map(|j| {
                    if j % 2 == 0 {
                        format!("\"product{i} model{j} warranty|guarantee claim\"")
                    } else {
                        format!("\"need|want service{i} plan{j} upgrade? now\"")
                    }
                })
                .collect();
            format!(
                r#"{{"name": "tenant_intent_{i}", "severity": "medium", "phrases": {{"en": [{}]}}}}"#,
                phrases.join(",")
            )
        })
        .collect();
    let json = format!(r#"{{"intents": [{}]}}"#, intents.join(","));
    let policy: DetectionPolicy = serde_json::from_str(&json).expect("policy parses");
    assert_eq!(policy.phrase_count(), 500);
    policy
}

/// Prints the p50 and p99 of single decisions, call by call.
fn report_percentiles(detector: &Detector, text: &str) {
    let mut samples: Vec<Duration> = (0..5_000)
        .map(|_| {
            let started = Instant::now();
            black_box(detector.assess(black_box(text)));
            started.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "decision on {} bytes with 500 tenant rules: p50 {:?}, p99 {:?} (bar: p99 < 1 ms)",
        text.len(),
        at(0.50),
        at(0.99)
    );
}

fn classify(c: &mut Criterion) {
    for (name, text) in [
        ("routine", ROUTINE),
        ("long routine", LONG_ROUTINE),
        ("restricted", RESTRICTED),
    ] {
        c.bench_function(&format!("assess {name}"), |b| {
            b.iter(|| assess(black_box(text)));
        });
    }

    let detector = Detector::new(&five_hundred_rules()).expect("policy compiles");
    let text = two_kilobytes();
    report_percentiles(&detector, &text);
    c.bench_function("decide 2 KB with 500 tenant rules", |b| {
        b.iter(|| detector.assess(black_box(&text)));
    });
}

criterion_group!(benches, classify);
criterion_main!(benches);
