//! `esc_decision`: one decision receipt per customer message, keyed by the
//! message id. The message's text is never stored here.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esc_decision")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub message_id: String,
    pub tenant_id: String,
    /// `live` or `test`: the data mode of the principal it was decided for.
    pub mode: String,
    pub conversation_id: String,
    /// The receipt as JSON ([`crate::decisions::Receipt`]).
    pub receipt: String,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
