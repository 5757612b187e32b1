//! Policy versions through `GetPolicy` and `PutPolicy`, as the gateway
//! calls them for a tenant's managers and owners.

use rampart_escalation::OUTBOX_TABLE;
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::principal::{Principal, Role};
use rampart_kit::testing::{TestDatabase, count_rows, expect_code, request_as, tenant_principal};
use rampart_proto::escalation::v1::{GetPolicyRequest, PolicyVersion, PutPolicyRequest};
use sea_orm::EntityTrait;
use tonic::Code;

use crate::helpers::{TestApp, gate, user};

const SECRET: &str = "whsec-0123456789abcdef0123456789abcdef";

fn put(document: &str, expected_version: Option<u32>) -> PutPolicyRequest {
    PutPolicyRequest {
        document: document.to_owned(),
        expected_version,
    }
}

async fn get(app: &TestApp, principal: &Principal) -> PolicyVersion {
    app.client()
        .await
        .get_policy(request_as(principal, GetPolicyRequest {}))
        .await
        .unwrap()
        .into_inner()
}

on_both_databases!(
    versions_count_up_from_the_built_in_zero,
    a_stale_expected_version_is_refused,
    bad_documents_are_refused_and_nothing_is_stored,
    the_webhook_secret_is_write_only_and_kept,
    a_tenant_intent_hands_off_through_the_gate,
    concurrent_writes_never_share_a_version,
);

