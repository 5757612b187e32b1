//! `crm_legal_hold`: a customer's legal hold, kept apart from
//! `crm_customer`. The reason may name a case or a person, so `Debug` leaves
//! it out.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_legal_hold")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: String,
    pub tenant_id: String,
    pub mode: String,
    /// False once released; the row stays with the release's reason.
    pub held: bool,
    pub reason: String,
    /// The actor who placed or released it.
    pub changed_by: String,
    pub changed_at: DateTimeUtc,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("customer_id", &self.customer_id)
            .field("tenant_id", &self.tenant_id)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
