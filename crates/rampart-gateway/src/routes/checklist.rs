//! What `rampart checklist` reads beyond the other admin routes: a
//! tenant's users with their roles and second factors, so the monthly
//! review of "who can administer what" covers tenants' owners and managers
//! as well as the platform admins (`/v1/admin/incidents/baseline`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use rampart_proto::auth::v1::ListUsersRequest;
use rampart_proto::crm::v1::GetTenantRequest;
use serde::Serialize;

use super::accounts::UserView;
use crate::Gateway;
use crate::authn::AdminCaller;
use crate::backends::call;
use crate::problem::ApiError;

/// A tenant's users.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantUserList {
    users: Vec<UserView>,
}

/// `GET /v1/admin/tenants/{tenant_id}/users`: a tenant's users, for a
/// platform admin's review.
#[utoipa::path(
    get,
    path = "/v1/admin/tenants/{tenant_id}/users",
    tag = "users",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)", pattern = "^ten_[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "The tenant's users with their roles and whether each has a second factor", body = TenantUserList),
        (status = 404, description = "No such tenant"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn admin_list_tenant_users(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
) -> Result<Json<TenantUserList>, ApiError> {
    // An unknown tenant is a 404 rather than an empty list, so a typo in
    // an operator's script is not read as "no users".
    let tenant = call(
        &caller.principal,
        &gateway.backends.crm,
        GetTenantRequest { tenant_id },
        async |mut crm, request| crm.get_tenant(request).await,
    )
    .await?;
    let list = call(
        &caller.principal,
        &gateway.backends.accounts,
        ListUsersRequest {
            tenant_id: tenant.id,
        },
        async |mut accounts, request| accounts.list_users(request).await,
    )
    .await?;
    Ok(Json(TenantUserList {
        users: list.users.into_iter().map(Into::into).collect(),
    }))
}
