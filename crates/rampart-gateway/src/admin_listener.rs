//! The internal admin listener: metrics and health for operators and
//! orchestrators, on an address of its own that is never the public port.
//!
//! It speaks plain HTTP: it is meant for loopback or a network only the
//! platform's own scrapers and probes reach (a NetworkPolicy in
//! Kubernetes). It carries no tenant data and accepts no credentials, and it
//! does not pass through the edge pipeline, so scrapes do not count as
//! client requests.
//!
//! - `GET /metrics`: [`crate::metrics`] in the OpenMetrics text format;
//! - `GET /healthz`, `GET /readyz`: the same answers as on the public port.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use rampart_kit::CancellationToken;
use tokio::net::TcpListener;

use crate::Gateway;
use crate::routes::health;

/// The admin listener's routes.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(gateway)
}

async fn metrics(State(gateway): State<Arc<Gateway>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        gateway.metrics.encode(),
    )
}

/// Serves the admin routes on `listener` until `shutdown`.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    axum::serve(listener, router(gateway))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
