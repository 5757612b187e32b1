//! Erasure requests: the owner previews what erasing a customer deletes,
//! then executes it and gets the signed deletion certificate.
//!
//! Tenant keys and tenant users' sessions are relayed; the CRM allows only
//! an owner session or a key with the `owner` scope. Unknown, malformed
//! and another tenant's ids are all 404.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_proto::crm::v1::{
    CreateErasureRequestRequest, ErasureCounts, ErasureRequest, ExecuteErasureRequestRequest,
    GetErasureRequestRequest, ListErasureRequestsRequest,
};
use serde::{Deserialize, Serialize};

use super::page::{next_cursor, non_empty, page_size};
use crate::Gateway;
use crate::authn::TenantCaller;
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// A customer to erase.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewErasureRequest {
    /// The customer's id (cus_...).
    #[schema(max_length = 64)]
    customer_id: String,
    /// Why (1 to 500 characters); kept with the request, not in the audit
    /// log.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// How many of each thing an erasure deletes (while open: now), or
/// deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErasureCountsView {
    customers: u32,
    conversations: u32,
    messages: u32,
    appointments: u32,
    job_notes: u32,
    /// Data keys destroyed: the customer's and one per conversation.
    data_keys: u32,
}

impl From<ErasureCounts> for ErasureCountsView {
    fn from(counts: ErasureCounts) -> Self {
        Self {
            customers: counts.customers,
            conversations: counts.conversations,
            messages: counts.messages,
            appointments: counts.appointments,
            job_notes: counts.job_notes,
            data_keys: counts.data_keys,
        }
    }
}

/// An erasure request, with its preview while open and its deletion
/// certificate once executed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErasureRequestView {
    /// era_...
    id: String,
    customer_id: String,
    /// `open` or `executed`.
    status: String,
    /// `owner`, or `handoff:<id>` when a customer's privacy request in a
    /// conversation opened it.
    source: String,
    reason: String,
    requested_by: String,
    created_at: String,
    /// While open: what executing would delete now. Once executed: what
    /// was deleted.
    counts: ErasureCountsView,
    /// The customer is under a legal hold: executing is refused (409).
    held: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    executed_at: Option<String>,
    /// Once executed: the signed deletion certificate,
    /// `{"statement": {...}, "signature": {"algorithm", "key_id", "value"}}`,
    /// checkable offline with the key from `GET /v1/audit/public-key`
    /// (`rampart audit verify-certificate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    certificate: Option<serde_json::Value>,
}

impl TryFrom<ErasureRequest> for ErasureRequestView {
    type Error = ApiError;

    fn try_from(request: ErasureRequest) -> Result<Self, ApiError> {
        let certificate = match non_empty(request.certificate_json) {
            None => None,
            Some(json) => Some(serde_json::from_str(&json).map_err(ApiError::internal)?),
        };
        Ok(Self {
            id: request.id,
            customer_id: request.customer_id,
            status: request.status,
            source: request.source,
            reason: request.reason,
            requested_by: request.requested_by,
            created_at: request.created_at,
            counts: request.counts.unwrap_or_default().into(),
            held: request.held,
            executed_at: non_empty(request.executed_at),
            certificate,
        })
    }
}

/// `POST /v1/owner/erasure-requests`: opens a request (or answers the
/// customer's open one) with its preview. Nothing is deleted yet.
#[utoipa::path(
    post,
    path = "/v1/owner/erasure-requests",
    tag = "owner",
    request_body = NewErasureRequest,
    responses(
        (status = 201, description = "The request, opened, with its preview", body = ErasureRequestView),
        (status = 200, description = "The customer's request already open, with a fresh preview", body = ErasureRequestView),
        (status = 400, description = "The reason is missing or too long"),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 404, description = "No such customer in the caller's tenant"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn create_erasure_request(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<NewErasureRequest>,
) -> Result<(StatusCode, Json<ErasureRequestView>), ApiError> {
    let request = call(
        &caller.principal,
        &gateway.backends.owner,
        CreateErasureRequestRequest {
            customer_id: body.customer_id,
            reason: body.reason,
        },
        async |mut owner, request| owner.create_erasure_request(request).await,
    )
    .await?;
    let status = if request.already_open {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(request.try_into()?)))
}

