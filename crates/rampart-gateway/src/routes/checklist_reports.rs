//! The monthly checklist's reports: `rampart checklist` stores each run
//! here, and the console's checklist page reads the latest.
//!
//! Auth keeps them (it owns the platform's admins and incidents, and
//! writes the `checklist.completed` audit event in the same transaction
//! as the row). This route bounds the body, checks it is JSON, and passes
//! the exact bytes on, so that the SHA-256 in the audit event is the
//! SHA-256 of the file the command wrote. Auth checks the report's shape.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use http::{HeaderMap, StatusCode, header};
use rampart_kit::error::ErrorCode;
use rampart_proto::auth::v1::{
    ChecklistReport, GetLatestChecklistReportRequest, StoreChecklistReportRequest,
};
use serde::Serialize;

use crate::Gateway;
use crate::authn::AdminCaller;
use crate::backends::call;
use crate::json_body::{MAX_JSON_DEPTH, json_depth_within};
use crate::problem::ApiError;

/// The largest report accepted; auth holds the same bound. A report is
/// larger than the edge's usual body limit (it lists every dependency),
/// so this route reads its own body.
pub const MAX_REPORT_BYTES: usize = 512 * 1024;

/// A stored report: what was stored, and when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoredReportView {
    /// `chk_...`
    report_id: String,
    /// RFC 3339: when the checklist ran.
    generated_at: String,
    /// RFC 3339: when the report was stored.
    stored_at: String,
    /// Who stored it (`admin_key:...` or `user:...`).
    stored_by: String,
    /// Hex SHA-256 of the report as sent; also in its audit event.
    sha256: String,
    /// Items that passed, warned and failed.
    pass: u32,
    warn: u32,
    fail: u32,
    /// The id of its `checklist.completed` event in the platform log.
    audit_event_id: String,
    /// The report itself (`GET .../latest` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    report: Option<serde_json::Value>,
}

impl StoredReportView {
    fn from_wire(stored: ChecklistReport, with_report: bool) -> Result<Self, ApiError> {
        let report = if with_report {
            Some(
                serde_json::from_str(&stored.report_json)
                    .map_err(|_| ApiError::internal("auth returned a report that is not JSON"))?,
            )
        } else {
            None
        };
        Ok(Self {
            report_id: stored.report_id,
            generated_at: stored.generated_at,
            stored_at: stored.stored_at,
            stored_by: stored.stored_by,
            sha256: stored.sha256,
            pass: stored.pass,
            warn: stored.warn,
            fail: stored.fail,
            audit_event_id: stored.audit_event_id,
            report,
        })
    }
}

/// `POST /v1/admin/checklist/reports`: stores a checklist report.
#[utoipa::path(
    post,
    path = "/v1/admin/checklist/reports",
    tag = "admin",
    request_body(content = Object, description = "The report as `rampart checklist --json` writes it", content_type = "application/json"),
    responses(
        (status = 201, description = "Stored, with one checklist.completed event in the platform's audit log", body = StoredReportView),
        (status = 400, description = "The body is not JSON, or not a checklist report (the problem says what is wrong: a summary that does not count its items, an item whose status is not its worst fact's, ...)"),
        (status = 413, description = "The report is larger than 512 KiB"),
        (status = 415, description = "The body is not application/json"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn store(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<StoredReportView>), ApiError> {
    let json = report_body(&headers, body).await?;
    let stored = call(
        &caller.principal,
        &gateway.backends.auth,
        StoreChecklistReportRequest { report_json: json },
        async |mut auth, request| auth.store_checklist_report(request).await,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(StoredReportView::from_wire(stored, false)?),
    ))
}

/// `GET /v1/admin/checklist/reports/latest`: the report stored last.
#[utoipa::path(
    get,
    path = "/v1/admin/checklist/reports/latest",
    tag = "admin",
    responses(
        (status = 200, description = "The latest report with what was stored beside it", body = StoredReportView),
        (status = 404, description = "No report was stored yet"),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn latest(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
) -> Result<Json<StoredReportView>, ApiError> {
    let stored = call(
        &caller.principal,
        &gateway.backends.auth,
        GetLatestChecklistReportRequest {},
        async |mut auth, request| auth.get_latest_checklist_report(request).await,
    )
    .await?;
    Ok(Json(StoredReportView::from_wire(stored, true)?))
}

/// The body as text: JSON, at most [`MAX_REPORT_BYTES`], checked before
/// and while reading, nested no deeper than any JSON body may be.
async fn report_body(headers: &HeaderMap, body: axum::body::Body) -> Result<String, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::unsupported_media_type());
    }
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("a checklist report must be at most {MAX_REPORT_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_REPORT_BYTES) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_REPORT_BYTES)
        .await
        .map_err(|_| too_large())?;
    if !json_depth_within(&bytes, MAX_JSON_DEPTH) {
        return Err(ApiError::invalid(format!(
            "the JSON body nests deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::invalid(format!("invalid JSON body: {error}")))?;
    if !value.is_object() {
        return Err(ApiError::invalid(
            "the body must be a checklist report (a JSON object)",
        ));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::invalid("the body is not UTF-8"))
}
