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

/// The measured reads: `tenant` reading `path` through a client of their
/// own, so that their connections are theirs alone. Sharing the stack's
/// client with a flood let a read that found every pooled connection busy
/// open a new one, its TLS handshake counted as read latency; under the
/// flood that fed on itself (each handshake slowed the reads, which opened
/// more connections), and showed as stalls of 80-380 ms, whose profile was
/// the handshakes' key exchanges and signatures.
pub struct Readers {
    client: reqwest::Client,
    url: String,
    key: String,
}

/// Connections the open load holds before it starts: more than it ever has
/// in flight when reads keep up, so that a read opens a connection only
/// after a stall of tens of milliseconds, as a client arriving new would.
const WARM_CONNECTIONS: usize = 64;

impl Readers {
    pub fn new(stack: &TestStack, tenant: &Tenant, path: &str) -> Self {
        Self {
            client: crate::harness::edge_client(&stack.stack.edge_ca, &[]),
            url: stack.url(path),
            key: tenant.key.clone(),
        }
    }

    fn read(&self) -> reqwest::RequestBuilder {
        self.client
            .request(Method::GET, &self.url)
            .header("X-API-Key", &self.key)
    }

    /// `READS` reads by `READERS` clients, each answered 200; their
    /// latencies, sorted.
    pub async fn closed(&self) -> Vec<Duration> {
        let mut tasks = Vec::new();
        for _ in 0..READERS {
            let request = self.read();
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

    /// `READS` reads started on a fixed schedule of `per_second` whatever
    /// the answers' speed (an open load, as from many independent clients,
    /// each with its connection already open), each answered 200; their
    /// latencies, sorted.
    ///
    /// Each latency counts from when its read was due, not from when it was
    /// sent: a stall delays every read scheduled behind it, as it would real
    /// clients', instead of holding back the load that would have seen it
    /// (the closed loop of [`Readers::closed`] under-reports such stalls).
    pub async fn open(&self, per_second: u32) -> Vec<Duration> {
        self.warm().await;
        let request = self.read();
        let interval = Duration::from_secs(1) / per_second;
        let started = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(READS);
        for due in (0..READS).map(|i| started + interval * i as u32) {
            tokio::time::sleep_until(due).await;
            // Tokio's timer wakes up to a millisecond after `due` (its
            // resolution): that much is the load generator's, not counted;
            // any lateness beyond it is a stall, and counts.
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

    /// Opens [`WARM_CONNECTIONS`] connections, all at once so none is
    /// reused, and leaves them in the client's pool. Done right before each
    /// open load, within the edge's idle timeout.
    async fn warm(&self) {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(WARM_CONNECTIONS));
        let mut tasks = Vec::with_capacity(WARM_CONNECTIONS);
        for _ in 0..WARM_CONNECTIONS {
            let request = self.read();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                // The connection stays this read's until its body is read:
                // hold it until every read has its own.
                barrier.wait().await;
                response.bytes().await.unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }
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

/// How late tokio's timer may wake a sleeper (see [`Readers::open`]).
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
