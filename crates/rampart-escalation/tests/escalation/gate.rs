//! The gate, called as the CRM calls it for every inbound customer message.

use rampart_kit::ids::{MessageId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{
    TestDatabase, admin_principal, count_rows, expect_code, request_as, tenant_principal,
};
use rampart_proto::escalation::v1::{Action, GateRequest, Severity};
use sea_orm::EntityTrait;
use tonic::Code;

use crate::helpers::{TestApp, gate};

on_both_databases!(
    a_decision_is_stored_once_and_replayed,
    another_tenant_cannot_reach_a_receipt,
    malformed_requests_store_nothing,
    concurrent_calls_for_one_message_decide_once,
);

async fn a_decision_is_stored_once_and_replayed(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let tenant = TenantId::generate();
    let caller = tenant_principal(&tenant);
    let mut crm = app.crm().await;
    let request = gate("what time does the Zanzibar branch open on sundays");

    let first = crm
        .gate(request_as(&caller, request.clone()))
        .await
        .unwrap()
        .into_inner();
    let receipt = first.receipt.unwrap();
    assert_eq!(receipt.action(), Action::AiAnswer);
    assert_eq!(receipt.severity(), Severity::None);
    assert_eq!(receipt.policy_version, 0);
    assert_eq!(receipt.language, "en");
    assert!(!receipt.replayed);
    assert!(first.handoff.is_none());

    // E-mail is a conversation channel too.
    let mut email = gate("hello, where is my parcel");
    email.channel = "email".to_owned();
    assert!(crm.gate(request_as(&caller, email)).await.is_ok());

    // Asked again, even with other words, the stored receipt answers.
    let mut again = request.clone();
    again.text = "I smell gas".to_owned();
    let second = crm
        .gate(request_as(&caller, again))
        .await
        .unwrap()
        .into_inner();
    let replayed = second.receipt.unwrap();
    assert!(replayed.replayed);
    assert_eq!(
        rampart_proto::escalation::v1::Receipt {
            replayed: false,
            ..replayed
        },
        receipt
    );
    assert!(second.handoff.is_none());

    // One row, which holds no word of the message.
    let db = app.db().await;
    let rows = rampart_escalation::entity::decision::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|row| row.message_id == request.message_id)
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message_id, request.message_id);
    assert_eq!(rows[0].conversation_id, request.conversation_id);
    assert_eq!(rows[0].tenant_id, tenant.as_str());
    assert!(
        !rows[0].receipt.to_lowercase().contains("zanzibar"),
        "{}",
        rows[0].receipt
    );
}

async fn another_tenant_cannot_reach_a_receipt(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let mut crm = app.crm().await;
    let owner = tenant_principal(&TenantId::generate());
    let request = gate("can I change my delivery address");
    let receipt = crm
        .gate(request_as(&owner, request.clone()))
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();

    // The same message id from another tenant: as if unknown, and no
    // decision is made or stored for it.
    let intruder = tenant_principal(&TenantId::generate());
    let status = expect_code(
        crm.gate(request_as(&intruder, request.clone())).await,
        Code::NotFound,
    );
    assert_eq!(status.message(), "message not found");
    let db = app.db().await;
    assert_eq!(count_rows(&db, "esc_decision").await, 1);

    let replayed = crm
        .gate(request_as(&owner, request))
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    assert!(replayed.replayed);
    assert_eq!(replayed.decided_at, receipt.decided_at);
}

async fn malformed_requests_store_nothing(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let mut crm = app.crm().await;
    let caller = tenant_principal(&TenantId::generate());
    let valid = gate("hello");
    let cases = [
        (
            rampart_proto::escalation::v1::GateRequest {
                conversation_id: "cnv_nope".into(),
                ..valid.clone()
            },
            "conversation_id is malformed",
        ),
        (
            rampart_proto::escalation::v1::GateRequest {
                message_id: valid.conversation_id.clone(),
                ..valid.clone()
            },
            "message_id is malformed",
        ),
        (
            rampart_proto::escalation::v1::GateRequest {
                message_id: format!("{}' OR 1=1 --", MessageId::generate()),
                ..valid.clone()
            },
            "message_id is malformed",
        ),
        (
            rampart_proto::escalation::v1::GateRequest {
                channel: "fax".into(),
                ..valid.clone()
            },
            "channel must be one of phone, sms, web or widget",
        ),
        (
            rampart_proto::escalation::v1::GateRequest {
                text: "a".repeat(4001),
                ..valid.clone()
            },
            "text must be at most 4000 characters",
        ),
        (
            rampart_proto::escalation::v1::GateRequest {
                text: "  ".into(),
                ..valid.clone()
            },
            "text must not be empty",
        ),
    ];
    for (request, message) in cases {
        let status = expect_code(
            crm.gate(request_as(&caller, request)).await,
            Code::InvalidArgument,
        );
        assert_eq!(status.message(), message);
    }
    // Only tenant credentials, from the CRM alone.
    expect_code(
        crm.gate(request_as(&admin_principal(), valid.clone()))
            .await,
        Code::PermissionDenied,
    );
    for service in [ServiceName::Auth, ServiceName::Gateway] {
        let mut other = app.client_as(service).await;
        expect_code(
            other.gate(request_as(&caller, valid.clone())).await,
            Code::PermissionDenied,
        );
    }
    let db = app.db().await;
    assert_eq!(count_rows(&db, "esc_decision").await, 0);
}

