//! Incidents (`rampart incident`): contain a tenant, a user or a key in one
//! call, look an incident up, and restore its access path.
//!
//! Auth does the work in one transaction (revocations, the isolation, one
//! `incident.contained` audit event); this route checks the target first
//! where auth cannot (a tenant exists in the CRM) and names the target in
//! a 404, then has escalation freeze the AI for the target's tenant (every
//! conversation to a person) until restore, as billing moves access after
//! the CRM. The routes are revocation routes: they reach auth while the
//! shared rate limiter is away (see [`crate::authn`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_kit::error::ErrorCode;
use rampart_kit::ids::TenantId;
use rampart_proto::auth::v1::{
    ContainIncidentRequest, Incident, IncidentRequest, ListApiKeysRequest, ListUsersRequest,
};
use rampart_proto::crm::v1::GetTenantRequest;
use rampart_proto::escalation::v1::SetAiFreezeRequest;
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::authn::AdminCaller;
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// What to contain: exactly one target.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Containment {
    /// `tenant`, `user`, `key` (a tenant's API key) or `admin_key`.
    #[schema(example = "tenant")]
    target_kind: TargetKind,
    /// The target's id: `ten_...`, `usr_...` or `key_...`.
    #[schema(max_length = 64)]
    target_id: String,
    /// Why, for the record (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    reason: String,
}

/// The kinds of target.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Tenant,
    User,
    Key,
    AdminKey,
}

impl TargetKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::User => "user",
            Self::Key => "key",
            Self::AdminKey => "admin_key",
        }
    }
}

/// An incident.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentView {
    /// `inc_...`
    incident_id: String,
    target_kind: String,
    target_id: String,
    /// The target's tenant; absent for platform targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
    reason: String,
    /// RFC 3339.
    contained_at: String,
    /// RFC 3339; null while contained.
    restored_at: Option<String>,
    /// API keys revoked by the containment.
    credentials_revoked: u32,
    /// Sessions revoked by the containment.
    sessions_revoked: u32,
}

impl From<Incident> for IncidentView {
    fn from(incident: Incident) -> Self {
        Self {
            incident_id: incident.incident_id,
            target_kind: incident.target_kind,
            target_id: incident.target_id,
            tenant_id: (!incident.tenant_id.is_empty()).then_some(incident.tenant_id),
            reason: incident.reason,
            contained_at: incident.contained_at,
            restored_at: (!incident.restored_at.is_empty()).then_some(incident.restored_at),
            credentials_revoked: incident.credentials_revoked,
            sessions_revoked: incident.sessions_revoked,
        }
    }
}

/// The 404 of an unknown target, naming it.
fn unknown_target(kind: TargetKind, id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no {} {id} is known", kind.as_str().replace('_', " ")),
    )
}

