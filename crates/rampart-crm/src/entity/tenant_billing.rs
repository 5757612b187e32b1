//! The billing columns of `crm_tenant`, read and written only by the
//! billing store. A view of its own keeps the tenant entity (and every
//! insert of a tenant, which takes the `trial` default) untouched by
//! billing.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_tenant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub created_at: DateTimeUtc,
    /// `trial`, `active`, `past_due`, `suspended` or `canceled`.
    pub billing_state: String,
    /// `None` until the first transition.
    pub billing_changed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
