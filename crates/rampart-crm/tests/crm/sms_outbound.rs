//! Outbound texts: a reply in an SMS conversation reaches the provider
//! once, through the tenant's Twilio account, in Twilio's wire format (the
//! loopback provider checks it); an opted-out number is never texted, not
//! by a first attempt, a retry, another CRM instance, or after a restart;
//! retries deliver once; refusals are final and audited; an unknown
//! outcome is never resent.
//!
//! The CRM runs for real (gRPC, mutual TLS, its own sender worker where a
//! test says so); otherwise the test drives the sender with
//! [`rampart_crm::sms::send_due`] against the loopback provider, so every
//! pass is the test's own.

use std::sync::Arc;
use std::time::Duration;

use rampart_crm::domain::{ChannelCredentials, ChannelKind, ChannelName, E164Number, Phone};
use rampart_crm::entity::sms_outbox;
use rampart_crm::sms::loopback::LoopbackProvider;
use rampart_crm::sms::twilio::TwilioRest;
use rampart_crm::sms::{SenderPass, SmsSettings, send_due};
use rampart_crm::store::{
    ChannelStore, DataScope, NewChannel, OptChoice, OptOutLedger, SmsThreadStore,
    purge_conversation,
};
use rampart_crm::vault::{LocalMasterKeys, MasterKey, Vault};
use rampart_kit::ids::{ConversationId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Principal, Role};
use rampart_kit::testing::{TestDatabase, TestServer, UnavailableAudit, request_as};
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use sea_orm::sea_query::{Order, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};

use crate::escalation_stub::{self, StubEscalation, StubGuard};
use crate::helpers::{
    MANUAL_GATE_RETRY, MANUAL_RETENTION, new_tenant, post, start_request, test_master_key, user,
};

on_both_databases!(
    replies_in_an_sms_conversation_reach_the_provider_once,
    an_opted_out_number_is_never_texted_by_a_first_attempt_or_a_retry,
    a_provider_failing_twice_then_accepting_delivers_once,
    a_conversations_texts_leave_in_the_order_written,
    retryable_failures_end_failed_after_the_bound,
    bad_credentials_fail_audited_and_are_not_retried,
    an_unknown_outcome_is_not_resent,
    two_workers_racing_deliver_each_message_once,
    an_opt_out_holds_after_a_restart,
    a_message_never_leaves_through_another_tenants_channel,
    purging_a_conversation_deletes_its_queued_texts,
);

/// A sender that never runs on its own: the test calls `send_due`.
const MANUAL_TICK: Duration = Duration::from_secs(3600);

/// Settings for the loopback provider at `url`: retries due at once, a
/// short timeout, the worker ticking every `tick`.
fn settings(url: &str, tick: Duration) -> SmsSettings {
    SmsSettings {
        twilio_api_url: url.to_owned(),
        max_attempts: 4,
        first_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        tick,
        request_timeout: Duration::from_secs(1),
    }
}

/// One running CRM instance on a database the test keeps.
struct Instance {
    server: TestServer,
    config: rampart_crm::Config,
    db: DatabaseConnection,
    escalation: StubEscalation,
    _escalation_guard: StubGuard,
    _audit: UnavailableAudit,
}

impl Instance {
    async fn start(database_url: &str, master_key: Arc<dyn MasterKey>, sms: SmsSettings) -> Self {
        let audit = UnavailableAudit::start().await;
        let (listener, address) = escalation_stub::reserve().await;
        let config = rampart_crm::Config {
            database_url: database_url.to_owned(),
            audit_url: audit.url(),
            escalation_url: format!("https://{address}"),
            master_key,
            integrations: rampart_crm::Integrations {
                sms,
                ..Default::default()
            },
        };
        let run_config = config.clone();
        let server = TestServer::start(ServiceName::Crm, |listener, tls, shutdown| {
            rampart_crm::run_with_schedules(
                run_config,
                listener,
                tls,
                shutdown,
                MANUAL_GATE_RETRY,
                MANUAL_RETENTION,
            )
        })
        .await;
        let (escalation, guard) = StubEscalation::serve(listener, server.pki());
        wait_until_serving(&server).await;
        let db = rampart_kit::db::connect(database_url).await.unwrap();
        Self {
            server,
            config,
            db,
            escalation,
            _escalation_guard: guard,
            _audit: audit,
        }
    }

