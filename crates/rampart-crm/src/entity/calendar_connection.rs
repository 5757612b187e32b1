//! `crm_calendar_connection`: a tenant's connected calendar (one per
//! mode). The tokens are sealed under the tenant's data key (owner
//! `"tenant"`), bound to this table, their column and the row
//! `<tenant>:<mode>`.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_calendar_connection")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub mode: String,
    /// `"google"`.
    pub provider: String,
    /// The one calendar events are written to and busy times read from.
    pub calendar_id: String,
    pub access_token: Vec<u8>,
    pub refresh_token: Vec<u8>,
    /// When the access token stops working.
    pub expires_at: DateTimeUtc,
    /// The scope the provider granted (exactly the events scope).
    pub scope: String,
    /// The actor who connected it (`user:usr_...`, `api_key:key_...`).
    pub connected_by: String,
    pub connected_at: DateTimeUtc,
}

/// Shows no token, sealed or not.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("tenant_id", &self.tenant_id)
            .field("mode", &self.mode)
            .field("calendar_id", &self.calendar_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
