//! `crm_channel`: a tenant's connected channels. Credentials are stored only
//! sealed, and their `Debug` shows neither them nor their size.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_channel")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub mode: String,
    /// `sms`, `phone`, `email`, `web` or `widget`.
    pub kind: String,
    pub display_name: String,
    /// A JSON array of the credentials' names.
    pub credential_names: String,
    /// The credentials' JSON, sealed under the tenant's data key.
    pub credentials: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    /// The E.164 number a `twilio` channel answers (m0013); unique across
    /// every tenant and mode. `None` for other kinds.
    pub phone_number: Option<String>,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
