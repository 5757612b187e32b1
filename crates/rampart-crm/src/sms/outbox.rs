//! The SMS outbox: replies in SMS conversations, waiting to leave, and the
//! worker that sends them.
//!
//! **Enqueueing.** [`enqueue_reply`] runs in the transaction that stores an
//! AI or agent reply: a conversation with an SMS thread gets one
//! `crm_sms_outbox` row per reply (its `message_id` is unique, so a replay
//! adds nothing), with the number and the text sealed under the
//! conversation's key. A blocked AI reply has no text and is not queued.
//!
//! **Claiming.** [`send_due`] (run every tick by [`spawn_sender`]) takes
//! `pending` rows whose time has come. Each attempt is claimed by one
//! conditional UPDATE (`pending` and due → `sending`, with a lease and a
//! fresh token), so of several workers or CRM instances on one database
//! exactly one claims a row, on SQLite as on PostgreSQL (where the loser
//! waits for the winner's commit and then no longer matches). The outcome
//! is written only by the holder of the token, and only while the row is
//! still `sending`.
//!
//! A conversation's texts leave in the order they were written: a row is
//! not claimed while an earlier row of its conversation is still `pending`
//! or `sending` (one waiting out a retry holds back the ones after it;
//! one that ends, however it ends, releases them).
//!
//! **The opt-out ledger.** Inside the claiming transaction, after
//! everything else is ready and just before it commits, the ledger is read
//! with [`opted_out_in`]: on every attempt, first or retry, from the
//! database, never from a cache. An opted-out number's row becomes
//! `suppressed` (audited `sms.suppressed`) and is never sent. Twilio's own
//! opt-out refusal (error 21610, for a recipient who replied STOP to the
//! sending number) ends the same way.
//!
//! **The race that remains.** The ledger read and the provider call are
//! not atomic: an opt-out committed after the claiming transaction read
//! the ledger and before the provider accepts the request is not seen by
//! that attempt. The window is one commit plus one HTTP request, bounded by
//! `request_timeout` and in practice milliseconds; it is the same as a STOP
//! crossing a text already on its way. It is not closed because closing it
//! would take a lock shared by the opt-out writer and held across an
//! outside HTTP call (a slow provider would then hold up every inbound
//! STOP). Every later attempt, retry or other instance reads the ledger
//! again, and Twilio's own opt-out (21610) covers the sending number.
//!
//! **Outcomes.**
//! - accepted: `sent`, with the provider's id (the row is the record; no
//!   audit event per message sent);
//! - retryable (nothing was accepted): `pending` again after a backoff
//!   that doubles from `first_backoff` up to `max_backoff`, until
//!   `max_attempts`, then `failed` (audited `sms.failed`);
//! - permanent (bad credentials, invalid number): `failed` at once,
//!   audited;
//! - unknown (the request went out and no answer came back): `unknown`,
//!   audited `sms.unknown`, and **not sent again**: resending what the
//!   provider may already have sent is how customers get texted twice. A
//!   person can see it on the row and the audit log.
//!
//! A worker that stops between its claim and its outcome (a crash, a
//! deploy) leaves a `sending` row whose lease runs out; the next pass of
//! any instance marks it `unknown`, for the same reason. The lease is
//! longer than any provider call ([`SmsSettings::lease`]), so a slow call
//! is never mistaken for a stopped worker.
//!
//! A channel disconnected, or a conversation erased, before its message
//! left makes the message `failed` (`channel_unusable`); a purged
//! conversation's rows are deleted with it.

use chrono::{DateTime, Utc};
use rampart_kit::CancellationToken;
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::{AuditRecord, Change, Outbox};
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{DataMode, Principal};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tokio::task::JoinHandle;

use super::twilio::TwilioRest;
use super::{OutboundSms, SendError, SmsProvider, SmsSettings};
use crate::Error;
use crate::domain::Phone;
use crate::entity::{channel, message, sms_outbox};
use crate::store::{
    DataScope, SmsThreadStore, TwilioAccount, conversation_owner, opted_out_in, twilio_account,
};
use crate::vault::{Field, Vault};

/// The table.
const TABLE: &str = "crm_sms_outbox";

/// How many rows one pass takes on.
const BATCH: u64 = 100;