    async fn client(&self) -> CrmServiceClient<tonic::transport::Channel> {
        CrmServiceClient::new(self.server.channel_as(ServiceName::Gateway).await)
    }

    fn vault(&self) -> Vault {
        Vault::new(self.config.master_key.clone())
    }

    async fn stop(&mut self) {
        tokio::time::timeout(Duration::from_secs(15), self.server.stop())
            .await
            .expect("the crm stopped")
            .unwrap();
    }

    /// Starts again on the same database, with `sms`.
    async fn restart(&mut self, sms: SmsSettings) {
        self.config.integrations.sms = sms;
        let config = self.config.clone();
        self.server
            .restart(|listener, tls, shutdown| {
                rampart_crm::run_with_schedules(
                    config,
                    listener,
                    tls,
                    shutdown,
                    MANUAL_GATE_RETRY,
                    MANUAL_RETENTION,
                )
            })
            .await;
        wait_until_serving(&self.server).await;
    }

    /// One sender pass, as the worker runs it, through `provider`.
    async fn send_due(&self, provider: &LoopbackProvider) -> SenderPass {
        let settings = settings(&provider.url(), MANUAL_TICK);
        let rest = TwilioRest::new(&settings.twilio_api_url, settings.request_timeout).unwrap();
        send_due(
            &self.db,
            &Outbox::new(rampart_crm::OUTBOX_TABLE),
            &self.vault(),
            &rest,
            &settings,
        )
        .await
        .unwrap()
    }

    /// The outbox's events with `action`, oldest first.
    async fn audit_actions(&self, action: &str) -> Vec<AuditRecord> {
        let select = Query::select()
            .column("payload")
            .from(rampart_crm::OUTBOX_TABLE)
            .order_by("id", Order::Asc)
            .to_owned();
        self.db
            .query_all(&select)
            .await
            .unwrap()
            .iter()
            .map(|row| {
                serde_json::from_str(&row.try_get::<String>("", "payload").unwrap()).unwrap()
            })
            .filter(|record: &AuditRecord| record.action == action)
            .collect()
    }
}

async fn wait_until_serving(server: &TestServer) {
    CrmServiceClient::new(server.channel_as(ServiceName::Gateway).await)
        .list_tenants(request_as(
            &rampart_kit::testing::admin_principal(),
            rampart_proto::crm::v1::ListTenantsRequest::default(),
        ))
        .await
        .expect("the crm service did not start");
}

fn random_hex(bytes: usize) -> String {
    (0..bytes.div_ceil(16))
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect::<String>()[..bytes * 2]
        .to_owned()
}

/// A number no other test uses (channel numbers are unique across
/// tenants).
fn random_number() -> String {
    let digits: String = uuid::Uuid::new_v4()
        .as_u128()
        .to_string()
        .chars()
        .take(9)
        .collect();
    format!("+15{digits}")
}

/// A tenant with a connected Twilio number, its account at the provider.
struct Tenant {
    id: TenantId,
    key: Principal,
    agent: Principal,
    channel_id: String,
    number: String,
    account_sid: String,
    auth_token: String,
}

impl Tenant {
    fn scope(&self) -> DataScope {
        DataScope::live(self.id.clone())
    }
}

