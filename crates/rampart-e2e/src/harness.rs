//! Starting the stack for a test, and talking to it.

use std::sync::Arc;
use std::time::Duration;

use rampart::stack::{DevOptions, DevStack, DevStorage, start_dev};
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::secret::{ExposeSecret, SecretString};
use reqwest::{Method, RequestBuilder, StatusCode};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Which storage the stack runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Embedded,
    PostgresRedis,
}

/// A running stack and a client for its edge.
pub struct TestStack {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_key: String,
    pub stack: DevStack,
    /// The secret path segment of the admins' sign-in route.
    pub admin_sign_in_path: String,
    /// Where auth's data lives, for operator commands run against it.
    pub auth_database_url: String,
    /// The Redis URL and key prefix of a PostgreSQL + Redis stack, for
    /// starting more gateways that share it.
    pub redis: Option<(String, String)>,
    /// The data folder (`rampart dev`'s), and the PostgreSQL database when
    /// the stack runs on one: for restarting a service by hand.
    pub data_dir: std::path::PathBuf,
    pub database_url: Option<String>,
    _dir: tempfile::TempDir,
}

/// Another gateway instance in front of the same services, as in a
/// deployment with several gateways behind a load balancer.
pub struct ExtraGateway {
    pub base: String,
    pub running: rampart::stack::RunningStack,
}

impl ExtraGateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The transport the gateway uses to reach the services beside it:
/// `RAMPART_TRANSPORT` as `rampart` reads it (CI runs the security suites
/// once with each), in-process by default as in `rampart dev`.
///
/// # Panics
/// On a value that names no transport, so a typo cannot pass for a run.
#[must_use]
pub fn transport_under_test() -> rampart_kit::local::Transport {
    match std::env::var("RAMPART_TRANSPORT") {
        Ok(value) if !value.is_empty() => rampart_kit::local::Transport::parse(&value)
            .unwrap_or_else(|| panic!("RAMPART_TRANSPORT={value:?} names no transport")),
        _ => rampart_kit::local::Transport::default(),
    }
}

/// The office domain platform admins' emails must be in, in tests.
pub const OFFICE_DOMAIN: &str = "corp.example";

/// A tenant created through the admin route.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub key: String,
}

