//! What the load benches share: timed CRM reads and their percentiles.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use crate::harness::{Tenant, TestStack};

/// Reads per measurement, spread over [`READERS`] clients.
pub const READS: usize = 10_000;
pub const READERS: usize = 4;

/// The latency at `p` (0.0 to 1.0) of `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// `READS` reads of `path` as `tenant` by `READERS` clients, each answered
/// 200; their latencies, sorted.
pub async fn reads(stack: &TestStack, tenant: &Tenant, path: &str) -> Vec<Duration> {
    let mut tasks = Vec::new();
    for _ in 0..READERS {
        let request = stack.as_tenant(tenant, Method::GET, path);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(READS / READERS);
            for _ in 0..READS / READERS {
                let started = Instant::now();
                let response = request.try_clone().unwrap().send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(READS);
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    all
}

/// `READS` reads of `path` as `tenant`, started on a fixed schedule of
/// `per_second` whatever the answers' speed (an open load, as from many
/// independent clients), each answered 200; their latencies, sorted.
///
/// Each latency counts from when its read was due, not from when it was
/// sent: a stall delays every read scheduled behind it, as it would real
/// clients', instead of holding back the load that would have seen it (the
/// closed loop of [`reads`] under-reports such stalls).
pub async fn reads_at_rate(
    stack: &TestStack,
    tenant: &Tenant,
    path: &str,
    per_second: u32,
) -> Vec<Duration> {
    let request = stack.as_tenant(tenant, Method::GET, path);
    let interval = Duration::from_secs(1) / per_second;
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(READS);
    for due in (0..READS).map(|i| started + interval * i as u32) {
        tokio::time::sleep_until(due).await;
        // Tokio's timer wakes up to a millisecond after `due` (its
        // resolution): that much is the load generator's, not counted; any
        // lateness beyond it is a stall, and counts.
        let counted_from = due.max(tokio::time::Instant::now() - TIMER_RESOLUTION);
        let request = request.try_clone().unwrap();
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            counted_from.elapsed()
        }));
    }
    let mut all = Vec::with_capacity(READS);
    for task in tasks {
        all.push(task.await.unwrap());
    }
    all.sort_unstable();
    all
}

/// The open load's reads a second: `RAMPART_BENCH_READ_RATE`, default
/// 1,000.
pub fn read_rate() -> u32 {
    std::env::var("RAMPART_BENCH_READ_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|rate| *rate > 0)
        .unwrap_or(1_000)
}

/// How late tokio's timer may wake a sleeper (see [`reads_at_rate`]).
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Creates a customer for `tenant` and returns the path that reads it.
pub async fn customer_path(stack: &TestStack, tenant: &Tenant) -> String {
    let response = stack
        .as_tenant(tenant, Method::POST, "/v1/crm/customers")
        .json(&serde_json::json!({ "name": "Jane Doe" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let customer: serde_json::Value = response.json().await.unwrap();
    format!("/v1/crm/customers/{}", customer["id"].as_str().unwrap())
}

/// One line comparing quiet reads with reads under load.
pub fn compare(label: &str, quiet: &[Duration], loaded: &[Duration]) -> String {
    compare_load(&format!("{READERS} clients"), label, quiet, loaded)
}

/// [`compare`] for reads made under the load named by `load`.
pub fn compare_load(load: &str, label: &str, quiet: &[Duration], loaded: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (q50, q99) = (percentile(quiet, 0.50), percentile(quiet, 0.99));
    let (l50, l99) = (percentile(loaded, 0.50), percentile(loaded, 0.99));
    format!(
        "crm reads ({READS}, {load}): quiet p50 {:.2} ms p99 {:.2} ms; \
         {label} p50 {:.2} ms p99 {:.2} ms; p99 ratio {:.2}x (goal <= 2x)",
        ms(q50),
        ms(q99),
        ms(l50),
        ms(l99),
        l99.as_secs_f64() / q99.as_secs_f64(),
    )
}
