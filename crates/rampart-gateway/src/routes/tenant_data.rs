//! The tenant's data as a whole: a manager's activity report (counts only)
//! and the owner's bulk export (everything, streamed as JSON lines).
//!
//! Tenant keys and tenant users' sessions are relayed; the CRM decides who
//! may (a report: a manager or owner, or a key with the `settings` scope;
//! an export: the owner, or a key with the `owner` scope), so the rule
//! lives in one place. Both work on the caller's data mode: a `rk_test_`
//! key reports and exports test data only.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{StatusCode, header};
use rampart_proto::crm::v1::{ActivitySummary, ActivitySummaryRequest, ExportTenantDataRequest};
use serde::{Deserialize, Serialize};

use crate::Gateway;
use crate::authn::TenantCaller;
use crate::backends::call;
use crate::problem::ApiError;

/// The longest time a query may send: an RFC 3339 time is about 35
/// characters, so anything much longer is refused before the CRM sees it.
const MAX_TIME_CHARS: usize = 64;

/// The period of a report; unknown parameters are refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// RFC 3339, inclusive; 30 days before `to` when absent.
    #[param(max_length = 64)]
    from: Option<String>,
    /// RFC 3339, exclusive; now when absent. At most 366 days after `from`.
    #[param(max_length = 64)]
    to: Option<String>,
}

/// Customers: all the tenant holds, and those created in the period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerCounts {
    total: u64,
    created: u64,
}

/// Conversations started in the period, by current status and by channel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationCounts {
    started: u64,
    /// `ai_active`, `handed_off`, `assigned`, `resolved`, `closed`.
    by_status: BTreeMap<String, u64>,
    /// `widget`, `web`, `sms`, `phone`, `email`.
    by_channel: BTreeMap<String, u64>,
}

/// Appointments starting in the period, by current status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppointmentCounts {
    total: u64,
    /// `scheduled`, `confirmed`, `completed`, `cancelled`.
    by_status: BTreeMap<String, u64>,
}

/// Job notes written in the period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobNoteCounts {
    created: u64,
}

/// What happened in the tenant over a period: counts only, no personal
/// data. Handoffs are not counted here: they belong to escalation, and a
/// conversation's record in the CRM keeps only its latest one (see the
/// handoff queue, `GET /v1/handoffs`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivitySummaryView {
    /// The period as applied (RFC 3339): from inclusive, to exclusive.
    from: String,
    to: String,
    customers: CustomerCounts,
    conversations: ConversationCounts,
    appointments: AppointmentCounts,
    job_notes: JobNoteCounts,
}

impl From<ActivitySummary> for ActivitySummaryView {
    fn from(summary: ActivitySummary) -> Self {
        Self {
            from: summary.from,
            to: summary.to,
            customers: CustomerCounts {
                total: summary.customers_total,
                created: summary.customers_created,
            },
            conversations: ConversationCounts {
                started: summary.conversations_started,
                by_status: summary.conversations_by_status.into_iter().collect(),
                by_channel: summary.conversations_by_channel.into_iter().collect(),
            },
            appointments: AppointmentCounts {
                total: summary.appointments,
                by_status: summary.appointments_by_status.into_iter().collect(),
            },
            job_notes: JobNoteCounts {
                created: summary.job_notes,
            },
        }
    }
}

/// A bound on a time parameter, checked before the CRM parses it.
fn bounded(field: &str, value: Option<String>) -> Result<String, ApiError> {
    let value = value.unwrap_or_default();
    if value.chars().count() > MAX_TIME_CHARS {
        return Err(ApiError::invalid(format!(
            "{field} must be an RFC 3339 time"
        )));
    }
    Ok(value)
}

/// `GET /v1/crm/reports/summary?from=&to=`
#[utoipa::path(
    get,
    path = "/v1/crm/reports/summary",
    tag = "crm",
    params(SummaryQuery),
    responses(
        (status = 200, description = "Counts of the tenant's data in the caller's data mode over the period", body = ActivitySummaryView),
        (status = 400, description = "An unknown parameter, a time that is not RFC 3339 (the detail names from or to), from not before to, or more than 366 days between them"),
        (status = 403, description = "Not a manager or owner, or a key without the settings scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn activity_summary(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    uri: http::Uri,
) -> Result<Json<ActivitySummaryView>, ApiError> {
    let query: SummaryQuery = super::query(&uri)?;
    let summary = call(
        &caller.principal,
        &gateway.backends.crm,
        ActivitySummaryRequest {
            from: bounded("from", query.from)?,
            to: bounded("to", query.to)?,
        },
        async |mut crm, request| crm.get_activity_summary(request).await,
    )
    .await?;
    Ok(Json(summary.into()))
}

/// `GET /v1/owner/export`: the tenant's data in the caller's data mode as
/// JSON lines.
#[utoipa::path(
    get,
    path = "/v1/owner/export",
    tag = "owner",
    responses(
        (status = 200, description = "One JSON object per line, each with a `type`: `customer` (decrypted name, phone, email, address), `appointment`, `job_note` (decrypted text and equipment), `conversation` (metadata and summary), `message` (decrypted text); then a last line `{\"type\":\"end\",\"counts\":{\"customers\",\"appointments\",\"job_notes\",\"conversations\",\"messages\"}}` counting the lines sent. A body without the end line was cut short. Channel credentials are never exported. Recorded in the audit log as `data.exported` before the first line is sent", content_type = "application/x-ndjson", body = String),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 503, description = "The export could not be recorded in the audit log (or the CRM is unavailable); nothing was sent, retry later"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn export(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
) -> Result<Response, ApiError> {
    let stream = call(
        &caller.principal,
        &gateway.backends.crm,
        ExportTenantDataRequest {},
        async |mut crm, request| crm.export_tenant_data(request).await,
    )
    .await
    .map_err(not_audited)?;
    // The CRM answers only once the export is in the audit log; a failure
    // later cuts the body short, before its end line.
    let body = Body::from_stream(stream.map(|chunk| {
        chunk
            .map(|chunk| bytes::Bytes::from(chunk.data))
            .map_err(|status| {
                tracing::warn!(%status, "tenant data export interrupted");
                std::io::Error::other("the export was interrupted")
            })
    }));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"rampart-export.ndjson\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// An unavailable CRM and an export the audit log could not hold look the
/// same from here: either way nothing was sent, and the detail says so.
fn not_audited(error: ApiError) -> ApiError {
    if error.status != StatusCode::SERVICE_UNAVAILABLE {
        return error;
    }
    ApiError {
        detail: "the export could not be started and recorded in the audit log; nothing was sent, retry later".to_owned(),
        ..error
    }
}
