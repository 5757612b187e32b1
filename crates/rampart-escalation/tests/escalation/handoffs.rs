//! The handoff queue through gRPC, as the gateway calls it: listing,
//! pagination, claiming (and racing to claim), resolving, handing back,
//! and the refusals (another tenant, an API key, an agent taking over).

use rampart_escalation::handoffs::active_for;
use rampart_escalation::intents::Severity;
use rampart_escalation::scope::DataScope;
use rampart_escalation::tenant_policy::TenantPolicy;
use rampart_kit::ids::{ConversationId, HandoffId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::principal::{Principal, Role};
use rampart_kit::testing::{TestDatabase, expect_code, request_as, tenant_principal};
use rampart_proto::escalation::v1 as proto;
use rampart_proto::escalation::v1::handoff_service_client::HandoffServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::queue_helpers::{
    QueueApp, assert_nobody_is_forgotten, audit_events, connect, open, open_on, user, user_id,
};

on_both_databases!(
    the_queue_lists_by_severity_then_due_time_with_filters,
    the_queue_pages_with_an_opaque_cursor,
    two_agents_claiming_at_once_make_one_owner,
    resolving_closes_the_handoff_and_frees_the_conversation,
    handing_back_needs_a_claim,
    another_tenant_sees_nothing_and_changes_nothing,
    api_keys_may_read_but_not_act,
    a_manager_may_take_over_a_claim_and_an_agent_may_not,
    a_more_severe_message_raises_the_open_handoff_and_a_milder_one_does_not,
    two_instances_opening_at_once_share_one_handoff,
);

fn by_id(id: &str) -> proto::HandoffRequest {
    proto::HandoffRequest {
        handoff_id: id.to_owned(),
    }
}

fn list_all() -> proto::ListHandoffsRequest {
    proto::ListHandoffsRequest::default()
}

async fn list(
    client: &mut HandoffServiceClient<Channel>,
    principal: &Principal,
    request: proto::ListHandoffsRequest,
) -> proto::ListHandoffsResponse {
    client
        .list_handoffs(request_as(principal, request))
        .await
        .expect("listing handoffs")
        .into_inner()
}

async fn the_queue_lists_by_severity_then_due_time_with_filters(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let mut client = app.client().await;
    let tenant = TenantId::generate();
    let policy = TenantPolicy::default();
    let low = open(&app.db, &tenant, Severity::Low, &policy, 0).await;
    let critical = open(&app.db, &tenant, Severity::Critical, &policy, 0).await;
    let high = open(&app.db, &tenant, Severity::High, &policy, 0).await;
    // The same severity: the one due first comes first, whatever the ids.
    let high_later = open(
        &app.db,
        &tenant,
        Severity::High,
        &TenantPolicy {
            response_targets: rampart_escalation::tenant_policy::ResponseTargets {
                high_secs: 3600,
                ..Default::default()
            },
            ..TenantPolicy::default()
        },
        0,
    )
    .await;
    let agent = user(&tenant, Role::Agent);

    let page = list(&mut client, &agent, list_all()).await;
    let ids: Vec<&str> = page.handoffs.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, [&critical.id, &high.id, &high_later.id, &low.id]);
    assert!(page.next_cursor.is_empty());
    let first = &page.handoffs[0];
    assert_eq!(first.status, "open");
    assert_eq!(first.severity(), proto::Severity::Critical);
    assert_eq!(first.level, 1);
    assert_eq!(first.intents, ["legal"]);
    assert!(!first.next_escalation_at.is_empty() && !first.overdue);

    let high_and_up = list(
        &mut client,
        &agent,
        proto::ListHandoffsRequest {
            min_severity: proto::Severity::High.into(),
            ..list_all()
        },
    )
    .await;
    assert_eq!(high_and_up.handoffs.len(), 3);
    let one_conversation = list(
        &mut client,
        &agent,
        proto::ListHandoffsRequest {
            conversation_id: low.conversation_id.clone(),
            ..list_all()
        },
    )
    .await;
    assert_eq!(one_conversation.handoffs.len(), 1);
    assert_eq!(one_conversation.handoffs[0].id, low.id);

    let mut agent_client = app.client().await;
    agent_client
        .claim_handoff(request_as(&agent, by_id(&low.id)))
        .await
        .unwrap();
    let mine = list(
        &mut client,
        &agent,
        proto::ListHandoffsRequest {
            assignee: user_id(&agent),
            ..list_all()
        },
    )
    .await;
    assert_eq!(mine.handoffs.len(), 1);
    let claimed_only = list(
        &mut client,
        &agent,
        proto::ListHandoffsRequest {
            status: "claimed".to_owned(),
            ..list_all()
        },
    )
    .await;
    assert_eq!(claimed_only.handoffs.len(), 1);
    let resolved = list(
        &mut client,
        &agent,
        proto::ListHandoffsRequest {
            status: "resolved".to_owned(),
            ..list_all()
        },
    )
    .await;
    assert!(resolved.handoffs.is_empty());

    for (request, message) in [
        (
            proto::ListHandoffsRequest {
                status: "closed".to_owned(),
                ..list_all()
            },
            "status must be one of open, claimed, resolved or handed_back",
        ),
        (
            proto::ListHandoffsRequest {
                conversation_id: "cnv_../../etc".to_owned(),
                ..list_all()
            },
            "conversation_id is malformed",
        ),
        (
            proto::ListHandoffsRequest {
                assignee: "x".repeat(10_000),
                ..list_all()
            },
            "assignee is malformed",
        ),
    ] {
        let status = expect_code(
            client.list_handoffs(request_as(&agent, request)).await,
            Code::InvalidArgument,
        );
        assert_eq!(status.message(), message);
    }
    assert_nobody_is_forgotten(&app.db).await;
}

