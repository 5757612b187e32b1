//! The sync worker: pushes appointments to the connected calendar.
//!
//! The appointment store writes a `crm_calendar_sync` row in the same
//! transaction as each change (so a change is never lost between the
//! database and the calendar). The worker claims due rows under a lease
//! (a conditional update that only one instance wins, so several CRM
//! instances share the work safely), pushes the appointment's CURRENT state
//! (so rows can be applied in any order and more than once), records the
//! event id, and deletes the row; a failure keeps it, with exponential
//! backoff. Event ids are derived from appointment ids, so two instances
//! inserting the same appointment make one event.

use std::time::Duration;

use chrono::Utc;
use rampart_kit::CancellationToken;
use rampart_kit::outbox::Outbox;
use rampart_kit::secret::SecretString;
use sea_orm::{
    ActiveValue, ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};
use tokio::task::JoinHandle;

use super::google::{Busy, Calendar, CalendarError, EventBody, event_id_for};
use super::oauth::OAuth;
use super::store;
use crate::Error;
use crate::entity::{appointment, calendar_connection, calendar_event, calendar_sync};
use crate::vault::Vault;

/// How many rows one pass claims at most.
const BATCH: u64 = 20;
/// The longest wait between two attempts of one row.
const MAX_BACKOFF_SECS: i64 = 300;

/// How often the worker looks for due rows, and how long a claim holds.
#[derive(Debug, Clone, Copy)]
pub struct SyncSchedule {
    pub every: Duration,
    pub lease: Duration,
}

impl Default for SyncSchedule {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(2),
            lease: Duration::from_secs(60),
        }
    }
}

/// Runs sync passes every `schedule.every` until `shutdown`.
pub fn spawn_sync(
    db: DatabaseConnection,
    outbox: Outbox,
    vault: Vault,
    oauth: OAuth,
    schedule: SyncSchedule,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(schedule.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let pass = run_sync_pass(&db, &outbox, &vault, &oauth, schedule.lease);
            tokio::select! {
                () = shutdown.cancelled() => return,
                result = pass => {
                    if let Err(error) = result {
                        tracing::error!(error = %error, "calendar sync pass failed");
                    }
                }
            }
        }
    })
}

/// One pass: claims and pushes the due rows; answers how many were pushed.
pub async fn run_sync_pass(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    oauth: &OAuth,
    lease: Duration,
) -> Result<usize, Error> {
    let now = Utc::now();
    let due = calendar_sync::Entity::find()
        .filter(calendar_sync::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(calendar_sync::Column::LeaseUntil.is_null())
                .add(calendar_sync::Column::LeaseUntil.lt(now)),
        )
        .order_by_asc(calendar_sync::Column::NextAttemptAt)
        .limit(BATCH)
        .all(db)
        .await?;
    let mut pushed = 0;
    for row in due {
        if !claim(db, outbox, &row, lease).await? {
            continue;
        }
        match push(db, outbox, vault, oauth, &row).await {
            Ok(()) => {
                let change = outbox.begin(db).await?;
                calendar_sync::Entity::delete_by_id(row.id.clone())
                    .exec(change.tx())
                    .await?;
                change.commit().await?;
                pushed += 1;
            }
            Err(error) => {
                tracing::warn!(
                    appointment_id = %row.appointment_id,
                    attempts = row.attempts + 1,
                    error = %error,
                    "calendar sync failed; will retry"
                );
                let backoff = 2_i64
                    .saturating_pow(u32::try_from(row.attempts.clamp(0, 16)).unwrap_or(16))
                    .min(MAX_BACKOFF_SECS);
                let change = outbox.begin(db).await?;
                let mut active = row.clone().into_active_model();
                active.attempts = ActiveValue::Set(row.attempts.saturating_add(1));
                active.next_attempt_at =
                    ActiveValue::Set(Utc::now() + chrono::Duration::seconds(backoff));
                active.lease_until = ActiveValue::Set(None);
                active.last_error = ActiveValue::Set(Some(error.to_string()));
                // The row may be gone (disconnected meanwhile): nothing to keep.
                calendar_sync::Entity::update_many()
                    .set(active)
                    .filter(calendar_sync::Column::Id.eq(row.id.as_str()))
                    .exec(change.tx())
                    .await?;
                change.commit().await?;
            }
        }
    }
    Ok(pushed)
}

