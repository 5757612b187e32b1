//! SetTenantAccess: billing suspends and restores a tenant's access, and
//! key verification answers it; nothing else of the tenant changes.

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::testing::{
    TestDatabase, admin_principal, expect_code, request_as, tenant_principal,
};
use rampart_proto::auth::v1::{
    ContainIncidentRequest, IncidentRequest, IssueApiKeyRequest, SetTenantAccessRequest,
    SetTenantAccessResponse, VerifyApiKeyRequest, VerifyApiKeyResponse,
};
use tonic::Code;

use crate::helpers::TestAuth;

on_both_databases!(
    suspension_is_answered_with_the_key_and_lifted_again,
    only_platform_admins_set_access,
    an_incidents_isolation_is_apart_from_billing,
);

async fn issue(auth: &TestAuth, tenant: &TenantId) -> String {
    auth.gateway()
        .await
        .issue_api_key(request_as(
            &admin_principal(),
            IssueApiKeyRequest {
                tenant_id: tenant.to_string(),
                name: "website".to_owned(),
                ..IssueApiKeyRequest::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .api_key
}

async fn verify(auth: &TestAuth, key: &str) -> VerifyApiKeyResponse {
    auth.gateway()
        .await
        .verify_api_key(VerifyApiKeyRequest {
            api_key: key.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn set(
    auth: &TestAuth,
    tenant: &TenantId,
    suspended: bool,
    state: &str,
) -> Result<SetTenantAccessResponse, tonic::Status> {
    auth.gateway()
        .await
        .set_tenant_access(request_as(
            &admin_principal(),
            SetTenantAccessRequest {
                tenant_id: tenant.to_string(),
                suspended,
                billing_state: state.to_owned(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn suspension_is_answered_with_the_key_and_lifted_again(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let tenant = TenantId::generate();
    let other = TenantId::generate();
    let key = issue(&auth, &tenant).await;
    let other_key = issue(&auth, &other).await;
    assert!(!verify(&auth, &key).await.tenant_suspended);

    let answer = set(&auth, &tenant, true, "suspended").await.unwrap();
    assert!(answer.suspended && answer.changed);
    let verified = verify(&auth, &key).await;
    assert!(verified.tenant_suspended);
    assert_eq!(
        verified.tenant_id,
        tenant.as_str(),
        "the key itself is intact"
    );
    assert!(!verify(&auth, &other_key).await.tenant_suspended);
    // The bootstrap admin key has no tenant, so is never suspended.
    assert!(
        !verify(&auth, auth.admin_key.expose())
            .await
            .tenant_suspended
    );

    // Repeating converges, without a second change.
    let again = set(&auth, &tenant, true, "canceled").await.unwrap();
    assert!(again.suspended && !again.changed);

    let restored = set(&auth, &tenant, false, "active").await.unwrap();
    assert!(!restored.suspended && restored.changed);
    assert!(!verify(&auth, &key).await.tenant_suspended);
    assert_eq!(auth.count("auth_tenant_access").await, 1);
}

async fn only_platform_admins_set_access(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let tenant = TenantId::generate();
    let key = issue(&auth, &tenant).await;
    let own = auth
        .gateway()
        .await
        .set_tenant_access(request_as(
            &tenant_principal(&tenant),
            SetTenantAccessRequest {
                tenant_id: tenant.to_string(),
                suspended: false,
                billing_state: "active".to_owned(),
            },
        ))
        .await;
    expect_code(own, Code::PermissionDenied);
    for state in ["Suspended!", ""] {
        expect_code(
            set(&auth, &tenant, true, state).await,
            Code::InvalidArgument,
        );
    }
    let malformed = auth
        .gateway()
        .await
        .set_tenant_access(request_as(
            &admin_principal(),
            SetTenantAccessRequest {
                tenant_id: "ten_nope".to_owned(),
                suspended: true,
                billing_state: "suspended".to_owned(),
            },
        ))
        .await;
    expect_code(malformed, Code::InvalidArgument);
    assert!(
        !verify(&auth, &key).await.tenant_suspended,
        "refusals change nothing"
    );
    assert_eq!(auth.count("auth_tenant_access").await, 0);
}

async fn contain(auth: &TestAuth, tenant: &TenantId) -> String {
    auth.gateway()
        .await
        .contain_incident(request_as(
            &admin_principal(),
            ContainIncidentRequest {
                target_kind: "tenant".to_owned(),
                target_id: tenant.to_string(),
                reason: "drill".to_owned(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .incident_id
}

async fn restore(auth: &TestAuth, incident_id: &str) {
    auth.gateway()
        .await
        .restore_incident(request_as(
            &admin_principal(),
            IncidentRequest {
                incident_id: incident_id.to_owned(),
            },
        ))
        .await
        .unwrap();
}

/// (suspended by billing, isolated by an incident), as verification says.
async fn access(auth: &TestAuth, key: &str) -> (bool, bool) {
    let verified = verify(auth, key).await;
    (verified.tenant_suspended, verified.tenant_isolated)
}

/// Billing cannot lift an incident's isolation, restoring an incident
/// leaves billing's suspension alone, and a tenant stays isolated until its
/// last open incident is restored.
async fn an_incidents_isolation_is_apart_from_billing(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let tenant = TenantId::generate();
    let other = TenantId::generate();
    issue(&auth, &tenant).await;
    let other_key = issue(&auth, &other).await;

    let incident = contain(&auth, &tenant).await;
    // Containment revoked the tenant's keys; one issued since is refused
    // by the isolation alone.
    let key = issue(&auth, &tenant).await;
    assert_eq!(access(&auth, &key).await, (false, true));
    assert_eq!(access(&auth, &other_key).await, (false, false));
    assert!(!verify(&auth, auth.admin_key.expose()).await.tenant_isolated);

    // Billing reactivating the account does not let the tenant back in.
    set(&auth, &tenant, false, "active").await.unwrap();
    assert_eq!(access(&auth, &key).await, (false, true));
    // Billing suspending it meanwhile is billing's, and outlives restore.
    set(&auth, &tenant, true, "suspended").await.unwrap();
    assert_eq!(access(&auth, &key).await, (true, true));
    restore(&auth, &incident).await;
    assert_eq!(access(&auth, &key).await, (true, false));
    set(&auth, &tenant, false, "active").await.unwrap();
    assert_eq!(access(&auth, &key).await, (false, false));

    // Two open incidents: restoring one leaves the tenant isolated by the
    // other.
    let first = contain(&auth, &tenant).await;
    let key = issue(&auth, &tenant).await;
    let second = contain(&auth, &tenant).await;
    let key_after = issue(&auth, &tenant).await;
    assert_eq!(access(&auth, &key_after).await, (false, true));
    restore(&auth, &first).await;
    assert_eq!(access(&auth, &key_after).await, (false, true));
    restore(&auth, &second).await;
    assert_eq!(access(&auth, &key_after).await, (false, false));
    // The key the second containment revoked stays revoked.
    let refused = auth
        .gateway()
        .await
        .verify_api_key(VerifyApiKeyRequest { api_key: key })
        .await;
    assert!(refused.is_err(), "a revoked key stays revoked");
    assert_eq!(auth.count("auth_tenant_access").await, 1);
}
