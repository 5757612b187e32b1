//! Decision receipts (`esc_decision`): what the gate decided about one
//! customer message and on what grounds, stored once per message id.
//!
//! [`decide`] is the pure part: the tenant's compiled detector, with the
//! policy's severities applied, gives a [`Receipt`]. [`DecisionStore`] keeps
//! receipts per tenant and data mode; the message's text is never stored,
//! only what was found in it.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rampart_kit::ids::{ConversationId, MessageId};
use rampart_proto::escalation::v1 as proto;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter,
};
use serde::{Deserialize, Serialize};

use crate::entity::decision;
use crate::error::Error;
use crate::intents::{Action, Severity};
use crate::policies::CompiledPolicy;
use crate::scope::DataScope;

/// What was decided about one message. Stored as JSON; never holds the
/// message's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// `ai_answer` or `handoff`.
    pub action: String,
    /// Built-in intents sorted, then the tenant's own sorted.
    pub intents: Vec<String>,
    /// `none`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    pub reasons: Vec<String>,
    /// The rules and model signals that fired.
    pub signals: Vec<String>,
    pub policy_version: u32,
    pub language: String,
    pub decided_at: DateTime<Utc>,
}

impl Receipt {
    #[must_use]
    pub fn is_handoff(&self) -> bool {
        self.action == "handoff"
    }

    #[must_use]
    pub fn severity(&self) -> Severity {
        severity_from_name(&self.severity)
    }

    /// The wire form; `replayed` when it was stored by an earlier call.
    #[must_use]
    pub fn to_proto(&self, replayed: bool) -> proto::Receipt {
        let action = if self.is_handoff() {
            proto::Action::Handoff
        } else {
            proto::Action::AiAnswer
        };
        proto::Receipt {
            action: action.into(),
            intents: self.intents.clone(),
            severity: severity_to_proto(self.severity()).into(),
            reasons: self.reasons.clone(),
            signals: self.signals.clone(),
            policy_version: self.policy_version,
            language: self.language.clone(),
            decided_at: self.decided_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            replayed,
        }
    }
}

#[must_use]
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::None => "none",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

fn severity_from_name(name: &str) -> Severity {
    match name {
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => Severity::None,
    }
}

#[must_use]
pub fn severity_to_proto(severity: Severity) -> proto::Severity {
    match severity {
        Severity::None => proto::Severity::None,
        Severity::Low => proto::Severity::Low,
        Severity::Medium => proto::Severity::Medium,
        Severity::High => proto::Severity::High,
        Severity::Critical => proto::Severity::Critical,
    }
}

/// Decides on one message under a tenant's compiled policy: its detector,
/// then its severities in place of the built-in ones.
#[must_use]
pub fn decide(compiled: &CompiledPolicy, text: &str) -> Receipt {
    let (assessment, signals) = compiled.detector.assess_with_signals(text);
    let policy = &compiled.policy;
    let built_in = assessment.findings.iter().map(|finding| {
        let name = finding.intent.as_str();
        let severity = policy.severity_of(name, finding.intent.severity());
        (name.to_owned(), severity, finding.reason.clone())
    });
    let custom = assessment.custom.iter().map(|found| {
        let severity = policy.severity_of(&found.name, found.severity);
        (found.name.clone(), severity, found.reason.clone())
    });
    let found: Vec<(String, Severity, String)> = built_in.chain(custom).collect();
    let severity = found
        .iter()
        .map(|(_, severity, _)| *severity)
        .max()
        .unwrap_or(Severity::None);
    let action = match assessment.action {
        Action::AiAnswer => "ai_answer",
        Action::Handoff => "handoff",
    };
    let (intents, reasons) = found
        .into_iter()
        .map(|(name, _, reason)| (name, reason))
        .unzip();
    Receipt {
        action: action.to_owned(),
        intents,
        severity: severity_name(severity).to_owned(),
        reasons,
        signals,
        policy_version: compiled.version,
        language: assessment.language,
        decided_at: Utc::now().trunc_subsecs(6),
    }
}

/// A stored receipt and the conversation it belongs to.
#[derive(Debug, Clone)]
pub struct StoredDecision {
    pub conversation_id: ConversationId,
    pub receipt: Receipt,
}

/// What inserting a receipt came to.
#[derive(Debug)]
pub enum Inserted {
    New,
    /// The message id already has a receipt (a concurrent duplicate, or an
    /// id another tenant, or the other mode, used).
    Duplicate,
}

/// One tenant's decision receipts in one data mode, and only those.
#[derive(Debug)]
pub struct DecisionStore<'a> {
    db: &'a DatabaseConnection,
    scope: &'a DataScope,
}

