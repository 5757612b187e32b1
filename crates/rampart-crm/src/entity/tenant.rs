//! `crm_tenant`: one row per business.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_tenant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// A JSON array of lowercase domain names. A list this small, always read
    /// and written whole, does not earn a table of its own, and JSON text
    /// reads the same on SQLite and PostgreSQL.
    pub office_domains: String,
    pub created_at: DateTimeUtc,
    /// Whether conversations keep their transcript once they end (and
    /// then only with the customer's consent). Off by default; no route
    /// sets it yet.
    pub transcripts_enabled: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
