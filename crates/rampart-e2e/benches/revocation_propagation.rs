//! How fast a revocation reaches a second gateway: the whole stack on
//! PostgreSQL + Redis with two gateways, for API keys and for sessions.
//! For each sample a fresh credential is issued (a key, or a session from a
//! sign-in) and cached by the second gateway, then revoked through the
//! first (the key deleted, or the session signed out), and the second is
//! polled until it refuses it. The figure is the time from sending the
//! revocation to the first refusal (the revocation's own database commit
//! included).
//!
//! Run: `cargo bench -p rampart-e2e --bench revocation_propagation`
//! (needs PostgreSQL and Redis as for the tests; `SAMPLES=500` for more).

use std::time::{Duration, Instant};

use rampart_e2e::harness::{Backend, TestStack, read};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::main]
async fn main() {
    let samples: usize = std::env::var("SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    // Generous limits: the bench measures revocation, not rate limiting
    // (every request comes from one address, and the second gateway is
    // polled every half millisecond).
    let config = rampart_gateway::Config {
        per_address: rampart_kit::rate_limit::Quota::per_minute(1_000_000),
        per_credential: rampart_kit::rate_limit::Quota::per_minute(1_000_000),
        ..rampart_gateway::Config::default()
    };
    let stack = TestStack::start_with(Backend::PostgresRedis, config.clone())
        .await
        .expect("PostgreSQL and Redis are needed for this bench");
    let second = stack.second_gateway(config).await;
    let tenant = stack.create_tenant("Propagation Bench").await;
    // And the tenant's own rate, which its keys carry.
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
    let mut keys = Vec::with_capacity(samples);
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
        let check = || {
            stack
                .client
                .get(&on_second)
                .header("X-API-Key", &key)
                .send()
        };
        let revoke = stack
            .as_admin(
                Method::DELETE,
                &format!("/v1/admin/tenants/{}/api-keys/{key_id}", tenant.id),
            )
            .send();
        keys.push(propagation(check, revoke).await);
    }
    report("API key", &mut keys);

    // Sessions: one agent, signed in afresh for each sample.
    let email = "agent@propagation.example";
    let password = "violet tractor measures quietly";
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/users", tenant.id),
        )
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let on_second = second.url("/v1/auth/me");
    let mut sessions = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (status, signed_in) = read(
            stack
                .request(Method::POST, "/v1/auth/sign-in")
                .json(&json!({ "tenant_id": tenant.id, "email": email, "password": password }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{signed_in}");
        let token = signed_in["session_token"].as_str().unwrap().to_owned();
        let check = || stack.client.get(&on_second).bearer_auth(&token).send();
        let revoke = stack
            .request(Method::POST, "/v1/auth/sign-out")
            .bearer_auth(&token)
            .json(&json!({}))
            .send();
        sessions.push(propagation(check, revoke).await);
    }
    report("session", &mut sessions);
    second.running.stop().await.unwrap();
    stack.stop().await;
}

/// Warms the second gateway's cache with `check`, sends `revoke`, and
/// polls `check` until it is refused; the time from sending to refusal.
async fn propagation<C, F>(
    check: C,
    revoke: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) -> Duration
where
    C: Fn() -> F,
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    assert_eq!(check().await.unwrap().status(), StatusCode::OK);
    let started = Instant::now();
    let poll = async {
        loop {
            let status = check().await.unwrap().status();
            if status == StatusCode::UNAUTHORIZED {
                return started.elapsed();
            }
            assert_eq!(status, StatusCode::OK);
            assert!(started.elapsed() < Duration::from_secs(5), "never refused");
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    };
    let (revoked, took) = tokio::join!(revoke, poll);
    assert!(revoked.unwrap().status().is_success());
    took
}

fn report(what: &str, latencies: &mut [Duration]) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what} revocation reaching a second gateway, {} samples: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
}
