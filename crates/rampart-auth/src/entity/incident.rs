//! `auth_incident`: incidents contained by operators, and what containing
//! each one changed, so that restoring puts back exactly that.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_incident")]
pub struct Model {
    /// `inc_` and 32 hex digits.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// tenant, user, key or admin_key.
    pub target_kind: String,
    pub target_id: String,
    /// The target's tenant; `None` for platform targets.
    pub tenant_id: Option<String>,
    pub reason: String,
    pub contained_at: DateTimeUtc,
    pub restored_at: Option<DateTimeUtc>,
    pub credentials_revoked: i32,
    pub sessions_revoked: i32,
    /// A user's: whether containment disabled the account (`disabled`).
    /// For a tenant contained before `m0007_tenant_isolation`, its billing
    /// access state before (`suspended billing_state`); `None` since.
    pub prior_state: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
