//! Replies: the AI speaks only while it holds the conversation and only
//! what the guardrails let through (stored sent, redacted or blocked); when
//! the guardrails cannot be reached nothing leaves. Agents reply as
//! signed-in people.

use rampart_kit::on_both_databases;
use rampart_kit::principal::Role;
use rampart_kit::testing::{TestDatabase, expect_code, request_as};
use rampart_proto::crm::v1 as proto;
use tonic::Code;

use crate::helpers::{TestApp, new_tenant, post, start_request, user};

on_both_databases!(
    an_allowed_ai_reply_is_sent_with_the_customers_contacts_checked,
    ai_replies_are_refused_while_a_person_has_the_conversation,
    redacted_and_blocked_ai_replies_are_stored_as_such,
    ai_replies_fail_closed_when_the_guardrails_are_down,
    agent_replies_need_a_signed_in_agent,
);

async fn message_count(app: &TestApp) -> i64 {
    app.count_rows("crm_message").await
}

async fn an_allowed_ai_reply_is_sent_with_the_customers_contacts_checked(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    let customer = crm
        .create_customer(request_as(
            &key,
            proto::CreateCustomerRequest {
                name: "Ada".into(),
                phone: Some("555 867 5309".into()),
                email: Some("ada@example.com".into()),
                address: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let started = crm
        .start_conversation(request_as(
            &key,
            proto::StartConversationRequest {
                customer_id: customer.id.clone(),
                ..start_request("email", "Hi")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.customer_id, customer.id);

    let reply = crm
        .post_ai_reply(request_as(
            &key,
            post(&started.id, "Hello Ada, how can I help?"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.author, "ai");
    assert_eq!(reply.delivery, "sent");
    assert_eq!(reply.text, "Hello Ada, how can I help?");
    assert!(reply.findings.is_empty());
    assert_eq!(reply.gate, "");

    let reviews = app.escalation.review_calls();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].conversation_id, started.id);
    assert_eq!(
        reviews[0].customer_contacts,
        [customer.phone.unwrap(), customer.email.unwrap()]
    );
    assert!(app.audit_actions("ai_reply.reviewed").await.is_empty());
}

async fn ai_replies_are_refused_while_a_person_has_the_conversation(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();

    // Handed off by the gate.
    let handed_off = crm
        .start_conversation(request_as(&key, start_request("web", "I will sue you")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(handed_off.status, "handed_off");
    let before = message_count(&app).await;
    let status = expect_code(
        crm.post_ai_reply(request_as(&key, post(&handed_off.id, "Sure!")))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(status.message(), "a person has this conversation");

    // Assigned to an agent.
    let agent = user(&tenant, Role::Agent);
    let agent_id = agent.user.as_ref().unwrap().id.clone();
    crm.set_conversation_status(request_as(
        &agent,
        proto::SetConversationStatusRequest {
            conversation_id: handed_off.id.clone(),
            status: "assigned".into(),
            assignee: agent_id,
            handoff_id: handed_off.handoff_id.clone(),
        },
    ))
    .await
    .unwrap();
    expect_code(
        crm.post_ai_reply(request_as(&key, post(&handed_off.id, "Sure!")))
            .await,
        Code::FailedPrecondition,
    );

    // A customer message waiting for the gate (escalation down): the
    // conversation went to a person, and the AI stays silent.
    let waiting = crm
        .start_conversation(request_as(&key, start_request("web", "")))
        .await
        .unwrap()
        .into_inner();
    app.escalation.down();
    crm.post_customer_message(request_as(&key, post(&waiting.id, "hello")))
        .await
        .unwrap();
    app.escalation.up();
    expect_code(
        crm.post_ai_reply(request_as(&key, post(&waiting.id, "Hi!")))
            .await,
        Code::FailedPrecondition,
    );

    // Escalation says a person has it, whatever the CRM's status says.
    let marked = crm
        .start_conversation(request_as(&key, start_request("web", "hello")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(marked.status, "ai_active");
    app.escalation.mark_with_a_person(&marked.id);
    let before_marked = message_count(&app).await;
    expect_code(
        crm.post_ai_reply(request_as(&key, post(&marked.id, "Hi!")))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(message_count(&app).await, before_marked);

    // Only the marked conversation's reply reached the guardrails; the
    // others were refused before.
    assert_eq!(app.escalation.review_calls().len(), 1);
    // Nothing was stored by any refused reply (the count grew only by the
    // messages the test posted).
    assert_eq!(before, 1);
    assert!(app.audit_actions("ai_reply.reviewed").await.is_empty());
}

async fn redacted_and_blocked_ai_replies_are_stored_as_such(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&key, start_request("web", "my key?")))
        .await
        .unwrap()
        .into_inner();

    let redacted = crm
        .post_ai_reply(request_as(
            &key,
            post(&started.id, "Your key is rk_live_abc123 keep it safe"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(redacted.delivery, "redacted");
    assert_eq!(redacted.text, "Your key is [redacted] keep it safe");
    assert_eq!(redacted.findings.len(), 1);
    assert_eq!(redacted.findings[0].kind, "secret");

    let blocked = crm
        .post_ai_reply(request_as(
            &key,
            post(&started.id, "We guarantee a full refund"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(blocked.delivery, "blocked");
    assert_eq!(blocked.text, "");
    assert_eq!(blocked.findings[0].kind, "forbidden_phrase");

    // Stored as answered, the secret nowhere.
    let read = crm
        .get_conversation(request_as(
            &key,
            proto::GetConversationRequest {
                conversation_id: started.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.messages[1], redacted);
    assert_eq!(read.messages[2], blocked);
    // The block opened a handoff: the conversation is with a person now.
    assert_eq!(read.status, "handed_off");
    assert!(!read.handoff_id.is_empty());

    let reviewed = app.audit_actions("ai_reply.reviewed").await;
    assert_eq!(reviewed.len(), 2);
    assert_eq!(reviewed[0].outcome, "redacted");
    assert_eq!(reviewed[0].details["findings"], "secret");
    assert_eq!(reviewed[0].details["policy_version"], "4");
    assert_eq!(reviewed[1].outcome, "blocked");
    assert_eq!(reviewed[1].details["findings"], "forbidden_phrase");
    let handed_off = app.audit_actions("conversation.handed_off").await;
    assert_eq!(handed_off.len(), 1);
    assert_eq!(handed_off[0].details["reason"], "guardrails");
    assert_eq!(handed_off[0].details["handoff_id"], read.handoff_id);
    for event in reviewed.iter().chain(&handed_off) {
        event.check_schema().unwrap();
    }
    for payload in app.audit_payloads().await {
        assert!(!payload.contains("rk_live_abc123"), "{payload}");
        assert!(!payload.contains("refund"), "{payload}");
    }
    let stored: Vec<String> = {
        use sea_orm::ConnectionTrait;
        use sea_orm::sea_query::Query;
        let select = Query::select()
            .column("text")
            .from("crm_message")
            .to_owned();
        app.db
            .query_all(&select)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", "text").unwrap())
            .collect()
    };
    assert!(stored.iter().all(|text| !text.contains("rk_live_abc123")));
    assert!(stored.iter().all(|text| !text.contains("guarantee")));

    // And now the AI is refused: a person has it.
    expect_code(
        crm.post_ai_reply(request_as(&key, post(&started.id, "Anything else?")))
            .await,
        Code::FailedPrecondition,
    );
}

async fn ai_replies_fail_closed_when_the_guardrails_are_down(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&key, start_request("web", "hello")))
        .await
        .unwrap()
        .into_inner();
    let before = message_count(&app).await;
    app.escalation.down();
    expect_code(
        crm.post_ai_reply(request_as(&key, post(&started.id, "Hi there")))
            .await,
        Code::Unavailable,
    );
    assert_eq!(message_count(&app).await, before);
    app.escalation.up();
    crm.post_ai_reply(request_as(&key, post(&started.id, "Hi there")))
        .await
        .unwrap();
    assert_eq!(message_count(&app).await, before + 1);
}

async fn agent_replies_need_a_signed_in_agent(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&key, start_request("web", "hello")))
        .await
        .unwrap()
        .into_inner();

    // An API key, even a read-write one, is not a person.
    expect_code(
        crm.post_agent_reply(request_as(&key, post(&started.id, "I am an agent")))
            .await,
        Code::PermissionDenied,
    );
    // Nor may a person post as the customer or as the AI.
    let agent = user(&tenant, Role::Agent);
    expect_code(
        crm.post_customer_message(request_as(&agent, post(&started.id, "as customer")))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        crm.post_ai_reply(request_as(&agent, post(&started.id, "as the AI")))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(message_count(&app).await, 1);

    // An agent may step in while the AI has it.
    let reply = crm
        .post_agent_reply(request_as(&agent, post(&started.id, "Hi, I'm Sam")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.author, "agent");
    assert_eq!(reply.author_id, agent.user.as_ref().unwrap().id);
    assert_eq!(reply.delivery, "sent");
    assert_eq!(reply.text, "Hi, I'm Sam");

    // Oversize replies are refused and store nothing.
    expect_code(
        crm.post_agent_reply(request_as(&agent, post(&started.id, &"a".repeat(4001))))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(message_count(&app).await, 2);

    // Once closed, nobody replies.
    let owner = user(&tenant, Role::Owner);
    for status in ["resolved", "closed"] {
        crm.set_conversation_status(request_as(
            &owner,
            proto::SetConversationStatusRequest {
                conversation_id: started.id.clone(),
                status: status.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    }
    expect_code(
        crm.post_agent_reply(request_as(&agent, post(&started.id, "one more thing")))
            .await,
        Code::FailedPrecondition,
    );
    expect_code(
        crm.post_customer_message(request_as(&key, post(&started.id, "one more thing")))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(message_count(&app).await, 2);
}
