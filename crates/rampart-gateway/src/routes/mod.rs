//! The REST routes, and the extractors that read their input.
//!
//! Each handler names the caller it accepts ([`TenantCaller`] or
//! [`AdminCaller`]), reads its input through [`JsonBody`] and [`Page`], calls
//! one backend with the principal in the call's metadata ([`with_principal`]),
//! and shapes the answer as JSON.

mod accounts;
mod admin;
mod audit;
mod crm;
mod escalation;
pub(crate) mod health;
mod keys;
pub mod openapi;
mod users;
mod well_known;
pub mod widget;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::middleware;
use axum::routing::{delete, get, patch, post, put};
use http::header;
use http::request::Parts;
use rampart_kit::error::ErrorCode;
use rampart_kit::principal::Principal;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Gateway;
use crate::pipeline::edge_pipeline;
use crate::problem::ApiError;

pub use crate::authn::{AdminCaller, TenantCaller};
pub use crate::sessions::{OwnerCaller, SessionCaller};

/// The whole REST surface, wrapped in the edge pipeline.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let mut routes = Router::new();
    // The admins' sign-in lives at a secret path; without one configured
    // there is no admin sign-in at all.
    if let Some(secret) = &gateway.config.admin_sign_in_path {
        routes = routes.route(
            &format!("/v1/auth/{secret}/sign-in"),
            post(accounts::sign_in_admin),
        );
    }
    routes
        .route("/v1/auth/sign-in", post(accounts::sign_in_public))
        .route("/v1/auth/second-factor", post(accounts::second_factor))
        .route(
            "/v1/auth/second-factor/enrol",
            post(accounts::enrol_for_challenge),
        )
        .route("/v1/auth/sign-out", post(accounts::sign_out))
        .route("/v1/auth/me", get(accounts::me))
        .route("/v1/auth/sessions", get(accounts::list_sessions))
        .route(
            "/v1/auth/sessions/revoke-all",
            post(accounts::revoke_all_sessions),
        )
        .route(
            "/v1/auth/sessions/{session_id}",
            delete(accounts::revoke_session),
        )
        .route("/v1/auth/password", post(accounts::change_password))
        .route("/v1/auth/totp/enrol", post(accounts::begin_totp))
        .route("/v1/auth/totp/confirm", post(accounts::confirm_totp))
        .route("/v1/users", post(users::create_user).get(users::list_users))
        .route("/v1/users/{user_id}", patch(users::update_user))
        .route(
            "/v1/users/{user_id}/revoke-sessions",
            post(users::revoke_user_sessions),
        )
        .route(
            "/v1/tenant/security",
            get(users::get_security).put(users::set_security),
        )
        .route(
            "/v1/admin/tenants/{tenant_id}/users",
            post(users::admin_create_user),
        )
        .route("/v1/admin/users", post(users::admin_create_admin))
        .route("/v1/admin/users/{user_id}", patch(users::admin_update_user))
        .route(
            "/v1/admin/users/{user_id}/revoke-sessions",
            post(users::admin_revoke_user_sessions),
        )
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/.well-known/security.txt", get(well_known::security_txt))
        .route(
            "/v1/admin/tenants",
            post(admin::create_tenant).get(admin::list_tenants),
        )
        .route(
            "/v1/admin/tenants/{tenant_id}/api-keys",
            post(admin::issue_api_key).get(keys::list_tenant_keys),
        )
        .route(
            "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}",
            delete(keys::revoke_tenant_key),
        )
        .route(
            "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}/rotate",
            post(keys::rotate_tenant_key),
        )
        .route(
            "/v1/admin/tenants/{tenant_id}/rate-limit",
            put(keys::set_tenant_rate_limit),
        )
        .route(
            "/v1/admin/api-keys",
            post(keys::issue_admin_key).get(keys::list_admin_keys),
        )
        .route(
            "/v1/admin/api-keys/{key_id}",
            delete(keys::revoke_admin_key),
        )
        .route(
            "/v1/admin/api-keys/{key_id}/rotate",
            post(keys::rotate_admin_key),
        )
        .route(
            "/v1/api-keys",
            post(keys::issue_own_key).get(keys::list_own_keys),
        )
        .route("/v1/api-keys/{key_id}", delete(keys::revoke_own_key))
        .route("/v1/api-keys/{key_id}/rotate", post(keys::rotate_own_key))
        .route(
            "/v1/widget/conversations",
            post(widget::start_conversation).options(widget::preflight),
        )
        .route(
            "/v1/crm/customers",
            post(crm::create_customer).get(crm::list_customers),
        )
        .route("/v1/crm/customers/{customer_id}", get(crm::get_customer))
        .route("/v1/escalation/evaluate", post(escalation::evaluate))
        .route("/v1/owner/audit", get(audit::list_events))
        .route("/v1/owner/audit/checkpoint", get(audit::checkpoint))
        .route(
            "/v1/owner/audit/proofs/inclusion",
            get(audit::inclusion_proof),
        )
        .route(
            "/v1/owner/audit/proofs/consistency",
            get(audit::consistency_proof),
        )
        .route("/v1/owner/audit/export", get(audit::export))
        .route("/v1/admin/audit", get(audit::admin_list_events))
        .route("/v1/admin/audit/checkpoint", get(audit::admin_checkpoint))
        .route(
            "/v1/admin/audit/proofs/inclusion",
            get(audit::admin_inclusion_proof),
        )
        .route(
            "/v1/admin/audit/proofs/consistency",
            get(audit::admin_consistency_proof),
        )
        .route("/v1/admin/audit/export", get(audit::admin_export))
        .route("/v1/audit/public-key", get(audit::public_key))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        // `route_layer` would run only for matched routes; the pipeline must
        // see every request (probe paths, unknown routes, 405s), so it wraps
        // the whole router.
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            edge_pipeline,
        ))
        .with_state(gateway)
}

