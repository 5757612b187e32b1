//! Personal data in and out of its sealed columns (see [`crate::vault`]).
//!
//! Rows are sealed just before they are written and opened just after they
//! are read, so everything above the store sees plaintext models and the
//! database never holds any: a sealed row keeps its plaintext columns empty
//! (`""` where the column is NOT NULL, NULL otherwise). A row without a
//! sealed value is read from its plaintext column: a legacy row not yet
//! converted, or a value that was blanked.
//!
//! [`seal_legacy_rows`] converts the rows written before the vault existed,
//! at start-up (migrations have no master key).

use rampart_kit::ids::TenantId;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use crate::Error;
use crate::entity::{conversation, customer, message};
use crate::vault::{DataKey, Field, TenantKeys, Vault};

/// Blind index fields: what a lookup by phone or e-mail hashes under.
pub(super) const PHONE_INDEX: &str = "crm_customer.phone";
pub(super) const EMAIL_INDEX: &str = "crm_customer.email";

/// Rows converted per transaction at start-up.
const LEGACY_BATCH: u64 = 200;

/// The data key owner of a customer's personal data.
#[must_use]
pub fn customer_owner(id: &str) -> String {
    format!("customer:{id}")
}

/// The blind index of a phone number in `tenant`: the one key customers,
/// SMS threads, calls and the opt-out ledger share for a number.
pub async fn phone_index(
    vault: &Vault,
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    phone: &str,
) -> Result<String, Error> {
    Ok(vault
        .tenant(db, tenant)
        .await?
        .blind_index(PHONE_INDEX, phone))
}

/// The data key owner of a conversation's messages and summary.
#[must_use]
pub fn conversation_owner(id: &str) -> String {
    format!("conversation:{id}")
}

fn at<'a>(table: &'a str, column: &'a str, row: &'a str) -> Field<'a> {
    Field { table, column, row }
}

/// Seals a customer's plaintext fields and indexes its phone and e-mail
/// (already normalised by the domain parsers).
pub(super) fn seal_customer(keys: &TenantKeys, key: &DataKey, row: &mut customer::Model) {
    let id = row.id.clone();
    let field = |column| at("crm_customer", column, &id);
    row.name_sealed = Some(key.seal(&field("name"), &std::mem::take(&mut row.name)));
    row.phone_index = row
        .phone
        .as_deref()
        .map(|p| keys.blind_index(PHONE_INDEX, p));
    row.email_index = row
        .email
        .as_deref()
        .map(|e| keys.blind_index(EMAIL_INDEX, e));
    row.phone_sealed = row.phone.take().map(|v| key.seal(&field("phone"), &v));
    row.email_sealed = row.email.take().map(|v| key.seal(&field("email"), &v));
    row.address_sealed = row.address.take().map(|v| key.seal(&field("address"), &v));
}

/// The customer with its opened values in the plaintext fields.
pub(super) fn open_customer(
    key: &DataKey,
    mut row: customer::Model,
) -> Result<customer::Model, Error> {
    let id = row.id.clone();
    let field = |column| at("crm_customer", column, &id);
    if let Some(sealed) = row.name_sealed.take() {
        row.name = key.open(&field("name"), &sealed)?;
    }
    if let Some(sealed) = row.phone_sealed.take() {
        row.phone = Some(key.open(&field("phone"), &sealed)?);
    }
    if let Some(sealed) = row.email_sealed.take() {
        row.email = Some(key.open(&field("email"), &sealed)?);
    }
    if let Some(sealed) = row.address_sealed.take() {
        row.address = Some(key.open(&field("address"), &sealed)?);
    }
    Ok(row)
}

/// Seals a message's text (an empty text stays plain: nothing to hide).
pub(super) fn seal_message(key: &DataKey, row: &mut message::Model) {
    if !row.text.is_empty() {
        let text = std::mem::take(&mut row.text);
        row.text_sealed = Some(key.seal(&at("crm_message", "text", &row.id), &text));
    }
}

pub(super) fn open_message(
    key: &DataKey,
    mut row: message::Model,
) -> Result<message::Model, Error> {
    if let Some(sealed) = row.text_sealed.take() {
        row.text = key.open(&at("crm_message", "text", &row.id), &sealed)?;
    }
    Ok(row)
}

