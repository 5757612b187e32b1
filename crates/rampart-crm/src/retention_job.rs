//! The scheduled retention job: what a tenant's retention periods (see
//! [`crate::store::RetentionStore`]) say has expired is deleted for good.
//!
//! For every tenant and data mode with at least one period set, three
//! classes expire, each against `now` minus its period:
//!
//! - **conversations** that ended, `resolved` or `closed`, and were last
//!   updated before the cutoff, with their messages. Resolved counts as
//!   ended: it is where a conversation's transcript is blanked, and only a
//!   customer message reopens it, which updates it; one left resolved for
//!   the whole period is as finished as a closed one. Open conversations
//!   are never expired by this class.
//! - **job notes** written before the cutoff.
//! - **customers** with no activity since the cutoff: created before it,
//!   and no conversation of theirs updated, no appointment of theirs
//!   updated or ending, and no job note written about them since. Such a
//!   customer goes with everything of theirs ([`purge_customer`]).
//!
//! A customer under a legal hold keeps everything: their conversations,
//! notes and record are left out of every class, and counted once as
//! `held_skipped`.
//!
//! Deletion goes through [`purge_conversation`] and [`purge_customer`], so
//! data keys are destroyed before their rows. Work is done in batches of at
//! most [`BATCH`] of each class, one transaction per batch: a crash loses
//! at most the batch in progress (rolled back whole), and the next run
//! finds what is left. The batch that finds nothing more to delete carries
//! the `retention.purged` event with the counts of the whole run for that
//! tenant and mode, acted by `system:crm`. A run that deleted nothing
//! records nothing, even when held customers were skipped (the hold itself
//! is audited when placed; repeating it every hour would only bury the
//! log).
//!
//! [`spawn_retention`] runs [`run_retention`] on a [`RetentionSchedule`],
//! through [`run_scheduled_retention`]: with several CRM instances on one
//! database, each period's run is claimed by one of them (a conditional
//! UPDATE of the job's row in `crm_job_run`), so the job runs once per
//! period, not once per instance, and two runs never interleave their
//! batches and each record a `retention.purged` with part of the counts.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rampart_kit::CancellationToken;
use rampart_kit::ids::{CustomerId, TenantId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{DataMode, Principal};
use sea_orm::sea_query::{
    Condition, Expr, ExprTrait, IntoCondition, OnConflict, Query, SelectStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use tokio::task::JoinHandle;

use crate::Error;
use crate::domain::{ConversationStatus, RetentionDays, RetentionPeriods};
use crate::entity::{appointment, conversation, customer, job_note, legal_hold, retention};
use crate::store::{DataScope, RetentionStore, purge_conversation, purge_customer};
use crate::vault::{TenantKeys, Vault};

/// The most conversations, job notes and customers (each) one transaction
/// deletes.
pub const BATCH: u64 = 100;

/// The conversation statuses the conversations class expires.
const ENDED: [ConversationStatus; 2] = [ConversationStatus::Resolved, ConversationStatus::Closed];

/// When the retention job runs.
#[derive(Debug, Clone, Copy)]
pub struct RetentionSchedule {
    /// How long after start the first run begins: soon, so a restarted
    /// service catches up, but not while it is still coming up.
    pub first_run: Duration,
    /// How often it runs after that.
    pub every: Duration,
}

impl Default for RetentionSchedule {
    fn default() -> Self {
        Self {
            first_run: Duration::from_secs(30),
            every: Duration::from_secs(60 * 60),
        }
    }
}

/// What one run deleted in one tenant's data mode.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// Conversations deleted, as ended and expired or with their customer.
    pub conversations: u64,
    pub messages: u64,
    /// Job notes deleted, as expired or with their customer.
    pub job_notes: u64,
    pub customers: u64,
    /// Held customers who had something expired and kept it.
    pub held_skipped: u64,
}

impl Expired {
    fn deleted_anything(&self) -> bool {
        self.conversations + self.messages + self.job_notes + self.customers > 0
    }
}

impl std::ops::AddAssign for Expired {
    fn add_assign(&mut self, other: Self) {
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.job_notes += other.job_notes;
        self.customers += other.customers;
        self.held_skipped += other.held_skipped;
    }
}

/// What one run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Each tenant and mode that deleted something, with its counts.
    pub purged: Vec<(DataScope, Expired)>,
    /// Tenants and modes whose deletion failed, and the receipts' or the
    /// authorisations' purge if it did (logged); the next run tries them
    /// again.
    pub failed: usize,
    /// Telephony webhook receipts past their replay window, deleted.
    pub receipts_purged: u64,
    /// Calendar authorisations never completed, past their expiry, deleted.
    pub pending_purged: u64,
}

