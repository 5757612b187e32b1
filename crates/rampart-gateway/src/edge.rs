//! The HTTPS listener: TLS termination and HTTP/1.1 + HTTP/2 serving.
//!
//! Only TLS 1.3 and 1.2 are offered, with rustls's ring suites: every one is
//! an AEAD cipher with ephemeral (forward-secret) key exchange; rustls has no
//! CBC, RC4 or static-RSA suites to disable. There is no plaintext listener.
//!
//! Slow clients are cut off ([`EdgeLimits`]): a TLS handshake must finish
//! within `handshake_timeout`, and a request's HTTP/1 headers must arrive
//! within `header_read_timeout` of their first byte (of the handshake's end,
//! for a connection's first request; a client trickling one header byte at
//! a time does not reset it); the body and the answer fall under the
//! pipeline's request deadline. An HTTP/1 keep-alive connection idle
//! between requests has a clock of its own, `idle_timeout` (75 s, as
//! nginx's `keepalive_timeout`), after which it is closed cleanly
//! ([`clock`]). Headers are bounded in count and size (HTTP/1: 431 and the
//! connection closed; HTTP/2: the header list size).
//!
//! A request answered before its body was read (401, 404, 413) keeps being
//! read in the background, within bounds ([`drain`]), so that a client
//! that writes its whole body before reading, or an HTTP/2 client that
//! treats a reset stream as an error, still sees the answer.
//!
//! On shutdown the listener closes at once and in-flight requests get
//! [`SHUTDOWN_GRACE`] to finish.

pub mod clock;
pub mod drain;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::header;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rampart_kit::CancellationToken;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::pipeline::ClientAddr;
use clock::{Clock, InProgress, Timed};
use drain::DrainOnDrop;

const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The listener's slow-client timeouts and header limits.
#[derive(Debug, Clone)]
pub struct EdgeLimits {
    /// Time for a TLS handshake to finish.
    pub handshake_timeout: Duration,
    /// Time for a request's HTTP/1 headers to arrive, counted from their
    /// first byte (from the handshake's end for a connection's first
    /// request).
    pub header_read_timeout: Duration,
    /// How long an HTTP/1 keep-alive connection may stay idle between an
    /// answer and the next request's first byte.
    pub idle_timeout: Duration,
    /// Headers per request (HTTP/1).
    pub max_headers: usize,
    /// Bytes of request line and headers (HTTP/1; at least 8 KiB), or of
    /// the header list (HTTP/2).
    pub max_header_bytes: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_headers: 64,
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Sessions the edge remembers for resumption. rustls's default of 256
/// would let a busy edge forget a client within a few hundred other
/// visits (each TLS 1.3 handshake stores two tickets) and make it pay a
/// full handshake again. An entry is a few hundred bytes, so this many
/// cost a few MB at most; the oldest go first.
const TLS_SESSIONS: usize = 16 * 1024;

/// The edge's TLS settings: TLS 1.3 and 1.2, ring's AEAD suites, ALPN for
/// HTTP/2 and HTTP/1.1, and a session cache for returning clients
/// ([`TLS_SESSIONS`]). Sessions stay on the server (no stateless tickets),
/// so a stolen ticket key cannot open past TLS 1.2 sessions.
pub fn tls_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions not supported")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the edge certificate and key do not match or are invalid")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(TLS_SESSIONS);
    Ok(Arc::new(config))
}

/// Accepts connections on `listener` until `shutdown`, serving `app` over TLS.
pub async fn serve(
    app: Router,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    limits: &EdgeLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let limits = limits.clone();
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // hyper's timer would also run while a connection is idle; the
        // edge's own clock tells the two apart.
        .header_read_timeout(None)
        .max_headers(limits.max_headers)
        // hyper's read buffer bounds the request head: past it, 431.
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Duration::from_secs(30));

    loop {
        let (stream, address) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Usually out of file descriptors: back off instead of
                    // spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let app = app.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream));
            let tls_stream = match handshake.await {
                Ok(Ok(tls_stream)) => tls_stream,
                Ok(Err(error)) => {
                    tracing::debug!(%address, %error, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%address, "tls handshake timed out");
                    return;
                }
            };
            let http2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let clock = Clock::new(limits.idle_timeout, limits.header_read_timeout, http2);
            let service = connection_service(app, address, clock.clone());
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(Timed::new(tls_stream, clock)),
                TowerToHyperService::new(service),
            );
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%address, error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("in-flight requests did not finish within the grace period");
        }
    }
    Ok(())
}

/// The router as one connection serves it: each request carries the
/// client's address, counts as work in progress on the connection's
/// [`Clock`] until its answer is written, and has its body drained if the
/// answer came before the body was read.
fn connection_service(
    app: Router,
    address: SocketAddr,
    clock: Arc<Clock>,
) -> impl tower::Service<
    http::Request<Incoming>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<Body>, Infallible>> + Send,
> + Clone {
    tower::service_fn(move |request: http::Request<Incoming>| {
        let answering = clock.request_began();
        let expects_continue = request
            .headers()
            .get(header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let mut request = request.map(|incoming| {
            Body::new(DrainOnDrop::new(
                incoming,
                expects_continue,
                answering.clone(),
            ))
        });
        request.extensions_mut().insert(ClientAddr(address));
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await?;
            // The connection is busy until the answer has been handed to
            // hyper whole.
            Ok(response.map(|body| {
                Body::new(Answer {
                    body,
                    _answering: answering,
                })
            }))
        }
    })
}

/// An answer's body, holding its request's [`InProgress`] until written.
struct Answer {
    body: Body,
    _answering: InProgress,
}

impl hyper::body::Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
