//! The audit outbox: how a service records an audit event in the same
//! transaction as the change it describes, and how those events reach the
//! audit service.
//!
//! A handler opens a [`Change`] with [`Outbox::begin`], writes its rows in
//! the change's transaction, adds the change's audit records (and, for a
//! change that ends credentials, the revocations to announce), and commits:
//! the records commit or roll back with the rows, the relay is woken, and
//! the revocations go out to every gateway. (The parts are public too:
//! [`Outbox::enqueue`] in an open transaction, [`Outbox::wake`] after its
//! commit.) The relay ([`Outbox::run_relay`]) sends pending rows
//! to the audit service in order, deleting them only once audit has taken
//! them. Audit de-duplicates by event id, so a row sent twice (the relay
//! crashed between send and delete) is stored once. With audit down, rows
//! wait and the relay retries with backoff: nothing is lost.
//!
//! The relay measures the audit delivery SLO ([`crate::metrics`]): each
//! delivered event's lag, from its change to audit's acknowledgement, and
//! at every pass the age of the oldest event still waiting, so a backlog
//! shows while nothing is delivered at all. The change's time is the
//! record's `occurred_at`, set by the handler just before its commit (the
//! outbox row has no time of its own).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_proto::audit::v1::audit_service_client::AuditServiceClient;
use rampart_proto::audit::v1::{AppendRequest, AuditEvent};
use sea_orm::sea_query::{
    ColumnDef, Expr, ExprTrait, Func, Index, IndexCreateStatement, Order, Query, Table,
    TableCreateStatement,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::grpc::TracedChannel;
use crate::metrics::KitMetrics;
use crate::principal::Principal;
use crate::revocation::{Revocation, RevocationBus};

/// How many events one delivery carries at most.
const BATCH: u64 = 200;
/// How often an idle relay looks for rows, in case a wake-up was missed
/// (another instance of the service wrote them, or the process restarted).
const IDLE_POLL: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// An audit event as a producing service records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditRecord {
    pub event_id: String,
    /// The tenant whose log receives the event; `None` for the platform log.
    pub tenant_id: Option<String>,
    pub actor: String,
    pub credential_id: String,
    pub action: String,
    pub target: String,
    pub occurred_at: DateTime<Utc>,
    pub request_id: String,
    pub outcome: String,
    /// The client's address as the edge saw it; empty when not known.
    /// (Defaults keep outbox rows written before these fields readable.)
    #[serde(default)]
    pub client_addr: String,
    /// A few non-secret strings named by the action's schema
    /// ([`crate::audit_schema`]).
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    /// The version of the action's schema this record follows; 0: current.
    #[serde(default)]
    pub schema_version: u32,
}

impl AuditRecord {
    /// A successful action by `principal` on `target`, in `tenant`'s log.
    #[must_use]
    pub fn success(
        principal: &Principal,
        tenant: Option<&str>,
        action: &str,
        target: String,
    ) -> Self {
        Self {
            event_id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.map(str::to_owned),
            actor: principal.actor(),
            credential_id: principal.credential_id.clone(),
            action: action.to_owned(),
            target,
            occurred_at: Utc::now(),
            request_id: principal.request_id.clone(),
            outcome: "success".to_owned(),
            client_addr: principal.client_addr.clone(),
            details: BTreeMap::new(),
            schema_version: crate::audit_schema::current_version(action),
        }
    }

    /// The same record with another outcome (one its schema allows, such as
    /// `"failure"` or `"locked"`).
    #[must_use]
    pub fn with_outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = outcome.into();
        self
    }

    /// The same record with the client's address.
    #[must_use]
    pub fn with_client_addr(mut self, addr: impl ToString) -> Self {
        self.client_addr = addr.to_string();
        self
    }

    /// The same record with one more detail. Keys must be named by the
    /// action's schema; values are short and never secret (no password,
    /// code, token or key).
    #[must_use]
    pub fn with_detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Checks the record against its action's schema, for producers' tests.
    pub fn check_schema(&self) -> Result<(), crate::audit_schema::SchemaError> {
        crate::audit_schema::check(
            &self.action,
            self.schema_version,
            &self.outcome,
            self.details.keys().map(String::as_str),
        )
        .map(|_| ())
    }

    #[must_use]
    pub fn into_proto(self) -> AuditEvent {
        AuditEvent {
            event_id: self.event_id,
            tenant_id: self.tenant_id.unwrap_or_default(),
            actor: self.actor,
            credential_id: self.credential_id,
            action: self.action,
            target: self.target,
            occurred_at: self
                .occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            service: String::new(),
            request_id: self.request_id,
            outcome: self.outcome,
            client_addr: self.client_addr,
            details: self.details.into_iter().collect(),
            schema_version: self.schema_version,
        }
    }
}

