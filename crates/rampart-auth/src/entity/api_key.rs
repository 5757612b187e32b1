//! `auth_api_key`: one row per issued tenant API key. The key itself is never
//! stored, only its keyed hash and a short prefix for people to recognise it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_api_key")]
pub struct Model {
    /// An `ApiKeyId` (`key_...`), also the credential id in principals.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub display_prefix: String,
    /// HMAC-SHA256 of the key under the server secret, in hex.
    #[sea_orm(unique)]
    pub key_hash: String,
    /// "live" or "test".
    pub environment: String,
    /// Space-separated scopes.
    pub scopes: String,
    pub created_at: DateTimeUtc,
    /// Set when the key is revoked; a revoked key never verifies again.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
