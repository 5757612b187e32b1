//! Starting the auth service for one test, and talking to it.

use std::net::SocketAddr;

use rampart_auth::Config;
use rampart_kit::CancellationToken;
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::ids::TenantId;
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_kit::principal::{Principal, PrincipalKind};
use rampart_kit::secret::SecretString;
use rampart_proto::auth::v1::auth_service_client::AuthServiceClient;
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

/// Runs `async fn $name(database: TestDatabase)` once on SQLite and once on
/// PostgreSQL, as `$name::sqlite` and `$name::postgres`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::helpers::TestDatabase::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(database) = crate::helpers::TestDatabase::postgres().await {
                    super::$name(database).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_databases;

/// A database of its own for one test.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: rampart_kit::db::sqlite_url(&dir.path().join("auth.db")),
            _dir: Some(dir),
        }
    }

    /// `None` when PostgreSQL is unreachable outside CI.
    pub async fn postgres() -> Option<Self> {
        let url = rampart_kit::testing::fresh_postgres_database().await?;
        Some(Self { url, _dir: None })
    }
}

pub const KEY_HASH_SECRET: &str = "test-secret-that-is-long-enough-0123456789";

/// A running auth service whose audit service is unreachable, so every
/// audit event stays in the outbox where the test can see it.
pub struct TestAuth {
    pub address: SocketAddr,
    pub pki: PkiDir,
    /// A connection to the service's own database, for looking behind it.
    pub db: DatabaseConnection,
    pub admin_key: PlaintextApiKey,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _pki_dir: TempDir,
    _database: TestDatabase,
}

impl TestAuth {
    pub async fn spawn(database: TestDatabase) -> Self {
        let pki_dir = tempfile::tempdir().unwrap();
        let pki = PkiDir::new(pki_dir.path());
        pki.ensure_generated(&["localhost".into()]).unwrap();

        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        rampart_auth::migrate(&db).await.unwrap();

        let admin_key = PlaintextApiKey::generate(KeyKind::Admin);
        let config = Config {
            database_url: database.url.clone(),
            audit_url: format!("https://{}", closed_address().await),
            key_hash_secret: SecretString::from(KEY_HASH_SECRET),
            admin_api_key: Some(SecretString::from(admin_key.expose())),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let tls = pki.load_service(ServiceName::Auth).unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(rampart_auth::run(config, listener, tls, shutdown.clone()));
        Self {
            address,
            pki,
            db,
            admin_key,
            shutdown,
            server: Some(server),
            _pki_dir: pki_dir,
            _database: database,
        }
    }

    /// A client presenting `identity`'s certificate.
    pub async fn client_as(&self, identity: ServiceName) -> AuthServiceClient<Channel> {
        let tls = self
            .pki
            .load_service(identity)
            .unwrap()
            .client(ServiceName::Auth);
        let channel = Endpoint::from_shared(format!("https://{}", self.address))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        AuthServiceClient::new(channel)
    }

    /// A client presenting the gateway's certificate, as in production.
    pub async fn gateway(&self) -> AuthServiceClient<Channel> {
        self.client_as(ServiceName::Gateway).await
    }

    /// Stops the server and returns how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server.take().unwrap().await.unwrap()
    }

    pub async fn count(&self, table: &'static str) -> i64 {
        let query = Query::select()
            .expr_as(Func::count(Expr::cust("*")), "n")
            .from(table)
            .to_owned();
        let row = self.db.query_one(&query).await.unwrap().unwrap();
        row.try_get("", "n").unwrap()
    }
}

impl Drop for TestAuth {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An address nothing listens on.
pub async fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

pub fn admin() -> Principal {
    Principal {
        kind: PrincipalKind::PlatformAdmin,
        credential_id: "bootstrap".to_owned(),
        scopes: vec!["admin".to_owned()],
        request_id: "req-admin".to_owned(),
    }
}

pub fn tenant(tenant: &TenantId) -> Principal {
    Principal {
        kind: PrincipalKind::Tenant(tenant.clone()),
        credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        request_id: "req-tenant".to_owned(),
    }
}

/// A request carrying `principal` as the gateway sends it.
pub fn as_principal<T>(principal: &Principal, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    principal.write_to(request.metadata_mut()).unwrap();
    request
}
