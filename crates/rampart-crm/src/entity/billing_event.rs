//! `crm_billing_event`: a billing webhook event already applied, by the
//! provider's event id, with a fingerprint of its body.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_billing_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub tenant_id: String,
    /// Hex SHA-256 of the event's body.
    pub fingerprint: String,
    pub from_state: String,
    pub to_state: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
