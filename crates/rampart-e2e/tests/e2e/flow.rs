//! The flow every later feature builds on, on both storage backends.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Backend, Tenant, TestStack, expect_problem, read};

#[tokio::test]
async fn walking_skeleton_on_the_embedded_default() {
    let stack = TestStack::start(Backend::Embedded)
        .await
        .expect("embedded always runs");
    walk(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn walking_skeleton_on_postgres_and_redis() {
    let Some(stack) = TestStack::start(Backend::PostgresRedis).await else {
        return;
    };
    walk(&stack).await;
    stack.stop().await;
}

async fn walk(stack: &TestStack) {
    let a = stack.create_tenant("Acme Plumbing").await;
    let b = stack.create_tenant("Bright Clinic").await;
    assert_ne!(a.id, b.id);

    // The admin sees both tenants.
    let (status, list) = read(
        stack
            .as_admin(Method::GET, "/v1/admin/tenants")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&a.id.as_str()) && ids.contains(&b.id.as_str()),
        "{list}"
    );

    // Tenant A creates and reads a customer.
    let response = stack
        .as_tenant(&a, Method::POST, "/v1/crm/customers")
        .json(
            &json!({ "name": "Jane Doe", "phone": "+1 555 010 0200", "email": "jane@example.com" }),
        )
        .send()
        .await
        .unwrap();
    let (status, customer) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/crm/customers/{customer_id}");
    let (status, fetched) = read(
        stack
            .as_tenant(&a, Method::GET, &path)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["name"], "Jane Doe");

    // Tenant B cannot see it, and is told nothing about whether it exists.
    let response = stack
        .as_tenant(&b, Method::GET, &path)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    let (_, b_list) = read(
        stack
            .as_tenant(&b, Method::GET, "/v1/crm/customers")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(b_list["customers"].as_array().unwrap().len(), 0, "{b_list}");

    // Bad credentials, each a problem response.
    let no_key = stack.request(Method::GET, &path).send().await.unwrap();
    expect_problem(no_key, StatusCode::UNAUTHORIZED).await;
    let unknown =
        rampart_kit::api_key::PlaintextApiKey::generate(rampart_kit::api_key::KeyKind::Live);
    let wrong_key = stack
        .request(Method::GET, &path)
        .header("X-API-Key", unknown.expose())
        .send()
        .await
        .unwrap();
    expect_problem(wrong_key, StatusCode::UNAUTHORIZED).await;
    let wrong_shape = stack
        .request(Method::GET, &path)
        .header("X-API-Key", "sk_live_12345")
        .send()
        .await
        .unwrap();
    let body = expect_problem(wrong_shape, StatusCode::UNAUTHORIZED).await;
    assert!(
        body["detail"].as_str().unwrap().contains("malformed"),
        "{body}"
    );
    let mismatched = stack
        .as_tenant(&a, Method::GET, &path)
        .header("X-Business-ID", &b.id)
        .send()
        .await
        .unwrap();
    expect_problem(mismatched, StatusCode::FORBIDDEN).await;
    let matching = stack
        .as_tenant(&a, Method::GET, &path)
        .header("X-Business-ID", &a.id)
        .send()
        .await
        .unwrap();
    assert_eq!(matching.status(), StatusCode::OK);
    // A tenant key is no admin key, and an admin key is no tenant key.
    let tenant_as_admin = stack
        .request(Method::GET, "/v1/admin/tenants")
        .header("X-Admin-API-Key", &a.key)
        .send()
        .await
        .unwrap();
    expect_problem(tenant_as_admin, StatusCode::UNAUTHORIZED).await;
    let admin_as_tenant = stack
        .request(Method::GET, "/v1/crm/customers")
        .header("X-API-Key", &stack.admin_key)
        .send()
        .await
        .unwrap();
    expect_problem(admin_as_tenant, StatusCode::FORBIDDEN).await;

    // Escalation.
    let decision = evaluate(stack, &a, "I will sue you").await;
    assert_eq!(decision["action"], "handoff", "{decision}");
    assert!(
        decision["intents"]
            .as_array()
            .unwrap()
            .contains(&json!("legal")),
        "{decision}"
    );
    let decision = evaluate(stack, &a, "what time do you open").await;
    assert_eq!(decision["action"], "ai_answer", "{decision}");
    assert_eq!(decision["intents"], json!([]), "{decision}");

    // Audit: A's log holds its own events, delivered through the outbox,
    // and nothing of B's.
    let a_events = wait_for_actions(
        stack,
        &a,
        &["tenant.created", "api_key.issued", "customer.created"],
    )
    .await;
    let b_events = wait_for_actions(stack, &b, &["tenant.created", "api_key.issued"]).await;
    let targets = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["target"].as_str().unwrap().to_owned())
            .collect()
    };
    let a_targets = targets(&a_events);
    assert!(
        a_targets.contains(&format!("customer:{customer_id}")),
        "{a_targets:?}"
    );
    assert!(
        a_targets.contains(&format!("tenant:{}", a.id)),
        "{a_targets:?}"
    );
    assert!(
        !a_targets.iter().any(|t| t.contains(&b.id)),
        "{a_targets:?}"
    );
    let b_targets = targets(&b_events);
    assert!(
        !b_targets
            .iter()
            .any(|t| t.contains(&a.id) || t.contains(&customer_id)),
        "{b_targets:?}"
    );
    for event in &a_events {
        assert!(
            event["occurred_at"].as_str().unwrap().ends_with('Z'),
            "{event}"
        );
        assert!(!event["actor"].as_str().unwrap().is_empty(), "{event}");
    }
}

async fn evaluate(stack: &TestStack, tenant: &Tenant, text: &str) -> Value {
    let response = stack
        .as_tenant(tenant, Method::POST, "/v1/escalation/evaluate")
        .json(&json!({ "channel": "web", "text": text }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls the tenant's audit log until it holds every action named; the
/// outbox relay delivers asynchronously.
async fn wait_for_actions(stack: &TestStack, tenant: &Tenant, actions: &[&str]) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = read(
            stack
                .as_tenant(tenant, Method::GET, "/v1/owner/audit")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let events = body["events"].as_array().unwrap().clone();
        let present: Vec<&str> = events
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        if actions.iter().all(|a| present.contains(a)) {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "audit events {actions:?} not all delivered; log has {present:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
