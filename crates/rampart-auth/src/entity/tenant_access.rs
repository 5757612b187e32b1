//! `auth_tenant_access`: whether a tenant's credentials are accepted. No
//! row means they are (a new tenant, in trial). Two independent reasons
//! refuse them: billing's suspension and an incident's isolation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_tenant_access")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Suspended by billing: every key and session of the tenant is
    /// refused, nothing is deleted.
    pub suspended: bool,
    /// The billing state that decided it, as the CRM named it.
    pub billing_state: String,
    pub updated_at: DateTimeUtc,
    /// The open incident isolating the tenant (`inc_...`), if any: its
    /// keys and sessions are refused until that incident is restored,
    /// whatever billing says. Billing never writes it.
    pub isolated_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
