//! The escalation check (may the AI answer this, or must a human?) and the
//! tenant's escalation policy.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::{HeaderMap, HeaderValue, header};
use rampart_proto::escalation::v1::{
    Action, EvaluateRequest, GetPolicyRequest, PolicyVersion, PutPolicyRequest, Severity,
};
use serde::{Deserialize, Serialize};

use super::page::non_empty;
use crate::Gateway;
use crate::authn::{TenantCaller, TenantUserCaller};
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
    Ok(Json(Decision {
        action,
        severity: severity_name(decision.severity()),
        intents: decision.intents,
        reasons: decision.reasons,
    }))
}

/// A severity as the REST API names it.
pub(crate) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::None => "none",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
        Severity::Unspecified => "unknown",
    }
}

/// A version of the tenant's escalation policy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    /// 0 is the built-in policy, until the tenant writes one.
    version: u32,
    /// RFC 3339; absent for version 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    /// Who wrote it (`user:usr_...`); absent for version 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
    /// The policy document (docs/escalation.md): detection additions,
    /// severities, response targets, contacts, the escalation chain,
    /// guardrails and the webhook (its secret is never shown).
    #[schema(value_type = Object)]
    policy: serde_json::Value,
}

impl TryFrom<PolicyVersion> for PolicyView {
    type Error = ApiError;

    fn try_from(version: PolicyVersion) -> Result<Self, ApiError> {
        let policy = serde_json::from_str(&version.document).map_err(ApiError::internal)?;
        Ok(Self {
            version: version.version,
            created_at: non_empty(version.created_at),
            created_by: non_empty(version.created_by),
            policy,
        })
    }
}

/// Answers a policy version with its `ETag`, the version a later `PUT`
/// may name in `If-Match`.
fn with_etag(view: PolicyView) -> (HeaderMap, Json<PolicyView>) {
    let mut headers = HeaderMap::new();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", view.version)) {
        headers.insert(header::ETAG, etag);
    }
    (headers, Json(view))
}

/// `GET /v1/escalation/policy`
#[utoipa::path(
    get,
    path = "/v1/escalation/policy",
    tag = "escalation",
    responses(
        (status = 200, description = "The tenant's current policy; the ETag header holds its version", body = PolicyView),
        (status = 403, description = "Not a tenant's manager or owner"),
    ),
    security(("session" = [])),
)]
pub async fn get_policy(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantUserCaller,
) -> Result<(HeaderMap, Json<PolicyView>), ApiError> {
    let version = call(
        &caller.principal,
        &gateway.backends.escalation,
        GetPolicyRequest {},
        async |mut escalation, request| escalation.get_policy(request).await,
    )
    .await?;
    Ok(with_etag(version.try_into()?))
}

/// A new version of the policy.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    /// The whole policy document; every field has a default, so `{}` is
    /// the built-in policy.
    #[schema(value_type = Object)]
    policy: serde_json::Value,
}

/// `PUT /v1/escalation/policy`: each write is a new version; open handoffs
/// keep the version they started with.
#[utoipa::path(
    put,
    path = "/v1/escalation/policy",
    tag = "escalation",
    params(("If-Match" = Option<String>, Header, description = "The version this edit started from (the GET's ETag): the write fails with 409 if another was written since")),
    request_body = NewPolicy,
    responses(
        (status = 200, description = "The new version; the ETag header holds it", body = PolicyView),
        (status = 400, description = "The document is invalid; the detail names the field"),
        (status = 403, description = "Not a tenant's manager or owner"),
        (status = 409, description = "Another version was written since the one named in If-Match"),
    ),
    security(("session" = [])),
)]
pub async fn put_policy(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantUserCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewPolicy>,
) -> Result<(HeaderMap, Json<PolicyView>), ApiError> {
    let expected_version = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(|text| text.trim().trim_start_matches("W/").trim_matches('"'))
                .and_then(|text| text.parse::<u32>().ok())
                .ok_or_else(|| {
                    ApiError::invalid("If-Match must be a policy version, as the ETag gives it")
                })?,
        ),
    };
    if !body.policy.is_object() {
        return Err(ApiError::invalid("policy must be a JSON object"));
    }
    let version = call(
        &caller.principal,
        &gateway.backends.escalation,
        PutPolicyRequest {
            document: body.policy.to_string(),
            expected_version,
        },
        async |mut escalation, request| escalation.put_policy(request).await,
    )
    .await?;
    Ok(with_etag(version.try_into()?))
}
