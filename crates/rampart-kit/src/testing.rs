//! Test support: real backing services, a unique database per test, and
//! the plumbing every service's integration tests share, so that a test file
//! holds only what it checks.
//!
//! - [`fresh_postgres_database`], [`redis_namespace`]: a PostgreSQL database
//!   and a Redis key prefix no other test uses.
//! - [`TestDatabase`] and [`on_both_databases!`](crate::on_both_databases):
//!   a database of its own for one test, and running a test once on SQLite
//!   and once on PostgreSQL, since every service must work on both.
//! - [`TestPki`]: a freshly generated internal CA and service certificates.
//! - [`TestServer`]: a service's `run` on port 0 with a PKI of its own,
//!   stopped when dropped.
//! - [`channel_as`] (and [`TestServer::channel_as`]): a connection to a
//!   service presenting a chosen service's certificate: the gateway's to
//!   call it as in production, another's to see it refused.
//! - [`closed_address`]: an address nothing listens on, for a peer that is
//!   down (the audit service, so events stay in the outbox).
//! - [`UnavailableAudit`]: an audit service that is down but counts the
//!   relay's attempts, so a test can tell "kept while audit is down" from
//!   "never sent because the relay never ran".
//! - [`admin_principal`], [`tenant_principal`], [`request_as`]: requests
//!   carrying a caller the way the gateway sends it.
//! - [`expect_code`]: asserting a call failed with a given gRPC code.
//! - [`count_rows`]: how many rows a table holds, to check what a service
//!   stored behind its API (or that a refused call stored nothing).
//!
//! PostgreSQL and Redis are found at `RAMPART_TEST_POSTGRES_URL` and
//! `RAMPART_TEST_REDIS_URL` (default: the loopback ports with trust auth).
//! When one is missing a test that needs it is skipped with a message, except
//! under CI (`CI=true`), where a skipped backend would hide a broken run, so
//! the test fails instead.
//!
//! Everything here panics on failure: it runs only inside tests, where a
//! panic with the cause is the most useful report.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use anyhow::Context;
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::ids::TenantId;
use crate::pki::{PkiDir, ServiceName, ServiceTls};
use crate::principal::{DataMode, Principal, PrincipalKind};

/// The PostgreSQL server tests create their databases on.
#[must_use]
pub fn postgres_admin_url() -> String {
    std::env::var("RAMPART_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis tests use.
#[must_use]
pub fn redis_url() -> String {
    std::env::var("RAMPART_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Decides what a missing backend means: `None` (skip) on a developer's
/// machine, a panic under CI.
fn unavailable<T>(what: &str, error: &anyhow::Error) -> Option<T> {
    assert!(
        !in_ci(),
        "{what} is required under CI but unavailable: {error:#}"
    );
    eprintln!("skipping: {what} unavailable: {error:#}");
    None
}

/// A fresh, empty PostgreSQL database; `None` when PostgreSQL is unreachable
/// outside CI. Returns its URL.
pub async fn fresh_postgres_database() -> Option<String> {
    match create_postgres_database().await {
        Ok(url) => Some(url),
        Err(error) => unavailable("PostgreSQL", &error),
    }
}

async fn create_postgres_database() -> anyhow::Result<String> {
    let admin_url = postgres_admin_url();
    let admin = tokio::time::timeout(Duration::from_secs(5), Database::connect(&admin_url))
        .await
        .context("timed out connecting")??;
    drop_stale_databases(&admin).await;
    let now = chrono::Utc::now().timestamp();
    let name = format!("rampart_test_{now}_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// How old a test database must be before a later test run drops it. Tests
/// keep their database while they run (and a failed test's stays for a while
/// to look at); this keeps the server from filling up across runs.
const STALE_AFTER_SECS: i64 = 3600;

async fn drop_stale_databases(admin: &sea_orm::DatabaseConnection) {
    let Ok(rows) = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'rampart_test_%'",
        ))
        .await
    else {
        return;
    };
    let cutoff = chrono::Utc::now().timestamp() - STALE_AFTER_SECS;
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let created = name
            .strip_prefix("rampart_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        // Databases of the older naming scheme, without a timestamp, are stale.
        if created.is_none_or(|secs| secs < cutoff) {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// A Redis URL and a unique key prefix for one test; `None` when Redis is
/// unreachable outside CI.
pub async fn redis_namespace() -> Option<(String, String)> {
    let url = redis_url();
    let check = async {
        let client = redis::Client::open(url.as_str())?;
        let mut connection = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .context("timed out connecting")??;
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        anyhow::Ok(())
    };
    match check.await {
        Ok(()) => Some((
            url,
            format!("rampart-test-{}", uuid::Uuid::new_v4().simple()),
        )),
        Err(error) => unavailable("Redis", &error),
    }
}

/// Runs each listed test, an `async fn(TestDatabase)` of the calling module,
/// once on SQLite and once on PostgreSQL, as the tests `<name>::sqlite` and
/// `<name>::postgres`. The PostgreSQL run is skipped when PostgreSQL is
/// unreachable outside CI, like [`fresh_postgres_database`].
///
/// The calling crate needs `tokio` with its `macros` and `rt` features, for
/// `#[tokio::test]`.
///
/// ```text
/// use rampart_kit::on_both_databases;
/// use rampart_kit::testing::TestDatabase;
///
/// on_both_databases!(tenants_are_listed, unknown_tenants_are_not_found);
///
/// async fn tenants_are_listed(database: TestDatabase) {
///     let app = TestApp::spawn(database).await;
///     // ...
/// }
/// ```
///
/// [`fresh_postgres_database`]: crate::testing::fresh_postgres_database
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::testing::TestDatabase::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(database) = $crate::testing::TestDatabase::postgres().await {
                    super::$name(database).await;
                }
            }
        }
    )*};
}

/// A database of its own for one test: a SQLite file in a temporary folder
/// removed on drop, or a fresh PostgreSQL database (which a later run drops,
/// see [`fresh_postgres_database`]). Keep it as long as the service using it
/// runs.
pub struct TestDatabase {
    pub url: String,
    /// The SQLite file's folder; `None` for PostgreSQL.
    _dir: Option<TempDir>,
}

impl TestDatabase {
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for the SQLite database");
        Self {
            url: crate::db::sqlite_url(&dir.path().join("test.db")),
            _dir: Some(dir),
        }
    }

    /// `None` when PostgreSQL is unreachable outside CI.
    pub async fn postgres() -> Option<Self> {
        let url = fresh_postgres_database().await?;
        Some(Self { url, _dir: None })
    }
}

/// The internal CA, every service's certificate and the edge certificate
/// (for `localhost`), generated into a temporary folder removed on drop.
/// Dereferences to its [`PkiDir`].
pub struct TestPki {
    pki: PkiDir,
    _dir: TempDir,
}

impl TestPki {
    #[must_use]
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for the PKI");
        let pki = PkiDir::new(dir.path());
        pki.ensure_generated(&["localhost".into()])
            .expect("generating the test PKI");
        Self { pki, _dir: dir }
    }
}

