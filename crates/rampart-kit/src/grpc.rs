//! Starting an mTLS gRPC server, and connecting to one.
//!
//! Every Rampart server is built the same way: the service's own certificate,
//! a client certificate required from the internal CA, a health service, a
//! tracing span per call continuing the caller's W3C trace, and an allow-list
//! of the peer services that may call it ([`AllowPeers`]). Servers take their
//! listener and a shutdown token from the caller, so tests bind port 0.

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::{Router, TcpIncoming};
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Status};

use crate::pki::{ServiceName, ServiceTls, peer_service};
use crate::telemetry;

/// How long one call may run before it is cancelled: on a server, and on
/// an in-process call ([`crate::local`]).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A server builder with this service's mTLS settings and per-call tracing.
pub fn server(tls: &ServiceTls) -> anyhow::Result<Server> {
    let service = tls.service().as_str();
    Ok(Server::builder()
        .tls_config(tls.server())
        .context("invalid TLS settings for the gRPC server")?
        .timeout(CALL_TIMEOUT)
        .trace_fn(move |request| {
            let span = tracing::info_span!(
                "grpc",
                service,
                method = %request.uri().path(),
                otel.kind = "server",
            );
            telemetry::continue_trace(&span, request.headers());
            span
        }))
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets
/// in-flight calls finish.
pub async fn serve<L>(
    router: Router<L>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    L: tower::Layer<tonic::service::Routes> + Clone,
    L::Service: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
        > + Clone
        + Send
        + 'static,
    <L::Service as tower::Service<http::Request<tonic::body::Body>>>::Future: Send + 'static,
    <L::Service as tower::Service<http::Request<tonic::body::Body>>>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    // Served from a listener the caller bound, tonic ignores the builder's
    // TCP_NODELAY; without it, a small answer can wait for the peer's
    // delayed ACK (40 ms on Linux): the quiet p99 of CRM reads in the
    // auth_load bench was 42 ms against a p50 of 1.3 ms.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    router
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
        .context("gRPC server failed")
}

/// A health service reporting `S` as serving.
pub async fn health_for<S: tonic::server::NamedService>()
-> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health> {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_serving::<S>().await;
    service
}

/// The service that made a call, as its certificate names it; put in the
/// request's extensions by [`AllowPeers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub ServiceName);

impl Caller {
    /// The caller recorded by [`AllowPeers`]; a service mounted without it
    /// has no caller and the call is refused.
    pub fn of<T>(request: &Request<T>) -> Result<ServiceName, Status> {
        request
            .extensions()
            .get::<Self>()
            .map(|caller| caller.0)
            .ok_or_else(|| Status::permission_denied("caller is not identified"))
    }
}

/// Refuses calls from any peer not on the list. The TLS handshake has already
/// required a certificate from the internal CA; this decides which of those
/// services may use this one.
#[derive(Debug, Clone, Copy)]
pub struct AllowPeers(pub &'static [ServiceName]);

impl AllowPeers {
    /// Admits a call from `peer`, recording it as the [`Caller`]; the one
    /// rule for both transports (a call from the network names its peer by
    /// certificate, an in-process call by the certificate its caller holds:
    /// see [`crate::local`]).
    pub fn admit(
        &self,
        peer: Option<ServiceName>,
        mut request: Request<()>,
    ) -> Result<Request<()>, Status> {
        match peer {
            Some(peer) if self.0.contains(&peer) => {
                request.extensions_mut().insert(Caller(peer));
                Ok(request)
            }
            _ => Err(Status::permission_denied(
                "caller is not allowed to use this service",
            )),
        }
    }
}

impl Interceptor for AllowPeers {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let peer = peer_service(request.peer_certs());
        self.admit(peer, request)
    }
}

/// Carries the current trace context to the callee.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropagateTrace;

impl Interceptor for PropagateTrace {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        telemetry::inject_trace(request.metadata_mut());
        Ok(request)
    }
}

/// A channel to another service that carries the trace context.
pub type TracedChannel = InterceptedService<Channel, PropagateTrace>;

/// A lazily connected mTLS channel to `peer` at `url` (`https://host:port`):
/// the first call connects, so a peer that is down at start-up does not stop
/// this service from starting.
pub fn connect_lazy(url: &str, tls: &ServiceTls, peer: ServiceName) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("invalid {peer} address {url:?}"))?
        .tls_config(tls.client(peer))
        .with_context(|| format!("invalid TLS settings for {peer}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(CALL_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}

/// Wraps a channel so every call carries the trace context.
#[must_use]
pub fn traced(channel: Channel) -> TracedChannel {
    InterceptedService::new(channel, PropagateTrace)
}
