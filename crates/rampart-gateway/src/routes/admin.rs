//! Platform admin routes: tenants and their keys, and deleting a tenant.
//!
//! Deleting a tenant cuts off its access in auth first (its keys and
//! sessions are refused at every gateway from then on, through the
//! revocation bus), then has the CRM destroy its keys and delete its rows.
//! Access goes first because a tenant deleted while its keys still work
//! could write again right after (new rows, a new tenant key). The order is
//! safe to break between the two calls: a tenant cut off but not deleted
//! still has all its data, and repeating the call finishes the job.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_kit::error::ErrorCode;
use rampart_kit::ids::TenantId;
use rampart_proto::auth::v1::SetTenantAccessRequest;
use rampart_proto::crm::v1::{
    CreateTenantRequest, DeleteTenantRequest, GetTenantRequest, ListTenantsRequest, Tenant,
};
use serde::{Deserialize, Serialize};

use super::keys::{self, IssuedKey, NewKey};
use super::page::{Page, next_cursor};
use crate::Gateway;
use crate::authn::AdminCaller;
use crate::backends::call;
use crate::json_body::JsonBody;
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

// A new tenant and its first key, shown once; its `Debug` hides the key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    #[serde(flatten)]
    tenant: TenantView,
    /// Shown once; only its hash is kept.
    api_key: String,
    api_key_id: String,
}

impl std::fmt::Debug for CreatedTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTenant")
            .field("tenant", &self.tenant)
            .field("api_key", &"[redacted]")
            .field("api_key_id", &self.api_key_id)
            .finish()
    }
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
        (status = 400, description = "The name or an office domain is invalid"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn create_tenant(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    JsonBody(body): JsonBody<NewTenant>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    let tenant = call(
        &caller.principal,
        &gateway.backends.crm,
        CreateTenantRequest {
            name: body.name,
            office_domains: body.office_domains,
        },
        async |mut crm, request| crm.create_tenant(request).await,
    )
    .await?;
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
    params(Page),
    responses((status = 200, description = "One page of tenants", body = TenantList)),
    security(("admin_api_key" = [])),
)]
pub async fn list_tenants(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    page: Page,
) -> Result<Json<TenantList>, ApiError> {
    let list = call(
        &caller.principal,
        &gateway.backends.crm,
        ListTenantsRequest {
            page_size: page.size(),
            cursor: page.cursor(),
        },
        async |mut crm, request| crm.list_tenants(request).await,
    )
    .await?;
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
        (status = 404, description = "No such tenant"),
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
    call(
        &caller.principal,
        &gateway.backends.crm,
        GetTenantRequest {
            tenant_id: tenant.to_string(),
        },
        async |mut crm, request| crm.get_tenant(request).await,
    )
    .await?;
    let key = keys::issue(&gateway, &caller.principal, tenant.as_str(), body).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// The access state auth records for a deleted tenant: refused, like a
/// suspended one, under a name of its own in auth's audit trail.
const DELETED_ACCESS_STATE: &str = "deleted";

/// What a tenant's deletion destroyed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedTenant {
    tenant_id: String,
    /// Data keys destroyed with the tenant key: everything sealed under
    /// them, backups included, can no longer be read.
    data_keys_destroyed: u32,
}

/// `DELETE /v1/admin/tenants/{tenant_id}`: cuts off the tenant's keys and
/// sessions, then destroys its keys and deletes its data. Irreversible.
#[utoipa::path(
    delete,
    path = "/v1/admin/tenants/{tenant_id}",
    tag = "admin",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)")),
    responses(
        (status = 200, description = "The tenant's keys are destroyed and its data deleted; its credentials are refused", body = DeletedTenant),
        (status = 404, description = "No such tenant"),
        (status = 503, description = "Auth or the CRM could not be reached; the tenant may already be cut off; repeat the call"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn delete_tenant(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
) -> Result<Json<DeletedTenant>, ApiError> {
    let tenant = TenantId::parse(&tenant_id).map_err(|_| ApiError::not_found())?;
    // Only a tenant that exists is cut off: an unknown id changes nothing
    // in auth.
    call(
        &caller.principal,
        &gateway.backends.crm,
        GetTenantRequest {
            tenant_id: tenant.to_string(),
        },
        async |mut crm, request| crm.get_tenant(request).await,
    )
    .await?;
    call(
        &caller.principal,
        &gateway.backends.auth,
        SetTenantAccessRequest {
            tenant_id: tenant.to_string(),
            suspended: true,
            billing_state: DELETED_ACCESS_STATE.to_owned(),
        },
        async |mut auth, request| auth.set_tenant_access(request).await,
    )
    .await
    .map_err(|error| {
        tracing::warn!(tenant_id = %tenant, detail = %error.detail, "tenant deletion: access not cut off");
        ApiError::new(
            ErrorCode::Unavailable,
            "the tenant's access could not be cut off, so nothing was deleted; repeat the request",
        )
    })?;
    let deleted = call(
        &caller.principal,
        &gateway.backends.crm,
        DeleteTenantRequest {
            tenant_id: tenant.to_string(),
        },
        async |mut crm, request| crm.delete_tenant(request).await,
    )
    .await?;
    tracing::info!(tenant_id = %tenant, data_keys = deleted.data_keys, "tenant deleted");
    Ok(Json(DeletedTenant {
        tenant_id: tenant.into_string(),
        data_keys_destroyed: deleted.data_keys,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_tenant_does_not_show_its_key() {
        let secret = "rk_live_s3cr3tVALUE0123456789";
        let created = CreatedTenant {
            tenant: TenantView {
                tenant_id: "ten_1".to_owned(),
                name: "Acme".to_owned(),
                office_domains: Vec::new(),
                created_at: String::new(),
            },
            api_key: secret.to_owned(),
            api_key_id: "key_1".to_owned(),
        };
        assert!(serde_json::to_string(&created).unwrap().contains(secret));
        let printed = format!("{created:?}");
        assert!(!printed.contains(secret), "{printed}");
    }
}
