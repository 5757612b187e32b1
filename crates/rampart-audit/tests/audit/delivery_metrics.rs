//! The audit delivery SLO's metrics, recorded by a producer's outbox relay
//! against this real audit service: each delivered event's lag, from its
//! change to audit's acknowledgement, and the age of the oldest event
//! still waiting, which grows while audit is down. On SQLite and on
//! PostgreSQL, for both the producer's outbox and audit's log.

use std::sync::Arc;
use std::time::Duration;

use rampart_audit::{Config, SigningKey};
use rampart_kit::CancellationToken;
use rampart_kit::metrics::KitMetrics;
use rampart_kit::on_both_databases;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{
    TestDatabase, TestPki, TestServer, UnavailableAudit, admin_principal, count_rows,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};

on_both_databases!(
    each_delivered_event_records_its_lag,
    the_oldest_waiting_event_ages_while_audit_is_down,
);

/// The producer's outbox table in these tests.
const OUTBOX: &str = "metrics_test_outbox";
const LAG_COUNT: &str = "rampart_audit_delivery_lag_seconds_count{outbox=\"metrics_test_outbox\"}";
const OLDEST: &str =
    "rampart_audit_outbox_oldest_pending_age_seconds{outbox=\"metrics_test_outbox\"}";

fn lag_bucket(le: &str) -> String {
    format!("rampart_audit_delivery_lag_seconds_bucket{{le=\"{le}\",outbox=\"{OUTBOX}\"}}")
}

/// A producer's database with a migrated outbox, on the same kind of
/// database as `like`.
async fn producer_database(like: &TestDatabase) -> (TestDatabase, DatabaseConnection) {
    let database = if like.url.starts_with("postgres") {
        TestDatabase::postgres()
            .await
            .expect("PostgreSQL answered a moment ago")
    } else {
        TestDatabase::sqlite()
    };
    let db = rampart_kit::db::connect(&database.url).await.unwrap();
    let (table, index) = Outbox::create_table(OUTBOX);
    db.execute(&table).await.unwrap();
    db.execute(&index).await.unwrap();
    (database, db)
}

async fn start_audit(database: &TestDatabase) -> (TestServer, DatabaseConnection) {
    let db = rampart_kit::db::connect(&database.url).await.unwrap();
    rampart_audit::migrate(&db).await.unwrap();
    let config = Config {
        database_url: database.url.clone(),
        signing_key: SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap(),
        checkpoint_interval: Duration::from_secs(3600),
    };
    let server = TestServer::start(ServiceName::Audit, |listener, tls, shutdown| {
        rampart_audit::run(config, listener, tls, shutdown)
    })
    .await;
    (server, db)
}

