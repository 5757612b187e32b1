//! What the handoff queue's tests share: escalation running on a database
//! the test also opens directly, handoffs opened the way the gate opens
//! them, people of each role, policies written as JSON, and the invariant
//! every test checks at its end.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rampart_escalation::OUTBOX_TABLE;
use rampart_escalation::handoffs::{OpenRequest, open_or_join};
use rampart_escalation::intents::Severity;
use rampart_escalation::scope::DataScope;
use rampart_escalation::tenant_policy::TenantPolicy;
use rampart_kit::ids::{ConversationId, MessageId, TenantId, UserId};
use rampart_kit::outbox::Outbox;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Principal, Role, SignedInUser};
use rampart_kit::testing::{TestDatabase, TestServer, UnavailableAudit, tenant_principal};
use rampart_proto::escalation::v1 as proto;
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use rampart_proto::escalation::v1::handoff_service_client::HandoffServiceClient;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tonic::transport::Channel;

/// Escalation running on a database the test also holds a connection to.
pub struct QueueApp {
    server: TestServer,
    config: rampart_escalation::Config,
    pub db: DatabaseConnection,
    pub outbox: Outbox,
    _audit: UnavailableAudit,
    _database: TestDatabase,
}

impl QueueApp {
    pub async fn spawn(database: TestDatabase) -> Self {
        let db = connect(&database).await;
        let audit = UnavailableAudit::start().await;
        let config = rampart_escalation::Config {
            database_url: database.url.clone(),
            audit_url: audit.url(),
            deadline_tick: Duration::from_millis(50),
            smtp: None,
            webhook_targets: rampart_escalation::handoffs::WebhookTargets::AnyAddress,
        };
        let server = start(&config).await;
        Self {
            server,
            config,
            db,
            outbox: Outbox::new(OUTBOX_TABLE),
            _audit: audit,
            _database: database,
        }
    }

    pub async fn client(&self) -> HandoffServiceClient<Channel> {
        HandoffServiceClient::new(self.server.channel_as(ServiceName::Gateway).await)
    }

    /// A client holding the CRM's certificate, for the gate.
    pub async fn crm(&self) -> EscalationServiceClient<Channel> {
        EscalationServiceClient::new(self.server.channel_as(ServiceName::Crm).await)
    }

    /// Another escalation instance on the same database.
    pub async fn second_instance(&self) -> TestServer {
        start(&self.config).await
    }

    pub async fn stop(&mut self) {
        self.server
            .stop()
            .await
            .expect("escalation stopped cleanly");
    }

    pub async fn restart(&mut self) {
        let config = self.config.clone();
        self.server
            .restart(move |listener, tls, shutdown| {
                rampart_escalation::run(config, listener, tls, shutdown)
            })
            .await;
    }
}

async fn start(config: &rampart_escalation::Config) -> TestServer {
    let config = config.clone();
    TestServer::start(ServiceName::Escalation, move |listener, tls, shutdown| {
        rampart_escalation::run(config, listener, tls, shutdown)
    })
    .await
}

/// A migrated connection of the test's own.
pub async fn connect(database: &TestDatabase) -> DatabaseConnection {
    let db = rampart_kit::db::connect(&database.url)
        .await
        .expect("connecting to the test database");
    rampart_escalation::migrate(&db)
        .await
        .expect("escalation migrations");
    db
}

/// A signed-in user of `tenant` with `role`.
pub fn user(tenant: &TenantId, role: Role) -> Principal {
    Principal {
        mode: rampart_kit::principal::DataMode::Live,
        credential_id: "ses_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        user: Some(SignedInUser {
            id: UserId::generate().into_string(),
            role,
        }),
        ..tenant_principal(tenant)
    }
}

pub fn user_id(principal: &Principal) -> String {
    principal
        .user
        .as_ref()
        .expect("a signed-in user")
        .id
        .clone()
}

/// A handoff of `tenant` opened as the gate opens one, on a conversation
/// of its own.
pub async fn open(
    db: &DatabaseConnection,
    tenant: &TenantId,
    severity: Severity,
    policy: &TenantPolicy,
    version: u32,
) -> proto::Handoff {
    open_on(
        db,
        tenant,
        &ConversationId::generate(),
        severity,
        policy,
        version,
    )
    .await
}

pub async fn open_on(
    db: &DatabaseConnection,
    tenant: &TenantId,
    conversation: &ConversationId,
    severity: Severity,
    policy: &TenantPolicy,
    version: u32,
) -> proto::Handoff {
    let scope = DataScope::live(tenant.clone());
    open_in(db, &scope, conversation, severity, policy, version).await
}

/// A handoff opened in `scope` (a tenant's live or test mode), as the gate
/// opens one for a principal of that mode.
pub async fn open_in(
    db: &DatabaseConnection,
    scope: &DataScope,
    conversation: &ConversationId,
    severity: Severity,
    policy: &TenantPolicy,
    version: u32,
) -> proto::Handoff {
    let outbox = Outbox::new(OUTBOX_TABLE);
    let principal = tenant_principal(&scope.tenant_id).in_mode(scope.mode);
    let mut change = outbox.begin(db).await.expect("a change");
    let handoff = open_or_join(
        &mut change,
        OpenRequest {
            scope,
            conversation_id: conversation,
            message_id: &MessageId::generate(),
            severity,
            intents: vec!["legal".to_owned()],
            reasons: vec!["legal: mentions suing or legal action".to_owned()],
            policy,
            policy_version: version,
            principal: &principal,
        },
    )
    .await
    .expect("opening a handoff");
    change.commit().await.expect("committing the handoff");
    handoff
}

