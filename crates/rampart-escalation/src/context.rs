//! Negation and reported speech: when a phrase that names an intent does
//! not mean the customer has it.
//!
//! The rule, applied to every intent except emergency and security:
//!
//! - **Negated**: a negation word ("not", "no voy", "ne ... pas", "nicht",
//!   "não", "nahi", "maatten") stands in the same clause, at most four
//!   words before the phrase with no first-person pronoun in between ("I'm
//!   not going to sue you", "no voy a demandar"), or, for the languages
//!   that negate after the verb (German, Hindi, Tamil), right after it
//!   ("ich werde Sie nicht verklagen", "case nahi karunga"). A negation in
//!   a condition does not count: "if you don't refund me I will sue" is a
//!   threat.
//! - **Reported**: the phrase is inside quotation marks (unless the whole
//!   message is), or follows, in the same sentence, a reporting verb whose
//!   subject is someone else ("my neighbour said she'd sue them").
//!
//! Emergency and security are never discounted: "my neighbour said there's
//! smoke in the hall" is an emergency whoever saw it, and an instruction to
//! "ignore previous instructions" is an attack whether it is quoted,
//! reported or dressed up as a translation. Those intents lean to a
//! handoff, since a needless review costs minutes and a miss costs far
//! more.

use crate::normalise::Token;

/// Negation words that come before what they negate.
pub(crate) const NEGATIONS_BEFORE: &[&str] = &[
    // English ("won't" is "won t").
    "not",
    "no",
    "never",
    "t",
    "dont",
    "wont",
    "cant",
    "didnt",
    "nor",
    "without",
    "neither",
    // Spanish and Portuguese.
    "nunca",
    "jamas",
    "ni",
    "tampoco",
    "sin",
    "nao",
    "nem",
    "sem",
    "jamais",
    // French ("n'ai" is "n ai").
    "ne",
    "n",
    "pas",
    "sans",
    "aucun",
    "aucune",
    // German.
    "nicht",
    "kein",
    "keine",
    "keinen",
    "keinem",
    "nie",
    "niemals",
    "ohne",
    // Hindi.
    "nahi",
    "nahin",
    "nahee",
    "mat",
    "नहीं",
    "नही",
    "मत",
    "ना",
    // Tamil.
    "illa",
    "illai",
    "vendam",
    "venaam",
    "இல்லை",
    "வேண்டாம்",
];

/// Negation words that follow what they negate (verb-final languages).
pub(crate) const NEGATIONS_AFTER: &[&str] = &[
    "nicht",
    "nahi",
    "nahin",
    "nahee",
    "नहीं",
    "नही",
    "illa",
    "illai",
    "maatten",
    "maaten",
    "maatom",
    // Tamil verbs negated with "-ala": "kekkala" (did not ask).
    "kekkala",
    "kekala",
    "ketkala",
    "pannala",
    "panala",
    "sollala",
    "varala",
    "matten",
    "vendam",
    "venaam",
    "இல்லை",
    "மாட்டேன்",
    "மாட்டோம்",
    "வேண்டாம்",
];

/// Words that make a following negation part of a condition.
const CONDITIONS: &[&str] = &[
    "if",
    "unless",
    "si",
    "wenn",
    "falls",
    "se",
    "agar",
    "jab",
    "yadi",
    "अगर",
    "enral",
];

/// The speaker: a pronoun between a negation and the phrase means the
/// negation belongs to another verb ("no refund, I want my money back").
const FIRST_PERSON: &[&str] = &[
    "i",
    "we",
    "yo",
    "nosotros",
    "je",
    "nous",
    "ich",
    "wir",
    "eu",
    "nos",
    "main",
    "hum",
    "naan",
    "naanga",
    "मैं",
    "हम",
    "நான்",
];

/// Verbs that introduce what someone else said.
const REPORTING_VERBS: &[&str] = &[
    "said",
    "says",
    "told",
    "tells",
    "asked",
    "wrote",
    "mentioned",
    "joked",
    "claimed",
    "dijo",
    "dice",
    "decia",
    "comento",
    "dit",
    "disait",
    "raconte",
    "sagte",
    "sagt",
    "meinte",
    "gesagt",
    "disse",
    "diz",
    "falou",
    "kaha",
    "bola",
    "boli",
    "bataya",
    "kehta",
    "kehti",
    "sonnar",
    "sonnaar",
    "sonnanga",
    "sonnaanga",
    "sonna",
    "कहा",
    "बोला",
    "बोली",
    "சொன்னார்",
    "சொன்னாங்க",
];

