//! The gateway's clients for the backend services, all over mutual TLS with
//! the gateway's own certificate, each call carrying the trace context; and
//! [`call`], the one way a handler asks a backend on a caller's behalf.

use rampart_kit::grpc::{TracedChannel, connect_lazy, traced};
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_kit::principal::Principal;
use rampart_proto::audit::v1::audit_service_client::AuditServiceClient;
use rampart_proto::auth::v1::account_service_client::AccountServiceClient;
use rampart_proto::auth::v1::auth_service_client::AuthServiceClient;
use rampart_proto::crm::v1::billing_service_client::BillingServiceClient;
use rampart_proto::crm::v1::calendar_service_client::CalendarServiceClient;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use rampart_proto::crm::v1::owner_service_client::OwnerServiceClient;
use rampart_proto::crm::v1::schedule_service_client::ScheduleServiceClient;
use rampart_proto::crm::v1::telephony_service_client::TelephonyServiceClient;
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use rampart_proto::escalation::v1::handoff_service_client::HandoffServiceClient;
use rampart_proto::escalation::v1::incident_freeze_service_client::IncidentFreezeServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;

use crate::problem::ApiError;

/// Where each backend listens (`https://host:port`).
#[derive(Debug, Clone)]
pub struct BackendUrls {
    pub auth: String,
    pub crm: String,
    pub escalation: String,
    pub audit: String,
}

/// One client per backend. Clients are cheap to clone and share one
/// HTTP/2 connection each.
#[derive(Clone)]
pub struct Backends {
    pub auth: AuthServiceClient<TracedChannel>,
    /// Auth's accounts: users, sign-in, sessions.
    pub accounts: AccountServiceClient<TracedChannel>,
    pub crm: CrmServiceClient<TracedChannel>,
    /// The CRM's owner configuration (settings, channels, retention, holds).
    pub owner: OwnerServiceClient<TracedChannel>,
    pub escalation: EscalationServiceClient<TracedChannel>,
    /// Escalation's handoff queue.
    pub handoffs: HandoffServiceClient<TracedChannel>,
    pub audit: AuditServiceClient<TracedChannel>,
    /// The CRM's schedule: appointments and job notes.
    pub schedule: ScheduleServiceClient<TracedChannel>,
    /// Health clients, for readiness.
    pub health: Vec<(ServiceName, HealthClient<Channel>)>,
    /// The CRM's tenant billing states.
    pub billing: BillingServiceClient<TracedChannel>,
    /// Escalation's freeze of the AI during an incident.
    pub incident_freeze: IncidentFreezeServiceClient<TracedChannel>,
    /// The CRM's Twilio webhooks.
    pub telephony: TelephonyServiceClient<TracedChannel>,
    /// The CRM's connected calendar.
    pub calendar: CalendarServiceClient<TracedChannel>,
}

impl Backends {
    /// Lazily connected clients: a backend that is down at start-up makes the
    /// gateway not ready, it does not stop it from starting.
    pub fn connect(urls: &BackendUrls, tls: &ServiceTls) -> anyhow::Result<Self> {
        let auth = connect_lazy(&urls.auth, tls, ServiceName::Auth)?;
        let crm = connect_lazy(&urls.crm, tls, ServiceName::Crm)?;
        let escalation = connect_lazy(&urls.escalation, tls, ServiceName::Escalation)?;
        let audit = connect_lazy(&urls.audit, tls, ServiceName::Audit)?;
        Ok(Self {
            health: vec![
                (ServiceName::Auth, HealthClient::new(auth.clone())),
                (ServiceName::Crm, HealthClient::new(crm.clone())),
                (
                    ServiceName::Escalation,
                    HealthClient::new(escalation.clone()),
                ),
                (ServiceName::Audit, HealthClient::new(audit.clone())),
            ],
            accounts: AccountServiceClient::new(traced(auth.clone())),
            auth: AuthServiceClient::new(traced(auth)),
            schedule: ScheduleServiceClient::new(traced(crm.clone())),
            owner: OwnerServiceClient::new(traced(crm.clone())),
            billing: BillingServiceClient::new(traced(crm.clone())),
            telephony: TelephonyServiceClient::new(traced(crm.clone())),
            calendar: CalendarServiceClient::new(traced(crm.clone())),
            crm: CrmServiceClient::new(traced(crm)),
            handoffs: HandoffServiceClient::new(traced(escalation.clone())),
            incident_freeze: IncidentFreezeServiceClient::new(traced(escalation.clone())),
            escalation: EscalationServiceClient::new(traced(escalation)),
            audit: AuditServiceClient::new(traced(audit)),
        })
    }
}

/// A backend's client, and the name a problem detail gives the service when
/// it is down.
pub(crate) trait Backend: Clone {
    const SERVICE: &'static str;
}

impl Backend for AuthServiceClient<TracedChannel> {
    const SERVICE: &'static str = "auth";
}

impl Backend for AccountServiceClient<TracedChannel> {
    const SERVICE: &'static str = "auth";
}

impl Backend for CrmServiceClient<TracedChannel> {
    const SERVICE: &'static str = "crm";
}

impl Backend for ScheduleServiceClient<TracedChannel> {
    const SERVICE: &'static str = "crm";
}

impl Backend for OwnerServiceClient<TracedChannel> {
    const SERVICE: &'static str = "crm";
}

impl Backend for BillingServiceClient<TracedChannel> {
    const SERVICE: &'static str = "crm";
}

impl Backend for TelephonyServiceClient<TracedChannel> {
    const SERVICE: &'static str = "crm";
}

impl Backend for CalendarServiceClient<TracedChannel> {
    const SERVICE: &'static str = "crm";
}

impl Backend for EscalationServiceClient<TracedChannel> {
    const SERVICE: &'static str = "escalation";
}

impl Backend for HandoffServiceClient<TracedChannel> {
    const SERVICE: &'static str = "escalation";
}

impl Backend for IncidentFreezeServiceClient<TracedChannel> {
    const SERVICE: &'static str = "escalation";
}

impl Backend for AuditServiceClient<TracedChannel> {
    const SERVICE: &'static str = "audit";
}

/// Calls `method` of `client` with `message` on behalf of `principal`, who
/// travels in the call's metadata: the backend's answer, or the problem
/// response it maps to. As in
/// `call(&caller.principal, &gateway.backends.crm, message, async |mut crm, r| crm.get_customer(r).await)`.
pub(crate) async fn call<C: Backend, T, R>(
    principal: &Principal,
    client: &C,
    message: T,
    method: impl AsyncFnOnce(C, tonic::Request<T>) -> Result<tonic::Response<R>, tonic::Status>,
) -> Result<R, ApiError> {
    send(client, with_principal(principal, message)?, method).await
}

/// Sends `request`, already made, through `method` of `client`: for the
/// calls made before anyone is authenticated (sign-in, public documents).
pub(crate) async fn send<C: Backend, T, R>(
    client: &C,
    request: tonic::Request<T>,
    method: impl AsyncFnOnce(C, tonic::Request<T>) -> Result<tonic::Response<R>, tonic::Status>,
) -> Result<R, ApiError> {
    method(client.clone(), request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| ApiError::from_backend(C::SERVICE, &status))
}

/// A gRPC request carrying `principal` in its metadata.
fn with_principal<T>(principal: &Principal, message: T) -> Result<tonic::Request<T>, ApiError> {
    let mut request = tonic::Request::new(message);
    principal
        .write_to(request.metadata_mut())
        .map_err(|status| ApiError::internal(format_args!("cannot encode principal: {status}")))?;
    Ok(request)
}
