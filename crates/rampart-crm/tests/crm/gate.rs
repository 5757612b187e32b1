//! The gate no customer message skips: every message, the first included,
//! is decided by escalation and stored with its receipt; a handoff takes
//! the conversation to a person; when escalation is down the message is
//! kept and the conversation goes to a person anyway (fail closed), and the
//! handoff opens exactly once when escalation is back.

use std::time::Duration;

use rampart_crm::gate::GateRetry;
use rampart_kit::on_both_databases;
use rampart_kit::testing::{TestDatabase, request_as};
use rampart_proto::crm::v1 as proto;
use rampart_proto::escalation::v1 as escalation;

use crate::helpers::{TestApp, new_tenant, post, start_request};

on_both_databases!(
    a_message_is_decided_and_stored_with_its_receipt,
    a_handoff_takes_the_conversation_to_a_person,
    escalation_down_keeps_the_message_and_fails_closed,
    the_retry_opens_each_handoff_once_when_escalation_is_back,
    the_retry_worker_runs_by_itself,
);

async fn a_message_is_decided_and_stored_with_its_receipt(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();

    let started = crm
        .start_conversation(request_as(
            &key,
            start_request("web", "Where is my parcel?"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.status, "ai_active");
    assert_eq!(started.messages.len(), 1);
    let first = &started.messages[0];
    assert_eq!(first.author, "customer");
    assert_eq!(first.delivery, "received");
    assert_eq!(first.gate, "decided");
    let receipt = first.receipt.as_ref().expect("the first message's receipt");
    assert_eq!(receipt.action(), escalation::Action::AiAnswer);
    assert_eq!(receipt.language, "en");

    let message = crm
        .post_customer_message(request_as(&key, post(&started.id, "And when?")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(message.gate, "decided");
    assert_eq!(
        message.receipt.as_ref().unwrap().action(),
        escalation::Action::AiAnswer
    );

    // Escalation was asked about each message once, as the tenant, with
    // the conversation's channel, and without forcing a handoff.
    let calls = app.escalation.gate_calls();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.tenant_id, tenant.as_str());
        assert_eq!(call.request.conversation_id, started.id);
        assert_eq!(call.request.channel, "web");
        assert!(!call.request.force_handoff);
    }
    assert_eq!(calls[0].request.message_id, first.id);
    assert_eq!(calls[1].request.message_id, message.id);
    assert_eq!(calls[1].request.text, "And when?");

    // Stored as answered: reading the conversation gives the same.
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
    assert_eq!(read.messages.len(), 2);
    assert_eq!(read.messages[0], *first);
    assert_eq!(read.messages[1], message);
    assert_eq!(read.status, "ai_active");
    assert!(
        app.audit_actions("conversation.handed_off")
            .await
            .is_empty()
    );
}

async fn a_handoff_takes_the_conversation_to_a_person(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();

    // The widget's first message is gated like any other.
    let started = crm
        .start_conversation(request_as(&key, start_request("widget", "I smell gas")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.status, "handed_off");
    assert!(!started.handoff_id.is_empty());
    let receipt = started.messages[0].receipt.as_ref().unwrap();
    assert_eq!(receipt.action(), escalation::Action::Handoff);
    assert_eq!(receipt.intents, ["emergency"]);
    assert_eq!(receipt.signals, ["rule:en:emergency:stub"]);

    let events = app.audit_actions("conversation.handed_off").await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.target, format!("conversation:{}", started.id));
    assert_eq!(event.details["reason"], "gate");
    assert_eq!(event.details["handoff_id"], started.handoff_id);
    assert_eq!(event.details["severity"], "high");
    event.check_schema().unwrap();
    // Nothing the customer wrote reaches the log.
    for payload in app.audit_payloads().await {
        assert!(!payload.contains("smell"), "{payload}");
    }

    // A later message joins the same handoff: no second audit event.
    let message = crm
        .post_customer_message(request_as(&key, post(&started.id, "I will sue")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(message.gate, "decided");
    assert_eq!(app.audit_actions("conversation.handed_off").await.len(), 1);
}

async fn escalation_down_keeps_the_message_and_fails_closed(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&key, start_request("sms", "")))
        .await
        .unwrap()
        .into_inner();
    assert!(started.messages.is_empty());

    app.escalation.down();
    // Not an error: the message is kept and a person will answer.
    let message = crm
        .post_customer_message(request_as(&key, post(&started.id, "Hello?")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(message.gate, "pending");
    assert!(message.receipt.is_none());
    assert_eq!(message.text, "Hello?");

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
    assert_eq!(read.status, "handed_off");
    assert_eq!(read.handoff_id, "");
    assert_eq!(read.messages, [message]);

    let events = app.audit_actions("conversation.handed_off").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].details["reason"], "escalation_unavailable");
    events[0].check_schema().unwrap();

    // A first message while escalation is down is kept the same way.
    let second = crm
        .start_conversation(request_as(&key, start_request("web", "Are you there?")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.status, "handed_off");
    assert_eq!(second.messages[0].gate, "pending");
}

async fn the_retry_opens_each_handoff_once_when_escalation_is_back(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&key, start_request("web", "")))
        .await
        .unwrap()
        .into_inner();

    app.escalation.down();
    let mut pending = Vec::new();
    for text in ["first", "second"] {
        let message = crm
            .post_customer_message(request_as(&key, post(&started.id, text)))
            .await
            .unwrap()
            .into_inner();
        pending.push(message.id);
    }
    // While escalation is down the retry decides nothing.
    assert_eq!(app.retry_pending_gates().await, 0);
    assert!(app.escalation.gate_calls().is_empty());

    app.escalation.up();
    assert_eq!(app.retry_pending_gates().await, 2);
    let forced = app.escalation.forced_gate_calls();
    assert_eq!(forced.len(), 2);
    let forced_ids: Vec<&str> = forced
        .iter()
        .map(|call| call.request.message_id.as_str())
        .collect();
    assert_eq!(forced_ids, pending);
    assert!(forced.iter().all(|call| call.tenant_id == tenant.as_str()));

    // A second pass finds nothing left to do.
    assert_eq!(app.retry_pending_gates().await, 0);
    assert_eq!(app.escalation.gate_calls().len(), 2);

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
    assert_eq!(read.status, "handed_off");
    assert!(!read.handoff_id.is_empty());
    assert!(read.messages.iter().all(|m| m.gate == "decided"));
    assert!(read.messages.iter().all(|m| m.receipt.is_some()));

    // One event when it went to a person, one when the handoff opened.
    let events = app.audit_actions("conversation.handed_off").await;
    assert_eq!(events.len(), 2);
    assert!(!events[0].details.contains_key("handoff_id"));
    assert_eq!(events[1].details["handoff_id"], read.handoff_id);
    assert_eq!(events[1].actor, "system:crm");
    for event in &events {
        assert_eq!(event.details["reason"], "escalation_unavailable");
        event.check_schema().unwrap();
    }
}

async fn the_retry_worker_runs_by_itself(database: TestDatabase) {
    let fast = GateRetry {
        tick: Duration::from_millis(50),
        min_age: Duration::ZERO,
    };
    let app = TestApp::spawn_with(database, fast).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    app.escalation.down();
    let started = crm
        .start_conversation(request_as(&key, start_request("phone", "hello")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.messages[0].gate, "pending");
    app.escalation.up();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let read = loop {
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
        if read.messages[0].gate == "decided" {
            break read;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gate retry did not decide the pending message"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(read.status, "handed_off");
    assert!(!read.handoff_id.is_empty());
    assert_eq!(app.escalation.forced_gate_calls().len(), 1);
}
