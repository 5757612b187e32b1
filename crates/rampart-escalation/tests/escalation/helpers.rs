//! Starting the escalation service for a test and calling it as the gateway
//! would.

use rampart_kit::ids::{ConversationId, MessageId, TenantId, UserId};
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Principal, Role, SignedInUser};
use rampart_kit::testing::{TestDatabase, TestServer, UnavailableAudit, tenant_principal};
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use rampart_proto::escalation::v1::{GateRequest, PutPolicyRequest, ReviewReplyRequest};
use sea_orm::DatabaseConnection;
use tonic::transport::Channel;

/// A running escalation service, stopped when dropped.
pub struct TestApp {
    server: TestServer,
    _audit: UnavailableAudit,
    database: TestDatabase,
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
            webhook_targets: rampart_escalation::handoffs::WebhookTargets::AnyAddress,
        };
        let server = TestServer::start(ServiceName::Escalation, move |listener, tls, shutdown| {
            rampart_escalation::run(config.clone(), listener, tls, shutdown)
        })
        .await;
        Self {
            server,
            _audit: audit,
            database,
        }
    }

    /// A connection to the service's own database, to look at its rows.
    pub async fn db(&self) -> DatabaseConnection {
        rampart_kit::db::connect(&self.database.url)
            .await
            .expect("the test database")
    }

    /// A client holding the CRM's certificate: how the gate and the
    /// guardrails are called.
    pub async fn crm(&self) -> EscalationServiceClient<Channel> {
        self.client_as(ServiceName::Crm).await
    }

    /// Writes `document` as `tenant`'s policy, as one of its owners.
    pub async fn put_policy(&self, tenant: &TenantId, document: &str) -> u32 {
        self.client()
            .await
            .put_policy(rampart_kit::testing::request_as(
                &user(tenant, Role::Owner),
                PutPolicyRequest {
                    document: document.to_owned(),
                    expected_version: None,
                },
            ))
            .await
            .expect("the policy is accepted")
            .into_inner()
            .version
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

/// A signed-in user of `tenant` with `role`, as the gateway passes it on.
pub fn user(tenant: &TenantId, role: Role) -> Principal {
    Principal {
        mode: rampart_kit::principal::DataMode::Live,
        user: Some(SignedInUser {
            id: UserId::generate().into_string(),
            role,
        }),
        credential_id: "ses_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        ..tenant_principal(tenant)
    }
}

/// A new message of a new conversation, for the gate.
pub fn gate(text: &str) -> GateRequest {
    GateRequest {
        conversation_id: ConversationId::generate().into_string(),
        message_id: MessageId::generate().into_string(),
        channel: "web".to_owned(),
        text: text.to_owned(),
        force_handoff: false,
    }
}

/// A reply to review on a new conversation.
pub fn reply(text: &str, customer_contacts: &[&str]) -> ReviewReplyRequest {
    ReviewReplyRequest {
        conversation_id: ConversationId::generate().into_string(),
        text: text.to_owned(),
        customer_contacts: customer_contacts.iter().map(|c| (*c).to_owned()).collect(),
    }
}
