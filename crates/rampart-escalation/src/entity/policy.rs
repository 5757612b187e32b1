//! `esc_policy`: every version of every tenant's policy, never updated.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esc_policy")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The document as JSON, without the webhook secret.
    pub document: String,
    /// The webhook signing secret: kept apart so that the document can be
    /// returned as it is stored.
    pub webhook_secret: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
}

/// Leaves the secret out.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("tenant_id", &self.tenant_id)
            .field("version", &self.version)
            .field("created_by", &self.created_by)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
