//! The REST routes.
//!
//! Each handler names the caller it accepts as an extractor
//! ([`crate::authn`]: `TenantCaller`, `AdminCaller`, `SessionCaller`,
//! `OwnerCaller`, `WidgetCaller`), reads its input through
//! [`crate::json_body::JsonBody`] and [`page::Page`], asks one backend on the
//! caller's behalf ([`crate::backends::call`]), and shapes the answer as
//! JSON.
//!
//! Each route is registered once, in [`api`]: from that one list come both
//! the router and the OpenAPI document ([`openapi`] adds what every route
//! shares), so the two cannot drift. To add a route, annotate its handler
//! with `#[utoipa::path(...)]` like its neighbours and add it to [`api`].
//! Only two routes are mounted outside the list, on purpose: the widget's
//! CORS preflight, and the platform admins' sign-in at its secret path
//! (publishing it would defeat it).

mod accounts;
mod admin;
mod audit;
mod billing;
mod build;
mod calendar;
pub use build::executable_sha256;
mod checklist;
mod checklist_reports;
mod conversations;
mod crm;
#[cfg(test)]
mod document_tests;
mod erasure;
mod escalation;
mod handoffs;
pub(crate) mod health;
mod incidents;
mod keys;
pub mod openapi;
mod owner;
mod page;
mod schedule;
mod telephony;
mod tenant_data;
mod users;
mod well_known;
pub mod widget;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Query;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{any, options};
use http::{HeaderValue, Uri, header};
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Gateway;
use crate::pipeline::edge_pipeline;
use crate::problem::ApiError;

/// The template of the platform admins' sign-in route. The segment is
/// matched by the handler against the configured secret, so that metrics
/// and logs only ever see this template.
pub const ADMIN_SIGN_IN: &str = "/v1/auth/{admin_path}/sign-in";

/// The whole REST surface, wrapped in the edge pipeline.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let (routes, _) = api().split_for_parts();
    routes
        // Every method, so that a wrong segment answers 404 whatever the
        // method, exactly like an unknown path.
        .route(ADMIN_SIGN_IN, any(accounts::sign_in_admin))
        .route("/v1/widget/conversations", options(widget::preflight))
        .route(
            "/v1/widget/conversations/{conversation_id}/messages",
            options(widget::preflight),
        )
        .route("/v1/widget/availability", options(widget::preflight))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        // `route_layer` would run only for matched routes; the pipeline must
        // see every request (probe paths, unknown routes, 405s), so it wraps
        // the whole router.
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            edge_pipeline,
        ))
        // The browser pages, with their own headers (see crate::pages).
        .merge(crate::pages::router(gateway.clone()))
        .with_state(gateway)
}

