//! Test mode: what a `rk_test_` key writes is invisible to live
//! credentials, and live data is invisible to it, on every CRM call; the
//! two modes share nothing but the tenant (not even idempotency keys).

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::principal::{DataMode, Principal, Role};
use rampart_kit::testing::{TestDatabase, expect_code, request_as, tenant_principal};
use rampart_proto::crm::v1 as proto;
use tonic::Code;

use crate::customers::{create, list};
use crate::helpers::{TestApp, post, start_request, user};

on_both_databases!(
    test_and_live_customers_never_meet,
    test_and_live_conversations_never_meet,
    a_pending_test_message_is_retried_in_test_mode,
);

/// `tenant`'s read-write key in test mode.
fn test_key(tenant: &TenantId) -> Principal {
    tenant_principal(tenant).in_mode(DataMode::Test)
}

async fn test_and_live_customers_never_meet(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let tenant = TenantId::generate();
    let live = tenant_principal(&tenant);
    let test = test_key(&tenant);

    let live_customer = create(&mut crm, &live, "Live Lena").await;
    let test_customer = create(&mut crm, &test, "Test Tobias").await;

    for (reader, theirs) in [(&live, &test_customer), (&test, &live_customer)] {
        let request = proto::GetCustomerRequest {
            customer_id: theirs.id.clone(),
        };
        expect_code(
            crm.get_customer(request_as(reader, request)).await,
            Code::NotFound,
        );
    }
    let live_list = list(&mut crm, &live, 100, "").await.unwrap();
    assert_eq!(
        ids(&live_list.customers),
        std::slice::from_ref(&live_customer.id)
    );
    let test_list = list(&mut crm, &test, 100, "").await.unwrap();
    assert_eq!(ids(&test_list.customers), [test_customer.id]);
    // A signed-in person works on live data.
    let manager = user(&tenant, Role::Manager);
    let listed = list(&mut crm, &manager, 100, "").await.unwrap();
    assert_eq!(ids(&listed.customers), [live_customer.id]);
}

fn ids(customers: &[proto::Customer]) -> Vec<String> {
    customers.iter().map(|c| c.id.clone()).collect()
}

async fn test_and_live_conversations_never_meet(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let tenant = TenantId::generate();
    let live = tenant_principal(&tenant);
    let test = test_key(&tenant);

    // One idempotency key, used in both modes: two conversations, neither
    // replaying the other's.
    let request = proto::StartConversationRequest {
        idempotency_key: "same-key".into(),
        ..start_request("web", "hello")
    };
    let live_conversation = crm
        .start_conversation(request_as(&live, request.clone()))
        .await
        .unwrap()
        .into_inner();
    let test_conversation = crm
        .start_conversation(request_as(&test, request))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(live_conversation.id, test_conversation.id);
    assert_eq!(app.count_rows("crm_conversation").await, 2);

    // Neither mode reads, lists or writes in the other's conversation.
    for (caller, theirs) in [
        (&live, &test_conversation.id),
        (&test, &live_conversation.id),
    ] {
        let get = proto::GetConversationRequest {
            conversation_id: theirs.clone(),
        };
        expect_code(
            crm.get_conversation(request_as(caller, get)).await,
            Code::NotFound,
        );
        expect_code(
            crm.post_customer_message(request_as(caller, post(theirs, "mine now")))
                .await,
            Code::NotFound,
        );
        let summary = proto::SetSummaryRequest {
            conversation_id: theirs.clone(),
            summary: "overwritten".into(),
        };
        expect_code(
            crm.set_summary(request_as(caller, summary)).await,
            Code::NotFound,
        );
    }
    assert_eq!(app.count_rows("crm_message").await, 2);
    let listed = crm
        .list_conversations(request_as(
            &test,
            proto::ListConversationsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<_> = listed.conversations.iter().map(|c| &c.id).collect();
    assert_eq!(listed, [&test_conversation.id]);
}

async fn a_pending_test_message_is_retried_in_test_mode(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let tenant = TenantId::generate();
    let test = test_key(&tenant);

    app.escalation.down();
    let started = crm
        .start_conversation(request_as(&test, start_request("web", "is anyone there")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.messages[0].gate, "pending");
    app.escalation.up();
    assert_eq!(app.retry_pending_gates().await, 1);

    // Decided, and still the test key's alone.
    let get = proto::GetConversationRequest {
        conversation_id: started.id.clone(),
    };
    let read = crm
        .get_conversation(request_as(&test, get.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.messages[0].gate, "decided");
    expect_code(
        crm.get_conversation(request_as(&tenant_principal(&tenant), get))
            .await,
        Code::NotFound,
    );
}