/// The sealed form of a conversation's summary (none for an empty one).
pub(super) fn seal_summary(key: &DataKey, conversation_id: &str, summary: &str) -> Option<Vec<u8>> {
    (!summary.is_empty())
        .then(|| key.seal(&at("crm_conversation", "summary", conversation_id), summary))
}

pub(super) fn open_conversation(
    key: &DataKey,
    mut row: conversation::Model,
) -> Result<conversation::Model, Error> {
    if let Some(sealed) = row.summary_sealed.take() {
        row.summary = key.open(&at("crm_conversation", "summary", &row.id), &sealed)?;
    }
    Ok(row)
}

/// What [`seal_legacy_rows`] converted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LegacyConversion {
    pub customers: u64,
    pub conversations: u64,
    pub messages: u64,
}

/// Seals every row still holding plaintext, in batches of one transaction
/// each; idempotent (a sealed row is never picked again), so an interrupted
/// start-up simply resumes.
pub async fn seal_legacy_rows(
    db: &DatabaseConnection,
    vault: &Vault,
) -> Result<LegacyConversion, Error> {
    let mut done = LegacyConversion::default();
    loop {
        let rows = customer::Entity::find()
            .filter(customer::Column::NameSealed.is_null())
            .order_by_asc(customer::Column::Id)
            .limit(LEGACY_BATCH)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        let txn = db.begin().await?;
        for row in rows {
            let keys = vault.tenant(&txn, &tenant_of(&row.tenant_id)?).await?;
            let key = keys.data_key(&txn, &customer_owner(&row.id)).await?;
            let mut sealed = row.clone();
            seal_customer(&keys, &key, &mut sealed);
            let mut active = row.into_active_model();
            active.name = ActiveValue::Set(String::new());
            active.phone = ActiveValue::Set(None);
            active.email = ActiveValue::Set(None);
            active.address = ActiveValue::Set(None);
            active.name_sealed = ActiveValue::Set(sealed.name_sealed);
            active.phone_sealed = ActiveValue::Set(sealed.phone_sealed);
            active.email_sealed = ActiveValue::Set(sealed.email_sealed);
            active.address_sealed = ActiveValue::Set(sealed.address_sealed);
            active.phone_index = ActiveValue::Set(sealed.phone_index);
            active.email_index = ActiveValue::Set(sealed.email_index);
            active.update(&txn).await?;
            done.customers += 1;
        }
        txn.commit().await?;
    }
    loop {
        let rows = conversation::Entity::find()
            .filter(conversation::Column::SummarySealed.is_null())
            .filter(conversation::Column::Summary.ne(""))
            .order_by_asc(conversation::Column::Id)
            .limit(LEGACY_BATCH)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        let txn = db.begin().await?;
        for row in rows {
            let key = conversation_key(&txn, vault, &row.tenant_id, &row.id).await?;
            let sealed = seal_summary(&key, &row.id, &row.summary);
            let mut active = row.into_active_model();
            active.summary = ActiveValue::Set(String::new());
            active.summary_sealed = ActiveValue::Set(sealed);
            active.update(&txn).await?;
            done.conversations += 1;
        }
        txn.commit().await?;
    }
    loop {
        let rows = message::Entity::find()
            .filter(message::Column::TextSealed.is_null())
            .filter(message::Column::Text.ne(""))
            .order_by_asc(message::Column::Id)
            .limit(LEGACY_BATCH)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        let txn = db.begin().await?;
        for row in rows {
            let key = conversation_key(&txn, vault, &row.tenant_id, &row.conversation_id).await?;
            let mut sealed = row.clone();
            seal_message(&key, &mut sealed);
            let mut active = row.into_active_model();
            active.text = ActiveValue::Set(String::new());
            active.text_sealed = ActiveValue::Set(sealed.text_sealed);
            active.update(&txn).await?;
            done.messages += 1;
        }
        txn.commit().await?;
    }
    Ok(done)
}

async fn conversation_key(
    db: &impl ConnectionTrait,
    vault: &Vault,
    tenant_id: &str,
    conversation_id: &str,
) -> Result<DataKey, Error> {
    vault
        .tenant(db, &tenant_of(tenant_id)?)
        .await?
        .data_key(db, &conversation_owner(conversation_id))
        .await
}

fn tenant_of(id: &str) -> Result<TenantId, Error> {
    TenantId::parse(id).map_err(|e| Error::Internal(anyhow::anyhow!("stored tenant id: {e}")))
}
