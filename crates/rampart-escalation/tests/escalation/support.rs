//! Starting the escalation service for a test and calling it as the gateway
//! would.

use rampart_kit::CancellationToken;
use rampart_kit::ids::TenantId;
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_kit::principal::{Principal, PrincipalKind};
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// A running escalation service, stopped when dropped.
pub struct TestApp {
    port: u16,
    pki: PkiDir,
    shutdown: CancellationToken,
    _dir: TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = PkiDir::new(dir.path().join("pki"));
        pki.ensure_generated(&["localhost".into()]).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tls = pki.load_service(ServiceName::Escalation).unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(rampart_escalation::run(listener, tls, shutdown.clone()));
        Self {
            port,
            pki,
            shutdown,
            _dir: dir,
        }
    }

    /// A client holding the gateway's certificate.
    pub async fn client(&self) -> EscalationServiceClient<Channel> {
        self.client_as(ServiceName::Gateway).await
    }

    /// A client holding `service`'s certificate.
    pub async fn client_as(&self, service: ServiceName) -> EscalationServiceClient<Channel> {
        let tls = self
            .pki
            .load_service(service)
            .unwrap()
            .client(ServiceName::Escalation);
        let channel = Endpoint::from_shared(format!("https://127.0.0.1:{}", self.port))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        EscalationServiceClient::new(channel)
    }
}

pub fn admin() -> Principal {
    Principal {
        kind: PrincipalKind::PlatformAdmin,
        credential_id: "bootstrap".into(),
        scopes: vec![],
        request_id: "req-admin".into(),
    }
}

pub fn tenant(id: &TenantId) -> Principal {
    Principal {
        kind: PrincipalKind::Tenant(id.clone()),
        credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".into(),
        scopes: vec!["escalation".into()],
        request_id: "req-tenant".into(),
    }
}

/// A request carrying `principal` as the gateway sets it.
pub fn as_principal<T>(principal: &Principal, message: T) -> Request<T> {
    let mut request = Request::new(message);
    principal.write_to(request.metadata_mut()).unwrap();
    request
}

/// Asserts a call failed with `code`, returning the status for more checks.
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got a response: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}