impl Deref for TestPki {
    type Target = PkiDir;

    fn deref(&self) -> &PkiDir {
        &self.pki
    }
}

/// A service running in the test's process on a port of its own, with a
/// PKI of its own, stopped (its shutdown token cancelled) when dropped.
pub struct TestServer {
    /// Where it listens, on the loopback interface.
    pub address: SocketAddr,
    service: ServiceName,
    pki: TestPki,
    shutdown: CancellationToken,
    /// `None` once stopped.
    server: Option<ServerTask>,
}

/// A service's `run`, spawned.
type ServerTask = JoinHandle<anyhow::Result<()>>;

impl TestServer {
    /// Generates a PKI, binds `127.0.0.1:0` and spawns `run` with that
    /// listener, `service`'s identity and a new shutdown token. `run` is the
    /// service's own `run` with its configuration bound, as in
    /// `|listener, tls, shutdown| rampart_auth::run(config, listener, tls, shutdown)`.
    /// The listener is bound before this returns, so a client may connect at
    /// once; the service answers once it has started.
    pub async fn start<R, F>(service: ServiceName, run: R) -> Self
    where
        R: FnOnce(TcpListener, ServiceTls, CancellationToken) -> F,
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let pki = TestPki::generate();
        let (address, shutdown, server) = spawn(&pki, service, run).await;
        Self {
            address,
            service,
            pki,
            shutdown,
            server: Some(server),
        }
    }

    /// Starts `run` again after [`stop`](Self::stop), with the same
    /// certificates, on a new port.
    ///
    /// # Panics
    ///
    /// When the service is still running.
    pub async fn restart<R, F>(&mut self, run: R)
    where
        R: FnOnce(TcpListener, ServiceTls, CancellationToken) -> F,
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        assert!(self.server.is_none(), "the service is still running");
        let (address, shutdown, server) = spawn(&self.pki, self.service, run).await;
        self.address = address;
        self.shutdown = shutdown;
        self.server = Some(server);
    }

    /// The certificates the service and its callers use.
    #[must_use]
    pub fn pki(&self) -> &PkiDir {
        &self.pki
    }

    /// A connection to the service presenting `identity`'s certificate.
    pub async fn channel_as(&self, identity: ServiceName) -> Channel {
        channel_as(&self.pki, self.address, identity, self.service).await
    }

    /// Cancels the shutdown token and returns what `run` returned.
    ///
    /// # Panics
    ///
    /// When the service is not running, or `run` panicked.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let server = self.server.take().expect("the service is running");
        server.await.expect("the service's task did not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Binds a port and spawns `run` on it as `service`.
async fn spawn<R, F>(
    pki: &PkiDir,
    service: ServiceName,
    run: R,
) -> (SocketAddr, CancellationToken, ServerTask)
where
    R: FnOnce(TcpListener, ServiceTls, CancellationToken) -> F,
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a port for the service");
    let address = listener.local_addr().expect("the bound address");
    let tls = pki
        .load_service(service)
        .expect("the service's certificate");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(run(listener, tls, shutdown.clone()));
    (address, shutdown, server)
}

