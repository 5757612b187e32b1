//! The m0003 migration and the crash it shares a remedy with: a customer
//! message that no gate ever decided (the widget's first messages stored
//! before the gate existed, or a message stored just before a crash) is
//! kept, its conversation goes to a person, and the gate retry opens its
//! handoff once.

use rampart_kit::ids::{ConversationId, MessageId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::testing::{TestDatabase, request_as};
use rampart_proto::crm::v1 as proto;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm_migration::MigratorTrait;

use crate::helpers::{TestApp, new_tenant, start_request};

on_both_databases!(
    old_first_messages_become_messages_that_end_with_a_person,
    a_message_left_pending_by_a_crash_ends_with_a_person,
);

async fn old_first_messages_become_messages_that_end_with_a_person(database: TestDatabase) {
    let tenant = TenantId::generate();
    let with_message = ConversationId::generate().into_string();
    let without = ConversationId::generate().into_string();
    {
        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        rampart_crm::migration::Migrator::up(&db, Some(2))
            .await
            .unwrap();
        let started_at = chrono::Utc::now();
        for (id, text) in [(&with_message, "I smell something odd"), (&without, "")] {
            db.execute(
                &Query::insert()
                    .into_table("crm_conversation")
                    .columns([
                        "id",
                        "tenant_id",
                        "channel",
                        "origin",
                        "first_message",
                        "started_at",
                    ])
                    .values_panic([
                        id.as_str().into(),
                        tenant.as_str().into(),
                        "widget".into(),
                        "https://shop.example".into(),
                        text.into(),
                        started_at.into(),
                    ])
                    .to_owned(),
            )
            .await
            .unwrap();
        }
        rampart_kit::db::close(db).await;
    }

    // The service migrates at start.
    let app = TestApp::spawn(database).await;
    let old_column = Query::select()
        .column("first_message")
        .from("crm_conversation")
        .and_where(Expr::col("first_message").ne(""))
        .to_owned();
    assert!(app.db.query_all(&old_column).await.unwrap().is_empty());
    assert_eq!(app.count_rows("crm_message").await, 1);

    let mut crm = app.client().await;
    let key = rampart_kit::testing::tenant_principal(&tenant);
    let read = |id: &str| {
        let mut crm = crm.clone();
        let request = request_as(
            &key,
            proto::GetConversationRequest {
                conversation_id: id.to_owned(),
            },
        );
        async move { crm.get_conversation(request).await.unwrap().into_inner() }
    };
    let moved = read(&with_message).await;
    assert_eq!(moved.status, "handed_off");
    assert_eq!(moved.messages.len(), 1);
    assert_eq!(moved.messages[0].text, "I smell something odd");
    assert_eq!(moved.messages[0].gate, "pending");
    assert_eq!(moved.messages[0].created_at, moved.started_at);
    assert_eq!(moved.updated_at, moved.started_at);
    let untouched = read(&without).await;
    assert_eq!(untouched.status, "ai_active");
    assert!(untouched.messages.is_empty());

    assert_eq!(app.retry_pending_gates().await, 1);
    let forced = app.escalation.forced_gate_calls();
    assert_eq!(forced.len(), 1);
    assert_eq!(forced[0].request.channel, "widget");
    assert_eq!(forced[0].tenant_id, tenant.as_str());
    let decided = read(&with_message).await;
    assert_eq!(decided.messages[0].gate, "decided");
    assert!(!decided.handoff_id.is_empty());
    // The migrated conversation takes new messages like any other.
    crm.post_customer_message(request_as(
        &key,
        proto::PostMessageRequest {
            conversation_id: without.clone(),
            text: "hello".into(),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
}

async fn a_message_left_pending_by_a_crash_ends_with_a_person(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&key, start_request("sms", "")))
        .await
        .unwrap()
        .into_inner();
    // What a crash between storing a message and asking the gate leaves:
    // a pending message in a conversation the AI still holds.
    app.db
        .execute(
            &Query::insert()
                .into_table("crm_message")
                .columns([
                    "id",
                    "tenant_id",
                    "conversation_id",
                    "author",
                    "text",
                    "delivery",
                    "gate",
                    "findings",
                    "created_at",
                ])
                .values_panic([
                    MessageId::generate().into_string().into(),
                    tenant.as_str().into(),
                    started.id.as_str().into(),
                    "customer".into(),
                    "are you there".into(),
                    "received".into(),
                    "pending".into(),
                    "[]".into(),
                    chrono::Utc::now().into(),
                ])
                .to_owned(),
        )
        .await
        .unwrap();

    assert_eq!(app.retry_pending_gates().await, 1);
    assert_eq!(app.retry_pending_gates().await, 0);
    assert_eq!(app.escalation.forced_gate_calls().len(), 1);
    let read = crm
        .get_conversation(request_as(
            &key,
            proto::GetConversationRequest {
                conversation_id: started.id,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.status, "handed_off");
    assert!(!read.handoff_id.is_empty());
    assert_eq!(read.messages[0].gate, "decided");
    let events = app.audit_actions("conversation.handed_off").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].details["handoff_id"], read.handoff_id);
}
