//! What operators and integrators read from the edge: the OpenAPI document,
//! `/.well-known/security.txt`, and metrics on the internal admin listener.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Backend, TestStack, expect_problem, read};

#[tokio::test]
async fn the_openapi_document_is_served_without_a_credential() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let response = stack
        .request(Method::GET, "/v1/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (_, document) = read(response).await;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{document}"
    );
    // Each documented path without parameters answers on the live edge with
    // something other than 404 or 405, so the document describes this
    // server.
    for (path, item) in document["paths"].as_object().unwrap() {
        if path.contains('{') {
            continue;
        }
        for (method, _) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let response = stack.request(method.clone(), path).send().await.unwrap();
            let status = response.status();
            let security_txt_absent =
                path == "/.well-known/security.txt" && status == StatusCode::NOT_FOUND;
            assert!(
                security_txt_absent
                    || (status != StatusCode::NOT_FOUND
                        && status != StatusCode::METHOD_NOT_ALLOWED),
                "{method} {path} answered {status}"
            );
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn security_txt_is_served_when_configured_and_404_otherwise() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let response = stack
        .request(Method::GET, "/.well-known/security.txt")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    stack.stop().await;

    let text = "Contact: mailto:security@example.com\nExpires: 2099-01-01T00:00:00Z\n";
    let config = rampart_gateway::Config {
        security_txt: Some(text.to_owned()),
        ..rampart_gateway::Config::default()
    };
    let stack = TestStack::start_with(Backend::Embedded, config)
        .await
        .unwrap();
    let response = stack
        .request(Method::GET, "/.well-known/security.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.text().await.unwrap(), text);
    stack.stop().await;
}

/// The value of the sample `name` (with its labels) in an OpenMetrics text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

async fn metrics_are_on_the_admin_listener_only(backend: Backend) {
    let Some(stack) = TestStack::start(backend).await else {
        return;
    };
    let tenant = stack.create_tenant("Measured").await;
    let response = stack
        .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
        .json(&json!({ "name": "Lee" }))
        .send()
        .await
        .unwrap();
    let (_, customer) = read(response).await;
    let id = customer["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let response = stack
            .as_tenant(&tenant, Method::GET, &format!("/v1/crm/customers/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = stack
        .request(Method::GET, "/wp-login.php")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // An unknown key twice (auth, then the negative cache), a mistyped one
    // once.
    let unknown =
        rampart_kit::api_key::PlaintextApiKey::generate(rampart_kit::api_key::KeyKind::Live);
    let mut mistyped = tenant.key.clone();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'a' { 'b' } else { 'a' });
    for key in [unknown.expose(), unknown.expose(), mistyped.as_str()] {
        let response = stack
            .request(Method::GET, "/v1/crm/customers")
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    let plain = reqwest::Client::new();
    let response = plain.get(stack.admin_url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = response.text().await.unwrap();
    let route = "route=\"/v1/crm/customers/{customer_id}\"";
    assert_eq!(
        sample(
            &text,
            &format!(
                "rampart_gateway_http_requests_total{{method=\"GET\",{route},status=\"200\"}}"
            )
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "rampart_gateway_http_request_duration_seconds_count{{method=\"GET\",{route},status=\"200\"}} 2"
        )),
        "{text}"
    );
    // Route templates only: the raw path (with its id) is never a label.
    assert!(!text.contains(&id), "{text}");
    assert!(!text.contains("wp-login"), "{text}");
    assert_eq!(sample(&text, "rampart_gateway_probe_hits_total"), Some(1.0));
    // Key verdicts, the cache, and rate-limit decisions.
    let count = |name: &str| sample(&text, name).unwrap_or(0.0);
    assert_eq!(
        count("rampart_gateway_key_verifications_total{outcome=\"unknown\"}"),
        2.0,
        "{text}"
    );
    assert_eq!(
        count("rampart_gateway_key_verifications_total{outcome=\"malformed\"}"),
        1.0,
        "{text}"
    );
    // The tenant's key: once from auth, twice from the cache; the unknown
    // key: once from auth, once from the negative cache.
    assert!(
        count("rampart_gateway_key_verifications_total{outcome=\"valid\"}") >= 3.0,
        "{text}"
    );
    assert!(
        count("rampart_gateway_key_cache_lookups_total{result=\"hit\"}") >= 3.0,
        "{text}"
    );
    assert!(
        count("rampart_gateway_key_cache_lookups_total{result=\"miss\"}") >= 2.0,
        "{text}"
    );
    assert!(
        count(
            "rampart_gateway_rate_limit_decisions_total{decision=\"allowed\",bucket=\"credential\"}"
        ) >= 3.0,
        "{text}"
    );
    assert!(
        count(
            "rampart_gateway_rate_limit_decisions_total{decision=\"allowed\",bucket=\"address\"}"
        ) >= 6.0,
        "{text}"
    );
    assert!(
        text.contains("rampart_gateway_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1"),
        "{text}"
    );

    // Health on the admin listener too.
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let (code, body): (StatusCode, Value) =
            read(plain.get(stack.admin_url(path)).send().await.unwrap()).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["status"], status);
    }
    // And the public port has no metrics.
    let response = stack.request(Method::GET, "/metrics").send().await.unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    stack.stop().await;
}

#[tokio::test]
async fn metrics_are_on_the_admin_listener_only_embedded() {
    metrics_are_on_the_admin_listener_only(Backend::Embedded).await;
}

#[tokio::test]
async fn metrics_are_on_the_admin_listener_only_postgres_redis() {
    metrics_are_on_the_admin_listener_only(Backend::PostgresRedis).await;
}
