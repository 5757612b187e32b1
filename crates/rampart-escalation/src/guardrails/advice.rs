//! What blocks a reply outright: legal advice, medical advice (each when
//! the policy's `block_*` flag is on, as it is by default) and the
//! tenant's forbidden phrases.
//!
//! All are matched on the reply's normalised words, with the pattern
//! language of [`crate::patterns`], so "Y0u sh0uld SUE" is found as "you
//! should sue". The tables hold English and a few phrases in each other
//! built-in language. Dosage advice ("take 400 mg") and a diagnosis ("you
//! probably have an infection") need a second look at the words around a
//! match, done in code below the tables.

use std::sync::LazyLock;

use super::{Finding, Kind};
use crate::normalise::normalise;
use crate::patterns::Pattern;
use crate::tenant_policy::Guardrails;

const LEGAL: &[&str] = &[
    "you should|could|can|must sue",
    "you should|could|must take legal action",
    "you should|could|must file a lawsuit|claim|complaint against",
    "you have|ve a|an strong|good|solid|valid|winning case|claim",
    "legally you are|re entitled",
    "you are|re legally entitled",
    "i|we recommend|advise suing|litigation",
    "this is|constitutes a breach of contract",
    // es, fr, de, pt
    "deberia|debe demandar",
    "usted tiene|tienes un caso solido|fuerte",
    "vous devriez|pouvez porter plainte|poursuivre",
    "vous avez un dossier solide",
    "sie sollten|konnen klagen|verklagen",
    "sie haben gute chancen vor gericht",
    "voce deveria|deve processar",
];

const MEDICAL: &[&str] = &[
    "stop|quit taking your|the medication|medicine|meds|pills|insulin|antibiotics",
    "you should|could|can stop your medication|medicine|meds|treatment",
    "you should|can increase|double|reduce|lower your dose|dosage",
    // es, fr, de, pt
    "deje|deja de tomar su|tu|sus|tus medicamento|medicamentos|medicina",
    "arretez|arrete de prendre vos|votre|tes|ton medicaments|medicament|traitement",
    "setzen sie ihre|die medikamente ab",
    "horen sie auf ihre medikamente",
    "pare de tomar seu|seus|o|os remedio|remedios|medicamento|medicamentos",
];

/// Openings of a diagnosis; they count only with a condition word soon
/// after ("you probably have an infection", not "you probably have an
/// order number").
const DIAGNOSIS: &[&str] = &[
    "you probably|likely|definitely|clearly|may|might have",
    "sounds|looks like you have|ve",
    "you are|re suffering from",
    "my diagnosis is",
    "you have been diagnosed with",
];

const CONDITIONS: &[&str] = &[
    "infection",
    "disease",
    "syndrome",
    "disorder",
    "fracture",
    "concussion",
    "diabetes",
    "flu",
    "influenza",
    "covid",
    "cancer",
    "tumor",
    "tumour",
    "migraine",
    "allergy",
    "depression",
    "anxiety",
    "asthma",
    "pneumonia",
    "virus",
    "bacterial",
    "condition",
    "appendicitis",
    "sprain",
    "stroke",
    "ulcer",
    "hypertension",
];

const DOSE_UNITS: &[&str] = &[
    "mg",
    "milligrams",
    "mcg",
    "ml",
    "pills",
    "tablets",
    "capsules",
];

fn compile(phrases: &[&str]) -> Vec<Pattern> {
    phrases
        .iter()
        .map(|phrase| Pattern::parse(phrase).expect("the advice tables compile"))
        .collect()
}

static LEGAL_PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| compile(LEGAL));
static MEDICAL_PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| compile(MEDICAL));
static DIAGNOSIS_PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| compile(DIAGNOSIS));

/// Which of `patterns` matches first in `words`, by its index.
fn first_match(patterns: &[Pattern], words: &[&str]) -> Option<usize> {
    (0..words.len()).find_map(|start| {
        patterns
            .iter()
            .position(|pattern| pattern.match_end(words, start).is_some())
    })
}

/// "take 400 mg", "take 2 tablets": a number and a unit within a few
/// words after "take". Read on the plain lowercase words, not the
/// normalised ones: normalising reads "200mg" as leetspeak.
fn dosage(text: &str) -> bool {
    let lower = text.to_lowercase();
    let words: Vec<&str> = super::runs(&lower, char::is_alphanumeric)
        .into_iter()
        .map(|range| &lower[range])
        .collect();
    words.iter().enumerate().any(|(n, word)| {
        *word == "take"
            && words[n + 1..].iter().take(4).enumerate().any(|(m, next)| {
                let split = next.trim_start_matches(|c: char| c.is_ascii_digit());
                let numeric = split.len() < next.len();
                let unit_glued = numeric && DOSE_UNITS.contains(&split);
                let unit_after = numeric
                    && split.is_empty()
                    && words
                        .get(n + 2 + m)
                        .is_some_and(|unit| DOSE_UNITS.contains(unit));
                unit_glued || unit_after
            })
    })
}

