//! Test mode through the whole stack: a `rk_test_` key's conversation that
//! must go to a person opens a handoff in the tenant's test mode, which the
//! live queue (agents' sessions, live keys) never shows and cannot touch;
//! the same message from a live key lands in the live queue, which the
//! test key cannot see.

use rampart_e2e::on_both_backends;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::accounts::{post, session, tenant_with_owner};
use crate::harness::{TestStack, read};

on_both_backends!(test_and_live_handoffs_never_meet);

const EMERGENCY: &str = "I can smell gas in the kitchen, what should I do?";
const AGENT_PASSWORD: &str = "copper lantern hums at noon";

async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    read(request.send().await.unwrap()).await
}

/// Starts a conversation about a gas smell with the API key `key`, which
/// the gate hands to a person; answers the conversation's id and its
/// handoff's.
async fn emergency_conversation(stack: &TestStack, key: &str) -> (String, String) {
    let (status, started) = send(
        stack
            .request(Method::POST, "/v1/crm/conversations")
            .header("X-API-Key", key)
            .json(&json!({ "channel": "web", "text": EMERGENCY })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "handed_off", "{started}");
    let id = |field: &str| started[field].as_str().expect(field).to_owned();
    (id("id"), id("handoff_id"))
}

/// The open handoffs `request` (an authenticated GET of the queue) lists,
/// as (handoff id, conversation id).
async fn queue(request: RequestBuilder) -> Vec<(String, String)> {
    let (status, body) = send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["handoffs"]
        .as_array()
        .expect("a list of handoffs")
        .iter()
        .map(|handoff| {
            (
                handoff["id"].as_str().unwrap().to_owned(),
                handoff["conversation_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn test_and_live_handoffs_never_meet(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Modal Plumbing").await;
    let (status, agent) = post(
        stack,
        "/v1/users",
        Some(&owner),
        json!({ "email": "agent@modalplumbing.example", "password": AGENT_PASSWORD, "role": "agent" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let agent = session(
        stack,
        &tenant,
        "agent@modalplumbing.example",
        AGENT_PASSWORD,
    )
    .await;
    let (status, issued) = send(
        stack
            .as_admin(
                Method::POST,
                &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
            )
            .json(&json!({ "name": "integration tests", "environment": "test" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let test_key = issued["api_key"].as_str().unwrap().to_owned();
    assert!(test_key.starts_with("rk_test_"));
    let as_test_key =
        |method: Method, path: &str| stack.request(method, path).header("X-API-Key", &test_key);
    let as_agent = |method: Method, path: &str| stack.request(method, path).bearer_auth(&agent);

    // A test key's emergency: handed to a person in test mode.
    let (tested, test_handoff) = emergency_conversation(stack, &test_key).await;
    assert_eq!(
        queue(as_test_key(Method::GET, "/v1/handoffs")).await,
        [(test_handoff.clone(), tested.clone())]
    );

    // The live agent's queue, the owner's and the live key's do not show
    // it, and its id is as unknown as another tenant's.
    assert!(
        queue(as_agent(Method::GET, "/v1/handoffs"))
            .await
            .is_empty()
    );
    assert!(
        queue(
            stack
                .request(Method::GET, "/v1/handoffs")
                .bearer_auth(&owner)
        )
        .await
        .is_empty()
    );
    assert!(
        queue(stack.as_tenant(&tenant, Method::GET, "/v1/handoffs"))
            .await
            .is_empty()
    );
    let path = format!("/v1/handoffs/{test_handoff}");
    for request in [
        as_agent(Method::GET, &path),
        stack.as_tenant(&tenant, Method::GET, &path),
        as_agent(Method::POST, &format!("{path}/claim")),
        as_agent(Method::POST, &format!("{path}/resolve")),
    ] {
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    // Nothing changed: the test key still sees it open and unclaimed.
    let (status, still) = send(as_test_key(Method::GET, &path)).await;
    assert_eq!(status, StatusCode::OK, "{still}");
    assert_eq!(still["status"], "open", "{still}");
    assert!(still.get("assignee").is_none(), "{still}");

    // The same message from a live key: in the live queue, which the
    // agent works, and out of the test key's sight.
    let (lived, live_handoff) = emergency_conversation(stack, &tenant.key).await;
    assert_eq!(
        queue(as_agent(Method::GET, "/v1/handoffs")).await,
        [(live_handoff.clone(), lived)]
    );
    assert_eq!(
        queue(as_test_key(Method::GET, "/v1/handoffs")).await,
        [(test_handoff.clone(), tested.clone())]
    );
    let (status, body) = send(as_test_key(
        Method::GET,
        &format!("/v1/handoffs/{live_handoff}"),
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, claimed) = send(as_agent(
        Method::POST,
        &format!("/v1/handoffs/{live_handoff}/claim"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["status"], "claimed", "{claimed}");
}
