//! What an attacker at the edge would try. These run on the embedded default:
//! the edge's behaviour does not depend on storage.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Backend, TestStack, edge_client, expect_problem, read};

#[tokio::test]
async fn probe_paths_and_unknown_routes_answer_404() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    for path in [
        "/wp-admin",
        "/wp-login.php",
        "/.git/config",
        "/.env",
        "/no/such/route",
    ] {
        let response = stack.request(Method::GET, path).send().await.unwrap();
        expect_problem(response, StatusCode::NOT_FOUND).await;
    }
    stack.stop().await;
}

#[tokio::test]
async fn responses_carry_security_headers_and_no_banner() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Headers Inc").await;
    for response in [
        stack.request(Method::GET, "/healthz").send().await.unwrap(),
        stack
            .as_tenant(&tenant, Method::GET, "/v1/crm/customers")
            .send()
            .await
            .unwrap(),
        stack
            .request(Method::GET, "/v1/crm/customers")
            .send()
            .await
            .unwrap(),
    ] {
        let headers = response.headers();
        assert!(
            headers["strict-transport-security"]
                .to_str()
                .unwrap()
                .contains("max-age=")
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers.contains_key("x-request-id"));
        assert!(!headers.contains_key("server"), "server banner present");
    }
    stack.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Careful Co").await;
    let create = || stack.as_tenant(&tenant, Method::POST, "/v1/crm/customers");

    // Oversized body.
    let huge = "x".repeat(200 * 1024);
    let response = create()
        .json(&json!({ "name": huge }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Not JSON.
    let response = create()
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    // Malformed JSON, unknown fields, wrong types, invalid values.
    for body in [
        "{\"name\": ",
        "{\"name\": \"A\", \"is_admin\": true}",
        "{\"name\": 42}",
        "{\"name\": \"A\", \"email\": \"not-an-email\"}",
        "{\"name\": \"   \"}",
        "{\"name\": \"A\", \"phone\": \"call me maybe\"}",
    ] {
        let response = create()
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST).await;
    }
    // Deeply nested JSON is refused, not recursed into.
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = create()
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    // Credentials in the query string are refused even when valid.
    let response = stack
        .request(
            Method::GET,
            &format!("/v1/crm/customers?api_key={}", tenant.key),
        )
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    // Unknown methods.
    let response = stack
        .as_tenant(&tenant, Method::DELETE, "/v1/crm/customers")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    let response = stack
        .as_tenant(
            &tenant,
            Method::from_bytes(b"TRACE").unwrap(),
            "/v1/crm/customers",
        )
        .send()
        .await
        .unwrap();
    assert!(
        response.status() == StatusCode::METHOD_NOT_ALLOWED,
        "TRACE answered {}",
        response.status()
    );
    // Bad pagination.
    for query in ["limit=0", "limit=1000", "limit=abc", "cursor=bad'cursor"] {
        let response = stack
            .as_tenant(&tenant, Method::GET, &format!("/v1/crm/customers?{query}"))
            .send()
            .await
            .unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST).await;
    }

    // None of it stored anything.
    let (status, list) = read(
        stack
            .as_tenant(&tenant, Method::GET, "/v1/crm/customers")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["customers"].as_array().unwrap().len(), 0, "{list}");
    stack.stop().await;
}

#[tokio::test]
async fn spoofed_principal_headers_have_no_effect() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let a = stack.create_tenant("Alpha").await;
    let b = stack.create_tenant("Beta").await;
    let response = stack
        .as_tenant(&b, Method::POST, "/v1/crm/customers")
        .json(&json!({ "name": "Bob" }))
        .send()
        .await
        .unwrap();
    let (_, customer) = read(response).await;
    let path = format!("/v1/crm/customers/{}", customer["id"].as_str().unwrap());
    // Tenant A claims B's tenant through the internal headers.
    let response = stack
        .as_tenant(&a, Method::GET, &path)
        .header("x-rampart-tenant-id", &b.id)
        .header("x-rampart-principal-kind", "tenant")
        .header("x-forwarded-for", "127.0.0.1")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    // And without a key, the internal headers alone authenticate nobody.
    let response = stack
        .request(Method::GET, &path)
        .header("x-rampart-tenant-id", &b.id)
        .header("x-rampart-principal-kind", "tenant")
        .header("x-rampart-credential-id", "bootstrap")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
    stack.stop().await;
}

