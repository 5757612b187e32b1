//! `crm_data_key`: the data keys of a tenant's owners (a customer, a
//! conversation, the tenant itself), wrapped under the tenant key. Deleting
//! a row is crypto-shredding: every ciphertext under it, in the database or
//! in any backup, can no longer be opened.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_data_key")]
pub struct Model {
    /// 32 lowercase hex digits; its 16 bytes head every ciphertext made
    /// under this key, so a recreated key is told apart from a destroyed one.
    pub id: String,
    /// With `owner`, the primary key: what every read looks a key up by.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Unique per tenant: `customer:<id>`, `conversation:<id>`, `tenant`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner: String,
    pub wrapped_key: Vec<u8>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
