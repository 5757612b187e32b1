//! Posting a customer message against creating a customer, through the real
//! stack (in this process, over HTTPS), in one run.
//!
//! A customer message costs more than a customer: the CRM stores it, asks
//! escalation's gate (a decision under the tenant's policy, stored as a
//! receipt), then stores the receipt; a customer is one insert and its audit
//! record. The goal (docs/benchmarks.md): messages at least half the rate of
//! customers. Rounds alternate (customers, messages, customers, ...) so a
//! noisy machine moves both alike; the ratio is taken per pair of rounds.
//!
//! `cargo bench -p rampart-e2e --bench support_flow` (release build; about
//! 40 s). `RAMPART_BENCH_BACKEND=postgres` runs it on PostgreSQL and Redis
//! (127.0.0.1) instead of the embedded default.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rampart_e2e::harness::{Backend, TestStack};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Clients posting at once.
const CLIENTS: usize = 16;
/// Conversations the messages are spread over.
const CONVERSATIONS: usize = 64;
const ROUND: Duration = Duration::from_secs(4);
const ROUNDS: usize = 3;

/// Routine questions of about the size customers write: the AI may answer
/// them, so the conversations stay with the AI and every post is decided.
const MESSAGES: [&str; 4] = [
    "Hi, what time do you open on Saturday? I'd like to bring my bike in for a service before the weekend trip.",
    "Do you have any appointments free next Tuesday afternoon for a boiler check? The house is in the north end.",
    "Can you tell me roughly how long a standard tyre change takes, and whether I need to book ahead or can walk in?",
    "Thanks for the help last week. Is there parking near the shop, or should I take the bus when I come to collect it?",
];

#[tokio::main]
async fn main() {
    let backend = match std::env::var("RAMPART_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::PostgresRedis,
        _ => Backend::Embedded,
    };
    let gateway = rampart_gateway::Config {
        // One address and one key send everything: this measures the work,
        // not the edge's rate limits.
        per_address: rampart_kit::rate_limit::Quota::per_minute(10_000_000),
        per_credential: rampart_kit::rate_limit::Quota::per_minute(10_000_000),
        ..rampart_gateway::Config::default()
    };
    let stack = TestStack::start_with(backend, gateway)
        .await
        .expect("the stack starts (PostgreSQL and Redis on 127.0.0.1 for the postgres backend)");
    let tenant = stack.create_tenant("Bench Support").await;
    let mut conversations = Vec::with_capacity(CONVERSATIONS);
    for _ in 0..CONVERSATIONS {
        let response = stack
            .as_tenant(&tenant, Method::POST, "/v1/crm/conversations")
            .json(&json!({ "channel": "web" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: serde_json::Value = response.json().await.unwrap();
        conversations.push(body["id"].as_str().unwrap().to_owned());
    }
    let conversations = Arc::new(conversations);

    let round = async |messages: bool| -> f64 {
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let done = done.clone();
            let conversations = conversations.clone();
            let stack_client = stack.client.clone();
            let base = stack.base.clone();
            let key = tenant.key.clone();
            clients.push(tokio::spawn(async move {
                let mut n = client;
                while started.elapsed() < ROUND {
                    let request = if messages {
                        let conversation = &conversations[n % conversations.len()];
                        stack_client
                            .post(format!("{base}/v1/crm/conversations/{conversation}/messages"))
                            .json(&json!({ "text": MESSAGES[n % MESSAGES.len()] }))
                    } else {
                        stack_client
                            .post(format!("{base}/v1/crm/customers"))
                            .json(&json!({ "name": format!("Customer {n}"), "email": format!("c{n}@bench.example") }))
                    };
                    let response = request.header("X-API-Key", &key).send().await.unwrap();
                    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.text().await);
                    done.fetch_add(1, Ordering::Relaxed);
                    n += CLIENTS;
                }
            }));
        }
        for client in clients {
            client.await.unwrap();
        }
        done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    };

    // Warm up both paths (connections, caches, the tenant's detector).
    round(false).await;
    round(true).await;
    let mut ratios = Vec::new();
    for n in 0..ROUNDS {
        let customers = round(false).await;
        let messages = round(true).await;
        let ratio = messages / customers;
        println!(
            "round {}: create customer {customers:.0}/s, post customer message {messages:.0}/s, ratio {ratio:.2}",
            n + 1
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "post customer message / create customer: median {:.2} (goal at least 0.5), {CLIENTS} clients, {:?}",
        ratios[ratios.len() / 2],
        backend_name(&backend),
    );
    stack.stop().await;
}

fn backend_name(backend: &Backend) -> &'static str {
    match backend {
        Backend::Embedded => "embedded (SQLite)",
        Backend::PostgresRedis => "PostgreSQL + Redis",
    }
}
