//! Webhooks already handled, for refusing replays.
//!
//! Every webhook has a key of its own: an SMS its `MessageSid`, a call's
//! step its `CallSid` and the step (and a recording or transcription
//! callback its own sid). A key seen within [`REPLAY_WINDOW`] is a replay:
//! refused, nothing changed. Receipts older than the window are deleted by
//! the hourly retention job ([`purge_expired`]), once across instances, so
//! the table holds about a week of traffic and a webhook never waits on it.
//!
//! Where the effect is this module's caller's own rows (a call's record),
//! the receipt is written in the same transaction, so a delivery that
//! failed leaves no receipt and Twilio's retry is handled. Where the effect
//! goes through a store with transactions of its own (a conversation and
//! its gate, the opt-out ledger), that effect is idempotent by the same key
//! (the conversation's idempotency key is the MessageSid; the ledger
//! records a choice once), and the receipt follows it: a crash in between
//! makes the retry redo nothing and write the receipt.

use chrono::{Duration, Utc};
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::Error;
use crate::entity::telephony_receipt;
use crate::store::DataScope;

/// How long a webhook's key is remembered. Twilio retries within minutes;
/// a week is far beyond any honest redelivery.
pub const REPLAY_WINDOW: Duration = Duration::days(7);

/// The longest key kept (`voice:` and two Twilio sids with a step).
const MAX_KEY_CHARS: usize = 160;

/// Whether `key` was handled for the scope's tenant within the window.
pub async fn seen(db: &impl ConnectionTrait, scope: &DataScope, key: &str) -> Result<bool, Error> {
    Ok(telephony_receipt::Entity::find()
        .filter(telephony_receipt::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(telephony_receipt::Column::RequestKey.eq(key))
        .filter(telephony_receipt::Column::ReceivedAt.gt(Utc::now() - REPLAY_WINDOW))
        .one(db)
        .await?
        .is_some())
}

/// Records `key` through `db` (the effect's transaction, where there is
/// one); a key already recorded within the window is
/// [`Error::WebhookReplayed`], which rolls that transaction back. The
/// primary key `(tenant_id, request_key)` decides: only this key's own
/// expired receipt, if the retention job has not yet purged it, is deleted
/// first (one row, by its key), so the window holds exactly.
pub async fn record(db: &impl ConnectionTrait, scope: &DataScope, key: &str) -> Result<(), Error> {
    telephony_receipt::Entity::delete_many()
        .filter(telephony_receipt::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(telephony_receipt::Column::RequestKey.eq(key))
        .filter(telephony_receipt::Column::ReceivedAt.lte(Utc::now() - REPLAY_WINDOW))
        .exec(db)
        .await?;
    let inserted = telephony_receipt::Entity::insert(telephony_receipt::ActiveModel {
        tenant_id: ActiveValue::Set(scope.tenant_id.as_str().to_owned()),
        request_key: ActiveValue::Set(key.to_owned()),
        received_at: ActiveValue::Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        // A concurrent delivery of the same request won.
        Err(error)
            if matches!(
                error.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Err(Error::WebhookReplayed)
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes every tenant's receipts older than the window at `now`; the
/// number deleted. Run by the retention job.
pub async fn purge_expired(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<Utc>,
) -> Result<u64, Error> {
    Ok(telephony_receipt::Entity::delete_many()
        .filter(telephony_receipt::Column::ReceivedAt.lte(now - REPLAY_WINDOW))
        .exec(db)
        .await?
        .rows_affected)
}

/// A request key from its parts: printable ASCII sids only, bounded, so a
/// key cannot be stretched or made ambiguous by what a sid contains.
pub fn key(kind: &str, parts: &[&str]) -> Result<String, crate::domain::InvalidInput> {
    let mut key = kind.to_owned();
    for part in parts {
        let well_formed = !part.is_empty()
            && part.len() <= 64
            && part
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
        if !well_formed {
            return Err(crate::domain::InvalidInput::new(
                "sid",
                "Twilio sids must be 1 to 64 letters and digits",
            ));
        }
        key.push(':');
        key.push_str(part);
    }
    debug_assert!(key.len() <= MAX_KEY_CHARS);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_of_sids_only() {
        assert_eq!(key("sms", &["SM123"]).unwrap(), "sms:SM123");
        assert_eq!(
            key("voice", &["CA1", "initial"]).unwrap(),
            "voice:CA1:initial"
        );
        for bad in ["", "SM:1", "SM 1", &"A".repeat(65), "SMé"] {
            assert!(key("sms", &[bad]).is_err(), "{bad:?}");
        }
    }
}
