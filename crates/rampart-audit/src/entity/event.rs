//! `audit_event`: every stored event, in its log's order. Rows are only ever
//! inserted; the Merkle tree in `audit_node` makes any later change
//! detectable.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    /// The tenant id, or "platform" for the platform's log.
    #[sea_orm(primary_key, auto_increment = false)]
    pub log_id: String,
    /// Position in the log (the leaf index), from 0. Never negative; signed
    /// only because that is what both databases store natively.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    #[sea_orm(unique)]
    pub event_id: String,
    pub tenant_id: String,
    pub actor: String,
    pub credential_id: String,
    pub action: String,
    pub target: String,
    /// RFC 3339 in UTC, kept as text because the leaf hash covers it byte
    /// for byte.
    pub occurred_at: String,
    pub service: String,
    pub request_id: String,
    pub outcome: String,
    pub client_addr: String,
    /// JSON object of strings, keys sorted.
    pub details: String,
    pub schema_version: i32,
    /// When the audit service stored the event; not covered by the hash.
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
