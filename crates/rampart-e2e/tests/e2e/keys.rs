//! The API key lifecycle through the edge: scopes, expiry, networks,
//! rotation with grace, revocation on every gateway, usage, and per-tenant
//! rate limits, on both storage backends.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Backend, Tenant, TestStack, expect_problem, read};

/// Runs `check` on the embedded default and on PostgreSQL + Redis.
macro_rules! on_both_backends {
    ($($name:ident => $check:ident;)*) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let stack = crate::harness::TestStack::start_with(
                        crate::harness::Backend::Embedded,
                        super::quick_usage(),
                    )
                    .await
                    .expect("embedded always runs");
                    super::$check(&stack).await;
                    stack.stop().await;
                }
            )*
        }
        mod postgres_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(stack) = crate::harness::TestStack::start_with(
                        crate::harness::Backend::PostgresRedis,
                        super::quick_usage(),
                    )
                    .await
                    else {
                        return;
                    };
                    super::$check(&stack).await;
                    stack.stop().await;
                }
            )*
        }
    };
}

on_both_backends! {
    scopes_are_enforced => scopes_are_enforced;
    a_revoked_key_is_refused_at_once => a_revoked_key_is_refused_at_once;
    a_rotated_key_works_for_its_grace_period_then_stops => rotation_grace;
    an_expired_key_is_refused => an_expired_key_is_refused;
    keys_are_bound_to_their_networks => keys_are_bound_to_their_networks;
    tenants_manage_their_own_keys_only_with_the_keys_scope => tenant_self_service;
    platform_admin_keys_have_the_same_lifecycle => admin_keys;
    usage_is_reported_per_key_and_window => usage_is_reported;
    a_tenant_rate_limit_overrides_the_default => tenant_rate_limit;
    bad_key_requests_are_refused_and_change_nothing => bad_requests;
}

/// Usage reported every second, so tests need not wait a minute.
fn quick_usage() -> rampart_gateway::Config {
    rampart_gateway::Config {
        usage_window: Duration::from_secs(1),
        ..rampart_gateway::Config::default()
    }
}

async fn issue(stack: &TestStack, tenant: &Tenant, body: Value) -> (String, String) {
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["key"]["key_id"], body["key_id"], "{body}");
    (
        body["key_id"].as_str().unwrap().to_owned(),
        body["api_key"].as_str().unwrap().to_owned(),
    )
}

fn with_key(tenant: &Tenant, key: &str) -> Tenant {
    Tenant {
        id: tenant.id.clone(),
        key: key.to_owned(),
    }
}

async fn status_of(stack: &TestStack, tenant: &Tenant, method: Method, path: &str) -> StatusCode {
    let mut request = stack.as_tenant(tenant, method.clone(), path);
    if method == Method::POST {
        request = request.json(&json!({ "name": "Probe Customer" }));
    }
    request.send().await.unwrap().status()
}