const PENDING: &str = "pending";
const SENDING: &str = "sending";
const SENT: &str = "sent";
const SUPPRESSED: &str = "suppressed";
const FAILED: &str = "failed";
const UNKNOWN: &str = "unknown";

fn sealed_at<'a>(column: &'a str, row: &'a str) -> Field<'a> {
    Field {
        table: TABLE,
        column,
        row,
    }
}

fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// Queues `reply` (just inserted, in `db`'s transaction) for its
/// conversation's SMS thread, if it has one. Answers whether a row was
/// queued.
pub(crate) async fn enqueue_reply(
    db: &impl ConnectionTrait,
    threads: &SmsThreadStore<'_>,
    vault: &Vault,
    scope: &DataScope,
    reply: &message::Model,
) -> Result<bool, Error> {
    if reply.delivery == "blocked" || reply.text.is_empty() {
        return Ok(false);
    }
    let Some(recipient) = threads.recipient(db, &reply.conversation_id).await? else {
        return Ok(false);
    };
    let key = vault
        .tenant(db, &scope.tenant_id)
        .await?
        .data_key(db, &conversation_owner(&reply.conversation_id))
        .await?;
    let id = format!("sms_{}", uuid::Uuid::now_v7().simple());
    let at = now();
    let row = sms_outbox::Model {
        to_phone: key.seal(&sealed_at("to_phone", &id), recipient.phone.as_str()),
        body: key.seal(&sealed_at("body", &id), &reply.text),
        id,
        tenant_id: scope.tenant_id.as_str().to_owned(),
        mode: scope.mode.as_str().to_owned(),
        channel_id: recipient.channel_id,
        conversation_id: reply.conversation_id.clone(),
        message_id: reply.id.clone(),
        phone_index: recipient.phone_index,
        state: PENDING.to_owned(),
        attempts: 0,
        next_attempt_at: at,
        lease_until: None,
        lease_token: None,
        provider_id: None,
        last_error: None,
        created_at: at,
        updated_at: at,
    };
    let inserted = sms_outbox::Entity::insert(sea_orm::IntoActiveModel::into_active_model(row))
        .on_conflict(
            OnConflict::column(sms_outbox::Column::MessageId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Deletes the outbox rows of `conversation_id` (its purge).
pub(crate) async fn purge_conversation(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    conversation_id: &str,
) -> Result<u64, Error> {
    Ok(sms_outbox::Entity::delete_many()
        .filter(sms_outbox::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(sms_outbox::Column::Mode.eq(scope.mode.as_str()))
        .filter(sms_outbox::Column::ConversationId.eq(conversation_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SenderPass {
    pub sent: usize,
    pub suppressed: usize,
    /// Retryable failures put back for later.
    pub retried: usize,
    pub failed: usize,
    pub unknown: usize,
    /// Rows another worker claimed first, or held back behind an earlier
    /// message of their conversation.
    pub taken: usize,
    /// Rows the pass could not handle (a database error); left as they
    /// were, or to their lease.
    pub errors: usize,
}

/// What became of one claimed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Suppressed,
    Retried,
    Failed,
    Unknown,
    Taken,
}

impl SenderPass {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Suppressed => self.suppressed += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Unknown => self.unknown += 1,
            Outcome::Taken => self.taken += 1,
        }
    }
}

/// Starts the sender: [`send_due`] every `settings.tick` through Twilio's
/// REST API at `settings.twilio_api_url`, until `shutdown`.
pub fn spawn_sender(
    db: DatabaseConnection,
    outbox: Outbox,
    vault: Vault,
    settings: SmsSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let provider = TwilioRest::new(&settings.twilio_api_url, settings.request_timeout)?;
    Ok(tokio::spawn(async move {
        let mut ticks =
            tokio::time::interval_at(tokio::time::Instant::now() + settings.tick, settings.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            // A pass is not cut short by shutdown: a call in flight ends
            // with its outcome recorded (it is bounded by the request
            // timeout), rather than with a lease left to run out.
            match send_due(&db, &outbox, &vault, &provider, &settings).await {
                Ok(pass) if pass != SenderPass::default() => {
                    tracing::debug!(?pass, "sms sender pass");
                }
                Ok(_) => {}
                Err(error) => tracing::error!(error = %error, "sms sender pass failed"),
            }
        }
    }))
}

/// One pass of the sender: marks rows whose worker stopped mid-send
/// `unknown`, then claims and sends up to [`BATCH`] due rows, oldest
/// first, one at a time.
pub async fn send_due<P: SmsProvider>(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    provider: &P,
    settings: &SmsSettings,
) -> Result<SenderPass, Error> {
    let mut pass = SenderPass::default();
    pass.unknown += expire_leases(db, outbox).await?;
    let due: Vec<String> = sms_outbox::Entity::find()
        .select_only()
        .column(sms_outbox::Column::Id)
        .filter(sms_outbox::Column::State.eq(PENDING))
        .filter(sms_outbox::Column::NextAttemptAt.lte(now()))
        // Oldest written first, so a message released by the one before
        // it goes in the same pass.
        .order_by_asc(sms_outbox::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?;
    for id in due {
        match attempt(db, outbox, vault, provider, settings, &id).await {
            Ok(outcome) => pass.count(outcome),
            Err(error) => {
                tracing::error!(sms_id = %id, error = %error, "sms attempt failed");
                pass.errors += 1;
            }
        }
    }
    Ok(pass)
}

/// Marks `unknown` every `sending` row whose lease ran out: its worker
/// stopped after claiming it, perhaps after sending it.
async fn expire_leases(db: &DatabaseConnection, outbox: &Outbox) -> Result<usize, Error> {
    let expired = sms_outbox::Entity::find()
        .filter(sms_outbox::Column::State.eq(SENDING))
        .filter(sms_outbox::Column::LeaseUntil.lt(now()))
        .limit(BATCH)
        .all(db)
        .await?;
    let mut marked = 0;
    for row in expired {
        let mut change = outbox.begin(db).await?;
        let at = now();
        let update = Query::update()
            .table(TABLE)
            .value("state", UNKNOWN)
            .value("lease_until", Option::<DateTime<Utc>>::None)
            .value("lease_token", Option::<String>::None)
            .value("last_error", "lease expired mid-send")
            .value("updated_at", at)
            .and_where(Expr::col("id").eq(row.id.as_str()))
            .and_where(Expr::col("state").eq(SENDING))
            .and_where(Expr::col("lease_until").lt(at))
            .to_owned();
        if change.tx().execute(&update).await?.rows_affected() != 1 {
            continue;
        }
        let (_, actor) = scope_of(&row)?;
        change.audit(event(&actor, &row, "sms.unknown", "lease_expired").with_outcome(UNKNOWN));
        change.commit().await?;
        tracing::warn!(sms_id = %row.id, "sms worker stopped mid-send: marked unknown");
        marked += 1;
    }
    Ok(marked)
}

/// The scope a row belongs to and the actor of its audit events
/// (`system:crm` in that tenant and mode).
fn scope_of(row: &sms_outbox::Model) -> Result<(DataScope, Principal), Error> {
    let tenant_id = TenantId::parse(&row.tenant_id)
        .map_err(|_| Error::Internal(anyhow::anyhow!("sms outbox row {} tenant", row.id)))?;
    let mode = DataMode::parse(&row.mode)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("sms outbox row {} mode", row.id)))?;
    let actor = Principal::system(tenant_id.clone(), ServiceName::Crm).in_mode(mode);
    Ok((DataScope { tenant_id, mode }, actor))
}

/// An audit event about `row` (no number, no text: ids and counts).
fn event(actor: &Principal, row: &sms_outbox::Model, action: &str, reason: &str) -> AuditRecord {
    AuditRecord::success(
        actor,
        Some(row.tenant_id.as_str()),
        action,
        format!("sms_message:{}", row.id),
    )
    .with_detail("reason", reason)
    .with_detail("channel_id", row.channel_id.as_str())
    .with_detail("conversation_id", row.conversation_id.as_str())
    .with_detail("message_id", row.message_id.as_str())
    .with_detail("attempts", row.attempts.to_string())
}

/// Claims row `id`, reads the ledger, and sends it unless opted out.
async fn attempt<P: SmsProvider>(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    provider: &P,
    settings: &SmsSettings,
    id: &str,
) -> Result<Outcome, Error> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut change = outbox.begin(db).await?;
    let at = now();
    let lease = chrono::Duration::from_std(settings.lease())
        .map_err(|_| Error::Internal(anyhow::anyhow!("the sms lease is too long")))?;
    let claim = Query::update()
        .table(TABLE)
        .value("state", SENDING)
        .value("lease_until", at + lease)
        .value("lease_token", token.as_str())
        .value("attempts", Expr::col("attempts").add(1))
        .value("updated_at", at)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("state").eq(PENDING))
        .and_where(Expr::col("next_attempt_at").lte(at))
        .and_where(Expr::exists(earlier_unsettled()).not())
        .to_owned();
    if change.tx().execute(&claim).await?.rows_affected() != 1 {
        // Another worker claimed it first (or it is no longer due).
        return Ok(Outcome::Taken);
    }
    let row = sms_outbox::Entity::find_by_id(id.to_owned())
        .one(change.tx())
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("claimed sms row {id} vanished")))?;
    let (scope, actor) = scope_of(&row)?;

    let ready = prepare(change.tx(), vault, &scope, &row).await?;
    // The ledger, last thing before the claim commits (see the module's
    // doc for the window that remains).
    if opted_out_in(change.tx(), &scope, &row.phone_index).await? {
        finish(&change, &row, &token, SUPPRESSED, None, None, None).await?;
        change.audit(event(&actor, &row, "sms.suppressed", "opted_out"));
        change.commit().await?;
        return Ok(Outcome::Suppressed);
    }
    let Some((account, sms)) = ready else {
        finish(
            &change,
            &row,
            &token,
            FAILED,
            None,
            None,
            Some("channel unusable"),
        )
        .await?;
        change.audit(event(&actor, &row, "sms.failed", "channel_unusable").with_outcome("failure"));
        change.commit().await?;
        return Ok(Outcome::Failed);
    };
    change.commit().await?;

    let result = provider.send(&account, &sms).await;

    let mut change = outbox.begin(db).await?;
    let outcome = match result {
        Ok(accepted) => {
            let recorded = finish(
                &change,
                &row,
                &token,
                SENT,
                Some(&accepted.provider_id),
                None,
                None,
            )
            .await?;
            if !recorded {
                tracing::warn!(
                    sms_id = %row.id,
                    provider_id = %accepted.provider_id,
                    "sms accepted after its row was no longer this worker's"
                );
            }
            Outcome::Sent
        }
        Err(SendError::Retryable { detail }) if row.attempts < settings.max_attempts_i32() => {
            let wait = settings.backoff(u32::try_from(row.attempts).unwrap_or(u32::MAX));
            let next = now()
                + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::days(1));
            finish(
                &change,
                &row,
                &token,
                PENDING,
                None,
                Some(next),
                Some(&detail),
            )
            .await?;
            Outcome::Retried
        }
        Err(SendError::Retryable { detail }) => {
            if finish(&change, &row, &token, FAILED, None, None, Some(&detail)).await? {
                change.audit(
                    event(&actor, &row, "sms.failed", "retries_exhausted").with_outcome("failure"),
                );
            }
            Outcome::Failed
        }
        Err(SendError::Permanent {
            code: Some(SendError::UNSUBSCRIBED_RECIPIENT),
            detail,
            ..
        }) => {
            if finish(&change, &row, &token, SUPPRESSED, None, None, Some(&detail)).await? {
                change.audit(event(&actor, &row, "sms.suppressed", "provider_opt_out"));
            }
            Outcome::Suppressed
        }
        Err(SendError::Permanent {
            status,
            code,
            detail,
        }) => {
            if finish(&change, &row, &token, FAILED, None, None, Some(&detail)).await? {
                let mut record =
                    event(&actor, &row, "sms.failed", "refused").with_outcome("failure");
                if let Some(status) = status {
                    record = record.with_detail("http_status", status.to_string());
                }
                if let Some(code) = code {
                    record = record.with_detail("provider_error", code.to_string());
                }
                change.audit(record);
            }
            Outcome::Failed
        }
        Err(SendError::Unknown { detail }) => {
            if finish(&change, &row, &token, UNKNOWN, None, None, Some(&detail)).await? {
                change.audit(event(&actor, &row, "sms.unknown", "no_answer").with_outcome(UNKNOWN));
            }
            tracing::warn!(sms_id = %row.id, "sms outcome unknown: not sent again");
            Outcome::Unknown
        }
    };
    change.commit().await?;
    Ok(outcome)
}