impl<'a> DecisionStore<'a> {
    /// The scope must come from the caller's principal
    /// ([`DataScope::of`]).
    #[must_use]
    pub fn for_tenant(db: &'a DatabaseConnection, scope: &'a DataScope) -> Self {
        Self { db, scope }
    }

    /// The receipt stored for `message_id` in this scope; `None` for an
    /// unknown id, and alike for another tenant's or the other mode's.
    pub async fn find(&self, message_id: &MessageId) -> Result<Option<StoredDecision>, Error> {
        let row = decision::Entity::find_by_id(message_id.as_str())
            .filter(decision::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(decision::Column::Mode.eq(self.scope.mode_column()))
            .one(self.db)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let unreadable =
            |error: String| Error::Internal(anyhow::anyhow!("stored decision: {error}"));
        let receipt: Receipt =
            serde_json::from_str(&row.receipt).map_err(|e| unreadable(e.to_string()))?;
        let conversation_id =
            ConversationId::parse(&row.conversation_id).map_err(|e| unreadable(e.to_string()))?;
        Ok(Some(StoredDecision {
            conversation_id,
            receipt,
        }))
    }

    /// Inserts the receipt in `tx` (the transaction that may also open the
    /// handoff).
    pub async fn insert(
        &self,
        tx: &impl ConnectionTrait,
        message_id: &MessageId,
        conversation_id: &ConversationId,
        receipt: &Receipt,
    ) -> Result<Inserted, Error> {
        let row = decision::Model {
            message_id: message_id.as_str().to_owned(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode_column().to_owned(),
            conversation_id: conversation_id.as_str().to_owned(),
            receipt: serde_json::to_string(receipt).map_err(|e| Error::Internal(e.into()))?,
            decided_at: receipt.decided_at,
        };
        match decision::Entity::insert(row.into_active_model())
            .exec_without_returning(tx)
            .await
        {
            Ok(_) => Ok(Inserted::New),
            Err(error) if is_unique_violation(&error) => Ok(Inserted::Duplicate),
            Err(error) => Err(error.into()),
        }
    }
}

pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant_policy::TenantPolicy;

    fn compiled(document: &str) -> CompiledPolicy {
        CompiledPolicy::compile(3, TenantPolicy::parse(document, false).unwrap()).unwrap()
    }

    #[test]
    fn a_receipt_names_what_fired_and_the_version() {
        let receipt = decide(&compiled("{}"), "I smell gas in the kitchen");
        assert!(receipt.is_handoff());
        assert_eq!(receipt.intents, ["emergency"]);
        assert_eq!(receipt.severity, "critical");
        assert_eq!(receipt.policy_version, 3);
        assert_eq!(receipt.language, "en");
        assert!(
            receipt
                .signals
                .iter()
                .any(|s| s.starts_with("rule:en:emergency:")),
            "{:?}",
            receipt.signals
        );
        let json = serde_json::to_string(&receipt).unwrap();
        assert!(!json.contains("kitchen"), "{json}");
    }

    #[test]
    fn a_harmless_message_is_for_the_ai() {
        let receipt = decide(&compiled("{}"), "what time do you open on sunday");
        assert!(!receipt.is_handoff());
        assert_eq!(receipt.severity, "none");
        assert!(receipt.intents.is_empty());
    }

    #[test]
    fn the_policy_severities_replace_the_built_in_ones() {
        let policy = compiled(
            r#"{"severities": {"billing": "high"},
                "detection": {"intents": [{"name": "warranty_claim", "severity": "low",
                              "phrases": {"en": ["warranty claim"]}}]}}"#,
        );
        let receipt = decide(&policy, "I was charged twice this month");
        assert_eq!(receipt.intents, ["billing"]);
        assert_eq!(receipt.severity, "high");
        let receipt = decide(&policy, "I want to make a warranty claim");
        assert_eq!(receipt.intents, ["warranty_claim"]);
        assert_eq!(receipt.severity, "low");
        assert!(receipt.is_handoff());
        assert_eq!(receipt.signals, ["rule:en:warranty_claim:tenant"]);
    }

    #[test]
    fn the_wire_form_keeps_every_field() {
        let receipt = decide(&compiled("{}"), "I will sue you");
        let wire = receipt.to_proto(true);
        assert_eq!(wire.action(), proto::Action::Handoff);
        assert_eq!(wire.severity(), proto::Severity::High);
        assert_eq!(wire.intents, ["legal"]);
        assert!(wire.replayed);
        assert!(wire.decided_at.ends_with('Z'));
    }
}
