//! Starting the audit service for one test, and talking to it.

use std::net::SocketAddr;

use rampart_audit::Config;
use rampart_kit::CancellationToken;
use rampart_kit::ids::TenantId;
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_kit::principal::{Principal, PrincipalKind};
use rampart_proto::audit::v1::audit_service_client::AuditServiceClient;
use rampart_proto::audit::v1::{
    AppendRequest, AppendResponse, AuditEvent, ListEventsRequest, ListEventsResponse,
};
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
            url: rampart_kit::db::sqlite_url(&dir.path().join("audit.db")),
            _dir: Some(dir),
        }
    }

    /// `None` when PostgreSQL is unreachable outside CI.
    pub async fn postgres() -> Option<Self> {
        let url = rampart_kit::testing::fresh_postgres_database().await?;
        Some(Self { url, _dir: None })
    }
}

/// A running audit service.
pub struct TestAudit {
    pub address: SocketAddr,
    pub pki: PkiDir,
    /// A connection to the service's own database, for looking behind it.
    pub db: DatabaseConnection,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _pki_dir: TempDir,
    _database: TestDatabase,
}

impl TestAudit {
    pub async fn spawn(database: TestDatabase) -> Self {
        let pki_dir = tempfile::tempdir().unwrap();
        let pki = PkiDir::new(pki_dir.path());
        pki.ensure_generated(&["localhost".into()]).unwrap();

        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        rampart_audit::migrate(&db).await.unwrap();

        let config = Config {
            database_url: database.url.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let tls = pki.load_service(ServiceName::Audit).unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(rampart_audit::run(config, listener, tls, shutdown.clone()));
        Self {
            address,
            pki,
            db,
            shutdown,
            server: Some(server),
            _pki_dir: pki_dir,
            _database: database,
        }
    }

    /// A client presenting `identity`'s certificate.
    pub async fn client_as(&self, identity: ServiceName) -> AuditServiceClient<Channel> {
        let tls = self
            .pki
            .load_service(identity)
            .unwrap()
            .client(ServiceName::Audit);
        let channel = Endpoint::from_shared(format!("https://{}", self.address))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        AuditServiceClient::new(channel)
    }

    /// Appends `events` as `producer`.
    pub async fn append(
        &self,
        producer: ServiceName,
        events: Vec<AuditEvent>,
    ) -> Result<AppendResponse, tonic::Status> {
        self.client_as(producer)
            .await
            .append(AppendRequest { events })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Lists one page as `principal`, through the gateway.
    pub async fn list(
        &self,
        principal: &Principal,
        page_size: u32,
        cursor: &str,
    ) -> Result<ListEventsResponse, tonic::Status> {
        let mut request = tonic::Request::new(ListEventsRequest {
            page_size,
            cursor: cursor.to_owned(),
        });
        principal.write_to(request.metadata_mut()).unwrap();
        self.client_as(ServiceName::Gateway)
            .await
            .list_events(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Every event `principal` can see, following cursors to the end.
    pub async fn list_all(&self, principal: &Principal) -> Vec<AuditEvent> {
        let mut events = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.list(principal, 100, &cursor).await.unwrap();
            events.extend(page.events.into_iter().map(|stored| stored.event.unwrap()));
            if page.next_cursor.is_empty() {
                return events;
            }
            cursor = page.next_cursor;
        }
    }

    pub async fn stored_events(&self) -> i64 {
        let query = Query::select()
            .expr_as(Func::count(Expr::cust("*")), "n")
            .from("audit_event")
            .to_owned();
        let row = self.db.query_one(&query).await.unwrap().unwrap();
        row.try_get("", "n").unwrap()
    }

    /// Stops the server and returns how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server.take().unwrap().await.unwrap()
    }
}

impl Drop for TestAudit {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A well-formed event for `tenant`'s log (`None`: the platform's).
pub fn event(tenant: Option<&TenantId>, action: &str) -> AuditEvent {
    AuditEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant.map(ToString::to_string).unwrap_or_default(),
        actor: "api_key:key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        action: action.to_owned(),
        target: format!("customer:{}", uuid::Uuid::new_v4().simple()),
        occurred_at: "2025-06-01T12:00:00.123456Z".to_owned(),
        service: String::new(),
        request_id: "req-1".to_owned(),
        outcome: "success".to_owned(),
    }
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