/// A connection to the service `peer` at `address`, presenting `identity`'s
/// certificate from `pki`.
pub async fn channel_as(
    pki: &PkiDir,
    address: SocketAddr,
    identity: ServiceName,
    peer: ServiceName,
) -> Channel {
    let tls = pki
        .load_service(identity)
        .expect("the caller's certificate")
        .client(peer);
    Endpoint::from_shared(format!("https://{address}"))
        .expect("a valid endpoint")
        .tls_config(tls)
        .expect("valid TLS settings")
        .connect()
        .await
        .unwrap_or_else(|error| panic!("connecting to {peer} at {address}: {error:?}"))
}

/// An address nothing listens on: a free port, bound and released.
pub async fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a free port");
    listener.local_addr().expect("the bound address")
}

/// An audit service that is down: its port accepts connections and drops
/// them at once, so every delivery fails, and it counts them. An outbox
/// that still holds its events proves nothing by itself (a relay that never
/// started holds them too); these attempts show the relay tried.
#[derive(Debug)]
pub struct UnavailableAudit {
    address: SocketAddr,
    attempts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: JoinHandle<()>,
}

impl UnavailableAudit {
    /// Starts listening on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a free port");
        let address = listener.local_addr().expect("the bound address");
        let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = attempts.clone();
        let task = tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(connection);
            }
        });
        Self {
            address,
            attempts,
            task,
        }
    }

    /// The URL a service is given as its audit peer.
    #[must_use]
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// How many connections the relay has opened so far.
    #[must_use]
    pub fn attempts(&self) -> usize {
        self.attempts.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until the relay has tried at least `count` times; panics after
    /// `within`, naming how many it made.
    pub async fn wait_for_attempts(&self, count: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.attempts() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the outbox relay tried to reach audit {} times in {within:?}, expected {count}",
                self.attempts()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for UnavailableAudit {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The platform admin, as the gateway passes on the bootstrap admin key.
#[must_use]
pub fn admin_principal() -> Principal {
    Principal {
        mode: DataMode::Live,
        client_addr: String::new(),
        kind: PrincipalKind::PlatformAdmin,
        credential_id: "bootstrap".to_owned(),
        scopes: vec!["admin".to_owned()],
        request_id: "req-admin".to_owned(),
        user: None,
    }
}

/// A caller holding one of `tenant`'s API keys, as the gateway passes it on.
#[must_use]
pub fn tenant_principal(tenant: &TenantId) -> Principal {
    Principal {
        mode: DataMode::Live,
        client_addr: String::new(),
        kind: PrincipalKind::Tenant(tenant.clone()),
        credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        request_id: "req-tenant".to_owned(),
        user: None,
    }
}

/// A caller holding a key of `tenant` with the `audit` scope: one that may
/// read and export the tenant's audit trail.
#[must_use]
pub fn tenant_auditor(tenant: &TenantId) -> Principal {
    Principal {
        mode: DataMode::Live,
        scopes: vec!["read".to_owned(), "audit".to_owned()],
        ..tenant_principal(tenant)
    }
}

/// A request carrying `principal` in its metadata, as the gateway sends it.
pub fn request_as<T>(principal: &Principal, message: T) -> Request<T> {
    let mut request = Request::new(message);
    principal
        .write_to(request.metadata_mut())
        .expect("the principal fits in metadata");
    request
}

/// Asserts a call failed with `code`, returning the status for more checks.
///
/// # Panics
///
/// When the call succeeded or failed with another code.
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got a response: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// How many rows `table` holds.
pub async fn count_rows(db: &DatabaseConnection, table: &'static str) -> i64 {
    let query = Query::select()
        .expr_as(Func::count(Expr::cust("*")), "n")
        .from(table)
        .to_owned();
    let row = db
        .query_one(&query)
        .await
        .expect("counting rows")
        .expect("a count has a row");
    row.try_get("", "n").expect("the count")
}

/// A TCP relay in front of a real server, which a test can cut and restore
/// to play a network failure (a Redis that goes away, say) without touching
/// the server other tests share.
pub struct CuttableLink {
    address: SocketAddr,
    upstream: SocketAddr,
    cut: std::sync::Mutex<CancellationToken>,
}

impl CuttableLink {
    /// Starts relaying connections on a free loopback port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::sync::Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let link = std::sync::Arc::new(Self {
            address: listener.local_addr().expect("relay address"),
            upstream,
            cut: std::sync::Mutex::new(CancellationToken::new()),
        });
        let relay = std::sync::Arc::downgrade(&link);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Some(link) = relay.upgrade() else { return };
                let cut = link.cut.lock().expect("relay lock").clone();
                if cut.is_cancelled() {
                    continue; // refused while cut: the socket drops here
                }
                let upstream = link.upstream;
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        () = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        link
    }

    /// Where clients connect.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Drops every relayed connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.lock().expect("relay lock").cancel();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        *self.cut.lock().expect("relay lock") = CancellationToken::new();
    }
}