/// Stores `document` as `tenant`'s policy `version` (as the policy store
/// would, the secret in its own column) and returns it parsed.
pub async fn insert_policy(
    db: &DatabaseConnection,
    tenant: &TenantId,
    version: i32,
    document: &serde_json::Value,
    webhook_secret: Option<&str>,
) -> TenantPolicy {
    let insert = Query::insert()
        .into_table("esc_policy")
        .columns([
            "tenant_id",
            "version",
            "document",
            "webhook_secret",
            "created_at",
            "created_by",
        ])
        .values_panic([
            tenant.as_str().into(),
            version.into(),
            document.to_string().into(),
            webhook_secret.map(str::to_owned).into(),
            Utc::now().into(),
            "user:test".into(),
        ])
        .to_owned();
    db.execute(&insert).await.expect("inserting a policy");
    serde_json::from_value(document.clone()).expect("a valid policy document")
}

/// The audit events of `action` waiting in the outbox.
pub async fn audit_events(db: &DatabaseConnection, action: &str) -> Vec<serde_json::Value> {
    let query = Query::select()
        .column("payload")
        .from(OUTBOX_TABLE)
        .order_by("id", sea_orm::Order::Asc)
        .to_owned();
    db.query_all(&query)
        .await
        .expect("reading the outbox")
        .into_iter()
        .map(|row| {
            let payload: String = row.try_get("", "payload").expect("a payload");
            serde_json::from_str::<serde_json::Value>(&payload).expect("JSON")
        })
        .filter(|event| event["action"] == action)
        .collect()
}

/// One row of `esc_notification`, as the tests look at it.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: String,
    pub handoff_id: String,
    pub channel: String,
    pub target: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

pub async fn notifications(db: &DatabaseConnection) -> Vec<NotificationRow> {
    let query = Query::select()
        .columns([
            "id",
            "handoff_id",
            "channel",
            "target",
            "payload",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "failed_at",
            "last_error",
        ])
        .from("esc_notification")
        .order_by("created_at", sea_orm::Order::Asc)
        .order_by("id", sea_orm::Order::Asc)
        .to_owned();
    db.query_all(&query)
        .await
        .expect("reading notifications")
        .into_iter()
        .map(|row| {
            let payload: String = row.try_get("", "payload").unwrap();
            NotificationRow {
                id: row.try_get("", "id").unwrap(),
                handoff_id: row.try_get("", "handoff_id").unwrap(),
                channel: row.try_get("", "channel").unwrap(),
                target: row.try_get("", "target").unwrap(),
                payload: serde_json::from_str(&payload).unwrap(),
                attempts: row.try_get("", "attempts").unwrap(),
                next_attempt_at: row.try_get("", "next_attempt_at").unwrap(),
                delivered_at: row.try_get("", "delivered_at").unwrap(),
                failed_at: row.try_get("", "failed_at").unwrap(),
                last_error: row.try_get("", "last_error").unwrap(),
            }
        })
        .collect()
}

/// Every open handoff has someone: an assignee, a pending escalation, or a
/// last level naming contacts or roles ("never with nobody").
pub async fn assert_nobody_is_forgotten(db: &DatabaseConnection) {
    let query = Query::select()
        .columns([
            "id",
            "tenant_id",
            "status",
            "assignee",
            "next_escalation_at",
            "level",
            "policy_version",
        ])
        .from("esc_handoff")
        .and_where(Expr::col("status").eq("open"))
        .to_owned();
    for row in db.query_all(&query).await.expect("reading handoffs") {
        let id: String = row.try_get("", "id").unwrap();
        let assignee: Option<String> = row.try_get("", "assignee").unwrap();
        let next: Option<DateTime<Utc>> = row.try_get("", "next_escalation_at").unwrap();
        if assignee.is_some() || next.is_some() {
            continue;
        }
        let tenant: String = row.try_get("", "tenant_id").unwrap();
        let version: i32 = row.try_get("", "policy_version").unwrap();
        let level: i32 = row.try_get("", "level").unwrap();
        let policy = if version == 0 {
            TenantPolicy::default()
        } else {
            let query = Query::select()
                .column("document")
                .from("esc_policy")
                .and_where(Expr::col("tenant_id").eq(tenant))
                .and_where(Expr::col("version").eq(version))
                .to_owned();
            let row = db.query_one(&query).await.unwrap().expect("its policy");
            let document: String = row.try_get("", "document").unwrap();
            serde_json::from_str(&document).unwrap()
        };
        let last = policy.chain.levels.last().expect("a chain has levels");
        assert_eq!(
            usize::try_from(level).unwrap(),
            policy.chain.levels.len(),
            "{id}: an open handoff without a deadline must rest on the last level"
        );
        assert!(
            !last.contacts.is_empty() || !last.roles.is_empty(),
            "{id}: open with nobody"
        );
    }
}

/// A handoff's columns the deadline tests look at.
pub async fn handoff_state(db: &DatabaseConnection, id: &str) -> (i32, i32, Option<DateTime<Utc>>) {
    let query = Query::select()
        .columns(["level", "round", "next_escalation_at"])
        .from("esc_handoff")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    let row = db.query_one(&query).await.unwrap().expect("the handoff");
    (
        row.try_get("", "level").unwrap(),
        row.try_get("", "round").unwrap(),
        row.try_get("", "next_escalation_at").unwrap(),
    )
}

/// Polls `check` until it holds; panics after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
