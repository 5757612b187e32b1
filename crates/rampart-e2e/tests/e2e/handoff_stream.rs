//! The handoff queue as server-sent events (`GET /v1/handoffs/stream`),
//! as the console reads it: the queue at once, a new handoff without a
//! reload, another tenant seeing nothing of it, and a revoked session cut
//! off within a tick.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use rampart_e2e::on_both_backends;

use crate::accounts::{post, session, tenant_with_owner};
use crate::harness::{Tenant, TestStack, read};

const SHOP: &str = "https://stream.example.com";
const AGENT_PASSWORD: &str = "quartz harbour lamp evening";

on_both_backends!(new_handoffs_stream_to_the_console);

/// An open event stream and the bytes read but not yet parsed.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(stack: &TestStack, bearer: &str) -> Self {
        let response = stack
            .request(Method::GET, "/v1/handoffs/stream")
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next named event (`name`, data as JSON), skipping comments;
    /// `None` when the stream ended or nothing came within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if let Some(name) = name {
                    return Some((name, serde_json::from_str(&data).unwrap()));
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `queue` event's handoffs.
    async fn queue(&mut self) -> Vec<Value> {
        let (name, data) = self
            .next(Duration::from_secs(20))
            .await
            .expect("a queue event");
        assert_eq!(name, "queue", "{data}");
        data["handoffs"].as_array().unwrap().clone()
    }
}

/// A tenant with its owner's session and a signed-in agent.
async fn business(stack: &TestStack, name: &str) -> (Tenant, String, String, String) {
    let (tenant, _, owner) = tenant_with_owner(stack, name).await;
    let email = format!("agent@{}.example", name.to_lowercase().replace(' ', ""));
    let (status, user) = post(
        stack,
        "/v1/users",
        Some(&owner),
        json!({ "email": email, "password": AGENT_PASSWORD, "role": "agent" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let agent = session(stack, &tenant, &email, AGENT_PASSWORD).await;
    let agent_id = user["user_id"].as_str().unwrap().to_owned();
    (tenant, owner, agent, agent_id)
}

async fn new_handoffs_stream_to_the_console(stack: &TestStack) {
    let (shop, owner, agent, agent_id) = business(stack, "Stream Shop").await;
    let (_, _, other_agent, _) = business(stack, "Calm Neighbour").await;

    // Nobody signed in, nothing streamed.
    let (status, _) = read(
        stack
            .request(Method::GET, "/v1/handoffs/stream")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut events = Events::open(stack, &agent).await;
    let mut neighbour = Events::open(stack, &other_agent).await;
    assert!(events.queue().await.is_empty());
    assert!(neighbour.queue().await.is_empty());

    // A visitor writes something a person must answer.
    let (status, key) = read(
        stack
            .as_admin(
                Method::POST,
                &format!("/v1/admin/tenants/{}/api-keys", shop.id),
            )
            .json(&json!({ "environment": "widget", "allowed_origins": [SHOP] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let (status, started) = read(
        stack
            .request(Method::POST, "/v1/widget/conversations")
            .header("X-Widget-Key", key["api_key"].as_str().unwrap())
            .header("Origin", SHOP)
            .json(&json!({ "text": "I will sue you" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "handed_off", "{started}");
    let conversation_id = started["conversation_id"].as_str().unwrap();

    // It appears in the agent's stream without a reload.
    let handoffs = events.queue().await;
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    assert_eq!(handoffs[0]["conversation_id"], conversation_id);
    assert_eq!(handoffs[0]["status"], "open");

    // The other tenant's stream says nothing: two ticks without an event.
    assert!(neighbour.next(Duration::from_secs(5)).await.is_none());

    // Revoking the agent's sessions cuts the stream off within a tick.
    let (status, body) = post(
        stack,
        &format!("/v1/users/{agent_id}/revoke-sessions"),
        Some(&owner),
        json!({}),
    )
    .await;
    assert!(status.is_success(), "{body}");
    let (name, end) = events
        .next(Duration::from_secs(10))
        .await
        .expect("an end event");
    assert_eq!(name, "end", "{end}");
    assert_eq!(end["reason"], "refused", "{end}");
    assert_eq!(end["status"], 401, "{end}");
    assert!(events.next(Duration::from_secs(3)).await.is_none());
}
