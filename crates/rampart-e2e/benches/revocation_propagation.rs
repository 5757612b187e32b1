//! How fast a revocation reaches a second gateway: the whole stack on
//! PostgreSQL + Redis with two gateways; for each sample a fresh key is
//! issued and cached by the second gateway, then revoked through the first,
//! and the second is polled until it refuses the key. The figure is the
//! time from sending the revocation to the first refusal (the revocation's
//! own database commit included).
//!
//! Run: `cargo bench -p rampart-e2e --bench revocation_propagation`
//! (needs PostgreSQL and Redis as for the tests; `SAMPLES=500` for more).

#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::{Duration, Instant};

use harness::{Backend, TestStack, read};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::main]
async fn main() {
    let samples: usize = std::env::var("SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let stack = TestStack::start(Backend::PostgresRedis)
        .await
        .expect("PostgreSQL and Redis are needed for this bench");
    let second = stack
        .second_gateway(rampart_gateway::Config::default())
        .await;
    let tenant = stack.create_tenant("Propagation Bench").await;
    // Generous limits: the bench measures revocation, not rate limiting.
    let response = stack
        .as_admin(
            Method::PUT,
            &format!("/v1/admin/tenants/{}/rate-limit", tenant.id),
        )
        .json(&json!({ "requests_per_minute": 60_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let on_second = second.url("/v1/crm/customers");
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (status, issued) = read(
            stack
                .as_admin(
                    Method::POST,
                    &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
                )
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        let key = issued["api_key"].as_str().unwrap().to_owned();
        let key_id = issued["key_id"].as_str().unwrap().to_owned();
        let warm = stack
            .client
            .get(&on_second)
            .header("X-API-Key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(warm.status(), StatusCode::OK);

        let started = Instant::now();
        let revoke = stack
            .as_admin(
                Method::DELETE,
                &format!("/v1/admin/tenants/{}/api-keys/{key_id}", tenant.id),
            )
            .send();
        let poll = async {
            loop {
                let status = stack
                    .client
                    .get(&on_second)
                    .header("X-API-Key", &key)
                    .send()
                    .await
                    .unwrap()
                    .status();
                if status == StatusCode::UNAUTHORIZED {
                    return started.elapsed();
                }
                assert!(started.elapsed() < Duration::from_secs(5), "never refused");
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
        };
        let (revoked, took) = tokio::join!(revoke, poll);
        assert_eq!(revoked.unwrap().status(), StatusCode::OK);
        latencies.push(took);
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "revocation reaching a second gateway, {} samples: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
    second.running.stop().await.unwrap();
    stack.stop().await;
}
