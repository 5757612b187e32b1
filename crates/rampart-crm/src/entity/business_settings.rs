//! `crm_business_settings`: one settings document per tenant and mode.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_business_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub mode: String,
    /// From 1; a write names the version it started from.
    pub version: i32,
    /// The settings as canonical JSON, already validated
    /// ([`crate::domain::settings`]); `transcripts_enabled` lives on
    /// `crm_tenant`, not here.
    pub document: String,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
