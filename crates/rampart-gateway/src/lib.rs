//! Rampart's edge gateway: the only part of Rampart that faces the outside.
//!
//! A request passes through named phases, in this order:
//!
//! 1. [`edge`]: TLS termination (rustls, TLS 1.2 and 1.3 only), HTTP/1.1 and
//!    HTTP/2, slow-client timeouts, graceful shutdown.
//! 2. [`pipeline`]: a request id, stripping of headers a client must not set
//!    (internal principal headers, `X-Forwarded-*`), 404 for scanner probe
//!    paths, a deadline, and the security headers on every response.
//! 3. [`authn`]: the credential (`X-Admin-API-Key`, `X-API-Key`) checked
//!    against the auth service through a short-lived cache, the tenant
//!    resolved, `X-Business-ID` matched, and the caller's rate limit counted.
//!    Handlers ask for the principal they need as an extractor, so a route
//!    cannot forget to authenticate.
//! 4. [`routes`]: REST/JSON handlers that call one backend each over mTLS gRPC
//!    ([`backends`]) with the principal in the call's metadata.
//! 5. [`problem`]: every error becomes an RFC 9457 problem response with the
//!    request id and never an internal detail.
//!
//! Beside the public edge, [`admin_listener`] serves [`metrics`] and health
//! on an internal address for operators; [`routes::openapi`] describes the
//! REST surface as an OpenAPI 3.1 document served at `/v1/openapi.json`.

pub mod admin_listener;
pub mod authn;
pub mod backends;
pub mod edge;
pub mod limits;
pub mod metrics;
pub mod pipeline;
pub mod problem;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use rampart_kit::CancellationToken;
use rampart_kit::rate_limit::{Quota, RateLimiter};
use tokio::net::TcpListener;

pub use backends::{BackendUrls, Backends};

/// Gateway settings, with defaults fit for production.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long one request may take from its headers to its answer.
    pub request_timeout: Duration,
    /// How long a verified key is trusted without asking auth again.
    pub key_cache_ttl: Duration,
    /// How long an unknown key is remembered as unknown.
    pub negative_cache_ttl: Duration,
    /// Requests per client address, before authentication.
    pub per_address: Quota,
    /// Requests per credential.
    pub per_credential: Quota,
    /// Slow-client timeouts and header limits of the TLS listener.
    pub edge: edge::EdgeLimits,
    /// The body of `/.well-known/security.txt` (RFC 9116), already checked;
    /// `None` answers that path 404.
    pub security_txt: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(15),
            key_cache_ttl: Duration::from_secs(10),
            negative_cache_ttl: Duration::from_secs(2),
            per_address: Quota::per_minute(1200),
            per_credential: Quota::per_minute(600),
            edge: edge::EdgeLimits::default(),
            security_txt: None,
        }
    }
}

/// What every handler shares.
pub struct Gateway {
    pub config: Config,
    pub backends: Backends,
    pub authenticator: authn::Authenticator,
    pub limiter: RateLimiter,
    /// Counters and latencies for the admin listener's `/metrics`.
    pub metrics: metrics::Metrics,
}

impl Gateway {
    #[must_use]
    pub fn new(config: Config, backends: Backends, limiter: RateLimiter) -> Arc<Self> {
        let authenticator = authn::Authenticator::new(
            backends.auth.clone(),
            config.key_cache_ttl,
            config.negative_cache_ttl,
        );
        Arc::new(Self {
            config,
            backends,
            authenticator,
            limiter,
            metrics: metrics::Metrics::new(),
        })
    }
}

/// Serves the gateway on `listener` until `shutdown`, presenting `tls`.
pub async fn run(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let limits = gateway.config.edge.clone();
    let app = routes::router(gateway);
    edge::serve(app, listener, tls, &limits, shutdown).await
}

/// Serves the internal admin listener (metrics, health) on `listener` until
/// `shutdown`. Run it beside [`run`], on an address clients cannot reach.
pub async fn run_admin(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    admin_listener::serve(gateway, listener, shutdown).await
}