/// How long shutdown waits for the relay to finish a delivery in flight
/// before abandoning it. Abandoning is safe: rows are deleted only after
/// audit has taken them, and audit de-duplicates a resend.
const RELAY_STOP_GRACE: Duration = Duration::from_secs(2);

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Stops the relay, letting a delivery under way finish for a moment.
    /// Rows it did not deliver stay in the outbox for the next start.
    pub async fn stop(self) {
        self.stop.cancel();
        let abort = self.task.abort_handle();
        match tokio::time::timeout(RELAY_STOP_GRACE, self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "audit outbox relay ended abnormally"),
            Err(_) => {
                tracing::warn!(
                    "audit outbox relay did not stop in time; its rows wait for the next start"
                );
                abort.abort();
            }
        }
    }
}

/// One service's outbox table and the signal that wakes its relay, and
/// (for a service that ends credentials) the bus its revocations go out on.
#[derive(Clone)]
pub struct Outbox {
    table: &'static str,
    wake: Arc<Notify>,
    revocations: Option<RevocationBus>,
    /// On SQLite, one change at a time takes the database's write lock:
    /// waiting here hands it over the moment it is free, where SQLite's
    /// own busy handler polls with sleeps of up to 100 ms.
    writers: Arc<tokio::sync::Mutex<()>>,
    /// Where the relay records delivery lag and backlog age.
    metrics: Arc<KitMetrics>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("table", &self.table)
            .finish()
    }
}

impl Outbox {
    /// The outbox kept in `table`, such as `crm_audit_outbox`.
    #[must_use]
    pub fn new(table: &'static str) -> Self {
        Self {
            table,
            wake: Arc::new(Notify::new()),
            revocations: None,
            writers: Arc::new(tokio::sync::Mutex::new(())),
            metrics: KitMetrics::global(),
        }
    }

