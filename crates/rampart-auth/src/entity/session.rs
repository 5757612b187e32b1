//! `auth_session`: signed-in sessions. The bearer token is never stored,
//! only its keyed hash.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_session")]
pub struct Model {
    /// A `SessionId` (`ses_...`), the credential id in principals.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// HMAC-SHA256 of the token under the server secret, in hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub user_id: String,
    pub tenant_id: Option<String>,
    /// The client address the session was created from.
    pub client_address: String,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// The absolute end, whatever the activity.
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// Why it was revoked: sign_out, revoked, password_changed, ...
    pub revoke_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
