//! `crm_sms_outbox`: one outbound text message and its delivery state (see
//! [`crate::sms`]). The number and the text are sealed under the
//! conversation's data key; `Debug` shows neither.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_sms_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub mode: String,
    /// The tenant's `twilio` channel it is sent through.
    pub channel_id: String,
    pub conversation_id: String,
    /// The reply it carries; unique.
    pub message_id: String,
    /// The recipient's E.164 number, sealed under the conversation's data
    /// key, bound to this table, column and row.
    pub to_phone: Vec<u8>,
    /// The number's blind index: the opt-out ledger's key.
    pub phone_index: String,
    /// The text, sealed like `to_phone`.
    pub body: Vec<u8>,
    /// `pending`, `sending`, `sent`, `suppressed`, `failed` or `unknown`.
    pub state: String,
    /// Attempts made (claims), including one in progress.
    pub attempts: i32,
    /// When a `pending` row is due.
    pub next_attempt_at: DateTimeUtc,
    /// Until when a `sending` row belongs to the worker that claimed it.
    pub lease_until: Option<DateTimeUtc>,
    /// The claiming worker's token: only it may record the outcome.
    pub lease_token: Option<String>,
    /// The provider's id for the accepted message (`SM…`).
    pub provider_id: Option<String>,
    /// The last failure: a provider error code and HTTP status, or a
    /// transport error's kind; never a number or a text.
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("channel_id", &self.channel_id)
            .field("conversation_id", &self.conversation_id)
            .field("message_id", &self.message_id)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("provider_id", &self.provider_id)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
