//! Billing from outside: admin transitions and their audit events, the
//! signed webhook's good, bad, stale, replayed and changed deliveries
//! (nothing changes on a refusal), and a suspended tenant's key and session
//! refused with a 403 at a second gateway within a second, other tenants
//! unaffected, reactivation restoring access with the data intact.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use ring::hmac;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::accounts::{audit_events, tenant_with_owner};
use crate::harness::{Backend, Tenant, TestStack, expect_problem, read};

const SECRET: &str = "whsec_e2e_billing_0123456789abcdef";

fn config() -> rampart_gateway::Config {
    rampart_gateway::Config {
        billing_webhook_secret: Some(SecretString::from(SECRET)),
        ..rampart_gateway::Config::default()
    }
}

fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// The provider's signature header of `body` at `at`, under `secret`.
fn signature(secret: &str, at: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", rampart_kit::secret::hex(tag.as_ref()))
}

async fn deliver(stack: &TestStack, header: Option<String>, body: &str) -> (StatusCode, Value) {
    let mut request = stack
        .request(Method::POST, "/v1/billing/webhook")
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(header) = header {
        request = request.header("Rampart-Billing-Signature", header);
    }
    read(request.send().await.unwrap()).await
}

async fn deliver_signed(stack: &TestStack, body: &str) -> (StatusCode, Value) {
    deliver(stack, Some(signature(SECRET, unix_now(), body)), body).await
}

fn event(id: &str, tenant_id: &str, state: &str) -> String {
    json!({
        "id": id,
        "type": "customer.subscription.updated",
        "tenant_id": tenant_id,
        "state": state,
        "reason": "provider_update",
    })
    .to_string()
}