async fn versions_count_up_from_the_built_in_zero(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let tenant = TenantId::generate();
    let manager = user(&tenant, Role::Manager);

    let zero = get(&app, &manager).await;
    assert_eq!(zero.version, 0);
    assert!(zero.created_at.is_empty() && zero.created_by.is_empty());
    let default: serde_json::Value = serde_json::from_str(&zero.document).unwrap();
    assert_eq!(default["guardrails"]["block_legal_advice"], true);

    let mut client = app.client().await;
    let one = client
        .put_policy(request_as(
            &manager,
            put(
                r#"{"chain": {"levels": [{"roles": ["agent"], "delay_secs": 60}]}}"#,
                Some(0),
            ),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.version, 1);
    assert_eq!(one.created_by, manager.actor());
    assert!(one.created_at.ends_with('Z'));
    let two = client
        .put_policy(request_as(&manager, put("{}", Some(1))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(two.version, 2);
    assert_eq!(get(&app, &manager).await, two);

    // Another tenant still has the built-in policy.
    let other = TenantId::generate();
    assert_eq!(get(&app, &user(&other, Role::Owner)).await.version, 0);

    // Every write queued its audit record with the write.
    let db = app.db().await;
    assert_eq!(count_rows(&db, OUTBOX_TABLE).await, 2);
}

async fn a_stale_expected_version_is_refused(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let tenant = TenantId::generate();
    let owner = user(&tenant, Role::Owner);
    app.put_policy(&tenant, "{}").await;
    let status = expect_code(
        app.client()
            .await
            .put_policy(request_as(&owner, put("{}", Some(0))))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        status.message(),
        "expected_version is 0 but the current version is 1"
    );
    assert_eq!(get(&app, &owner).await.version, 1);
}

async fn bad_documents_are_refused_and_nothing_is_stored(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let tenant = TenantId::generate();
    let owner = user(&tenant, Role::Owner);
    let mut client = app.client().await;
    let oversize = format!(
        r#"{{"guardrails": {{"forbidden_phrases": ["{}"]}}}}"#,
        "a ".repeat(140_000)
    );
    for (document, field) in [
        ("not json", "document"),
        (r#"{"unknown": true}"#, "document"),
        (
            r#"{"severities": {"emergency": "low"}}"#,
            "severities.emergency",
        ),
        (
            r#"{"response_targets": {"critical_secs": 0}}"#,
            "response_targets.critical_secs",
        ),
        (
            r#"{"contacts": [{"name": "sec", "kind": "security", "email": "not-an-address"}]}"#,
            "contacts[0].email",
        ),
        (
            r#"{"chain": {"levels": [{"contacts": ["nobody"], "delay_secs": 60}]}}"#,
            "chain.levels[0].contacts",
        ),
        (
            r#"{"webhook": {"url": "https://hooks.example.com/x"}}"#,
            "webhook.secret",
        ),
        (
            r#"{"guardrails": {"allowed_link_hosts": ["not a host"]}}"#,
            "guardrails.allowed_link_hosts[0]",
        ),
        (
            r#"{"detection": {"languages": [{"code": "en", "function_words": ["a"]}]}}"#,
            "detection",
        ),
        (oversize.as_str(), "document"),
    ] {
        let status = expect_code(
            client
                .put_policy(request_as(&owner, put(document, None)))
                .await,
            Code::InvalidArgument,
        );
        assert!(status.message().starts_with(field), "{field}: {status:?}");
    }

    // Only managers and owners may write, and only signed-in ones.
    for principal in [user(&tenant, Role::Agent), tenant_principal(&tenant)] {
        expect_code(
            client
                .put_policy(request_as(&principal, put("{}", None)))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            client
                .get_policy(request_as(&principal, GetPolicyRequest {}))
                .await,
            Code::PermissionDenied,
        );
    }
    assert_eq!(get(&app, &owner).await.version, 0);
    let db = app.db().await;
    assert_eq!(count_rows(&db, "esc_policy").await, 0);
    assert_eq!(count_rows(&db, OUTBOX_TABLE).await, 0);
}

async fn the_webhook_secret_is_write_only_and_kept(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let tenant = TenantId::generate();
    let owner = user(&tenant, Role::Owner);
    let with_secret =
        format!(r#"{{"webhook": {{"url": "https://hooks.example.com/x", "secret": "{SECRET}"}}}}"#);
    let mut client = app.client().await;
    let one = client
        .put_policy(request_as(&owner, put(&with_secret, None)))
        .await
        .unwrap()
        .into_inner();
    assert!(!one.document.contains(SECRET));
    assert!(one.document.contains("hooks.example.com"));

    // A write without the secret keeps it: no error for a missing secret.
    let moved = r#"{"webhook": {"url": "https://hooks2.example.com/x"}}"#;
    let two = client
        .put_policy(request_as(&owner, put(moved, None)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(two.version, 2);
    assert!(!get(&app, &owner).await.document.contains(SECRET));

    let db = app.db().await;
    let secrets: Vec<Option<String>> = rampart_escalation::entity::policy::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            assert!(!row.document.contains(SECRET));
            row.webhook_secret
        })
        .collect();
    assert_eq!(secrets, [Some(SECRET.to_owned()), Some(SECRET.to_owned())]);
}

async fn a_tenant_intent_hands_off_through_the_gate(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let tenant = TenantId::generate();
    // An intent of its own, and Italian (not built in) with a gas phrase.
    let version = app
        .put_policy(
            &tenant,
            r#"{"detection": {
                "intents": [{"name": "warranty_claim", "severity": "medium",
                             "phrases": {"en": ["warranty claim"]}}],
                "languages": [{"code": "it",
                               "function_words": ["il", "che", "non", "sono", "una", "della", "nella"],
                               "phrases": {"emergency": ["fuga di gas"]}}]}}"#,
        )
        .await;
    assert_eq!(version, 1);
    let mut crm = app.crm().await;
    let caller = tenant_principal(&tenant);

    // Deciding (not storing: that part opens a handoff) is the gate's own
    // answer; see gate.rs for the stored side.
    let harmless = crm
        .gate(request_as(&caller, gate("what time is it in Rome")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(harmless.receipt.unwrap().policy_version, 1);

    let detector = rampart_escalation::policies::CompiledPolicy::compile(
        1,
        rampart_escalation::tenant_policy::TenantPolicy::parse(
            &get(&app, &user(&tenant, Role::Owner)).await.document,
            false,
        )
        .unwrap(),
    )
    .unwrap();
    let claim = rampart_escalation::decisions::decide(&detector, "I want to make a warranty claim");
    assert_eq!(claim.intents, ["warranty_claim"]);
    assert_eq!(claim.action, "handoff");
    let gas = rampart_escalation::decisions::decide(
        &detector,
        "c'è una fuga di gas nella mia cucina, non so che fare",
    );
    assert_eq!(gas.intents, ["emergency"]);
    assert_eq!(gas.language, "it");
    assert_eq!(gas.policy_version, 1);
}

async fn concurrent_writes_never_share_a_version(database: TestDatabase) {
    let app = TestApp::spawn_on(database).await;
    let tenant = TenantId::generate();
    let owner = user(&tenant, Role::Owner);
    let (mut a, mut b) = (app.client().await, app.client().await);
    let (first, second) = tokio::join!(
        a.put_policy(request_as(
            &owner,
            put(
                r#"{"chain": {"levels": [{"roles": ["agent"], "delay_secs": 5}]}}"#,
                None
            )
        )),
        b.put_policy(request_as(
            &owner,
            put(
                r#"{"chain": {"levels": [{"roles": ["owner"], "delay_secs": 5}]}}"#,
                None
            )
        )),
    );
    let mut versions = Vec::new();
    for result in [first, second] {
        match result {
            Ok(written) => versions.push(written.into_inner().version),
            Err(status) => {
                assert_eq!(status.code(), Code::Aborted, "{status:?}");
                assert_eq!(
                    status.message(),
                    "the policy changed meanwhile, read it again"
                );
            }
        }
    }
    versions.sort_unstable();
    assert!(versions == [1] || versions == [1, 2], "{versions:?}");
    let db = app.db().await;
    let written = i64::try_from(versions.len()).unwrap();
    assert_eq!(count_rows(&db, "esc_policy").await, written);
    assert_eq!(count_rows(&db, OUTBOX_TABLE).await, written);
}

#[tokio::test]
async fn a_write_is_seen_by_the_next_decision() {
    let app = TestApp::spawn().await;
    let tenant = TenantId::generate();
    let caller = tenant_principal(&tenant);
    let mut crm = app.crm().await;
    let before = crm
        .gate(request_as(&caller, gate("do you deliver on saturdays")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.receipt.unwrap().policy_version, 0);
    for expected in 1..=2 {
        assert_eq!(app.put_policy(&tenant, "{}").await, expected);
        let after = crm
            .gate(request_as(&caller, gate("do you deliver on saturdays")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(after.receipt.unwrap().policy_version, expected);
    }
}