fn diagnosis(words: &[&str]) -> bool {
    (0..words.len()).any(|start| {
        DIAGNOSIS_PATTERNS.iter().any(|pattern| {
            pattern.match_end(words, start).is_some_and(|end| {
                words[end..]
                    .iter()
                    .take(6)
                    .any(|word| CONDITIONS.contains(word))
            })
        })
    })
}

/// Every blocking finding in `text`.
#[must_use]
pub(crate) fn find(text: &str, guardrails: &Guardrails, forbidden: &[Pattern]) -> Vec<Finding> {
    let normalised = normalise(text);
    let words = normalised.words();
    let mut findings = Vec::new();
    if let Some(n) = first_match(forbidden, &words) {
        let phrase = guardrails
            .forbidden_phrases
            .get(n)
            .map_or("", String::as_str);
        findings.push(Finding {
            kind: Kind::ForbiddenPhrase,
            reason: format!("matches the forbidden phrase {phrase:?}"),
        });
    }
    if guardrails.block_legal_advice && first_match(&LEGAL_PATTERNS, &words).is_some() {
        findings.push(Finding {
            kind: Kind::LegalAdvice,
            reason: "gives legal advice".to_owned(),
        });
    }
    if guardrails.block_medical_advice {
        let reason = if first_match(&MEDICAL_PATTERNS, &words).is_some() {
            Some("advises on medication")
        } else if dosage(text) {
            Some("advises a dose")
        } else if diagnosis(&words) {
            Some("makes a diagnosis")
        } else {
            None
        };
        if let Some(reason) = reason {
            findings.push(Finding {
                kind: Kind::MedicalAdvice,
                reason: reason.to_owned(),
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, guardrails: &Guardrails, forbidden: &[&str]) -> Vec<Kind> {
        let forbidden: Vec<Pattern> = forbidden
            .iter()
            .map(|p| Pattern::parse(p).unwrap())
            .collect();
        find(text, guardrails, &forbidden)
            .into_iter()
            .map(|finding| finding.kind)
            .collect()
    }

    #[test]
    fn legal_advice_in_several_languages() {
        let guardrails = Guardrails::default();
        for text in [
            "Honestly, you should sue them.",
            "I think you have a strong case here",
            "Legally you're entitled to a full refund",
            "You are legally entitled to compensation.",
            "Y0u sh0uld SUE",
            "Usted debería demandar a la empresa",
            "Vous devriez porter plainte.",
            "Sie sollten klagen.",
        ] {
            assert_eq!(kinds(text, &guardrails, &[]), [Kind::LegalAdvice], "{text}");
        }
    }

    #[test]
    fn medical_advice() {
        let guardrails = Guardrails::default();
        for text in [
            "You should take 400 mg of ibuprofen",
            "just take 2 tablets every hour",
            "take 200mg twice a day",
            "Stop taking your medication for now.",
            "It sounds like you have an ear infection",
            "Deje de tomar su medicamento",
        ] {
            assert_eq!(
                kinds(text, &guardrails, &[]),
                [Kind::MedicalAdvice],
                "{text}"
            );
        }
    }

    #[test]
    fn harmless_look_alikes_pass() {
        let guardrails = Guardrails::default();
        for text in [
            "We cannot give legal advice; please ask a lawyer.",
            "You probably have an order number in your e-mail.",
            "Please take 5 minutes to fill in the form.",
            "You can take the case to our returns desk.",
            "Your medication order ships tomorrow.",
        ] {
            assert!(kinds(text, &guardrails, &[]).is_empty(), "{text}");
        }
    }

    #[test]
    fn the_flags_turn_advice_checks_off() {
        let guardrails = Guardrails {
            block_legal_advice: false,
            block_medical_advice: false,
            ..Guardrails::default()
        };
        assert!(
            kinds(
                "you should sue, and stop taking your meds",
                &guardrails,
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn forbidden_phrases_match_normalised_words() {
        let guardrails = Guardrails {
            forbidden_phrases: vec!["full refund".to_owned(), "guaranteed".to_owned()],
            ..Guardrails::default()
        };
        let forbidden = ["full refund", "guaranteed"];
        assert_eq!(
            kinds("You'll get a FULL  r3fund!", &guardrails, &forbidden),
            [Kind::ForbiddenPhrase]
        );
        assert!(kinds("refunds take 5 days", &guardrails, &forbidden).is_empty());
    }
}
