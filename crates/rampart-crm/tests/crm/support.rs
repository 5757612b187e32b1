//! Starting the CRM for a test and calling it as the gateway would.

use std::time::Duration;

use rampart_kit::CancellationToken;
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_kit::principal::{Principal, PrincipalKind};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use sea_orm::sea_query::{Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running CRM, stopped when dropped.
pub struct TestApp {
    port: u16,
    pki: PkiDir,
    config: rampart_crm::Config,
    /// A connection of the test's own, to look at what the service stored.
    pub db: DatabaseConnection,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// Starts the CRM on a fresh database of `backend`, with the audit
    /// service unreachable; `None` when that backend is not available here.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => rampart_kit::db::sqlite_url(&dir.path().join("crm.db")),
            Backend::Postgres => rampart_kit::testing::fresh_postgres_database().await?,
        };
        let pki = PkiDir::new(dir.path().join("pki"));
        pki.ensure_generated(&["localhost".into()]).unwrap();
        let config = rampart_crm::Config {
            database_url: database_url.clone(),
            audit_url: format!("https://127.0.0.1:{}", closed_port().await),
        };

        let (port, shutdown, server) = start(&pki, &config).await;
        // Opened only now: the service has created the file, switched it to
        // WAL and migrated it, so the test's pool races none of that (two
        // pools switching one new SQLite file to WAL at once can fail with
        // "database is locked").
        let db = rampart_kit::db::connect(&database_url).await.unwrap();
        Some(Self {
            port,
            pki,
            config,
            db,
            shutdown,
            server: Some(server),
            _dir: dir,
        })
    }

    /// Cancels the service's shutdown token and returns what `run` returned,
    /// failing if it takes longer than a few seconds.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let server = self.server.take().expect("the service is running");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the crm service did not stop within 10 seconds")
            .unwrap()
    }

    /// Starts the service again on the same database, on a new port.
    pub async fn restart(&mut self) {
        let (port, shutdown, server) = start(&self.pki, &self.config).await;
        self.port = port;
        self.shutdown = shutdown;
        self.server = Some(server);
    }

    /// A client holding the gateway's certificate.
    pub async fn client(&self) -> CrmServiceClient<Channel> {
        connect(&self.pki, self.port, ServiceName::Gateway).await
    }

    /// A client holding `service`'s certificate.
    pub async fn client_as(&self, service: ServiceName) -> CrmServiceClient<Channel> {
        connect(&self.pki, self.port, service).await
    }

    /// How many audit events wait in the outbox.
    pub async fn pending_audit(&self) -> u64 {
        Outbox::new(rampart_crm::OUTBOX_TABLE)
            .pending(&self.db)
            .await
            .unwrap()
    }

    /// The outbox's raw payloads, oldest first.
    pub async fn audit_payloads(&self) -> Vec<String> {
        let select = Query::select()
            .column("payload")
            .from(rampart_crm::OUTBOX_TABLE)
            .order_by("id", Order::Asc)
            .to_owned();
        self.db
            .query_all(&select)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", "payload").unwrap())
            .collect()
    }

    /// The outbox's events, oldest first.
    pub async fn audit_records(&self) -> Vec<AuditRecord> {
        self.audit_payloads()
            .await
            .iter()
            .map(|payload| serde_json::from_str(payload).unwrap())
            .collect()
    }

    /// How many rows `table` holds.
    pub async fn count_rows(&self, table: &'static str) -> i64 {
        let count = Query::select()
            .expr_as(sea_orm::sea_query::Expr::cust("COUNT(*)"), "n")
            .from(table)
            .to_owned();
        let row = self.db.query_one(&count).await.unwrap().unwrap();
        row.try_get("", "n").unwrap()
    }
}

/// Starts `run` on a new port and waits until it serves.
async fn start(
    pki: &PkiDir,
    config: &rampart_crm::Config,
) -> (u16, CancellationToken, JoinHandle<anyhow::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = pki.load_service(ServiceName::Crm).unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(rampart_crm::run(
        config.clone(),
        listener,
        tls,
        shutdown.clone(),
    ));
    wait_until_serving(pki, port).await;
    (port, shutdown, server)
}

async fn connect(pki: &PkiDir, port: u16, service: ServiceName) -> CrmServiceClient<Channel> {
    let tls = pki.load_service(service).unwrap().client(ServiceName::Crm);
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    CrmServiceClient::new(channel)
}

/// Returns once the service answers a call, which it does only after
/// connecting to its database and migrating it.
async fn wait_until_serving(pki: &PkiDir, port: u16) {
    let request = proto::ListTenantsRequest::default();
    connect(pki, port, ServiceName::Gateway)
        .await
        .list_tenants(as_principal(&admin(), request))
        .await
        .expect("the crm service did not start");
}

/// A port on which nothing listens: bound, then released.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
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
        scopes: vec!["crm".into()],
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
