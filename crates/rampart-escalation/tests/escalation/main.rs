//! The escalation service end to end: the real server on port 0 with mutual
//! TLS, called the way the gateway calls it.

mod deadlines;
mod detection;
mod gate;
mod guardrails;
mod handoffs;
mod helpers;
mod modes;
mod notifications;
mod policy;
mod queue_helpers;

use rampart_kit::ids::TenantId;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{admin_principal, expect_code, request_as, tenant_principal};
use rampart_proto::escalation::v1::{Action, EvaluateRequest, Severity};
use tonic::{Code, Request};

use crate::helpers::TestApp;

fn evaluate(channel: &str, text: &str) -> EvaluateRequest {
    EvaluateRequest {
        channel: channel.to_owned(),
        text: text.to_owned(),
    }
}

#[tokio::test]
async fn a_threat_to_sue_is_handed_off() {
    let app = TestApp::spawn().await;
    let mut escalation = app.client().await;
    let principal = tenant_principal(&TenantId::generate());
    let response = escalation
        .evaluate(request_as(&principal, evaluate("web", "I will sue you")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.action(), Action::Handoff);
    assert_eq!(response.intents, ["legal"]);
    assert_eq!(response.severity(), Severity::High);
    assert_eq!(response.reasons.len(), 1);
    assert!(
        response.reasons[0].starts_with("legal: "),
        "{:?}",
        response.reasons
    );
    assert!(!response.reasons[0].contains("I will sue you"));
}

#[tokio::test]
async fn an_opening_hours_question_is_for_the_ai() {
    let app = TestApp::spawn().await;
    let mut escalation = app.client().await;
    let principal = tenant_principal(&TenantId::generate());
    let response = escalation
        .evaluate(request_as(
            &principal,
            evaluate("sms", "what time do you open"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.action(), Action::AiAnswer);
    assert!(response.intents.is_empty());
    assert!(response.reasons.is_empty());
    assert_eq!(response.severity(), Severity::None);
}

#[tokio::test]
async fn several_intents_come_sorted_with_the_highest_severity() {
    let app = TestApp::spawn().await;
    let mut escalation = app.client().await;
    let principal = tenant_principal(&TenantId::generate());
    let text = "I smell gas!! and I was charged twice, let me talk to a real person";
    let response = escalation
        .evaluate(request_as(&principal, evaluate("phone", text)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.action(), Action::Handoff);
    assert_eq!(
        response.intents,
        ["billing", "emergency", "human_requested"]
    );
    assert_eq!(response.reasons.len(), 3);
    assert_eq!(response.severity(), Severity::Critical);
}

#[tokio::test]
async fn every_channel_is_accepted() {
    let app = TestApp::spawn().await;
    let mut escalation = app.client().await;
    let principal = tenant_principal(&TenantId::generate());
    for channel in ["phone", "sms", "web", "widget"] {
        let response = escalation
            .evaluate(request_as(&principal, evaluate(channel, "hello")))
            .await;
        assert!(response.is_ok(), "{channel}: {response:?}");
    }
}

#[tokio::test]
async fn malformed_requests_are_invalid_arguments() {
    let app = TestApp::spawn().await;
    let mut escalation = app.client().await;
    let principal = tenant_principal(&TenantId::generate());
    let too_long = "a".repeat(4001);
    let longest = "a".repeat(4000);
    let cases = [
        (
            evaluate("", "hello"),
            "channel must be one of phone, sms, web or widget",
        ),
        (
            evaluate("email", "hello"),
            "channel must be one of phone, sms, web or widget",
        ),
        (
            evaluate("WEB", "hello"),
            "channel must be one of phone, sms, web or widget",
        ),
        (evaluate("web", ""), "text must not be empty"),
        (evaluate("web", " \n\t "), "text must not be empty"),
        (
            evaluate("web", &too_long),
            "text must be at most 4000 characters",
        ),
    ];
    for (request, message) in cases {
        let status = expect_code(
            escalation.evaluate(request_as(&principal, request)).await,
            Code::InvalidArgument,
        );
        assert_eq!(status.message(), message);
    }
    assert!(
        escalation
            .evaluate(request_as(&principal, evaluate("web", &longest)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn only_tenant_principals_may_evaluate() {
    let app = TestApp::spawn().await;
    let mut escalation = app.client().await;
    let status = expect_code(
        escalation
            .evaluate(request_as(&admin_principal(), evaluate("web", "hello")))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(status.message(), "this action needs a tenant credential");
    expect_code(
        escalation
            .evaluate(Request::new(evaluate("web", "hello")))
            .await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn other_services_are_refused_even_with_tenant_metadata() {
    let app = TestApp::spawn().await;
    let principal = tenant_principal(&TenantId::generate());
    // The CRM is a peer now (it calls the gate and the guardrails), but the
    // advisory evaluation still takes its principal from the gateway only.
    let mut crm = app.client_as(ServiceName::Crm).await;
    let status = expect_code(
        crm.evaluate(request_as(&principal, evaluate("web", "I will sue you")))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(
        status.message(),
        "principal metadata is accepted only from the gateway"
    );
    for service in [
        ServiceName::Auth,
        ServiceName::Audit,
        ServiceName::Escalation,
    ] {
        let mut escalation = app.client_as(service).await;
        let status = expect_code(
            escalation
                .evaluate(request_as(&principal, evaluate("web", "I will sue you")))
                .await,
            Code::PermissionDenied,
        );
        assert_eq!(
            status.message(),
            "caller is not allowed to use this service",
            "{service}"
        );
    }
}
