//! Evaluates the built-in detector on the shipped corpus:
//! `cargo run -p rampart-escalation --example eval [train|heldout] [--rules-only]`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str);
    let examples =
        rampart_escalation::eval::parse_corpus(rampart_escalation::eval::BUILT_IN_CORPUS)
            .expect("corpus parses");
    let detector = rampart_escalation::Detector::new(&Default::default()).expect("compiles");
    let detector = if args.iter().any(|a| a == "--rules-only") {
        detector.rules_only()
    } else {
        detector
    };
    print!(
        "{}",
        rampart_escalation::eval::evaluate(&detector, &examples, split).render()
    );
}
