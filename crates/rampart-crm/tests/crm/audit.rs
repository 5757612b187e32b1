//! Audit events: recorded in the outbox in the same transaction as the
//! change, kept there while the audit service is down, free of personal
//! data, and absent when the change did not happen.

use std::time::Duration;

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::testing::{
    TestDatabase, admin_principal, expect_code, request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use tonic::Code;

use crate::helpers::TestApp;

on_both_databases!(
    events_wait_in_the_outbox_while_audit_is_down,
    failed_calls_record_no_event
);

async fn events_wait_in_the_outbox_while_audit_is_down(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;

    let request = proto::CreateTenantRequest {
        name: "Secret Plumbing Co".into(),
        office_domains: vec!["secret-plumbing.example".into()],
    };
    let created = crm
        .create_tenant(request_as(&admin_principal(), request))
        .await
        .unwrap()
        .into_inner();
    let tenant_id = TenantId::parse(&created.id).unwrap();
    let owner = tenant_principal(&tenant_id);
    let request = proto::CreateCustomerRequest {
        name: "Grace Hopper".into(),
        phone: Some("555 867 5309".into()),
        email: Some("grace.hopper@navy.example".into()),
        address: Some("1 Harbor Way".into()),
    };
    let customer = crm
        .create_customer(request_as(&owner, request))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(app.pending_audit().await, 2);
    // The relay has been woken, tried to reach audit, failed, and tried
    // again; the events are still there, waiting for it.
    app.audit
        .wait_for_attempts(2, Duration::from_secs(10))
        .await;
    assert_eq!(app.pending_audit().await, 2);

    let records = app.audit_records().await;
    let tenant_event = &records[0];
    assert_eq!(tenant_event.action, "tenant.created");
    assert_eq!(tenant_event.target, format!("tenant:{}", created.id));
    assert_eq!(tenant_event.tenant_id.as_deref(), Some(created.id.as_str()));
    assert_eq!(tenant_event.actor, "admin_key:bootstrap");
    assert_eq!(tenant_event.request_id, "req-admin");
    assert_eq!(tenant_event.outcome, "success");

    let customer_event = &records[1];
    assert_eq!(customer_event.action, "customer.created");
    assert_eq!(customer_event.target, format!("customer:{}", customer.id));
    assert_eq!(
        customer_event.tenant_id.as_deref(),
        Some(created.id.as_str())
    );
    assert_eq!(
        customer_event.actor,
        format!("api_key:{}", owner.credential_id)
    );
    assert_eq!(customer_event.request_id, "req-tenant");
    assert_ne!(tenant_event.event_id, customer_event.event_id);

    for payload in app.audit_payloads().await {
        for personal in [
            "Secret Plumbing",
            "Grace",
            "Hopper",
            "grace.hopper",
            "5558675309",
            "Harbor",
        ] {
            assert!(
                !payload.contains(personal),
                "{personal:?} leaked into {payload}"
            );
        }
    }
}

async fn failed_calls_record_no_event(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let owner = tenant_principal(&TenantId::generate());

    let request = proto::CreateCustomerRequest {
        name: "Ada".into(),
        email: Some("not-an-email".into()),
        ..Default::default()
    };
    expect_code(
        crm.create_customer(request_as(&owner, request)).await,
        Code::InvalidArgument,
    );
    let request = proto::CreateTenantRequest {
        name: String::new(),
        office_domains: vec![],
    };
    expect_code(
        crm.create_tenant(request_as(&admin_principal(), request))
            .await,
        Code::InvalidArgument,
    );
    let request = proto::CreateCustomerRequest {
        name: "Ada".into(),
        ..Default::default()
    };
    expect_code(
        crm.create_customer(request_as(&admin_principal(), request))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(app.pending_audit().await, 0);

    // Reads are not audited here; one successful create is one event.
    let request = proto::CreateCustomerRequest {
        name: "Ada".into(),
        ..Default::default()
    };
    crm.create_customer(request_as(&owner, request))
        .await
        .unwrap();
    crm.list_customers(request_as(&owner, proto::ListCustomersRequest::default()))
        .await
        .unwrap();
    assert_eq!(app.pending_audit().await, 1);
}