/// Connects a `twilio` channel for a new tenant, its credentials sealed as
/// the channel route seals them, and registers its account at `provider`
/// (with `provider_token`, or the channel's own token).
async fn twilio_tenant(
    app: &Instance,
    provider: &LoopbackProvider,
    provider_token: Option<&str>,
) -> Tenant {
    let (id, key) = new_tenant();
    let agent = user(&id, Role::Agent);
    let account_sid = format!("AC{}", random_hex(16));
    let auth_token = random_hex(16);
    let number = random_number();
    let credentials = serde_json::json!({
        "account_sid": account_sid,
        "auth_token": auth_token,
    })
    .to_string();
    let outbox = Outbox::new(rampart_crm::OUTBOX_TABLE);
    let vault = app.vault();
    let created = ChannelStore::for_tenant(&app.db, &outbox, &vault, DataScope::live(id.clone()))
        .create(
            &key,
            NewChannel {
                kind: ChannelKind::Twilio,
                display_name: ChannelName::parse("Texts").unwrap(),
                credentials: ChannelCredentials::parse(&credentials).unwrap(),
                phone_number: Some(E164Number::parse(&number).unwrap()),
            },
        )
        .await
        .unwrap();
    provider.add_account(&account_sid, provider_token.unwrap_or(&auth_token));
    Tenant {
        id,
        key,
        agent,
        channel_id: created.id,
        number,
        account_sid,
        auth_token,
    }
}

/// Starts a conversation of `tenant` and opens its SMS thread with
/// `customer` on the tenant's channel (as an inbound text does).
async fn sms_conversation(app: &Instance, tenant: &Tenant, customer: &str) -> String {
    let started = app
        .client()
        .await
        .start_conversation(request_as(&tenant.key, start_request("sms", "Hi")))
        .await
        .unwrap()
        .into_inner();
    let vault = app.vault();
    SmsThreadStore::for_tenant(&app.db, &vault, tenant.scope())
        .open(
            &app.db,
            &ConversationId::parse(&started.id).unwrap(),
            &tenant.channel_id,
            &Phone::parse(customer).unwrap(),
        )
        .await
        .unwrap();
    started.id
}

async fn agent_reply(app: &Instance, tenant: &Tenant, conversation: &str, text: &str) -> String {
    app.client()
        .await
        .post_agent_reply(request_as(&tenant.agent, post(conversation, text)))
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn opt(app: &Instance, tenant: &Tenant, customer: &str, choice: OptChoice) {
    let outbox = Outbox::new(rampart_crm::OUTBOX_TABLE);
    let vault = app.vault();
    let changed = OptOutLedger::for_tenant(&app.db, &outbox, &vault, tenant.scope())
        .record(
            &Principal::system(tenant.id.clone(), ServiceName::Crm),
            &Phone::parse(customer).unwrap(),
            choice,
            if choice == OptChoice::OptOut {
                "STOP"
            } else {
                "START"
            },
            &tenant.channel_id,
        )
        .await
        .unwrap();
    assert!(changed);
}

async fn outbox_rows(db: &DatabaseConnection) -> Vec<sms_outbox::Model> {
    sms_outbox::Entity::find()
        .order_by_asc(sms_outbox::Column::CreatedAt)
        .order_by_asc(sms_outbox::Column::Id)
        .all(db)
        .await
        .unwrap()
}

async fn row_of(db: &DatabaseConnection, message_id: &str) -> sms_outbox::Model {
    sms_outbox::Entity::find()
        .filter(sms_outbox::Column::MessageId.eq(message_id))
        .one(db)
        .await
        .unwrap()
        .expect("the reply was queued")
}

/// Waits until the row of `message_id` reaches `state`.
async fn wait_for_state(db: &DatabaseConnection, message_id: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let row = row_of(db, message_id).await;
        if row.state == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{message_id} stayed {} (wanted {state})",
            row.state
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn master_key() -> Arc<dyn MasterKey> {
    test_master_key(&LocalMasterKeys::generate().unwrap())
}

const CUSTOMER: &str = "+15558675309";
const OTHER_CUSTOMER: &str = "+15558675310";

async fn replies_in_an_sms_conversation_reach_the_provider_once(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), Duration::from_millis(100)),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;

    let ai = app
        .client()
        .await
        .post_ai_reply(request_as(
            &tenant.key,
            post(&conversation, "Your appointment is at 3pm."),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ai.delivery, "sent");
    assert_eq!(app.escalation.review_calls().len(), 1);
    let agent = agent_reply(&app, &tenant, &conversation, "Sam here, see you then").await;

    // A reply in a conversation without an SMS thread is not queued.
    let web = app
        .client()
        .await
        .start_conversation(request_as(&tenant.key, start_request("web", "Hello")))
        .await
        .unwrap()
        .into_inner();
    agent_reply(&app, &tenant, &web.id, "Not a text").await;

    wait_for_state(&app.db, &ai.id, "sent").await;
    wait_for_state(&app.db, &agent, "sent").await;
    // More passes of the worker send nothing again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = provider.accepted();
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    assert_eq!(provider.requests(), 2);
    let bodies: Vec<&str> = accepted.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["Your appointment is at 3pm.", "Sam here, see you then"]
    );
    for message in &accepted {
        // Basic auth was checked against the channel's own credentials.
        assert_eq!(message.account_sid, tenant.account_sid);
        assert_eq!(message.to, CUSTOMER);
        assert_eq!(message.from, tenant.number);
    }

    let rows = outbox_rows(&app.db).await;
    assert_eq!(rows.len(), 2);
    for (row, message) in rows.iter().zip(&accepted) {
        assert_eq!(row.state, "sent");
        assert_eq!(row.attempts, 1);
        assert_eq!(row.provider_id.as_deref(), Some(message.sid.as_str()));
        assert_eq!(row.conversation_id, conversation);
        assert_eq!(row.tenant_id, tenant.id.as_str());
        // Sealed at rest: neither the number nor the text in the clear.
        let stored = [row.to_phone.as_slice(), row.body.as_slice()].concat();
        let stored = String::from_utf8_lossy(&stored);
        assert!(!stored.contains("5558675309"));
        assert!(!stored.contains("appointment") && !stored.contains("Sam here"));
    }
    assert!(app.audit_actions("sms.failed").await.is_empty());
    assert!(app.audit_actions("sms.suppressed").await.is_empty());
}

