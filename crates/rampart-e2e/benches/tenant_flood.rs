//! One tenant's flood against another tenant's latency, measured through
//! the real stack (in this process, over HTTPS), in one run:
//!
//! 1. tenant B's authenticated CRM reads alone;
//! 2. the same reads while tenant A floods the same route from
//!    [`FLOODERS`] clients, far past its rate limit (A's tenant override,
//!    [`FLOOD_TENANT_RATE`] a minute), so nearly all of A's requests are
//!    answered 429 at the edge;
//!
//! and the ratio of B's p99 latencies (goal: within 2x, the design's
//! target for traffic under someone else's flood), under the two read
//! loads of `auth_load`: closed ([`rampart_e2e::reads::READERS`] clients reading back
//! to back) and open (reads started on a schedule,
//! `RAMPART_BENCH_READ_RATE` a second, default 1,000, each timed from when
//! it was due).
//!
//! `cargo bench -p rampart-e2e --bench tenant_flood` (release build; a few
//! seconds of load) runs on the embedded default;
//! `RAMPART_BENCH_BACKEND=postgres-redis` runs it on PostgreSQL + Redis, where
//! every rate-limit decision is a Redis call. Every client here has one
//! address, so the per-address limit is set out of reach: a real flood
//! comes from its own addresses, which their own buckets would slow first.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rampart_e2e::harness::{Backend, TestStack};
use rampart_e2e::reads::{Readers, compare, compare_load, customer_path};
use reqwest::{Method, StatusCode};
use serde_json::json;

const FLOODERS: usize = 32;
/// Tenant A's own limit, requests per minute per key.
const FLOOD_TENANT_RATE: u32 = 600;

#[tokio::main]
async fn main() {
    let backend = match std::env::var("RAMPART_BENCH_BACKEND").as_deref() {
        Ok("postgres-redis") => Backend::PostgresRedis,
        Ok("embedded") | Err(_) => Backend::Embedded,
        Ok(other) => panic!("RAMPART_BENCH_BACKEND is embedded or postgres-redis, not {other:?}"),
    };
    let read_rate = rampart_e2e::reads::read_rate();
    let gateway = rampart_gateway::Config {
        per_address: rampart_kit::rate_limit::Quota::per_minute(10_000_000),
        per_credential: rampart_kit::rate_limit::Quota::per_minute(10_000_000),
        ..rampart_gateway::Config::default()
    };
    let stack = TestStack::start_with(backend, gateway)
        .await
        .expect("the stack's storage is reachable");
    let flooder = stack.create_tenant("Flooding Fixtures").await;
    // Set before A's key is first verified, so its cached verdict carries it.
    let response = stack
        .as_admin(
            Method::PUT,
            &format!("/v1/admin/tenants/{}/rate-limit", flooder.id),
        )
        .json(&json!({ "requests_per_minute": FLOOD_TENANT_RATE }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let quiet_tenant = stack.create_tenant("Quiet Quilts").await;
    let path = customer_path(&stack, &quiet_tenant).await;

    let readers = Readers::new(&stack, &quiet_tenant, &path);
    readers.closed().await; // warm up
    let quiet = readers.closed().await;
    let quiet_open = readers.open(read_rate).await;

    let stop = tokio_util::sync::CancellationToken::new();
    let refused = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for _ in 0..FLOODERS {
        let stop = stop.clone();
        let (refused, served) = (refused.clone(), served.clone());
        let request = stack.as_tenant(&flooder, Method::GET, "/v1/crm/customers");
        flood.push(tokio::spawn(async move {
            while !stop.is_cancelled() {
                let response = request.try_clone().unwrap().send().await.unwrap();
                match response.status() {
                    StatusCode::OK => served.fetch_add(1, Ordering::Relaxed),
                    StatusCode::TOO_MANY_REQUESTS => refused.fetch_add(1, Ordering::Relaxed),
                    other => panic!("the flood got {other}"),
                };
                // Read the answer through, as a client reusing its
                // connection must.
                let _ = response.bytes().await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flood_started = Instant::now();
    let before = (
        refused.load(Ordering::Relaxed),
        served.load(Ordering::Relaxed),
    );
    let loaded = readers.closed().await;
    let loaded_open = readers.open(read_rate).await;
    let seconds = flood_started.elapsed().as_secs_f64();
    let refused_rate = (refused.load(Ordering::Relaxed) - before.0) as f64 / seconds;
    let served_rate = (served.load(Ordering::Relaxed) - before.1) as f64 / seconds;
    stop.cancel();
    for task in flood {
        task.await.unwrap();
    }

    println!(
        "tenant flood ({backend:?}): tenant A, {FLOODERS} clients over a limit of \
         {FLOOD_TENANT_RATE}/min: {refused_rate:.0} refused (429) and {served_rate:.1} served per second"
    );
    println!(
        "{}",
        compare("tenant B under tenant A's flood", &quiet, &loaded)
    );
    println!(
        "{}",
        compare_load(
            &format!("open load, {read_rate}/s"),
            "tenant B under tenant A's flood",
            &quiet_open,
            &loaded_open
        )
    );
    stack.stop().await;
}