async fn list_keys(stack: &TestStack, tenant: &Tenant, query: &str) -> Vec<Value> {
    let response = stack
        .as_admin(
            Method::GET,
            &format!("/v1/admin/tenants/{}/api-keys{query}", tenant.id),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["keys"].as_array().unwrap().clone()
}

async fn customer_count(stack: &TestStack, tenant: &Tenant) -> usize {
    let (status, body) = read(
        stack
            .as_tenant(tenant, Method::GET, "/v1/crm/customers")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["customers"].as_array().unwrap().len()
}

/// Polls until `path` answers `wanted` for `tenant`, or a second passes.
async fn refused_within_a_second(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    since: Instant,
) -> Duration {
    loop {
        let status = client
            .get(url)
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::UNAUTHORIZED {
            return since.elapsed();
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "still accepted after a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn scopes_are_enforced(stack: &TestStack) {
    let tenant = stack.create_tenant("Scoped Plumbing").await;
    let (_, read_only) = issue(stack, &tenant, json!({ "scopes": ["read"] })).await;
    let reader = with_key(&tenant, &read_only);
    assert_eq!(
        status_of(stack, &reader, Method::GET, "/v1/crm/customers").await,
        StatusCode::OK
    );
    let response = stack
        .as_tenant(&reader, Method::POST, "/v1/crm/customers")
        .json(&json!({ "name": "Not Allowed" }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::FORBIDDEN).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("write"),
        "{problem}"
    );
    assert_eq!(customer_count(stack, &tenant).await, 0);
    // Unknown scopes are refused when issuing, naming the scope.
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&json!({ "scopes": ["read", "superuser"] }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("superuser"),
        "{problem}"
    );
}

async fn a_revoked_key_is_refused_at_once(stack: &TestStack) {
    let tenant = stack.create_tenant("Revoked Roofing").await;
    let (key_id, key) = issue(stack, &tenant, json!({ "name": "zapier" })).await;
    let holder = with_key(&tenant, &key);
    // Cached by the gateway now.
    assert_eq!(
        status_of(stack, &holder, Method::GET, "/v1/crm/customers").await,
        StatusCode::OK
    );
    let revoked_at = Instant::now();
    let response = stack
        .as_admin(
            Method::DELETE,
            &format!("/v1/admin/tenants/{}/api-keys/{key_id}", tenant.id),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["revoked_at"].is_string(), "{body}");
    refused_within_a_second(
        &stack.client,
        &stack.url("/v1/crm/customers"),
        &key,
        revoked_at,
    )
    .await;
    // Revoking again changes nothing; the list hides it unless asked.
    let again = stack
        .as_admin(
            Method::DELETE,
            &format!("/v1/admin/tenants/{}/api-keys/{key_id}", tenant.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let active = list_keys(stack, &tenant, "").await;
    assert!(active.iter().all(|k| k["key_id"] != key_id.as_str()));
    let all = list_keys(stack, &tenant, "?include_inactive=true").await;
    let listed = all.iter().find(|k| k["key_id"] == key_id.as_str()).unwrap();
    assert_eq!(listed["name"], "zapier");
    assert!(listed.get("api_key").is_none(), "{listed}");
    assert!(
        key.starts_with(listed["display_prefix"].as_str().unwrap()),
        "{listed}"
    );
    // Another tenant's key id answers 404 under this tenant.
    let other = stack.create_tenant("Other Owner").await;
    let (other_key_id, other_key) = issue(stack, &other, json!({})).await;
    let response = stack
        .as_admin(
            Method::DELETE,
            &format!("/v1/admin/tenants/{}/api-keys/{other_key_id}", tenant.id),
        )
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(
        status_of(
            stack,
            &with_key(&other, &other_key),
            Method::GET,
            "/v1/crm/customers"
        )
        .await,
        StatusCode::OK
    );
}

async fn rotation_grace(stack: &TestStack) {
    let tenant = stack.create_tenant("Rotating Electric").await;
    let (old_id, old_key) = issue(stack, &tenant, json!({ "scopes": ["read"] })).await;
    let old = with_key(&tenant, &old_key);
    assert_eq!(
        status_of(stack, &old, Method::GET, "/v1/crm/customers").await,
        StatusCode::OK
    );
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys/{old_id}/rotate", tenant.id),
        )
        .json(&json!({ "grace_seconds": 2 }))
        .send()
        .await
        .unwrap();
    let rotated_at = Instant::now();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let new_key = body["successor"]["api_key"].as_str().unwrap().to_owned();
    let new_id = body["successor"]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(body["previous"]["replaced_by"], new_id.as_str(), "{body}");
    // The successor keeps the old key's settings.
    assert_eq!(
        body["successor"]["key"]["scopes"],
        json!(["read"]),
        "{body}"
    );
    let new = with_key(&tenant, &new_key);
    // Both work during the grace period.
    for holder in [&old, &new] {
        assert_eq!(
            status_of(stack, holder, Method::GET, "/v1/crm/customers").await,
            StatusCode::OK
        );
    }
    // Rotating the old key again is refused: rotate its successor.
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys/{old_id}/rotate", tenant.id),
        )
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::CONFLICT).await;
    // After the grace period the old key stops, within a second; the new
    // one goes on.
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(rotated_at.elapsed())).await;
    let grace_end = Instant::now();
    refused_within_a_second(
        &stack.client,
        &stack.url("/v1/crm/customers"),
        &old_key,
        grace_end,
    )
    .await;
    assert_eq!(
        status_of(stack, &new, Method::GET, "/v1/crm/customers").await,
        StatusCode::OK
    );
}

async fn an_expired_key_is_refused(stack: &TestStack) {
    let tenant = stack.create_tenant("Expiring Garden").await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (_, key) = issue(
        stack,
        &tenant,
        json!({ "expires_at": expires.to_rfc3339() }),
    )
    .await;
    let holder = with_key(&tenant, &key);
    assert_eq!(
        status_of(stack, &holder, Method::GET, "/v1/crm/customers").await,
        StatusCode::OK
    );
    let until = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(until).await;
    refused_within_a_second(
        &stack.client,
        &stack.url("/v1/crm/customers"),
        &key,
        Instant::now(),
    )
    .await;
    // A past expiry is refused when issuing.
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&json!({ "expires_at": "2020-01-01T00:00:00Z" }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
}

async fn keys_are_bound_to_their_networks(stack: &TestStack) {
    let tenant = stack.create_tenant("Networked Bakery").await;
    let (_, elsewhere) = issue(
        stack,
        &tenant,
        json!({ "allowed_networks": ["203.0.113.0/24"] }),
    )
    .await;
    let response = stack
        .as_tenant(
            &with_key(&tenant, &elsewhere),
            Method::GET,
            "/v1/crm/customers",
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::FORBIDDEN).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("network"),
        "{problem}"
    );
    // A spoofed forwarding header does not move the client into the network.
    let response = stack
        .as_tenant(
            &with_key(&tenant, &elsewhere),
            Method::GET,
            "/v1/crm/customers",
        )
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Real-IP", "203.0.113.9")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN).await;
    let (_, here) = issue(
        stack,
        &tenant,
        json!({ "allowed_networks": ["127.0.0.1", "::1"] }),
    )
    .await;
    assert_eq!(
        status_of(
            stack,
            &with_key(&tenant, &here),
            Method::GET,
            "/v1/crm/customers"
        )
        .await,
        StatusCode::OK
    );
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&json!({ "allowed_networks": ["10.0.0.0/33"] }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("10.0.0.0/33"),
        "{problem}"
    );
}

async fn tenant_self_service(stack: &TestStack) {
    let tenant = stack.create_tenant("Self Service Spa").await;
    // The tenant's first key reads and writes but may not manage keys.
    let response = stack
        .as_tenant(&tenant, Method::GET, "/v1/api-keys")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN).await;

    let (_, manager_key) = issue(stack, &tenant, json!({ "scopes": ["read", "keys"] })).await;
    let manager = with_key(&tenant, &manager_key);
    let (status, body) = read(
        stack
            .as_tenant(&manager, Method::GET, "/v1/api-keys")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["keys"].as_array().unwrap().len(), 2, "{body}");

    // It may issue keys within its own scopes, never beyond them.
    let response = stack
        .as_tenant(&manager, Method::POST, "/v1/api-keys")
        .json(&json!({ "scopes": ["read", "write"] }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::FORBIDDEN).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("write"),
        "{problem}"
    );
    let response = stack
        .as_tenant(&manager, Method::POST, "/v1/api-keys")
        .json(&json!({ "name": "reporting", "scopes": ["read"] }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let reporting_id = body["key_id"].as_str().unwrap().to_owned();
    assert_eq!(list_keys(stack, &tenant, "").await.len(), 3);

    // Another tenant's key is out of reach: 404, and it keeps working.
    let other = stack.create_tenant("Other Spa").await;
    let other_key_id = list_keys(stack, &other, "").await[0]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = stack
        .as_tenant(
            &manager,
            Method::DELETE,
            &format!("/v1/api-keys/{other_key_id}"),
        )
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(
        status_of(stack, &other, Method::GET, "/v1/crm/customers").await,
        StatusCode::OK
    );
    // Its own key it revokes.
    let response = stack
        .as_tenant(
            &manager,
            Method::DELETE,
            &format!("/v1/api-keys/{reporting_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(list_keys(stack, &tenant, "").await.len(), 2);
}

async fn admin_keys(stack: &TestStack) {
    let response = stack
        .as_admin(Method::POST, "/v1/admin/api-keys")
        .json(&json!({ "name": "operator laptop" }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let admin_key = body["api_key"].as_str().unwrap().to_owned();
    let admin_key_id = body["key_id"].as_str().unwrap().to_owned();
    assert!(admin_key.starts_with("rk_admin_"), "{body}");
    assert_eq!(body["key"]["scopes"], json!(["admin"]));

    let as_new_admin = |method: Method, path: &str| {
        stack
            .request(method, path)
            .header("X-Admin-API-Key", &admin_key)
    };
    let listed = as_new_admin(Method::GET, "/v1/admin/api-keys")
        .send()
        .await
        .unwrap();
    let (status, body) = read(listed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["key_id"] == admin_key_id.as_str()),
        "{body}"
    );
    // A tenant key is no admin key, on either header.
    let tenant = stack.create_tenant("Not An Admin").await;
    let response = stack
        .request(Method::GET, "/v1/admin/api-keys")
        .header("X-Admin-API-Key", &tenant.key)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;
    let response = stack
        .request(Method::GET, "/v1/crm/customers")
        .header("X-API-Key", &admin_key)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN).await;

    let revoked_at = Instant::now();
    let response = stack
        .as_admin(
            Method::DELETE,
            &format!("/v1/admin/api-keys/{admin_key_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    loop {
        let status = as_new_admin(Method::GET, "/v1/admin/tenants")
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(revoked_at.elapsed() < Duration::from_secs(1), "{status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The bootstrap key is configuration: it has no row to revoke.
    let response = stack
        .as_admin(Method::DELETE, "/v1/admin/api-keys/bootstrap")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
}

async fn usage_is_reported(stack: &TestStack) {
    let tenant = stack.create_tenant("Busy Bistro").await;
    let keys = list_keys(stack, &tenant, "").await;
    assert!(keys[0]["last_used_at"].is_null(), "{keys:?}");
    for _ in 0..5 {
        assert_eq!(
            status_of(stack, &tenant, Method::GET, "/v1/crm/customers").await,
            StatusCode::OK
        );
    }
    // Reported once its one-second window closes, then audited.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut used_events = Vec::new();
    while used_events.is_empty() {
        assert!(Instant::now() < deadline, "usage never reported");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, body) = read(
            stack
                .as_tenant(&tenant, Method::GET, "/v1/owner/audit")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        used_events = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == "api_key.used")
            .cloned()
            .collect();
    }
    let keys = list_keys(stack, &tenant, "").await;
    assert!(keys[0]["last_used_at"].is_string(), "{keys:?}");
    // One event per key and window, not one per request.
    assert!(used_events.len() < 5, "{used_events:?}");
}

async fn tenant_rate_limit(stack: &TestStack) {
    let tenant = stack.create_tenant("Throttled Tiles").await;
    let response = stack
        .as_admin(
            Method::PUT,
            &format!("/v1/admin/tenants/{}/rate-limit", tenant.id),
        )
        .json(&json!({ "requests_per_minute": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // A key verified after the change carries the tenant's rate.
    let (_, key) = issue(stack, &tenant, json!({})).await;
    let holder = with_key(&tenant, &key);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(status_of(stack, &holder, Method::GET, "/v1/crm/customers").await);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let response = stack
        .as_tenant(&holder, Method::GET, "/v1/crm/customers")
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    // A client that loops on its refusals is held to about one answer a
    // second (`Config::refusal_hold`), not answered as fast as it asks: a
    // slow machine can only make the count smaller.
    let started = Instant::now();
    let mut refusals = 0;
    while started.elapsed() < Duration::from_millis(2_500) {
        assert_eq!(
            status_of(stack, &holder, Method::GET, "/v1/crm/customers").await,
            StatusCode::TOO_MANY_REQUESTS
        );
        refusals += 1;
    }
    assert!(refusals <= 3, "{refusals} refusals answered in 2.5 s");
    // Another tenant keeps the default.
    let other = stack.create_tenant("Unthrottled Tiles").await;
    for _ in 0..5 {
        assert_eq!(
            status_of(stack, &other, Method::GET, "/v1/crm/customers").await,
            StatusCode::OK
        );
    }
}

async fn bad_requests(stack: &TestStack) {
    let tenant = stack.create_tenant("Careful Carpets").await;
    let before = list_keys(stack, &tenant, "?include_inactive=true").await;
    let path = format!("/v1/admin/tenants/{}/api-keys", tenant.id);
    for body in [
        json!({ "scopes": "read" }),
        json!({ "environment": "prod" }),
        json!({ "expires_at": "tomorrow" }),
        json!({ "name": "a\nb" }),
        json!({ "allowed_networks": ["office"] }),
        json!({ "unknown": true }),
    ] {
        let response = stack
            .as_admin(Method::POST, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {status}"
        );
    }
    for (method, path) in [
        (Method::DELETE, format!("{path}/not-a-key")),
        (Method::POST, format!("{path}/key_nope/rotate")),
    ] {
        let response = stack.as_admin(method, &path).send().await.unwrap();
        assert!(response.status().is_client_error(), "{path}");
    }
    let response = stack
        .as_admin(
            Method::POST,
            &format!("{path}/{}/rotate", before[0]["key_id"].as_str().unwrap()),
        )
        .json(&json!({ "grace_seconds": 30 * 24 * 3600 }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    let response = stack
        .as_admin(
            Method::PUT,
            &format!("/v1/admin/tenants/{}/rate-limit", tenant.id),
        )
        .json(&json!({ "requests_per_minute": 10_000_000 }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    let after = list_keys(stack, &tenant, "?include_inactive=true").await;
    assert_eq!(before, after, "a refused request changed the keys");
}

/// The deployment case: two gateways on one Redis. A key revoked through one
/// is refused by the other within a second, and the rate limit is one budget
/// for both, answered with Retry-After.
#[tokio::test]
async fn two_gateways_share_revocations_and_limits() {
    let Some(stack) = TestStack::start_with(Backend::PostgresRedis, quick_usage()).await else {
        return;
    };
    let second = stack.second_gateway(quick_usage()).await;
    let tenant = stack.create_tenant("Two Gateway Garage").await;
    let (key_id, key) = issue(&stack, &tenant, json!({})).await;
    let on_second = second.url("/v1/crm/customers");
    let status = stack
        .client
        .get(&on_second)
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK, "cached on the second gateway now");

    let revoked_at = Instant::now();
    let response = stack
        .as_admin(
            Method::DELETE,
            &format!("/v1/admin/tenants/{}/api-keys/{key_id}", tenant.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let took = refused_within_a_second(&stack.client, &on_second, &key, revoked_at).await;
    eprintln!("revocation reached the second gateway in {took:?}");

    // One budget across both gateways.
    let response = stack
        .as_admin(
            Method::PUT,
            &format!("/v1/admin/tenants/{}/rate-limit", tenant.id),
        )
        .json(&json!({ "requests_per_minute": 4 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, limited) = issue(&stack, &tenant, json!({})).await;
    let urls = [stack.url("/v1/crm/customers"), on_second.clone()];
    let mut statuses = Vec::new();
    for round in 0..5 {
        let response = stack
            .client
            .get(&urls[round % 2])
            .header("X-API-Key", &limited)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
        }
        statuses.push(response.status());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);

    second.running.stop().await.unwrap();
    stack.stop().await;
}
