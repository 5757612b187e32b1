//! Only the gateway may call the CRM: another service's certificate, valid
//! as it is, does not get in, whatever principal metadata it sends.

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{
    TestDatabase, admin_principal, expect_code, request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use tonic::Code;

use crate::helpers::TestApp;

on_both_databases!(other_services_are_refused_even_with_principal_metadata);

async fn other_services_are_refused_even_with_principal_metadata(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let tenant_principal = tenant_principal(&TenantId::generate());
    for service in [
        ServiceName::Auth,
        ServiceName::Escalation,
        ServiceName::Audit,
        ServiceName::Crm,
    ] {
        let mut crm = app.client_as(service).await;
        let request = proto::CreateCustomerRequest {
            name: "Mallory".into(),
            ..Default::default()
        };
        let status = expect_code(
            crm.create_customer(request_as(&tenant_principal, request))
                .await,
            Code::PermissionDenied,
        );
        assert_eq!(
            status.message(),
            "caller is not allowed to use this service"
        );
        expect_code(
            crm.list_customers(request_as(
                &tenant_principal,
                proto::ListCustomersRequest::default(),
            ))
            .await,
            Code::PermissionDenied,
        );
        let request = proto::CreateTenantRequest {
            name: "Mallory Inc".into(),
            office_domains: vec![],
        };
        expect_code(
            crm.create_tenant(request_as(&admin_principal(), request))
                .await,
            Code::PermissionDenied,
        );
    }
    assert_eq!(app.count_rows("crm_tenant").await, 0);
    assert_eq!(app.count_rows("crm_customer").await, 0);
    assert_eq!(app.pending_audit().await, 0);

    // The gateway, with the same metadata, is let in.
    let mut gateway = app.client().await;
    let request = proto::CreateCustomerRequest {
        name: "Alice".into(),
        ..Default::default()
    };
    assert!(
        gateway
            .create_customer(request_as(&tenant_principal, request))
            .await
            .is_ok()
    );
}