/// `POST /v1/admin/incidents`: contains an incident.
#[utoipa::path(
    post,
    path = "/v1/admin/incidents",
    tag = "admin",
    request_body = Containment,
    responses(
        (status = 201, description = "Contained: the target's keys and sessions revoked, its access refused at every gateway and the AI frozen for its tenant until restored; one incident.contained audit event", body = IncidentView),
        (status = 400, description = "target_kind or target_id is not valid, or the reason is too long"),
        (status = 404, description = "No such target; the problem names it"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn contain(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    JsonBody(body): JsonBody<Containment>,
) -> Result<(StatusCode, Json<IncidentView>), ApiError> {
    if body.target_id.len() > 64 {
        return Err(ApiError::invalid("target_id is too long"));
    }
    if let TargetKind::Tenant = body.target_kind {
        let tenant = TenantId::parse(&body.target_id)
            .map_err(|_| ApiError::invalid("target_id is not a valid tenant id"))?;
        // The CRM owns tenants: a tenant it does not know (or deleted) is
        // not contained.
        call(
            &caller.principal,
            &gateway.backends.crm,
            GetTenantRequest {
                tenant_id: tenant.to_string(),
            },
            async |mut crm, request| crm.get_tenant(request).await,
        )
        .await
        .map_err(|error| {
            if error.status == StatusCode::NOT_FOUND {
                unknown_target(body.target_kind, &body.target_id)
            } else {
                error
            }
        })?;
    }
    let incident = call(
        &caller.principal,
        &gateway.backends.auth,
        ContainIncidentRequest {
            target_kind: body.target_kind.as_str().to_owned(),
            target_id: body.target_id.clone(),
            reason: body.reason,
        },
        async |mut auth, request| auth.contain_incident(request).await,
    )
    .await
    .map_err(|error| {
        if error.status == StatusCode::NOT_FOUND {
            unknown_target(body.target_kind, &body.target_id)
        } else {
            error
        }
    })?;
    set_ai_freeze(&gateway, &caller, &incident, true).await?;
    Ok((StatusCode::CREATED, Json(incident.into())))
}

/// Freezes (or lifts the freeze of) the AI for `incident`'s tenant, right
/// after auth contained (or restored) it, as billing moves access: every
/// conversation goes to a person until restore. Platform targets (admin
/// keys) have no tenant and freeze nothing. A failure names the incident,
/// which auth has already recorded: restoring it, or containing again,
/// converges.
async fn set_ai_freeze(
    gateway: &Gateway,
    caller: &AdminCaller,
    incident: &Incident,
    frozen: bool,
) -> Result<(), ApiError> {
    if incident.tenant_id.is_empty() || incident.target_kind == "admin_key" {
        return Ok(());
    }
    call(
        &caller.principal,
        &gateway.backends.incident_freeze,
        SetAiFreezeRequest {
            tenant_id: incident.tenant_id.clone(),
            incident_id: incident.incident_id.clone(),
            frozen,
        },
        async |mut freeze, request| freeze.set_ai_freeze(request).await,
    )
    .await
    .map_err(|mut error| {
        error.detail = format!(
            "incident {} is recorded, but the AI freeze was not {}: {}",
            incident.incident_id,
            if frozen { "set" } else { "lifted" },
            error.detail
        );
        error
    })?;
    Ok(())
}

/// `GET /v1/admin/incidents/{incident_id}`
#[utoipa::path(
    get,
    path = "/v1/admin/incidents/{incident_id}",
    tag = "admin",
    params(("incident_id" = String, Path, description = "The incident's id (inc_...)", pattern = "^inc_[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 400, description = "incident_id is not a valid incident id"),
        (status = 404, description = "No such incident"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn get(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(incident_id): Path<String>,
) -> Result<Json<IncidentView>, ApiError> {
    let incident = call(
        &caller.principal,
        &gateway.backends.auth,
        IncidentRequest { incident_id },
        async |mut auth, request| auth.get_incident(request).await,
    )
    .await?;
    Ok(Json(incident.into()))
}

/// `POST /v1/admin/incidents/{incident_id}/restore`: lifts the isolation;
/// revoked credentials stay revoked. Restoring twice changes nothing.
#[utoipa::path(
    post,
    path = "/v1/admin/incidents/{incident_id}/restore",
    tag = "admin",
    params(("incident_id" = String, Path, description = "The incident's id (inc_...)", pattern = "^inc_[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "Restored: the target's access path is open again at every gateway and the AI answers its tenant again; one incident.restored audit event", body = IncidentView),
        (status = 400, description = "incident_id is not a valid incident id"),
        (status = 404, description = "No such incident"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn restore(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(incident_id): Path<String>,
) -> Result<Json<IncidentView>, ApiError> {
    let incident = call(
        &caller.principal,
        &gateway.backends.auth,
        IncidentRequest { incident_id },
        async |mut auth, request| auth.restore_incident(request).await,
    )
    .await?;
    // Lifted on every restore, even a repeated one: a restore whose lift
    // failed converges when asked again.
    set_ai_freeze(&gateway, &caller, &incident, false).await?;
    Ok(Json(incident.into()))
}

/// A platform admin account, as the integrity baseline records it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminAccount {
    user_id: String,
    email: String,
    role: String,
    disabled: bool,
    second_factor: bool,
}

/// A platform admin key, as the integrity baseline records it (never the
/// key).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminKey {
    key_id: String,
    name: String,
    scopes: Vec<String>,
}

/// Who can administer the platform: what `rampart incident verify`
/// compares against a saved baseline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminBaseline {
    /// Sorted by user id.
    admins: Vec<AdminAccount>,
    /// Live platform admin keys, sorted by key id.
    admin_keys: Vec<AdminKey>,
}

/// `GET /v1/admin/incidents/baseline`: the platform admins and admin keys.
#[utoipa::path(
    get,
    path = "/v1/admin/incidents/baseline",
    tag = "admin",
    responses(
        (status = 200, description = "The platform's admins with their roles, and its live admin keys", body = AdminBaseline),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn baseline(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
) -> Result<Json<AdminBaseline>, ApiError> {
    let users = call(
        &caller.principal,
        &gateway.backends.accounts,
        ListUsersRequest {
            tenant_id: String::new(),
        },
        async |mut accounts, request| accounts.list_users(request).await,
    )
    .await?;
    let keys = call(
        &caller.principal,
        &gateway.backends.auth,
        ListApiKeysRequest::default(),
        async |mut auth, request| auth.list_api_keys(request).await,
    )
    .await?;
    let mut admins: Vec<AdminAccount> = users
        .users
        .into_iter()
        .map(|user| AdminAccount {
            user_id: user.user_id,
            email: user.email,
            role: user.role,
            disabled: user.disabled,
            second_factor: user.second_factor,
        })
        .collect();
    admins.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let mut admin_keys: Vec<AdminKey> = keys
        .keys
        .into_iter()
        .map(|key| AdminKey {
            key_id: key.id,
            name: key.name,
            scopes: key.scopes,
        })
        .collect();
    admin_keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    Ok(Json(AdminBaseline { admins, admin_keys }))
}
