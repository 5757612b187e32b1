//! Customers: created, read and listed by a tenant principal.

use rampart_kit::ids::{CustomerId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::principal::Principal;
use rampart_kit::testing::{TestDatabase, expect_code, request_as, tenant_principal};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::TestApp;

on_both_databases!(
    customers_are_created_read_and_listed,
    list_page_size_and_cursor_are_checked
);

pub async fn create(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    name: &str,
) -> proto::Customer {
    let request = proto::CreateCustomerRequest {
        name: name.to_owned(),
        ..Default::default()
    };
    crm.create_customer(request_as(principal, request))
        .await
        .unwrap()
        .into_inner()
}

pub async fn list(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    page_size: u32,
    cursor: &str,
) -> Result<proto::ListCustomersResponse, tonic::Status> {
    let request = proto::ListCustomersRequest {
        page_size,
        cursor: cursor.to_owned(),
        ..Default::default()
    };
    crm.list_customers(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

async fn customers_are_created_read_and_listed(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let owner = tenant_principal(&TenantId::generate());

    let request = proto::CreateCustomerRequest {
        name: "  Ada Lovelace ".into(),
        phone: Some("+44 (20) 7946-0958".into()),
        email: Some("Ada.L@Example.COM".into()),
        address: Some(" 12 Oak Court, London ".into()),
    };
    let ada = crm
        .create_customer(request_as(&owner, request))
        .await
        .unwrap()
        .into_inner();
    assert!(CustomerId::parse(&ada.id).is_ok(), "{}", ada.id);
    assert_eq!(ada.name, "Ada Lovelace");
    assert_eq!(ada.phone.as_deref(), Some("+442079460958"));
    assert_eq!(ada.email.as_deref(), Some("Ada.L@example.com"));
    assert_eq!(ada.address.as_deref(), Some("12 Oak Court, London"));
    assert!(ada.created_at.ends_with('Z'), "{}", ada.created_at);
    chrono::DateTime::parse_from_rfc3339(&ada.created_at).unwrap();

    let request = proto::GetCustomerRequest {
        customer_id: ada.id.clone(),
    };
    let fetched = crm
        .get_customer(request_as(&owner, request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, ada);

    let grace = create(&mut crm, &owner, "Grace Hopper").await;
    assert_eq!(
        (
            grace.phone.as_ref(),
            grace.email.as_ref(),
            grace.address.as_ref()
        ),
        (None, None, None)
    );
    let alan = create(&mut crm, &owner, "Alan Turing").await;

    let first = list(&mut crm, &owner, 2, "").await.unwrap();
    assert_eq!(first.customers, [ada.clone(), grace.clone()]);
    assert_eq!(first.next_cursor, grace.id);
    let second = list(&mut crm, &owner, 2, &first.next_cursor).await.unwrap();
    assert_eq!(second.customers, std::slice::from_ref(&alan));
    assert!(second.next_cursor.is_empty());

    let all = list(&mut crm, &owner, 0, "").await.unwrap();
    assert_eq!(all.customers, [ada, grace, alan]);
    assert!(all.next_cursor.is_empty());
}

async fn list_page_size_and_cursor_are_checked(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let owner = tenant_principal(&TenantId::generate());

    let status = expect_code(list(&mut crm, &owner, 101, "").await, Code::InvalidArgument);
    assert_eq!(status.message(), "page_size must be at most 100");
    let tenant_id = TenantId::generate().into_string();
    for cursor in ["cus_", "garbage", tenant_id.as_str()] {
        let status = expect_code(
            list(&mut crm, &owner, 10, cursor).await,
            Code::InvalidArgument,
        );
        assert_eq!(status.message(), "cursor is malformed");
    }
}
