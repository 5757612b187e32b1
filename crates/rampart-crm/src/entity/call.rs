//! `crm_call`: one inbound call. What it holds of the caller is sealed
//! under the call's data key (owner `call:<CallSid>`), with the number's
//! blind index beside it; the recording and transcript only when the
//! consent rule allowed them.

use std::fmt;

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_call")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub call_sid: String,
    pub mode: String,
    /// The tenant's `twilio` channel that was called.
    pub channel_id: String,
    /// The blind index of the caller's number.
    pub phone_index: String,
    /// `one_party` or `all_party`: the tenant's rule when the call came in.
    pub consent_rule: String,
    /// The tenant's recording setting when the call came in.
    pub recording_enabled: bool,
    /// The recording announcement was played.
    pub announced: bool,
    /// The caller pressed 1 after the announcement.
    pub caller_consented: bool,
    /// `answered`, `consent_asked`, `recording`, `completed`.
    pub status: String,
    pub summary_sealed: Option<Vec<u8>>,
    pub recording_url_sealed: Option<Vec<u8>>,
    pub transcript_sealed: Option<Vec<u8>>,
    pub started_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Shows no sealed field, nor the number's index.
impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("tenant_id", &self.tenant_id)
            .field("call_sid", &self.call_sid)
            .field("status", &self.status)
            .field("announced", &self.announced)
            .field("caller_consented", &self.caller_consented)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
