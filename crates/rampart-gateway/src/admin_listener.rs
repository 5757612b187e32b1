//! The internal admin listener: metrics and health for operators and
//! orchestrators, on an address of its own that is never the public port.
//!
//! It speaks plain HTTP: it is meant for loopback or a network only the
//! platform's own scrapers and probes reach (a NetworkPolicy in
//! Kubernetes). It carries no tenant data, and it does not pass through the
//! edge pipeline, so scrapes do not count as client requests.
//!
//! - `GET /metrics`: [`crate::metrics`] in the OpenMetrics text format.
//!   When the gateway has an admin token (`RAMPART_ADMIN_TOKEN_FILE`), it
//!   asks for `Authorization: Bearer <token>`, compared in constant time,
//!   and answers 401 otherwise: metrics describe traffic and errors, which
//!   a neighbour on the network has no business reading. Production refuses
//!   a listener beyond loopback without the token.
//! - `GET /healthz`, `GET /readyz`: the same answers as on the public port,
//!   open to every probe, since they reveal nothing.
//!
//! A process that runs no gateway (`rampart serve auth crm`) has the same
//! listener through [`serve_services`]: `/metrics` there encodes the shared
//! registry only ([`rampart_kit::metrics`]: audit delivery, revocation
//! spread), behind the same token; `/healthz` answers while the process is
//! up and `/readyz` until it starts stopping (each gRPC service's own
//! readiness is its gRPC health check).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rampart_kit::CancellationToken;
use rampart_kit::metrics::KitMetrics;
use rampart_kit::secret::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
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

async fn metrics(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    metrics_answer(gateway.config.admin_token.as_ref(), &headers, || {
        gateway.metrics.encode()
    })
}

/// The metrics text from `encode`, or 401 when a token is set and the
/// request does not present it.
fn metrics_answer(
    token: Option<&SecretString>,
    headers: &HeaderMap,
    encode: impl FnOnce() -> String,
) -> Response {
    if let Some(token) = token
        && !presents_token(headers, token.expose_secret())
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rampart-admin\""),
            )],
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        encode(),
    )
        .into_response()
}

/// Whether the request carries `Authorization: Bearer <token>`. The
/// comparison takes the same time wherever the first difference is, so
/// the token cannot be found a byte at a time.
fn presents_token(headers: &HeaderMap, token: &str) -> bool {
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    bool::from(presented.ct_eq(token.as_bytes()))
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

/// What the admin routes of a process without a gateway need.
struct ServicesAdmin {
    admin_token: Option<SecretString>,
    /// Cancelled when the process starts stopping: no longer ready.
    stopping: CancellationToken,
}

/// The admin routes of a process that runs no gateway.
pub fn services_router(admin_token: Option<SecretString>, stopping: CancellationToken) -> Router {
    Router::new()
        .route("/metrics", get(services_metrics))
        .route("/healthz", get(health::live))
        .route("/readyz", get(services_ready))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(Arc::new(ServicesAdmin {
            admin_token,
            stopping,
        }))
}

async fn services_metrics(State(admin): State<Arc<ServicesAdmin>>, headers: HeaderMap) -> Response {
    metrics_answer(admin.admin_token.as_ref(), &headers, || {
        KitMetrics::global().encode()
    })
}

async fn services_ready(State(admin): State<Arc<ServicesAdmin>>) -> Response {
    if admin.stopping.is_cancelled() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "stopping" })),
        )
            .into_response()
    } else {
        axum::Json(serde_json::json!({ "status": "ready" })).into_response()
    }
}

/// Serves the admin routes of a process without a gateway on `listener`
/// until `shutdown`; `/readyz` fails from the moment `stopping` is
/// cancelled, so orchestrators stop sending before the services stop.
pub async fn serve_services(
    admin_token: Option<SecretString>,
    listener: TcpListener,
    stopping: CancellationToken,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    axum::serve(listener, services_router(admin_token, stopping))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let token = "t0ken-0123456789abcdef0123456789abcdef";
        assert!(presents_token(
            &with_authorization(&format!("Bearer {token}")),
            token
        ));
        for wrong in [
            String::new(),
            token.to_owned(),
            format!("bearer {token}"),
            format!("Basic {token}"),
            format!("Bearer {token}x"),
            format!("Bearer {}", &token[1..]),
            "Bearer ".to_owned(),
        ] {
            assert!(
                !presents_token(&with_authorization(&wrong), token),
                "{wrong:?}"
            );
        }
        assert!(!presents_token(&HeaderMap::new(), token));
    }
}
