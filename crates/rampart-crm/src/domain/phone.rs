//! Phone numbers of customers.
//!
//! People write numbers with spaces, dashes, dots and parentheses; those are
//! layout, and dropping them gives one stored form per number, so the same
//! number typed two ways compares equal. What remains must be 7 to 15
//! digits (15 is the E.164 maximum), optionally after a leading `+`. Anything
//! else (letters, `ext.`, a `+` in the middle) is refused rather than
//! guessed at.

use super::InvalidInput;

const FIELD: &str = "phone";
const MIN_DIGITS: usize = 7;
const MAX_DIGITS: usize = 15;

/// A customer's phone number, normalised to `+?[0-9]{7,15}`: personal data,
/// so its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let invalid = |problem| InvalidInput::new(FIELD, problem);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid("must not be empty"));
        }
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => ("+", rest),
            None => ("", trimmed),
        };
        let mut digits = String::with_capacity(MAX_DIGITS);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '(' | ')' | '.' => {}
                _ => {
                    return Err(invalid(
                        "may contain only digits, a leading +, spaces, dashes, dots and parentheses",
                    ));
                }
            }
            if digits.len() > MAX_DIGITS {
                return Err(invalid("must have at most 15 digits"));
            }
        }
        if digits.len() < MIN_DIGITS {
            return Err(invalid("must have at least 7 digits"));
        }
        Ok(Self(format!("{plus}{digits}")))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_characters_are_dropped() {
        for (raw, stored) in [
            ("+1 (555) 123-4567", "+15551234567"),
            ("555.123.4567", "5551234567"),
            (" 020 7946 0958 ", "02079460958"),
            ("+44-20-7946-0958", "+442079460958"),
            ("1234567", "1234567"),
        ] {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), stored, "{raw:?}");
        }
    }

    #[test]
    fn digit_count_is_bounded() {
        assert!(Phone::parse("123456").is_err());
        assert!(Phone::parse("+123456789012345").is_ok());
        assert_eq!(
            Phone::parse("+1234567890123456").unwrap_err().to_string(),
            "phone must have at most 15 digits"
        );
        assert_eq!(
            Phone::parse("(12) 34-56").unwrap_err().to_string(),
            "phone must have at least 7 digits"
        );
    }

    #[test]
    fn a_plus_is_allowed_only_first() {
        assert!(Phone::parse("555+1234567").is_err());
        assert!(Phone::parse("++15551234567").is_err());
    }

    #[test]
    fn other_characters_are_refused() {
        for raw in [
            "555-CALL-NOW",
            "5551234567 ext. 12",
            "555_123_4567",
            "５５５１２３４５６７",
            "555\n1234567",
        ] {
            let error = Phone::parse(raw).unwrap_err();
            assert_eq!(error.field(), "phone", "{raw:?}");
        }
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(
            Phone::parse(" ").unwrap_err().to_string(),
            "phone must not be empty"
        );
        assert!(Phone::parse("+").is_err());
        assert!(Phone::parse("() - .").is_err());
    }

    #[test]
    fn numbers_do_not_show_in_debug_output() {
        assert_eq!(
            format!("{:?}", Phone::parse("5551234567").unwrap()),
            "Phone(..)"
        );
    }
}