/// Filters and page of the erasure request list; unknown parameters are
/// refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ErasureQuery {
    /// `open` or `executed`; both when absent.
    #[param(max_length = 16)]
    status: Option<String>,
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$", max_length = 64)]
    cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErasureRequestList {
    erasure_requests: Vec<ErasureRequestView>,
    next_cursor: Option<String>,
}

/// `GET /v1/owner/erasure-requests`: oldest first.
#[utoipa::path(
    get,
    path = "/v1/owner/erasure-requests",
    tag = "owner",
    params(ErasureQuery),
    responses(
        (status = 200, description = "One page of the tenant's erasure requests", body = ErasureRequestList),
        (status = 400, description = "An unknown or malformed filter"),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn list_erasure_requests(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    uri: http::Uri,
) -> Result<Json<ErasureRequestList>, ApiError> {
    let query: ErasureQuery = super::query(&uri)?;
    let list = call(
        &caller.principal,
        &gateway.backends.owner,
        ListErasureRequestsRequest {
            status: query.status.unwrap_or_default(),
            page_size: page_size(query.limit)?,
            page_token: query.cursor.unwrap_or_default(),
        },
        async |mut owner, request| owner.list_erasure_requests(request).await,
    )
    .await?;
    Ok(Json(ErasureRequestList {
        erasure_requests: list
            .erasure_requests
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?,
        next_cursor: next_cursor(list.next_page_token),
    }))
}

/// `GET /v1/owner/erasure-requests/{erasure_request_id}`
#[utoipa::path(
    get,
    path = "/v1/owner/erasure-requests/{erasure_request_id}",
    tag = "owner",
    params(("erasure_request_id" = String, Path, description = "The request's id (era_...)", max_length = 64)),
    responses(
        (status = 200, description = "The request, with a fresh preview while open", body = ErasureRequestView),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 404, description = "No such erasure request in the caller's tenant"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn get_erasure_request(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(erasure_request_id): Path<String>,
) -> Result<Json<ErasureRequestView>, ApiError> {
    let request = call(
        &caller.principal,
        &gateway.backends.owner,
        GetErasureRequestRequest { erasure_request_id },
        async |mut owner, request| owner.get_erasure_request(request).await,
    )
    .await?;
    Ok(Json(request.try_into()?))
}

/// `POST /v1/owner/erasure-requests/{erasure_request_id}/execute`: destroys
/// the customer's data keys, deletes their data and answers the signed
/// deletion certificate. Executing again answers the same certificate.
#[utoipa::path(
    post,
    path = "/v1/owner/erasure-requests/{erasure_request_id}/execute",
    tag = "owner",
    params(("erasure_request_id" = String, Path, description = "The request's id (era_...)", max_length = 64)),
    responses(
        (status = 200, description = "The executed request with its deletion certificate", body = ErasureRequestView),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 404, description = "No such erasure request in the caller's tenant"),
        (status = 409, description = "The customer is under a legal hold (problem type `legal-hold`); nothing was deleted"),
        (status = 503, description = "The certificate could not be signed; nothing was deleted, retry later"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn execute_erasure_request(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(erasure_request_id): Path<String>,
) -> Result<Json<ErasureRequestView>, ApiError> {
    let request = call(
        &caller.principal,
        &gateway.backends.owner,
        ExecuteErasureRequestRequest { erasure_request_id },
        async |mut owner, request| owner.execute_erasure_request(request).await,
    )
    .await
    .map_err(legal_hold)?;
    Ok(Json(request.try_into()?))
}

/// The one conflict an execution answers is a legal hold: it gets a
/// problem type of its own, so a client can tell it from other conflicts.
fn legal_hold(error: ApiError) -> ApiError {
    if error.status != StatusCode::CONFLICT {
        return error;
    }
    ApiError {
        slug: "legal-hold",
        title: "Customer under legal hold",
        ..error
    }
}
