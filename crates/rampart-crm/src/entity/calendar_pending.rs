//! `crm_calendar_pending`: an authorisation sent to the provider and not
//! yet come back. Keyed by the SHA-256 (hex) of its `state`; the PKCE
//! verifier is sealed under the tenant's data key, bound to this table,
//! column and the state hash. Used once: the callback deletes it.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_calendar_pending")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub tenant_id: String,
    pub mode: String,
    pub calendar_id: String,
    pub verifier: Vec<u8>,
    /// The redirect URI the authorisation named; the code exchange must
    /// name the same.
    pub redirect_uri: String,
    /// The actor who asked to connect, and the credential they used: the
    /// callback's audit event is theirs.
    pub requested_by: String,
    pub credential_id: String,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

/// Shows no verifier.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("tenant_id", &self.tenant_id)
            .field("mode", &self.mode)
            .field("calendar_id", &self.calendar_id)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