#[tokio::test]
async fn admin_routes_refuse_missing_and_wrong_keys() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let response = stack
        .request(Method::POST, "/v1/admin/tenants")
        .json(&json!({ "name": "Nope" }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
    let forged =
        rampart_kit::api_key::PlaintextApiKey::generate(rampart_kit::api_key::KeyKind::Admin);
    let response = stack
        .request(Method::POST, "/v1/admin/tenants")
        .header("X-Admin-API-Key", forged.expose())
        .json(&json!({ "name": "Nope" }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
    // A key for a tenant that does not exist cannot be issued.
    let ghost = rampart_kit::ids::TenantId::generate();
    let response = stack
        .as_admin(Method::POST, &format!("/v1/admin/tenants/{ghost}/api-keys"))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    // Nothing was created by the refused calls.
    let (_, list) = read(
        stack
            .as_admin(Method::GET, "/v1/admin/tenants")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["tenants"].as_array().unwrap().len(), 0, "{list}");

    // A second key for a real tenant works, and both keys do.
    let tenant = stack.create_tenant("Two Keys").await;
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&json!({ "name": "website", "environment": "test" }))
        .send()
        .await
        .unwrap();
    let (status, issued) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let second = issued["api_key"].as_str().unwrap();
    assert!(second.starts_with("rk_test_"));
    for key in [tenant.key.as_str(), second] {
        let response = stack
            .request(Method::GET, "/v1/crm/customers")
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    stack.stop().await;
}

#[tokio::test]
async fn auth_down_means_refused_not_waved_through() {
    let config = rampart_gateway::Config {
        // No cache, so the outage is seen at once.
        key_cache_ttl: Duration::ZERO,
        ..rampart_gateway::Config::default()
    };
    let stack = TestStack::start_with(Backend::Embedded, config)
        .await
        .unwrap();
    let tenant = stack.create_tenant("Outage Ltd").await;
    let ok = stack
        .as_tenant(&tenant, Method::GET, "/v1/crm/customers")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    stack
        .stack
        .running
        .stop_service(rampart_kit::pki::ServiceName::Auth);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = stack
            .as_tenant(&tenant, Method::GET, "/v1/crm/customers")
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body = expect_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
            assert!(body["detail"].as_str().unwrap().contains("auth"), "{body}");
            break;
        }
        // Until the auth server has closed its connections, calls may still
        // succeed, and a call cut short by its shutdown is answered 504;
        // never anything else, and never a success once auth is gone.
        assert!(
            [StatusCode::OK, StatusCode::GATEWAY_TIMEOUT].contains(&response.status()),
            "{}",
            response.status()
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "auth outage not noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stack.stop().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let config = rampart_gateway::Config {
        per_credential: rampart_kit::rate_limit::Quota::per_minute(5),
        ..rampart_gateway::Config::default()
    };
    let stack = TestStack::start_with(Backend::Embedded, config)
        .await
        .unwrap();
    let tenant = stack.create_tenant("Busy Bee").await;
    let mut limited = None;
    for _ in 0..10 {
        let response = stack
            .as_tenant(&tenant, Method::GET, "/v1/crm/customers")
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = limited.expect("the sixth request within a minute is limited");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    expect_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    stack.stop().await;
}

#[tokio::test]
async fn speaks_http2_and_http1_over_tls_only() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let url = stack.url("/healthz");
    let h2 = edge_client(&stack.stack.edge_ca, &[b"h2"]);
    let response = h2.get(&url).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    let h1 = edge_client(&stack.stack.edge_ca, &[b"http/1.1"]);
    let response = h1.get(&url).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), StatusCode::OK);

    // Plain HTTP on the same port gets no HTTP answer at all.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let attempt = plain
        .get(format!(
            "http://127.0.0.1:{}/healthz",
            stack.stack.edge_addr.port()
        ))
        .send()
        .await;
    assert!(
        attempt.is_err(),
        "plaintext HTTP was answered: {:?}",
        attempt.map(|r| r.status())
    );
    stack.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Draining Ltd").await;
    // Open the burst's connections first (the client keeps them for
    // reuse), so its requests go out at once rather than each behind a TLS
    // handshake: with services called in process the first answer can
    // come before the others' handshakes finish, and a stop then finds
    // nothing in flight to drain.
    let mut warm = tokio::task::JoinSet::new();
    for _ in 0..40 {
        warm.spawn(stack.request(Method::GET, "/healthz").send());
    }
    while let Some(warmed) = warm.join_next().await {
        assert!(warmed.unwrap().unwrap().status().is_success());
    }
    // Start a burst of requests and stop the stack as soon as the first is
    // answered, while the rest are in flight. Each must either complete
    // normally or never have been accepted; none may be cut off or fail
    // because a backend went away first.
    let (done, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..40 {
        let request = stack
            .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
            .json(&json!({ "name": format!("Customer {i}") }))
            .send();
        let done = done.clone();
        tokio::spawn(async move {
            let outcome = match request.await {
                Ok(response) => {
                    let status = response.status();
                    Ok((status, response.bytes().await.is_ok()))
                }
                Err(error) => Err(error),
            };
            let _ = done.send(outcome);
        });
    }
    drop(done);
    let first = outcomes.recv().await.unwrap();
    stack.stack.running.shutdown_token().cancel();
    let mut answered = 0;
    for outcome in std::iter::once(first).chain(std::iter::from_fn(|| outcomes.try_recv().ok())) {
        check_drained(outcome, &mut answered);
    }
    while let Some(outcome) = outcomes.recv().await {
        check_drained(outcome, &mut answered);
    }
    assert!(
        answered > 1,
        "only {answered} request(s) were answered; the test saw no draining"
    );
    stack.stop().await;
}

fn check_drained(outcome: Result<(StatusCode, bool), reqwest::Error>, answered: &mut usize) {
    match outcome {
        Ok((status, body_complete)) => {
            assert!(body_complete, "a response was cut off");
            assert_eq!(status, StatusCode::CREATED);
            *answered += 1;
        }
        // Never accepted: the listener had closed, or the connection was
        // refused before the request was read.
        Err(error) => assert!(error.is_connect() || error.is_request(), "{error}"),
    }
}
