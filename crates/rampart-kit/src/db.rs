//! Connecting to the database: SQLite for the embedded default, PostgreSQL in
//! production. The same entities and migrations serve both.
//!
//! Every service names its tables with its own prefix (`auth_`, `crm_`, ...)
//! and keeps its own migration history table, so services may share one
//! database or each have their own, as the operator prefers.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

/// The SQLite URL of a database file, created on first use.
#[must_use]
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// How long a pooled PostgreSQL connection may have sat unused before it is
/// pinged on its way out of the pool. sqlx pings on every checkout by
/// default, which costs each statement outside a transaction a round trip
/// to the server (and on SQLite, where sea-orm does the same, two hand-offs
/// to the connection's thread). A connection used a moment ago is as alive
/// as a ping would show; one idle longer may have been dropped by the
/// server, a proxy or a firewall, and a dead one is replaced before use.
/// HikariCP skips its alive check the same way, within 500 ms of last use.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens a connection pool to `url` (`sqlite://...` or `postgres://...`).
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let is_sqlite = url.starts_with("sqlite:");
    if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        bail!("database URL must start with sqlite:// or postgres://");
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    if is_sqlite {
        // WAL lets readers go on while one writer commits; a busy timeout
        // queues writers instead of failing them. No ping before a pooled
        // connection is handed out: the database is a file in this
        // process, with no server or network that could have dropped it.
        options
            .test_before_acquire(false)
            .max_connections(8)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
    } else {
        options
            .max_connections(20)
            .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR);
    }
    // Two pools opening the same new SQLite file at once can collide on the
    // switch to WAL ("database is locked") despite the busy timeout; that
    // resolves itself a moment later, so it is retried a few times.
    let mut attempt = 0;
    loop {
        match Database::connect(options.clone()).await {
            Ok(db) => return Ok(db),
            Err(error)
                if is_sqlite && attempt < 5 && error.to_string().contains("database is locked") =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("cannot connect to the database at {}", redact_url(url))
                });
            }
        }
    }
}

/// Closes `db` when its service stops: each connection says goodbye the
/// protocol's way, instead of being dropped (PostgreSQL logged a
/// "connection reset by peer" for every pooled connection of a stopped
/// service). Waits for connections in use to come back, at most
/// [`CLOSE_GRACE`].
pub async fn close(db: DatabaseConnection) {
    match tokio::time::timeout(CLOSE_GRACE, db.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the database pool did not close cleanly"),
        Err(_) => tracing::warn!("database connections still in use at shutdown were dropped"),
    }
}

/// How long [`close`] waits for connections in use.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A database URL with any password replaced, for messages.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    let user = credentials.split(':').next().unwrap_or_default();
    format!("{scheme}://{user}:***@{host}")
}

/// How long a SQLite writer waits for the write lock before failing.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Begins a transaction that will write. On SQLite it takes the write lock
/// at `BEGIN` (`BEGIN IMMEDIATE`), so a transaction that reads before it
/// writes waits its turn (busy timeout) instead of failing with "database is
/// locked" when another writer committed in between. PostgreSQL ignores the
/// mode.
pub async fn begin_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/rampart"),
            "postgres://app:***@db:5432/rampart"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[tokio::test]
    async fn refuses_unknown_schemes() {
        assert!(connect("mysql://localhost/x").await.is_err());
    }

    /// The resilience the ping is kept for: a pooled connection that the
    /// server ended while it sat idle is found dead and replaced before
    /// the next statement, which succeeds.
    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn a_postgres_connection_ended_while_idle_is_replaced_before_use() {
        use sea_orm::ConnectionTrait;
        let Some(database) = crate::testing::TestDatabase::postgres().await else {
            return;
        };
        let db = connect(&database.url).await.unwrap();
        db.execute_unprepared("SELECT 1").await.unwrap();
        tokio::time::sleep(PING_WHEN_IDLE_FOR + Duration::from_millis(200)).await;
        let other = Database::connect(&database.url).await.unwrap();
        let ended = other
            .execute_unprepared(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .await
            .unwrap();
        assert!(
            ended.rows_affected() >= 1,
            "the pool's connection was ended"
        );
        other.close().await.unwrap();
        db.execute_unprepared("SELECT 1").await.unwrap();
        close(db).await;
    }

    #[tokio::test]
    async fn opens_sqlite_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = connect(&sqlite_url(&dir.path().join("t.db")))
            .await
            .unwrap();
        db.ping().await.unwrap();
    }
}
