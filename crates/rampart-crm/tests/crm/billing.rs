//! Billing states through the `BillingService`: every pair of states
//! against the table, the webhook's event ids, and who may call.

use rampart_kit::on_both_databases;
use rampart_kit::testing::{TestDatabase, admin_principal, expect_code, request_as};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::billing_service_client::BillingServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::{TestApp, new_tenant};

on_both_databases!(
    every_pair_of_states_follows_the_table,
    webhook_events_apply_once,
    only_platform_admins_move_known_tenants,
);

const STATES: [&str; 5] = ["trial", "active", "past_due", "suspended", "canceled"];

/// The allowed moves, written out apart from the service's own table.
const ALLOWED: [(&str, &str); 11] = [
    ("trial", "active"),
    ("trial", "past_due"),
    ("trial", "canceled"),
    ("active", "past_due"),
    ("active", "canceled"),
    ("past_due", "active"),
    ("past_due", "suspended"),
    ("past_due", "canceled"),
    ("suspended", "active"),
    ("suspended", "canceled"),
    ("canceled", "active"),
];

/// Allowed moves that take a new tenant from trial to `state`.
fn path_to(state: &str) -> &'static [&'static str] {
    match state {
        "trial" => &[],
        "active" => &["active"],
        "past_due" => &["past_due"],
        "suspended" => &["past_due", "suspended"],
        "canceled" => &["canceled"],
        other => panic!("unknown state {other}"),
    }
}

async fn create_tenant(app: &TestApp, name: &str) -> String {
    let request = proto::CreateTenantRequest {
        name: name.to_owned(),
        office_domains: Vec::new(),
    };
    app.client()
        .await
        .create_tenant(request_as(&admin_principal(), request))
        .await
        .unwrap()
        .into_inner()
        .id
}

fn admin_move(tenant_id: &str, state: &str) -> proto::TransitionBillingRequest {
    proto::TransitionBillingRequest {
        tenant_id: tenant_id.to_owned(),
        state: state.to_owned(),
        reason: "test_move".to_owned(),
        source: "admin".to_owned(),
        ..Default::default()
    }
}

fn webhook_move(
    tenant_id: &str,
    state: &str,
    event_id: &str,
    body: &str,
) -> proto::TransitionBillingRequest {
    proto::TransitionBillingRequest {
        tenant_id: tenant_id.to_owned(),
        state: state.to_owned(),
        source: "webhook".to_owned(),
        event_id: event_id.to_owned(),
        event_fingerprint: rampart_kit::secret::hex(
            ring::digest::digest(&ring::digest::SHA256, body.as_bytes()).as_ref(),
        ),
        ..Default::default()
    }
}

async fn transition(
    billing: &mut BillingServiceClient<Channel>,
    request: proto::TransitionBillingRequest,
) -> Result<proto::BillingTransition, tonic::Status> {
    billing
        .transition_billing(request_as(&admin_principal(), request))
        .await
        .map(tonic::Response::into_inner)
}

async fn state_of(
    billing: &mut BillingServiceClient<Channel>,
    tenant_id: &str,
) -> proto::BillingState {
    let request = proto::GetBillingStateRequest {
        tenant_id: tenant_id.to_owned(),
    };
    billing
        .get_billing_state(request_as(&admin_principal(), request))
        .await
        .unwrap()
        .into_inner()
}

async fn every_pair_of_states_follows_the_table(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut billing = app.billing_client().await;
    for from in STATES {
        for to in STATES {
            let tenant = create_tenant(&app, &format!("Pair {from} {to}")).await;
            assert_eq!(state_of(&mut billing, &tenant).await.state, "trial");
            for step in path_to(from) {
                transition(&mut billing, admin_move(&tenant, step))
                    .await
                    .unwrap();
            }
            let before = state_of(&mut billing, &tenant).await;
            assert_eq!(before.state, from);
            let events_before = app.audit_actions("billing.state_changed").await.len();

            let result = transition(&mut billing, admin_move(&tenant, to)).await;
            let after = state_of(&mut billing, &tenant).await;
            let events = app.audit_actions("billing.state_changed").await;
            if from == to {
                let answer = result.unwrap();
                assert!(!answer.changed, "{from} -> {to}");
                assert_eq!(after, before, "{from} -> {to}");
                assert_eq!(events.len(), events_before, "{from} -> {to}");
            } else if ALLOWED.contains(&(from, to)) {
                let answer = result.unwrap();
                assert!(answer.changed, "{from} -> {to}");
                assert_eq!(answer.from_state, from);
                assert_eq!(after.state, to);
                assert_eq!(
                    after.access_suspended,
                    matches!(to, "suspended" | "canceled"),
                    "{to}"
                );
                assert_eq!(events.len(), events_before + 1, "{from} -> {to}");
                let event = events.last().unwrap();
                event.check_schema().unwrap();
                assert_eq!(event.tenant_id.as_deref(), Some(tenant.as_str()));
                assert_eq!(event.target, format!("tenant:{tenant}"));
                assert_eq!(event.details["from_state"], from);
                assert_eq!(event.details["to_state"], to);
                assert_eq!(event.details["source"], "admin");
                assert_eq!(event.details["reason"], "test_move");
            } else {
                let status = expect_code(result, Code::FailedPrecondition);
                assert!(
                    status.message().contains(&format!("from {from} to {to}")),
                    "{status:?}"
                );
                assert_eq!(after, before, "{from} -> {to}: nothing changes");
                assert_eq!(events.len(), events_before, "{from} -> {to}");
            }
        }
    }
}

