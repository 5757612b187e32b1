//! `audit_checkpoint`: every signed checkpoint, one per log and size.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoint")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub log_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub size: i64,
    /// Hex.
    pub root_hash: String,
    /// RFC 3339 UTC, as signed.
    pub timestamp: String,
    pub key_id: String,
    /// Base64.
    pub signature: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