    /// The same outbox, its relay recording to `metrics` instead of the
    /// process's registry (tests).
    #[must_use]
    pub fn recording_to(mut self, metrics: Arc<KitMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The same outbox, announcing the revocations of committed changes on
    /// `bus`.
    #[must_use]
    pub fn announcing_on(mut self, bus: RevocationBus) -> Self {
        self.revocations = Some(bus);
        self
    }

    /// Opens a change: a write transaction (see
    /// [`crate::db::begin_write`]) whose audit records and revocations are
    /// collected until [`Change::commit`]. Dropped without a commit, it
    /// rolls back and records nothing.
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<Change<'_>, DbErr> {
        let writer = if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            // As long as SQLite's busy timeout: a change that waits longer
            // fails as it would have without this queue.
            let queued = tokio::time::timeout(
                crate::db::SQLITE_BUSY_TIMEOUT,
                self.writers.clone().lock_owned(),
            );
            Some(queued.await.map_err(|_| {
                DbErr::Custom("database is locked: no write turn within the busy timeout".into())
            })?)
        } else {
            None
        };
        Ok(Change {
            _writer: writer,
            outbox: self,
            tx: crate::db::begin_write(db).await?,
            records: Vec::new(),
            revocations: Vec::new(),
        })
    }

    /// Records audit events that go with no other change (a refused
    /// sign-in, say), in a transaction of their own.
    pub async fn record(
        &self,
        db: &DatabaseConnection,
        records: impl IntoIterator<Item = AuditRecord>,
    ) -> Result<(), DbErr> {
        let mut change = self.begin(db).await?;
        for record in records {
            change.audit(record);
        }
        change.commit().await
    }

    /// Tells every gateway, after the commit. A failure is logged, not
    /// returned: the revocation is already durable, and cached verdicts
    /// expire within seconds anyway.
    async fn announce(&self, revocation: &Revocation) {
        let Some(bus) = &self.revocations else {
            tracing::error!(
                ?revocation,
                table = self.table,
                "revocation not announced: this outbox has no revocation bus"
            );
            return;
        };
        if let Err(error) = bus.publish(revocation).await {
            tracing::error!(error = %format!("{error:#}"), ?revocation, "revocation not announced");
        }
    }

    /// The statements that create the outbox table, for a service's migration.
    #[must_use]
    pub fn create_table(table: &'static str) -> (TableCreateStatement, IndexCreateStatement) {
        let create = Table::create()
            .table(table)
            .if_not_exists()
            .col(
                ColumnDef::new("id")
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(ColumnDef::new("event_id").string_len(64).not_null())
            .col(ColumnDef::new("payload").text().not_null())
            .to_owned();
        let unique = Index::create()
            .name(format!("{table}_event_id"))
            .table(table)
            .col("event_id")
            .unique()
            .if_not_exists()
            .to_owned();
        (create, unique)
    }

    /// Records `record` in the caller's transaction.
    pub async fn enqueue(
        &self,
        tx: &impl ConnectionTrait,
        record: &AuditRecord,
    ) -> Result<(), DbErr> {
        // An event audit would refuse must fail the change now, not sit at
        // the head of the outbox holding up every later event.
        record.check_schema().map_err(|error| {
            DbErr::Custom(format!(
                "audit event {} does not match its schema: {error}",
                record.action
            ))
        })?;
        let payload = serde_json::to_string(record).map_err(|e| DbErr::Custom(e.to_string()))?;
        let insert = Query::insert()
            .into_table(self.table)
            .columns(["event_id", "payload"])
            .values_panic([record.event_id.clone().into(), payload.into()])
            .to_owned();
        tx.execute(&insert).await?;
        Ok(())
    }

    /// Tells the relay there is something to send; call after committing.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// How many events wait for delivery.
    pub async fn pending(&self, db: &DatabaseConnection) -> Result<u64, DbErr> {
        let count = Query::select()
            .expr_as(Func::count(Expr::col("id")), "n")
            .from(self.table)
            .to_owned();
        let row = db.query_one(&count).await?;
        let n: i64 = row.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Starts the relay towards the audit service at `audit_url`, calling it
    /// with this service's identity. The relay stops with `shutdown`, or
    /// earlier through [`Relay::stop`] (for a server that ended on its own).
    pub fn spawn_relay(
        &self,
        db: DatabaseConnection,
        audit_url: &str,
        tls: &crate::pki::ServiceTls,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Relay> {
        let channel = crate::grpc::connect_lazy(audit_url, tls, crate::pki::ServiceName::Audit)?;
        let audit = AuditServiceClient::new(crate::grpc::traced(channel));
        let stop = shutdown.child_token();
        let task = tokio::spawn(self.clone().run_relay(db, audit, stop.clone()));
        Ok(Relay { stop, task })
    }

    /// Delivers pending events to the audit service until `shutdown`.
    pub async fn run_relay(
        self,
        db: DatabaseConnection,
        mut audit: AuditServiceClient<TracedChannel>,
        shutdown: CancellationToken,
    ) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.deliver_batch(&db, &mut audit).await {
                Ok(delivered) => {
                    backoff = Duration::from_millis(100);
                    // A full batch may have more behind it: go on at once.
                    // Short of one, every row committed before the SELECT
                    // was delivered, and any committed since has called
                    // `wake`, whose permit ends this wait at once; looking
                    // again now would only find nothing.
                    if u64::try_from(delivered).is_ok_and(|n| n < BATCH) {
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = self.wake.notified() => {}
                            () = tokio::time::sleep(IDLE_POLL) => {}
                        }
                    }
                }
                Err(error) => {
                    self.metrics.delivery_failed(self.table);
                    tracing::warn!(table = self.table, %error, retry_in_ms = backoff.as_millis(), "audit delivery failed");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            if shutdown.is_cancelled() {
                return;
            }
        }
    }

    /// Sends one batch; returns how many events were delivered.
    async fn deliver_batch(
        &self,
        db: &DatabaseConnection,
        audit: &mut AuditServiceClient<TracedChannel>,
    ) -> anyhow::Result<usize> {
        let select = Query::select()
            .columns(["id", "payload"])
            .from(self.table)
            .order_by("id", Order::Asc)
            .limit(BATCH)
            .to_owned();
        let rows = db.query_all(&select).await?;
        if rows.is_empty() {
            self.metrics.oldest_pending(self.table, Duration::ZERO);
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut events = Vec::with_capacity(rows.len());
        let mut changed_at = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let payload: String = row.try_get("", "payload")?;
            let record: AuditRecord = serde_json::from_str(&payload)?;
            ids.push(id);
            changed_at.push(record.occurred_at);
            events.push(record.into_proto());
        }
        // Recorded before the send, so that a backlog behind an unreachable
        // audit service shows, growing, at every retry.
        if let Some(oldest) = changed_at.iter().min() {
            self.metrics.oldest_pending(self.table, age(*oldest));
        }
        audit.append(AppendRequest { events }).await?;
        for occurred_at in &changed_at {
            self.metrics.delivered(self.table, age(*occurred_at));
        }
        let delete = Query::delete()
            .from_table(self.table)
            .and_where(Expr::col("id").is_in(ids.iter().copied()))
            .to_owned();
        db.execute(&delete).await?;
        if u64::try_from(ids.len()).is_ok_and(|n| n < BATCH) {
            // Everything committed before this pass is delivered; a row
            // committed since is seen, with its age, at the next pass.
            self.metrics.oldest_pending(self.table, Duration::ZERO);
        }
        Ok(ids.len())
    }
}

/// How long ago `then` was; zero if the clock says it is in the future
/// (the clock was set back).
fn age(then: DateTime<Utc>) -> Duration {
    (Utc::now() - then).to_std().unwrap_or(Duration::ZERO)
}

/// One audited change under way: its open transaction, the audit records
/// that commit with it, and the revocations announced once it has.
#[derive(Debug)]
#[must_use = "a change that is not committed rolls back"]
pub struct Change<'a> {
    /// Held until the change commits or rolls back (SQLite only).
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    outbox: &'a Outbox,
    tx: DatabaseTransaction,
    records: Vec<AuditRecord>,
    revocations: Vec<Revocation>,
}

