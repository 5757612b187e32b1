//! IssueApiKey: who may issue, what input is accepted, and the audit event
//! that commits with the key.

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::testing::{TestDatabase, admin_principal, request_as, tenant_principal};
use rampart_proto::auth::v1::IssueApiKeyRequest;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::Query;
use tonic::Code;

use crate::helpers::TestAuth;

on_both_databases!(
    only_platform_admins_may_issue,
    bad_input_is_refused_and_nothing_is_stored,
    issue_event_waits_in_the_outbox_while_audit_is_down,
);

fn request(tenant_id: &str, name: &str, environment: &str) -> IssueApiKeyRequest {
    IssueApiKeyRequest {
        tenant_id: tenant_id.to_owned(),
        name: name.to_owned(),
        environment: environment.to_owned(),
        ..IssueApiKeyRequest::default()
    }
}

async fn only_platform_admins_may_issue(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let mut client = auth.gateway().await;
    let own_tenant = TenantId::generate();

    let as_tenant = request_as(
        &tenant_principal(&own_tenant),
        request(own_tenant.as_str(), "x", ""),
    );
    let status = client.issue_api_key(as_tenant).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // The gateway always sends a principal; a call without one is refused.
    let anonymous = tonic::Request::new(request(own_tenant.as_str(), "x", ""));
    let status = client.issue_api_key(anonymous).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    assert_eq!(auth.count("auth_api_key").await, 0);
    assert_eq!(auth.count("auth_audit_outbox").await, 0);
}

async fn bad_input_is_refused_and_nothing_is_stored(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let mut client = auth.gateway().await;
    let good_tenant = TenantId::generate().into_string();
    let long_name = "n".repeat(101);
    let cases = [
        request("platform", "x", ""),
        request("ten_nope", "x", ""),
        request("cus_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f", "x", ""),
        request(&good_tenant, &long_name, ""),
        request(&good_tenant, "web\nsite", ""),
        request(&good_tenant, "x", "prod"),
        request(&good_tenant, "x", "LIVE"),
    ];
    for case in cases {
        let shown = format!("{case:?}");
        let status = client
            .issue_api_key(request_as(&admin_principal(), case))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{shown}: {status:?}");
    }
    assert_eq!(auth.count("auth_api_key").await, 0);
    assert_eq!(auth.count("auth_audit_outbox").await, 0);

    // The boundaries themselves are accepted; an empty name is "default".
    let name_at_limit = "n".repeat(100);
    for (name, environment) in [(name_at_limit.as_str(), "live"), ("  ", "test")] {
        client
            .issue_api_key(request_as(
                &admin_principal(),
                request(&good_tenant, name, environment),
            ))
            .await
            .unwrap();
    }
    let names = auth
        .db
        .query_all(
            &Query::select()
                .column("name")
                .from("auth_api_key")
                .to_owned(),
        )
        .await
        .unwrap();
    let mut names: Vec<String> = names
        .iter()
        .map(|r| r.try_get("", "name").unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["default".to_owned(), name_at_limit]);
}

async fn issue_event_waits_in_the_outbox_while_audit_is_down(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let target_tenant = TenantId::generate();
    let issued = auth
        .gateway()
        .await
        .issue_api_key(request_as(
            &admin_principal(),
            request(target_tenant.as_str(), "zapier", ""),
        ))
        .await
        .unwrap()
        .into_inner();

    // The relay tried, failed, and tried again; the event is still there.
    auth.audit
        .wait_for_attempts(2, std::time::Duration::from_secs(10))
        .await;
    let outbox = Outbox::new("auth_audit_outbox");
    assert_eq!(outbox.pending(&auth.db).await.unwrap(), 1);

    let row = auth
        .db
        .query_one(
            &Query::select()
                .column("payload")
                .from("auth_audit_outbox")
                .to_owned(),
        )
        .await
        .unwrap()
        .unwrap();
    let payload: String = row.try_get("", "payload").unwrap();
    assert!(
        !payload.contains(&issued.api_key),
        "the key leaked into the outbox"
    );
    let record: AuditRecord = serde_json::from_str(&payload).unwrap();
    assert_eq!(record.action, "api_key.issued");
    assert_eq!(record.target, format!("api_key:{}", issued.key_id));
    assert_eq!(record.tenant_id.as_deref(), Some(target_tenant.as_str()));
    assert_eq!(record.actor, "admin_key:bootstrap");
    assert_eq!(record.credential_id, "bootstrap");
    assert_eq!(record.request_id, "req-admin");
    assert_eq!(record.outcome, "success");
    auth.stop().await.unwrap();
}
