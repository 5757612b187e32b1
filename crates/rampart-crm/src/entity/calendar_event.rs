//! `crm_calendar_event`: the provider event an appointment was written as.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_calendar_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub appointment_id: String,
    pub tenant_id: String,
    pub mode: String,
    pub calendar_id: String,
    pub event_id: String,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
