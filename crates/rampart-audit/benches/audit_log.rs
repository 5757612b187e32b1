//! The audit log's benchmarks, side by side in one run:
//!
//! 1. append throughput through the audit store (dedup, Merkle update, one
//!    transaction per batch of 200, the relay's batch) against plain
//!    batched INSERTs of the same rows into a table of the same shape and
//!    indexes as `audit_event` (no tree), in the same PostgreSQL;
//! 2. inclusion and consistency proof latency on a log of a million
//!    events (its tree written directly, then proofs read as the service
//!    reads them);
//! 3. verification speed of a million-event export (`export::verify`, what
//!    `rampart audit verify` runs).
//!
//! ```text
//! cargo bench -p rampart-audit --bench audit_log
//! ```
//!
//! PostgreSQL comes from `RAMPART_TEST_POSTGRES_URL` (a fresh database is
//! created). Sizes: `AUDIT_BENCH_APPEND` (default 20000),
//! `AUDIT_BENCH_LOG` (default 1000000). Figures go to stdout; copy them to
//! docs/benchmarks.md.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Write};
use std::time::{Duration, Instant};

use rampart_audit::checkpoint::SigningKey;
use rampart_audit::export::{FORMAT, Header, Line};
use rampart_audit::leaf::Event;
use rampart_audit::merkle::{Frontier, leaf_hash, verify_consistency, verify_inclusion};
use rampart_kit::ids::TenantId;
use rampart_proto::audit::v1::AuditEvent;
use sea_orm::sea_query::{ColumnDef, Index, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection};

const BATCH: usize = 200;

fn env_size(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn events(tenant: &TenantId, count: u64) -> Vec<AuditEvent> {
    (0..count)
        .map(|n| AuditEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.to_string(),
            actor: "api_key:key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
            credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
            action: "customer.created".to_owned(),
            target: format!("customer:cus_{:032x}", n),
            occurred_at: chrono::Utc::now().to_rfc3339(),
            request_id: uuid::Uuid::now_v7().to_string(),
            outcome: "success".to_owned(),
            client_addr: "192.0.2.10".to_owned(),
            ..AuditEvent::default()
        })
        .collect()
}

async fn create_plain_table(db: &DatabaseConnection) {
    let mut table = Table::create();
    table.table("bench_plain_event");
    for column in [
        "log_id",
        "event_id",
        "tenant_id",
        "actor",
        "credential_id",
        "action",
        "target",
        "occurred_at",
        "service",
        "request_id",
        "outcome",
        "client_addr",
        "details",
    ] {
        table.col(ColumnDef::new(column).text().not_null());
    }
    table
        .col(ColumnDef::new("sequence").big_integer().not_null())
        .col(ColumnDef::new("schema_version").integer().not_null())
        .col(
            ColumnDef::new("recorded_at")
                .timestamp_with_time_zone()
                .not_null(),
        )
        .primary_key(Index::create().col("log_id").col("sequence"));
    db.execute(&table.to_owned()).await.unwrap();
    // The same indexes as `audit_event`, so the difference is the Merkle
    // log's own work (dedup lookup, tree nodes, head), not the table's.
    db.execute(
        &Index::create()
            .name("bench_plain_event_event_id")
            .table("bench_plain_event")
            .col("event_id")
            .unique()
            .to_owned(),
    )
    .await
    .unwrap();
    db.execute(
        &Index::create()
            .name("bench_plain_event_action")
            .table("bench_plain_event")
            .col("log_id")
            .col("action")
            .col("sequence")
            .to_owned(),
    )
    .await
    .unwrap();
}

async fn plain_insert(db: &DatabaseConnection, batch: &[AuditEvent], first: i64) {
    let mut insert = Query::insert()
        .into_table("bench_plain_event")
        .columns([
            "log_id",
            "sequence",
            "event_id",
            "tenant_id",
            "actor",
            "credential_id",
            "action",
            "target",
            "occurred_at",
            "service",
            "request_id",
            "outcome",
            "client_addr",
            "details",
            "schema_version",
            "recorded_at",
        ])
        .to_owned();
    for (n, e) in batch.iter().enumerate() {
        insert.values_panic([
            e.tenant_id.clone().into(),
            (first + n as i64).into(),
            e.event_id.clone().into(),
            e.tenant_id.clone().into(),
            e.actor.clone().into(),
            e.credential_id.clone().into(),
            e.action.clone().into(),
            e.target.clone().into(),
            e.occurred_at.clone().into(),
            "crm".into(),
            e.request_id.clone().into(),
            e.outcome.clone().into(),
            e.client_addr.clone().into(),
            "{}".into(),
            1i32.into(),
            chrono::Utc::now().into(),
        ]);
    }
    db.execute(&insert).await.unwrap();
}

