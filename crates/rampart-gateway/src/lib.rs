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
//!    cannot forget to authenticate. [`authn::sessions`] does the same for
//!    `Authorization: Bearer` session tokens of signed-in people.
//! 4. [`routes`]: REST/JSON handlers, each registered once for both the
//!    router and the OpenAPI document, that read their body through
//!    [`json_body`] and call one backend each over mTLS gRPC ([`backends`])
//!    with the principal in the call's metadata.
//! 5. [`problem`]: every error becomes an RFC 9457 problem response with the
//!    request id and never an internal detail.
//!
//! Beside the public edge, [`admin_listener`] serves [`metrics`] and health
//! on an internal address for operators; [`routes::openapi`] holds what the
//! OpenAPI 3.1 document served at `/v1/openapi.json` shares across routes.

pub mod admin_listener;
pub mod authn;
pub mod backends;
pub mod edge;
pub mod json_body;
pub mod metrics;
pub mod pages;
pub mod pipeline;
pub mod problem;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use rampart_kit::CancellationToken;
use rampart_kit::rate_limit::{Quota, RateLimiter};
use rampart_kit::revocation::RevocationBus;
use tokio::net::TcpListener;

pub use backends::{BackendUrls, Backends};
pub use routes::executable_sha256;

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
    /// Requests per credential, unless its tenant has its own rate.
    pub per_credential: Quota,
    /// The longest a rate-limited request is held before its 429 goes out
    /// (it is held for its `Retry-After` time, up to this). A client that
    /// waits for each answer, as integrations do, then cannot spin on
    /// refusals and take the edge's CPU from other tenants; a client that
    /// honours `Retry-After` loses nothing. Zero answers at once.
    pub refusal_hold: Duration,
    /// How often API key usage is reported to auth (and audited).
    pub usage_window: Duration,
    /// The secret path segment of the platform admins' sign-in route
    /// (`/v1/auth/<segment>/sign-in`); `None`: admins cannot sign in here.
    pub admin_sign_in_path: Option<String>,
    /// Slow-client timeouts and header limits of the TLS listener.
    pub edge: edge::EdgeLimits,
    /// The body of `/.well-known/security.txt` (RFC 9116), already checked;
    /// `None` answers that path 404.
    pub security_txt: Option<String>,
    /// The shared secret billing webhooks are signed with (HMAC-SHA256);
    /// `None`: the webhook route refuses every call.
    pub billing_webhook_secret: Option<rampart_kit::secret::SecretString>,
    /// The bearer token the admin listener's `/metrics` asks for
    /// (`RAMPART_ADMIN_TOKEN_FILE`); `None`: metrics are open to whoever
    /// reaches the listener, which is meant to be loopback only.
    pub admin_token: Option<rampart_kit::secret::SecretString>,
    /// The edge's public base URL as the outside world calls it
    /// (`https://support.example.com`, no path), from configuration
    /// (`RAMPART_PUBLIC_URL`; under `rampart dev`, the address the edge
    /// listens on). Telephony webhook signatures and OAuth redirects are
    /// computed over it, never over a request's `Host` header. `None`:
    /// the telephony webhooks refuse every call and calendars cannot be
    /// connected.
    pub public_url: Option<String>,
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
            refusal_hold: Duration::from_secs(1),
            usage_window: Duration::from_secs(60),
            admin_sign_in_path: None,
            edge: edge::EdgeLimits::default(),
            security_txt: None,
            billing_webhook_secret: None,
            admin_token: None,
            public_url: None,
        }
    }
}

/// What every handler shares.
pub struct Gateway {
    pub config: Config,
    pub backends: Backends,
    pub authenticator: authn::Authenticator,
    /// Which web origins may call the widget route (CORS preflights).
    pub widget_origins: routes::widget::WidgetOrigins,
    /// API key use, counted here and reported to auth per window.
    pub usage: authn::usage::UsageCounter,
    pub limiter: RateLimiter,
    /// This process's own limiter, counting the revocation routes while the
    /// shared `limiter` is unreachable (containment never waits for a
    /// cache; see [`authn`]).
    pub local_limiter: RateLimiter,
    /// Where auth announces revocations; [`run`] watches it.
    pub revocations: RevocationBus,
    /// Session verdicts, voided by revocations like the key verdicts.
    pub sessions: authn::sessions::SessionCache,
    /// Counters and latencies for the admin listener's `/metrics`.
    pub metrics: metrics::Metrics,
}

impl Gateway {
    #[must_use]
    pub fn new(
        config: Config,
        backends: Backends,
        limiter: RateLimiter,
        revocations: RevocationBus,
    ) -> Arc<Self> {
        let authenticator = authn::Authenticator::new(
            backends.auth.clone(),
            config.key_cache_ttl,
            config.negative_cache_ttl,
        );
        let usage = authn::usage::UsageCounter::new(config.usage_window);
        let sessions =
            authn::sessions::SessionCache::new(config.key_cache_ttl, config.negative_cache_ttl);
        Arc::new(Self {
            widget_origins: routes::widget::WidgetOrigins::default(),
            usage,
            config,
            backends,
            authenticator,
            limiter,
            local_limiter: RateLimiter::memory(),
            sessions,
            revocations,
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
    // Until the watcher reports the channel up, the caches trust nothing.
    let watcher = {
        let gateway = gateway.clone();
        gateway.revocations.clone().watch(
            move |event| {
                gateway.authenticator.apply(&event);
                gateway.sessions.apply(&event);
            },
            shutdown.child_token(),
        )
    };
    // Stopped only once the edge has drained, so requests finishing during
    // the drain are still counted in the last report.
    let stop_reports = CancellationToken::new();
    let reports = {
        let gateway = gateway.clone();
        let stop = stop_reports.clone();
        tokio::spawn(async move {
            let auth = gateway.backends.auth.clone();
            gateway.usage.run_reports(auth, stop).await;
        })
    };
    let limits = gateway.config.edge.clone();
    let app = routes::router(gateway);
    let served = edge::serve(app, listener, tls, &limits, shutdown).await;
    watcher.abort();
    stop_reports.cancel();
    // The last usage report goes out before the backends stop.
    if let Err(error) = reports.await {
        tracing::warn!(%error, "key usage reporter ended abnormally");
    }
    served
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