async fn the_queue_pages_with_an_opaque_cursor(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let mut client = app.client().await;
    let tenant = TenantId::generate();
    let policy = TenantPolicy::default();
    for severity in [
        Severity::Low,
        Severity::High,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ] {
        open(&app.db, &tenant, severity, &policy, 0).await;
    }
    let agent = user(&tenant, Role::Agent);
    let everything = list(&mut client, &agent, list_all()).await.handoffs;
    assert_eq!(everything.len(), 5);

    let mut paged = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = list(
            &mut client,
            &agent,
            proto::ListHandoffsRequest {
                page_size: 2,
                cursor: cursor.clone(),
                ..list_all()
            },
        )
        .await;
        pages += 1;
        assert!(page.handoffs.len() <= 2);
        paged.extend(page.handoffs);
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, everything);

    for (request, message) in [
        (
            proto::ListHandoffsRequest {
                cursor: "not-a-cursor".to_owned(),
                ..list_all()
            },
            "cursor is malformed",
        ),
        (
            proto::ListHandoffsRequest {
                cursor: "ff".repeat(5000),
                ..list_all()
            },
            "cursor is malformed",
        ),
        (
            proto::ListHandoffsRequest {
                page_size: 101,
                ..list_all()
            },
            "page_size must be at most 100",
        ),
    ] {
        let status = expect_code(
            client.list_handoffs(request_as(&agent, request)).await,
            Code::InvalidArgument,
        );
        assert_eq!(status.message(), message);
    }
    assert_nobody_is_forgotten(&app.db).await;
}

