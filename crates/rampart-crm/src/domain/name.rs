//! Display names: a tenant's business name and a customer's name.
//!
//! Both follow one rule: surrounding whitespace is dropped, what is left is
//! 1 to 200 characters (Unicode scalar values, not bytes, so a name in any
//! script gets the same allowance) with no control characters, which could
//! break log lines, CSV exports or terminal output.

use super::InvalidInput;

const MAX_CHARS: usize = 200;

fn parse_display_name(field: &'static str, raw: &str) -> Result<String, InvalidInput> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidInput::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > MAX_CHARS {
        return Err(InvalidInput::new(field, "must be at most 200 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidInput::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// The name of a tenant (a business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        parse_display_name("name", raw).map(Self)
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

/// The name of a tenant's customer: personal data, so its `Debug` is
/// redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerName(String);

impl CustomerName {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        parse_display_name("name", raw).map(Self)
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
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(
            TenantName::parse("  Acme Plumbing \n").unwrap().as_str(),
            "Acme Plumbing"
        );
        assert_eq!(
            CustomerName::parse("\tAda Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
    }

    #[test]
    fn empty_and_blank_names_are_refused() {
        for raw in ["", " ", "\t\n ", "\u{3000}"] {
            let error = TenantName::parse(raw).unwrap_err();
            assert_eq!(error.field(), "name");
            assert_eq!(error.to_string(), "name must not be empty");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let at_limit = "é".repeat(200);
        assert_eq!(at_limit.len(), 400);
        assert!(CustomerName::parse(&at_limit).is_ok());
        let over = "a".repeat(201);
        let error = CustomerName::parse(&over).unwrap_err();
        assert_eq!(error.to_string(), "name must be at most 200 characters");
    }

    #[test]
    fn whitespace_does_not_count_toward_the_limit() {
        let padded = format!("   {}   ", "a".repeat(200));
        assert!(TenantName::parse(&padded).is_ok());
    }

    #[test]
    fn control_characters_are_refused() {
        for raw in [
            "Acme\nPlumbing",
            "Acme\u{0}",
            "Ac\u{1b}[31mme",
            "a\u{7f}b",
            "a\rb",
        ] {
            let error = TenantName::parse(raw).unwrap_err();
            assert!(error.to_string().contains("control characters"), "{raw:?}");
        }
    }

    #[test]
    fn names_in_any_script_are_accepted() {
        for raw in [
            "Zoë's Café",
            "株式会社テスト",
            "O'Brien & Sons, Ltd.",
            "Ωμέγα",
        ] {
            assert!(TenantName::parse(raw).is_ok(), "{raw:?}");
        }
    }

    #[test]
    fn customer_names_do_not_show_in_debug_output() {
        let name = CustomerName::parse("Ada Lovelace").unwrap();
        assert_eq!(format!("{name:?}"), "CustomerName(..)");
    }
}
