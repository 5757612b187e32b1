//! `crm_sms_opt_out`: the opt-out ledger. One row per number (by its blind
//! index) that ever opted out or back in, for one tenant and mode; the
//! number itself is not stored here.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_sms_opt_out")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub mode: String,
    /// The blind index of the E.164 number (`crm_customer.phone`'s field,
    /// so it matches customers' numbers).
    #[sea_orm(primary_key, auto_increment = false)]
    pub phone_index: String,
    pub opted_out: bool,
    pub changed_at: DateTimeUtc,
    /// The audit actor of the last change (`system:crm` for a keyword).
    pub changed_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
