//! Liveness and readiness.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use rampart_kit::error::ErrorCode;
use serde::Serialize;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::Gateway;
use crate::backends::Readiness;
use crate::problem::ApiError;

/// A health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (live) or `ready`.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// The process is up and answering.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The gateway is up", body = Health)),
)]
pub async fn live() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Every backend answers its health check as serving, within a second (or,
/// in this process, is registered).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Every backend is serving", body = Health),
        (status = 503, description = "A backend is not serving; the detail names it"),
    ),
)]
pub async fn ready(State(gateway): State<Arc<Gateway>>) -> Result<Json<Health>, ApiError> {
    let checks = gateway.backends.health.iter().map(|(service, readiness)| {
        let readiness = readiness.clone();
        async move {
            let serving = match readiness {
                Readiness::Local(services) => services.is_serving(*service),
                Readiness::Remote(mut client) => {
                    let answer = tokio::time::timeout(
                        Duration::from_secs(1),
                        client.check(HealthCheckRequest {
                            service: String::new(),
                        }),
                    )
                    .await;
                    matches!(
                        answer,
                        Ok(Ok(ref response)) if response.get_ref().status() == ServingStatus::Serving
                    )
                }
            };
            (*service, serving)
        }
    });
    let results = futures::future::join_all(checks).await;
    let not_ready: Vec<&str> = results
        .iter()
        .filter(|(_, serving)| !serving)
        .map(|(service, _)| service.as_str())
        .collect();
    if not_ready.is_empty() {
        Ok(Json(Health { status: "ready" }))
    } else {
        Err(ApiError::new(
            ErrorCode::Unavailable,
            format!("not ready: {}", not_ready.join(", ")),
        ))
    }
}
