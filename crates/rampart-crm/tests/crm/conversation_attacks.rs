//! Attacks on conversations: another tenant's conversation answers
//! NOT_FOUND on every route, exactly like an unknown or malformed id;
//! oversize and malformed input, and callers without the right scope or
//! role, are refused; none of it changes anything.

use rampart_kit::ids::{ConversationId, CustomerId};
use rampart_kit::on_both_databases;
use rampart_kit::principal::{Principal, Role};
use rampart_kit::testing::{TestDatabase, expect_code, request_as, tenant_principal};
use rampart_proto::crm::v1 as proto;
use tonic::Code;

use crate::helpers::{TestApp, new_tenant, post, start_request, user};

on_both_databases!(
    another_tenants_conversation_is_not_found_on_every_route,
    bad_input_and_wrong_callers_change_nothing,
);

/// What the database holds, to compare before and after a refused call.
async fn snapshot(app: &TestApp) -> (i64, i64, u64, Vec<String>) {
    (
        app.count_rows("crm_conversation").await,
        app.count_rows("crm_message").await,
        app.pending_audit().await,
        app.audit_payloads().await,
    )
}

/// Every conversation route, called on `id` as `as_key` (keys) and
/// `as_agent` (people), each expected to answer `code`.
async fn every_route_answers(
    app: &TestApp,
    as_key: &Principal,
    as_agent: &Principal,
    id: &str,
    code: Code,
) {
    let mut crm = app.client().await;
    let get = proto::GetConversationRequest {
        conversation_id: id.to_owned(),
    };
    expect_code(
        crm.get_conversation(request_as(as_key, get.clone())).await,
        code,
    );
    expect_code(crm.get_conversation(request_as(as_agent, get)).await, code);
    expect_code(
        crm.post_customer_message(request_as(as_key, post(id, "hello")))
            .await,
        code,
    );
    expect_code(
        crm.post_ai_reply(request_as(as_key, post(id, "hello")))
            .await,
        code,
    );
    expect_code(
        crm.post_agent_reply(request_as(as_agent, post(id, "hello")))
            .await,
        code,
    );
    let summary = proto::SetSummaryRequest {
        conversation_id: id.to_owned(),
        summary: "mine now".into(),
    };
    expect_code(crm.set_summary(request_as(as_key, summary)).await, code);
    for status in ["resolved", "assigned", "ai_active"] {
        let step = proto::SetConversationStatusRequest {
            conversation_id: id.to_owned(),
            status: status.into(),
            assignee: as_agent.user.as_ref().unwrap().id.clone(),
            handoff_id: String::new(),
        };
        expect_code(
            crm.set_conversation_status(request_as(as_agent, step))
                .await,
            code,
        );
    }
}

async fn another_tenants_conversation_is_not_found_on_every_route(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (victim, victim_key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&victim_key, start_request("web", "I will sue")))
        .await
        .unwrap()
        .into_inner();
    let victim_agent = user(&victim, Role::Owner);
    crm.post_agent_reply(request_as(&victim_agent, post(&started.id, "On it")))
        .await
        .unwrap();

    let (attacker, attacker_key) = new_tenant();
    let attacker_agent = user(&attacker, Role::Owner);
    let before = snapshot(&app).await;
    let gate_calls = app.escalation.gate_calls().len();

    for id in [
        started.id.clone(),
        ConversationId::generate().into_string(),
        "cnv_nope".to_owned(),
        CustomerId::generate().into_string(),
        String::new(),
    ] {
        every_route_answers(&app, &attacker_key, &attacker_agent, &id, Code::NotFound).await;
    }
    // The victim's conversation answered exactly like an unknown one.
    let status = expect_code(
        crm.get_conversation(request_as(
            &attacker_key,
            proto::GetConversationRequest {
                conversation_id: started.id.clone(),
            },
        ))
        .await,
        Code::NotFound,
    );
    assert_eq!(status.message(), "conversation not found");
    // Nor is it listed, whatever the filters.
    let listed = crm
        .list_conversations(request_as(
            &attacker_key,
            proto::ListConversationsRequest {
                status: "handed_off".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.conversations.is_empty());
    let early = crm
        .list_conversations(request_as(
            &attacker_key,
            proto::ListConversationsRequest {
                cursor: ConversationId::generate().into_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(early.conversations.is_empty());

    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.escalation.gate_calls().len(), gate_calls);
    assert!(app.escalation.review_calls().is_empty());

    // The victim still sees it unchanged.
    let read = crm
        .get_conversation(request_as(
            &victim_key,
            proto::GetConversationRequest {
                conversation_id: started.id,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.status, "handed_off");
    assert_eq!(read.summary, "");
    assert_eq!(read.messages.len(), 2);
}

async fn bad_input_and_wrong_callers_change_nothing(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&key, start_request("web", "hello")))
        .await
        .unwrap()
        .into_inner();
    let before = snapshot(&app).await;
    let id = started.id.as_str();

    // Oversize and malformed text.
    for text in ["a".repeat(2001), String::new(), "bell\u{7}".into()] {
        expect_code(
            crm.post_customer_message(request_as(&key, post(id, &text)))
                .await,
            Code::InvalidArgument,
        );
        // (An empty first message is no first message, and is fine.)
        if !text.is_empty() {
            expect_code(
                crm.start_conversation(request_as(&key, start_request("web", &text)))
                    .await,
                Code::InvalidArgument,
            );
        }
    }
    expect_code(
        crm.post_ai_reply(request_as(&key, post(id, &"a".repeat(4001))))
            .await,
        Code::InvalidArgument,
    );
    for (channel, origin) in [("fax", ""), ("web", &*"o".repeat(301))] {
        expect_code(
            crm.start_conversation(request_as(
                &key,
                proto::StartConversationRequest {
                    origin: origin.to_owned(),
                    ..start_request(channel, "hi")
                },
            ))
            .await,
            Code::InvalidArgument,
        );
    }

    // Wrong callers: a read-only key, the platform admin (no tenant), a
    // key without scopes.
    let read_only = Principal {
        mode: rampart_kit::principal::DataMode::Live,
        scopes: vec!["read".into()],
        ..tenant_principal(&tenant)
    };
    expect_code(
        crm.post_customer_message(request_as(&read_only, post(id, "hi")))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        crm.post_ai_reply(request_as(&read_only, post(id, "hi")))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        crm.start_conversation(request_as(&read_only, start_request("web", "hi")))
            .await,
        Code::PermissionDenied,
    );
    let admin = rampart_kit::testing::admin_principal();
    expect_code(
        crm.start_conversation(request_as(&admin, start_request("web", "hi")))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        crm.get_conversation(request_as(
            &admin,
            proto::GetConversationRequest {
                conversation_id: id.to_owned(),
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    let no_scope = Principal {
        mode: rampart_kit::principal::DataMode::Live,
        scopes: vec![],
        ..tenant_principal(&tenant)
    };
    expect_code(
        crm.list_conversations(request_as(
            &no_scope,
            proto::ListConversationsRequest::default(),
        ))
        .await,
        Code::PermissionDenied,
    );
    assert_eq!(snapshot(&app).await, before);
}
