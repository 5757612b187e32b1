//! API key management: issue, list, rotate, revoke.
//!
//! The same operations are offered three ways, differing only in whose keys
//! they manage: a platform admin manages a tenant's keys under
//! `/v1/admin/tenants/{tenant_id}/api-keys` and the platform admin keys under
//! `/v1/admin/api-keys`; a tenant manages its own under `/v1/api-keys`, with
//! a key holding the `keys` scope or as its signed-in owner (the console).
//! Auth decides what each principal may do (a tenant key never reaches
//! another tenant's keys, nor grants scopes it does not hold); the handlers
//! only name the owner, and say which scopes an owner's session holds here
//! ([`key_manager`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_kit::principal::{Principal, Role};
use rampart_proto::auth::v1::{
    ApiKeyInfo, IssueApiKeyRequest, IssueApiKeyResponse, ListApiKeysRequest, RevokeApiKeyRequest,
    RotateApiKeyRequest, SetTenantRateLimitRequest,
};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::authn::{AdminCaller, TenantCaller};
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// The platform's own keys, in auth's terms.
const PLATFORM: &str = "";

/// A key to issue. Every field is optional; for a platform admin key only
/// `name`, `expires_at` and `allowed_networks` apply (its environment is
/// `admin`, its one scope `admin`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// At most 100 characters, no control characters; "default" when absent
    /// or blank.
    #[serde(default)]
    name: Option<String>,
    /// "live" (default), "test", or "widget" for a public website widget
    /// key; tenant keys only.
    #[serde(default)]
    #[schema(example = "live")]
    environment: Option<String>,
    /// "read", "write", "keys", "audit", "settings", "owner"; default read
    /// and write. Tenant keys only, and only scopes the caller holds itself;
    /// a widget key has the one scope "widget" and takes none here.
    #[serde(default)]
    scopes: Vec<String>,
    /// RFC 3339, in the future; absent for a key that does not expire.
    #[serde(default)]
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// CIDR networks the key may be used from; absent for anywhere.
    #[serde(default)]
    allowed_networks: Vec<String>,
    /// Widget keys only (`"environment": "widget"`), and required for them:
    /// the web origins the widget runs on.
    #[serde(default)]
    allowed_origins: Vec<String>,
}

impl NewKey {
    /// A key with the default settings and exactly `scopes`.
    pub(super) fn with_scopes(scopes: &[&str]) -> Self {
        Self {
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            ..Self::default()
        }
    }
}

/// A key as listed: never the key itself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// The key's id (key_...).
    key_id: String,
    /// The tenant's id; absent for a platform admin key.
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
    name: String,
    /// The start of the key, enough to recognise it.
    display_prefix: String,
    /// `live`, `test`, `widget` or `admin`.
    environment: String,
    scopes: Vec<String>,
    /// CIDR networks the key may be used from; empty for anywhere.
    allowed_networks: Vec<String>,
    /// A widget key's web origins; absent for other keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_origins: Vec<String>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339; null for a key that does not expire. A rotated key's is
    /// the end of its grace period.
    expires_at: Option<String>,
    /// RFC 3339, reported by the gateways about once a minute; null if
    /// never used.
    last_used_at: Option<String>,
    /// RFC 3339; null unless revoked.
    revoked_at: Option<String>,
    /// The successor's key id, once the key is rotated.
    replaced_by: Option<String>,
}

fn present(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

impl From<ApiKeyInfo> for KeyView {
    fn from(info: ApiKeyInfo) -> Self {
        Self {
            key_id: info.id,
            tenant_id: present(info.tenant_id),
            name: info.name,
            display_prefix: info.display_prefix,
            environment: info.environment,
            scopes: info.scopes,
            allowed_networks: info.allowed_networks,
            allowed_origins: info.allowed_origins,
            created_at: info.created_at,
            expires_at: present(info.expires_at),
            last_used_at: present(info.last_used_at),
            revoked_at: present(info.revoked_at),
            replaced_by: present(info.replaced_by),
        }
    }
}

/// A newly issued key, with the key itself.
// Shown once; its `Debug` hides it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub(crate) key_id: String,
    /// Shown once; only its hash is kept.
    pub(crate) api_key: String,
    display_prefix: String,
    /// The key as listed.
    key: Option<KeyView>,
}

impl From<IssueApiKeyResponse> for IssuedKey {
    fn from(issued: IssueApiKeyResponse) -> Self {
        Self {
            key_id: issued.key_id,
            api_key: issued.api_key,
            display_prefix: issued.display_prefix,
            key: issued.key.map(Into::into),
        }
    }
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("key_id", &self.key_id)
            .field("api_key", &"[redacted]")
            .field("display_prefix", &self.display_prefix)
            .field("key", &self.key)
            .finish()
    }
}

