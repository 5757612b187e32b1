//! Starting the CRM for a test and calling it as the gateway would.

use std::time::Duration;

use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{
    TestDatabase, TestServer, UnavailableAudit, admin_principal, count_rows, request_as,
};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use sea_orm::sea_query::{Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tonic::transport::Channel;

/// A running CRM, stopped when dropped.
pub struct TestApp {
    /// First, so the service is told to stop before what it uses goes.
    server: TestServer,
    config: rampart_crm::Config,
    /// A connection of the test's own, to look at what the service stored.
    pub db: DatabaseConnection,
    /// The audit service that is down, counting the relay's attempts.
    pub audit: UnavailableAudit,
    _database: TestDatabase,
}

impl TestApp {
    /// Starts the CRM on `database`, with the audit service down.
    pub async fn spawn(database: TestDatabase) -> Self {
        let audit = UnavailableAudit::start().await;
        let config = rampart_crm::Config {
            database_url: database.url.clone(),
            audit_url: audit.url(),
            // SKELETON: the conversations work starts a stub escalation here.
            escalation_url: audit.url(),
        };

        let server = TestServer::start(ServiceName::Crm, |listener, tls, shutdown| {
            rampart_crm::run(config.clone(), listener, tls, shutdown)
        })
        .await;
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
            _database: database,
        }
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
        self.server
            .restart(|listener, tls, shutdown| rampart_crm::run(config, listener, tls, shutdown))
            .await;
        wait_until_serving(&self.server).await;
    }

    /// A client holding the gateway's certificate.
    pub async fn client(&self) -> CrmServiceClient<Channel> {
        self.client_as(ServiceName::Gateway).await
    }

    /// A client holding `service`'s certificate.
    pub async fn client_as(&self, service: ServiceName) -> CrmServiceClient<Channel> {
        CrmServiceClient::new(self.server.channel_as(service).await)
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
