//! Platform admin routes: tenants and their keys.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_kit::ids::TenantId;
use rampart_proto::crm::v1::{CreateTenantRequest, GetTenantRequest, ListTenantsRequest, Tenant};
use serde::{Deserialize, Serialize};

use super::keys::{self, IssuedKey, NewKey};
use super::{AdminCaller, BackendAnswer, JsonBody, Page, next_cursor, with_principal};
use crate::Gateway;
use crate::problem::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    name: String,
    #[serde(default)]
    office_domains: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    tenant_id: String,
    name: String,
    office_domains: Vec<String>,
    created_at: String,
}

impl From<Tenant> for TenantView {
    fn from(tenant: Tenant) -> Self {
        Self {
            tenant_id: tenant.id,
            name: tenant.name,
            office_domains: tenant.office_domains,
            created_at: tenant.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    #[serde(flatten)]
    tenant: TenantView,
    /// Shown once; only its hash is kept.
    api_key: String,
    api_key_id: String,
}

/// `POST /v1/admin/tenants`: creates the tenant in crm, then its first key
/// in auth.
#[utoipa::path(
    post,
    path = "/v1/admin/tenants",
    tag = "admin",
    request_body = NewTenant,
    responses(
        (status = 201, description = "The tenant and its first API key, shown once", body = CreatedTenant),
        (status = 400, description = "The name or an office domain is invalid", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn create_tenant(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    JsonBody(body): JsonBody<NewTenant>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    let request = with_principal(
        &caller.principal,
        CreateTenantRequest {
            name: body.name,
            office_domains: body.office_domains,
        },
    )?;
    let tenant = gateway
        .backends
        .crm
        .clone()
        .create_tenant(request)
        .await
        .answer("crm")?;
    // If this second step fails the tenant exists without a key; the error
    // says so, and the admin issues one with the api-keys route.
    // The first key may also read the audit trail (not manage keys).
    let first = NewKey::with_scopes(&["read", "write", "audit"]);
    let key = keys::issue(&gateway, &caller.principal, &tenant.id, first)
        .await
        .map_err(|error| ApiError {
            detail: format!(
                "tenant {} was created but its first API key was not: {}; issue one with POST /v1/admin/tenants/{}/api-keys",
                tenant.id, error.detail, tenant.id
            ),
            ..error
        })?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant {
            tenant: tenant.into(),
            api_key: key.api_key,
            api_key_id: key.key_id,
        }),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantList {
    tenants: Vec<TenantView>,
    next_cursor: Option<String>,
}

/// `GET /v1/admin/tenants`
#[utoipa::path(
    get,
    path = "/v1/admin/tenants",
    tag = "admin",
    params(super::Page),
    responses((status = 200, description = "One page of tenants", body = TenantList)),
    security(("admin_api_key" = [])),
)]
pub async fn list_tenants(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    page: Page,
) -> Result<Json<TenantList>, ApiError> {
    let request = with_principal(
        &caller.principal,
        ListTenantsRequest {
            page_size: page.size(),
            cursor: page.cursor(),
        },
    )?;
    let list = gateway
        .backends
        .crm
        .clone()
        .list_tenants(request)
        .await
        .answer("crm")?;
    Ok(Json(TenantList {
        tenants: list.tenants.into_iter().map(Into::into).collect(),
        next_cursor: next_cursor(list.next_cursor),
    }))
}

/// `POST /v1/admin/tenants/{tenant_id}/api-keys`: another key for an
/// existing tenant. The body is optional.
#[utoipa::path(
    post,
    path = "/v1/admin/tenants/{tenant_id}/api-keys",
    tag = "admin",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)")),
    request_body(content = Option<NewKey>, description = "Optional: the key's name and environment"),
    responses(
        (status = 201, description = "The new key, shown once", body = IssuedKey),
        (status = 404, description = "No such tenant", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn issue_api_key(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
    body: Option<JsonBody<NewKey>>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let body = body.map(|JsonBody(b)| b).unwrap_or_default();
    let tenant = TenantId::parse(&tenant_id).map_err(|_| ApiError::not_found())?;
    // Keys are only issued for tenants that exist.
    let request = with_principal(
        &caller.principal,
        GetTenantRequest {
            tenant_id: tenant.to_string(),
        },
    )?;
    gateway
        .backends
        .crm
        .clone()
        .get_tenant(request)
        .await
        .answer("crm")?;
    let key = keys::issue(&gateway, &caller.principal, tenant.as_str(), body).await?;
    Ok((StatusCode::CREATED, Json(key)))
}
