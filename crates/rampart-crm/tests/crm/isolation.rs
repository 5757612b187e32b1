//! Tenant isolation and role checks: a tenant sees only its own customers,
//! and each RPC answers only the kind of principal it is for.

use rampart_kit::ids::{CustomerId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::testing::{
    TestDatabase, admin_principal, expect_code, request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use tonic::{Code, Request};

use crate::customers::{create, list};
use crate::support::TestApp;

on_both_databases!(
    another_tenants_customer_is_not_found,
    roles_are_enforced,
    calls_without_a_principal_are_refused,
);

async fn another_tenants_customer_is_not_found(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let mut create_tenant = async |name: &str| {
        let request = proto::CreateTenantRequest {
            name: name.to_owned(),
            office_domains: vec![],
        };
        let created = crm
            .create_tenant(request_as(&admin_principal(), request))
            .await
            .unwrap()
            .into_inner();
        tenant_principal(&TenantId::parse(&created.id).unwrap())
    };
    let tenant_a = create_tenant("Tenant A").await;
    let tenant_b = create_tenant("Tenant B").await;

    let customer = create(&mut crm, &tenant_a, "Ada Lovelace").await;
    let get = |id: &str| proto::GetCustomerRequest {
        customer_id: id.to_owned(),
    };

    // The owner reads it; the other tenant is told it does not exist, the
    // same answer as for an id that exists nowhere or does not even parse.
    assert!(
        crm.get_customer(request_as(&tenant_a, get(&customer.id)))
            .await
            .is_ok()
    );
    let unknown = CustomerId::generate().into_string();
    let a_tenant_id = tenant_a.tenant_id().unwrap().as_str().to_owned();
    for id in [
        customer.id.as_str(),
        unknown.as_str(),
        "cus_nope",
        "",
        a_tenant_id.as_str(),
    ] {
        let status = expect_code(
            crm.get_customer(request_as(&tenant_b, get(id))).await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "customer not found", "{id:?}");
    }

    let listed = list(&mut crm, &tenant_b, 0, "").await.unwrap();
    assert!(listed.customers.is_empty());
    // A cursor before every id (A's customer included) still finds none.
    let lowest = "cus_00000000000000000000000000000000";
    let listed = list(&mut crm, &tenant_b, 0, lowest).await.unwrap();
    assert!(listed.customers.is_empty());
    let listed_a = list(&mut crm, &tenant_a, 0, "").await.unwrap();
    assert_eq!(listed_a.customers, [customer]);

    // A tenant reads its own record (the gateway checks passwords against
    // its name), and no other tenant's.
    let tenant = |id: &str| proto::GetTenantRequest {
        tenant_id: id.to_owned(),
    };
    let own = crm
        .get_tenant(request_as(&tenant_a, tenant(&a_tenant_id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.name, "Tenant A");
    expect_code(
        crm.get_tenant(request_as(&tenant_b, tenant(&a_tenant_id)))
            .await,
        Code::PermissionDenied,
    );
}

async fn roles_are_enforced(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let tenant_principal = tenant_principal(&TenantId::generate());
    let some_tenant = TenantId::generate().into_string();

    let status = expect_code(
        crm.create_tenant(request_as(
            &tenant_principal,
            proto::CreateTenantRequest {
                name: "Sneaky".into(),
                office_domains: vec![],
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    assert_eq!(
        status.message(),
        "this action needs a platform admin credential"
    );
    expect_code(
        crm.get_tenant(request_as(
            &tenant_principal,
            proto::GetTenantRequest {
                tenant_id: some_tenant.clone(),
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    expect_code(
        crm.list_tenants(request_as(
            &tenant_principal,
            proto::ListTenantsRequest::default(),
        ))
        .await,
        Code::PermissionDenied,
    );

    let status = expect_code(
        crm.create_customer(request_as(
            &admin_principal(),
            proto::CreateCustomerRequest {
                name: "Nobody's".into(),
                ..Default::default()
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    assert_eq!(status.message(), "this action needs a tenant credential");
    expect_code(
        crm.get_customer(request_as(
            &admin_principal(),
            proto::GetCustomerRequest {
                customer_id: CustomerId::generate().into_string(),
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    expect_code(
        crm.list_customers(request_as(
            &admin_principal(),
            proto::ListCustomersRequest::default(),
        ))
        .await,
        Code::PermissionDenied,
    );

    assert_eq!(app.count_rows("crm_tenant").await, 0);
    assert_eq!(app.count_rows("crm_customer").await, 0);
    assert_eq!(app.pending_audit().await, 0);
}

async fn calls_without_a_principal_are_refused(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    expect_code(
        crm.list_customers(Request::new(proto::ListCustomersRequest::default()))
            .await,
        Code::Unauthenticated,
    );
    expect_code(
        crm.create_tenant(Request::new(proto::CreateTenantRequest {
            name: "Anon".into(),
            office_domains: vec![],
        }))
        .await,
        Code::Unauthenticated,
    );
    assert_eq!(app.count_rows("crm_tenant").await, 0);
}
