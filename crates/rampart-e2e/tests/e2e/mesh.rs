//! What a caller inside the network would try against the services directly.

use rampart_kit::ids::TenantId;
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_kit::principal::{Principal, PrincipalKind};
use rampart_proto::audit::v1::ListEventsRequest;
use rampart_proto::audit::v1::audit_service_client::AuditServiceClient;
use rampart_proto::crm::v1::ListCustomersRequest;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request};

use crate::harness::{Backend, TestStack};

fn url(stack: &TestStack, service: ServiceName) -> String {
    format!("https://{}", stack.stack.internal[&service])
}

async fn channel(url: String, tls: ClientTlsConfig) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(url)
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
}

fn as_tenant<T>(tenant: &TenantId, message: T) -> Request<T> {
    let mut request = Request::new(message);
    Principal {
        mode: rampart_kit::principal::DataMode::Live,
        client_addr: String::new(),
        kind: PrincipalKind::Tenant(tenant.clone()),
        credential_id: "key_forged".into(),
        scopes: vec!["read".into(), "write".into(), "audit".into()],
        request_id: "mesh-test".into(),
        user: None,
    }
    .write_to(request.metadata_mut())
    .unwrap();
    request
}

/// Whether crm answers a tenant call made with `tls`; a failed handshake and
/// a refused call both count as not served.
async fn crm_serves(stack: &TestStack, tls: ClientTlsConfig) -> bool {
    let Ok(channel) = channel(url(stack, ServiceName::Crm), tls).await else {
        return false;
    };
    CrmServiceClient::new(channel)
        .list_customers(as_tenant(
            &TenantId::generate(),
            ListCustomersRequest::default(),
        ))
        .await
        .is_ok()
}

#[tokio::test]
async fn services_require_a_client_certificate_from_the_internal_ca() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let ca = std::fs::read_to_string(stack.stack.pki.internal_ca_cert()).unwrap();

    // No client certificate: the handshake or the first call fails.
    let no_cert = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca))
        .domain_name(ServiceName::Crm.dns_name());
    assert!(
        !crm_serves(&stack, no_cert).await,
        "a client without a certificate was served"
    );

    // A certificate from another CA, even one naming the gateway.
    let rogue_dir = tempfile::tempdir().unwrap();
    let rogue = PkiDir::new(rogue_dir.path());
    rogue.ensure_generated(&["localhost".into()]).unwrap();
    let rogue_gateway = rogue.load_service(ServiceName::Gateway).unwrap();
    let rogue_tls = rogue_gateway
        .client(ServiceName::Crm)
        .ca_certificate(Certificate::from_pem(&ca));
    assert!(
        !crm_serves(&stack, rogue_tls).await,
        "a certificate from a foreign CA was accepted"
    );
    stack.stop().await;
}

#[tokio::test]
async fn only_the_gateway_may_act_for_a_tenant() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Mesh Corp").await;
    let tenant_id = TenantId::parse(&tenant.id).unwrap();
    let pki = &stack.stack.pki;

    // The crm service's own certificate is valid, but crm may not call crm,
    // and may not read a tenant's audit log.
    let crm_identity = pki.load_service(ServiceName::Crm).unwrap();
    let crm_channel = channel(
        url(&stack, ServiceName::Crm),
        crm_identity.client(ServiceName::Crm),
    )
    .await
    .unwrap();
    let status = CrmServiceClient::new(crm_channel)
        .list_customers(as_tenant(&tenant_id, ListCustomersRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    let audit_channel = channel(
        url(&stack, ServiceName::Audit),
        crm_identity.client(ServiceName::Audit),
    )
    .await
    .unwrap();
    let status = AuditServiceClient::new(audit_channel)
        .list_events(as_tenant(&tenant_id, ListEventsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // The gateway's certificate with the same metadata is served: the
    // refusals above are about the caller, not the request.
    let gateway_identity = pki.load_service(ServiceName::Gateway).unwrap();
    let gateway_channel = channel(
        url(&stack, ServiceName::Audit),
        gateway_identity.client(ServiceName::Audit),
    )
    .await
    .unwrap();
    AuditServiceClient::new(gateway_channel)
        .list_events(as_tenant(&tenant_id, ListEventsRequest::default()))
        .await
        .expect("the gateway may list a tenant's events");
    stack.stop().await;
}
