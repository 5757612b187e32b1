//! Storage of the audit logs: appending events to their chains, and reading
//! one log at a time.
//!
//! Appends are serialised by an in-process lock around the whole
//! transaction: each new event needs the head of its log, and two appends
//! reading the same head would fork the chain. The primary key on
//! (log_id, sequence) and the unique event id back the lock up, so a second
//! instance racing this one fails its transaction (and its producer retries)
//! rather than corrupting a log.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rampart_kit::pki::ServiceName;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use tokio::sync::Mutex;

use crate::chain::{ChainEntry, EventFields, GENESIS, chain_hash, hex};
use crate::entity::event;
use crate::error::Error;
use crate::events::{LogId, ValidEvent};

/// Rows per INSERT, well under both databases' limits on bound parameters.
const INSERT_CHUNK: usize = 100;

/// What one append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Appended {
    pub stored: u32,
    pub duplicates: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct EventStore {
    db: DatabaseConnection,
    append_lock: Arc<Mutex<()>>,
}

/// Where a log's next event goes.
struct Head {
    sequence: u64,
    hash: [u8; 32],
}

impl EventStore {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            append_lock: Arc::new(Mutex::new(())),
        }
    }

    /// Appends `events` from `service` in one transaction. Events already
    /// stored, or repeated within the batch, are skipped and counted as
    /// duplicates.
    pub(crate) async fn append(
        &self,
        events: Vec<ValidEvent>,
        service: ServiceName,
    ) -> Result<Appended, Error> {
        if events.is_empty() {
            return Ok(Appended::default());
        }
        let _serialised = self.append_lock.lock().await;
        let tx = self.db.begin().await?;

        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        let mut seen: HashSet<String> = event::Entity::find()
            .select_only()
            .column(event::Column::EventId)
            .filter(event::Column::EventId.is_in(ids))
            .into_tuple::<String>()
            .all(&tx)
            .await?
            .into_iter()
            .collect();

        let recorded_at = chrono::Utc::now();
        let mut heads: HashMap<LogId, Head> = HashMap::new();
        let mut rows = Vec::with_capacity(events.len());
        let mut outcome = Appended::default();
        for valid in events {
            if !seen.insert(valid.event_id.clone()) {
                outcome.duplicates += 1;
                continue;
            }
            if !heads.contains_key(&valid.log) {
                let head = Self::head(&tx, &valid.log).await?;
                heads.insert(valid.log.clone(), head);
            }
            let head = heads.get_mut(&valid.log).expect("inserted above");
            let fields = EventFields {
                tenant_id: valid.tenant_id().to_owned(),
                event_id: valid.event_id,
                actor: valid.actor,
                credential_id: valid.credential_id,
                action: valid.action,
                target: valid.target,
                occurred_at: valid.occurred_at,
                service: service.as_str().to_owned(),
                request_id: valid.request_id,
                outcome: valid.outcome,
            };
            let log_id = valid.log.as_str().to_owned();
            let hash = chain_hash(&head.hash, &log_id, head.sequence, &fields);
            rows.push(event::ActiveModel {
                log_id: Set(log_id),
                sequence: Set(to_db_sequence(head.sequence)?),
                event_id: Set(fields.event_id),
                tenant_id: Set(fields.tenant_id),
                actor: Set(fields.actor),
                credential_id: Set(fields.credential_id),
                action: Set(fields.action),
                target: Set(fields.target),
                occurred_at: Set(fields.occurred_at),
                service: Set(fields.service),
                request_id: Set(fields.request_id),
                outcome: Set(fields.outcome),
                recorded_at: Set(recorded_at),
                prev_hash: Set(hex(&head.hash)),
                chain_hash: Set(hex(&hash)),
            });
            *head = Head {
                sequence: head.sequence + 1,
                hash,
            };
            outcome.stored += 1;
        }

        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
            event::Entity::insert_many(chunk)
                .exec_without_returning(&tx)
                .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// The next position and previous hash of `log`, read in the append
    /// transaction.
    async fn head(tx: &impl ConnectionTrait, log: &LogId) -> Result<Head, Error> {
        let last = event::Entity::find()
            .filter(event::Column::LogId.eq(log.as_str()))
            .order_by_desc(event::Column::Sequence)
            .one(tx)
            .await?;
        let Some(last) = last else {
            return Ok(Head {
                sequence: 0,
                hash: GENESIS,
            });
        };
        let hash = rampart_kit::secret::unhex(&last.chain_hash)
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "log {} has an unreadable chain hash at {}",
                    last.log_id,
                    last.sequence
                )
            })?;
        Ok(Head {
            sequence: from_db_sequence(last.sequence)? + 1,
            hash,
        })
    }

    /// Up to `limit` entries of `log` from position `from` on, in order.
    pub(crate) async fn list(
        &self,
        log: &LogId,
        from: u64,
        limit: u64,
    ) -> Result<Vec<ChainEntry>, Error> {
        read_entries(&self.db, log.as_str(), from, Some(limit)).await
    }
}

