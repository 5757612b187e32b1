//! `crm_calendar_sync`: the calendar sync outbox. A row says "push this
//! appointment's current state to the tenant's calendar"; it is written in
//! the appointment change's transaction and deleted once pushed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_calendar_sync")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub mode: String,
    pub appointment_id: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Until when a worker holds the row; `None` or past: free.
    pub lease_until: Option<DateTimeUtc>,
    /// The last failure, for operators; never a token.
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
