//! The stated reason for placing or releasing a legal hold.

use super::InvalidInput;

const MAX_CHARS: usize = 500;

/// 1 to 500 characters, line breaks allowed, other control characters not.
/// It may name a case or a person, so `Debug` is redacted and it never goes
/// to the audit log.
#[derive(Clone, PartialEq, Eq)]
pub struct HoldReason(String);

/// A stated reason (a hold's, an erasure request's): trimmed, 1 to 500
/// characters, line breaks allowed, other control characters not.
pub(super) fn parse_reason(raw: &str) -> Result<String, InvalidInput> {
    let trimmed = raw.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > MAX_CHARS {
        return Err(InvalidInput::new("reason", "must be 1 to 500 characters"));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err(InvalidInput::new(
            "reason",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

impl std::fmt::Debug for HoldReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HoldReason(..)")
    }
}

impl HoldReason {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        parse_reason(raw).map(Self)
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
    fn a_reason_is_required_and_bounded() {
        assert!(HoldReason::parse("Litigation 2026-14").is_ok());
        assert_eq!(HoldReason::parse("  ").unwrap_err().field(), "reason");
        assert!(HoldReason::parse(&"x".repeat(501)).is_err());
        assert!(HoldReason::parse("a\u{0}b").is_err());
    }
}
