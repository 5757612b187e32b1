//! An erasure request's parts: why it was asked ([`ErasureReason`]), who
//! or what opened it ([`ErasureSource`]), and where it stands
//! ([`ErasureStatus`]).

use rampart_kit::ids::HandoffId;

use super::InvalidInput;

/// 1 to 500 characters, line breaks allowed, other control characters not.
/// It may quote the customer, so `Debug` is redacted and it never goes to
/// the audit log.
#[derive(Clone, PartialEq, Eq)]
pub struct ErasureReason(String);

impl std::fmt::Debug for ErasureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErasureReason(..)")
    }
}

impl ErasureReason {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        super::legal_hold::parse_reason(raw).map(Self)
    }

    /// The reason recorded when a privacy handoff opens the request: it
    /// names the handoff, never what the customer wrote.
    #[must_use]
    pub fn privacy_handoff(handoff: &HandoffId) -> Self {
        Self(format!(
            "the customer asked for their data to be erased (privacy handoff {handoff})"
        ))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who opened a request: the owner through the API, or a privacy handoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureSource {
    Owner,
    Handoff(HandoffId),
}

impl ErasureSource {
    /// As stored and audited: `owner` or `handoff:<id>`.
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            Self::Owner => "owner".to_owned(),
            Self::Handoff(id) => format!("handoff:{id}"),
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasureStatus {
    /// Previewed, not yet executed; the customer's data is still there.
    Open,
    /// The data keys are destroyed, the rows deleted, the certificate
    /// issued.
    Executed,
}

impl ErasureStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Executed => "executed",
        }
    }

    /// A list filter: `open`, `executed`, or empty for both.
    pub fn parse_filter(raw: &str) -> Result<Option<Self>, InvalidInput> {
        match raw {
            "" => Ok(None),
            "open" => Ok(Some(Self::Open)),
            "executed" => Ok(Some(Self::Executed)),
            _ => Err(InvalidInput::new(
                "status",
                "must be \"open\" or \"executed\"",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_required_bounded_and_redacted() {
        let reason = ErasureReason::parse("  customer wrote on 2 March  ").unwrap();
        assert_eq!(reason.as_str(), "customer wrote on 2 March");
        assert_eq!(format!("{reason:?}"), "ErasureReason(..)");
        assert_eq!(ErasureReason::parse(" ").unwrap_err().field(), "reason");
        assert!(ErasureReason::parse(&"x".repeat(500)).is_ok());
        assert!(ErasureReason::parse(&"x".repeat(501)).is_err());
        assert!(ErasureReason::parse("a\u{7}b").is_err());
    }

    #[test]
    fn sources_read_as_stored() {
        let handoff = HandoffId::generate();
        assert_eq!(ErasureSource::Owner.to_text(), "owner");
        assert_eq!(
            ErasureSource::Handoff(handoff.clone()).to_text(),
            format!("handoff:{handoff}")
        );
    }

    #[test]
    fn the_status_filter_is_open_executed_or_empty() {
        assert_eq!(ErasureStatus::parse_filter("").unwrap(), None);
        assert_eq!(
            ErasureStatus::parse_filter("open").unwrap(),
            Some(ErasureStatus::Open)
        );
        assert_eq!(
            ErasureStatus::parse_filter("executed").unwrap(),
            Some(ErasureStatus::Executed)
        );
        for bad in ["Open", "closed", " open"] {
            assert_eq!(
                ErasureStatus::parse_filter(bad).unwrap_err().field(),
                "status"
            );
        }
    }
}
