//! Starting the audit service for one test, and talking to it.

use rampart_audit::checkpoint::{Checkpoint, PublicKey};
use rampart_audit::export::Report;
use rampart_audit::{Config, SigningKey};
use rampart_kit::ids::TenantId;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::Principal;
use rampart_kit::testing::{TestDatabase, TestServer, count_rows, request_as};
use rampart_proto::audit::v1::audit_service_client::AuditServiceClient;
use rampart_proto::audit::v1::{
    AppendRequest, AppendResponse, AuditEvent, ExportRequest, GetCheckpointRequest,
    ListEventsRequest, ListEventsResponse,
};
use sea_orm::DatabaseConnection;
use tonic::transport::Channel;

/// A running audit service.
pub struct TestAudit {
    /// First, so the service is told to stop before what it uses goes.
    server: TestServer,
    /// A connection to the service's own database, for looking behind it.
    pub db: DatabaseConnection,
    /// The key the service signs with.
    pub public_key: PublicKey,
    _database: TestDatabase,
}

impl TestAudit {
    pub async fn spawn(database: TestDatabase) -> Self {
        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        rampart_audit::migrate(&db).await.unwrap();

        let pem = SigningKey::generate_pem().unwrap();
        let signing_key = SigningKey::from_pem(&pem).unwrap();
        let public_key = signing_key.public_key();
        let config = Config {
            database_url: database.url.clone(),
            signing_key,
            checkpoint_interval: std::time::Duration::from_secs(3600),
        };
        let server = TestServer::start(ServiceName::Audit, |listener, tls, shutdown| {
            rampart_audit::run(config, listener, tls, shutdown)
        })
        .await;
        Self {
            server,
            db,
            public_key,
            _database: database,
        }
    }

    /// A client presenting `identity`'s certificate.
    pub async fn client_as(&self, identity: ServiceName) -> AuditServiceClient<Channel> {
        AuditServiceClient::new(self.server.channel_as(identity).await)
    }

    /// Appends `events` as `producer`.
    pub async fn append(
        &self,
        producer: ServiceName,
        events: Vec<AuditEvent>,
    ) -> Result<AppendResponse, tonic::Status> {
        self.client_as(producer)
            .await
            .append(AppendRequest { events })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Lists one page as `principal`, through the gateway.
    pub async fn list(
        &self,
        principal: &Principal,
        page_size: u32,
        cursor: &str,
    ) -> Result<ListEventsResponse, tonic::Status> {
        let request = request_as(
            principal,
            ListEventsRequest {
                page_size,
                cursor: cursor.to_owned(),
                ..ListEventsRequest::default()
            },
        );
        self.client_as(ServiceName::Gateway)
            .await
            .list_events(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Every event `principal` can see, following cursors to the end.
    pub async fn list_all(&self, principal: &Principal) -> Vec<AuditEvent> {
        let mut events = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.list(principal, 100, &cursor).await.unwrap();
            events.extend(page.events.into_iter().map(|stored| stored.event.unwrap()));
            if page.next_cursor.is_empty() {
                return events;
            }
            cursor = page.next_cursor;
        }
    }

    /// The export of `principal`'s own log, `from..to` (0: to the end).
    pub async fn export(
        &self,
        principal: &Principal,
        from: u64,
        to: u64,
        previous: u64,
    ) -> Vec<u8> {
        let request = request_as(
            principal,
            ExportRequest {
                log: None,
                from,
                to,
                previous_size: previous,
            },
        );
        let mut stream = self
            .client_as(ServiceName::Gateway)
            .await
            .export(request)
            .await
            .unwrap()
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.message().await.unwrap() {
            bytes.extend_from_slice(&chunk.data);
        }
        bytes
    }

    /// Exports `principal`'s whole log and verifies it with the service's
    /// key, as `rampart audit verify` does.
    pub async fn verify_export(
        &self,
        principal: &Principal,
        previous: Option<&Checkpoint>,
    ) -> Report {
        let bytes = self.export(principal, 0, 0, 0).await;
        rampart_audit::export::verify(&bytes[..], Some(&self.public_key), previous)
    }

    /// The latest checkpoint of `principal`'s log, signed now if it grew.
    pub async fn checkpoint(&self, principal: &Principal) -> Checkpoint {
        let request = request_as(
            principal,
            GetCheckpointRequest {
                log: None,
                sign_now: true,
            },
        );
        let signed = self
            .client_as(ServiceName::Gateway)
            .await
            .get_checkpoint(request)
            .await
            .unwrap()
            .into_inner();
        use base64::Engine;
        Checkpoint {
            log_id: signed.log_id,
            size: signed.size,
            root_hash: signed.root_hash,
            timestamp: signed.timestamp,
            key_id: signed.key_id,
            signature: base64::engine::general_purpose::STANDARD.encode(signed.signature),
        }
    }

    pub async fn stored_events(&self) -> i64 {
        count_rows(&self.db, "audit_event").await
    }

    /// Stops the server and returns how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

/// A well-formed event for `tenant`'s log (`None`: the platform's).
pub fn event(tenant: Option<&TenantId>, action: &str) -> AuditEvent {
    AuditEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant.map(ToString::to_string).unwrap_or_default(),
        actor: "api_key:key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        action: action.to_owned(),
        target: format!("customer:{}", uuid::Uuid::new_v4().simple()),
        occurred_at: "2025-06-01T12:00:00.123456Z".to_owned(),
        request_id: "req-1".to_owned(),
        outcome: "success".to_owned(),
        ..AuditEvent::default()
    }
}