/// The keys of one owner; never the keys themselves.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    keys: Vec<KeyView>,
}

/// How to rotate a key.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// How long the old key keeps working, at most 604800 (7 days); default
    /// 0 (stops at once).
    #[serde(default)]
    #[schema(maximum = 604800)]
    grace_seconds: u32,
}

/// A rotation: the new key, and the old one with its shortened life.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Rotated {
    successor: IssuedKey,
    previous: Option<KeyView>,
}

/// Reads `include_inactive=true|false`, the one parameter of a key list.
fn include_inactive(query: Option<&str>) -> Result<bool, ApiError> {
    let mut include = false;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        include = match pair {
            "include_inactive=true" => true,
            "include_inactive=false" => false,
            _ => {
                return Err(ApiError::invalid(
                    "the only query parameter is include_inactive=true or false",
                ));
            }
        };
    }
    Ok(include)
}

/// Issues a key for `tenant_id` (empty: the platform's).
pub(crate) async fn issue(
    gateway: &Gateway,
    principal: &Principal,
    tenant_id: &str,
    body: NewKey,
) -> Result<IssuedKey, ApiError> {
    let issued = call(
        principal,
        &gateway.backends.auth,
        IssueApiKeyRequest {
            tenant_id: tenant_id.to_owned(),
            name: body.name.unwrap_or_else(|| "default".into()),
            environment: body.environment.unwrap_or_default(),
            scopes: body.scopes,
            expires_at: body.expires_at.unwrap_or_default(),
            allowed_networks: body.allowed_networks,
            allowed_origins: body.allowed_origins,
        },
        async |mut auth, request| auth.issue_api_key(request).await,
    )
    .await?;
    Ok(issued.into())
}

async fn list(
    gateway: &Gateway,
    principal: &Principal,
    tenant_id: &str,
    query: Option<&str>,
) -> Result<Json<KeyList>, ApiError> {
    let include_inactive = include_inactive(query)?;
    let list = call(
        principal,
        &gateway.backends.auth,
        ListApiKeysRequest {
            tenant_id: tenant_id.to_owned(),
            include_inactive,
        },
        async |mut auth, request| auth.list_api_keys(request).await,
    )
    .await?;
    Ok(Json(KeyList {
        keys: list.keys.into_iter().map(Into::into).collect(),
    }))
}

async fn rotate(
    gateway: &Gateway,
    principal: &Principal,
    tenant_id: &str,
    key_id: String,
    body: Rotation,
) -> Result<(StatusCode, Json<Rotated>), ApiError> {
    let rotated = call(
        principal,
        &gateway.backends.auth,
        RotateApiKeyRequest {
            key_id,
            grace_seconds: body.grace_seconds,
            tenant_id: tenant_id.to_owned(),
        },
        async |mut auth, request| auth.rotate_api_key(request).await,
    )
    .await?;
    let successor = rotated
        .successor
        .ok_or_else(|| ApiError::internal("auth answered a rotation without a successor"))?;
    Ok((
        StatusCode::CREATED,
        Json(Rotated {
            successor: successor.into(),
            previous: rotated.previous.map(Into::into),
        }),
    ))
}

async fn revoke(
    gateway: &Gateway,
    principal: &Principal,
    tenant_id: &str,
    key_id: String,
) -> Result<Json<KeyView>, ApiError> {
    let revoked = call(
        principal,
        &gateway.backends.auth,
        RevokeApiKeyRequest {
            key_id,
            tenant_id: tenant_id.to_owned(),
        },
        async |mut auth, request| auth.revoke_api_key(request).await,
    )
    .await?;
    Ok(Json(revoked.into()))
}

/// What a tenant's owner holds when managing the tenant's keys: every
/// scope a tenant key may have, and the widget's. The owner can already do
/// everything these scopes allow through their own session.
const OWNER_KEY_SCOPES: [&str; 7] = [
    "read", "write", "keys", "audit", "settings", "owner", "widget",
];

/// The principal auth is asked for on `/v1/api-keys`. A key goes as it is
/// (auth checks its `keys` scope). A session carries only `read` and
/// `write`, which would leave no person able to manage keys without first
/// holding one; so a signed-in owner acts here with [`OWNER_KEY_SCOPES`].
/// Any other role's session goes as it is too, and auth refuses it for
/// want of the `keys` scope, exactly as it refuses a read/write key.
fn key_manager(caller: &TenantCaller) -> Principal {
    let mut principal = caller.principal.clone();
    if principal.require_role(Role::Owner).is_ok() {
        principal.scopes = OWNER_KEY_SCOPES.map(str::to_owned).to_vec();
    }
    principal
}

