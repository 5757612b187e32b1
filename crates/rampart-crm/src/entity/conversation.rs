//! `crm_conversation`: a conversation with one of a tenant's customers.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_conversation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// "live" or "test": the data mode of the credential that wrote it.
    pub mode: String,
    pub channel: String,
    /// The widget's web origin; empty for other channels.
    pub origin: String,
    /// Written empty since m0003: a first message is a `crm_message` row
    /// like every other (m0003 moved the old ones there). The column stays
    /// so that dropping it needs no table rebuild on SQLite.
    pub first_message: String,
    pub started_at: DateTimeUtc,
    /// "ai_active", "handed_off", "assigned", "resolved" or "closed".
    pub status: String,
    pub customer_id: Option<String>,
    /// The agent (a user id) who claimed it.
    pub assignee: Option<String>,
    /// Personal data, never logged.
    pub summary: String,
    pub transcript_consent: bool,
    /// The open handoff, when a person has or is to get the conversation.
    pub handoff_id: Option<String>,
    /// Nullable in the schema only because SQLite cannot add a NOT NULL
    /// column without a constant default; m0003 filled it, every write
    /// sets it.
    pub updated_at: DateTimeUtc,
    /// SHA-256 (hex) of the widget visitor's token; widget starts only.
    pub visitor_token_hash: Option<String>,
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the create request, to tell a retry from another
    /// request reusing its key.
    pub idempotency_fingerprint: Option<String>,
    /// The sealed summary; `summary` is then stored empty (see
    /// [`crate::vault`]).
    pub summary_sealed: Option<Vec<u8>>,
}

/// Shows only the ids: the rest is the customer's.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
