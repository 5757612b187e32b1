//! Live and test data: a `rk_test_` key's conversation gets a test-mode
//! decision and handoff that live credentials (sessions, live keys) never
//! see, list, claim or replay, and the reverse; a test-mode handoff climbs
//! its chain on the queue but notifies nobody. The principal reaches the
//! gate as the CRM relays it, so these tests also show the relay keeps its
//! data mode.

use chrono::Utc;
use rampart_escalation::OUTBOX_TABLE;
use rampart_escalation::handoffs::deadlines::TEST_MODE_REASON;
use rampart_escalation::handoffs::notify::SmtpConfig;
use rampart_escalation::handoffs::{WebhookTargets, deliver_due_notifications, fire_due_deadlines};
use rampart_escalation::intents::Severity;
use rampart_escalation::scope::DataScope;
use rampart_kit::ids::{ConversationId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::outbox::Outbox;
use rampart_kit::principal::{DataMode, Principal, Role};
use rampart_kit::testing::{TestDatabase, count_rows, expect_code, request_as, tenant_principal};
use rampart_proto::escalation::v1 as proto;
use rampart_proto::escalation::v1::handoff_service_client::HandoffServiceClient;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::gate;
use crate::notifications::{SECRET, policy_with, smtp_server, webhook_receiver};
use crate::queue_helpers::{
    QueueApp, assert_nobody_is_forgotten, audit_events, connect, handoff_state, insert_policy,
    notifications, open, open_in, user,
};

on_both_databases!(
    a_test_key_s_handoff_is_invisible_to_live_credentials,
    a_live_handoff_is_invisible_to_test_keys,
    a_message_decided_in_one_mode_is_not_found_in_the_other,
    a_test_mode_handoff_notifies_nobody,
);

const EMERGENCY: &str = "I can smell gas in the kitchen, what should I do?";

fn by_id(id: &str) -> proto::HandoffRequest {
    proto::HandoffRequest {
        handoff_id: id.to_owned(),
    }
}

/// A `rk_test_` key of `tenant`, as the gateway (and the CRM after it)
/// passes it on.
fn test_key(tenant: &TenantId) -> Principal {
    tenant_principal(tenant).in_mode(DataMode::Test)
}

/// The ids of the open and claimed handoffs `principal` sees.
async fn queue_of(queue: &mut HandoffServiceClient<Channel>, principal: &Principal) -> Vec<String> {
    queue
        .list_handoffs(request_as(principal, proto::ListHandoffsRequest::default()))
        .await
        .expect("listing handoffs")
        .into_inner()
        .handoffs
        .into_iter()
        .map(|handoff| handoff.id)
        .collect()
}

/// Every step by `principal` on `id` answers NOT_FOUND.
async fn no_step_finds(queue: &mut HandoffServiceClient<Channel>, principal: &Principal, id: &str) {
    let status = expect_code(
        queue.get_handoff(request_as(principal, by_id(id))).await,
        Code::NotFound,
    );
    assert_eq!(status.message(), "handoff not found");
    if principal.user.is_none() {
        return;
    }
    expect_code(
        queue.claim_handoff(request_as(principal, by_id(id))).await,
        Code::NotFound,
    );
    expect_code(
        queue
            .resolve_handoff(request_as(principal, by_id(id)))
            .await,
        Code::NotFound,
    );
    expect_code(
        queue.hand_back(request_as(principal, by_id(id))).await,
        Code::NotFound,
    );
}

/// The `mode` column of `table`'s row whose `key` is `value`.
async fn mode_of(db: &DatabaseConnection, table: &'static str, key: &str, value: &str) -> String {
    let query = Query::select()
        .column("mode")
        .from(table)
        .and_where(Expr::col(key.to_owned()).eq(value))
        .to_owned();
    let row = db.query_one(&query).await.unwrap().expect("the row");
    row.try_get("", "mode").unwrap()
}

async fn no_step_was_taken(db: &DatabaseConnection) {
    for action in ["handoff.claimed", "handoff.resolved", "handoff.handed_back"] {
        assert!(audit_events(db, action).await.is_empty(), "{action}");
    }
}

async fn a_test_key_s_handoff_is_invisible_to_live_credentials(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let tenant = TenantId::generate();
    let tester = test_key(&tenant);
    let message = gate(EMERGENCY);
    let mut crm = app.crm().await;
    let handoff = crm
        .gate(request_as(&tester, message.clone()))
        .await
        .unwrap()
        .into_inner()
        .handoff
        .expect("an emergency opens a handoff");
    assert_eq!(handoff.severity(), proto::Severity::Critical);
    assert_eq!(
        mode_of(&app.db, "esc_handoff", "id", &handoff.id).await,
        "test"
    );
    assert_eq!(
        mode_of(&app.db, "esc_decision", "message_id", &message.message_id).await,
        "test"
    );

    // The test key's own queue holds it.
    let mut queue = app.client().await;
    assert_eq!(queue_of(&mut queue, &tester).await, [handoff.id.as_str()]);
    queue
        .get_handoff(request_as(&tester, by_id(&handoff.id)))
        .await
        .expect("the test key reads its handoff");

    // Live people and a live key of the same tenant: an empty queue, and
    // the id is as unknown as another tenant's.
    let live = [
        user(&tenant, Role::Agent),
        user(&tenant, Role::Owner),
        tenant_principal(&tenant),
    ];
    for principal in &live {
        assert!(queue_of(&mut queue, principal).await.is_empty());
        no_step_finds(&mut queue, principal, &handoff.id).await;
    }
    // Nothing changed: still open, nobody's, no step audited.
    let after = queue
        .get_handoff(request_as(&tester, by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (after.status.as_str(), after.assignee.as_str(), after.level),
        ("open", "", 1)
    );
    no_step_was_taken(&app.db).await;

    // A person has the conversation in test mode only.
    let review = |principal: &Principal| {
        request_as(
            principal,
            proto::ReviewReplyRequest {
                conversation_id: message.conversation_id.clone(),
                text: "We open at nine.".to_owned(),
                customer_contacts: Vec::new(),
            },
        )
    };
    let in_test = crm
        .review_reply(review(&tester))
        .await
        .unwrap()
        .into_inner();
    assert!(in_test.human_has_conversation);
    let in_live = crm
        .review_reply(review(&tenant_principal(&tenant)))
        .await
        .unwrap()
        .into_inner();
    assert!(!in_live.human_has_conversation);
}

async fn a_live_handoff_is_invisible_to_test_keys(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let tenant = TenantId::generate();
    let live_key = tenant_principal(&tenant);
    let handoff = app
        .crm()
        .await
        .gate(request_as(&live_key, gate(EMERGENCY)))
        .await
        .unwrap()
        .into_inner()
        .handoff
        .expect("an emergency opens a handoff");
    assert_eq!(
        mode_of(&app.db, "esc_handoff", "id", &handoff.id).await,
        "live"
    );

    let mut queue = app.client().await;
    let tester = test_key(&tenant);
    assert!(queue_of(&mut queue, &tester).await.is_empty());
    no_step_finds(&mut queue, &tester, &handoff.id).await;
    // Sessions are always live; a test-mode person is made up here to show
    // that the steps are scoped as well as the reads.
    no_step_finds(
        &mut queue,
        &user(&tenant, Role::Owner).in_mode(DataMode::Test),
        &handoff.id,
    )
    .await;
    no_step_was_taken(&app.db).await;

    // Live behaviour is unchanged: the live agent sees it and claims it.
    let agent = user(&tenant, Role::Agent);
    assert_eq!(queue_of(&mut queue, &agent).await, [handoff.id.as_str()]);
    let claimed = queue
        .claim_handoff(request_as(&agent, by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(claimed.status, "claimed");
    assert_eq!(audit_events(&app.db, "handoff.claimed").await.len(), 1);
}

async fn a_message_decided_in_one_mode_is_not_found_in_the_other(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let tenant = TenantId::generate();
    let (tester, live_key) = (test_key(&tenant), tenant_principal(&tenant));
    let mut crm = app.crm().await;
    for (first, second) in [(&tester, &live_key), (&live_key, &tester)] {
        let message = gate("what time do you open on saturday");
        let receipt = crm
            .gate(request_as(first, message.clone()))
            .await
            .unwrap()
            .into_inner()
            .receipt
            .unwrap();
        // The other mode neither learns the receipt nor gets a decision or
        // a handoff, forced or not.
        for force_handoff in [false, true] {
            let status = expect_code(
                crm.gate(request_as(
                    second,
                    proto::GateRequest {
                        force_handoff,
                        ..message.clone()
                    },
                ))
                .await,
                Code::NotFound,
            );
            assert_eq!(status.message(), "message not found");
        }
        let replayed = crm
            .gate(request_as(first, message))
            .await
            .unwrap()
            .into_inner()
            .receipt
            .unwrap();
        assert!(replayed.replayed);
        assert_eq!(replayed.decided_at, receipt.decided_at);
    }
    assert_eq!(count_rows(&app.db, "esc_decision").await, 2);
    assert_eq!(count_rows(&app.db, "esc_handoff").await, 0);
}

async fn a_test_mode_handoff_notifies_nobody(database: TestDatabase) {
    let db = connect(&database).await;
    let outbox = Outbox::new(OUTBOX_TABLE);
    let (relay, mut inbox) = smtp_server().await;
    let smtp = SmtpConfig {
        relay,
        from: "rampart@example.com".to_owned(),
    };
    let (url, received) = webhook_receiver(200).await;
    let tenant = TenantId::generate();
    // One policy for both modes: an e-mail contact and a webhook.
    let policy = insert_policy(&db, &tenant, 1, &policy_with(Some(&url)), Some(SECRET)).await;
    let scope = DataScope {
        tenant_id: tenant.clone(),
        mode: DataMode::Test,
    };
    let tested = open_in(
        &db,
        &scope,
        &ConversationId::generate(),
        Severity::Critical,
        &policy,
        1,
    )
    .await;
    assert!(notifications(&db).await.is_empty());

    // Its deadline passes: it climbs to level 2 on the queue, audited as
    // notifying nobody, and nothing goes out.
    let later = Utc::now() + chrono::Duration::seconds(5);
    assert_eq!(fire_due_deadlines(&db, &outbox, later).await.unwrap(), 1);
    assert_eq!(handoff_state(&db, &tested.id).await.0, 2);
    assert!(notifications(&db).await.is_empty());
    let escalated = audit_events(&db, "handoff.escalated").await;
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0]["target"], format!("handoff:{}", tested.id));
    assert_eq!(escalated[0]["details"]["contacts"], "");
    assert_eq!(escalated[0]["details"]["reason"], TEST_MODE_REASON);
    assert_eq!(
        deliver_due_notifications(&db, &outbox, Some(&smtp), WebhookTargets::AnyAddress, later)
            .await
            .unwrap(),
        0
    );

    // The same policy's live handoff notifies both, and only it: the
    // receivers work, so their silence above was the test mode's.
    let live = open(&db, &tenant, Severity::Critical, &policy, 1).await;
    let rows = notifications(&db).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|row| row.handoff_id == live.id), "{rows:?}");
    assert_eq!(
        deliver_due_notifications(
            &db,
            &outbox,
            Some(&smtp),
            WebhookTargets::AnyAddress,
            Utc::now()
        )
        .await
        .unwrap(),
        2
    );
    let mail = tokio::time::timeout(std::time::Duration::from_secs(10), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(mail.data.contains(&live.id), "{}", mail.data);
    assert!(!mail.data.contains(&tested.id), "{}", mail.data);
    let requests = received.lock().await.clone();
    assert_eq!(requests.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["handoff_id"], live.id);
    assert!(inbox.try_recv().is_err(), "one e-mail only");
    assert_nobody_is_forgotten(&db).await;
}
