//! Deleting a customer's or a conversation's data for good: the one place
//! erasure and the retention job go through, so both delete the same rows
//! and destroy the same keys.
//!
//! Keys go first: a data key is destroyed before the rows it sealed are
//! deleted, in the same transaction, so that whatever copy of those rows
//! survives (a backup, a replica, free pages of a database file) can no
//! longer be opened. Callers check legal holds before calling; these
//! functions do not.
//!
//! Telephony's rows go with what they belong to: a conversation's SMS
//! thread (the number it talks to) with the conversation; a customer's
//! calls (found by the blind index of the customer's number) with the
//! customer, their data keys destroyed first; and every telephony row of a
//! tenant with the tenant ([`purge_tenant_telephony`]).

use rampart_kit::ids::CustomerId;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use super::DataScope;
use super::sealed::{conversation_owner, customer_owner};
use crate::Error;
use crate::entity::{
    appointment, call, conversation, customer, job_note, legal_hold, message, sms_opt_out,
    sms_outbox, sms_thread, telephony_receipt,
};
use crate::vault::TenantKeys;

/// How many of each thing a deletion removed, or would remove.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub customers: u64,
    pub conversations: u64,
    pub messages: u64,
    pub appointments: u64,
    pub job_notes: u64,
    /// Data keys destroyed (crypto-shredded).
    pub data_keys: u64,
}

impl std::ops::AddAssign for Purged {
    fn add_assign(&mut self, other: Self) {
        self.customers += other.customers;
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.appointments += other.appointments;
        self.job_notes += other.job_notes;
        self.data_keys += other.data_keys;
    }
}

