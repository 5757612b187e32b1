//! The gateway's handles on the backend services: over mutual TLS with the
//! gateway's own certificate, each call carrying the trace context, or, for
//! a service running in the gateway's own process, straight into its
//! implementation ([`rampart_kit::local`]); and [`call`], the one way a
//! handler asks a backend on a caller's behalf.

use rampart_kit::grpc::{TracedChannel, connect_lazy, traced};
use rampart_kit::local::LocalServices;
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_kit::principal::Principal;
use rampart_proto::audit::v1::audit_service_client::AuditServiceClient;
use rampart_proto::audit::v1::audit_service_handle::{self, AuditServiceHandle};
use rampart_proto::auth::v1::account_service_client::AccountServiceClient;
use rampart_proto::auth::v1::account_service_handle::{self, AccountServiceHandle};
use rampart_proto::auth::v1::auth_service_client::AuthServiceClient;
use rampart_proto::auth::v1::auth_service_handle::{self, AuthServiceHandle};
use rampart_proto::crm::v1::billing_service_client::BillingServiceClient;
use rampart_proto::crm::v1::billing_service_handle::{self, BillingServiceHandle};
use rampart_proto::crm::v1::calendar_service_client::CalendarServiceClient;
use rampart_proto::crm::v1::calendar_service_handle::{self, CalendarServiceHandle};
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use rampart_proto::crm::v1::crm_service_handle::{self, CrmServiceHandle};
use rampart_proto::crm::v1::owner_service_client::OwnerServiceClient;
use rampart_proto::crm::v1::owner_service_handle::{self, OwnerServiceHandle};
use rampart_proto::crm::v1::schedule_service_client::ScheduleServiceClient;
use rampart_proto::crm::v1::schedule_service_handle::{self, ScheduleServiceHandle};
use rampart_proto::crm::v1::telephony_service_client::TelephonyServiceClient;
use rampart_proto::crm::v1::telephony_service_handle::{self, TelephonyServiceHandle};
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use rampart_proto::escalation::v1::escalation_service_handle::{self, EscalationServiceHandle};
use rampart_proto::escalation::v1::handoff_service_client::HandoffServiceClient;
use rampart_proto::escalation::v1::handoff_service_handle::{self, HandoffServiceHandle};
use rampart_proto::escalation::v1::incident_freeze_service_client::IncidentFreezeServiceClient;
use rampart_proto::escalation::v1::incident_freeze_service_handle::{
    self, IncidentFreezeServiceHandle,
};
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

/// One handle per backend. Handles are cheap to clone; the remote ones
/// share one HTTP/2 connection per backend.
#[derive(Clone)]
pub struct Backends {
    pub auth: AuthServiceHandle<TracedChannel>,
    /// Auth's accounts: users, sign-in, sessions.
    pub accounts: AccountServiceHandle<TracedChannel>,
    pub crm: CrmServiceHandle<TracedChannel>,
    /// The CRM's owner configuration (settings, channels, retention, holds).
    pub owner: OwnerServiceHandle<TracedChannel>,
    pub escalation: EscalationServiceHandle<TracedChannel>,
    /// Escalation's handoff queue.
    pub handoffs: HandoffServiceHandle<TracedChannel>,
    pub audit: AuditServiceHandle<TracedChannel>,
    /// The CRM's schedule: appointments and job notes.
    pub schedule: ScheduleServiceHandle<TracedChannel>,
    /// Each backend's readiness.
    pub health: Vec<(ServiceName, Readiness)>,
    /// The CRM's tenant billing states.
    pub billing: BillingServiceHandle<TracedChannel>,
    /// Escalation's freeze of the AI during an incident.
    pub incident_freeze: IncidentFreezeServiceHandle<TracedChannel>,
    /// The CRM's Twilio webhooks.
    pub telephony: TelephonyServiceHandle<TracedChannel>,
    /// The CRM's connected calendar.
    pub calendar: CalendarServiceHandle<TracedChannel>,
}

/// How the gateway tells whether a backend is serving.
#[derive(Clone)]
pub enum Readiness {
    /// Its gRPC health service answers serving.
    Remote(HealthClient<Channel>),
    /// It is registered in this process.
    Local(LocalServices),
}

/// The services in the gateway's own process, reached without the network.
#[derive(Debug, Clone, Default)]
pub struct CoLocated {
    pub services: LocalServices,
    /// The backends running in this process; the rest are reached over gRPC.
    pub hosted: Vec<ServiceName>,
}

impl Backends {
    /// Lazily connected clients for every backend: a backend that is down at
    /// start-up makes the gateway not ready, it does not stop it from
    /// starting.
    pub fn connect(urls: &BackendUrls, tls: &ServiceTls) -> anyhow::Result<Self> {
        Self::connect_with(urls, tls, &CoLocated::default())
    }