/// A gRPC request carrying `principal` in its metadata.
pub(crate) fn with_principal<T>(
    principal: &Principal,
    message: T,
) -> Result<tonic::Request<T>, ApiError> {
    let mut request = tonic::Request::new(message);
    principal
        .write_to(request.metadata_mut())
        .map_err(|status| ApiError::internal(format_args!("cannot encode principal: {status}")))?;
    Ok(request)
}

/// Turns a backend's gRPC answer into the message or a problem response.
pub(crate) trait BackendAnswer<T> {
    /// `service` names the backend in the problem detail when it is down.
    fn answer(self, service: &'static str) -> Result<T, ApiError>;
}

impl<T> BackendAnswer<T> for Result<tonic::Response<T>, tonic::Status> {
    fn answer(self, service: &'static str) -> Result<T, ApiError> {
        self.map(tonic::Response::into_inner)
            .map_err(|status| ApiError::from_backend(service, &status))
    }
}

/// A JSON body: `Content-Type: application/json`, within the size limit,
/// well formed, of the expected shape. Each failure is a problem response
/// that says which.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<Gateway>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, gateway: &Arc<Gateway>) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::unsupported_media_type());
        }
        let limit = gateway.config.body_limit;
        let too_large = || {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body must be at most {limit} bytes"),
            )
        };
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        if !crate::limits::json_depth_within(&bytes, crate::limits::MAX_JSON_DEPTH) {
            return Err(ApiError::invalid(format!(
                "the JSON body nests deeper than {} levels",
                crate::limits::MAX_JSON_DEPTH
            )));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|error| ApiError::invalid(format!("invalid JSON body: {error}")))
    }
}

/// An optional JSON body: absent when the request has neither a content type
/// nor a body; otherwise it must be valid like any [`JsonBody`].
impl<T: DeserializeOwned> OptionalFromRequest<Arc<Gateway>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(
        request: Request,
        gateway: &Arc<Gateway>,
    ) -> Result<Option<Self>, ApiError> {
        let has_type = request.headers().contains_key(header::CONTENT_TYPE);
        let length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if !has_type && length.unwrap_or(0) == 0 {
            return Ok(None);
        }
        <Self as FromRequest<Arc<Gateway>>>::from_request(request, gateway)
            .await
            .map(Some)
    }
}

/// Cursor pagination parameters: `?limit=N&cursor=C`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page size, 1 to 100; the service's default when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

impl Page {
    /// The page size for a backend: 0 lets the service pick its default.
    pub fn size(&self) -> u32 {
        self.limit.unwrap_or(0)
    }

    /// The cursor for a backend: empty for the first page.
    pub fn cursor(&self) -> String {
        self.cursor.clone().unwrap_or_default()
    }
}

/// A backend's next cursor for JSON: `null` on the last page rather than "".
pub(crate) fn next_cursor(wire: String) -> Option<String> {
    Some(wire).filter(|cursor| !cursor.is_empty())
}

impl FromRequestParts<Arc<Gateway>> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<Gateway>) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_page(query)
    }
}

fn serde_urlencoded_page(query: &str) -> Result<Page, ApiError> {
    let mut page = Page::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "limit" => {
                page.limit = Some(value.parse().map_err(|_| {
                    ApiError::invalid("limit must be a whole number from 1 to 100")
                })?);
            }
            "cursor" => {
                if !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(ApiError::invalid("malformed cursor"));
                }
                page.cursor = Some(value.to_owned());
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "unknown query parameter {name:?}"
                )));
            }
        }
    }
    if page.limit == Some(0) || page.limit.is_some_and(|l| l > 100) {
        return Err(ApiError::invalid(
            "limit must be a whole number from 1 to 100",
        ));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parameters_parse() {
        let page = serde_urlencoded_page("limit=10&cursor=cus_abc").unwrap();
        assert_eq!(page.limit, Some(10));
        assert_eq!(page.cursor.as_deref(), Some("cus_abc"));
        assert!(serde_urlencoded_page("").unwrap().limit.is_none());
    }

    #[test]
    fn bad_page_parameters_are_refused() {
        for query in [
            "limit=0",
            "limit=101",
            "limit=x",
            "cursor=a%27b",
            "sort=name",
            "limit=-1",
        ] {
            assert!(serde_urlencoded_page(query).is_err(), "{query}");
        }
    }
}
