//! Starting the auth service for one test, and talking to it.

use rampart_auth::Config;
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::pki::ServiceName;
use rampart_kit::secret::SecretString;
use rampart_kit::testing::{TestDatabase, TestServer, UnavailableAudit, count_rows};
use rampart_proto::auth::v1::auth_service_client::AuthServiceClient;
use sea_orm::DatabaseConnection;
use tonic::transport::Channel;

pub const KEY_HASH_SECRET: &str = "test-secret-that-is-long-enough-0123456789";

/// A running auth service whose audit service is down, so every audit event
/// stays in the outbox where the test can see it.
pub struct TestAuth {
    /// First, so the service is told to stop before what it uses goes.
    pub server: TestServer,
    /// A connection to the service's own database, for looking behind it.
    pub db: DatabaseConnection,
    pub admin_key: PlaintextApiKey,
    /// The audit service that is down, counting the relay's attempts.
    pub audit: UnavailableAudit,
    _database: TestDatabase,
}

impl TestAuth {
    pub async fn spawn(database: TestDatabase) -> Self {
        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        rampart_auth::migrate(&db).await.unwrap();

        let admin_key = PlaintextApiKey::generate(KeyKind::Admin);
        let audit = UnavailableAudit::start().await;
        let config = Config {
            database_url: database.url.clone(),
            audit_url: audit.url(),
            key_hash_secret: SecretString::from(KEY_HASH_SECRET),
            admin_api_key: Some(SecretString::from(admin_key.expose())),
            revocations: rampart_kit::revocation::RevocationBus::in_process(),
            totp_encryption_key: SecretString::from("ab".repeat(32)),
            accounts: rampart_auth::AccountSettings::default(),
        };
        let server = TestServer::start(ServiceName::Auth, |listener, tls, shutdown| {
            rampart_auth::run(config, listener, tls, shutdown)
        })
        .await;
        Self {
            server,
            db,
            admin_key,
            audit,
            _database: database,
        }
    }

    /// A client presenting `identity`'s certificate.
    pub async fn client_as(&self, identity: ServiceName) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.server.channel_as(identity).await)
    }

    /// A client presenting the gateway's certificate, as in production.
    pub async fn gateway(&self) -> AuthServiceClient<Channel> {
        self.client_as(ServiceName::Gateway).await
    }

    /// Stops the server and returns how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.server.stop().await
    }

    pub async fn count(&self, table: &'static str) -> i64 {
        count_rows(&self.db, table).await
    }
}
