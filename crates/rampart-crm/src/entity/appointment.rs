//! `crm_appointment`: a visit booked with one of a tenant's customers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_appointment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// "live" or "test": the data mode of the credential that wrote it.
    pub mode: String,
    pub customer_id: String,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub service_type: String,
    /// The user (a `usr_` id) who does the work, once someone is assigned.
    pub assignee: Option<String>,
    /// "scheduled", "confirmed", "completed" or "cancelled".
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the create request, to tell a retry from another
    /// request reusing its key.
    pub idempotency_fingerprint: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
