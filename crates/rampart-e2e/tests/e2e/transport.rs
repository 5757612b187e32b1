//! The same rules over both transports: each check below runs once over
//! gRPC with mutual TLS and once in this process, against the same running
//! services, and expects the same answer. Who may call whom
//! ([`AllowPeers`](rampart_kit::grpc::AllowPeers)) and whose principal a
//! service trusts ([`Principal::from_request`]) must not depend on how the
//! call travelled; an in-process caller must not get further by putting
//! values in a request's extensions that the network would have dropped.

use rampart_kit::grpc::{Caller, connect_lazy};
use rampart_kit::ids::TenantId;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{DataMode, Principal, PrincipalKind};
use rampart_proto::audit::v1::ListEventsRequest;
use rampart_proto::audit::v1::audit_service_client::AuditServiceClient;
use rampart_proto::audit::v1::audit_service_handle::{self, AuditServiceHandle};
use rampart_proto::auth::v1::VerifyApiKeyRequest;
use rampart_proto::auth::v1::auth_service_client::AuthServiceClient;
use rampart_proto::auth::v1::auth_service_handle::{self, AuthServiceHandle};
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use rampart_proto::crm::v1::crm_service_handle::{self, CrmServiceHandle};
use rampart_proto::crm::v1::{CreateCustomerRequest, ListCustomersRequest};
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use rampart_proto::escalation::v1::escalation_service_handle::{self, EscalationServiceHandle};
use rampart_proto::escalation::v1::{EvaluateRequest, GateRequest};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::harness::{Backend, TestStack};

/// How a check reaches the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Grpc,
    InProcess,
}

const BOTH: [Via; 2] = [Via::Grpc, Via::InProcess];

/// Every service identity that could call another.
const CALLERS: [ServiceName; 5] = [
    ServiceName::Gateway,
    ServiceName::Auth,
    ServiceName::Crm,
    ServiceName::Escalation,
    ServiceName::Audit,
];

/// Handles on the services as `caller`, over `via`.
struct As<'a> {
    stack: &'a TestStack,
    via: Via,
    caller: ServiceName,
}

impl<'a> As<'a> {
    fn new(stack: &'a TestStack, via: Via, caller: ServiceName) -> Self {
        Self { stack, via, caller }
    }

    fn channel(&self, service: ServiceName) -> Channel {
        let tls = self.stack.stack.pki.load_service(self.caller).unwrap();
        let url = format!("https://{}", self.stack.stack.internal[&service]);
        connect_lazy(&url, &tls, service).unwrap()
    }

    fn local<D: ?Sized + Send + Sync + 'static>(
        &self,
        service: ServiceName,
    ) -> rampart_proto::local::Local<D> {
        let tls = self.stack.stack.pki.load_service(self.caller).unwrap();
        self.stack
            .stack
            .running
            .local_services()
            .reach::<D>(service, &tls)
    }

    fn crm(&self) -> CrmServiceHandle<Channel> {
        match self.via {
            Via::Grpc => {
                CrmServiceHandle::Remote(CrmServiceClient::new(self.channel(ServiceName::Crm)))
            }
            Via::InProcess => CrmServiceHandle::Local(
                self.local::<dyn crm_service_handle::Dispatch>(ServiceName::Crm),
            ),
        }
    }

    fn auth(&self) -> AuthServiceHandle<Channel> {
        match self.via {
            Via::Grpc => {
                AuthServiceHandle::Remote(AuthServiceClient::new(self.channel(ServiceName::Auth)))
            }
            Via::InProcess => AuthServiceHandle::Local(
                self.local::<dyn auth_service_handle::Dispatch>(ServiceName::Auth),
            ),
        }
    }

    fn escalation(&self) -> EscalationServiceHandle<Channel> {
        match self.via {
            Via::Grpc => EscalationServiceHandle::Remote(EscalationServiceClient::new(
                self.channel(ServiceName::Escalation),
            )),
            Via::InProcess => EscalationServiceHandle::Local(
                self.local::<dyn escalation_service_handle::Dispatch>(ServiceName::Escalation),
            ),
        }
    }

    fn audit(&self) -> AuditServiceHandle<Channel> {
        match self.via {
            Via::Grpc => AuditServiceHandle::Remote(AuditServiceClient::new(
                self.channel(ServiceName::Audit),
            )),
            Via::InProcess => AuditServiceHandle::Local(
                self.local::<dyn audit_service_handle::Dispatch>(ServiceName::Audit),
            ),
        }
    }
}

