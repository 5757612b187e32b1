//! Stub backends and a gateway in front of them.
//!
//! One [`Stub`] plays auth (keys and accounts), crm, escalation and audit:
//! it answers the credentials a test registered, gives every other call an
//! empty answer, and counts each call by method. It is served as four
//! servers, each with its service's certificate, as the gateway expects.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{Request, StatusCode};
use rampart_gateway::pipeline::ClientAddr;
use rampart_gateway::{BackendUrls, Backends, Config, Gateway};
use rampart_kit::CancellationToken;
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::pki::ServiceName;
use rampart_kit::rate_limit::RateLimiter;
use rampart_kit::revocation::{BusEvent, RevocationBus};
use rampart_kit::testing::{TestPki, closed_address};
use rampart_proto::audit::v1 as audit;
use rampart_proto::audit::v1::audit_service_server::{AuditService, AuditServiceServer};
use rampart_proto::auth::v1 as auth;
use rampart_proto::auth::v1::account_service_server::{AccountService, AccountServiceServer};
use rampart_proto::auth::v1::auth_service_server::{AuthService, AuthServiceServer};
use rampart_proto::crm::v1 as crm;
use rampart_proto::crm::v1::crm_service_server::{CrmService, CrmServiceServer};
use rampart_proto::crm::v1::owner_service_server::{OwnerService, OwnerServiceServer};
use rampart_proto::crm::v1::schedule_service_server::{ScheduleService, ScheduleServiceServer};
use rampart_proto::escalation::v1 as escalation;
use rampart_proto::escalation::v1::escalation_service_server::{
    EscalationService, EscalationServiceServer,
};
use rampart_proto::escalation::v1::handoff_service_server::{HandoffService, HandoffServiceServer};
use tokio::net::TcpListener;
use tonic::{Response, Status};
use tower::ServiceExt;

/// The tenant every tenant credential belongs to.
pub const TENANT: &str = "ten_0123456789abcdef0123456789abcdef";
/// The origin the widget key allows.
pub const WIDGET_ORIGIN: &str = "https://shop.example";

/// What the stub backends know and what they were asked.
#[derive(Default)]
pub struct Stub {
    keys: Mutex<HashMap<String, auth::VerifyApiKeyResponse>>,
    sessions: Mutex<HashMap<String, auth::VerifySessionResponse>>,
    calls: Mutex<HashMap<&'static str, usize>>,
}

impl Stub {
    fn count(&self, method: &'static str) {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
    }

