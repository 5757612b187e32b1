//! Starting the escalation service for a test and calling it as the gateway
//! would.

use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{TestDatabase, TestServer, UnavailableAudit};
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use tonic::transport::Channel;

/// A running escalation service, stopped when dropped.
pub struct TestApp {
    server: TestServer,
    _audit: UnavailableAudit,
    _database: TestDatabase,
}

impl TestApp {
    /// Escalation on a fresh SQLite database, with the audit service down.
    pub async fn spawn() -> Self {
        Self::spawn_on(TestDatabase::sqlite()).await
    }

    pub async fn spawn_on(database: TestDatabase) -> Self {
        let audit = UnavailableAudit::start().await;
        let config = rampart_escalation::Config {
            database_url: database.url.clone(),
            audit_url: audit.url(),
            deadline_tick: std::time::Duration::from_millis(100),
            smtp: None,
        };
        let server = TestServer::start(ServiceName::Escalation, move |listener, tls, shutdown| {
            rampart_escalation::run(config.clone(), listener, tls, shutdown)
        })
        .await;
        Self {
            server,
            _audit: audit,
            _database: database,
        }
    }

    /// A client holding the gateway's certificate.
    pub async fn client(&self) -> EscalationServiceClient<Channel> {
        self.client_as(ServiceName::Gateway).await
    }

    /// A client holding `service`'s certificate.
    pub async fn client_as(&self, service: ServiceName) -> EscalationServiceClient<Channel> {
        EscalationServiceClient::new(self.server.channel_as(service).await)
    }
}
