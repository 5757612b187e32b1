//! The CRM as the erasure tests run it: like [`crate::helpers::TestApp`],
//! but its audit peer signs deletion certificates.
//!
//! The audit stand-in signs with the audit service's own code
//! (`rampart_audit`'s `SigningKey::sign_certificate`) and refuses callers
//! other than the CRM, as the real one does. It takes no events (every
//! `Append` is UNAVAILABLE), so they stay in the outbox where the tests read
//! them, and signing can be switched down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rampart_audit::checkpoint::{PublicKey, SigningKey};
use rampart_crm::gate::GateRetry;
use rampart_crm::vault::{LocalMasterKeys, MasterKey, Vault};
use rampart_kit::CancellationToken;
use rampart_kit::grpc::{AllowPeers, Caller, serve, server};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_kit::testing::{TestDatabase, TestServer, admin_principal, channel_as, request_as};
use rampart_proto::audit::v1 as audit;
use rampart_proto::audit::v1::audit_service_server::{AuditService, AuditServiceServer};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use rampart_proto::crm::v1::owner_service_client::OwnerServiceClient;
use rampart_proto::crm::v1::schedule_service_client::ScheduleServiceClient;
use sea_orm::sea_query::{Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::net::TcpListener;
use tonic::codegen::tokio_stream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::escalation_stub::{self, StubEscalation, StubGuard};

/// Stops a stand-in's server when dropped.
pub struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
use crate::helpers::{MANUAL_GATE_RETRY, test_master_key};

/// A running CRM with a signing audit peer, stopped when dropped.
pub struct ErasureApp {
    server: TestServer,
    master_key: Arc<dyn MasterKey>,
    /// A connection of the test's own, to look at what the service stored.
    pub db: DatabaseConnection,
    pub audit: SigningAudit,
    pub escalation: StubEscalation,
    escalation_address: std::net::SocketAddr,
    _guards: (StopOnDrop, StubGuard),
    _database: TestDatabase,
}

impl ErasureApp {
    pub async fn spawn(database: TestDatabase) -> Self {
        let (audit_listener, audit_address) = escalation_stub::reserve().await;
        let (escalation_listener, escalation_address) = escalation_stub::reserve().await;
        let master_key = test_master_key(&LocalMasterKeys::generate().unwrap());
        let config = rampart_crm::Config {
            database_url: database.url.clone(),
            audit_url: format!("https://{audit_address}"),
            escalation_url: format!("https://{escalation_address}"),
            master_key: master_key.clone(),
            integrations: rampart_crm::Integrations::default(),
        };
        let retry: GateRetry = MANUAL_GATE_RETRY;
        let server = TestServer::start(ServiceName::Crm, |listener, tls, shutdown| {
            rampart_crm::run_with(config, listener, tls, shutdown, retry)
        })
        .await;
        // Both peers are connected lazily, so they may come up after the
        // CRM, with the certificates of the CRM's PKI.
        let (audit, audit_guard) = SigningAudit::serve(audit_listener, server.pki());
        let (escalation, escalation_guard) =
            StubEscalation::serve(escalation_listener, server.pki());
        CrmServiceClient::new(server.channel_as(ServiceName::Gateway).await)
            .list_tenants(request_as(
                &admin_principal(),
                proto::ListTenantsRequest::default(),
            ))
            .await
            .expect("the crm service did not start");
        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        Self {
            server,
            master_key,
            db,
            audit,
            escalation,
            escalation_address,
            _guards: (audit_guard, escalation_guard),
            _database: database,
        }
    }

    pub async fn crm(&self) -> CrmServiceClient<Channel> {
        CrmServiceClient::new(self.server.channel_as(ServiceName::Gateway).await)
    }

    pub async fn owner(&self) -> OwnerServiceClient<Channel> {
        OwnerServiceClient::new(self.server.channel_as(ServiceName::Gateway).await)
    }

    pub async fn schedule(&self) -> ScheduleServiceClient<Channel> {
        ScheduleServiceClient::new(self.server.channel_as(ServiceName::Gateway).await)
    }

    /// A vault with the service's master key and an empty cache, as a CRM
    /// instance started now would hold.
    pub fn fresh_vault(&self) -> Vault {
        Vault::new(self.master_key.clone())
    }

    /// Runs one gate retry pass, as the CRM's worker does (as `system:crm`).
    pub async fn retry_pending_gates(&self) -> usize {
        let escalation = rampart_crm::gate::Escalation::from_channel(
            channel_as(
                self.server.pki(),
                self.escalation_address,
                ServiceName::Crm,
                ServiceName::Escalation,
            )
            .await,
        );
        rampart_crm::gate::retry_pending_gates(
            &self.db,
            &Outbox::new(rampart_crm::OUTBOX_TABLE),
            &self.fresh_vault(),
            &escalation,
            Duration::ZERO,
        )
        .await
        .unwrap()
    }

    /// The outbox's events with `action`, oldest first, each checked
    /// against its schema.
    pub async fn audit_actions(&self, action: &str) -> Vec<AuditRecord> {
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
                let payload = row.try_get::<String>("", "payload").unwrap();
                serde_json::from_str::<AuditRecord>(&payload).unwrap()
            })
            .filter(|record| record.action == action)
            .inspect(|record| record.check_schema().unwrap())
            .collect()
    }
}

