//! The support flow's routes refuse malformed input at the edge, before
//! any backend is asked: idempotency keys, policy versions, filters.

use http::StatusCode;
use rampart_kit::api_key::KeyKind;
use serde_json::json;

use crate::stubs::{TestGateway, request};

const CONVERSATION: &str = "cnv_0123456789abcdef0123456789abcdef";

/// A request: method, path, headers and an optional JSON body.
type Case<'a> = (
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Option<serde_json::Value>,
);

#[tokio::test]
async fn malformed_input_reaches_no_backend() {
    let gateway = TestGateway::start().await;
    let key = gateway.stub.key(KeyKind::Live, &["read", "write"]);
    let owner = format!("Bearer {}", gateway.stub.session("owner"));
    let long_key = "k".repeat(256);
    let messages = format!("/v1/crm/conversations/{CONVERSATION}/messages");
    let cases: Vec<Case<'_>> = vec![
        (
            "POST",
            messages.clone(),
            vec![("x-api-key", &key), ("idempotency-key", &long_key)],
            Some(json!({"text": "hi"})),
        ),
        (
            "POST",
            messages.clone(),
            vec![("x-api-key", &key), ("idempotency-key", "has space")],
            Some(json!({"text": "hi"})),
        ),
        (
            "POST",
            messages.clone(),
            vec![("x-api-key", &key)],
            Some(json!({"text": "hi", "author": "agent"})),
        ),
        (
            "POST",
            "/v1/crm/conversations".into(),
            vec![("x-api-key", &key)],
            Some(json!({"channel": "web", "status": "assigned"})),
        ),
        (
            "GET",
            "/v1/crm/conversations?colour=red".into(),
            vec![("x-api-key", &key)],
            None,
        ),
        (
            "GET",
            "/v1/crm/conversations?limit=0".into(),
            vec![("x-api-key", &key)],
            None,
        ),
        (
            "GET",
            "/v1/handoffs?min_severity=urgent".into(),
            vec![("x-api-key", &key)],
            None,
        ),
        (
            "GET",
            "/v1/handoffs?limit=101".into(),
            vec![("x-api-key", &key)],
            None,
        ),
        (
            "PUT",
            "/v1/escalation/policy".into(),
            vec![("authorization", &owner), ("if-match", "\"three\"")],
            Some(json!({"policy": {}})),
        ),
        (
            "PUT",
            "/v1/escalation/policy".into(),
            vec![("authorization", &owner)],
            Some(json!({"policy": ["not", "an", "object"]})),
        ),
        (
            "PUT",
            "/v1/escalation/policy".into(),
            vec![("authorization", &owner)],
            Some(json!({"document": {}})),
        ),
    ];
    for (method, path, headers, body) in cases {
        let before = gateway.stub.work_calls();
        let (status, answer) = gateway
            .send(request(method, &path, &headers, body.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {headers:?} {body:?}: {answer}"
        );
        assert_eq!(
            gateway.stub.work_calls(),
            before,
            "{method} {path} reached a backend"
        );
    }
}

#[tokio::test]
async fn a_policy_write_names_the_version_it_started_from() {
    let gateway = TestGateway::start().await;
    let owner = format!("Bearer {}", gateway.stub.session("owner"));
    for if_match in ["\"7\"", "W/\"7\"", "7"] {
        let before = gateway.stub.calls("put_policy");
        let (status, answer) = gateway
            .send(request(
                "PUT",
                "/v1/escalation/policy",
                &[("authorization", &owner), ("if-match", if_match)],
                Some(json!({"policy": {}})),
            ))
            .await;
        // The stub answers an empty version whose document is not JSON:
        // what matters here is that the call was made.
        assert_ne!(status, StatusCode::BAD_REQUEST, "{if_match}: {answer}");
        assert_eq!(gateway.stub.calls("put_policy"), before + 1, "{if_match}");
    }
}
