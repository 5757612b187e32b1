//! The Rampart side of `cargo xtask bench-edge`: the whole stack in this
//! process on the embedded default, tuned only where a load test needs it.
//!
//! - Rate limits are set out of reach (the load client is one address and
//!   one key); everything else is the gateway's default configuration, so
//!   each request still passes the pipeline, the address and credential
//!   limiters, the key check from cache, and one mTLS gRPC call to the
//!   escalation service, which does no I/O.
//! - No log subscriber is installed: the benchmark compares with nginx
//!   running with `access_log off`.
//! - Beside the TLS edge, the same router is served over plain HTTP on a
//!   second loopback port, for the plain-HTTP comparison. Rampart has no
//!   plaintext listener in production; this one exists only here.
//! - The stack's own gateway reaches the services over gRPC with mutual TLS
//!   (the remote transport). A second gateway, on a TLS and a plain port of
//!   its own, calls the same services in this process (the co-located
//!   transport of `rampart dev`).
//!
//! Prints one JSON line (addresses, a tenant key, an unknown but well-formed
//! key, the edge certificate and key paths; for the Envoy peer, the
//! escalation service's address, the internal CA, the gateway's certificate
//! and key, the tenant and key ids), then runs until stdin closes.

use std::time::Duration;

use anyhow::Context;
use rampart::stack::{DevOptions, DevStorage, start_dev};
use rampart_gateway::backends::CoLocated;
use rampart_gateway::{BackendUrls, Backends, Gateway};
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::pki::ServiceName;
use rampart_kit::rate_limit::{Quota, RateLimiter};
use rampart_kit::secret::ExposeSecret;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data_dir = std::env::args()
        .nth(1)
        .context("usage: bench_stack <scratch data folder>")?;
    let config = rampart_gateway::Config {
        per_address: Quota::per_minute(u32::MAX),
        per_credential: Quota::per_minute(u32::MAX),
        ..rampart_gateway::Config::default()
    };
    let edge_listener = TcpListener::bind("127.0.0.1:0").await?;
    let stack = start_dev(DevOptions {
        crm: Default::default(),
        data_dir: data_dir.into(),
        edge_listener,
        admin_api_key: None,
        storage: DevStorage::Embedded,
        gateway: config.clone(),
        admin_listener: None,
        escalation: rampart_escalation::Settings::default(),
        accounts: rampart_auth::AccountSettings::default(),
        // The stack's own gateway reaches the services over gRPC: it is the
        // remote transport's measure. The second gateway below calls them
        // in this process.
        transport: rampart_kit::local::Transport::Grpc,
    })
    .await?;

    let url = |service: ServiceName| format!("https://{}", stack.internal[&service]);
    let urls = BackendUrls {
        auth: url(ServiceName::Auth),
        crm: url(ServiceName::Crm),
        escalation: url(ServiceName::Escalation),
        audit: url(ServiceName::Audit),
    };
    let backends = Backends::connect(&urls, &stack.pki.load_service(ServiceName::Gateway)?)?;
    // Served without `run`, so nothing watches its revocation bus: the bench
    // revokes nothing, and marks the channel up so the cache is trusted as
    // it is behind `run`.
    let plain_gateway = Gateway::new(
        config.clone(),
        backends,
        RateLimiter::memory(),
        rampart_kit::revocation::RevocationBus::in_process(),
    );
    plain_gateway
        .authenticator
        .apply(&rampart_kit::revocation::BusEvent::ChannelUp);
    let plain = TcpListener::bind("127.0.0.1:0").await?;
    let plain_addr = plain.local_addr()?;
    serve_plain(plain, plain_gateway);

    // The same gateway again, calling the services in this process: the
    // co-located transport of `rampart dev`, on a TLS and a plain listener.
    let co_located = CoLocated {
        services: stack.running.local_services().clone(),
        hosted: vec![
            ServiceName::Auth,
            ServiceName::Crm,
            ServiceName::Escalation,
            ServiceName::Audit,
        ],
    };
    let local_gateway = Gateway::new(
        config.clone(),
        Backends::connect_with(
            &urls,
            &stack.pki.load_service(ServiceName::Gateway)?,
            &co_located,
        )?,
        RateLimiter::memory(),
        rampart_kit::revocation::RevocationBus::in_process(),
    );
    let local_plain = TcpListener::bind("127.0.0.1:0").await?;
    let local_plain_addr = local_plain.local_addr()?;
    let local_tls = TcpListener::bind("127.0.0.1:0").await?;
    let local_tls_addr = local_tls.local_addr()?;
    let (chain, key) = stack.pki.load_edge()?;
    let edge_tls = rampart_gateway::edge::tls_config(chain, key)?;
    tokio::spawn(rampart_gateway::run(
        local_gateway.clone(),
        local_tls,
        edge_tls,
        stack.running.shutdown_token(),
    ));
    serve_plain(local_plain, local_gateway);

    // reqwest is built without a default TLS provider; this client only
    // speaks plain HTTP, but the builder still wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = format!("http://{plain_addr}");
    let mut ready = false;
    for _ in 0..300 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(ready, "the stack did not become ready");
    let created: serde_json::Value = client
        .post(format!("{base}/v1/admin/tenants"))
        .header("X-Admin-API-Key", stack.admin_api_key.expose_secret())
        .json(&serde_json::json!({ "name": "Bench Co" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let tenant_key = created["api_key"]
        .as_str()
        .context("no api_key in the answer")?;
    let info = serde_json::json!({
        "tls": stack.edge_addr.to_string(),
        "plain": plain_addr.to_string(),
        "local_tls": local_tls_addr.to_string(),
        "local_plain": local_plain_addr.to_string(),
        "tenant_key": tenant_key,
        "unknown_key": PlaintextApiKey::generate(KeyKind::Live).expose(),
        "cert": stack.pki.edge_cert(),
        "key": stack.pki.edge_key(),
        // For the Envoy peer, which calls the same escalation service as
        // the gateway does: over mutual TLS with the gateway's certificate,
        // naming the tenant and the key as the gateway's principal does.
        "escalation": stack.internal[&ServiceName::Escalation].to_string(),
        "ca_cert": stack.pki.internal_ca_cert(),
        "client_cert": stack.pki.service_cert(ServiceName::Gateway),
        "client_key": stack.pki.service_key(ServiceName::Gateway),
        "tenant_id": created["tenant_id"],
        "api_key_id": created["api_key_id"],
    });
    println!("{info}");

    // Run until the parent closes stdin (or dies).
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    stack.running.stop().await
}

/// Serves `gateway`'s routes over plain HTTP on `listener`, as the TLS edge
/// serves them (TCP_NODELAY on every connection).
fn serve_plain(listener: TcpListener, gateway: std::sync::Arc<Gateway>) {
    tokio::spawn(async move {
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, rampart_gateway::routes::router(gateway)).await
    });
}
