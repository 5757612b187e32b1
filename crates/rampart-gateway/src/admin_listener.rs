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

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rampart_kit::CancellationToken;
use rampart_kit::secret::ExposeSecret;
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
    if let Some(token) = &gateway.config.admin_token
        && !presents_token(&headers, token.expose_secret())
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
        gateway.metrics.encode(),
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