/// Entries of the log `log_id` from position `from` on, in order.
pub(crate) async fn read_entries(
    db: &impl ConnectionTrait,
    log_id: &str,
    from: u64,
    limit: Option<u64>,
) -> Result<Vec<ChainEntry>, Error> {
    let rows = event::Entity::find()
        .filter(event::Column::LogId.eq(log_id))
        .filter(event::Column::Sequence.gte(to_db_sequence(from)?))
        .order_by_asc(event::Column::Sequence)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter().map(into_entry).collect()
}

fn into_entry(row: event::Model) -> Result<ChainEntry, Error> {
    Ok(ChainEntry {
        sequence: from_db_sequence(row.sequence)?,
        log_id: row.log_id,
        event: EventFields {
            event_id: row.event_id,
            tenant_id: row.tenant_id,
            actor: row.actor,
            credential_id: row.credential_id,
            action: row.action,
            target: row.target,
            occurred_at: row.occurred_at,
            service: row.service,
            request_id: row.request_id,
            outcome: row.outcome,
        },
        prev_hash: row.prev_hash,
        chain_hash: row.chain_hash,
    })
}

/// Sequences are checked at the edge (cursors) or grow by one from 0, so
/// one beyond `i64::MAX` means something is badly wrong.
fn to_db_sequence(sequence: u64) -> Result<i64, Error> {
    i64::try_from(sequence)
        .map_err(|_| Error::Internal(anyhow::anyhow!("sequence {sequence} is out of range")))
}

fn from_db_sequence(sequence: i64) -> Result<u64, Error> {
    u64::try_from(sequence)
        .map_err(|_| Error::Internal(anyhow::anyhow!("stored sequence {sequence} is negative")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::verify_chain;
    use crate::events::parse_batch;
    use rampart_kit::ids::TenantId;
    use rampart_proto::audit::v1::AuditEvent;

    async fn store() -> (EventStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = rampart_kit::db::sqlite_url(&dir.path().join("audit.db"));
        let db = rampart_kit::db::connect(&url).await.unwrap();
        crate::migrate(&db).await.unwrap();
        (EventStore::new(db), dir)
    }

    fn event(tenant: Option<&TenantId>) -> AuditEvent {
        AuditEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.map(|t| t.to_string()).unwrap_or_default(),
            actor: "admin_key:bootstrap".to_owned(),
            credential_id: "bootstrap".to_owned(),
            action: "tenant.created".to_owned(),
            target: "tenant:x".to_owned(),
            occurred_at: "2025-01-02T03:04:05Z".to_owned(),
            service: String::new(),
            request_id: "req".to_owned(),
            outcome: "success".to_owned(),
        }
    }

    #[tokio::test]
    async fn interleaved_logs_each_chain_from_zero() {
        let (store, _dir) = store().await;
        let a = TenantId::generate();
        let b = TenantId::generate();
        for _ in 0..3 {
            let batch = vec![
                event(Some(&a)),
                event(None),
                event(Some(&b)),
                event(Some(&a)),
            ];
            let appended = store
                .append(parse_batch(batch).unwrap(), ServiceName::Crm)
                .await
                .unwrap();
            assert_eq!(appended.stored, 4);
        }
        for (log, len) in [
            (LogId::Tenant(a), 6),
            (LogId::Tenant(b), 3),
            (LogId::Platform, 3),
        ] {
            let entries = store.list(&log, 0, 100).await.unwrap();
            assert_eq!(entries.len(), len);
            verify_chain(log.as_str(), &entries).unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_keep_the_chain() {
        let (store, _dir) = store().await;
        let tenant = TenantId::generate();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let batch = parse_batch(vec![event(Some(&tenant)); 1])
                    .unwrap()
                    .into_iter()
                    .map(|mut e| {
                        e.event_id = uuid::Uuid::new_v4().to_string();
                        e
                    })
                    .collect();
                tokio::spawn(async move { store.append(batch, ServiceName::Crm).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().stored, 1);
        }
        let log = LogId::Tenant(tenant);
        let entries = store.list(&log, 0, 100).await.unwrap();
        assert_eq!(entries.len(), 8);
        verify_chain(log.as_str(), &entries).unwrap();
    }
}