fn body_or_default<T: Default>(body: Option<JsonBody<T>>) -> T {
    body.map(|JsonBody(body)| body).unwrap_or_default()
}

// Platform admin keys.

/// `GET /v1/admin/api-keys`
#[utoipa::path(
    get,
    path = "/v1/admin/api-keys",
    tag = "keys",
    params(("include_inactive" = Option<bool>, Query, description = "Also list revoked and expired keys (a rotated key is listed until its grace period ends); default false. The only query parameter.")),
    responses(
        (status = 200, description = "The platform admin keys", body = KeyList),
        (status = 400, description = "An unknown query parameter, or include_inactive is not true or false"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn list_admin_keys(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    query: axum::extract::RawQuery,
) -> Result<Json<KeyList>, ApiError> {
    list(&gateway, &caller.principal, PLATFORM, query.0.as_deref()).await
}

/// `POST /v1/admin/api-keys`: another platform admin key.
#[utoipa::path(
    post,
    path = "/v1/admin/api-keys",
    tag = "keys",
    request_body(content = Option<NewKey>, description = "Optional: the key's name, expiry and networks"),
    responses(
        (status = 201, description = "The new admin key, shown once", body = IssuedKey),
        (status = 400, description = "A field is invalid: name, expires_at (not RFC 3339, or not in the future), allowed_networks; allowed_origins is refused"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn issue_admin_key(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    body: Option<JsonBody<NewKey>>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let issued = issue(&gateway, &caller.principal, PLATFORM, body_or_default(body)).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// `POST /v1/admin/api-keys/{key_id}/rotate`
#[utoipa::path(
    post,
    path = "/v1/admin/api-keys/{key_id}/rotate",
    tag = "keys",
    params(("key_id" = String, Path, description = "The key's id (key_...)", pattern = "^key_[0-9a-f]{32}$")),
    request_body(content = Option<Rotation>, description = "Optional: the grace period of the old key"),
    responses(
        (status = 201, description = "The successor, shown once, and the old key with its new expiry", body = Rotated),
        (status = 400, description = "key_id is not a valid key id, or grace_seconds is too large"),
        (status = 404, description = "No such key of this owner"),
        (status = 409, description = "The key is revoked, has expired, or was already rotated (rotate its successor)"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn rotate_admin_key(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(key_id): Path<String>,
    body: Option<JsonBody<Rotation>>,
) -> Result<(StatusCode, Json<Rotated>), ApiError> {
    rotate(
        &gateway,
        &caller.principal,
        PLATFORM,
        key_id,
        body_or_default(body),
    )
    .await
}

/// `DELETE /v1/admin/api-keys/{key_id}`: revoking a revoked key changes
/// nothing.
#[utoipa::path(
    delete,
    path = "/v1/admin/api-keys/{key_id}",
    tag = "keys",
    params(("key_id" = String, Path, description = "The key's id (key_...)", pattern = "^key_[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "The key, revoked (at once, on every gateway)", body = KeyView),
        (status = 400, description = "key_id is not a valid key id"),
        (status = 404, description = "No such key of this owner"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn revoke_admin_key(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(key_id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    revoke(&gateway, &caller.principal, PLATFORM, key_id).await
}

// A tenant's keys, managed by a platform admin.

/// `GET /v1/admin/tenants/{tenant_id}/api-keys`
#[utoipa::path(
    get,
    path = "/v1/admin/tenants/{tenant_id}/api-keys",
    tag = "keys",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)", pattern = "^ten_[0-9a-f]{32}$"), ("include_inactive" = Option<bool>, Query, description = "Also list revoked and expired keys (a rotated key is listed until its grace period ends); default false. The only query parameter.")),
    responses(
        (status = 200, description = "The tenant's keys (none for a tenant that does not exist)", body = KeyList),
        (status = 400, description = "tenant_id is not a valid tenant id; an unknown query parameter, or include_inactive is not true or false"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn list_tenant_keys(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
    query: axum::extract::RawQuery,
) -> Result<Json<KeyList>, ApiError> {
    list(&gateway, &caller.principal, &tenant_id, query.0.as_deref()).await
}

/// `POST /v1/admin/tenants/{tenant_id}/api-keys/{key_id}/rotate`
#[utoipa::path(
    post,
    path = "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}/rotate",
    tag = "keys",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)", pattern = "^ten_[0-9a-f]{32}$"), ("key_id" = String, Path, description = "The key's id (key_...)", pattern = "^key_[0-9a-f]{32}$")),
    request_body(content = Option<Rotation>, description = "Optional: the grace period of the old key"),
    responses(
        (status = 201, description = "The successor, shown once, and the old key with its new expiry", body = Rotated),
        (status = 400, description = "tenant_id or key_id is not a valid id, or grace_seconds is too large"),
        (status = 404, description = "No such key of this tenant"),
        (status = 409, description = "The key is revoked, has expired, or was already rotated (rotate its successor)"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn rotate_tenant_key(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path((tenant_id, key_id)): Path<(String, String)>,
    body: Option<JsonBody<Rotation>>,
) -> Result<(StatusCode, Json<Rotated>), ApiError> {
    rotate(
        &gateway,
        &caller.principal,
        &tenant_id,
        key_id,
        body_or_default(body),
    )
    .await
}

/// `DELETE /v1/admin/tenants/{tenant_id}/api-keys/{key_id}`
#[utoipa::path(
    delete,
    path = "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}",
    tag = "keys",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)", pattern = "^ten_[0-9a-f]{32}$"), ("key_id" = String, Path, description = "The key's id (key_...)", pattern = "^key_[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "The key, revoked (at once, on every gateway); revoking a revoked key changes nothing", body = KeyView),
        (status = 400, description = "tenant_id or key_id is not a valid id"),
        (status = 404, description = "No such key of this tenant"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn revoke_tenant_key(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path((tenant_id, key_id)): Path<(String, String)>,
) -> Result<Json<KeyView>, ApiError> {
    revoke(&gateway, &caller.principal, &tenant_id, key_id).await
}

/// A tenant's request rate.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per minute for each of the tenant's keys, at most 60000;
    /// null or 0 restores the default.
    #[schema(maximum = 60000)]
    requests_per_minute: Option<u32>,
}

/// `PUT /v1/admin/tenants/{tenant_id}/rate-limit`
#[utoipa::path(
    put,
    path = "/v1/admin/tenants/{tenant_id}/rate-limit",
    tag = "keys",
    params(("tenant_id" = String, Path, description = "The tenant's id (ten_...)", pattern = "^ten_[0-9a-f]{32}$")),
    request_body = RateLimit,
    responses(
        (status = 204, description = "The rate is set (whether or not the tenant exists)"),
        (status = 400, description = "tenant_id is not a valid tenant id, or requests_per_minute is above 60000"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn set_tenant_rate_limit(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(tenant_id): Path<String>,
    JsonBody(body): JsonBody<RateLimit>,
) -> Result<StatusCode, ApiError> {
    call(
        &caller.principal,
        &gateway.backends.auth,
        SetTenantRateLimitRequest {
            tenant_id,
            requests_per_minute: body.requests_per_minute.unwrap_or(0),
        },
        async |mut auth, request| auth.set_tenant_rate_limit(request).await,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// A tenant's own keys, with a key holding the `keys` scope or as its owner.

/// `GET /v1/api-keys`
#[utoipa::path(
    get,
    path = "/v1/api-keys",
    tag = "keys",
    params(("include_inactive" = Option<bool>, Query, description = "Also list revoked and expired keys (a rotated key is listed until its grace period ends); default false. The only query parameter.")),
    responses(
        (status = 200, description = "The caller's tenant's keys", body = KeyList),
        (status = 400, description = "An unknown query parameter, or include_inactive is not true or false"),
        (status = 403, description = "The key lacks the \"keys\" scope, the session is not the owner's, or X-Business-ID does not match it"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn list_own_keys(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    query: axum::extract::RawQuery,
) -> Result<Json<KeyList>, ApiError> {
    list(
        &gateway,
        &key_manager(&caller),
        caller.tenant.as_str(),
        query.0.as_deref(),
    )
    .await
}

/// `POST /v1/api-keys`
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    tag = "keys",
    request_body(content = Option<NewKey>, description = "Optional: the key's name, environment, scopes, expiry and networks"),
    responses(
        (status = 201, description = "The new key, shown once", body = IssuedKey),
        (status = 400, description = "A field is invalid: name, environment, scopes, expires_at (not RFC 3339, or not in the future), allowed_networks, allowed_origins"),
        (status = 403, description = "The key lacks the \"keys\" scope, asks for a scope it does not hold itself, the session is not the owner's, or X-Business-ID does not match it"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn issue_own_key(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    body: Option<JsonBody<NewKey>>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let tenant = caller.tenant.as_str();
    let issued = issue(
        &gateway,
        &key_manager(&caller),
        tenant,
        body_or_default(body),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// `POST /v1/api-keys/{key_id}/rotate`
#[utoipa::path(
    post,
    path = "/v1/api-keys/{key_id}/rotate",
    tag = "keys",
    params(("key_id" = String, Path, description = "The key's id (key_...)", pattern = "^key_[0-9a-f]{32}$")),
    request_body(content = Option<Rotation>, description = "Optional: the grace period of the old key"),
    responses(
        (status = 201, description = "The successor, shown once, and the old key with its new expiry", body = Rotated),
        (status = 400, description = "key_id is not a valid key id, or grace_seconds is too large"),
        (status = 404, description = "No such key of this owner"),
        (status = 409, description = "The key is revoked, has expired, or was already rotated (rotate its successor)"),
        (status = 403, description = "The key lacks the \"keys\" scope, the session is not the owner's, or X-Business-ID does not match it"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn rotate_own_key(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(key_id): Path<String>,
    body: Option<JsonBody<Rotation>>,
) -> Result<(StatusCode, Json<Rotated>), ApiError> {
    let tenant = caller.tenant.as_str();
    rotate(
        &gateway,
        &key_manager(&caller),
        tenant,
        key_id,
        body_or_default(body),
    )
    .await
}

/// `DELETE /v1/api-keys/{key_id}`
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{key_id}",
    tag = "keys",
    params(("key_id" = String, Path, description = "The key's id (key_...)", pattern = "^key_[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "The key, revoked (at once, on every gateway); revoking a revoked key changes nothing", body = KeyView),
        (status = 400, description = "key_id is not a valid key id"),
        (status = 404, description = "No such key of this owner"),
        (status = 403, description = "The key lacks the \"keys\" scope, the session is not the owner's, or X-Business-ID does not match it"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn revoke_own_key(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(key_id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    revoke(
        &gateway,
        &key_manager(&caller),
        caller.tenant.as_str(),
        key_id,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: Option<Role>) -> TenantCaller {
        let tenant = rampart_kit::ids::TenantId::parse("ten_0123456789abcdef0123456789abcdef")
            .expect("a valid tenant id");
        TenantCaller {
            principal: Principal {
                kind: rampart_kit::principal::PrincipalKind::Tenant(tenant.clone()),
                credential_id: "ses_1".to_owned(),
                scopes: vec!["read".to_owned(), "write".to_owned()],
                request_id: "req".to_owned(),
                client_addr: String::new(),
                user: user.map(|role| rampart_kit::principal::SignedInUser {
                    id: "usr_1".to_owned(),
                    role,
                }),
                mode: rampart_kit::principal::DataMode::Live,
            },
            tenant,
        }
    }

    #[test]
    fn only_an_owners_session_gets_the_keys_scope_and_a_key_goes_as_it_is() {
        let owner = key_manager(&caller(Some(Role::Owner)));
        assert!(
            owner.scopes.iter().any(|scope| scope == "keys"),
            "{owner:?}"
        );
        assert!(
            owner.scopes.iter().any(|scope| scope == "widget"),
            "{owner:?}"
        );
        assert_eq!(
            owner.user.as_ref().map(|user| user.id.as_str()),
            Some("usr_1")
        );
        // A manager, an agent and a read/write key keep their scopes, which
        // auth refuses for want of "keys".
        for user in [Some(Role::Manager), Some(Role::Agent), None] {
            let principal = key_manager(&caller(user));
            assert_eq!(principal.scopes, ["read", "write"], "{user:?}");
        }
    }

    #[test]
    fn an_issued_or_rotated_key_does_not_show_the_key() {
        let secret = "rk_live_s3cr3tVALUE0123456789";
        let issued = || {
            IssuedKey::from(IssueApiKeyResponse {
                key_id: "key_1".to_owned(),
                api_key: secret.to_owned(),
                display_prefix: "rk_live_s3c".to_owned(),
                key: None,
            })
        };
        let key = issued();
        assert!(serde_json::to_string(&key).unwrap().contains(secret));
        let printed = format!("{key:?}");
        assert!(!printed.contains(secret), "{printed}");
        let rotated = Rotated {
            successor: issued(),
            previous: None,
        };
        let printed = format!("{rotated:?}");
        assert!(!printed.contains(secret), "{printed}");
    }
}