async fn an_opted_out_number_is_never_texted_by_a_first_attempt_or_a_retry(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;

    // First attempt: opted out before the reply.
    opt(&app, &tenant, CUSTOMER, OptChoice::OptOut).await;
    let first = agent_reply(&app, &tenant, &conversation, "first").await;
    let pass = app.send_due(&provider).await;
    assert_eq!(pass.suppressed, 1, "{pass:?}");
    assert_eq!(row_of(&app.db, &first).await.state, "suppressed");
    assert_eq!(provider.requests(), 0);
    let suppressed = app.audit_actions("sms.suppressed").await;
    assert_eq!(suppressed.len(), 1);
    assert_eq!(
        suppressed[0].target,
        format!("sms_message:{}", row_of(&app.db, &first).await.id)
    );
    assert_eq!(suppressed[0].details["reason"], "opted_out");
    assert_eq!(suppressed[0].details["message_id"], first);
    suppressed[0].check_schema().unwrap();
    // Suppressed for good: opting back in does not send it.
    opt(&app, &tenant, CUSTOMER, OptChoice::OptIn).await;
    assert_eq!(app.send_due(&provider).await, SenderPass::default());
    assert_eq!(provider.requests(), 0);

    // A retry: the first attempt fails (nothing accepted), the number opts
    // out, the retry is suppressed.
    let second = agent_reply(&app, &tenant, &conversation, "second").await;
    provider.fail_next(1);
    let pass = app.send_due(&provider).await;
    assert_eq!(pass.retried, 1, "{pass:?}");
    assert_eq!(provider.requests(), 1);
    let row = row_of(&app.db, &second).await;
    assert_eq!((row.state.as_str(), row.attempts), ("pending", 1));
    assert_eq!(
        row.last_error.as_deref(),
        Some("http 503, twilio error 20503")
    );
    opt(&app, &tenant, CUSTOMER, OptChoice::OptOut).await;
    let pass = app.send_due(&provider).await;
    assert_eq!(pass.suppressed, 1, "{pass:?}");
    assert_eq!(row_of(&app.db, &second).await.state, "suppressed");
    assert_eq!(provider.requests(), 1);
    assert!(provider.accepted().is_empty());

    // The ledger is per number: another customer of the tenant is texted.
    let other = sms_conversation(&app, &tenant, OTHER_CUSTOMER).await;
    agent_reply(&app, &tenant, &other, "third").await;
    assert_eq!(app.send_due(&provider).await.sent, 1);
    let accepted = provider.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].to, OTHER_CUSTOMER);
}