/// Every documented route, each registered once. Handlers of one path go
/// in one `routes!`.
fn api() -> OpenApiRouter<Arc<Gateway>> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(document))
        .routes(routes!(well_known::security_txt))
        // Signing in, and the signed-in user's own account.
        .routes(routes!(accounts::sign_in_public))
        .routes(routes!(accounts::second_factor))
        .routes(routes!(accounts::enrol_for_challenge))
        .routes(routes!(accounts::sign_out))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::list_sessions))
        .routes(routes!(accounts::revoke_all_sessions))
        .routes(routes!(accounts::revoke_session))
        .routes(routes!(accounts::change_password))
        .routes(routes!(accounts::begin_totp))
        .routes(routes!(accounts::confirm_totp))
        // Users and roles.
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(users::update_user))
        .routes(routes!(users::revoke_user_sessions))
        .routes(routes!(users::get_security, users::set_security))
        .routes(routes!(users::admin_create_user))
        .routes(routes!(users::admin_create_admin))
        .routes(routes!(users::admin_update_user))
        .routes(routes!(users::admin_revoke_user_sessions))
        // Tenants and keys.
        .routes(routes!(admin::create_tenant, admin::list_tenants))
        .routes(routes!(admin::issue_api_key, keys::list_tenant_keys))
        .routes(routes!(admin::delete_tenant))
        .routes(routes!(keys::revoke_tenant_key))
        .routes(routes!(keys::rotate_tenant_key))
        .routes(routes!(keys::set_tenant_rate_limit))
        .routes(routes!(billing::get_billing, billing::put_billing))
        .routes(routes!(billing::webhook))
        .routes(routes!(telephony::sms))
        .routes(routes!(telephony::voice))
        .routes(routes!(keys::issue_admin_key, keys::list_admin_keys))
        .routes(routes!(keys::revoke_admin_key))
        .routes(routes!(keys::rotate_admin_key))
        .routes(routes!(keys::issue_own_key, keys::list_own_keys))
        .routes(routes!(keys::revoke_own_key))
        .routes(routes!(keys::rotate_own_key))
        // The tenant's data.
        .routes(routes!(widget::start_conversation))
        .routes(routes!(widget::availability))
        .routes(routes!(crm::create_customer, crm::list_customers))
        .routes(routes!(crm::get_customer, crm::update_customer))
        .routes(routes!(crm::rotate_master_key))
        .routes(routes!(escalation::evaluate))
        .routes(routes!(escalation::get_policy, escalation::put_policy))
        // Conversations and the handoff queue.
        .routes(routes!(conversations::start, conversations::list))
        .routes(routes!(conversations::get))
        .routes(routes!(conversations::post_customer_message))
        .routes(routes!(conversations::post_ai_reply))
        .routes(routes!(conversations::post_agent_reply))
        .routes(routes!(conversations::set_summary))
        .routes(routes!(widget::post_message, widget::list_messages))
        .routes(routes!(handoffs::list))
        .routes(routes!(handoffs::stream))
        .routes(routes!(handoffs::get))
        .routes(routes!(handoffs::claim))
        .routes(routes!(handoffs::resolve))
        .routes(routes!(handoffs::hand_back))
        // The audit logs.
        .routes(routes!(audit::list_events))
        .routes(routes!(audit::checkpoint))
        .routes(routes!(audit::inclusion_proof))
        .routes(routes!(audit::consistency_proof))
        .routes(routes!(audit::export))
        .routes(routes!(audit::admin_list_events))
        .routes(routes!(audit::admin_checkpoint))
        .routes(routes!(audit::admin_inclusion_proof))
        .routes(routes!(audit::admin_consistency_proof))
        .routes(routes!(audit::admin_export))
        .routes(routes!(audit::public_key))
        // The tenant's schedule: appointments and job notes.
        .routes(routes!(
            schedule::create_appointment,
            schedule::list_appointments
        ))
        .routes(routes!(
            schedule::get_appointment,
            schedule::update_appointment
        ))
        .routes(routes!(schedule::create_job_note, schedule::list_job_notes))
        .routes(routes!(schedule::get_job_note))
        // The owner's configuration.
        .routes(routes!(owner::get_settings, owner::put_settings))
        .routes(routes!(owner::create_channel, owner::list_channels))
        .routes(routes!(owner::delete_channel))
        .routes(routes!(owner::get_retention, owner::put_retention))
        .routes(routes!(owner::set_legal_hold))
        .routes(routes!(calendar::connect))
        .routes(routes!(calendar::callback))
        .routes(routes!(calendar::status, calendar::disconnect))
        .routes(routes!(calendar::busy))
        .routes(routes!(
            erasure::create_erasure_request,
            erasure::list_erasure_requests
        ))
        .routes(routes!(erasure::get_erasure_request))
        .routes(routes!(erasure::execute_erasure_request))
        // The tenant's data as a whole: reports and the bulk export.
        .routes(routes!(tenant_data::activity_summary))
        .routes(routes!(tenant_data::export))
        // Incidents: contain, look up, restore.
        .routes(routes!(build::build))
        .routes(routes!(incidents::contain))
        .routes(routes!(incidents::baseline))
        .routes(routes!(incidents::get))
        .routes(routes!(incidents::restore))
        // The monthly checklist's review of tenants' users and roles.
        .routes(routes!(checklist::admin_list_tenant_users))
        // The monthly checklist's reports, stored and read back.
        .routes(routes!(checklist_reports::store))
        .routes(routes!(checklist_reports::latest))
}

/// Reads the query string as `T`, with a problem response that says what
/// is wrong.
pub(crate) fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(value)| value)
        .map_err(|rejection| ApiError::invalid(rejection.body_text()))
}

/// The OpenAPI document as JSON, built once from [`api`].
pub fn document_json() -> &'static [u8] {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = api().into_openapi();
        openapi::complete(&mut document);
        document
            .to_json()
            .expect("the OpenAPI document serialises")
            .into_bytes()
    })
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of the REST edge", content_type = "application/json")),
)]
async fn document() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document_json(),
    )
}