async fn put_state(stack: &TestStack, tenant_id: &str, state: &str) -> (StatusCode, Value) {
    read(
        stack
            .as_admin(
                Method::PUT,
                &format!("/v1/admin/tenants/{tenant_id}/billing"),
            )
            .json(&json!({ "state": state, "reason": "admin_test" }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn state_of(stack: &TestStack, tenant_id: &str) -> String {
    let (status, body) = read(
        stack
            .as_admin(
                Method::GET,
                &format!("/v1/admin/tenants/{tenant_id}/billing"),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["state"].as_str().unwrap().to_owned()
}

async fn customers(stack: &TestStack, base: &str, tenant: &Tenant) -> reqwest::Response {
    stack
        .client
        .get(format!("{base}/v1/crm/customers"))
        .header("X-API-Key", &tenant.key)
        .send()
        .await
        .unwrap()
}

async fn me(stack: &TestStack, base: &str, token: &str) -> reqwest::Response {
    stack
        .client
        .get(format!("{base}/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Admin transitions, refusals naming both states, and the webhook's
/// cases; every refusal leaves the state as it was.
async fn transitions_and_webhook(stack: &TestStack) {
    let tenant = stack.create_tenant("Billing Bakery").await;
    let other = stack.create_tenant("Unbilled Barber").await;
    assert_eq!(state_of(stack, &tenant.id).await, "trial");

    let (status, body) = put_state(stack, &tenant.id, "paused").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("state"), "{body}");
    let (status, body) = put_state(stack, &tenant.id, "suspended").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("trial") && detail.contains("suspended"),
        "{body}"
    );
    assert_eq!(state_of(stack, &tenant.id).await, "trial");
    let (status, _) = put_state(stack, "ten_00000000000000000000000000000000", "active").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A tenant key is not an admin credential.
    let response = stack
        .as_tenant(
            &tenant,
            Method::PUT,
            &format!("/v1/admin/tenants/{}/billing", tenant.id),
        )
        .json(&json!({ "state": "active" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let (status, body) = put_state(stack, &tenant.id, "active").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["state"].as_str(), body["changed"].as_bool()),
        (Some("active"), Some(true))
    );
    // Asking again converges: nothing changes, nothing is recorded.
    let (status, body) = put_state(stack, &tenant.id, "active").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], false);

    // The webhook: refusals first, each leaving the state active.
    let body = event("evt_billing_1", &tenant.id, "past_due");
    let (status, problem) = deliver(stack, None, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let forged = signature("not the shared secret", unix_now(), &body);
    let (status, problem) = deliver(stack, Some(forged), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let stale = signature(SECRET, unix_now() - 600, &body);
    let (status, problem) = deliver(stack, Some(stale), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["title"], "Stale signature", "{problem}");
    let (status, problem) = deliver_signed(stack, r#"{"id":"evt_x","state":1}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (status, problem) =
        deliver_signed(stack, &event("evt_billing_0", &tenant.id, "trial")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let unknown = event(
        "evt_billing_9",
        "ten_00000000000000000000000000000000",
        "active",
    );
    let (status, _) = deliver_signed(stack, &unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(state_of(stack, &tenant.id).await, "active");

    // A good delivery moves the state; its redelivery changes nothing; a
    // different event under its id is refused.
    let (status, moved) = deliver_signed(stack, &body).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["state"], "past_due");
    assert_eq!(
        (moved["changed"].as_bool(), moved["replayed"].as_bool()),
        (Some(true), Some(false))
    );
    let (status, again) = deliver_signed(stack, &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        (again["changed"].as_bool(), again["replayed"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(again["changed_at"], moved["changed_at"]);
    let changed_body = event("evt_billing_1", &tenant.id, "active");
    let (status, problem) = deliver_signed(stack, &changed_body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(state_of(stack, &tenant.id).await, "past_due");

    // Suspended: the tenant's key is refused with a 403 naming it, the
    // other tenant is not; reactivated, the key and the data are back.
    let response = stack
        .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
        .json(&json!({ "name": "Ada Keepsake" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (status, body) =
        deliver_signed(stack, &event("evt_billing_2", &tenant.id, "suspended")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["access_suspended"], true);
    let problem = expect_problem(
        customers(stack, &stack.base, &tenant).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(problem["title"], "Tenant suspended", "{problem}");
    assert_eq!(
        customers(stack, &stack.base, &other).await.status(),
        StatusCode::OK
    );
    let (status, body) = put_state(stack, &tenant.id, "active").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["access_suspended"], false);
    let (status, listed) = read(customers(stack, &stack.base, &tenant).await).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert!(listed.to_string().contains("Ada Keepsake"), "{listed}");

    // Four moves, four events, each naming both states and its source.
    let deadline = Instant::now() + Duration::from_secs(20);
    let moves = loop {
        let moves: Vec<Value> = audit_events(stack, &tenant)
            .await
            .into_iter()
            .filter(|e| e["action"] == "billing.state_changed")
            .collect();
        if moves.len() >= 4 || Instant::now() > deadline {
            break moves;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut seen: Vec<(String, String, String)> = moves
        .iter()
        .map(|e| {
            let d = &e["details"];
            (
                d["from_state"].as_str().unwrap_or_default().to_owned(),
                d["to_state"].as_str().unwrap_or_default().to_owned(),
                d["source"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        ("trial".into(), "active".into(), "admin".into()),
        ("active".into(), "past_due".into(), "webhook".into()),
        ("past_due".into(), "suspended".into(), "webhook".into()),
        ("suspended".into(), "active".into(), "admin".into()),
    ];
    expected.sort();
    assert_eq!(seen, expected, "{moves:?}");
    let by_webhook = moves
        .iter()
        .find(|e| e["details"]["to_state"] == "past_due")
        .unwrap();
    assert_eq!(by_webhook["details"]["event_id"], "evt_billing_1");
    assert_eq!(
        by_webhook["actor"], "system:billing-webhook",
        "{by_webhook}"
    );
}

#[tokio::test]
async fn transitions_and_webhook_embedded() {
    let stack = TestStack::start_with(Backend::Embedded, config())
        .await
        .expect("embedded runs");
    transitions_and_webhook(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn transitions_and_webhook_on_postgres_and_redis() {
    let Some(stack) = TestStack::start_with(Backend::PostgresRedis, config()).await else {
        return;
    };
    transitions_and_webhook(&stack).await;
    stack.stop().await;
}

/// Polls `status_of` until it answers `wanted`, failing if a second
/// passes first; how long it took.
async fn within_a_second<F, Fut>(wanted: StatusCode, since: Instant, status_of: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = StatusCode>,
{
    loop {
        let status = status_of().await;
        if status == wanted {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "still {status} after a second, waiting for {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_at_a_second_gateway_within_a_second() {
    let Some(stack) = TestStack::start_with(Backend::PostgresRedis, config()).await else {
        return;
    };
    let second = stack
        .second_gateway(rampart_gateway::Config {
            admin_sign_in_path: Some(stack.admin_sign_in_path.clone()),
            ..config()
        })
        .await;
    let (tenant, _, owner) = tenant_with_owner(&stack, "Suspended Saddlery").await;
    let other = stack.create_tenant("Paying Pottery").await;
    let response = stack
        .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
        .json(&json!({ "name": "Bea Ledger" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // Both verdicts cached at the second gateway.
    for _ in 0..2 {
        assert_eq!(
            customers(&stack, &second.base, &tenant).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            me(&stack, &second.base, &owner).await.status(),
            StatusCode::OK
        );
    }
    let (status, _) = put_state(&stack, &tenant.id, "past_due").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = put_state(&stack, &tenant.id, "suspended").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let suspended_at = Instant::now();
    // Plain references, copied into each poll's future.
    let (at, base, holder, token) = (&stack, second.base.as_str(), &tenant, owner.as_str());
    let key_status = || async move { customers(at, base, holder).await.status() };
    let session_status = || async move { me(at, base, token).await.status() };
    let key_took = within_a_second(StatusCode::FORBIDDEN, suspended_at, key_status).await;
    let session_took = within_a_second(StatusCode::FORBIDDEN, suspended_at, session_status).await;
    eprintln!("suspension reached the second gateway: key {key_took:?}, session {session_took:?}");
    let problem = expect_problem(
        me(&stack, &second.base, &owner).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(problem["title"], "Tenant suspended", "{problem}");
    assert_eq!(
        customers(&stack, &second.base, &other).await.status(),
        StatusCode::OK
    );

    let (status, _) = put_state(&stack, &tenant.id, "active").await;
    assert_eq!(status, StatusCode::OK);
    let restored_at = Instant::now();
    within_a_second(StatusCode::OK, restored_at, key_status).await;
    within_a_second(StatusCode::OK, restored_at, session_status).await;
    let (_, listed) = read(customers(&stack, &second.base, &tenant).await).await;
    assert!(listed.to_string().contains("Bea Ledger"), "{listed}");

    second.running.stop().await.expect("second gateway stops");
    stack.stop().await;
}
