//! Tenants: created, read and listed by platform admins.

use rampart_kit::ids::{CustomerId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::testing::{TestDatabase, admin_principal, expect_code, request_as};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::TestApp;

on_both_databases!(
    tenants_are_created_read_and_listed,
    unknown_tenants_are_not_found,
    page_size_and_cursor_are_checked,
);

async fn list(
    crm: &mut CrmServiceClient<Channel>,
    page_size: u32,
    cursor: &str,
) -> Result<proto::ListTenantsResponse, tonic::Status> {
    let request = proto::ListTenantsRequest {
        page_size,
        cursor: cursor.to_owned(),
    };
    crm.list_tenants(request_as(&admin_principal(), request))
        .await
        .map(tonic::Response::into_inner)
}

async fn tenants_are_created_read_and_listed(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;

    let mut created = Vec::new();
    for i in 0..5 {
        let request = proto::CreateTenantRequest {
            name: format!("  Tenant {i} "),
            office_domains: vec![
                format!("Tenant{i}.Example.COM"),
                format!("tenant{i}.example.com"),
            ],
        };
        let tenant = crm
            .create_tenant(request_as(&admin_principal(), request))
            .await
            .unwrap()
            .into_inner();
        assert!(TenantId::parse(&tenant.id).is_ok(), "{}", tenant.id);
        assert_eq!(tenant.name, format!("Tenant {i}"));
        assert_eq!(tenant.office_domains, [format!("tenant{i}.example.com")]);
        assert!(tenant.created_at.ends_with('Z'), "{}", tenant.created_at);
        chrono::DateTime::parse_from_rfc3339(&tenant.created_at).unwrap();
        created.push(tenant);
    }

    let request = proto::GetTenantRequest {
        tenant_id: created[2].id.clone(),
    };
    let fetched = crm
        .get_tenant(request_as(&admin_principal(), request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, created[2]);

    // Pages of two: 2 + 2 + 1, in creation order, the last without a cursor.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut page_lengths = Vec::new();
    loop {
        let page = list(&mut crm, 2, &cursor).await.unwrap();
        page_lengths.push(page.tenants.len());
        seen.extend(page.tenants);
        if page.next_cursor.is_empty() {
            break;
        }
        assert_eq!(page.next_cursor, seen.last().unwrap().id);
        cursor = page.next_cursor;
    }
    assert_eq!(page_lengths, [2, 2, 1]);
    assert_eq!(seen, created);

    // The default page holds them all; a page exactly filled is the last.
    let all = list(&mut crm, 0, "").await.unwrap();
    assert_eq!(all.tenants, created);
    assert!(all.next_cursor.is_empty());
    let exact = list(&mut crm, 5, "").await.unwrap();
    assert_eq!(exact.tenants.len(), 5);
    assert!(exact.next_cursor.is_empty());
    let after_last = list(&mut crm, 5, &created[4].id).await.unwrap();
    assert!(after_last.tenants.is_empty());
    assert!(after_last.next_cursor.is_empty());
}

async fn unknown_tenants_are_not_found(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let unknown = TenantId::generate().into_string();
    for tenant_id in [
        unknown.as_str(),
        "ten_nope",
        "",
        "cus_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f",
    ] {
        let request = proto::GetTenantRequest {
            tenant_id: tenant_id.to_owned(),
        };
        let status = expect_code(
            crm.get_tenant(request_as(&admin_principal(), request))
                .await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "tenant not found");
    }
}

async fn page_size_and_cursor_are_checked(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    assert!(list(&mut crm, 100, "").await.is_ok());

    let status = expect_code(list(&mut crm, 101, "").await, Code::InvalidArgument);
    assert_eq!(status.message(), "page_size must be at most 100");

    let customer_id = CustomerId::generate().into_string();
    for cursor in ["nope", "ten_", customer_id.as_str()] {
        let status = expect_code(list(&mut crm, 10, cursor).await, Code::InvalidArgument);
        assert_eq!(status.message(), "cursor is malformed");
    }
}
