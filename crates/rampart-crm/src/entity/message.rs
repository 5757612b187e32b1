//! `crm_message`: one message of a conversation, from the customer, the AI,
//! an agent or the system, with what escalation said about it.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_message")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// "live" or "test": the data mode of the credential that wrote it.
    pub mode: String,
    pub conversation_id: String,
    /// "customer", "ai", "agent" or "system".
    pub author: String,
    /// The agent's user id, for agent messages.
    pub author_id: Option<String>,
    /// As delivered; personal data, never logged. Blanked when the
    /// conversation ends without a kept transcript.
    pub text: String,
    /// "received", "sent", "redacted" or "blocked".
    pub delivery: String,
    /// Customer messages: "pending" until escalation's gate decided it,
    /// then "decided". `None` for other authors.
    pub gate: Option<String>,
    /// The gate's receipt, JSON ([`crate::domain::Receipt`]).
    pub receipt: Option<String>,
    /// The guardrails' findings, a JSON array ([`crate::domain::Finding`]).
    pub findings: String,
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the post request, to tell a retry from another
    /// request reusing its key.
    pub idempotency_fingerprint: Option<String>,
    pub created_at: DateTimeUtc,
    /// The sealed text; `text` is then stored empty (see [`crate::vault`]).
    pub text_sealed: Option<Vec<u8>>,
}

/// Shows only ids and states: the text is personal data.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("conversation_id", &self.conversation_id)
            .field("author", &self.author)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
