//! `crm_sms_thread`: the number and channel an SMS conversation talks to.
//! The number is personal data: sealed, with its blind index beside it.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_sms_thread")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: String,
    pub tenant_id: String,
    pub mode: String,
    /// The tenant's `twilio` channel the messages came in on.
    pub channel_id: String,
    /// The blind index of the customer's E.164 number.
    pub phone_index: String,
    /// The customer's number, sealed under the conversation's data key
    /// (owner `conversation:<id>`), bound to this table, column and row.
    pub phone: Vec<u8>,
    pub created_at: DateTimeUtc,
}

/// Shows only the ids: the number is the customer's.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("conversation_id", &self.conversation_id)
            .field("tenant_id", &self.tenant_id)
            .field("channel_id", &self.channel_id)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
