//! Starting the CRM for a test and calling it as the gateway would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rampart_crm::gate::{Escalation, GateRetry};
use rampart_crm::retention_job::RetentionSchedule;
use rampart_crm::vault::{LocalMasterKeys, MasterKey, Vault};
use rampart_kit::ids::{TenantId, UserId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Principal, Role, SignedInUser};
use rampart_kit::testing::{
    TestDatabase, TestServer, UnavailableAudit, admin_principal, channel_as, count_rows,
    request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use rampart_proto::crm::v1::owner_service_client::OwnerServiceClient;
use rampart_proto::crm::v1::schedule_service_client::ScheduleServiceClient;
use sea_orm::sea_query::{Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tonic::transport::Channel;

use crate::escalation_stub::{self, StubEscalation, StubGuard};

/// A running CRM, stopped when dropped.
pub struct TestApp {
    /// First, so the service is told to stop before what it uses goes.
    server: TestServer,
    config: rampart_crm::Config,
    /// A connection of the test's own, to look at what the service stored.
    pub db: DatabaseConnection,
    /// The audit service that is down, counting the relay's attempts.
    pub audit: UnavailableAudit,
    /// The stand-in escalation service the CRM calls.
    pub escalation: StubEscalation,
    escalation_address: SocketAddr,
    gate_retry: GateRetry,
    retention: RetentionSchedule,
    _escalation_guard: StubGuard,
    _database: TestDatabase,
}

/// A gate retry that does not run for an hour: tests
/// drive [`rampart_crm::gate::retry_pending_gates`] themselves, so what the
/// stub counts is theirs alone.
pub const MANUAL_GATE_RETRY: GateRetry = GateRetry {
    tick: Duration::from_secs(3600),
    min_age: Duration::ZERO,
};

/// A retention job that does not run for an hour: tests call
/// [`rampart_crm::retention_job::run_retention`] themselves.
pub const MANUAL_RETENTION: RetentionSchedule = RetentionSchedule {
    first_run: Duration::from_secs(3600),
    every: Duration::from_secs(3600),
};

impl TestApp {
    /// Starts the CRM on `database`, with the audit service down and the
    /// stub escalation up, the gate retry left to the test.
    pub async fn spawn(database: TestDatabase) -> Self {
        Self::spawn_with(database, MANUAL_GATE_RETRY).await
    }

    /// [`spawn`](Self::spawn), with the gate retry running on `gate_retry`.
    pub async fn spawn_with(database: TestDatabase, gate_retry: GateRetry) -> Self {
        Self::spawn_with_schedules(database, gate_retry, MANUAL_RETENTION).await
    }

    /// [`spawn`](Self::spawn), with the retention job running on
    /// `retention`.
    pub async fn spawn_with_retention(
        database: TestDatabase,
        retention: RetentionSchedule,
    ) -> Self {
        Self::spawn_with_schedules(database, MANUAL_GATE_RETRY, retention).await
    }

    async fn spawn_with_schedules(
        database: TestDatabase,
        gate_retry: GateRetry,
        retention: RetentionSchedule,
    ) -> Self {
        let audit = UnavailableAudit::start().await;
        let (escalation_listener, escalation_address) = escalation_stub::reserve().await;
        let config = rampart_crm::Config {
            database_url: database.url.clone(),
            audit_url: audit.url(),
            escalation_url: format!("https://{escalation_address}"),
            master_key: test_master_key(&LocalMasterKeys::generate().unwrap()),
            integrations: rampart_crm::Integrations::default(),
        };

        let server = TestServer::start(ServiceName::Crm, |listener, tls, shutdown| {
            rampart_crm::run_with_schedules(
                config.clone(),
                listener,
                tls,
                shutdown,
                gate_retry,
                retention,
            )
        })
        .await;
        // Escalation is connected lazily, so it may come up after the CRM,
        // with the escalation certificate of the CRM's PKI.
        let (escalation, escalation_guard) =
            StubEscalation::serve(escalation_listener, server.pki());
        wait_until_serving(&server).await;
        // Opened only now: the service has created the file, switched it to
        // WAL and migrated it, so the test's pool races none of that (two
        // pools switching one new SQLite file to WAL at once can fail with
        // "database is locked").
        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        Self {
            server,
            config,
            db,
            audit,
            escalation,
            escalation_address,
            gate_retry,
            retention,
            _escalation_guard: escalation_guard,
            _database: database,
        }
    }

    /// A client of the stub escalation holding the CRM's certificate, as
    /// the CRM's own gate retry uses.
    pub async fn escalation_client(&self) -> Escalation {
        Escalation::from_channel(
            channel_as(
                self.server.pki(),
                self.escalation_address,
                ServiceName::Crm,
                ServiceName::Escalation,
            )
            .await,
        )
    }

    /// A vault with the service's master key, as a second CRM instance
    /// would hold.
    pub fn vault(&self) -> Vault {
        Vault::new(self.config.master_key.clone())
    }

    /// The master key the service gets at its next [`restart`](Self::restart).
    pub fn set_master_key(&mut self, master_key: Arc<dyn MasterKey>) {
        self.config.master_key = master_key;
    }

    /// Runs one gate retry pass, as the CRM's worker does.
    pub async fn retry_pending_gates(&self) -> usize {
        rampart_crm::gate::retry_pending_gates(
            &self.db,
            &Outbox::new(rampart_crm::OUTBOX_TABLE),
            &self.vault(),
            &self.escalation_client().await,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap()
    }

    /// Cancels the service's shutdown token and returns what `run` returned,
    /// failing if it takes longer than a few seconds.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        tokio::time::timeout(Duration::from_secs(10), self.server.stop())
            .await
            .expect("the crm service did not stop within 10 seconds")
    }

    /// Starts the service again on the same database, on a new port.
    pub async fn restart(&mut self) {
        let config = self.config.clone();
        let (gate_retry, retention) = (self.gate_retry, self.retention);
        self.server
            .restart(|listener, tls, shutdown| {
                rampart_crm::run_with_schedules(
                    config, listener, tls, shutdown, gate_retry, retention,
                )
            })
            .await;
        wait_until_serving(&self.server).await;
    }

    /// A client holding the gateway's certificate.
    pub async fn client(&self) -> CrmServiceClient<Channel> {
        self.client_as(ServiceName::Gateway).await
    }

    /// A `ScheduleService` client holding the gateway's certificate.
    pub async fn schedule_client(&self) -> ScheduleServiceClient<Channel> {
        ScheduleServiceClient::new(self.server.channel_as(ServiceName::Gateway).await)
    }

    /// A billing client holding the gateway's certificate.
    pub async fn billing_client(
        &self,
    ) -> rampart_proto::crm::v1::billing_service_client::BillingServiceClient<Channel> {
        rampart_proto::crm::v1::billing_service_client::BillingServiceClient::new(
            self.server.channel_as(ServiceName::Gateway).await,
        )
    }

    /// A client holding `service`'s certificate.
    pub async fn client_as(&self, service: ServiceName) -> CrmServiceClient<Channel> {
        CrmServiceClient::new(self.server.channel_as(service).await)
    }

    /// An `OwnerService` client holding `service`'s certificate.
    pub async fn owner_client_as(&self, service: ServiceName) -> OwnerServiceClient<Channel> {
        OwnerServiceClient::new(self.server.channel_as(service).await)
    }

    /// The database's URL, to read what it stores from outside.
    pub fn database_url(&self) -> &str {
        &self.config.database_url
    }

    /// How many audit events wait in the outbox.
    pub async fn pending_audit(&self) -> u64 {
        Outbox::new(rampart_crm::OUTBOX_TABLE)
            .pending(&self.db)
            .await
            .unwrap()
    }

    /// The outbox's raw payloads, oldest first.
    pub async fn audit_payloads(&self) -> Vec<String> {
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
            .map(|row| row.try_get::<String>("", "payload").unwrap())
            .collect()
    }

    /// The outbox's events, oldest first.
    pub async fn audit_records(&self) -> Vec<AuditRecord> {
        self.audit_payloads()
            .await
            .iter()
            .map(|payload| serde_json::from_str(payload).unwrap())
            .collect()
    }

    /// How many rows `table` holds.
    pub async fn count_rows(&self, table: &'static str) -> i64 {
        count_rows(&self.db, table).await
    }

    /// The outbox's events with `action`, oldest first.
    pub async fn audit_actions(&self, action: &str) -> Vec<AuditRecord> {
        self.audit_records()
            .await
            .into_iter()
            .filter(|record| record.action == action)
            .collect()
    }
}

/// A master keyring parsed from its text form.
pub fn test_master_key(text: &str) -> Arc<dyn MasterKey> {
    Arc::new(LocalMasterKeys::parse(text).unwrap())
}

/// A new tenant's id and its read-write integration key.
pub fn new_tenant() -> (TenantId, Principal) {
    let tenant = TenantId::generate();
    let key = tenant_principal(&tenant);
    (tenant, key)
}

/// A public widget key of `tenant`: the `widget` scope only.
pub fn widget_key(tenant: &TenantId) -> Principal {
    Principal {
        mode: rampart_kit::principal::DataMode::Live,
        credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e70".to_owned(),
        scopes: vec!["widget".to_owned()],
        ..tenant_principal(tenant)
    }
}

/// A signed-in user of `tenant` with `role`.
pub fn user(tenant: &TenantId, role: Role) -> Principal {
    Principal {
        mode: rampart_kit::principal::DataMode::Live,
        credential_id: "ses_0192f0c17e4a7b1d9c3e1a2b3c4d5e71".to_owned(),
        user: Some(SignedInUser {
            id: UserId::generate().into_string(),
            role,
        }),
        ..tenant_principal(tenant)
    }
}

/// A start request on `channel` with a first message.
pub fn start_request(channel: &str, first_message: &str) -> proto::StartConversationRequest {
    proto::StartConversationRequest {
        channel: channel.to_owned(),
        first_message: first_message.to_owned(),
        ..Default::default()
    }
}

/// A post of `text` in `conversation_id`.
pub fn post(conversation_id: &str, text: &str) -> proto::PostMessageRequest {
    proto::PostMessageRequest {
        conversation_id: conversation_id.to_owned(),
        text: text.to_owned(),
        ..Default::default()
    }
}

/// Returns once the service answers a call, which it does only after
/// connecting to its database and migrating it.
async fn wait_until_serving(server: &TestServer) {
    let request = proto::ListTenantsRequest::default();
    CrmServiceClient::new(server.channel_as(ServiceName::Gateway).await)
        .list_tenants(request_as(&admin_principal(), request))
        .await
        .expect("the crm service did not start");
}