/// The ids of a customer's conversations in `scope`.
async fn conversations_of(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    customer_id: &str,
) -> Result<Vec<String>, Error> {
    Ok(conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(conversation::Column::Mode.eq(scope.mode.as_str()))
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// What [`purge_customer`] would delete now (an erasure's preview). Data
/// keys are counted as the keys that would be destroyed: the customer's and
/// one per conversation, whether or not each was ever used.
pub async fn count_customer_data(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    customer_id: &CustomerId,
) -> Result<Purged, Error> {
    let id = customer_id.as_str();
    let customers = customer::Entity::find_by_id(id)
        .filter(customer::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(customer::Column::Mode.eq(scope.mode.as_str()))
        .count(db)
        .await?;
    let conversations = conversations_of(db, scope, id).await?;
    let messages = if conversations.is_empty() {
        0
    } else {
        message::Entity::find()
            .filter(message::Column::TenantId.eq(scope.tenant_id.as_str()))
            .filter(message::Column::Mode.eq(scope.mode.as_str()))
            .filter(message::Column::ConversationId.is_in(conversations.clone()))
            .count(db)
            .await?
    };
    let appointments = appointment::Entity::find()
        .filter(appointment::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(appointment::Column::Mode.eq(scope.mode.as_str()))
        .filter(appointment::Column::CustomerId.eq(id))
        .count(db)
        .await?;
    let job_notes = job_note::Entity::find()
        .filter(job_note::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(job_note::Column::Mode.eq(scope.mode.as_str()))
        .filter(job_note::Column::CustomerId.eq(id))
        .count(db)
        .await?;
    Ok(Purged {
        customers,
        conversations: conversations.len() as u64,
        messages,
        appointments,
        job_notes,
        data_keys: customers + conversations.len() as u64,
    })
}

/// Deletes one conversation and its messages after destroying its data
/// key. Run it inside a transaction.
pub async fn purge_conversation(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    keys: &TenantKeys,
    conversation_id: &str,
) -> Result<Purged, Error> {
    let mut purged = Purged::default();
    if keys
        .destroy_data_key(db, &conversation_owner(conversation_id))
        .await?
    {
        purged.data_keys += 1;
    }
    // Its queued text messages (sealed under the key just destroyed).
    crate::sms::outbox::purge_conversation(db, scope, conversation_id).await?;
    purged.messages = message::Entity::delete_many()
        .filter(message::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(message::Column::Mode.eq(scope.mode.as_str()))
        .filter(message::Column::ConversationId.eq(conversation_id))
        .exec(db)
        .await?
        .rows_affected;
    sms_thread::Entity::delete_many()
        .filter(sms_thread::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(sms_thread::Column::Mode.eq(scope.mode.as_str()))
        .filter(sms_thread::Column::ConversationId.eq(conversation_id))
        .exec(db)
        .await?;
    purged.conversations = conversation::Entity::delete_many()
        .filter(conversation::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(conversation::Column::Mode.eq(scope.mode.as_str()))
        .filter(conversation::Column::Id.eq(conversation_id))
        .exec(db)
        .await?
        .rows_affected;
    Ok(purged)
}

/// Deletes everything of one customer in `scope`: their conversations with
/// their messages, appointments, job notes, legal hold record and the
/// customer row, after destroying the customer's data key and each
/// conversation's. Run it inside a transaction; check the legal hold first.
pub async fn purge_customer(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    keys: &TenantKeys,
    customer_id: &CustomerId,
) -> Result<Purged, Error> {
    let id = customer_id.as_str();
    let mut purged = Purged::default();
    for conversation_id in conversations_of(db, scope, id).await? {
        purged += purge_conversation(db, scope, keys, &conversation_id).await?;
    }
    if keys.destroy_data_key(db, &customer_owner(id)).await? {
        purged.data_keys += 1;
    }
    purged.data_keys += purge_calls_of_customer(db, scope, keys, id).await?;
    purged.job_notes = job_note::Entity::delete_many()
        .filter(job_note::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(job_note::Column::Mode.eq(scope.mode.as_str()))
        .filter(job_note::Column::CustomerId.eq(id))
        .exec(db)
        .await?
        .rows_affected;
    purged.appointments = appointment::Entity::delete_many()
        .filter(appointment::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(appointment::Column::Mode.eq(scope.mode.as_str()))
        .filter(appointment::Column::CustomerId.eq(id))
        .exec(db)
        .await?
        .rows_affected;
    legal_hold::Entity::delete_many()
        .filter(legal_hold::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(legal_hold::Column::Mode.eq(scope.mode.as_str()))
        .filter(legal_hold::Column::CustomerId.eq(id))
        .exec(db)
        .await?;
    purged.customers = customer::Entity::delete_many()
        .filter(customer::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(customer::Column::Mode.eq(scope.mode.as_str()))
        .filter(customer::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected;
    Ok(purged)
}

/// Deletes the calls from the customer's number (by its blind index), each
/// call's data key destroyed first; answers how many keys were destroyed.
async fn purge_calls_of_customer(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    keys: &TenantKeys,
    customer_id: &str,
) -> Result<u64, Error> {
    let phone_index = customer::Entity::find_by_id(customer_id)
        .filter(customer::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(customer::Column::Mode.eq(scope.mode.as_str()))
        .one(db)
        .await?
        .and_then(|row| row.phone_index)
        .filter(|index| !index.is_empty());
    let Some(phone_index) = phone_index else {
        return Ok(0);
    };
    let calls: Vec<String> = call::Entity::find()
        .select_only()
        .column(call::Column::CallSid)
        .filter(call::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(call::Column::Mode.eq(scope.mode.as_str()))
        .filter(call::Column::PhoneIndex.eq(phone_index.as_str()))
        .into_tuple::<String>()
        .all(db)
        .await?;
    let mut destroyed = 0;
    for call_sid in &calls {
        if keys.destroy_data_key(db, &call_owner(call_sid)).await? {
            destroyed += 1;
        }
    }
    call::Entity::delete_many()
        .filter(call::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(call::Column::Mode.eq(scope.mode.as_str()))
        .filter(call::Column::PhoneIndex.eq(phone_index.as_str()))
        .exec(db)
        .await?;
    Ok(destroyed)
}

/// The data key a call's sealed fields are under (see
/// [`crate::telephony::voice`]).
#[must_use]
pub fn call_owner(call_sid: &str) -> String {
    format!("call:{call_sid}")
}

/// Deletes every telephony row of a tenant, both modes: SMS threads,
/// calls, the opt-out ledger and webhook receipts. For tenant deletion,
/// inside its transaction, after the tenant's keys are destroyed.
pub async fn purge_tenant_telephony(
    db: &impl ConnectionTrait,
    tenant_id: &rampart_kit::ids::TenantId,
) -> Result<(), Error> {
    sms_thread::Entity::delete_many()
        .filter(sms_thread::Column::TenantId.eq(tenant_id.as_str()))
        .exec(db)
        .await?;
    call::Entity::delete_many()
        .filter(call::Column::TenantId.eq(tenant_id.as_str()))
        .exec(db)
        .await?;
    sms_opt_out::Entity::delete_many()
        .filter(sms_opt_out::Column::TenantId.eq(tenant_id.as_str()))
        .exec(db)
        .await?;
    telephony_receipt::Entity::delete_many()
        .filter(telephony_receipt::Column::TenantId.eq(tenant_id.as_str()))
        .exec(db)
        .await?;
    // Texts still queued for the tenant's numbers: nothing may leave for
    // a tenant that no longer exists.
    sms_outbox::Entity::delete_many()
        .filter(sms_outbox::Column::TenantId.eq(tenant_id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}
