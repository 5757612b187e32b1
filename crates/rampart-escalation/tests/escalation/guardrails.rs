//! The guardrails on AI replies, called as the CRM calls them before any
//! reply leaves.

use rampart_kit::ids::TenantId;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{count_rows, expect_code, request_as, tenant_principal};
use rampart_proto::escalation::v1::{Outcome, ReviewReplyRequest};
use tonic::Code;

use crate::helpers::{TestApp, reply};

fn kinds(findings: &[rampart_proto::escalation::v1::Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.kind.as_str()).collect()
}

#[tokio::test]
async fn a_plain_reply_is_allowed() {
    let app = TestApp::spawn().await;
    let mut crm = app.crm().await;
    let caller = tenant_principal(&TenantId::generate());
    let text = "Your order 4242424242424241 ships on Monday; call us on +1 415 555 0123.";
    let review = crm
        .review_reply(request_as(&caller, reply(text, &["+1 (415) 555-0123"])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(review.outcome(), Outcome::Allow, "{:?}", review.findings);
    assert_eq!(review.text, text);
    assert!(review.findings.is_empty());
    assert!(!review.human_has_conversation);
    assert!(review.handoff.is_none());
    assert_eq!(review.policy_version, 0);
}

#[tokio::test]
async fn secrets_cards_and_other_customers_are_masked() {
    let app = TestApp::spawn().await;
    let mut crm = app.crm().await;
    let caller = tenant_principal(&TenantId::generate());
    let text = "Thanks for waiting! The card on file is 4242 4242 4242 4242, the previous \
                owner was jane@example.org, and the integration key is \
                rk_live_0123456789abcdefghijABCDEFGHIJ. Anything else I can help you with today?";
    let review = crm
        .review_reply(request_as(&caller, reply(text, &["me@example.net"])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(review.outcome(), Outcome::Redact);
    assert_eq!(
        kinds(&review.findings),
        ["secret", "card_number", "other_customer_contact"]
    );
    for leaked in ["4242", "jane", "rk_live", "0123456789"] {
        assert!(!review.text.contains(leaked), "{leaked} in {}", review.text);
        assert!(review.findings.iter().all(|f| !f.reason.contains(leaked)));
    }
    assert!(
        review
            .text
            .starts_with("Thanks for waiting! The card on file is [redacted],")
    );
}

#[tokio::test]
async fn the_tenants_guardrails_apply() {
    let app = TestApp::spawn().await;
    let tenant = TenantId::generate();
    let version = app
        .put_policy(
            &tenant,
            r#"{"guardrails": {"forbidden_phrases": ["full refund", "guaranteed"],
                               "allowed_link_hosts": ["shop.example"],
                               "on_block": "retry"}}"#,
        )
        .await;
    let mut crm = app.crm().await;
    let caller = tenant_principal(&tenant);

    let allowed = crm
        .review_reply(request_as(
            &caller,
            reply("Track it at https://track.shop.example/o/123 please", &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(allowed.outcome(), Outcome::Allow);
    assert_eq!(allowed.policy_version, version);

    let link = crm
        .review_reply(request_as(
            &caller,
            reply(
                "You can track the parcel yourself at https://phish.example/o/123 today",
                &[],
            ),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(link.outcome(), Outcome::Redact);
    assert_eq!(kinds(&link.findings), ["link"]);
    assert_eq!(
        link.text,
        "You can track the parcel yourself at [redacted] today"
    );

    // Blocked, and the policy says retry: no handoff, nothing written.
    let db = app.db().await;
    let outbox_before = count_rows(&db, rampart_escalation::OUTBOX_TABLE).await;
    let blocked = crm
        .review_reply(request_as(
            &caller,
            reply("Don't worry, a F.U.L.L refund is guaranteed.", &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(blocked.outcome(), Outcome::Block);
    assert!(blocked.text.is_empty());
    assert_eq!(kinds(&blocked.findings), ["forbidden_phrase"]);
    assert!(blocked.handoff.is_none());
    assert_eq!(count_rows(&db, "esc_handoff").await, 0);
    assert_eq!(
        count_rows(&db, rampart_escalation::OUTBOX_TABLE).await,
        outbox_before
    );
}

#[tokio::test]
async fn malformed_and_oversize_replies_are_refused() {
    let app = TestApp::spawn().await;
    let mut crm = app.crm().await;
    let caller = tenant_principal(&TenantId::generate());
    let many: Vec<String> = (0..21).map(|n| format!("+4915112345{n:02}")).collect();
    let cases = [
        (
            reply(&"a".repeat(4001), &[]),
            "text must be at most 4000 characters",
        ),
        (reply("", &[]), "text must not be empty"),
        (
            ReviewReplyRequest {
                conversation_id: "cnv_0".into(),
                ..reply("hello", &[])
            },
            "conversation_id is malformed",
        ),
        (
            ReviewReplyRequest {
                customer_contacts: many,
                ..reply("hello", &[])
            },
            "customer_contacts must hold at most 20 entries of at most 320 characters",
        ),
    ];
    for (request, message) in cases {
        let status = expect_code(
            crm.review_reply(request_as(&caller, request)).await,
            Code::InvalidArgument,
        );
        assert_eq!(status.message(), message);
    }
    let mut audit = app.client_as(ServiceName::Audit).await;
    expect_code(
        audit
            .review_reply(request_as(&caller, reply("hello", &[])))
            .await,
        Code::PermissionDenied,
    );
}

// Needs the handoffs work: `open_or_join` is a stub that fails today.
#[tokio::test]
async fn a_blocked_reply_hands_the_conversation_to_a_person() {
    let app = TestApp::spawn().await;
    let mut crm = app.crm().await;
    let caller = tenant_principal(&TenantId::generate());
    let request = reply(
        "Honestly, you should sue them, you have a strong case.",
        &[],
    );
    let blocked = crm
        .review_reply(request_as(&caller, request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(blocked.outcome(), Outcome::Block);
    assert_eq!(kinds(&blocked.findings), ["legal_advice"]);
    let handoff = blocked.handoff.expect("the default policy hands off");
    assert_eq!(handoff.conversation_id, request.conversation_id);
    assert!(
        handoff
            .reasons
            .iter()
            .any(|r| r == "ai reply blocked: legal_advice")
    );
    // Nobody had it before this reply: the CRM stores the blocked reply,
    // with the handoff it opened.
    assert!(!blocked.human_has_conversation);

    // The next reply finds a person on the conversation, and opens no
    // second handoff even when it is blocked too.
    let again = crm
        .review_reply(request_as(&caller, request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.outcome(), Outcome::Block);
    assert!(again.human_has_conversation);
    assert!(again.handoff.is_none());
    let next = crm
        .review_reply(request_as(
            &caller,
            ReviewReplyRequest {
                text: "Can I help with anything else?".into(),
                ..request
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.outcome(), Outcome::Allow);
    assert!(next.human_has_conversation);
}