async fn a_provider_failing_twice_then_accepting_delivers_once(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;
    let reply = agent_reply(&app, &tenant, &conversation, "hello").await;

    provider.fail_next(2);
    assert_eq!(app.send_due(&provider).await.retried, 1);
    assert_eq!(app.send_due(&provider).await.retried, 1);
    assert_eq!(app.send_due(&provider).await.sent, 1);
    for _ in 0..3 {
        assert_eq!(app.send_due(&provider).await, SenderPass::default());
    }
    assert_eq!(provider.requests(), 3);
    let accepted = provider.accepted();
    assert_eq!(accepted.len(), 1);
    let row = row_of(&app.db, &reply).await;
    assert_eq!(row.state, "sent");
    assert_eq!(row.attempts, 3);
    assert_eq!(row.provider_id.as_deref(), Some(accepted[0].sid.as_str()));
    assert!(row.lease_until.is_none() && row.lease_token.is_none());
}

async fn a_conversations_texts_leave_in_the_order_written(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;
    let other = sms_conversation(&app, &tenant, OTHER_CUSTOMER).await;
    let first = agent_reply(&app, &tenant, &conversation, "first").await;
    let second = agent_reply(&app, &tenant, &conversation, "second").await;
    let elsewhere = agent_reply(&app, &tenant, &other, "elsewhere").await;

    // The first fails and waits for its retry: the second waits behind it;
    // another conversation's text does not.
    provider.fail_next(1);
    let pass = app.send_due(&provider).await;
    assert_eq!((pass.retried, pass.taken, pass.sent), (1, 1, 1), "{pass:?}");
    assert_eq!(row_of(&app.db, &second).await.state, "pending");
    assert_eq!(row_of(&app.db, &second).await.attempts, 0);
    assert_eq!(row_of(&app.db, &elsewhere).await.state, "sent");

    assert_eq!(app.send_due(&provider).await.sent, 2);
    assert_eq!(row_of(&app.db, &first).await.state, "sent");
    let bodies: Vec<String> = provider.accepted().into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["elsewhere", "first", "second"]);
}

async fn retryable_failures_end_failed_after_the_bound(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;
    let reply = agent_reply(&app, &tenant, &conversation, "hello").await;

    provider.fail_next(100);
    // max_attempts is 4: three retries, then failed.
    for _ in 0..3 {
        assert_eq!(app.send_due(&provider).await.retried, 1);
    }
    assert_eq!(app.send_due(&provider).await.failed, 1);
    assert_eq!(app.send_due(&provider).await, SenderPass::default());
    assert_eq!(provider.requests(), 4);
    let row = row_of(&app.db, &reply).await;
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 4));
    let failed = app.audit_actions("sms.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].details["reason"], "retries_exhausted");
    assert_eq!(failed[0].details["attempts"], "4");
    failed[0].check_schema().unwrap();
}

async fn bad_credentials_fail_audited_and_are_not_retried(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    // The provider knows the account with another token: the channel's is
    // wrong (rotated at Twilio, say).
    let tenant = twilio_tenant(&app, &provider, Some(&random_hex(16))).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;
    let reply = agent_reply(&app, &tenant, &conversation, "hello").await;

    assert_eq!(app.send_due(&provider).await.failed, 1);
    for _ in 0..3 {
        assert_eq!(app.send_due(&provider).await, SenderPass::default());
    }
    assert_eq!(provider.requests(), 1);
    assert!(provider.accepted().is_empty());
    let row = row_of(&app.db, &reply).await;
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 1));
    assert_eq!(
        row.last_error.as_deref(),
        Some("http 401, twilio error 20003")
    );
    let failed = app.audit_actions("sms.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].outcome, "failure");
    assert_eq!(failed[0].details["reason"], "refused");
    assert_eq!(failed[0].details["http_status"], "401");
    assert_eq!(failed[0].details["provider_error"], "20003");
    assert_eq!(failed[0].actor, "system:crm");
    failed[0].check_schema().unwrap();
    // Nothing secret or personal in the event.
    let json = serde_json::to_string(&failed[0]).unwrap();
    assert!(!json.contains(&tenant.auth_token));
    assert!(!json.contains("5558675309"));
}

