//! The HTTPS listener: TLS termination and HTTP/1.1 + HTTP/2 serving.
//!
//! Only TLS 1.3 and 1.2 are offered, with rustls's ring suites: every one is
//! an AEAD cipher with ephemeral (forward-secret) key exchange; rustls has no
//! CBC, RC4 or static-RSA suites to disable. There is no plaintext listener.
//!
//! Slow clients are cut off ([`EdgeLimits`]): a TLS handshake must finish
//! within `handshake_timeout`, and a request's HTTP/1 headers must arrive
//! within `header_read_timeout` from the moment the connection waits for
//! them (a client trickling one header byte at a time does not reset it);
//! the body and the answer fall under the pipeline's request deadline. The
//! same timer closes an HTTP/1 keep-alive connection that stays idle that
//! long between requests, as nginx's `keepalive_timeout` does: a client
//! that keeps connections in a pool should idle them out sooner, or retry
//! a request that found its connection closed. Headers are bounded in
//! count and size (HTTP/1: 431 and the connection closed; HTTP/2: the
//! header list size). On shutdown the listener closes at once and
//! in-flight requests get [`SHUTDOWN_GRACE`] to finish.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper::body::Incoming;
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

const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The listener's slow-client timeouts and header limits.
#[derive(Debug, Clone)]
pub struct EdgeLimits {
    /// Time for a TLS handshake to finish.
    pub handshake_timeout: Duration,
    /// Time for a request's HTTP/1 headers to arrive, counted from when the
    /// connection starts waiting for them; also how long an idle HTTP/1
    /// keep-alive connection stays open.
    pub header_read_timeout: Duration,
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
    let handshake_timeout = limits.handshake_timeout;
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
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
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let tls_stream =
                match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
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
            let service = app.map_request(move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(ClientAddr(address));
                request
            });
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(tls_stream),
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
