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
    _dir: tempfile::TempDir,
}

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
        let storage = match backend {
            Backend::Embedded => DevStorage::Embedded,
            Backend::PostgresRedis => {
                let database_url = rampart_kit::testing::fresh_postgres_database().await?;
                let (redis_url, redis_prefix) = rampart_kit::testing::redis_namespace().await?;
                DevStorage::External {
                    database_url,
                    redis_url,
                    redis_prefix,
                }
            }
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let admin = PlaintextApiKey::generate(KeyKind::Admin);
        let edge_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
        let stack = start_dev(DevOptions {
            data_dir: dir.path().to_path_buf(),
            edge_listener,
            admin_api_key: Some(SecretString::from(admin.expose().to_owned())),
            storage,
            gateway,
            admin_listener: Some(admin_listener),
        })
        .await
        .expect("stack starts");
        assert_eq!(stack.admin_api_key.expose_secret(), admin.expose());

        let ca = CertificateDer::from_pem_file(&stack.edge_ca).expect("edge CA");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).expect("edge CA is valid");
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
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
            _dir: dir,
        };
        this.wait_ready().await;
        Some(this)
    }

    async fn wait_ready(&self) {
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

    pub async fn stop(self) {
        self.stack.running.stop().await.expect("clean shutdown");
    }
}

/// An HTTPS client trusting only the edge CA, offering `alpn` protocols.
pub fn edge_client(edge_ca: &std::path::Path, alpn: &[&[u8]]) -> reqwest::Client {
    let ca = CertificateDer::from_pem_file(edge_ca).expect("edge CA");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("edge CA is valid");
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
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
