//! Starting the escalation service for a test and calling it as the gateway
//! would.

use rampart_kit::pki::ServiceName;
use rampart_kit::testing::TestServer;
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use tonic::transport::Channel;

/// A running escalation service, stopped when dropped.
pub struct TestApp {
    server: TestServer,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let server = TestServer::start(ServiceName::Escalation, rampart_escalation::run).await;
        Self { server }
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
