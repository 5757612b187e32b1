//! What escalation said about a message or a reply, as the CRM keeps it
//! beside the message: the gate's decision receipt, and the guardrails'
//! findings. Stored as JSON text (the same on SQLite and PostgreSQL), with
//! enum values by name so a row read by hand says what was decided.

use rampart_proto::escalation::v1 as escalation;
use serde::{Deserialize, Serialize};

/// The gate's decision receipt for one customer message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// "ai_answer" or "handoff".
    pub action: String,
    pub intents: Vec<String>,
    /// "none", "low", "medium", "high" or "critical".
    pub severity: String,
    pub reasons: Vec<String>,
    pub signals: Vec<String>,
    pub policy_version: u32,
    pub language: String,
    pub decided_at: String,
}

impl Receipt {
    #[must_use]
    pub fn from_proto(receipt: &escalation::Receipt) -> Self {
        let action = match receipt.action() {
            escalation::Action::AiAnswer => "ai_answer",
            escalation::Action::Handoff => "handoff",
            escalation::Action::Unspecified => "unspecified",
        };
        Self {
            action: action.to_owned(),
            intents: receipt.intents.clone(),
            severity: severity_name(receipt.severity()).to_owned(),
            reasons: receipt.reasons.clone(),
            signals: receipt.signals.clone(),
            policy_version: receipt.policy_version,
            language: receipt.language.clone(),
            decided_at: receipt.decided_at.clone(),
        }
    }

    /// As the CRM answers it. `replayed` is escalation's word about one
    /// call, not part of the decision, so it is not kept.
    #[must_use]
    pub fn to_proto(&self) -> escalation::Receipt {
        let action = match self.action.as_str() {
            "ai_answer" => escalation::Action::AiAnswer,
            "handoff" => escalation::Action::Handoff,
            _ => escalation::Action::Unspecified,
        };
        escalation::Receipt {
            action: action.into(),
            intents: self.intents.clone(),
            severity: severity_from_name(&self.severity).into(),
            reasons: self.reasons.clone(),
            signals: self.signals.clone(),
            policy_version: self.policy_version,
            language: self.language.clone(),
            decided_at: self.decided_at.clone(),
            replayed: false,
        }
    }
}

/// One thing the guardrails found in an AI reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: String,
    pub reason: String,
}

impl Finding {
    #[must_use]
    pub fn from_proto(finding: &escalation::Finding) -> Self {
        Self {
            kind: finding.kind.clone(),
            reason: finding.reason.clone(),
        }
    }

    #[must_use]
    pub fn to_proto(&self) -> escalation::Finding {
        escalation::Finding {
            kind: self.kind.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// A severity's lowercase name, for receipts and audit details.
#[must_use]
pub fn severity_name(severity: escalation::Severity) -> &'static str {
    match severity {
        escalation::Severity::Unspecified => "unspecified",
        escalation::Severity::None => "none",
        escalation::Severity::Low => "low",
        escalation::Severity::Medium => "medium",
        escalation::Severity::High => "high",
        escalation::Severity::Critical => "critical",
    }
}

fn severity_from_name(name: &str) -> escalation::Severity {
    match name {
        "none" => escalation::Severity::None,
        "low" => escalation::Severity::Low,
        "medium" => escalation::Severity::Medium,
        "high" => escalation::Severity::High,
        "critical" => escalation::Severity::Critical,
        _ => escalation::Severity::Unspecified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_round_trips_through_json() {
        let proto = escalation::Receipt {
            action: escalation::Action::Handoff.into(),
            intents: vec!["emergency".into()],
            severity: escalation::Severity::Critical.into(),
            reasons: vec!["gas".into()],
            signals: vec!["rule:en:emergency:gas".into()],
            policy_version: 3,
            language: "en".into(),
            decided_at: "2026-01-01T00:00:00Z".into(),
            replayed: true,
        };
        let stored = Receipt::from_proto(&proto);
        let json = serde_json::to_string(&stored).unwrap();
        assert!(json.contains("\"handoff\"") && json.contains("\"critical\""));
        let back: Receipt = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.to_proto(),
            escalation::Receipt {
                replayed: false,
                ..proto
            }
        );
    }
}
