//! The deadline worker: a missed deadline escalates exactly once, whether
//! driven by hand with a chosen `now`, raced on two connections, run by two
//! escalation instances, or across a restart; the chain climbs, repeats and
//! rests on its last level.

use std::time::Duration;

use chrono::Utc;
use rampart_escalation::OUTBOX_TABLE;
use rampart_escalation::handoffs::fire_due_deadlines;
use rampart_escalation::intents::Severity;
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::outbox::Outbox;
use rampart_kit::principal::Role;
use rampart_kit::testing::{TestDatabase, request_as};
use rampart_proto::escalation::v1 as proto;
use serde_json::json;

use crate::queue_helpers::{
    QueueApp, assert_nobody_is_forgotten, audit_events, connect, eventually, handoff_state,
    insert_policy, open, user,
};

on_both_databases!(
    a_missed_deadline_escalates_once,
    two_connections_racing_fire_the_step_once,
    the_chain_repeats_then_rests_on_its_last_level,
    a_claimed_handoff_does_not_escalate,
    two_service_instances_fire_a_deadline_once,
    a_deadline_fires_after_a_restart_once,
    a_handoff_with_an_unreadable_policy_holds_up_no_other,
);

/// Two levels: a security contact first (1 s after the due time on
/// repeats), then the managers; critical handoffs are due in 1 s.
fn short_policy(repeats: u32) -> serde_json::Value {
    due_in(1, repeats)
}

fn due_in(critical_secs: u32, repeats: u32) -> serde_json::Value {
    json!({
        "response_targets": {"critical_secs": critical_secs, "high_secs": 60, "medium_secs": 60, "low_secs": 60},
        "contacts": [{"name": "sec", "kind": "security", "email": "sec@example.com"}],
        "chain": {
            "levels": [
                {"contacts": ["sec"], "delay_secs": 1},
                {"roles": ["manager", "owner"], "delay_secs": 3600}
            ],
            "repeats": repeats
        }
    })
}

fn seconds(secs: i64) -> chrono::Duration {
    chrono::Duration::seconds(secs)
}

async fn a_missed_deadline_escalates_once(database: TestDatabase) {
    let db = connect(&database).await;
    let outbox = Outbox::new(OUTBOX_TABLE);
    let tenant = TenantId::generate();
    let policy = insert_policy(&db, &tenant, 1, &short_policy(0), None).await;
    let handoff = open(&db, &tenant, Severity::Critical, &policy, 1).await;
    let now = Utc::now();

    assert_eq!(fire_due_deadlines(&db, &outbox, now).await.unwrap(), 0);
    assert_eq!(
        fire_due_deadlines(&db, &outbox, now + seconds(5))
            .await
            .unwrap(),
        1
    );
    let (level, round, next) = handoff_state(&db, &handoff.id).await;
    assert_eq!((level, round), (2, 0));
    let next = next.expect("level 2 has a deadline");
    assert!(next > now + seconds(3000), "{next}");
    assert_eq!(
        fire_due_deadlines(&db, &outbox, now + seconds(5))
            .await
            .unwrap(),
        0
    );

    let events = audit_events(&db, "handoff.escalated").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "system:escalation");
    assert_eq!(events[0]["details"]["level"], "2");
    assert_eq!(events[0]["details"]["round"], "0");
    assert_eq!(
        events[0]["details"]["conversation_id"],
        handoff.conversation_id
    );
    assert_nobody_is_forgotten(&db).await;
}

async fn two_connections_racing_fire_the_step_once(database: TestDatabase) {
    let (one, two) = (connect(&database).await, connect(&database).await);
    let outbox = Outbox::new(OUTBOX_TABLE);
    let tenant = TenantId::generate();
    let policy = insert_policy(&one, &tenant, 1, &short_policy(0), None).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(open(&one, &tenant, Severity::Critical, &policy, 1).await.id);
    }
    let later = Utc::now() + seconds(5);
    let (a, b) = tokio::join!(
        fire_due_deadlines(&one, &outbox, later),
        fire_due_deadlines(&two, &outbox, later),
    );
    assert_eq!(a.unwrap() + b.unwrap(), 5);
    for id in &ids {
        assert_eq!(handoff_state(&one, id).await.0, 2);
    }
    assert_eq!(audit_events(&one, "handoff.escalated").await.len(), 5);
    assert_nobody_is_forgotten(&one).await;
}

