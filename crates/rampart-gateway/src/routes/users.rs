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

/// A user to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(format = Email)]
    email: String,
    /// 15 to 256 characters, not easy to guess, not built on the email (nor
    /// on the tenant's name).
    password: String,
    /// `owner`, `manager` or `agent` (the default) for a tenant's user;
    /// `admin` (or absent) for a platform admin.
    #[serde(default)]
    #[schema(example = "agent")]
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
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "The user, created", body = UserView),
        (status = 400, description = "An invalid email or role, or a password the policy refuses (the detail says why)", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not the tenant's owner", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A user with this email already exists in the tenant", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
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
    let context = super::accounts::password_context(&gateway, &caller.principal).await?;
    create(&gateway, &caller.principal, tenant, context, body).await
}

/// `POST /v1/admin/tenants/{tenant_id}/users`: a platform admin adds a user
/// (typically the first owner) to a tenant. The tenant's name is passed on
/// as a word the password must not be built on.
#[utoipa::path(
    post,
    path = "/v1/admin/tenants/{tenant_id}/users",
    tag = "users",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)", pattern = "^ten_[0-9a-f]{32}$")),
    request_body = NewUser,
    responses(
        (status = 201, description = "The user, created", body = UserView),
        (status = 400, description = "An invalid email or role, or a password the policy refuses (the detail says why)", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A user with this email already exists in the tenant", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/v1/admin/users",
    tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "The platform admin, created. They cannot sign in until an operator enrols a second factor for them", body = UserView),
        (status = 400, description = "An invalid email, an email outside the platform's office domains, a role other than admin, or a password the policy refuses (the detail says why)", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A platform admin with this email already exists", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn admin_create_admin(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    create(&gateway, &caller.principal, String::new(), Vec::new(), body).await
}

/// The tenant's users.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<UserView>,
}

/// `GET /v1/users`: the tenant's users, for its owners and managers.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    responses(
        (status = 200, description = "The tenant's users", body = UserList),
        (status = 403, description = "The caller is neither an owner nor a manager", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
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

/// A change to a user: a role, disabled, or both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// `owner`, `manager` or `agent`; a platform admin's role cannot change.
    #[serde(default)]
    #[schema(example = "manager")]
    role: String,
    /// True ends every session of the user and refuses sign-in; false
    /// enables the user again and lifts a lockout.
    disabled: Option<bool>,
}

/// The user after the change, and how many of their sessions ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
#[utoipa::path(
    patch,
    path = "/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = String, Path, description = "The user's id (usr_...)", pattern = "^usr_[0-9a-f]{32}$")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user, changed; their cached sessions are re-checked at once", body = UpdatedUser),
        (status = 400, description = "Neither role nor disabled, or an unknown role", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not the tenant's owner", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's tenant", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
pub async fn update_user(
    State(gateway): State<Arc<Gateway>>,
    caller: OwnerCaller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<UserChange>,
) -> Result<Json<UpdatedUser>, ApiError> {
    update(&gateway, &caller.principal, user_id, body).await
}

/// `PATCH /v1/admin/users/{user_id}`: the same for platform admins.
#[utoipa::path(
    patch,
    path = "/v1/admin/users/{user_id}",
    tag = "users",
    params(("user_id" = String, Path, description = "The user's id (usr_...)", pattern = "^usr_[0-9a-f]{32}$")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user, changed; their cached sessions are re-checked at once", body = UpdatedUser),
        (status = 400, description = "Neither role nor disabled, an unknown role, or a role for a platform admin", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/revoke-sessions",
    tag = "users",
    params(("user_id" = String, Path, description = "The user's id (usr_...)", pattern = "^usr_[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "Every session of the user has ended", body = Revoked),
        (status = 403, description = "The caller is not the tenant's owner", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's tenant", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
pub async fn revoke_user_sessions(
    State(gateway): State<Arc<Gateway>>,
    caller: OwnerCaller,
    Path(user_id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    revoke_sessions(&gateway, &caller.principal, user_id).await
}

/// `POST /v1/admin/users/{user_id}/revoke-sessions`
#[utoipa::path(
    post,
    path = "/v1/admin/users/{user_id}/revoke-sessions",
    tag = "users",
    params(("user_id" = String, Path, description = "The user's id (usr_...)", pattern = "^usr_[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "Every session of the user has ended", body = Revoked),
        (status = 404, description = "No such user", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn admin_revoke_user_sessions(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    revoke_sessions(&gateway, &caller.principal, user_id).await
}

/// The tenant's security settings.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Whether owners and managers must have a second factor to sign in.
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
#[utoipa::path(
    get,
    path = "/v1/tenant/security",
    tag = "users",
    responses(
        (status = 200, description = "The tenant's security settings", body = Security),
        (status = 403, description = "The caller is neither an owner nor a manager of a tenant", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
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
#[utoipa::path(
    put,
    path = "/v1/tenant/security",
    tag = "users",
    request_body = Security,
    responses(
        (status = 200, description = "The tenant's security settings, changed", body = Security),
        (status = 403, description = "The caller is not the tenant's owner", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
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