/// How far back a negation reaches, in words.
const NEGATION_REACH: usize = 4;

/// Whether a match at `start..end` is negated or reported (see the module
/// documentation). `extra_negations` are a tenant language's.
pub(crate) fn discounts(
    tokens: &[Token],
    start: usize,
    end: usize,
    extra_negations: &[String],
) -> bool {
    is_negated(tokens, start, end, extra_negations) || is_reported(tokens, start)
}

fn is_negation(word: &str, list: &[&str], extra: &[String]) -> bool {
    list.contains(&word) || extra.iter().any(|w| w == word)
}

fn is_negated(tokens: &[Token], start: usize, end: usize, extra: &[String]) -> bool {
    let clause = tokens[start].clause;
    for distance in 1..=NEGATION_REACH {
        let Some(at) = start.checked_sub(distance) else {
            break;
        };
        let token = &tokens[at];
        if token.clause != clause || FIRST_PERSON.contains(&token.text.as_str()) {
            break;
        }
        if is_negation(&token.text, NEGATIONS_BEFORE, extra) {
            let conditional = tokens[at.saturating_sub(3)..at]
                .iter()
                .any(|t| t.clause == clause && CONDITIONS.contains(&t.text.as_str()));
            return !conditional;
        }
    }
    tokens[end..]
        .iter()
        .take(2)
        .take_while(|t| t.clause == tokens[end - 1].clause)
        .any(|t| is_negation(&t.text, NEGATIONS_AFTER, extra))
}

fn is_reported(tokens: &[Token], start: usize) -> bool {
    if tokens[start].quoted && !tokens.iter().all(|t| t.quoted) {
        return true;
    }
    let sentence = tokens[start].sentence;
    (0..start)
        .rev()
        .take_while(|&i| tokens[i].sentence == sentence)
        .any(|i| {
            REPORTING_VERBS.contains(&tokens[i].text.as_str())
                && !tokens[i.saturating_sub(2)..i]
                    .iter()
                    .any(|t| FIRST_PERSON.contains(&t.text.as_str()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::normalise;

    /// Whether `phrase` (one word) is discounted where it first appears.
    fn discounted(text: &str, word: &str) -> bool {
        let tokens = normalise(text).tokens;
        let at = tokens.iter().position(|t| t.text == word).expect(word);
        discounts(&tokens, at, at + 1, &[])
    }

    #[test]
    fn negations_before_discount() {
        assert!(discounted("I'm not going to sue", "sue"));
        assert!(discounted("no voy a demandar", "demandar"));
        assert!(discounted("je ne vais pas porter plainte", "plainte"));
        assert!(discounted("eu não vou processar", "processar"));
    }

    #[test]
    fn negations_after_discount_in_verb_final_languages() {
        assert!(discounted("ich werde Sie verklagen nicht", "verklagen"));
        assert!(discounted("main case nahi karunga", "case"));
        assert!(discounted("naan case poda maatten", "poda"));
    }

    #[test]
    fn a_negation_elsewhere_does_not_discount() {
        assert!(!discounted("No, I will sue", "sue"));
        assert!(!discounted("if you don't refund me I will sue", "sue"));
        assert!(!discounted("not happy at all and I will sue", "sue"));
        assert!(!discounted("no refund yet I want my money back", "money"));
        assert!(!discounted("I will sue you if you don't pay", "sue"));
    }

    #[test]
    fn reported_and_quoted_speech_discounts() {
        assert!(discounted("my neighbour said she would sue them", "sue"));
        assert!(discounted("the film was called \"I sue you\"", "sue"));
        assert!(!discounted("I said I will sue", "sue"));
        assert!(!discounted("\"I will sue you\"", "sue"));
        assert!(!discounted("She said hi. I will sue", "sue"));
    }
}