#[derive(Default)]
struct State {
    down: AtomicBool,
    signed: AtomicUsize,
}

/// The audit peer: signs deletion certificates for the CRM only.
#[derive(Clone)]
pub struct SigningAudit {
    key: Arc<SigningKey>,
    state: Arc<State>,
}

impl SigningAudit {
    fn serve(listener: TcpListener, pki: &PkiDir) -> (Self, StopOnDrop) {
        let tls = pki.load_service(ServiceName::Audit).unwrap();
        let key = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let audit = Self {
            key: Arc::new(key),
            state: Arc::default(),
        };
        let stop = CancellationToken::new();
        let router = server(&tls)
            .unwrap()
            .add_service(AuditServiceServer::with_interceptor(
                audit.clone(),
                AllowPeers(&ServiceName::ALL),
            ));
        tokio::spawn(serve(router, listener, stop.clone()));
        (audit, StopOnDrop(stop))
    }

    /// The key certificates verify with, as `GET /v1/audit/public-key`
    /// publishes it.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Signing fails with UNAVAILABLE until [`up`](Self::up).
    pub fn down(&self) {
        self.state.down.store(true, Ordering::SeqCst);
    }

    pub fn up(&self) {
        self.state.down.store(false, Ordering::SeqCst);
    }

    /// How many certificates were signed.
    pub fn signed(&self) -> usize {
        self.state.signed.load(Ordering::SeqCst)
    }
}

type Export = tokio_stream::Empty<Result<audit::ExportChunk, Status>>;

fn not_stubbed<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not stubbed"))
}

#[tonic::async_trait]
impl AuditService for SigningAudit {
    type ExportStream = Export;

    async fn append(
        &self,
        _request: Request<audit::AppendRequest>,
    ) -> Result<Response<audit::AppendResponse>, Status> {
        Err(Status::unavailable("events are not taken here (stub)"))
    }

    async fn list_events(
        &self,
        _request: Request<audit::ListEventsRequest>,
    ) -> Result<Response<audit::ListEventsResponse>, Status> {
        not_stubbed()
    }

    async fn get_checkpoint(
        &self,
        _request: Request<audit::GetCheckpointRequest>,
    ) -> Result<Response<audit::Checkpoint>, Status> {
        not_stubbed()
    }

    async fn get_inclusion_proof(
        &self,
        _request: Request<audit::InclusionProofRequest>,
    ) -> Result<Response<audit::InclusionProof>, Status> {
        not_stubbed()
    }

    async fn get_consistency_proof(
        &self,
        _request: Request<audit::ConsistencyProofRequest>,
    ) -> Result<Response<audit::ConsistencyProof>, Status> {
        not_stubbed()
    }

    async fn export(
        &self,
        _request: Request<audit::ExportRequest>,
    ) -> Result<Response<Export>, Status> {
        not_stubbed()
    }

    async fn get_public_key(
        &self,
        _request: Request<audit::GetPublicKeyRequest>,
    ) -> Result<Response<audit::PublicKey>, Status> {
        not_stubbed()
    }

    async fn sign_deletion_certificate(
        &self,
        request: Request<audit::SignDeletionCertificateRequest>,
    ) -> Result<Response<audit::DeletionCertificate>, Status> {
        if Caller::of(&request)? != ServiceName::Crm {
            return Err(Status::permission_denied("only the crm (stub)"));
        }
        if self.state.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("audit is down (stub)"));
        }
        let statement = serde_json::from_str(&request.get_ref().statement_json)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let signed = self
            .key
            .sign_certificate(statement)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.state.signed.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(audit::DeletionCertificate {
            certificate_json: serde_json::to_string(&signed).unwrap(),
        }))
    }
}
