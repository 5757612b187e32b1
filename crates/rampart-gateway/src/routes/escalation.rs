//! The escalation check: may the AI answer this, or must a human?

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use rampart_proto::escalation::v1::{Action, EvaluateRequest, Severity};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::authn::TenantCaller;
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evaluate {
    channel: String,
    text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Decision {
    /// `ai_answer` or `handoff`.
    #[schema(value_type = String, example = "handoff")]
    action: &'static str,
    intents: Vec<String>,
    /// `none`, `low`, `medium`, `high`, `critical` (or `unknown`).
    #[schema(value_type = String, example = "high")]
    severity: &'static str,
    reasons: Vec<String>,
}

/// `POST /v1/escalation/evaluate`
#[utoipa::path(
    post,
    path = "/v1/escalation/evaluate",
    tag = "escalation",
    request_body = Evaluate,
    responses((status = 200, description = "Whether the AI may answer, and why", body = Decision)),
    security(("tenant_api_key" = [])),
)]
pub async fn evaluate(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<Evaluate>,
) -> Result<Json<Decision>, ApiError> {
    let decision = call(
        &caller.principal,
        &gateway.backends.escalation,
        EvaluateRequest {
            channel: body.channel,
            text: body.text,
        },
        async |mut escalation, request| escalation.evaluate(request).await,
    )
    .await?;
    let action = match decision.action() {
        Action::AiAnswer => "ai_answer",
        Action::Handoff => "handoff",
        // Anything the gateway does not understand goes to a human.
        Action::Unspecified => "handoff",
    };
    let severity = match decision.severity() {
        Severity::None => "none",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
        Severity::Unspecified => "unknown",
    };
    Ok(Json(Decision {
        action,
        intents: decision.intents,
        severity,
        reasons: decision.reasons,
    }))
}
