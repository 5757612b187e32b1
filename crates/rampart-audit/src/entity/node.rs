//! `audit_node`: the hash of every complete, aligned perfect subtree of each
//! log (level 0: the leaf hashes). Written once, when the subtree completes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_node")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub log_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub level: i16,
    /// The subtree covers leaves `idx << level .. (idx + 1) << level`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i64,
    pub hash: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
