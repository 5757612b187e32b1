//! `crm_tenant_key`: each tenant's key, wrapped by a master key version.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_tenant_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The master key version `wrapped_key` is wrapped under.
    pub master_version: i64,
    pub wrapped_key: Vec<u8>,
    pub created_at: DateTimeUtc,
    /// When a rotation last re-wrapped it.
    pub rotated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
