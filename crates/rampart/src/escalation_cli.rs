//! `rampart escalation ...`: measuring the handoff gate offline.
//!
//! `rampart escalation eval [--corpus FILE] [--split NAME] [--rules-only]`
//! runs the built-in detector over a labelled corpus (JSON lines:
//! `text`, `lang`, `intents`, `split`; the shipped corpus by default, its
//! `heldout` split unless `--split all`) and prints precision and recall per
//! intent and per language, handoff recall and the false-handoff rate,
//! then every message it got wrong. No database, no network.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rampart_escalation::Detector;
use rampart_escalation::eval::{BUILT_IN_CORPUS, evaluate, parse_corpus};
use rampart_escalation::policy::DetectionPolicy;

#[derive(Debug, Subcommand)]
pub enum EscalationCommand {
    /// Evaluate detection on a labelled corpus.
    Eval(EvalArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A JSON-lines corpus; the one shipped with Rampart by default.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// The split to measure (`train`, `heldout`), or `all`.
    #[arg(long, default_value = "heldout")]
    pub split: String,
    /// Rules alone, without the trained model.
    #[arg(long)]
    pub rules_only: bool,
}

/// Runs the command, printing the report.
pub fn run(command: EscalationCommand) -> anyhow::Result<()> {
    match command {
        EscalationCommand::Eval(args) => {
            print!("{}", eval(&args)?);
            Ok(())
        }
    }
}

/// The report `eval` prints.
pub fn eval(args: &EvalArgs) -> anyhow::Result<String> {
    let text = match &args.corpus {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => BUILT_IN_CORPUS.to_owned(),
    };
    let examples = parse_corpus(&text).map_err(anyhow::Error::msg)?;
    let split = (args.split != "all").then_some(args.split.as_str());
    if let Some(split) = split
        && !examples.iter().any(|e| e.split == split)
    {
        bail!("the corpus has no message in split {split:?}");
    }
    let detector = Detector::new(&DetectionPolicy::default())?;
    let detector = if args.rules_only {
        detector.rules_only()
    } else {
        detector
    };
    Ok(evaluate(&detector, &examples, split).render())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(corpus: Option<PathBuf>, split: &str) -> EvalArgs {
        EvalArgs {
            corpus,
            split: split.to_owned(),
            rules_only: false,
        }
    }

    #[test]
    fn the_shipped_corpus_is_measured_per_intent_and_language() {
        let report = eval(&args(None, "heldout")).unwrap();
        for needle in [
            "emergency",
            "security",
            "privacy",
            "ta-Latn",
            "handoff recall",
            "false handoffs",
        ] {
            assert!(report.contains(needle), "{needle} missing from:\n{report}");
        }
    }

    #[test]
    fn a_corpus_file_is_read_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.jsonl");
        std::fs::write(
            &good,
            concat!(
                r#"{"text": "I smell gas", "lang": "en", "intents": ["emergency"], "split": "x"}"#,
                "\n",
                r#"{"text": "what time do you open", "lang": "en", "intents": [], "split": "x"}"#,
                "\n"
            ),
        )
        .unwrap();
        let report = eval(&args(Some(good.clone()), "x")).unwrap();
        assert!(report.contains("handoff recall: 1.000 (1/1"), "{report}");
        assert!(report.contains("false handoffs: 0.000 (0/1"), "{report}");
        assert!(eval(&args(Some(good), "heldout")).is_err());

        let bad = dir.path().join("bad.jsonl");
        std::fs::write(
            &bad,
            r#"{"text": "hi", "lang": "en", "intents": ["lunch"], "split": "x"}"#,
        )
        .unwrap();
        let error = eval(&args(Some(bad), "all")).unwrap_err().to_string();
        assert!(
            error.contains("line 1") && error.contains("lunch"),
            "{error}"
        );
        assert!(eval(&args(Some(dir.path().join("missing")), "all")).is_err());
    }
}