async fn an_unknown_outcome_is_not_resent(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;
    let reply = agent_reply(&app, &tenant, &conversation, "hello").await;

    // The provider takes the message and never answers: past the timeout.
    provider.hang_next(1);
    let pass = app.send_due(&provider).await;
    assert_eq!(pass.unknown, 1, "{pass:?}");
    for _ in 0..3 {
        assert_eq!(app.send_due(&provider).await, SenderPass::default());
    }
    assert_eq!(provider.requests(), 1);
    assert_eq!(provider.accepted().len(), 1);
    let row = row_of(&app.db, &reply).await;
    assert_eq!(row.state, "unknown");
    assert_eq!(row.last_error.as_deref(), Some("no answer (timeout)"));
    let unknown = app.audit_actions("sms.unknown").await;
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].details["reason"], "no_answer");
    unknown[0].check_schema().unwrap();

    // A worker that stopped mid-send (its lease ran out) leaves the row
    // unknown too, not due again.
    let second = agent_reply(&app, &tenant, &conversation, "second").await;
    let mut claimed = row_of(&app.db, &second).await.into_active_model();
    claimed.state = ActiveValue::Set("sending".to_owned());
    claimed.attempts = ActiveValue::Set(1);
    claimed.lease_token = ActiveValue::Set(Some("gone".to_owned()));
    claimed.lease_until = ActiveValue::Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    claimed.update(&app.db).await.unwrap();
    assert_eq!(app.send_due(&provider).await.unknown, 1);
    assert_eq!(app.send_due(&provider).await, SenderPass::default());
    assert_eq!(row_of(&app.db, &second).await.state, "unknown");
    assert_eq!(provider.requests(), 1);
    let unknown = app.audit_actions("sms.unknown").await;
    assert_eq!(unknown.len(), 2);
    assert_eq!(unknown[1].details["reason"], "lease_expired");
}

async fn two_workers_racing_deliver_each_message_once(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;
    let mut bodies = Vec::new();
    for n in 0..12 {
        let body = format!("message {n}");
        agent_reply(&app, &tenant, &conversation, &body).await;
        bodies.push(body);
    }

    // Two workers, each with its own pool (as two instances have), on the
    // same due rows at once.
    let settings = settings(&provider.url(), MANUAL_TICK);
    let vault = app.vault();
    let rest = TwilioRest::new(&provider.url(), settings.request_timeout).unwrap();
    let other_db = rampart_kit::db::connect(&database.url).await.unwrap();
    let (one_outbox, other_outbox) = (
        Outbox::new(rampart_crm::OUTBOX_TABLE),
        Outbox::new(rampart_crm::OUTBOX_TABLE),
    );
    let (one, other) = tokio::join!(
        send_due(&app.db, &one_outbox, &vault, &rest, &settings),
        send_due(&other_db, &other_outbox, &vault, &rest, &settings),
    );
    let (one, other) = (one.unwrap(), other.unwrap());
    assert_eq!(one.sent + other.sent, 12, "{one:?} {other:?}");
    assert_eq!(one.errors + other.errors, 0, "{one:?} {other:?}");

    let mut delivered: Vec<String> = provider.accepted().into_iter().map(|m| m.body).collect();
    delivered.sort();
    bodies.sort();
    assert_eq!(delivered, bodies);
    assert_eq!(provider.requests(), 12);
    assert!(
        outbox_rows(&app.db)
            .await
            .iter()
            .all(|row| row.state == "sent" && row.attempts == 1)
    );
}