async fn the_chain_repeats_then_rests_on_its_last_level(database: TestDatabase) {
    let db = connect(&database).await;
    let outbox = Outbox::new(OUTBOX_TABLE);
    let tenant = TenantId::generate();
    let policy = insert_policy(&db, &tenant, 1, &short_policy(1), None).await;
    let handoff = open(&db, &tenant, Severity::Critical, &policy, 1).await;
    let mut now = Utc::now();
    for (level, round) in [(2, 0), (1, 1), (2, 1)] {
        now += seconds(7200);
        assert_eq!(fire_due_deadlines(&db, &outbox, now).await.unwrap(), 1);
        let state = handoff_state(&db, &handoff.id).await;
        assert_eq!((state.0, state.1), (level, round));
        assert!(state.2.is_some());
        assert_nobody_is_forgotten(&db).await;
    }
    now += seconds(7200);
    assert_eq!(fire_due_deadlines(&db, &outbox, now).await.unwrap(), 1);
    assert_eq!(handoff_state(&db, &handoff.id).await, (2, 1, None));
    now += seconds(7200);
    assert_eq!(fire_due_deadlines(&db, &outbox, now).await.unwrap(), 0);
    // The spent chain is not an escalation: three steps were notified.
    assert_eq!(audit_events(&db, "handoff.escalated").await.len(), 3);
    assert_nobody_is_forgotten(&db).await;
}

async fn a_claimed_handoff_does_not_escalate(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let tenant = TenantId::generate();
    let policy = insert_policy(&app.db, &tenant, 1, &short_policy(0), None).await;
    let handoff = open(&app.db, &tenant, Severity::High, &policy, 1).await;
    let mut client = app.client().await;
    client
        .claim_handoff(request_as(
            &user(&tenant, Role::Agent),
            proto::HandoffRequest {
                handoff_id: handoff.id.clone(),
            },
        ))
        .await
        .unwrap();
    let later = Utc::now() + seconds(3600);
    assert_eq!(
        fire_due_deadlines(&app.db, &app.outbox, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(handoff_state(&app.db, &handoff.id).await, (1, 0, None));
    assert_nobody_is_forgotten(&app.db).await;
}

/// The deadline's escalations, once the worker has had time to fire.
async fn wait_for_one_escalation(app: &QueueApp, id: &str) {
    eventually(Duration::from_secs(15), "the deadline fired", || async {
        handoff_state(&app.db, id).await.0 == 2
    })
    .await;
    // Proving that nothing more happens takes waiting: ten worker ticks,
    // in which a second firing would have shown.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(audit_events(&app.db, "handoff.escalated").await.len(), 1);
    assert_eq!(handoff_state(&app.db, id).await.0, 2);
}

async fn two_service_instances_fire_a_deadline_once(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let _second = app.second_instance().await;
    let tenant = TenantId::generate();
    let policy = insert_policy(&app.db, &tenant, 1, &short_policy(0), None).await;
    let handoff = open(&app.db, &tenant, Severity::Critical, &policy, 1).await;
    wait_for_one_escalation(&app, &handoff.id).await;
    assert_nobody_is_forgotten(&app.db).await;
}

async fn a_deadline_fires_after_a_restart_once(database: TestDatabase) {
    let mut app = QueueApp::spawn(database).await;
    let tenant = TenantId::generate();
    // Due in 5 s: long enough to stop the service before it fires, even
    // on a busy machine.
    let policy = insert_policy(&app.db, &tenant, 1, &due_in(5, 0), None).await;
    let handoff = open(&app.db, &tenant, Severity::Critical, &policy, 1).await;
    app.stop().await;
    assert_eq!(handoff_state(&app.db, &handoff.id).await.0, 1);
    app.restart().await;
    wait_for_one_escalation(&app, &handoff.id).await;
    assert_nobody_is_forgotten(&app.db).await;
}

async fn a_handoff_with_an_unreadable_policy_holds_up_no_other(database: TestDatabase) {
    let db = connect(&database).await;
    let outbox = Outbox::new(OUTBOX_TABLE);
    let tenant = TenantId::generate();
    let policy = insert_policy(&db, &tenant, 1, &short_policy(0), None).await;
    // Version 7 was never stored: its handoff cannot be escalated.
    let orphan = open(&db, &tenant, Severity::Critical, &policy, 7).await;
    let handoff = open(&db, &tenant, Severity::Critical, &policy, 1).await;
    let later = Utc::now() + seconds(5);
    assert_eq!(fire_due_deadlines(&db, &outbox, later).await.unwrap(), 1);
    assert_eq!(handoff_state(&db, &handoff.id).await.0, 2);
    let (level, _, next) = handoff_state(&db, &orphan.id).await;
    assert_eq!(level, 1);
    assert!(next.is_some(), "left due, for when the policy is readable");
    assert_nobody_is_forgotten(&db).await;
}
