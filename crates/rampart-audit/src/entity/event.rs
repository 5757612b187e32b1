//! `audit_event`: every stored event, in its log's order. Rows are only ever
//! inserted; the chain hashes make any later change detectable.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    /// The tenant id, or "platform" for the platform's log.
    #[sea_orm(primary_key, auto_increment = false)]
    pub log_id: String,
    /// Position in the log, from 0. Never negative; signed only because
    /// that is what both databases store natively.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    #[sea_orm(unique)]
    pub event_id: String,
    pub tenant_id: String,
    pub actor: String,
    pub credential_id: String,
    pub action: String,
    pub target: String,
    /// RFC 3339 in UTC, kept as text because the chain hash covers it byte
    /// for byte.
    pub occurred_at: String,
    pub service: String,
    pub request_id: String,
    pub outcome: String,
    /// When the audit service stored the event; not covered by the chain.
    pub recorded_at: DateTimeUtc,
    pub prev_hash: String,
    pub chain_hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