/// The instants before which each class has expired.
#[derive(Debug, Clone, Copy)]
struct Cutoffs {
    conversations: Option<DateTime<Utc>>,
    job_notes: Option<DateTime<Utc>>,
    inactive_customers: Option<DateTime<Utc>>,
}

impl Cutoffs {
    fn at(now: DateTime<Utc>, periods: &RetentionPeriods) -> Self {
        let before = |days: Option<RetentionDays>| {
            days.map(|days| now - chrono::Duration::days(i64::from(days.get())))
        };
        Self {
            conversations: before(periods.conversations),
            job_notes: before(periods.job_notes),
            inactive_customers: before(periods.inactive_customers),
        }
    }
}

/// Deletes what has expired at `now` in every tenant and mode with a
/// period set. One tenant's failure does not stop the others.
pub async fn run_retention(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    now: DateTime<Utc>,
) -> Result<Report, Error> {
    let mut report = Report::default();
    // Replay receipts are kept for their window whatever a tenant's periods
    // (they hold no personal data, only Twilio's sids).
    match crate::telephony::receipts::purge_expired(db, now).await {
        Ok(purged) => report.receipts_purged = purged,
        Err(error) => {
            tracing::error!(error = %error, "purging expired webhook receipts failed");
            report.failed += 1;
        }
    }
    match crate::calendar::store::purge_expired_pending(db, now).await {
        Ok(purged) => report.pending_purged = purged,
        Err(error) => {
            tracing::error!(error = %error, "purging expired calendar authorisations failed");
            report.failed += 1;
        }
    }
    for scope in scopes_with_periods(db).await? {
        match expire_scope(db, outbox, vault, &scope, now).await {
            Ok(expired) if expired.deleted_anything() => {
                tracing::info!(
                    tenant_id = %scope.tenant_id,
                    mode = scope.mode.as_str(),
                    conversations = expired.conversations,
                    messages = expired.messages,
                    job_notes = expired.job_notes,
                    customers = expired.customers,
                    held_skipped = expired.held_skipped,
                    "retention purged expired data"
                );
                report.purged.push((scope, expired));
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(
                    tenant_id = %scope.tenant_id,
                    mode = scope.mode.as_str(),
                    error = %error,
                    "retention failed for a tenant"
                );
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// The retention job's row in `crm_job_run`.
const JOB: &str = "retention";

/// Runs [`run_retention`] at `now` if this caller claims the period's run;
/// `None` when another instance (or this one, shortly before) has run it.
///
/// A run started less than nine tenths of `every` ago is this period's: two
/// instances whose schedules are out of phase (started at different times)
/// then take turns rather than each running every period, and an instance
/// restarted soon after a run does not run again at once. The claim is one
/// conditional UPDATE, so of two instances claiming together exactly one
/// matches, on SQLite as on PostgreSQL.
pub async fn run_scheduled_retention(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    now: DateTime<Utc>,
    every: Duration,
) -> Result<Option<Report>, Error> {
    if !claim_run(db, JOB, now, every).await? {
        tracing::debug!("retention run skipped: another instance ran it this period");
        return Ok(None);
    }
    run_retention(db, outbox, vault, now).await.map(Some)
}

/// Claims `job`'s run at `now`; `true` for one caller per period.
async fn claim_run(
    db: &DatabaseConnection,
    job: &str,
    now: DateTime<Utc>,
    every: Duration,
) -> Result<bool, Error> {
    let period = chrono::Duration::from_std(every.mul_f64(0.9))
        .map_err(|_| Error::Internal(anyhow::anyhow!("the retention interval is too long")))?;
    let first = Query::insert()
        .into_table("crm_job_run")
        .columns(["job", "started_at"])
        .values_panic([job.into(), DateTime::<Utc>::UNIX_EPOCH.into()])
        .on_conflict(OnConflict::column("job").do_nothing().to_owned())
        .to_owned();
    db.execute(&first).await?;
    let claim = Query::update()
        .table("crm_job_run")
        .value("started_at", now)
        .and_where(Expr::col("job").eq(job))
        .and_where(Expr::col("started_at").lte(now - period))
        .to_owned();
    Ok(db.execute(&claim).await?.rows_affected() == 1)
}

/// Every tenant and mode with at least one period set.
async fn scopes_with_periods(db: &DatabaseConnection) -> Result<Vec<DataScope>, Error> {
    let rows: Vec<(String, String)> = retention::Entity::find()
        .select_only()
        .column(retention::Column::TenantId)
        .column(retention::Column::Mode)
        .filter(
            Condition::any()
                .add(retention::Column::ConversationsDays.is_not_null())
                .add(retention::Column::JobNotesDays.is_not_null())
                .add(retention::Column::InactiveCustomersDays.is_not_null()),
        )
        .order_by_asc(retention::Column::TenantId)
        .order_by_asc(retention::Column::Mode)
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(tenant, mode)| {
            let tenant_id = TenantId::parse(&tenant).map_err(|_| {
                Error::Internal(anyhow::anyhow!("crm_retention holds a malformed tenant"))
            })?;
            let mode = DataMode::parse(&mode).ok_or_else(|| {
                Error::Internal(anyhow::anyhow!("crm_retention holds a malformed mode"))
            })?;
            Ok(DataScope { tenant_id, mode })
        })
        .collect()
}

/// One tenant and mode, batch after batch, the last one carrying the
/// event.
async fn expire_scope(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    scope: &DataScope,
    now: DateTime<Utc>,
) -> Result<Expired, Error> {
    let periods = RetentionStore::for_tenant(db, outbox, scope.clone())
        .get()
        .await?
        .periods;
    let cutoffs = Cutoffs::at(now, &periods);
    let mut expired = Expired {
        held_skipped: held_with_expired_data(db, scope, &cutoffs).await?,
        ..Expired::default()
    };
    loop {
        let mut change = outbox.begin(db).await?;
        let (batch, finished) = expire_batch(change.tx(), vault, scope, &cutoffs).await?;
        expired += batch;
        if finished {
            if expired.deleted_anything() {
                change.audit(purged_event(scope, &expired));
            }
            change.commit().await?;
            return Ok(expired);
        }
        change.commit().await?;
    }
}

/// Deletes up to [`BATCH`] of each class in `tx`; whether every class came
/// up short (nothing is left).
async fn expire_batch(
    tx: &DatabaseTransaction,
    vault: &Vault,
    scope: &DataScope,
    cutoffs: &Cutoffs,
) -> Result<(Expired, bool), Error> {
    let mut expired = Expired::default();
    let mut finished = true;
    // The tenant's keys are read only when a key is to be destroyed: a
    // first use would create them.
    let mut keys: Option<TenantKeys> = None;

    if let Some(cutoff) = cutoffs.conversations {
        let ids = expired_conversations(tx, scope, cutoff).await?;
        finished &= (ids.len() as u64) < BATCH;
        for id in ids {
            let keys = tenant_keys(&mut keys, tx, vault, scope).await?;
            let purged = purge_conversation(tx, scope, keys, &id).await?;
            expired.conversations += purged.conversations;
            expired.messages += purged.messages;
        }
    }
    if let Some(cutoff) = cutoffs.job_notes {
        let ids = expired_job_notes(tx, scope, cutoff).await?;
        finished &= (ids.len() as u64) < BATCH;
        if !ids.is_empty() {
            // Sealed under their customer's key, which stays with the
            // customer: only the rows go.
            expired.job_notes += job_note::Entity::delete_many()
                .filter(job_note::Column::TenantId.eq(scope.tenant_id.as_str()))
                .filter(job_note::Column::Mode.eq(scope.mode.as_str()))
                .filter(job_note::Column::Id.is_in(ids))
                .exec(tx)
                .await?
                .rows_affected;
        }
    }
    if let Some(cutoff) = cutoffs.inactive_customers {
        let ids = inactive_customers(tx, scope, cutoff).await?;
        finished &= (ids.len() as u64) < BATCH;
        for id in ids {
            let id = CustomerId::parse(&id).map_err(|_| {
                Error::Internal(anyhow::anyhow!("crm_customer holds a malformed id"))
            })?;
            let keys = tenant_keys(&mut keys, tx, vault, scope).await?;
            let purged = purge_customer(tx, scope, keys, &id).await?;
            expired.customers += purged.customers;
            expired.conversations += purged.conversations;
            expired.messages += purged.messages;
            expired.job_notes += purged.job_notes;
        }
    }
    Ok((expired, finished))
}

async fn tenant_keys<'k>(
    keys: &'k mut Option<TenantKeys>,
    tx: &DatabaseTransaction,
    vault: &Vault,
    scope: &DataScope,
) -> Result<&'k TenantKeys, Error> {
    if keys.is_none() {
        *keys = Some(vault.tenant(tx, &scope.tenant_id).await?);
    }
    Ok(keys.as_ref().expect("set just above"))
}

/// `retention.purged`, in the tenant's log, with the run's counts.
fn purged_event(scope: &DataScope, expired: &Expired) -> AuditRecord {
    let actor = Principal::system(scope.tenant_id.clone(), ServiceName::Crm).in_mode(scope.mode);
    AuditRecord::success(
        &actor,
        Some(scope.tenant_id.as_str()),
        "retention.purged",
        format!("tenant:{}", scope.tenant_id),
    )
    .with_detail("mode", scope.mode.as_str())
    .with_detail("conversations", expired.conversations.to_string())
    .with_detail("messages", expired.messages.to_string())
    .with_detail("job_notes", expired.job_notes.to_string())
    .with_detail("customers", expired.customers.to_string())
    .with_detail("held_skipped", expired.held_skipped.to_string())
}

/// The ended conversations last updated before `cutoff`, of no held
/// customer. Locked on PostgreSQL until the batch commits, so a customer
/// message cannot reopen one between its choice and its deletion (SQLite
/// has one writer at a time anyway).
async fn expired_conversations(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    cutoff: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    Ok(conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .filter(expired_conversation(scope, cutoff))
        .filter(
            Condition::any()
                .add(conversation::Column::CustomerId.is_null())
                .add(Expr::exists(held(scope, conversation_customer())).not()),
        )
        .order_by_asc(conversation::Column::Id)
        .limit(BATCH)
        .lock_exclusive()
        .into_tuple()
        .all(db)
        .await?)
}

/// The job notes written before `cutoff`, of no held customer.
async fn expired_job_notes(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    cutoff: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    Ok(job_note::Entity::find()
        .select_only()
        .column(job_note::Column::Id)
        .filter(expired_job_note(scope, cutoff))
        .filter(Expr::exists(held(scope, job_note_customer())).not())
        .order_by_asc(job_note::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?)
}

/// The customers inactive since `cutoff`, not held.
async fn inactive_customers(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    cutoff: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    Ok(customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(inactive_customer(scope, cutoff))
        .filter(Expr::exists(held(scope, customer_itself())).not())
        .order_by_asc(customer::Column::Id)
        .limit(BATCH)
        .lock_exclusive()
        .into_tuple()
        .all(db)
        .await?)
}

/// How many held customers have something that would have expired.
async fn held_with_expired_data(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    cutoffs: &Cutoffs,
) -> Result<u64, Error> {
    let mut customers: HashSet<String> = HashSet::new();
    if let Some(cutoff) = cutoffs.conversations {
        let ids: Vec<Option<String>> = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::CustomerId)
            .distinct()
            .filter(expired_conversation(scope, cutoff))
            .filter(Expr::exists(held(scope, conversation_customer())))
            .into_tuple()
            .all(db)
            .await?;
        customers.extend(ids.into_iter().flatten());
    }
    if let Some(cutoff) = cutoffs.job_notes {
        let ids: Vec<String> = job_note::Entity::find()
            .select_only()
            .column(job_note::Column::CustomerId)
            .distinct()
            .filter(expired_job_note(scope, cutoff))
            .filter(Expr::exists(held(scope, job_note_customer())))
            .into_tuple()
            .all(db)
            .await?;
        customers.extend(ids);
    }
    if let Some(cutoff) = cutoffs.inactive_customers {
        let ids: Vec<String> = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(inactive_customer(scope, cutoff))
            .filter(Expr::exists(held(scope, customer_itself())))
            .into_tuple()
            .all(db)
            .await?;
        customers.extend(ids);
    }
    Ok(customers.len() as u64)
}

fn expired_conversation(scope: &DataScope, cutoff: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(conversation::Column::TenantId.eq(scope.tenant_id.as_str()))
        .add(conversation::Column::Mode.eq(scope.mode.as_str()))
        .add(conversation::Column::Status.is_in(ENDED.map(ConversationStatus::as_str)))
        .add(conversation::Column::UpdatedAt.lt(cutoff))
}

fn expired_job_note(scope: &DataScope, cutoff: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(job_note::Column::TenantId.eq(scope.tenant_id.as_str()))
        .add(job_note::Column::Mode.eq(scope.mode.as_str()))
        .add(job_note::Column::CreatedAt.lt(cutoff))
}

/// Created before `cutoff`, and nothing of theirs has happened since.
fn inactive_customer(scope: &DataScope, cutoff: DateTime<Utc>) -> Condition {
    let conversation_since = Query::select()
        .expr(Expr::val(1))
        .from(conversation::Entity)
        .and_where(
            Expr::col((conversation::Entity, conversation::Column::CustomerId))
                .equals((customer::Entity, customer::Column::Id)),
        )
        .and_where(conversation::Column::TenantId.eq(scope.tenant_id.as_str()))
        .and_where(conversation::Column::Mode.eq(scope.mode.as_str()))
        .and_where(conversation::Column::UpdatedAt.gte(cutoff))
        .to_owned();
    let appointment_since = Query::select()
        .expr(Expr::val(1))
        .from(appointment::Entity)
        .and_where(
            Expr::col((appointment::Entity, appointment::Column::CustomerId))
                .equals((customer::Entity, customer::Column::Id)),
        )
        .and_where(appointment::Column::TenantId.eq(scope.tenant_id.as_str()))
        .and_where(appointment::Column::Mode.eq(scope.mode.as_str()))
        .cond_where(
            Condition::any()
                .add(appointment::Column::UpdatedAt.gte(cutoff))
                .add(appointment::Column::EndsAt.gte(cutoff)),
        )
        .to_owned();
    let note_since = Query::select()
        .expr(Expr::val(1))
        .from(job_note::Entity)
        .and_where(
            Expr::col((job_note::Entity, job_note::Column::CustomerId))
                .equals((customer::Entity, customer::Column::Id)),
        )
        .and_where(job_note::Column::TenantId.eq(scope.tenant_id.as_str()))
        .and_where(job_note::Column::Mode.eq(scope.mode.as_str()))
        .and_where(job_note::Column::CreatedAt.gte(cutoff))
        .to_owned();
    Condition::all()
        .add(customer::Column::TenantId.eq(scope.tenant_id.as_str()))
        .add(customer::Column::Mode.eq(scope.mode.as_str()))
        .add(customer::Column::CreatedAt.lt(cutoff))
        .add(Expr::exists(conversation_since).not())
        .add(Expr::exists(appointment_since).not())
        .add(Expr::exists(note_since).not())
}

/// The customer column of the row a hold is looked up for.
fn conversation_customer() -> Expr {
    Expr::col((conversation::Entity, conversation::Column::CustomerId))
}

fn job_note_customer() -> Expr {
    Expr::col((job_note::Entity, job_note::Column::CustomerId))
}

fn customer_itself() -> Expr {
    Expr::col((customer::Entity, customer::Column::Id))
}

/// A held hold on `customer`, in `scope`: the subquery of an EXISTS.
fn held(scope: &DataScope, customer: Expr) -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(legal_hold::Entity)
        .cond_where(
            Expr::col((legal_hold::Entity, legal_hold::Column::CustomerId))
                .eq(customer)
                .into_condition(),
        )
        .and_where(legal_hold::Column::TenantId.eq(scope.tenant_id.as_str()))
        .and_where(legal_hold::Column::Mode.eq(scope.mode.as_str()))
        .and_where(legal_hold::Column::Held.eq(true))
        .to_owned()
}

/// Runs [`run_retention`] on `schedule` until `shutdown`.
pub fn spawn_retention(
    db: DatabaseConnection,
    outbox: Outbox,
    vault: Vault,
    schedule: RetentionSchedule,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + schedule.first_run;
        let mut ticks = tokio::time::interval_at(start, schedule.every);
        // A run longer than the interval is followed by the next one, not
        // by a burst of the missed ones.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let run = run_scheduled_retention(&db, &outbox, &vault, Utc::now(), schedule.every);
            tokio::select! {
                () = shutdown.cancelled() => return,
                result = run => {
                    if let Err(error) = result {
                        tracing::error!(error = %error, "retention run failed");
                    }
                }
            }
        }
    })
}
