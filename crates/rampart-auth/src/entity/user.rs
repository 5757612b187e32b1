//! `auth_user`: one row per person who signs in, a tenant's user or a
//! platform admin. Only the password's Argon2id hash and the sealed TOTP
//! secret are kept.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_user")]
pub struct Model {
    /// A `UserId` (`usr_...`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `None` for platform admins.
    pub tenant_id: Option<String>,
    /// The tenant id, or "platform" for admins: emails are unique per scope.
    pub scope: String,
    /// Lowercased.
    pub email: String,
    /// admin, owner, manager or agent.
    pub role: String,
    /// Argon2id in PHC format.
    pub password_hash: String,
    /// The TOTP secret sealed with AES-256-GCM, bound to this user's id.
    pub totp_secret: Option<String>,
    /// Set once a first code proved the enrolment.
    pub totp_confirmed: bool,
    /// The last TOTP step accepted: a code of this step or before is spent.
    pub totp_last_step: Option<i64>,
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
