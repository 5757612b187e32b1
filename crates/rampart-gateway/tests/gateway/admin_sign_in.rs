//! The platform admins' sign-in at its secret path: served there, answered
//! like an unknown path elsewhere, and never named in the metrics.

use http::StatusCode;
use rampart_gateway::Config;
use serde_json::json;

use crate::stubs::{Setup, TestGateway, request};

const SECRET: &str = "admin-5f3c9a1e7b2d4c60";

async fn gateway() -> TestGateway {
    TestGateway::with(Setup {
        config: Config {
            admin_sign_in_path: Some(SECRET.to_owned()),
            refusal_hold: std::time::Duration::ZERO,
            ..Config::default()
        },
        ..Setup::default()
    })
    .await
}

fn sign_in(path: &str, method: &str) -> http::Request<axum::body::Body> {
    request(
        method,
        path,
        &[],
        Some(json!({"email": "ops@example.com", "password": "correct horse"})),
    )
}

#[tokio::test]
async fn the_secret_path_signs_in_and_any_other_answers_like_an_unknown_path() {
    let gateway = gateway().await;
    let (_, unknown) = gateway
        .send(sign_in("/v1/auth/nothing-here/at-all", "POST"))
        .await;
    let secret_path = format!("/v1/auth/{SECRET}/sign-in");
    let near_misses = [
        "/v1/auth/admin-5f3c9a1e7b2d4c61/sign-in".to_owned(),
        "/v1/auth/admin-5f3c9a1e7b2d4c6/sign-in".to_owned(),
        "/v1/auth/admin/sign-in".to_owned(),
        format!("/v1/auth/{}/sign-in", SECRET.to_uppercase()),
    ];
    for path in &near_misses {
        for method in ["POST", "GET", "PUT", "DELETE"] {
            let (status, body) = gateway.send(sign_in(path, method)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
            for field in ["type", "title", "detail"] {
                assert_eq!(body[field], unknown[field], "{method} {path}: {body}");
            }
        }
    }
    assert_eq!(gateway.stub.calls("sign_in"), 0);

    // The right segment reaches auth's sign-in (the stub answers nothing
    // usable, so the gateway's answer itself is not under test here).
    let (status, body) = gateway.send(sign_in(&secret_path, "POST")).await;
    assert_ne!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(gateway.stub.calls("sign_in"), 1);
    // Other methods at the right path are answered as before: 405.
    let (status, _) = gateway.send(sign_in(&secret_path, "GET")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(gateway.stub.calls("sign_in"), 1);

    // Metrics carry the route's template, never the secret.
    let metrics = gateway.gateway.metrics.encode();
    assert!(!metrics.contains(SECRET), "{metrics}");
    assert!(!metrics.contains("5f3c9a1e7b2d4c6"), "{metrics}");
    assert!(
        metrics.contains("/v1/auth/{admin_path}/sign-in"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_a_secret_there_is_no_admin_sign_in() {
    let gateway = TestGateway::start().await;
    let (status, _) = gateway
        .send(sign_in("/v1/auth/admin-5f3c9a1e7b2d4c60/sign-in", "POST"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gateway.stub.calls("sign_in"), 0);
}
