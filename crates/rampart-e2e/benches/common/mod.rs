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
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (q50, q99) = (percentile(quiet, 0.50), percentile(quiet, 0.99));
    let (l50, l99) = (percentile(loaded, 0.50), percentile(loaded, 0.99));
    format!(
        "crm reads ({READS}, {READERS} clients): quiet p50 {:.2} ms p99 {:.2} ms; \
         {label} p50 {:.2} ms p99 {:.2} ms; p99 ratio {:.2}x (goal <= 2x)",
        ms(q50),
        ms(q99),
        ms(l50),
        ms(l99),
        l99.as_secs_f64() / q99.as_secs_f64(),
    )
}
