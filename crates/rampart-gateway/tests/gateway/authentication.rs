//! The order of the authentication steps, seen from outside: what is
//! refused before any backend is asked, what is asked only once, and what
//! happens when auth cannot answer.

use std::net::SocketAddr;

use http::StatusCode;
use rampart_gateway::Config;
use rampart_kit::api_key::KeyKind;
use rampart_kit::rate_limit::Quota;

use crate::stubs::{Setup, TENANT, TestGateway, request};

const CUSTOMERS: &str = "/v1/crm/customers";

#[tokio::test]
async fn a_malformed_key_is_refused_without_any_backend_call() {
    let gateway = TestGateway::start().await;
    let valid = gateway.stub.key(KeyKind::Live, &["read"]);
    // The same key with its checksum broken.
    let mut broken = valid.clone();
    let last = broken.pop().unwrap();
    broken.push(if last == 'a' { 'b' } else { 'a' });
    for key in ["rk_live_short", "not a key at all", broken.as_str()] {
        let (status, body) = gateway
            .send(request("GET", CUSTOMERS, &[("x-api-key", key)], None))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key}: {body}");
        assert_eq!(body["detail"], "malformed API key", "{key}");
    }
    // A bearer token of the wrong shape is refused the same way.
    let (status, _) = gateway
        .send(request(
            "GET",
            "/v1/auth/me",
            &[("authorization", "Bearer rs_not-hex")],
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(gateway.stub.calls("verify_api_key"), 0);
    assert_eq!(gateway.stub.calls("verify_session"), 0);
    assert_eq!(gateway.stub.work_calls(), 0);
}

#[tokio::test]
async fn a_cached_verdict_makes_no_second_call() {
    let gateway = TestGateway::start().await;
    let key = gateway.stub.key(KeyKind::Live, &["read", "write"]);
    let session = gateway.stub.session("agent");
    let bearer = format!("Bearer {session}");
    for _ in 0..3 {
        let (status, body) = gateway
            .send(request("GET", CUSTOMERS, &[("x-api-key", &key)], None))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = gateway
            .send(request(
                "GET",
                CUSTOMERS,
                &[("authorization", &bearer)],
                None,
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(gateway.stub.calls("list_customers"), 6);
    assert_eq!(gateway.stub.calls("verify_api_key"), 1);
    assert_eq!(gateway.stub.calls("verify_session"), 1);

    // An unknown key is remembered as unknown, too.
    let unknown = rampart_kit::api_key::PlaintextApiKey::generate(KeyKind::Live);
    for _ in 0..2 {
        let (status, _) = gateway
            .send(request(
                "GET",
                CUSTOMERS,
                &[("x-api-key", unknown.expose())],
                None,
            ))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(gateway.stub.calls("verify_api_key"), 2);
    assert_eq!(gateway.stub.calls("list_customers"), 6);
}

#[tokio::test]
async fn auth_down_is_503_and_nothing_is_waved_through() {
    let gateway = TestGateway::with(Setup {
        auth_up: false,
        ..Setup::default()
    })
    .await;
    let key = rampart_kit::api_key::PlaintextApiKey::generate(KeyKind::Live);
    let (status, body) = gateway
        .send(request(
            "GET",
            CUSTOMERS,
            &[("x-api-key", key.expose())],
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["type"], "urn:rampart:problem:unavailable", "{body}");
    let token = format!("Bearer rs_{}", "ab".repeat(32));
    let (status, body) = gateway
        .send(request(
            "GET",
            "/v1/auth/me",
            &[("authorization", &token)],
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(gateway.stub.work_calls(), 0);
}

#[tokio::test]
async fn the_address_limit_comes_before_any_lookup() {
    let gateway = TestGateway::with(Setup {
        config: Config {
            per_address: Quota::per_minute(2),
            refusal_hold: std::time::Duration::ZERO,
            ..Config::default()
        },
        ..Setup::default()
    })
    .await;
    let flooder = SocketAddr::from(([198, 51, 100, 7], 50000));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        // A fresh unknown key each time, so no cached verdict answers.
        let key = rampart_kit::api_key::PlaintextApiKey::generate(KeyKind::Live);
        let (status, _) = gateway
            .send_from(
                flooder,
                request("GET", CUSTOMERS, &[("x-api-key", key.expose())], None),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Only the two allowed requests were looked up.
    assert_eq!(gateway.stub.calls("verify_api_key"), 2);
    // Session tokens and sign-ins count against the same address.
    let token = format!("Bearer rs_{}", "ab".repeat(32));
    let (status, _) = gateway
        .send_from(
            flooder,
            request("GET", "/v1/auth/me", &[("authorization", &token)], None),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = gateway
        .send_from(
            flooder,
            request(
                "POST",
                "/v1/auth/sign-in",
                &[],
                Some(serde_json::json!({"tenant_id": TENANT, "email": "a@example.com", "password": "x"})),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(gateway.stub.calls("verify_session"), 0);
    assert_eq!(gateway.stub.calls("sign_in"), 0);
    // Another address is not held back by this one.
    let key = gateway.stub.key(KeyKind::Live, &["read"]);
    let (status, _) = gateway
        .send_from(
            SocketAddr::from(([198, 51, 100, 8], 50000)),
            request("GET", CUSTOMERS, &[("x-api-key", &key)], None),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_business_id_of_another_tenant_is_refused() {
    let gateway = TestGateway::start().await;
    let key = gateway.stub.key(KeyKind::Live, &["read"]);
    let session = format!("Bearer {}", gateway.stub.session("owner"));
    let other = "ten_ffffffffffffffffffffffffffffffff";
    for credential in [
        ("x-api-key", key.as_str()),
        ("authorization", session.as_str()),
    ] {
        let (status, body) = gateway
            .send(request(
                "GET",
                CUSTOMERS,
                &[credential, ("x-business-id", other)],
                None,
            ))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("X-Business-ID"),
            "{body}"
        );
        let (status, body) = gateway
            .send(request(
                "GET",
                CUSTOMERS,
                &[credential, ("x-business-id", TENANT)],
                None,
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Only the two requests naming the right tenant reached crm.
    assert_eq!(gateway.stub.calls("list_customers"), 2);
}
