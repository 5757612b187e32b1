//! SMS threads: the number and channel an SMS conversation talks to.
//!
//! Inbound texts open a thread when they start a conversation; outbound
//! replies read it to know where to send. The number is sealed under the
//! conversation's data key, so erasing the conversation (its key destroyed)
//! leaves nothing readable, and its blind index lets the next text from the
//! same number find the conversation.

use rampart_kit::ids::ConversationId;
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::sealed::{PHONE_INDEX, phone_index};
use super::{DataScope, conversation_owner, now};
use crate::Error;
use crate::domain::Phone;
use crate::entity::{conversation, sms_thread};
use crate::vault::{Field, Vault};

/// Where an SMS conversation's replies go.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsRecipient {
    pub conversation_id: String,
    /// The tenant's `twilio` channel the thread belongs to.
    pub channel_id: String,
    pub phone: Phone,
    /// The number's blind index: the opt-out ledger's key.
    pub phone_index: String,
}

impl std::fmt::Debug for SmsRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsRecipient")
            .field("conversation_id", &self.conversation_id)
            .field("channel_id", &self.channel_id)
            .finish_non_exhaustive()
    }
}

fn field(conversation_id: &str) -> Field<'_> {
    Field {
        table: "crm_sms_thread",
        column: "phone",
        row: conversation_id,
    }
}

/// One tenant's SMS threads in one data mode.
#[derive(Debug)]
pub struct SmsThreadStore<'a> {
    db: &'a DatabaseConnection,
    vault: &'a Vault,
    scope: DataScope,
}

impl<'a> SmsThreadStore<'a> {
    #[must_use]
    pub fn for_tenant(db: &'a DatabaseConnection, vault: &'a Vault, scope: DataScope) -> Self {
        Self { db, vault, scope }
    }

    /// The blind index of `phone` for this tenant.
    pub async fn index_of(
        &self,
        db: &impl ConnectionTrait,
        phone: &Phone,
    ) -> Result<String, Error> {
        phone_index(self.vault, db, &self.scope.tenant_id, phone.as_str()).await
    }

    /// Opens the thread of a conversation just started, through `db` (the
    /// transaction that started it, or the pool right after it).
    pub async fn open(
        &self,
        db: &impl ConnectionTrait,
        conversation_id: &ConversationId,
        channel_id: &str,
        phone: &Phone,
    ) -> Result<(), Error> {
        let id = conversation_id.as_str();
        let keys = self.vault.tenant(db, &self.scope.tenant_id).await?;
        let phone_index = keys.blind_index(PHONE_INDEX, phone.as_str());
        let sealed = keys
            .data_key(db, &conversation_owner(id))
            .await?
            .seal(&field(id), phone.as_str());
        sms_thread::Entity::insert(sms_thread::ActiveModel {
            conversation_id: ActiveValue::Set(id.to_owned()),
            tenant_id: ActiveValue::Set(self.scope.tenant_id.as_str().to_owned()),
            mode: ActiveValue::Set(self.scope.mode.as_str().to_owned()),
            channel_id: ActiveValue::Set(channel_id.to_owned()),
            phone_index: ActiveValue::Set(phone_index),
            phone: ActiveValue::Set(sealed),
            created_at: ActiveValue::Set(now()),
        })
        .exec_without_returning(db)
        .await?;
        Ok(())
    }

    /// The newest conversation of `phone` on `channel_id` that is still
    /// open (not resolved or closed), if any: where its next text goes.
    pub async fn open_conversation_of(
        &self,
        channel_id: &str,
        phone: &Phone,
    ) -> Result<Option<String>, Error> {
        let index = self.index_of(self.db, phone).await?;
        let threads = sms_thread::Entity::find()
            .filter(sms_thread::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(sms_thread::Column::Mode.eq(self.scope.mode.as_str()))
            .filter(sms_thread::Column::ChannelId.eq(channel_id))
            .filter(sms_thread::Column::PhoneIndex.eq(index))
            .order_by_desc(sms_thread::Column::CreatedAt)
            .all(self.db)
            .await?;
        for thread in threads {
            let open = conversation::Entity::find_by_id(thread.conversation_id.clone())
                .filter(conversation::Column::TenantId.eq(self.scope.tenant_id.as_str()))
                .filter(conversation::Column::Mode.eq(self.scope.mode.as_str()))
                .filter(conversation::Column::Status.is_not_in(["resolved", "closed"]))
                .one(self.db)
                .await?;
            if open.is_some() {
                return Ok(Some(thread.conversation_id));
            }
        }
        Ok(None)
    }

    /// Where the replies of `conversation_id` go, read through `db`;
    /// `None` when it is not an SMS conversation, or was erased (its key is
    /// gone).
    pub async fn recipient(
        &self,
        db: &impl ConnectionTrait,
        conversation_id: &str,
    ) -> Result<Option<SmsRecipient>, Error> {
        let Some(thread) = sms_thread::Entity::find_by_id(conversation_id.to_owned())
            .filter(sms_thread::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(sms_thread::Column::Mode.eq(self.scope.mode.as_str()))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let Some(key) = self
            .vault
            .tenant(db, &self.scope.tenant_id)
            .await?
            .existing_data_key(db, &conversation_owner(conversation_id))
            .await?
        else {
            return Ok(None);
        };
        let text = key.open(&field(conversation_id), &thread.phone)?;
        let phone = Phone::parse(&text).map_err(|_| {
            Error::Internal(anyhow::anyhow!(
                "the sealed number of SMS thread {conversation_id} does not parse"
            ))
        })?;
        Ok(Some(SmsRecipient {
            conversation_id: thread.conversation_id,
            channel_id: thread.channel_id,
            phone,
            phone_index: thread.phone_index,
        }))
    }
}