/// Takes `row` for `lease` if it is still as it was read: only one
/// instance's update matches.
async fn claim(
    db: &DatabaseConnection,
    outbox: &Outbox,
    row: &calendar_sync::Model,
    lease: Duration,
) -> Result<bool, Error> {
    let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
    let mut query = calendar_sync::Entity::update_many()
        .col_expr(
            calendar_sync::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Some(until)),
        )
        .filter(calendar_sync::Column::Id.eq(row.id.as_str()))
        .filter(calendar_sync::Column::Attempts.eq(row.attempts));
    query = match row.lease_until {
        None => query.filter(calendar_sync::Column::LeaseUntil.is_null()),
        Some(at) => query.filter(calendar_sync::Column::LeaseUntil.eq(at)),
    };
    let change = outbox.begin(db).await?;
    let claimed = query.exec(change.tx()).await?.rows_affected == 1;
    change.commit().await?;
    Ok(claimed)
}

/// A usable access token of `connection`: refreshed (and stored) when it
/// expires within a minute, or when `force`d after a refusal.
pub async fn access_token(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    oauth: &OAuth,
    connection: &calendar_connection::Model,
    force: bool,
) -> Result<SecretString, PushError> {
    let open = store::open_tokens(db, vault, connection).await?;
    if !force && connection.expires_at > Utc::now() + chrono::Duration::seconds(60) {
        return Ok(open.access_token);
    }
    let tokens = oauth
        .refresh(rampart_kit::secret::ExposeSecret::expose_secret(
            &open.refresh_token,
        ))
        .await
        .map_err(|error| PushError::Calendar(CalendarError::Transport(error)))?;
    store::store_refreshed(db, outbox, vault, connection, &tokens).await?;
    tracing::info!(
        tenant_id = %connection.tenant_id,
        "calendar access token refreshed"
    );
    Ok(tokens.access_token)
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Store(#[from] Error),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// One call to the calendar.
#[derive(Debug)]
pub enum Op {
    /// Writes the appointment's event: patches `mapped` if there is one
    /// (inserting again if it was deleted in the calendar), else inserts
    /// (patching if an earlier attempt inserted it already).
    Upsert {
        mapped: Option<String>,
        body: EventBody,
    },
    Delete(String),
    Busy {
        from: chrono::DateTime<Utc>,
        to: chrono::DateTime<Utc>,
    },
}

/// What an [`Op`] answered.
#[derive(Debug)]
pub enum Done {
    /// The event id written.
    Written(String),
    Deleted,
    Busy(Vec<Busy>),
}

async fn run_op(calendar: &Calendar<'_>, op: &Op) -> Result<Done, CalendarError> {
    match op {
        Op::Upsert {
            mapped: Some(event_id),
            body,
        } => match calendar.patch(event_id, body).await {
            Err(CalendarError::NotFound) => calendar.insert(body).await.map(Done::Written),
            other => other.map(|()| Done::Written(event_id.clone())),
        },
        Op::Upsert { mapped: None, body } => match calendar.insert(body).await {
            Err(CalendarError::Exists) => {
                let id = event_id_for(&body.appointment_id);
                calendar.patch(&id, body).await.map(|()| Done::Written(id))
            }
            other => other.map(Done::Written),
        },
        Op::Delete(event_id) => calendar.delete(event_id).await.map(|()| Done::Deleted),
        Op::Busy { from, to } => calendar.busy(*from, *to).await.map(Done::Busy),
    }
}

/// Runs `op` on `connection`'s calendar with a fresh token, and once more
/// with a forced refresh if the calendar refuses the token.
pub async fn with_token(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    oauth: &OAuth,
    connection: &calendar_connection::Model,
    op: &Op,
) -> Result<Done, PushError> {
    let api_base = oauth.settings().api_base.as_str();
    let token = access_token(db, outbox, vault, oauth, connection, false).await?;
    let first = run_op(&calendar(api_base, &connection.calendar_id, &token), op).await;
    match first {
        Err(CalendarError::Unauthorised) => {
            let token = access_token(db, outbox, vault, oauth, connection, true).await?;
            Ok(run_op(&calendar(api_base, &connection.calendar_id, &token), op).await?)
        }
        other => Ok(other?),
    }
}

/// Pushes the appointment of `row` as it is now.
async fn push(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    oauth: &OAuth,
    row: &calendar_sync::Model,
) -> Result<(), PushError> {
    let scope = store::row_scope(&row.tenant_id, &row.mode)?;
    let Some(connection) = store::connection(db, &scope).await? else {
        // Disconnected since: nothing to push to.
        return Ok(());
    };
    let appointment = appointment::Entity::find()
        .filter(appointment::Column::Id.eq(row.appointment_id.as_str()))
        .filter(appointment::Column::TenantId.eq(row.tenant_id.as_str()))
        .filter(appointment::Column::Mode.eq(row.mode.as_str()))
        .one(db)
        .await
        .map_err(Error::from)?;
    let mapped = calendar_event::Entity::find_by_id(row.appointment_id.clone())
        .one(db)
        .await
        .map_err(Error::from)?
        .filter(|mapped| mapped.calendar_id == connection.calendar_id);
    let live = appointment.filter(|a| a.status != "cancelled");
    let Some(appointment) = live else {
        if let Some(mapped) = mapped {
            with_token(
                db,
                outbox,
                vault,
                oauth,
                &connection,
                &Op::Delete(mapped.event_id),
            )
            .await?;
            let change = outbox.begin(db).await.map_err(Error::from)?;
            calendar_event::Entity::delete_by_id(row.appointment_id.clone())
                .exec(change.tx())
                .await
                .map_err(Error::from)?;
            change.commit().await.map_err(Error::from)?;
        }
        return Ok(());
    };
    let body = EventBody {
        appointment_id: appointment.id.clone(),
        summary: format!("Appointment: {}", appointment.service_type),
        starts_at: appointment.starts_at,
        ends_at: appointment.ends_at,
    };
    let op = Op::Upsert {
        mapped: mapped.map(|mapped| mapped.event_id),
        body,
    };
    let Done::Written(event_id) = with_token(db, outbox, vault, oauth, &connection, &op).await?
    else {
        return Err(Error::Internal(anyhow::anyhow!("an upsert answered no event id")).into());
    };
    let change = outbox.begin(db).await.map_err(Error::from)?;
    calendar_event::Entity::delete_by_id(row.appointment_id.clone())
        .exec(change.tx())
        .await
        .map_err(Error::from)?;
    calendar_event::Entity::insert(
        calendar_event::Model {
            appointment_id: row.appointment_id.clone(),
            tenant_id: row.tenant_id.clone(),
            mode: row.mode.clone(),
            calendar_id: connection.calendar_id.clone(),
            event_id,
            synced_at: Utc::now(),
        }
        .into_active_model(),
    )
    .exec_without_returning(change.tx())
    .await
    .map_err(Error::from)?;
    change.commit().await.map_err(Error::from)?;
    Ok(())
}

fn calendar<'a>(
    api_base: &'a str,
    calendar_id: &'a str,
    access_token: &'a SecretString,
) -> Calendar<'a> {
    Calendar {
        api_base,
        calendar_id,
        access_token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn claim_is_exclusive_on(url: &str) {
        let db = rampart_kit::db::connect(url).await.unwrap();
        crate::migrate(&db).await.unwrap();
        let outbox = Outbox::new(crate::OUTBOX_TABLE);
        let at = Utc::now();
        let row = calendar_sync::Model {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: "ten_x".to_owned(),
            mode: "live".to_owned(),
            appointment_id: "apt_x".to_owned(),
            attempts: 0,
            next_attempt_at: at,
            lease_until: None,
            last_error: None,
            created_at: at,
        };
        calendar_sync::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&db)
            .await
            .unwrap();
        // Two instances read the same free row; one claim wins.
        let lease = Duration::from_secs(60);
        let (first, second) = tokio::join!(
            claim(&db, &outbox, &row, lease),
            claim(&db, &outbox, &row, lease)
        );
        assert!(
            first.unwrap() ^ second.unwrap(),
            "exactly one instance holds the row"
        );
        // Held: the scan does not offer it again.
        let due = calendar_sync::Entity::find()
            .filter(calendar_sync::Column::NextAttemptAt.lte(Utc::now()))
            .filter(
                Condition::any()
                    .add(calendar_sync::Column::LeaseUntil.is_null())
                    .add(calendar_sync::Column::LeaseUntil.lt(Utc::now())),
            )
            .all(&db)
            .await
            .unwrap();
        assert!(due.is_empty(), "{due:?}");
        // An instance that died: its lease runs out and the row is taken
        // again, once.
        let held = calendar_sync::Entity::find_by_id(row.id.clone())
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert!(claim(&db, &outbox, &held, lease).await.unwrap());
        assert!(!claim(&db, &outbox, &held, lease).await.unwrap());
    }

    #[tokio::test]
    async fn a_sync_row_is_claimed_by_one_instance_sqlite() {
        let database = rampart_kit::testing::TestDatabase::sqlite();
        claim_is_exclusive_on(&database.url).await;
    }

    #[tokio::test]
    async fn a_sync_row_is_claimed_by_one_instance_postgres() {
        let Some(database) = rampart_kit::testing::TestDatabase::postgres().await else {
            return;
        };
        claim_is_exclusive_on(&database.url).await;
    }
}
