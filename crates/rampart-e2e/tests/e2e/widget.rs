//! The website widget's public key and CORS, from a browser's side: only
//! starting conversations, only from the key's origins, and CORS headers for
//! those origins and nowhere else.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Backend, Tenant, TestStack, expect_problem, read};

const SHOP: &str = "https://shop.example.com";

#[tokio::test]
async fn widget_on_the_embedded_default() {
    let stack = TestStack::start(Backend::Embedded)
        .await
        .expect("embedded always runs");
    widget(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn widget_on_postgres_and_redis() {
    let Some(stack) = TestStack::start(Backend::PostgresRedis).await else {
        return;
    };
    widget(&stack).await;
    stack.stop().await;
}

async fn issue_widget_key(
    stack: &TestStack,
    tenant: &Tenant,
    body: serde_json::Value,
) -> reqwest::Response {
    stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn start(stack: &TestStack, key: &str, origin: Option<&str>) -> reqwest::RequestBuilder {
    let mut request = stack
        .request(Method::POST, "/v1/widget/conversations")
        .header("X-Widget-Key", key)
        .json(&json!({ "text": "Hi, is the shop open on Sunday?" }));
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    request
}

async fn widget(stack: &TestStack) {
    let tenant = stack.create_tenant("Widget Shop").await;
    // A widget key needs its origins, and has no other scopes.
    let response = issue_widget_key(stack, &tenant, json!({ "environment": "widget" })).await;
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    let response = issue_widget_key(
        stack,
        &tenant,
        json!({ "environment": "widget", "allowed_origins": [SHOP], "scopes": ["write"] }),
    )
    .await;
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    let response = issue_widget_key(stack, &tenant, json!({ "allowed_origins": [SHOP] })).await;
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    let response = issue_widget_key(
        stack,
        &tenant,
        json!({ "environment": "widget", "allowed_origins": [SHOP, "https://Shop.Example.com:8443"] }),
    )
    .await;
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = body["api_key"].as_str().unwrap().to_owned();
    let key_id = body["key_id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("rk_pub_"), "{body}");
    assert_eq!(body["key"]["scopes"], json!(["widget"]), "{body}");
    assert_eq!(
        body["key"]["allowed_origins"],
        json!([SHOP, "https://shop.example.com:8443"]),
        "{body}"
    );

    // The browser's preflight: answered for the key's origin only.
    let preflight = |origin: &str, headers: &str| {
        stack
            .request(Method::OPTIONS, "/v1/widget/conversations")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", headers)
    };
    let response = preflight(SHOP, "content-type, x-widget-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["access-control-allow-origin"], SHOP);
    // GET too: the visitor reads replies (`.../messages`).
    assert_eq!(
        response.headers()["access-control-allow-methods"],
        "GET, POST"
    );
    for (origin, headers) in [
        ("https://evil.example.com", "content-type, x-widget-key"),
        (SHOP, "content-type, x-api-key"),
    ] {
        let response = preflight(origin, headers).send().await.unwrap();
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin"),
            "{origin} {headers}"
        );
        expect_problem(response, StatusCode::FORBIDDEN).await;
    }

    // Starting a conversation from the shop's page.
    let response = start(stack, &key, Some(SHOP)).send().await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], SHOP);
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body["conversation_id"]
            .as_str()
            .unwrap()
            .starts_with("cnv_"),
        "{body}"
    );

    // From another origin, or with none (a script, not a browser): refused.
    for origin in [Some("https://evil.example.com"), None] {
        let response = start(stack, &key, origin).send().await.unwrap();
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin")
        );
        expect_problem(response, StatusCode::FORBIDDEN).await;
    }
    // The public key opens nothing else; a secret key is no widget key.
    let response = stack
        .request(Method::GET, "/v1/crm/customers")
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN).await;
    let response = start(stack, &tenant.key, Some(SHOP)).send().await.unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;

    // Other routes never answer CORS.
    let response = stack
        .as_tenant(&tenant, Method::GET, "/v1/crm/customers")
        .header("Origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let response = stack
        .request(Method::OPTIONS, "/v1/crm/customers")
        .header("Origin", SHOP)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert!(response.status().is_client_error());

    // Revoked: refused at once.
    let response = stack
        .as_admin(
            Method::DELETE,
            &format!("/v1/admin/tenants/{}/api-keys/{key_id}", tenant.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = start(stack, &key, Some(SHOP)).send().await.unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
}