    /// How often `method` (snake case, as in the Rust client) was called.
    pub fn calls(&self, method: &str) -> usize {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    /// Every call but credential checks: what a refused request must not
    /// have reached.
    pub fn work_calls(&self) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(method, _)| !matches!(**method, "verify_api_key" | "verify_session"))
            .map(|(_, count)| count)
            .sum()
    }

    /// Registers `key` as a key of `kind`, as auth would verify it.
    pub fn key(&self, kind: KeyKind, scopes: &[&str]) -> String {
        let key = PlaintextApiKey::generate(kind);
        let admin = kind == KeyKind::Admin;
        let verdict = auth::VerifyApiKeyResponse {
            kind: if admin {
                auth::PrincipalKind::PlatformAdmin
            } else {
                auth::PrincipalKind::Tenant
            }
            .into(),
            tenant_id: if admin {
                String::new()
            } else {
                TENANT.to_owned()
            },
            credential_id: format!(
                "key_{}",
                rampart_kit::secret::hex(&rampart_kit::secret::random_bytes::<16>())
            ),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            allowed_origins: if kind == KeyKind::Widget {
                vec![WIDGET_ORIGIN.to_owned()]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let text = key.expose().to_owned();
        self.keys.lock().unwrap().insert(text.clone(), verdict);
        text
    }

    /// Registers a session of a user with `role`: a platform admin's for
    /// `admin`, else one of [`TENANT`]'s users.
    pub fn session(&self, role: &str) -> String {
        let token = format!(
            "rs_{}",
            rampart_kit::secret::hex(&rampart_kit::secret::random_bytes::<32>())
        );
        let admin = role == "admin";
        let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
        let verdict = auth::VerifySessionResponse {
            session_id: format!("ses_{}", &token[3..35]),
            user_id: format!("usr_{}", &token[35..67]),
            kind: if admin {
                auth::PrincipalKind::PlatformAdmin
            } else {
                auth::PrincipalKind::Tenant
            }
            .into(),
            tenant_id: if admin {
                String::new()
            } else {
                TENANT.to_owned()
            },
            role: role.to_owned(),
            expires_at_ms: i64::try_from(
                in_an_hour.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            )
            .unwrap(),
            ..Default::default()
        };
        self.sessions.lock().unwrap().insert(token.clone(), verdict);
        token
    }
}

/// The stub's answers: an empty message for every call, counted.
macro_rules! stub_service {
    ($service:ident for $stub:ty { $($method:ident: $request:ty => $response:ty,)* } $($special:tt)*) => {
        #[tonic::async_trait]
        impl $service for $stub {
            $(
                async fn $method(
                    &self,
                    _request: tonic::Request<$request>,
                ) -> Result<Response<$response>, Status> {
                    self.0.count(stringify!($method));
                    Ok(Response::new(<$response>::default()))
                }
            )*
            $($special)*
        }
    };
}

/// The stub as each gRPC service.
#[derive(Clone)]
struct Serve(Arc<Stub>);

stub_service!(AuthService for Serve {
    issue_api_key: auth::IssueApiKeyRequest => auth::IssueApiKeyResponse,
    list_api_keys: auth::ListApiKeysRequest => auth::ListApiKeysResponse,
    rotate_api_key: auth::RotateApiKeyRequest => auth::RotateApiKeyResponse,
    revoke_api_key: auth::RevokeApiKeyRequest => auth::ApiKeyInfo,
    record_key_usage: auth::RecordKeyUsageRequest => auth::RecordKeyUsageResponse,
    is_widget_origin: auth::IsWidgetOriginRequest => auth::IsWidgetOriginResponse,
    set_tenant_rate_limit: auth::SetTenantRateLimitRequest => auth::SetTenantRateLimitResponse,
    set_tenant_access: auth::SetTenantAccessRequest => auth::SetTenantAccessResponse,
    contain_incident: auth::ContainIncidentRequest => auth::Incident,
    restore_incident: auth::IncidentRequest => auth::Incident,
    get_incident: auth::IncidentRequest => auth::Incident,
    store_checklist_report: auth::StoreChecklistReportRequest => auth::ChecklistReport,
    get_latest_checklist_report: auth::GetLatestChecklistReportRequest => auth::ChecklistReport,
}
    async fn verify_api_key(
        &self,
        request: tonic::Request<auth::VerifyApiKeyRequest>,
    ) -> Result<Response<auth::VerifyApiKeyResponse>, Status> {
        self.0.count("verify_api_key");
        let known = self.0.keys.lock().unwrap().get(&request.get_ref().api_key).cloned();
        known
            .map(Response::new)
            .ok_or_else(|| Status::unauthenticated("unknown key"))
    }
);

stub_service!(AccountService for Serve {
    sign_in: auth::SignInRequest => auth::SignInResponse,
    complete_second_factor: auth::CompleteSecondFactorRequest => auth::SignInResponse,
    enrol_second_factor_for_challenge: auth::EnrolForChallengeRequest => auth::TotpEnrolment,
    sign_out: auth::SignOutRequest => auth::RevokedSessions,
    get_me: auth::GetMeRequest => auth::User,
    list_sessions: auth::ListSessionsRequest => auth::ListSessionsResponse,
    revoke_session: auth::RevokeSessionRequest => auth::RevokedSessions,
    revoke_user_sessions: auth::RevokeUserSessionsRequest => auth::RevokedSessions,
    change_password: auth::ChangePasswordRequest => auth::RevokedSessions,
    begin_totp_enrolment: auth::BeginTotpEnrolmentRequest => auth::TotpEnrolment,
    confirm_totp: auth::ConfirmTotpRequest => auth::ConfirmTotpResponse,
    create_user: auth::CreateUserRequest => auth::User,
    list_users: auth::ListUsersRequest => auth::ListUsersResponse,
    update_user: auth::UpdateUserRequest => auth::UpdateUserResponse,
    get_tenant_security: auth::GetTenantSecurityRequest => auth::TenantSecurity,
    set_tenant_security: auth::SetTenantSecurityRequest => auth::TenantSecurity,
}
    async fn verify_session(
        &self,
        request: tonic::Request<auth::VerifySessionRequest>,
    ) -> Result<Response<auth::VerifySessionResponse>, Status> {
        self.0.count("verify_session");
        let known = self.0.sessions.lock().unwrap().get(&request.get_ref().token).cloned();
        known
            .map(Response::new)
            .ok_or_else(|| Status::unauthenticated("unknown session"))
    }
);

stub_service!(OwnerService for Serve {
    get_settings: crm::GetSettingsRequest => crm::BusinessSettings,
    put_settings: crm::PutSettingsRequest => crm::BusinessSettings,
    create_channel: crm::CreateChannelRequest => crm::ChannelView,
    list_channels: crm::ListChannelsRequest => crm::ListChannelsResponse,
    delete_channel: crm::DeleteChannelRequest => crm::DeleteChannelResponse,
    get_retention: crm::GetRetentionRequest => crm::RetentionSettings,
    put_retention: crm::PutRetentionRequest => crm::RetentionSettings,
    set_legal_hold: crm::SetLegalHoldRequest => crm::LegalHold,
    create_erasure_request: crm::CreateErasureRequestRequest => crm::ErasureRequest,
    get_erasure_request: crm::GetErasureRequestRequest => crm::ErasureRequest,
    list_erasure_requests: crm::ListErasureRequestsRequest => crm::ListErasureRequestsResponse,
    execute_erasure_request: crm::ExecuteErasureRequestRequest => crm::ErasureRequest,
});

stub_service!(CrmService for Serve {
    create_tenant: crm::CreateTenantRequest => crm::Tenant,
    get_tenant: crm::GetTenantRequest => crm::Tenant,
    list_tenants: crm::ListTenantsRequest => crm::ListTenantsResponse,
    delete_tenant: crm::DeleteTenantRequest => crm::DeleteTenantResponse,
    create_customer: crm::CreateCustomerRequest => crm::Customer,
    get_customer: crm::GetCustomerRequest => crm::Customer,
    list_customers: crm::ListCustomersRequest => crm::ListCustomersResponse,
    update_customer: crm::UpdateCustomerRequest => crm::Customer,
    rotate_master_key: crm::RotateMasterKeyRequest => crm::RotateMasterKeyResponse,
    start_conversation: crm::StartConversationRequest => crm::Conversation,
    list_conversations: crm::ListConversationsRequest => crm::ListConversationsResponse,
    get_conversation: crm::GetConversationRequest => crm::Conversation,
    post_customer_message: crm::PostMessageRequest => crm::Message,
    post_ai_reply: crm::PostMessageRequest => crm::Message,
    post_agent_reply: crm::PostMessageRequest => crm::Message,
    set_summary: crm::SetSummaryRequest => crm::Conversation,
    set_conversation_status: crm::SetConversationStatusRequest => crm::Conversation,
    get_activity_summary: crm::ActivitySummaryRequest => crm::ActivitySummary,
    list_visitor_messages: crm::ListVisitorMessagesRequest => crm::ListVisitorMessagesResponse,
}
    type ExportTenantDataStream = TenantExportStream;

    async fn export_tenant_data(
        &self,
        _request: tonic::Request<crm::ExportTenantDataRequest>,
    ) -> Result<Response<TenantExportStream>, Status> {
        self.0.count("export_tenant_data");
        Ok(Response::new(Box::pin(futures::stream::empty())))
    }
);

type TenantExportStream = Pin<
    Box<dyn futures::Stream<Item = Result<crm::ExportTenantDataChunk, Status>> + Send + 'static>,
>;

stub_service!(ScheduleService for Serve {
    create_appointment: crm::CreateAppointmentRequest => crm::Appointment,
    get_appointment: crm::GetAppointmentRequest => crm::Appointment,
    list_appointments: crm::ListAppointmentsRequest => crm::ListAppointmentsResponse,
    update_appointment: crm::UpdateAppointmentRequest => crm::Appointment,
    create_job_note: crm::CreateJobNoteRequest => crm::JobNote,
    get_job_note: crm::GetJobNoteRequest => crm::JobNote,
    list_job_notes: crm::ListJobNotesRequest => crm::ListJobNotesResponse,
});

stub_service!(EscalationService for Serve {
    evaluate: escalation::EvaluateRequest => escalation::EvaluateResponse,
    gate: escalation::GateRequest => escalation::GateResponse,
    review_reply: escalation::ReviewReplyRequest => escalation::ReviewReplyResponse,
    get_policy: escalation::GetPolicyRequest => escalation::PolicyVersion,
    put_policy: escalation::PutPolicyRequest => escalation::PolicyVersion,
});

stub_service!(HandoffService for Serve {
    list_handoffs: escalation::ListHandoffsRequest => escalation::ListHandoffsResponse,
    get_handoff: escalation::HandoffRequest => escalation::Handoff,
    claim_handoff: escalation::HandoffRequest => escalation::Handoff,
    resolve_handoff: escalation::HandoffRequest => escalation::Handoff,
    hand_back: escalation::HandoffRequest => escalation::Handoff,
});

type ExportStream =
    Pin<Box<dyn futures::Stream<Item = Result<audit::ExportChunk, Status>> + Send + 'static>>;

stub_service!(AuditService for Serve {
    append: audit::AppendRequest => audit::AppendResponse,
    list_events: audit::ListEventsRequest => audit::ListEventsResponse,
    get_checkpoint: audit::GetCheckpointRequest => audit::Checkpoint,
    get_inclusion_proof: audit::InclusionProofRequest => audit::InclusionProof,
    get_consistency_proof: audit::ConsistencyProofRequest => audit::ConsistencyProof,
    get_public_key: audit::GetPublicKeyRequest => audit::PublicKey,
    sign_deletion_certificate: audit::SignDeletionCertificateRequest => audit::DeletionCertificate,
}
    type ExportStream = ExportStream;

    async fn export(
        &self,
        _request: tonic::Request<audit::ExportRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        self.0.count("export");
        Ok(Response::new(Box::pin(futures::stream::empty())))
    }
);

/// A gateway in front of the stub backends, driven without a socket.
pub struct TestGateway {
    pub stub: Arc<Stub>,
    pub gateway: Arc<Gateway>,
    router: axum::Router,
    _pki: TestPki,
    shutdown: CancellationToken,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Options of a [`TestGateway`].
pub struct Setup {
    pub config: Config,
    /// False: auth's address has nothing listening (auth is down).
    pub auth_up: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            config: Config {
                // Refusals answer at once; the hold is not under test.
                refusal_hold: Duration::ZERO,
                ..Config::default()
            },
            auth_up: true,
        }
    }
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::with(Setup::default()).await
    }

    pub async fn with(setup: Setup) -> Self {
        let pki = TestPki::generate();
        let stub = Arc::new(Stub::default());
        let shutdown = CancellationToken::new();
        let serve = |service: ServiceName| {
            let stub = Serve(stub.clone());
            let tls = pki.load_service(service).unwrap();
            let shutdown = shutdown.clone();
            async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let address = listener.local_addr().unwrap();
                let mut server = rampart_kit::grpc::server(&tls).unwrap();
                let router = match service {
                    ServiceName::Auth => server
                        .add_service(AuthServiceServer::new(stub.clone()))
                        .add_service(AccountServiceServer::new(stub)),
                    ServiceName::Crm => server
                        .add_service(CrmServiceServer::new(stub.clone()))
                        .add_service(ScheduleServiceServer::new(stub.clone()))
                        .add_service(OwnerServiceServer::new(stub)),
                    ServiceName::Escalation => server
                        .add_service(EscalationServiceServer::new(stub.clone()))
                        .add_service(HandoffServiceServer::new(stub)),
                    _ => server.add_service(AuditServiceServer::new(stub)),
                };
                tokio::spawn(rampart_kit::grpc::serve(router, listener, shutdown));
                format!("https://{address}")
            }
        };
        let auth = if setup.auth_up {
            serve(ServiceName::Auth).await
        } else {
            format!("https://{}", closed_address().await)
        };
        let urls = BackendUrls {
            auth,
            crm: serve(ServiceName::Crm).await,
            escalation: serve(ServiceName::Escalation).await,
            audit: serve(ServiceName::Audit).await,
        };
        let tls = pki.load_service(ServiceName::Gateway).unwrap();
        let backends = Backends::connect(&urls, &tls).unwrap();
        let gateway = Gateway::new(
            setup.config,
            backends,
            RateLimiter::memory(),
            RevocationBus::in_process(),
        );
        // As `rampart_gateway::run` does once the revocation channel is up:
        // only then may cached verdicts be trusted.
        gateway.authenticator.apply(&BusEvent::ChannelUp);
        gateway.sessions.apply(&BusEvent::ChannelUp);
        let router = rampart_gateway::routes::router(gateway.clone());
        Self {
            stub,
            gateway,
            router,
            _pki: pki,
            shutdown,
        }
    }

    /// Sends `request` from `client`, as the edge would pass it on.
    pub async fn send_from(
        &self,
        client: SocketAddr,
        mut request: Request<Body>,
    ) -> (StatusCode, serde_json::Value) {
        request.extensions_mut().insert(ClientAddr(client));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    /// Sends `request` from one fixed client address.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        self.send_from(SocketAddr::from(([192, 0, 2, 1], 40000)), request)
            .await
    }
}

/// A request of `method` to `path` with `headers`, and a JSON body when
/// `body` is given.
pub fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    match body {
        Some(json) => builder
            .header("content-type", "application/json")
            .body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}
