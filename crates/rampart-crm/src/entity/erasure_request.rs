//! `crm_erasure_request`: a request to erase one customer's data, and once
//! executed, its counts and signed deletion certificate. The reason may name
//! a person, so `Debug` leaves it out.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_erasure_request")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub mode: String,
    pub customer_id: String,
    /// "open" or "executed".
    pub status: String,
    /// "owner", or "handoff:<id>" when a privacy handoff opened it.
    pub source: String,
    pub reason: String,
    pub requested_by: String,
    pub created_at: DateTimeUtc,
    pub customers: i64,
    pub conversations: i64,
    pub messages: i64,
    pub appointments: i64,
    pub job_notes: i64,
    pub data_keys: i64,
    pub executed_at: Option<DateTimeUtc>,
    pub executed_by: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub certificate_json: Option<String>,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("mode", &self.mode)
            .field("customer_id", &self.customer_id)
            .field("status", &self.status)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
