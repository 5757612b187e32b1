//! Prints the decision for each line of standard input (a debugging aid).
fn main() {
    for line in std::io::stdin().lines() {
        let line = line.expect("stdin");
        let a = rampart_escalation::intents::assess(&line);
        println!(
            "{:?} {} {:?} | {}",
            a.findings.iter().map(|f| &f.reason).collect::<Vec<_>>(),
            a.language,
            a.action,
            line
        );
    }
}