async fn concurrent_calls_for_one_message_decide_once(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let caller = tenant_principal(&TenantId::generate());
    let request = gate("is the shop open tomorrow");
    let (mut a, mut b) = (app.crm().await, app.crm().await);
    let (first, second) = tokio::join!(
        a.gate(request_as(&caller, request.clone())),
        b.gate(request_as(&caller, request.clone())),
    );
    let first = first.unwrap().into_inner().receipt.unwrap();
    let second = second.unwrap().into_inner().receipt.unwrap();
    assert_eq!(
        [first.replayed, second.replayed]
            .iter()
            .filter(|r| **r)
            .count(),
        1
    );
    assert_eq!(first.decided_at, second.decided_at);
    let db = app.db().await;
    assert_eq!(count_rows(&db, "esc_decision").await, 1);
}

#[tokio::test]
async fn a_handoff_decision_opens_the_conversations_handoff_once() {
    let app = TestApp::spawn().await;
    let tenant = TenantId::generate();
    let caller = tenant_principal(&tenant);
    let mut crm = app.crm().await;
    let request = gate("I smell gas in the kitchen");
    let first = crm
        .gate(request_as(&caller, request.clone()))
        .await
        .unwrap()
        .into_inner();
    let receipt = first.receipt.unwrap();
    assert_eq!(receipt.action(), Action::Handoff);
    assert_eq!(receipt.severity(), Severity::Critical);
    assert!(
        receipt
            .signals
            .iter()
            .any(|s| s.starts_with("rule:en:emergency:"))
    );
    let handoff = first.handoff.expect("the handoff is opened");
    assert_eq!(handoff.conversation_id, request.conversation_id);
    assert_eq!(handoff.message_id, request.message_id);

    let again = crm
        .gate(request_as(&caller, request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(again.receipt.unwrap().replayed);
    assert_eq!(again.handoff.unwrap().id, handoff.id);

    // Forced (escalation was down when the message came) on a message for
    // the AI: at least medium, with the reason.
    let mut forced = gate("what are your opening hours");
    forced.force_handoff = true;
    let forced = crm
        .gate(request_as(&caller, forced))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(forced.receipt.unwrap().action(), Action::AiAnswer);
    let handoff = forced.handoff.expect("a forced handoff");
    assert!(handoff.severity() >= Severity::Medium);
    assert!(
        handoff
            .reasons
            .iter()
            .any(|r| r == rampart_escalation::grpc::UNREACHABLE_REASON)
    );
    let db = app.db().await;
    assert_eq!(count_rows(&db, "esc_handoff").await, 2);

    // Decided for the AI, but the CRM never got the answer and gave the
    // conversation to a person: the forced retry finds the stored receipt
    // and still opens the handoff, once.
    let lost = gate("do you sell gift cards");
    let decided = crm
        .gate(request_as(&caller, lost.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(decided.handoff.is_none());
    let retry = GateRequest {
        force_handoff: true,
        ..lost
    };
    for _ in 0..2 {
        let retried = crm
            .gate(request_as(&caller, retry.clone()))
            .await
            .unwrap()
            .into_inner();
        assert!(retried.receipt.unwrap().replayed);
        assert!(
            retried.handoff.is_some(),
            "a forced retry opens the handoff"
        );
    }
    assert_eq!(count_rows(&db, "esc_handoff").await, 3);

    // A tenant-defined intent hands off too.
    app.put_policy(
        &tenant,
        r#"{"detection": {"intents": [{"name": "warranty_claim", "severity": "medium",
                                      "phrases": {"en": ["warranty claim"]}}]}}"#,
    )
    .await;
    let claim = crm
        .gate(request_as(&caller, gate("I want to make a warranty claim")))
        .await
        .unwrap()
        .into_inner();
    let receipt = claim.receipt.unwrap();
    assert_eq!(receipt.intents, ["warranty_claim"]);
    assert_eq!(receipt.policy_version, 1);
    assert!(claim.handoff.is_some());
}
