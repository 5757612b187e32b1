//! `auth_api_key`: one row per issued tenant API key. The key itself is never
//! stored, only its keyed hash and a short prefix for people to recognise it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_api_key")]
pub struct Model {
    /// An `ApiKeyId` (`key_...`), also the credential id in principals.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// A `TenantId`, or empty for a platform admin key.
    pub tenant_id: String,
    pub name: String,
    pub display_prefix: String,
    /// HMAC-SHA256 of the key under the server secret, in hex.
    #[sea_orm(unique)]
    pub key_hash: String,
    /// "live", "test", "widget" or "admin".
    pub environment: String,
    /// Space-separated scopes.
    pub scopes: String,
    pub created_at: DateTimeUtc,
    /// Set when the key is revoked; a revoked key never verifies again.
    pub revoked_at: Option<DateTimeUtc>,
    /// After this the key no longer verifies (set by expiry or by rotation).
    pub expires_at: Option<DateTimeUtc>,
    /// Space-separated CIDR networks; empty for anywhere.
    pub allowed_networks: String,
    /// Coarse: updated from the gateways' per-minute usage counts.
    pub last_used_at: Option<DateTimeUtc>,
    /// The successor issued when this key was rotated.
    pub replaced_by: Option<String>,
    /// Space-separated web origins; widget keys only.
    pub allowed_origins: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