impl Change<'_> {
    /// The transaction to write the change's rows in.
    #[must_use]
    pub fn tx(&self) -> &DatabaseTransaction {
        &self.tx
    }

    /// Adds an audit record, written in the same transaction at the commit.
    pub fn audit(&mut self, record: AuditRecord) {
        self.records.push(record);
    }

    /// Adds a revocation, announced to every gateway after the commit.
    pub fn announce(&mut self, revocation: Revocation) {
        self.revocations.push(revocation);
    }

    /// Writes the audit records, commits, wakes the relay, and announces
    /// the revocations, in that order: nothing is announced or sent to
    /// audit that did not commit.
    pub async fn commit(self) -> Result<(), DbErr> {
        for record in &self.records {
            self.outbox.enqueue(&self.tx, record).await?;
        }
        self.tx.commit().await?;
        if !self.records.is_empty() {
            self.outbox.wake();
        }
        for revocation in &self.revocations {
            self.outbox.announce(revocation).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::principal::PrincipalKind;

    fn principal() -> Principal {
        Principal {
            mode: crate::principal::DataMode::Live,
            client_addr: String::new(),
            kind: PrincipalKind::Tenant(TenantId::generate()),
            credential_id: "key_1".to_owned(),
            scopes: vec![],
            request_id: "req-1".to_owned(),
            user: None,
        }
    }

    #[test]
    fn records_are_built_against_their_schema() {
        let record = AuditRecord::success(&principal(), None, "user.sign_in", "user:u1".into())
            .with_outcome("locked")
            .with_client_addr("192.0.2.4")
            .with_detail("method", "password");
        assert_eq!(record.schema_version, 1);
        assert_eq!(record.outcome, "locked");
        record.check_schema().unwrap();
        let event = record.clone().into_proto();
        assert_eq!(event.client_addr, "192.0.2.4");
        assert_eq!(event.details["method"], "password");
        assert_eq!(event.schema_version, 1);

        let secret = record.with_detail("password", "hunter2");
        assert!(secret.check_schema().is_err());
        let unknown = AuditRecord::success(&principal(), None, "user.teleported", "x".into());
        assert_eq!(unknown.schema_version, 0);
        assert!(unknown.check_schema().is_err());
    }

    #[test]
    fn rows_written_before_the_new_fields_still_read() {
        let old = r#"{"event_id":"0192f0c1-7e4a-7b1d-9c3e-000000000001","tenant_id":null,
            "actor":"admin_key:bootstrap","credential_id":"bootstrap","action":"tenant.created",
            "target":"tenant:t","occurred_at":"2025-01-02T03:04:05Z","request_id":"r",
            "outcome":"success"}"#;
        let record: AuditRecord = serde_json::from_str(old).unwrap();
        assert_eq!(record.client_addr, "");
        assert!(record.details.is_empty());
        // 0: the audit service applies the action's current version.
        assert_eq!(record.schema_version, 0);
    }

    /// A migrated SQLite outbox; the directory must outlive the connection.
    async fn outbox_on_sqlite() -> (DatabaseConnection, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::connect(&crate::db::sqlite_url(&dir.path().join("o.db")))
            .await
            .unwrap();
        let (table, index) = Outbox::create_table("test_outbox");
        db.execute(&table).await.unwrap();
        db.execute(&index).await.unwrap();
        (db, dir)
    }

    fn event() -> AuditRecord {
        AuditRecord::success(&principal(), None, "user.sign_in", "user:u1".into())
    }

    #[tokio::test]
    async fn a_change_records_its_events_only_when_committed() {
        let (db, _dir) = outbox_on_sqlite().await;
        let outbox = Outbox::new("test_outbox");
        let mut dropped = outbox.begin(&db).await.unwrap();
        dropped.audit(event());
        drop(dropped);
        assert_eq!(outbox.pending(&db).await.unwrap(), 0);

        let mut change = outbox.begin(&db).await.unwrap();
        change.audit(event());
        change.audit(event());
        change.commit().await.unwrap();
        assert_eq!(outbox.pending(&db).await.unwrap(), 2);
        outbox.record(&db, [event()]).await.unwrap();
        assert_eq!(outbox.pending(&db).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_change_that_fails_its_schema_commits_nothing() {
        let (db, _dir) = outbox_on_sqlite().await;
        let outbox = Outbox::new("test_outbox");
        let mut change = outbox.begin(&db).await.unwrap();
        change.audit(event());
        change.audit(event().with_detail("password", "hunter2"));
        assert!(change.commit().await.is_err());
        assert_eq!(outbox.pending(&db).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_committed_change_announces_its_revocations() {
        let (db, _dir) = outbox_on_sqlite().await;
        let bus = RevocationBus::in_process();
        let outbox = Outbox::new("test_outbox").announcing_on(bus.clone());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let shutdown = CancellationToken::new();
        let watcher = bus.watch(
            move |event| sink.lock().unwrap().push(event),
            shutdown.clone(),
        );

        let mut dropped = outbox.begin(&db).await.unwrap();
        dropped.announce(Revocation::Subject("usr_dropped".to_owned()));
        drop(dropped);
        let mut change = outbox.begin(&db).await.unwrap();
        change.audit(event());
        change.announce(Revocation::Subject("usr_1".to_owned()));
        change.commit().await.unwrap();

        let wanted = crate::revocation::BusEvent::Revoked(Revocation::Subject("usr_1".to_owned()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !seen.lock().unwrap().contains(&wanted) {
            assert!(tokio::time::Instant::now() < deadline, "never announced");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
        watcher.await.unwrap();
        let dropped =
            crate::revocation::BusEvent::Revoked(Revocation::Subject("usr_dropped".to_owned()));
        assert!(!seen.lock().unwrap().contains(&dropped));
    }
}
