//! Users and roles: a tenant's owner manages their tenant's users, and
//! platform admins any tenant's. Owner-only routes take [`OwnerCaller`], so
//! an agent or manager is refused here before auth is asked; auth checks the
//! role again, so a route added later cannot forget.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_kit::principal::Role;
use rampart_kit::secret::Password;
use rampart_proto::auth::v1::{
    CreateUserRequest, GetTenantSecurityRequest, ListUsersRequest, RevokeUserSessionsRequest,
    SetTenantSecurityRequest, TenantSecurity, UpdateUserRequest,
};
use rampart_proto::crm::v1::GetTenantRequest;
use serde::{Deserialize, Serialize};

use super::accounts::{Revoked, UserView, forget};
use crate::Gateway;
use crate::authn::{AdminCaller, OwnerCaller, SessionCaller};
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// A user to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(format = Email)]
    email: String,
    /// 15 to 256 characters, not easy to guess, not built on the email (nor
    /// on the tenant's name).
    #[schema(value_type = String)]
    password: Password,
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
    let user = call(
        principal,
        &gateway.backends.accounts,
        CreateUserRequest {
            tenant_id,
            email: body.email,
            password: body.password.expose().to_owned(),
            role: body.role,
            context_words,
        },
        async |mut accounts, request| accounts.create_user(request).await,
    )
    .await?;
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
        (status = 400, description = "An invalid email or role, or a password the policy refuses (the detail says why)"),
        (status = 403, description = "The caller is not the tenant's owner"),
        (status = 409, description = "A user with this email already exists in the tenant"),
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
        (status = 400, description = "An invalid email or role, or a password the policy refuses (the detail says why)"),
        (status = 404, description = "No such tenant"),
        (status = 409, description = "A user with this email already exists in the tenant"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn admin_create_user(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let tenant = call(
        &caller.principal,
        &gateway.backends.crm,
        GetTenantRequest {
            tenant_id: tenant_id.clone(),
        },
        async |mut crm, request| crm.get_tenant(request).await,
    )
    .await?;
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
        (status = 400, description = "An invalid email, an email outside the platform's office domains, a role other than admin, or a password the policy refuses (the detail says why)"),
        (status = 409, description = "A platform admin with this email already exists"),
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
        (status = 403, description = "The caller is neither an owner nor a manager"),
    ),
    security(("session" = [])),
)]
pub async fn list_users(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
) -> Result<Json<UserList>, ApiError> {
    caller.require_role(Role::Manager)?;
    let list = call(
        &caller.principal,
        &gateway.backends.accounts,
        ListUsersRequest {
            tenant_id: String::new(),
        },
        async |mut accounts, request| accounts.list_users(request).await,
    )
    .await?;
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
    let response = call(
        principal,
        &gateway.backends.accounts,
        UpdateUserRequest {
            user_id: user_id.clone(),
            role: body.role,
            disabled: body.disabled,
        },
        async |mut accounts, request| accounts.update_user(request).await,
    )
    .await?;
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
        (status = 400, description = "Neither role nor disabled, or an unknown role"),
        (status = 403, description = "The caller is not the tenant's owner"),
        (status = 404, description = "No such user in the caller's tenant"),
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
        (status = 400, description = "Neither role nor disabled, an unknown role, or a role for a platform admin"),
        (status = 404, description = "No such user"),
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
    let revoked = call(
        principal,
        &gateway.backends.accounts,
        RevokeUserSessionsRequest { user_id },
        async |mut accounts, request| accounts.revoke_user_sessions(request).await,
    )
    .await?;
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
        (status = 403, description = "The caller is not the tenant's owner"),
        (status = 404, description = "No such user in the caller's tenant"),
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
        (status = 404, description = "No such user"),
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
        (status = 403, description = "The caller is neither an owner nor a manager of a tenant"),
    ),
    security(("session" = [])),
)]
pub async fn get_security(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
) -> Result<Json<Security>, ApiError> {
    caller.require_role(Role::Manager)?;
    let security = call(
        &caller.principal,
        &gateway.backends.accounts,
        GetTenantSecurityRequest {},
        async |mut accounts, request| accounts.get_tenant_security(request).await,
    )
    .await?;
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
        (status = 403, description = "The caller is not the tenant's owner"),
    ),
    security(("session" = [])),
)]
pub async fn set_security(
    State(gateway): State<Arc<Gateway>>,
    caller: OwnerCaller,
    JsonBody(body): JsonBody<Security>,
) -> Result<Json<Security>, ApiError> {
    let security = call(
        &caller.principal,
        &gateway.backends.accounts,
        SetTenantSecurityRequest {
            require_second_factor_for_managers: body.require_second_factor_for_managers,
        },
        async |mut accounts, request| accounts.set_tenant_security(request).await,
    )
    .await?;
    Ok(Json(security.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_user_does_not_show_its_password() {
        let secret = "s3cr3t-VALUE-0123456789";
        let user: NewUser = serde_json::from_value(serde_json::json!({
            "email": "a@example.com", "password": secret,
        }))
        .unwrap();
        assert_eq!(user.password.expose(), secret);
        let printed = format!("{user:?}");
        assert!(!printed.contains(secret), "{printed}");
    }
}
