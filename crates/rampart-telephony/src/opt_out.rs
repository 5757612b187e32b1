//! SMS opt-out keywords: what a texter's message asks of the business's
//! number, before anything else reads it.
//!
//! The keywords are the ones US carriers and Twilio's Advanced Opt-Out
//! honour (<https://help.twilio.com/articles/223134027>): a message that is
//! one of them, whatever its case, spacing or final punctuation, opts the
//! number out of (or back in to) the tenant's messages, or asks for help.
//! "Stop" opts out; "Please stop texting me" does not (carriers match the
//! whole message, and so do we: a sentence goes to the support flow, where
//! a person can read it).

/// What a message asks, when it is a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, CANCEL.
    OptOut,
    /// START, UNSTOP, YES.
    OptIn,
    /// HELP.
    Help,
}

const OPT_OUT: [&str; 8] = [
    "STOP",
    "UNSUBSCRIBE",
    "END",
    "QUIT",
    "STOPALL",
    "REVOKE",
    "OPTOUT",
    "CANCEL",
];
const OPT_IN: [&str; 3] = ["START", "UNSTOP", "YES"];
const HELP: [&str; 1] = ["HELP"];

/// The longest message that can be a keyword once spacing is removed.
const LONGEST: usize = 11;

/// The keyword `body` is, if it is one: ASCII letters only once every
/// space and a trailing `.` or `!` are removed, compared without case.
#[must_use]
pub fn classify(body: &str) -> Option<Keyword> {
    let trimmed = body.trim().trim_end_matches(['.', '!']);
    let mut word = String::with_capacity(LONGEST);
    for character in trimmed.chars() {
        if character.is_whitespace() {
            continue;
        }
        if !character.is_ascii_alphabetic() || word.len() == LONGEST {
            return None;
        }
        word.push(character.to_ascii_uppercase());
    }
    let word = word.as_str();
    if OPT_OUT.contains(&word) {
        Some(Keyword::OptOut)
    } else if OPT_IN.contains(&word) {
        Some(Keyword::OptIn)
    } else if HELP.contains(&word) {
        Some(Keyword::Help)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_in_any_case_and_spacing() {
        for word in OPT_OUT {
            for body in [
                word.to_owned(),
                word.to_lowercase(),
                format!("  {word}\n"),
                format!("{word}."),
                format!("{word}!"),
            ] {
                assert_eq!(classify(&body), Some(Keyword::OptOut), "{body:?}");
            }
        }
        assert_eq!(classify("Stop All"), Some(Keyword::OptOut));
        assert_eq!(classify("opt out"), Some(Keyword::OptOut));
        assert_eq!(classify("sToP"), Some(Keyword::OptOut));
        for body in ["start", " Unstop ", "YES", "yes!"] {
            assert_eq!(classify(body), Some(Keyword::OptIn), "{body:?}");
        }
        assert_eq!(classify("help"), Some(Keyword::Help));
        assert_eq!(classify(" HELP? "), None);
    }

    #[test]
    fn sentences_and_lookalikes_are_not_keywords() {
        for body in [
            "",
            "   ",
            "please stop texting me",
            "stop it",
            "stopp",
            "STOP STOP",
            "S\u{0422}OP",
            "ＳＴＯＰ",
            "stop?",
            "I will sue you",
            "yes please",
            "helpme!!",
            "UNSUBSCRIBEXX",
        ] {
            assert_eq!(classify(body), None, "{body:?}");
        }
    }
}
