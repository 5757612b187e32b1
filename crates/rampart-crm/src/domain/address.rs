//! Postal addresses of customers, kept as one free-form line.
//!
//! Address formats differ too much between countries to parse further; the
//! rules only keep the value safe to store and show: trimmed, not empty (an
//! absent address is sent as no field at all), at most 500 characters, and
//! no control characters, not even newlines, so the value stays one line in
//! exports and logs.

use super::InvalidInput;

const FIELD: &str = "address";
const MAX_CHARS: usize = 500;

/// A customer's address: personal data, so its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let invalid = |problem| InvalidInput::new(FIELD, problem);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid("must not be empty when given"));
        }
        if trimmed.chars().count() > MAX_CHARS {
            return Err(invalid("must be at most 500 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(invalid("must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
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
    fn ordinary_addresses_are_accepted_and_trimmed() {
        assert_eq!(
            Address::parse("  12 Oak Court, Springfield, IL 62704 ")
                .unwrap()
                .as_str(),
            "12 Oak Court, Springfield, IL 62704"
        );
        assert!(Address::parse("Königstraße 5, 10115 Berlin").is_ok());
    }

    #[test]
    fn length_is_bounded_in_characters() {
        assert!(Address::parse(&"ß".repeat(500)).is_ok());
        assert_eq!(
            Address::parse(&"a".repeat(501)).unwrap_err().to_string(),
            "address must be at most 500 characters"
        );
    }

    #[test]
    fn control_characters_are_refused_even_newlines() {
        for raw in [
            "12 Oak Court\nSpringfield",
            "12 Oak\tCourt",
            "12 Oak\u{0} Court",
            "a\u{85}b",
        ] {
            assert_eq!(
                Address::parse(raw).unwrap_err().to_string(),
                "address must not contain control characters",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn blank_addresses_are_refused() {
        assert_eq!(
            Address::parse("   ").unwrap_err().to_string(),
            "address must not be empty when given"
        );
    }

    #[test]
    fn addresses_do_not_show_in_debug_output() {
        assert_eq!(
            format!("{:?}", Address::parse("12 Oak Court").unwrap()),
            "Address(..)"
        );
    }
}
