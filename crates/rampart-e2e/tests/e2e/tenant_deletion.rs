//! Deleting a tenant from outside: only the platform admin may, an unknown
//! tenant is a 404, and a deleted tenant's key and session are refused at
//! once while another tenant carries on.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::time::Instant;

use rampart_e2e::on_both_backends;

use crate::accounts::tenant_with_owner;
use crate::harness::{Tenant, TestStack, expect_problem, read};

on_both_backends!(a_deleted_tenant_is_refused_at_once_and_its_keys_counted);

async fn customers(stack: &TestStack, tenant: &Tenant) -> StatusCode {
    stack
        .as_tenant(tenant, Method::GET, "/v1/crm/customers")
        .send()
        .await
        .unwrap()
        .status()
}

async fn me(stack: &TestStack, token: &str) -> StatusCode {
    stack
        .request(Method::GET, "/v1/auth/me")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn delete_as_admin(stack: &TestStack, tenant_id: &str) -> reqwest::Response {
    stack
        .as_admin(Method::DELETE, &format!("/v1/admin/tenants/{tenant_id}"))
        .send()
        .await
        .unwrap()
}

/// Polls until `status_of` answers `wanted`, failing after a second.
async fn within_a_second<F, Fut>(wanted: StatusCode, status_of: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = StatusCode>,
{
    let since = Instant::now();
    loop {
        let status = status_of().await;
        if status == wanted {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "still {status} after a second, waiting for {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_deleted_tenant_is_refused_at_once_and_its_keys_counted(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Doomed Drapery").await;
    let other = stack.create_tenant("Lasting Lutherie").await;
    let response = stack
        .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
        .json(&json!({ "name": "Persephone Gone" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let path = format!("/v1/admin/tenants/{}", tenant.id);

    // Neither the tenant's key nor its owner's session is an admin
    // credential; nothing changes.
    let by_key = stack
        .as_tenant(&tenant, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status(), StatusCode::UNAUTHORIZED);
    let by_owner = stack
        .request(Method::DELETE, &path)
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(
            by_owner.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ),
        "{}",
        by_owner.status()
    );
    for unknown in ["ten_00000000000000000000000000000000", "nope"] {
        expect_problem(delete_as_admin(stack, unknown).await, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(customers(stack, &tenant).await, StatusCode::OK);
    assert_eq!(me(stack, &owner).await, StatusCode::OK);

    // The admin deletes it: one customer, one data key.
    let (status, body) = read(delete_as_admin(stack, &tenant.id).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tenant_id"], tenant.id.as_str());
    assert_eq!(body["data_keys_destroyed"], 1, "{body}");

    // Its key and its session are refused at once; the other tenant is not.
    within_a_second(StatusCode::FORBIDDEN, || customers(stack, &tenant)).await;
    within_a_second(StatusCode::FORBIDDEN, || me(stack, &owner)).await;
    assert_eq!(customers(stack, &other).await, StatusCode::OK);

    // Nothing is left to find, or to delete again.
    let billing = stack
        .as_admin(Method::GET, &format!("{path}/billing"))
        .send()
        .await
        .unwrap();
    assert_eq!(billing.status(), StatusCode::NOT_FOUND);
    expect_problem(
        delete_as_admin(stack, &tenant.id).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
