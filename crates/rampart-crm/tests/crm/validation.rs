//! Malformed input: every field refused with InvalidArgument naming it, and
//! nothing stored, not even an audit event.

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::testing::{
    TestDatabase, admin_principal, expect_code, request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use tonic::Code;

use crate::helpers::TestApp;

on_both_databases!(
    malformed_tenants_are_refused_and_not_stored,
    malformed_customers_are_refused_and_not_stored,
);

async fn malformed_tenants_are_refused_and_not_stored(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let tenant = |name: &str, domains: &[&str]| proto::CreateTenantRequest {
        name: name.to_owned(),
        office_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
    };
    let long_label = format!("{}.com", "a".repeat(64));
    let too_many: Vec<String> = (0..21).map(|i| format!("d{i}.example.com")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let long_name = "a".repeat(201);
    let cases = [
        (tenant("", &[]), "name "),
        (tenant(" \t ", &[]), "name "),
        (tenant(&long_name, &[]), "name "),
        (tenant("Acme\u{7}Plumbing", &[]), "name "),
        (tenant("Acme", &["nodot"]), "office_domains[0] "),
        (
            tenant("Acme", &["ok.example.com", "-bad.example.com"]),
            "office_domains[1] ",
        ),
        (
            tenant("Acme", &["under_score.example.com"]),
            "office_domains[0] ",
        ),
        (tenant("Acme", &[long_label.as_str()]), "office_domains[0] "),
        (tenant("Acme", &["example.com."]), "office_domains[0] "),
        (tenant("Acme", &too_many), "office_domains "),
    ];
    for (request, field) in cases {
        let status = expect_code(
            crm.create_tenant(request_as(&admin_principal(), request))
                .await,
            Code::InvalidArgument,
        );
        assert!(status.message().starts_with(field), "{field:?}: {status:?}");
    }
    assert_eq!(app.count_rows("crm_tenant").await, 0);
    assert_eq!(app.pending_audit().await, 0);
}

async fn malformed_customers_are_refused_and_not_stored(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let owner = tenant_principal(&TenantId::generate());
    let valid = proto::CreateCustomerRequest {
        name: "Ada Lovelace".into(),
        phone: Some("+1 555 123 4567".into()),
        email: Some("ada@example.com".into()),
        address: Some("12 Oak Court".into()),
    };
    let with = |change: &dyn Fn(&mut proto::CreateCustomerRequest)| {
        let mut request = valid.clone();
        change(&mut request);
        request
    };
    let long_name = "a".repeat(201);
    let long_address = "a".repeat(501);
    let cases = [
        (with(&|r| r.name = String::new()), "name "),
        (with(&|r| r.name = "   ".into()), "name "),
        (with(&|r| r.name = long_name.clone()), "name "),
        (with(&|r| r.name = "Ada\nLovelace".into()), "name "),
        (with(&|r| r.phone = Some("12345".into())), "phone "),
        (with(&|r| r.phone = Some("555-CALL-NOW".into())), "phone "),
        (
            with(&|r| r.phone = Some("+1234567890123456".into())),
            "phone ",
        ),
        (with(&|r| r.phone = Some(String::new())), "phone "),
        (
            with(&|r| r.email = Some("ada.example.com".into())),
            "email ",
        ),
        (
            with(&|r| r.email = Some("ada@b@example.com".into())),
            "email ",
        ),
        (with(&|r| r.email = Some("ada@localhost".into())), "email "),
        (with(&|r| r.email = Some("@example.com".into())), "email "),
        (with(&|r| r.email = Some(String::new())), "email "),
        (
            with(&|r| r.address = Some(long_address.clone())),
            "address ",
        ),
        (
            with(&|r| r.address = Some("12 Oak Court\nLondon".into())),
            "address ",
        ),
        (with(&|r| r.address = Some("  ".into())), "address "),
    ];
    for (request, field) in cases {
        let status = expect_code(
            crm.create_customer(request_as(&owner, request)).await,
            Code::InvalidArgument,
        );
        assert!(status.message().starts_with(field), "{field:?}: {status:?}");
    }
    assert_eq!(app.count_rows("crm_customer").await, 0);
    assert_eq!(app.pending_audit().await, 0);

    // The base request itself is fine: the refusals above were the fields.
    assert!(crm.create_customer(request_as(&owner, valid)).await.is_ok());
    assert_eq!(app.count_rows("crm_customer").await, 1);
}