impl TestStack {
    /// Starts a stack; `None` when the backend is unavailable outside CI.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, rampart_gateway::Config::default()).await
    }

    pub async fn start_with(backend: Backend, gateway: rampart_gateway::Config) -> Option<Self> {
        let accounts = rampart_auth::AccountSettings {
            admin_email_domains: vec![OFFICE_DOMAIN.to_owned()],
            ..rampart_auth::AccountSettings::default()
        };
        Self::start_with_accounts(backend, gateway, accounts).await
    }

    /// A stack whose auth service uses `accounts` (throttling, sessions).
    pub async fn start_with_accounts(
        backend: Backend,
        gateway: rampart_gateway::Config,
        accounts: rampart_auth::AccountSettings,
    ) -> Option<Self> {
        Self::start_with_integrations(backend, gateway, accounts, Default::default()).await
    }

    /// A stack whose crm reaches its providers (SMS, calendars) as `crm`
    /// says: the tests' local fakes.
    pub async fn start_with_integrations(
        backend: Backend,
        mut gateway: rampart_gateway::Config,
        accounts: rampart_auth::AccountSettings,
        crm: rampart_crm::Integrations,
    ) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut auth_database_url = rampart_kit::db::sqlite_url(&dir.path().join("auth.db"));
        let mut redis = None;
        let mut external_database = None;
        let storage = match backend {
            Backend::Embedded => DevStorage::Embedded,
            Backend::PostgresRedis => {
                let database_url = rampart_kit::testing::fresh_postgres_database().await?;
                let (redis_url, redis_prefix) = rampart_kit::testing::redis_namespace().await?;
                auth_database_url.clone_from(&database_url);
                external_database = Some(database_url.clone());
                redis = Some((redis_url.clone(), redis_prefix.clone()));
                DevStorage::External {
                    database_url,
                    redis_url,
                    redis_prefix,
                }
            }
        };
        let admin = PlaintextApiKey::generate(KeyKind::Admin);
        let admin_sign_in_path = gateway
            .admin_sign_in_path
            .get_or_insert_with(|| format!("admin-{}", uuid::Uuid::new_v4().simple()))
            .clone();
        let edge_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
        let stack = start_dev(DevOptions {
            crm,
            data_dir: dir.path().to_path_buf(),
            edge_listener,
            admin_api_key: Some(SecretString::from(admin.expose().to_owned())),
            storage,
            gateway,
            accounts,
            admin_listener: Some(admin_listener),
            escalation: rampart_escalation::Settings {
                deadline_tick: Duration::from_millis(200),
                smtp: None,
                webhook_targets: rampart_escalation::handoffs::WebhookTargets::AnyAddress,
            },
            transport: transport_under_test(),
        })
        .await
        .expect("stack starts");
        assert_eq!(stack.admin_api_key.expose_secret(), admin.expose());

        let tls = edge_tls(&stack.edge_ca, rustls::DEFAULT_VERSIONS, &[]);
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let this = Self {
            base: format!("https://localhost:{}", stack.edge_addr.port()),
            client,
            admin_key: admin.expose().to_owned(),
            stack,
            admin_sign_in_path,
            auth_database_url,
            redis,
            data_dir: dir.path().to_path_buf(),
            database_url: external_database,
            _dir: dir,
        };
        this.wait_ready().await;
        Some(this)
    }

    /// Waits until the gateway answers ready (every backend serving).
    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self
                .client
                .get(self.url("/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK);
            if ready {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "stack not ready within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A URL on the internal admin listener (plain HTTP, loopback).
    pub fn admin_url(&self, path: &str) -> String {
        let addr = self
            .stack
            .admin_addr
            .expect("the test stack has an admin listener");
        format!("http://{addr}{path}")
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn as_admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path)
            .header("X-Admin-API-Key", &self.admin_key)
    }

    pub fn as_tenant(&self, tenant: &Tenant, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).header("X-API-Key", &tenant.key)
    }

    pub async fn create_tenant(&self, name: &str) -> Tenant {
        let response = self
            .as_admin(Method::POST, "/v1/admin/tenants")
            .json(&json!({ "name": name, "office_domains": ["example.com"] }))
            .send()
            .await
            .expect("send");
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Tenant {
            id: body["tenant_id"].as_str().expect("tenant_id").to_owned(),
            key: body["api_key"].as_str().expect("api_key").to_owned(),
        }
    }

    /// Creates a platform admin the way an operator does
    /// (`rampart admin create-user`), with its TOTP secret.
    pub async fn create_platform_admin(
        &self,
        email: &str,
        password: &str,
    ) -> Result<rampart_auth::CreatedAdmin, String> {
        let data = rampart::dev_data::DataDir::open(self._dir.path()).expect("data dir");
        rampart_auth::create_platform_admin(
            &self.auth_database_url,
            &data.key_hash_secret().expect("key-hash secret"),
            &data.totp_encryption_key().expect("TOTP key"),
            rampart_auth::AccountSettings {
                admin_email_domains: vec![OFFICE_DOMAIN.to_owned()],
                ..rampart_auth::AccountSettings::default()
            },
            email,
            &SecretString::from(password.to_owned()),
        )
        .await
        .map_err(|error| format!("{error:#}"))
    }

    /// Starts another gateway in front of the same backends, sharing this
    /// stack's Redis (rate limits and the revocation bus), as a second
    /// instance behind a load balancer would. Returns its base URL and the
    /// running gateway; `None` for the embedded stack.
    pub async fn start_second_gateway(&self) -> Option<(String, rampart::stack::RunningStack)> {
        self.redis.as_ref()?;
        let gateway = self
            .second_gateway(rampart_gateway::Config {
                admin_sign_in_path: Some(self.admin_sign_in_path.clone()),
                ..rampart_gateway::Config::default()
            })
            .await;
        Some((gateway.base, gateway.running))
    }

    /// Starts a second gateway with `config`, sharing this stack's services
    /// and Redis. Only a stack on Redis has one: in-process revocations and
    /// limits cannot reach another gateway.
    pub async fn second_gateway(&self, config: rampart_gateway::Config) -> ExtraGateway {
        let redis = self
            .redis
            .clone()
            .expect("a second gateway needs the stack on Redis");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        let port = listener.local_addr().expect("address").port();
        let urls = self
            .stack
            .internal
            .iter()
            .map(|(service, addr)| (*service, format!("https://{addr}")))
            .collect();
        let running = rampart::stack::start(rampart::stack::StackConfig {
            crm: Default::default(),
            pki: self.stack.pki.clone(),
            listeners: vec![(rampart_kit::pki::ServiceName::Gateway, listener)],
            urls,
            databases: std::collections::HashMap::new(),
            redis: Some(redis),
            key_hash_secret: None,
            admin_api_key: None,
            audit_signing_key: None,
            audit_checkpoint_interval: Duration::from_secs(60),
            gateway: config,
            totp_encryption_key: None,
            crm_master_key: None,
            accounts: rampart_auth::AccountSettings::default(),
            admin_listener: None,
            escalation: rampart_escalation::Settings::default(),
            // A stack of its own: every service is elsewhere, reached over gRPC.
            transport: rampart_kit::local::Transport::default(),
        })
        .await
        .expect("second gateway starts");
        let gateway = ExtraGateway {
            base: format!("https://localhost:{port}"),
            running,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !self
            .client
            .get(gateway.url("/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "second gateway not ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        gateway
    }

    pub async fn stop(self) {
        self.stack.running.stop().await.expect("clean shutdown");
    }
}

/// The roots of a client that trusts only the edge CA at `edge_ca`.
pub fn edge_roots(edge_ca: &std::path::Path) -> rustls::RootCertStore {
    let ca = CertificateDer::from_pem_file(edge_ca).expect("edge CA");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("edge CA is valid");
    roots
}

/// TLS settings of a client that trusts only the edge CA, speaking
/// `versions` and offering `alpn` protocols.
pub fn edge_tls(
    edge_ca: &std::path::Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> rustls::ClientConfig {
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("protocol versions")
    .with_root_certificates(edge_roots(edge_ca))
    .with_no_client_auth();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tls
}

/// An HTTPS client trusting only the edge CA, offering `alpn` protocols.
pub fn edge_client(edge_ca: &std::path::Path, alpn: &[&[u8]]) -> reqwest::Client {
    let tls = edge_tls(edge_ca, rustls::DEFAULT_VERSIONS, alpn);
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// The status and JSON body of a response (`Null` for an empty body).
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, body)
}

/// Asserts a problem response: the status, the problem content type, and a
/// body with a title and a request id matching the header.
pub async fn expect_problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "not a problem response"
    );
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("x-request-id header");
    let (actual, body) = read(response).await;
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["title"].is_string(), "{body}");
    assert_eq!(body["request_id"], header_id.as_str(), "{body}");
    body
}
