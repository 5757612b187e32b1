//! Test support: real backing services, a unique database per test.
//!
//! PostgreSQL and Redis are found at `RAMPART_TEST_POSTGRES_URL` and
//! `RAMPART_TEST_REDIS_URL` (default: the loopback ports with trust auth).
//! When one is missing a test that needs it is skipped with a message, except
//! under CI (`CI=true`), where a skipped backend would hide a broken run, so
//! the test fails instead.

use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};

/// The PostgreSQL server tests create their databases on.
#[must_use]
pub fn postgres_admin_url() -> String {
    std::env::var("RAMPART_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis tests use.
#[must_use]
pub fn redis_url() -> String {
    std::env::var("RAMPART_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Decides what a missing backend means: `None` (skip) on a developer's
/// machine, a panic under CI.
fn unavailable<T>(what: &str, error: &anyhow::Error) -> Option<T> {
    assert!(
        !in_ci(),
        "{what} is required under CI but unavailable: {error:#}"
    );
    eprintln!("skipping: {what} unavailable: {error:#}");
    None
}

/// A fresh, empty PostgreSQL database; `None` when PostgreSQL is unreachable
/// outside CI. Returns its URL.
pub async fn fresh_postgres_database() -> Option<String> {
    match create_postgres_database().await {
        Ok(url) => Some(url),
        Err(error) => unavailable("PostgreSQL", &error),
    }
}

async fn create_postgres_database() -> anyhow::Result<String> {
    let admin_url = postgres_admin_url();
    let admin = tokio::time::timeout(Duration::from_secs(5), Database::connect(&admin_url))
        .await
        .context("timed out connecting")??;
    drop_stale_databases(&admin).await;
    let now = chrono::Utc::now().timestamp();
    let name = format!("rampart_test_{now}_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// How old a test database must be before a later test run drops it. Tests
/// keep their database while they run (and a failed test's stays for a while
/// to look at); this keeps the server from filling up across runs.
const STALE_AFTER_SECS: i64 = 3600;

async fn drop_stale_databases(admin: &sea_orm::DatabaseConnection) {
    let Ok(rows) = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'rampart_test_%'",
        ))
        .await
    else {
        return;
    };
    let cutoff = chrono::Utc::now().timestamp() - STALE_AFTER_SECS;
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let created = name
            .strip_prefix("rampart_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        // Databases of the older naming scheme, without a timestamp, are stale.
        if created.is_none_or(|secs| secs < cutoff) {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// A Redis URL and a unique key prefix for one test; `None` when Redis is
/// unreachable outside CI.
pub async fn redis_namespace() -> Option<(String, String)> {
    let url = redis_url();
    let check = async {
        let client = redis::Client::open(url.as_str())?;
        let mut connection = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .context("timed out connecting")??;
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        anyhow::Ok(())
    };
    match check.await {
        Ok(()) => Some((
            url,
            format!("rampart-test-{}", uuid::Uuid::new_v4().simple()),
        )),
        Err(error) => unavailable("Redis", &error),
    }
}