    /// As [`Self::connect`], but the backends in `co_located.hosted` are
    /// called in this process, as the gateway (`tls` names it).
    pub fn connect_with(
        urls: &BackendUrls,
        tls: &ServiceTls,
        co_located: &CoLocated,
    ) -> anyhow::Result<Self> {
        // A channel to `service` at `url`; `None` when it runs here.
        let reach = |service: ServiceName, url: &str| -> anyhow::Result<Option<Channel>> {
            if co_located.hosted.contains(&service) {
                return Ok(None);
            }
            connect_lazy(url, tls, service).map(Some)
        };
        let services = &co_located.services;
        // Each backend's handles, remote on its channel or local.
        macro_rules! handle {
            ($channel:expr, $service:expr, $handle:ident, $client:ident, $module:ident) => {
                match &$channel {
                    Some(channel) => $handle::Remote($client::new(traced(channel.clone()))),
                    None => $handle::Local(services.reach::<dyn $module::Dispatch>($service, tls)),
                }
            };
        }
        let auth = reach(ServiceName::Auth, &urls.auth)?;
        let crm = reach(ServiceName::Crm, &urls.crm)?;
        let escalation = reach(ServiceName::Escalation, &urls.escalation)?;
        let audit = reach(ServiceName::Audit, &urls.audit)?;
        let health = [
            (ServiceName::Auth, &auth),
            (ServiceName::Crm, &crm),
            (ServiceName::Escalation, &escalation),
            (ServiceName::Audit, &audit),
        ]
        .into_iter()
        .map(|(service, channel)| {
            let readiness = match channel {
                Some(channel) => Readiness::Remote(HealthClient::new(channel.clone())),
                None => Readiness::Local(services.clone()),
            };
            (service, readiness)
        })
        .collect();
        Ok(Self {
            health,
            auth: handle!(
                auth,
                ServiceName::Auth,
                AuthServiceHandle,
                AuthServiceClient,
                auth_service_handle
            ),
            accounts: handle!(
                auth,
                ServiceName::Auth,
                AccountServiceHandle,
                AccountServiceClient,
                account_service_handle
            ),
            crm: handle!(
                crm,
                ServiceName::Crm,
                CrmServiceHandle,
                CrmServiceClient,
                crm_service_handle
            ),
            schedule: handle!(
                crm,
                ServiceName::Crm,
                ScheduleServiceHandle,
                ScheduleServiceClient,
                schedule_service_handle
            ),
            owner: handle!(
                crm,
                ServiceName::Crm,
                OwnerServiceHandle,
                OwnerServiceClient,
                owner_service_handle
            ),
            billing: handle!(
                crm,
                ServiceName::Crm,
                BillingServiceHandle,
                BillingServiceClient,
                billing_service_handle
            ),
            telephony: handle!(
                crm,
                ServiceName::Crm,
                TelephonyServiceHandle,
                TelephonyServiceClient,
                telephony_service_handle
            ),
            calendar: handle!(
                crm,
                ServiceName::Crm,
                CalendarServiceHandle,
                CalendarServiceClient,
                calendar_service_handle
            ),
            escalation: handle!(
                escalation,
                ServiceName::Escalation,
                EscalationServiceHandle,
                EscalationServiceClient,
                escalation_service_handle
            ),
            handoffs: handle!(
                escalation,
                ServiceName::Escalation,
                HandoffServiceHandle,
                HandoffServiceClient,
                handoff_service_handle
            ),
            incident_freeze: handle!(
                escalation,
                ServiceName::Escalation,
                IncidentFreezeServiceHandle,
                IncidentFreezeServiceClient,
                incident_freeze_service_handle
            ),
            audit: handle!(
                audit,
                ServiceName::Audit,
                AuditServiceHandle,
                AuditServiceClient,
                audit_service_handle
            ),
        })
    }
}

/// A backend's client, and the name a problem detail gives the service when
/// it is down.
pub(crate) trait Backend: Clone {
    const SERVICE: &'static str;

    /// Whether calls go straight into an implementation in this process.
    fn is_local(&self) -> bool;
}

impl Backend for AuthServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "auth";

    fn is_local(&self) -> bool {
        AuthServiceHandle::is_local(self)
    }
}

impl Backend for AccountServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "auth";

    fn is_local(&self) -> bool {
        AccountServiceHandle::is_local(self)
    }
}

impl Backend for CrmServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "crm";

    fn is_local(&self) -> bool {
        CrmServiceHandle::is_local(self)
    }
}

impl Backend for ScheduleServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "crm";

    fn is_local(&self) -> bool {
        ScheduleServiceHandle::is_local(self)
    }
}

impl Backend for OwnerServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "crm";

    fn is_local(&self) -> bool {
        OwnerServiceHandle::is_local(self)
    }
}

impl Backend for BillingServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "crm";

    fn is_local(&self) -> bool {
        BillingServiceHandle::is_local(self)
    }
}

impl Backend for TelephonyServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "crm";

    fn is_local(&self) -> bool {
        TelephonyServiceHandle::is_local(self)
    }
}

impl Backend for CalendarServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "crm";

    fn is_local(&self) -> bool {
        CalendarServiceHandle::is_local(self)
    }
}

impl Backend for EscalationServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "escalation";

    fn is_local(&self) -> bool {
        EscalationServiceHandle::is_local(self)
    }
}

impl Backend for HandoffServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "escalation";

    fn is_local(&self) -> bool {
        HandoffServiceHandle::is_local(self)
    }
}

impl Backend for IncidentFreezeServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "escalation";

    fn is_local(&self) -> bool {
        IncidentFreezeServiceHandle::is_local(self)
    }
}

impl Backend for AuditServiceHandle<TracedChannel> {
    const SERVICE: &'static str = "audit";

    fn is_local(&self) -> bool {
        AuditServiceHandle::is_local(self)
    }
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
    send(client, on_behalf_of(principal, client, message)?, method).await
}

/// A request to `client` carrying `principal` as that transport carries it:
/// in the metadata over gRPC; as a value in this process, which the handle
/// vouches for as the gateway's (`rampart_kit::local`).
pub(crate) fn on_behalf_of<C: Backend, T>(
    principal: &Principal,
    client: &C,
    message: T,
) -> Result<tonic::Request<T>, ApiError> {
    if client.is_local() {
        let mut request = tonic::Request::new(message);
        request.extensions_mut().insert(principal.clone());
        Ok(request)
    } else {
        with_principal(principal, message)
    }
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