async fn two_agents_claiming_at_once_make_one_owner(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let tenant = TenantId::generate();
    let handoff = open(
        &app.db,
        &tenant,
        Severity::High,
        &TenantPolicy::default(),
        0,
    )
    .await;
    let (ann, bob) = (user(&tenant, Role::Agent), user(&tenant, Role::Agent));
    let (mut ann_client, mut bob_client) = (app.client().await, app.client().await);
    let (ann_claim, bob_claim) = tokio::join!(
        ann_client.claim_handoff(request_as(&ann, by_id(&handoff.id))),
        bob_client.claim_handoff(request_as(&bob, by_id(&handoff.id))),
    );
    let (winner, loser, lost) = match (ann_claim, bob_claim) {
        (Ok(won), Err(lost)) => (ann.clone(), bob.clone(), (won.into_inner(), lost)),
        (Err(lost), Ok(won)) => (bob.clone(), ann.clone(), (won.into_inner(), lost)),
        other => panic!("expected exactly one winner: {other:?}"),
    };
    let (claimed, refusal) = lost;
    assert_eq!(refusal.code(), Code::FailedPrecondition);
    assert_eq!(refusal.message(), "claimed by someone else");
    assert_eq!(claimed.status, "claimed");
    assert_eq!(claimed.assignee, user_id(&winner));
    // Claiming acknowledges: escalation stops.
    assert!(claimed.next_escalation_at.is_empty());
    assert_eq!(audit_events(&app.db, "handoff.claimed").await.len(), 1);

    // The winner repeating the claim gets the handoff as it is.
    let again = ann_client
        .claim_handoff(request_as(&winner, by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, claimed);
    let event = &audit_events(&app.db, "handoff.claimed").await;
    assert_eq!(event.len(), 1);
    assert_eq!(event[0]["details"]["assignee"], user_id(&winner));
    assert_eq!(
        event[0]["details"]["conversation_id"],
        handoff.conversation_id
    );
    assert_eq!(event[0]["actor"], format!("user:{}", user_id(&winner)));
    expect_code(
        bob_client
            .claim_handoff(request_as(&loser, by_id(&handoff.id)))
            .await,
        Code::FailedPrecondition,
    );
    assert_nobody_is_forgotten(&app.db).await;
}

async fn resolving_closes_the_handoff_and_frees_the_conversation(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let mut client = app.client().await;
    let tenant = TenantId::generate();
    let conversation = ConversationId::generate();
    let policy = TenantPolicy::default();
    let handoff = open_on(&app.db, &tenant, &conversation, Severity::High, &policy, 0).await;
    assert_eq!(
        active_for(&app.db, &DataScope::live(tenant.clone()), &conversation)
            .await
            .unwrap(),
        Some(handoff.clone())
    );
    let agent = user(&tenant, Role::Agent);
    client
        .claim_handoff(request_as(&agent, by_id(&handoff.id)))
        .await
        .unwrap();
    let resolved = client
        .resolve_handoff(request_as(&agent, by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.status, "resolved");
    assert!(!resolved.closed_at.is_empty());
    assert!(resolved.next_escalation_at.is_empty());
    assert_eq!(
        active_for(&app.db, &DataScope::live(tenant.clone()), &conversation)
            .await
            .unwrap(),
        None
    );

    // The same step again answers the handoff as it is; anything else on a
    // closed handoff is refused.
    let again = client
        .resolve_handoff(request_as(&agent, by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, resolved);
    for status in [
        client
            .claim_handoff(request_as(&agent, by_id(&handoff.id)))
            .await,
        client
            .hand_back(request_as(&agent, by_id(&handoff.id)))
            .await,
        client
            .resolve_handoff(request_as(&user(&tenant, Role::Owner), by_id(&handoff.id)))
            .await,
    ] {
        let status = expect_code(status, Code::FailedPrecondition);
        assert_eq!(status.message(), "the handoff is closed");
    }
    let events = audit_events(&app.db, "handoff.resolved").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["details"]["conversation_id"],
        conversation.as_str()
    );

    // The conversation may be handed off again: a new handoff.
    let next = open_on(&app.db, &tenant, &conversation, Severity::Low, &policy, 0).await;
    assert_ne!(next.id, handoff.id);
    assert_eq!(next.status, "open");
    assert_nobody_is_forgotten(&app.db).await;
}

async fn handing_back_needs_a_claim(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let mut client = app.client().await;
    let tenant = TenantId::generate();
    let handoff = open(
        &app.db,
        &tenant,
        Severity::Medium,
        &TenantPolicy::default(),
        0,
    )
    .await;
    let (agent, other) = (user(&tenant, Role::Agent), user(&tenant, Role::Agent));
    let status = expect_code(
        client
            .hand_back(request_as(&agent, by_id(&handoff.id)))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(status.message(), "the handoff is not claimed");
    client
        .claim_handoff(request_as(&agent, by_id(&handoff.id)))
        .await
        .unwrap();
    let status = expect_code(
        client
            .hand_back(request_as(&other, by_id(&handoff.id)))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(status.message(), "claimed by someone else");
    let handed_back = client
        .hand_back(request_as(&agent, by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(handed_back.status, "handed_back");
    assert!(!handed_back.closed_at.is_empty());
    assert_eq!(
        client
            .hand_back(request_as(&agent, by_id(&handoff.id)))
            .await
            .unwrap()
            .into_inner(),
        handed_back
    );
    expect_code(
        client
            .hand_back(request_as(&other, by_id(&handoff.id)))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(audit_events(&app.db, "handoff.handed_back").await.len(), 1);
    assert_nobody_is_forgotten(&app.db).await;
}

async fn another_tenant_sees_nothing_and_changes_nothing(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let mut client = app.client().await;
    let tenant = TenantId::generate();
    let handoff = open(
        &app.db,
        &tenant,
        Severity::High,
        &TenantPolicy::default(),
        0,
    )
    .await;
    let stranger = user(&TenantId::generate(), Role::Owner);
    assert!(
        list(&mut client, &stranger, list_all())
            .await
            .handoffs
            .is_empty()
    );
    let unknown = HandoffId::generate().into_string();
    for id in [
        handoff.id.as_str(),
        unknown.as_str(),
        "hof_not-an-id",
        "",
        &"x".repeat(5000),
    ] {
        for result in [
            client.get_handoff(request_as(&stranger, by_id(id))).await,
            client.claim_handoff(request_as(&stranger, by_id(id))).await,
            client
                .resolve_handoff(request_as(&stranger, by_id(id)))
                .await,
            client.hand_back(request_as(&stranger, by_id(id))).await,
        ] {
            let status = expect_code(result, Code::NotFound);
            assert_eq!(status.message(), "handoff not found");
        }
    }
    let owner = user(&tenant, Role::Agent);
    let unchanged = client
        .get_handoff(request_as(&owner, by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged, handoff);
    assert!(audit_events(&app.db, "handoff.claimed").await.is_empty());
    assert_nobody_is_forgotten(&app.db).await;
}

async fn api_keys_may_read_but_not_act(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let mut client = app.client().await;
    let tenant = TenantId::generate();
    let handoff = open(
        &app.db,
        &tenant,
        Severity::High,
        &TenantPolicy::default(),
        0,
    )
    .await;
    let key = tenant_principal(&tenant);
    assert_eq!(list(&mut client, &key, list_all()).await.handoffs.len(), 1);
    client
        .get_handoff(request_as(&key, by_id(&handoff.id)))
        .await
        .unwrap();
    for result in [
        client
            .claim_handoff(request_as(&key, by_id(&handoff.id)))
            .await,
        client
            .resolve_handoff(request_as(&key, by_id(&handoff.id)))
            .await,
        client.hand_back(request_as(&key, by_id(&handoff.id))).await,
    ] {
        expect_code(result, Code::PermissionDenied);
    }
    let write_only = Principal {
        mode: rampart_kit::principal::DataMode::Live,
        scopes: vec!["write".to_owned()],
        ..key
    };
    expect_code(
        client
            .list_handoffs(request_as(&write_only, list_all()))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        client
            .get_handoff(request_as(&write_only, by_id(&handoff.id)))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        client
            .list_handoffs(request_as(
                &rampart_kit::testing::admin_principal(),
                list_all(),
            ))
            .await,
        Code::PermissionDenied,
    );
    let unchanged = client
        .get_handoff(request_as(&user(&tenant, Role::Agent), by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged, handoff);
    assert_nobody_is_forgotten(&app.db).await;
}

async fn a_manager_may_take_over_a_claim_and_an_agent_may_not(database: TestDatabase) {
    let app = QueueApp::spawn(database).await;
    let mut client = app.client().await;
    let tenant = TenantId::generate();
    let handoff = open(
        &app.db,
        &tenant,
        Severity::High,
        &TenantPolicy::default(),
        0,
    )
    .await;
    let (agent, colleague, manager) = (
        user(&tenant, Role::Agent),
        user(&tenant, Role::Agent),
        user(&tenant, Role::Manager),
    );
    client
        .claim_handoff(request_as(&agent, by_id(&handoff.id)))
        .await
        .unwrap();
    let status = expect_code(
        client
            .claim_handoff(request_as(&colleague, by_id(&handoff.id)))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(status.message(), "claimed by someone else");
    expect_code(
        client
            .resolve_handoff(request_as(&colleague, by_id(&handoff.id)))
            .await,
        Code::FailedPrecondition,
    );
    let taken = client
        .claim_handoff(request_as(&manager, by_id(&handoff.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(taken.assignee, user_id(&manager));
    assert_eq!(taken.status, "claimed");
    let events = audit_events(&app.db, "handoff.claimed").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["details"]["assignee"], user_id(&manager));
    assert_eq!(
        events[1]["details"]["reason"],
        "taken over from another user"
    );
    // The agent who lost it may no longer act on it.
    expect_code(
        client
            .hand_back(request_as(&agent, by_id(&handoff.id)))
            .await,
        Code::FailedPrecondition,
    );
    assert_nobody_is_forgotten(&app.db).await;
}

async fn a_more_severe_message_raises_the_open_handoff_and_a_milder_one_does_not(
    database: TestDatabase,
) {
    let db = connect(&database).await;
    let tenant = TenantId::generate();
    let conversation = ConversationId::generate();
    let policy = TenantPolicy::default();
    let first = open_on(&db, &tenant, &conversation, Severity::Medium, &policy, 0).await;
    let raised = open_on(&db, &tenant, &conversation, Severity::Critical, &policy, 0).await;
    assert_eq!(raised.id, first.id);
    assert_eq!(raised.severity(), proto::Severity::Critical);
    // Critical is due within 5 minutes of opening, sooner than medium's hour.
    assert!(raised.due_at < first.due_at, "{raised:?}");
    assert_eq!(raised.next_escalation_at, raised.due_at);
    let milder = open_on(&db, &tenant, &conversation, Severity::Low, &policy, 0).await;
    assert_eq!(milder.id, first.id);
    assert_eq!(milder.severity(), proto::Severity::Critical);
    assert_eq!(milder.due_at, raised.due_at);
    assert_eq!(audit_events(&db, "handoff.opened").await.len(), 1);
    assert_nobody_is_forgotten(&db).await;
}

async fn two_instances_opening_at_once_share_one_handoff(database: TestDatabase) {
    let (one, two) = (connect(&database).await, connect(&database).await);
    let tenant = TenantId::generate();
    let conversation = ConversationId::generate();
    let policy = TenantPolicy::default();
    let (a, b) = tokio::join!(
        open_on(&one, &tenant, &conversation, Severity::High, &policy, 0),
        open_on(&two, &tenant, &conversation, Severity::High, &policy, 0),
    );
    assert_eq!(a.id, b.id);
    assert_eq!(audit_events(&one, "handoff.opened").await.len(), 1);
    assert_nobody_is_forgotten(&one).await;
}
