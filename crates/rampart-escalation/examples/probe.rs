//! Prints the decision for each line of standard input:
//! `echo "I smell gas" | cargo run -p rampart-escalation --example probe`.
fn main() {
    for line in std::io::stdin().lines() {
        let line = line.expect("stdin");
        let a = rampart_escalation::intents::assess(&line);
        let reasons: Vec<&str> = a.findings.iter().map(|f| f.reason.as_str()).collect();
        println!("{:?} [{}] {:?} | {line}", a.action, a.language, reasons);
    }
}
