//! VerifyApiKey: who holds a key, and every way a key is refused.

use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::testing::{TestDatabase, admin_principal, request_as};
use rampart_proto::auth::v1::{
    IssueApiKeyRequest, IssueApiKeyResponse, PrincipalKind, VerifyApiKeyRequest,
};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use tonic::Code;

use crate::helpers::TestAuth;

on_both_databases!(
    issued_key_verifies_as_its_tenant,
    test_keys_verify_too,
    bootstrap_admin_key_verifies,
    unknown_revoked_and_malformed_keys_are_refused,
);

async fn issue(auth: &TestAuth, tenant: &TenantId, environment: &str) -> IssueApiKeyResponse {
    auth.gateway()
        .await
        .issue_api_key(request_as(
            &admin_principal(),
            IssueApiKeyRequest {
                tenant_id: tenant.to_string(),
                name: "website".to_owned(),
                environment: environment.to_owned(),
                ..IssueApiKeyRequest::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn verify(
    auth: &TestAuth,
    key: &str,
) -> Result<rampart_proto::auth::v1::VerifyApiKeyResponse, tonic::Status> {
    auth.gateway()
        .await
        .verify_api_key(VerifyApiKeyRequest {
            api_key: key.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn issued_key_verifies_as_its_tenant(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let tenant = TenantId::generate();
    let issued = issue(&auth, &tenant, "").await;
    assert!(issued.api_key.starts_with("rk_live_"));
    assert!(issued.api_key.starts_with(&issued.display_prefix));
    assert!(issued.key_id.starts_with("key_"));

    let verified = verify(&auth, &issued.api_key).await.unwrap();
    assert_eq!(verified.kind(), PrincipalKind::Tenant);
    assert_eq!(verified.tenant_id, tenant.as_str());
    assert_eq!(verified.credential_id, issued.key_id);
    assert_eq!(verified.scopes, ["read", "write"]);

    // Only the hash is stored: the plaintext appears nowhere in the row.
    let row = auth
        .db
        .query_one(
            &Query::select()
                .columns(["key_hash", "display_prefix", "environment"])
                .from("auth_api_key")
                .to_owned(),
        )
        .await
        .unwrap()
        .unwrap();
    let key_hash: String = row.try_get("", "key_hash").unwrap();
    let environment: String = row.try_get("", "environment").unwrap();
    assert_eq!(key_hash.len(), 64);
    assert!(!issued.api_key.contains(&key_hash) && !key_hash.contains(&issued.api_key[8..]));
    assert_eq!(environment, "live");
    auth.stop().await.unwrap();
}

async fn test_keys_verify_too(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let tenant = TenantId::generate();
    let issued = issue(&auth, &tenant, "test").await;
    assert!(issued.api_key.starts_with("rk_test_"));
    let verified = verify(&auth, &issued.api_key).await.unwrap();
    assert_eq!(verified.kind(), PrincipalKind::Tenant);
    assert_eq!(verified.tenant_id, tenant.as_str());
}

async fn bootstrap_admin_key_verifies(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let verified = verify(&auth, auth.admin_key.expose()).await.unwrap();
    assert_eq!(verified.kind(), PrincipalKind::PlatformAdmin);
    assert_eq!(verified.tenant_id, "");
    assert_eq!(verified.credential_id, "bootstrap");
    assert_eq!(verified.scopes, ["admin"]);
}

async fn unknown_revoked_and_malformed_keys_are_refused(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let refused = |status: tonic::Status, message: &str| {
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_eq!(status.message(), message);
    };

    let unknown = PlaintextApiKey::generate(KeyKind::Live);
    refused(
        verify(&auth, unknown.expose()).await.unwrap_err(),
        "invalid API key",
    );
    let other_admin = PlaintextApiKey::generate(KeyKind::Admin);
    refused(
        verify(&auth, other_admin.expose()).await.unwrap_err(),
        "invalid API key",
    );

    let issued = issue(&auth, &TenantId::generate(), "live").await;
    verify(&auth, &issued.api_key).await.unwrap();
    let revoke = Query::update()
        .table("auth_api_key")
        .value("revoked_at", chrono::Utc::now())
        .and_where(Expr::col("id").eq(issued.key_id.as_str()))
        .to_owned();
    let revoked = auth.db.execute(&revoke).await.unwrap();
    assert_eq!(revoked.rows_affected(), 1);
    // Revoked and unknown keys get the same answer.
    refused(
        verify(&auth, &issued.api_key).await.unwrap_err(),
        "invalid API key",
    );

    // The last checksum character changed (to one it is not already).
    let typo = if issued.api_key.ends_with('x') {
        'y'
    } else {
        'x'
    };
    let mistyped = format!("{}{typo}", &issued.api_key[..issued.api_key.len() - 1]);
    for malformed in ["", "rk_live_123", "Bearer abc", mistyped.as_str()] {
        refused(
            verify(&auth, malformed).await.unwrap_err(),
            "malformed API key",
        );
    }
}
