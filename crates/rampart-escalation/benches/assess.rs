//! The cost of classifying one customer message: what the escalation
//! service spends on every `Evaluate` call, and the only work on the path
//! that `cargo xtask bench-edge` measures past the gateway.
//!
//! Run: `cargo bench -p rampart-escalation --bench assess`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_escalation::intents::assess;

/// The message every `bench-edge` request sends: nothing restricted.
const ROUTINE: &str = "what are your opening hours?";

/// A longer routine message: every word is tried against the rules.
const LONG_ROUTINE: &str = "Hi there, I booked a boiler service for next Tuesday morning \
    and wanted to check whether the engineer can come after ten, and whether I need to \
    clear the cupboard first. Thanks very much for your help with this!";

/// A message that must go to a human, for more than one reason.
const RESTRICTED: &str = "I was charged twice on my last bill and if you don't refund me \
    I will sue, let me speak to a real person";

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
}

criterion_group!(benches, classify);
criterion_main!(benches);