async fn webhook_events_apply_once(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut billing = app.billing_client().await;
    let tenant = create_tenant(&app, "Webhook Works").await;
    let other = create_tenant(&app, "Other Works").await;
    let body = r#"{"id":"evt_1","state":"active"}"#;

    let first = transition(&mut billing, webhook_move(&tenant, "active", "evt_1", body))
        .await
        .unwrap();
    assert!(first.changed && !first.replayed);
    let replayed = transition(&mut billing, webhook_move(&tenant, "active", "evt_1", body))
        .await
        .unwrap();
    assert!(!replayed.changed && replayed.replayed);
    assert_eq!(replayed.billing, first.billing);

    // The same id with another body, or for another tenant: refused.
    let changed = webhook_move(
        &tenant,
        "past_due",
        "evt_1",
        r#"{"id":"evt_1","state":"past_due"}"#,
    );
    expect_code(transition(&mut billing, changed).await, Code::AlreadyExists);
    let elsewhere = webhook_move(&other, "active", "evt_1", body);
    expect_code(
        transition(&mut billing, elsewhere).await,
        Code::AlreadyExists,
    );
    assert_eq!(state_of(&mut billing, &other).await.state, "trial");

    // A refused move records nothing, not even its event id.
    let refused = webhook_move(&tenant, "trial", "evt_2", r#"{"id":"evt_2"}"#);
    expect_code(
        transition(&mut billing, refused).await,
        Code::FailedPrecondition,
    );
    assert_eq!(app.count_rows("crm_billing_event").await, 1);

    let events = app.audit_actions("billing.state_changed").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].details["source"], "webhook");
    assert_eq!(events[0].details["event_id"], "evt_1");
    assert_eq!(state_of(&mut billing, &tenant).await.state, "active");
}

async fn only_platform_admins_move_known_tenants(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut billing = app.billing_client().await;
    let tenant = create_tenant(&app, "Guarded Garage").await;
    let tenant_id = rampart_kit::ids::TenantId::parse(&tenant).unwrap();
    let own_key = rampart_kit::testing::tenant_principal(&tenant_id);
    let request = request_as(&own_key, admin_move(&tenant, "active"));
    expect_code(
        billing.transition_billing(request).await,
        Code::PermissionDenied,
    );
    let request = request_as(
        &own_key,
        proto::GetBillingStateRequest {
            tenant_id: tenant.clone(),
        },
    );
    expect_code(
        billing.get_billing_state(request).await,
        Code::PermissionDenied,
    );

    let (unknown, _) = new_tenant();
    expect_code(
        transition(&mut billing, admin_move(unknown.as_str(), "active")).await,
        Code::NotFound,
    );
    expect_code(
        transition(&mut billing, admin_move("not-a-tenant", "active")).await,
        Code::NotFound,
    );
    let status = expect_code(
        transition(&mut billing, admin_move(&tenant, "paused")).await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("state "), "{status:?}");
    let mut bad_reason = admin_move(&tenant, "active");
    bad_reason.reason = "card ending 4242 of Ann".to_owned();
    let status = expect_code(
        transition(&mut billing, bad_reason).await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("reason "), "{status:?}");
    let mut no_source = admin_move(&tenant, "active");
    no_source.source = String::new();
    expect_code(
        transition(&mut billing, no_source).await,
        Code::InvalidArgument,
    );
    assert_eq!(state_of(&mut billing, &tenant).await.state, "trial");
    assert!(app.audit_actions("billing.state_changed").await.is_empty());
}