async fn an_opt_out_holds_after_a_restart(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let mut app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let conversation = sms_conversation(&app, &tenant, CUSTOMER).await;
    let other = sms_conversation(&app, &tenant, OTHER_CUSTOMER).await;
    opt(&app, &tenant, CUSTOMER, OptChoice::OptOut).await;
    let before = agent_reply(&app, &tenant, &conversation, "queued before").await;

    app.stop().await;
    app.restart(settings(&provider.url(), Duration::from_millis(100)))
        .await;
    let after = agent_reply(&app, &tenant, &conversation, "written after").await;
    // A control: the worker runs, and texts a number that did not opt out.
    let control = agent_reply(&app, &tenant, &other, "control").await;
    wait_for_state(&app.db, &control, "sent").await;
    wait_for_state(&app.db, &before, "suppressed").await;
    wait_for_state(&app.db, &after, "suppressed").await;
    let accepted = provider.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].to, OTHER_CUSTOMER);
    assert_eq!(provider.requests(), 1);
}

async fn a_message_never_leaves_through_another_tenants_channel(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let victim = twilio_tenant(&app, &provider, None).await;
    let attacker = twilio_tenant(&app, &provider, None).await;
    // A thread of the attacker's that names the victim's channel (nothing
    // lets a tenant write one; the sender must not trust it either).
    let forged = Tenant {
        channel_id: victim.channel_id.clone(),
        ..attacker
    };
    let conversation = sms_conversation(&app, &forged, CUSTOMER).await;
    let reply = agent_reply(&app, &forged, &conversation, "spam").await;

    assert_eq!(app.send_due(&provider).await.failed, 1);
    assert_eq!(provider.requests(), 0);
    assert_eq!(row_of(&app.db, &reply).await.state, "failed");
    let failed = app.audit_actions("sms.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].details["reason"], "channel_unusable");
    assert_eq!(failed[0].tenant_id.as_deref(), Some(forged.id.as_str()));
}

async fn purging_a_conversation_deletes_its_queued_texts(database: TestDatabase) {
    let provider = LoopbackProvider::start().await.unwrap();
    let app = Instance::start(
        &database.url,
        master_key(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let tenant = twilio_tenant(&app, &provider, None).await;
    let gone = sms_conversation(&app, &tenant, CUSTOMER).await;
    let kept = sms_conversation(&app, &tenant, OTHER_CUSTOMER).await;
    agent_reply(&app, &tenant, &gone, "to be purged").await;
    let kept_reply = agent_reply(&app, &tenant, &kept, "kept").await;
    assert_eq!(outbox_rows(&app.db).await.len(), 2);

    let vault = app.vault();
    let tx = sea_orm::TransactionTrait::begin(&app.db).await.unwrap();
    let keys = vault.tenant(&tx, &tenant.id).await.unwrap();
    purge_conversation(&tx, &tenant.scope(), &keys, &gone)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let rows = outbox_rows(&app.db).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message_id, kept_reply);
    assert_eq!(app.send_due(&provider).await.sent, 1);
    assert_eq!(provider.accepted()[0].body, "kept");
}

/// Two CRM instances on one PostgreSQL database: an opt-out recorded
/// through one holds for the other's worker.
#[tokio::test]
async fn an_opt_out_through_one_instance_holds_for_the_other() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let provider = LoopbackProvider::start().await.unwrap();
    let key = master_key();
    // One instance's worker never runs; the other's does.
    let one = Instance::start(
        &database.url,
        key.clone(),
        settings(&provider.url(), MANUAL_TICK),
    )
    .await;
    let other = Instance::start(
        &database.url,
        key,
        settings(&provider.url(), Duration::from_millis(100)),
    )
    .await;
    let tenant = twilio_tenant(&one, &provider, None).await;
    let conversation = sms_conversation(&one, &tenant, CUSTOMER).await;
    let control_conversation = sms_conversation(&one, &tenant, OTHER_CUSTOMER).await;

    opt(&one, &tenant, CUSTOMER, OptChoice::OptOut).await;
    let reply = agent_reply(&one, &tenant, &conversation, "after the STOP").await;
    let control = agent_reply(&one, &tenant, &control_conversation, "control").await;
    wait_for_state(&other.db, &control, "sent").await;
    wait_for_state(&other.db, &reply, "suppressed").await;
    let accepted = provider.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].to, OTHER_CUSTOMER);
    assert_eq!(provider.requests(), 1);
    assert_eq!(other.audit_actions("sms.suppressed").await.len(), 1);
}
