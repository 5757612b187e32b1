//! `crm_customer`: a tenant's customers. Every row carries its tenant, and
//! every query of the store filters by it.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_customer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// "live" or "test": the data mode of the credential that wrote it.
    pub mode: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub created_at: DateTimeUtc,
    /// The sealed personal data (see [`crate::vault`]). Once sealed, the
    /// plaintext columns above are stored empty (`name`) or NULL; the store
    /// hands out models with the opened values in them instead.
    pub name_sealed: Option<Vec<u8>>,
    pub phone_sealed: Option<Vec<u8>>,
    pub email_sealed: Option<Vec<u8>>,
    pub address_sealed: Option<Vec<u8>>,
    /// Blind indexes of the normalised phone and e-mail, for exact lookups.
    pub phone_index: Option<String>,
    pub email_index: Option<String>,
}

/// Shows only the ids: the other fields are personal data and must not end
/// up in logs through a `{:?}`.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