fn principal(tenant: &TenantId) -> Principal {
    Principal {
        mode: DataMode::Live,
        client_addr: String::new(),
        kind: PrincipalKind::Tenant(tenant.clone()),
        credential_id: "key_transport_conformance".into(),
        scopes: vec!["read".into(), "write".into(), "audit".into()],
        request_id: "transport-conformance".into(),
        user: None,
    }
}

/// A request carrying `tenant`'s principal in its metadata, as the gateway
/// sends it over the network.
fn with_metadata<T>(tenant: &TenantId, message: T) -> Request<T> {
    let mut request = Request::new(message);
    principal(tenant).write_to(request.metadata_mut()).unwrap();
    request
}

/// A request carrying `tenant`'s principal as a value, as the gateway hands
/// it to a service in its own process.
fn with_value<T>(tenant: &TenantId, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(principal(tenant));
    request
}

fn code<T: std::fmt::Debug>(answer: Result<T, Status>) -> Code {
    match answer {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

fn evaluate() -> EvaluateRequest {
    EvaluateRequest {
        channel: "web".into(),
        text: "what are your opening hours?".into(),
    }
}

#[tokio::test]
async fn who_may_call_whom_is_the_same_on_both_transports() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = TenantId::parse(&stack.create_tenant("Conformance Co").await.id).unwrap();
    for via in BOTH {
        for caller in CALLERS {
            let with = As::new(&stack, via, caller);
            let gateway = caller == ServiceName::Gateway;
            // The CRM and auth serve the gateway only.
            let crm = code(
                with.crm()
                    .list_customers(with_metadata(&tenant, ListCustomersRequest::default()))
                    .await,
            );
            let expected = if gateway {
                Code::Ok
            } else {
                Code::PermissionDenied
            };
            assert_eq!(crm, expected, "crm.ListCustomers from {caller} via {via:?}");
            let auth = code(
                with.auth()
                    .verify_api_key(VerifyApiKeyRequest {
                        api_key: "rk_live_not_a_real_key".into(),
                    })
                    .await,
            );
            if gateway {
                assert_ne!(
                    auth,
                    Code::PermissionDenied,
                    "auth from the gateway via {via:?}"
                );
            } else {
                assert_eq!(
                    auth,
                    Code::PermissionDenied,
                    "auth from {caller} via {via:?}"
                );
            }
            // Escalation serves the gateway and the CRM, and takes a
            // tenant's principal on Evaluate from the gateway only.
            let evaluated = code(
                with.escalation()
                    .evaluate(with_metadata(&tenant, evaluate()))
                    .await,
            );
            let expected = if gateway {
                Code::Ok
            } else {
                Code::PermissionDenied
            };
            assert_eq!(
                evaluated, expected,
                "escalation.Evaluate from {caller} via {via:?}"
            );
            // Every service may write to audit; reading a tenant's log takes
            // the gateway's principal.
            let listed = code(
                with.audit()
                    .list_events(with_metadata(&tenant, ListEventsRequest::default()))
                    .await,
            );
            let expected = if gateway {
                Code::Ok
            } else {
                Code::PermissionDenied
            };
            assert_eq!(
                listed, expected,
                "audit.ListEvents from {caller} via {via:?}"
            );
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_principal_is_trusted_only_as_it_is_over_the_network() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = TenantId::parse(&stack.create_tenant("Principal Co").await.id).unwrap();
    for via in BOTH {
        let gateway = As::new(&stack, via, ServiceName::Gateway);
        let crm_caller = As::new(&stack, via, ServiceName::Crm);

        // No principal at all, and a malformed one, from the gateway.
        let status = gateway
            .crm()
            .list_customers(ListCustomersRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{via:?}: {status:?}");
        let mut malformed = Request::new(ListCustomersRequest::default());
        principal(&tenant)
            .write_to(malformed.metadata_mut())
            .unwrap();
        malformed
            .metadata_mut()
            .insert("x-rampart-tenant-id", "ten_nope".parse().unwrap());
        let status = gateway.crm().list_customers(malformed).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{via:?}: {status:?}");

        // A caller naming itself the gateway in the extensions is still the
        // CRM: the network drops extensions, and so does the local handle.
        let mut forged = with_metadata(&tenant, evaluate());
        forged.extensions_mut().insert(Caller(ServiceName::Gateway));
        let status = crm_caller.escalation().evaluate(forged).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{via:?}: {status:?}");

        // A principal offered as a value counts only from the gateway's own
        // handle: from the CRM's, the gate finds no principal at all.
        let gate = GateRequest {
            conversation_id: "cnv_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".into(),
            message_id: "msg_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".into(),
            channel: "web".into(),
            text: "hello".into(),
            force_handoff: false,
        };
        let status = crm_caller
            .escalation()
            .gate(with_value(&tenant, gate.clone()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{via:?}: {status:?}");
        // The gate is the CRM's to ask: the gateway is refused whatever it
        // carries.
        let status = gateway
            .escalation()
            .gate(with_metadata(&tenant, gate.clone()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{via:?}: {status:?}");
        // The CRM relaying the gateway's principal passes the caller check:
        // whatever the gate answers, it is not a refusal of the caller.
        let relayed = code(
            crm_caller
                .escalation()
                .gate(with_metadata(&tenant, gate))
                .await,
        );
        assert!(
            !matches!(relayed, Code::PermissionDenied | Code::Unauthenticated),
            "{via:?}: the CRM's relay was refused: {relayed:?}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn the_gateways_principal_keeps_tenants_apart_on_both_transports() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let ours = TenantId::parse(&stack.create_tenant("Ours").await.id).unwrap();
    let theirs = TenantId::parse(&stack.create_tenant("Theirs").await.id).unwrap();
    for via in BOTH {
        let gateway = As::new(&stack, via, ServiceName::Gateway);
        let name = format!("Customer made {via:?}");
        // Over the network the principal is metadata; in this process the
        // gateway hands it as a value.
        let create = CreateCustomerRequest {
            name: name.clone(),
            ..CreateCustomerRequest::default()
        };
        let request = match via {
            Via::Grpc => with_metadata(&ours, create),
            Via::InProcess => with_value(&ours, create),
        };
        gateway.crm().create_customer(request).await.unwrap();
        let listed = |tenant: &TenantId| match via {
            Via::Grpc => with_metadata(tenant, ListCustomersRequest::default()),
            Via::InProcess => with_value(tenant, ListCustomersRequest::default()),
        };
        let ours_seen = gateway
            .crm()
            .list_customers(listed(&ours))
            .await
            .unwrap()
            .into_inner();
        assert!(
            ours_seen.customers.iter().any(|c| c.name == name),
            "{via:?}"
        );
        let theirs_seen = gateway
            .crm()
            .list_customers(listed(&theirs))
            .await
            .unwrap()
            .into_inner();
        assert!(theirs_seen.customers.is_empty(), "{via:?}: {theirs_seen:?}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_stopped_service_is_unavailable_on_both_transports() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = TenantId::parse(&stack.create_tenant("Outage Co").await.id).unwrap();
    stack.stack.running.stop_service(ServiceName::Escalation);
    for via in BOTH {
        let gateway = As::new(&stack, via, ServiceName::Gateway);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let answer = gateway
                .escalation()
                .evaluate(with_metadata(&tenant, evaluate()))
                .await;
            if code(answer) == Code::Unavailable {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{via:?}: escalation still answers after it stopped"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    stack.stop().await;
}