/// A platform event the crm may produce, as if its change happened
/// `ago` before now.
fn event_changed(ago: Duration) -> AuditRecord {
    let mut record = AuditRecord::success(
        &admin_principal(),
        None,
        "tenant.created",
        "tenant:t".into(),
    );
    record.occurred_at -= chrono::Duration::from_std(ago).unwrap();
    record
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn each_delivered_event_records_its_lag(database: TestDatabase) {
    let (audit, audit_db) = start_audit(&database).await;
    let (_producer, db) = producer_database(&database).await;
    let metrics = Arc::new(KitMetrics::new());
    let outbox = Outbox::new(OUTBOX).recording_to(metrics.clone());
    // Two changes just now and one 3 s ago (its event waited that long
    // before this relay started, as it would behind a stopped relay).
    outbox
        .record(
            &db,
            [
                event_changed(Duration::ZERO),
                event_changed(Duration::ZERO),
                event_changed(Duration::from_secs(3)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(metrics.sample(LAG_COUNT), None, "nothing delivered yet");

    let shutdown = CancellationToken::new();
    let tls = audit.pki().load_service(ServiceName::Crm).unwrap();
    let relay = outbox
        .spawn_relay(
            db.clone(),
            &format!("https://{}", audit.address),
            &tls,
            &shutdown,
        )
        .unwrap();
    wait_until("the three events delivered", async || {
        metrics.sample(LAG_COUNT) == Some(3.0)
    })
    .await;
    assert_eq!(outbox.pending(&db).await.unwrap(), 0);
    assert_eq!(count_rows(&audit_db, "audit_event").await, 3);
    // The two fresh ones within the 5 s objective and well under the 3 s
    // one; the old one between 2.5 s and 10 s (lag counts from the change,
    // not from when the relay picked it up).
    assert_eq!(metrics.sample(&lag_bucket("2.5")), Some(2.0));
    assert_eq!(metrics.sample(&lag_bucket("10.0")), Some(3.0));
    let sum = metrics
        .sample(&format!(
            "rampart_audit_delivery_lag_seconds_sum{{outbox=\"{OUTBOX}\"}}"
        ))
        .unwrap();
    assert!((3.0..10.0).contains(&sum), "{sum}");
    // Nothing waits now.
    assert_eq!(metrics.sample(OLDEST), Some(0.0));

    // A later change is delivered (and measured) too.
    outbox
        .record(&db, [event_changed(Duration::ZERO)])
        .await
        .unwrap();
    wait_until("the fourth event delivered", async || {
        metrics.sample(LAG_COUNT) == Some(4.0)
    })
    .await;
    relay.stop().await;
}

async fn the_oldest_waiting_event_ages_while_audit_is_down(database: TestDatabase) {
    let (_producer, db) = producer_database(&database).await;
    let metrics = Arc::new(KitMetrics::new());
    let outbox = Outbox::new(OUTBOX).recording_to(metrics.clone());
    outbox
        .record(&db, [event_changed(Duration::ZERO)])
        .await
        .unwrap();

    // Audit is down: every delivery fails.
    let down = UnavailableAudit::start().await;
    let pki = TestPki::generate();
    let tls = pki.load_service(ServiceName::Crm).unwrap();
    let shutdown = CancellationToken::new();
    let relay = outbox
        .spawn_relay(db.clone(), &down.url(), &tls, &shutdown)
        .unwrap();
    down.wait_for_attempts(1, Duration::from_secs(10)).await;
    wait_until("a failed pass counted", async || {
        metrics
            .sample(&format!(
                "rampart_audit_delivery_failures_total{{outbox=\"{OUTBOX}\"}}"
            ))
            .is_some_and(|n| n >= 1.0)
    })
    .await;
    let first = metrics
        .sample(OLDEST)
        .expect("the age is recorded while audit is down");
    // The retries (backoff 100 ms, 200 ms, ...) keep measuring it, older.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    wait_until("the age grown by a second", async || {
        metrics.sample(OLDEST).is_some_and(|age| age >= first + 1.0)
    })
    .await;
    assert_eq!(metrics.sample(LAG_COUNT), None, "nothing was delivered");
    assert_eq!(outbox.pending(&db).await.unwrap(), 1);
    relay.stop().await;
    drop(down);

    // Audit is back: the event is delivered with the lag it waited, and
    // nothing is waiting any more.
    let (audit, audit_db) = start_audit(&database).await;
    let tls = audit.pki().load_service(ServiceName::Crm).unwrap();
    let waited = metrics.sample(OLDEST).unwrap();
    let relay = outbox
        .spawn_relay(
            db.clone(),
            &format!("https://{}", audit.address),
            &tls,
            &shutdown,
        )
        .unwrap();
    wait_until("the waiting event delivered", async || {
        metrics.sample(LAG_COUNT) == Some(1.0)
    })
    .await;
    let lag = metrics
        .sample(&format!(
            "rampart_audit_delivery_lag_seconds_sum{{outbox=\"{OUTBOX}\"}}"
        ))
        .unwrap();
    assert!(lag >= waited, "lag {lag} s, but it waited {waited} s");
    assert_eq!(metrics.sample(OLDEST), Some(0.0));
    assert_eq!(count_rows(&audit_db, "audit_event").await, 1);
    relay.stop().await;
}
