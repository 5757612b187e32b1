//! `crm_job_note`: what staff wrote about a customer or one of its
//! appointments. The text and the equipment details are personal data and
//! are stored sealed (bytes), never as plaintext columns.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_job_note")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// "live" or "test": the data mode of the credential that wrote it.
    pub mode: String,
    /// Always set: a note on an appointment records its customer too, so
    /// a customer's notes (and their erasure) need no join.
    pub customer_id: String,
    pub appointment_id: Option<String>,
    /// The sealed text.
    pub text: Vec<u8>,
    /// The sealed equipment details, when given.
    pub equipment: Option<Vec<u8>>,
    /// The audit actor who wrote it (`user:<id>`, `api_key:<id>`).
    pub author: String,
    pub created_at: DateTimeUtc,
    pub idempotency_key: Option<String>,
    /// A keyed digest of the create request, to tell a retry from another
    /// request reusing its key.
    pub idempotency_fingerprint: Option<String>,
}

/// Shows only the ids: the rest is the customer's.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("customer_id", &self.customer_id)
            .field("appointment_id", &self.appointment_id)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
