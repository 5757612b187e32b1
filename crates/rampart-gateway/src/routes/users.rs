//! Users and roles: a tenant's owner manages their tenant's users, and
//! platform admins any tenant's. Owner-only routes take [`OwnerCaller`], so
//! an agent or manager is refused here before auth is asked; auth checks the
//! role again, so a route added later cannot forget.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_kit::principal::Role;
use rampart_proto::auth::v1::{
    CreateUserRequest, GetTenantSecurityRequest, ListUsersRequest, RevokeUserSessionsRequest,
    SetTenantSecurityRequest, TenantSecurity, UpdateUserRequest,
};
use rampart_proto::crm::v1::GetTenantRequest;
use serde::{Deserialize, Serialize};

use super::accounts::{Revoked, UserView, forget};
use super::{AdminCaller, BackendAnswer, JsonBody, with_principal};
use crate::Gateway;
use crate::problem::ApiError;
use crate::sessions::{OwnerCaller, SessionCaller};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    password: String,
    #[serde(default)]
    role: String,
}

async fn create(
    gateway: &Gateway,
    principal: &rampart_kit::principal::Principal,
    tenant_id: String,
    context_words: Vec<String>,
    body: NewUser,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let request = with_principal(
        principal,
        CreateUserRequest {
            tenant_id,
            email: body.email,
            password: body.password,
            role: body.role,
            context_words,
        },
    )?;
    let user = gateway
        .backends
        .accounts
        .clone()
        .create_user(request)
        .await
        .answer("auth")?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// `POST /v1/users`: an owner adds a user to their tenant; without a role
/// the user is an agent.
pub async fn create_user(
    State(gateway): State<Arc<Gateway>>,
    caller: OwnerCaller,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let tenant = caller
        .principal
        .tenant_id()
        .map(ToString::to_string)
        .unwrap_or_default();
    create(&gateway, &caller.principal, tenant, Vec::new(), body).await
}

/// `POST /v1/admin/tenants/{tenant_id}/users`: a platform admin adds a user
/// (typically the first owner) to a tenant. The tenant's name is passed on
/// as a word the password must not be built on.
pub async fn admin_create_user(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let request = with_principal(
        &caller.principal,
        GetTenantRequest {
            tenant_id: tenant_id.clone(),
        },
    )?;
    let tenant = gateway
        .backends
        .crm
        .clone()
        .get_tenant(request)
        .await
        .answer("crm")?;
    create(
        &gateway,
        &caller.principal,
        tenant.id,
        vec![tenant.name],
        body,
    )
    .await
}

/// `POST /v1/admin/users`: a platform admin adds another platform admin;
/// the email must be in the platform's office domains.
pub async fn admin_create_admin(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    create(&gateway, &caller.principal, String::new(), Vec::new(), body).await
}

#[derive(Debug, Serialize)]
pub struct UserList {
    users: Vec<UserView>,
}

/// `GET /v1/users`: the tenant's users, for its owners and managers.
pub async fn list_users(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
) -> Result<Json<UserList>, ApiError> {
    caller.require_role(Role::Manager)?;
    let request = with_principal(
        &caller.principal,
        ListUsersRequest {
            tenant_id: String::new(),
        },
    )?;
    let list = gateway
        .backends
        .accounts
        .clone()
        .list_users(request)
        .await
        .answer("auth")?;
    Ok(Json(UserList {
        users: list.users.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    role: String,
    disabled: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct UpdatedUser {
    user: UserView,
    revoked_sessions: usize,
}

async fn update(
    gateway: &Gateway,
    principal: &rampart_kit::principal::Principal,
    user_id: String,
    body: UserChange,
) -> Result<Json<UpdatedUser>, ApiError> {
    if body.role.is_empty() && body.disabled.is_none() {
        return Err(ApiError::invalid("send a role, disabled, or both"));
    }
    let request = with_principal(
        principal,
        UpdateUserRequest {
            user_id: user_id.clone(),
            role: body.role,
            disabled: body.disabled,
        },
    )?;
    let response = gateway
        .backends
        .accounts
        .clone()
        .update_user(request)
        .await
        .answer("auth")?;
    // Whatever changed, this user's cached verdicts are stale now.
    gateway.sessions.revoke_subject(&user_id);
    let revoked = response.revoked.unwrap_or_default();
    forget(gateway, &revoked, true);
    let user = response
        .user
        .ok_or_else(|| ApiError::internal("auth answered no user"))?;
    Ok(Json(UpdatedUser {
        user: user.into(),
        revoked_sessions: revoked.session_ids.len(),
    }))
}

/// `PATCH /v1/users/{user_id}`: `{"role"}` and/or `{"disabled"}`, owners only.
pub async fn update_user(
    State(gateway): State<Arc<Gateway>>,
    caller: OwnerCaller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<UserChange>,
) -> Result<Json<UpdatedUser>, ApiError> {
    update(&gateway, &caller.principal, user_id, body).await
}

/// `PATCH /v1/admin/users/{user_id}`: the same for platform admins.
pub async fn admin_update_user(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<UserChange>,
) -> Result<Json<UpdatedUser>, ApiError> {
    update(&gateway, &caller.principal, user_id, body).await
}

async fn revoke_sessions(
    gateway: &Gateway,
    principal: &rampart_kit::principal::Principal,
    user_id: String,
) -> Result<Json<Revoked>, ApiError> {
    let request = with_principal(principal, RevokeUserSessionsRequest { user_id })?;
    let revoked = gateway
        .backends
        .accounts
        .clone()
        .revoke_user_sessions(request)
        .await
        .answer("auth")?;
    forget(gateway, &revoked, true);
    Ok(Json(Revoked {
        revoked_sessions: revoked.session_ids.len(),
    }))
}

/// `POST /v1/users/{user_id}/revoke-sessions`: an owner ends every session
/// of one of their users.
pub async fn revoke_user_sessions(
    State(gateway): State<Arc<Gateway>>,
    caller: OwnerCaller,
    Path(user_id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    revoke_sessions(&gateway, &caller.principal, user_id).await
}

/// `POST /v1/admin/users/{user_id}/revoke-sessions`
pub async fn admin_revoke_user_sessions(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    revoke_sessions(&gateway, &caller.principal, user_id).await
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    require_second_factor_for_managers: bool,
}

impl From<TenantSecurity> for Security {
    fn from(security: TenantSecurity) -> Self {
        Self {
            require_second_factor_for_managers: security.require_second_factor_for_managers,
        }
    }
}

/// `GET /v1/tenant/security`: for owners and managers.
pub async fn get_security(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
) -> Result<Json<Security>, ApiError> {
    caller.require_role(Role::Manager)?;
    let request = with_principal(&caller.principal, GetTenantSecurityRequest {})?;
    let security = gateway
        .backends
        .accounts
        .clone()
        .get_tenant_security(request)
        .await
        .answer("auth")?;
    Ok(Json(security.into()))
}

/// `PUT /v1/tenant/security`: `{"require_second_factor_for_managers"}`,
/// owners only.
pub async fn set_security(
    State(gateway): State<Arc<Gateway>>,
    caller: OwnerCaller,
    JsonBody(body): JsonBody<Security>,
) -> Result<Json<Security>, ApiError> {
    let request = with_principal(
        &caller.principal,
        SetTenantSecurityRequest {
            require_second_factor_for_managers: body.require_second_factor_for_managers,
        },
    )?;
    let security = gateway
        .backends
        .accounts
        .clone()
        .set_tenant_security(request)
        .await
        .answer("auth")?;
    Ok(Json(security.into()))
}