async fn append_vs_plain(db: &DatabaseConnection, count: u64) {
    create_plain_table(db).await;
    let tenant = TenantId::generate();
    let all = events(&tenant, count);
    // Alternate halves so that drift on a shared machine hits both sides.
    let appender = rampart_audit::bench::Appender::new(db);
    let (mut plain, mut audit) = (Duration::ZERO, Duration::ZERO);
    let half = all.len() / 2;
    for part in [&all[..half], &all[half..]] {
        let offset = if std::ptr::eq(part.as_ptr(), all.as_ptr()) {
            0
        } else {
            half as i64
        };
        let start = Instant::now();
        for (i, batch) in part.chunks(BATCH).enumerate() {
            plain_insert(db, batch, offset + (i * BATCH) as i64).await;
        }
        plain += start.elapsed();
        let start = Instant::now();
        for batch in part.chunks(BATCH) {
            let stored = appender.append(batch.to_vec()).await.unwrap();
            assert_eq!(stored as usize, batch.len());
        }
        audit += start.elapsed();
    }
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    println!("append, {count} events in batches of {BATCH}:");
    println!("  plain batched INSERT   {:>10.0} events/s", rate(plain));
    println!("  audit append (Merkle)  {:>10.0} events/s", rate(audit));
    println!(
        "  ratio audit/plain      {:>10.2}x",
        plain.as_secs_f64() / audit.as_secs_f64()
    );
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

async fn proofs(db: &DatabaseConnection, size: u64) {
    let log_id = TenantId::generate().to_string();
    let leaves = |n: u64| leaf_hash(&n.to_be_bytes());
    let start = Instant::now();
    let root = rampart_audit::bench::write_tree(db, &log_id, (0..size).map(leaves))
        .await
        .unwrap();
    println!(
        "proofs on a log of {size} events (tree written in {:.1} s):",
        start.elapsed().as_secs_f64()
    );
    let mut inclusion = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    for _ in 0..500 {
        let index = next(size);
        let start = Instant::now();
        let proof = rampart_audit::bench::inclusion_proof(db, &log_id, index, size)
            .await
            .unwrap();
        inclusion.push(start.elapsed());
        verify_inclusion(index, size, &leaves(index), &proof, &root).unwrap();
    }
    let mut consistency = Vec::new();
    for round in 0..200 {
        let old = next(size - 1) + 1;
        let start = Instant::now();
        let proof = rampart_audit::bench::consistency_proof(db, &log_id, old, size)
            .await
            .unwrap();
        consistency.push(start.elapsed());
        // Rebuilding an old root costs a pass over its leaves: check a few.
        if round < 3 {
            let mut f = Frontier::new();
            for n in 0..old {
                f.push(leaves(n), |_, _| {});
            }
            verify_consistency(old, size, &f.root(), &root, &proof).unwrap();
        }
    }
    for (name, samples) in [
        ("inclusion", &mut inclusion),
        ("consistency", &mut consistency),
    ] {
        println!(
            "  {name:<12} p50 {:>7.2} ms  p99 {:>7.2} ms  ({} proofs)",
            percentile(samples, 0.5).as_secs_f64() * 1e3,
            percentile(samples, 0.99).as_secs_f64() * 1e3,
            samples.len()
        );
    }
}

fn verification(size: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    let key = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
    let tenant = TenantId::generate();
    let log_id = tenant.to_string();
    let event = |n: u64| Event {
        event_id: uuid::Uuid::from_u64_pair(0x0192_f0c1_7e4a_7b1d, n).to_string(),
        tenant_id: log_id.clone(),
        actor: "api_key:key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        action: "customer.created".to_owned(),
        target: format!("customer:cus_{n:032x}"),
        occurred_at: "2025-06-01T12:00:00.123456Z".to_owned(),
        service: "crm".to_owned(),
        request_id: format!("req-{n}"),
        outcome: "success".to_owned(),
        client_addr: "192.0.2.10".to_owned(),
        details: BTreeMap::new(),
        schema_version: 1,
    };
    let mut frontier = Frontier::new();
    for n in 0..size {
        frontier.push(event(n).leaf_hash(&log_id), |_, _| {});
    }
    let checkpoint = key.sign(
        &log_id,
        size,
        &frontier.root(),
        "2025-06-01T12:00:00Z".to_owned(),
    );
    let header = Header {
        format: FORMAT.to_owned(),
        log_id: log_id.clone(),
        from: 0,
        to: size,
        checkpoint,
        public_key: key.public_key().hex(),
        left: vec![],
        right: vec![],
        consistency: None,
    };
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    serde_json::to_writer(&mut out, &header).unwrap();
    out.write_all(b"\n").unwrap();
    for n in 0..size {
        let e = event(n);
        let line = Line {
            index: n,
            leaf_hash: Some(rampart_audit::hex(&e.leaf_hash(&log_id))),
            event: e,
        };
        serde_json::to_writer(&mut out, &line).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let bytes = std::fs::metadata(&path).unwrap().len();
    let start = Instant::now();
    let report = rampart_audit::export::verify(
        BufReader::new(std::fs::File::open(&path).unwrap()),
        Some(&key.public_key()),
        None,
    );
    let took = start.elapsed();
    assert!(report.ok(), "{}", report.render());
    assert_eq!(report.valid_events, size);
    println!(
        "verify an export of {size} events ({:.0} MB): {:.1} s, {:.0} events/s",
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        size as f64 / took.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let append = env_size("AUDIT_BENCH_APPEND", 20_000);
    let log = env_size("AUDIT_BENCH_LOG", 1_000_000);
    let url = rampart_kit::testing::fresh_postgres_database()
        .await
        .expect("PostgreSQL for the benchmark");
    let db = rampart_kit::db::connect(&url).await.unwrap();
    rampart_audit::migrate(&db).await.unwrap();
    append_vs_plain(&db, append).await;
    proofs(&db, log).await;
    verification(log);
}