impl SmsSettings {
    fn max_attempts_i32(&self) -> i32 {
        i32::try_from(self.max_attempts).unwrap_or(i32::MAX)
    }
}

/// An earlier message of the same conversation still waiting or being
/// sent: a conversation's texts leave in the order they were written, so
/// a reply waiting out a retry holds back the ones after it. Ids are
/// UUIDv7, ordered by creation.
fn earlier_unsettled() -> sea_orm::sea_query::SelectStatement {
    const EARLIER: &str = "earlier";
    Query::select()
        .expr(Expr::val(1))
        .from_as(TABLE, EARLIER)
        .and_where(Expr::col((EARLIER, "tenant_id")).equals((TABLE, "tenant_id")))
        .and_where(Expr::col((EARLIER, "mode")).equals((TABLE, "mode")))
        .and_where(Expr::col((EARLIER, "conversation_id")).equals((TABLE, "conversation_id")))
        .and_where(Expr::col((EARLIER, "state")).is_in([PENDING, SENDING]))
        .and_where(Expr::col((EARLIER, "id")).lt(Expr::col((TABLE, "id"))))
        .to_owned()
}

/// The account to send through and the message, opened; `None` when the
/// channel was disconnected (or is no longer a usable `twilio` channel) or
/// the conversation's key is gone.
async fn prepare(
    db: &impl ConnectionTrait,
    vault: &Vault,
    scope: &DataScope,
    row: &sms_outbox::Model,
) -> Result<Option<(TwilioAccount, OutboundSms)>, Error> {
    let Some(channel) = channel::Entity::find_by_id(row.channel_id.clone())
        .filter(channel::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(channel::Column::Mode.eq(scope.mode.as_str()))
        .filter(channel::Column::Kind.eq("twilio"))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let account = match twilio_account(db, vault, &channel).await {
        Ok(account) => account,
        Err(error) => {
            tracing::warn!(channel_id = %channel.id, error = %error, "twilio channel unusable");
            return Ok(None);
        }
    };
    let Some(key) = vault
        .tenant(db, &scope.tenant_id)
        .await?
        .existing_data_key(db, &conversation_owner(&row.conversation_id))
        .await?
    else {
        return Ok(None);
    };
    let to = key.open(&sealed_at("to_phone", &row.id), &row.to_phone)?;
    let body = key.open(&sealed_at("body", &row.id), &row.body)?;
    let to = Phone::parse(&to).map_err(|_| {
        Error::Internal(anyhow::anyhow!(
            "sms row {} holds a malformed number",
            row.id
        ))
    })?;
    Ok(Some((account, OutboundSms { to, body })))
}

/// Moves `row` (claimed with `token`) to `state`, releasing the lease;
/// `false` when the row is no longer this claim's (its lease ran out and
/// another pass marked it, or it was purged).
async fn finish(
    change: &Change<'_>,
    row: &sms_outbox::Model,
    token: &str,
    state: &str,
    provider_id: Option<&str>,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<&str>,
) -> Result<bool, Error> {
    let mut update = Query::update();
    update
        .table(TABLE)
        .value("state", state)
        .value("lease_until", Option::<DateTime<Utc>>::None)
        .value("lease_token", Option::<String>::None)
        .value("updated_at", now())
        .and_where(Expr::col("id").eq(row.id.as_str()))
        .and_where(Expr::col("state").eq(SENDING))
        .and_where(Expr::col("lease_token").eq(token));
    if let Some(provider_id) = provider_id {
        update.value("provider_id", provider_id);
    }
    if let Some(next) = next_attempt_at {
        update.value("next_attempt_at", next);
    }
    if let Some(error) = last_error {
        let error: String = error.chars().take(200).collect();
        update.value("last_error", error);
    }
    Ok(change.tx().execute(&update).await?.rows_affected() == 1)
}
