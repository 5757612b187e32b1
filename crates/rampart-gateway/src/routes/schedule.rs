//! The tenant's schedule: appointments with its customers and the job notes
//! staff write about the work. Tenant API keys (`read` to read, `write` to
//! write) and tenant users' sessions (agent and up) are accepted; the CRM
//! makes the role and scope checks. Another tenant's ids are simply not
//! found.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_proto::crm::v1::{
    Appointment, CreateAppointmentRequest, CreateJobNoteRequest, GetAppointmentRequest,
    GetJobNoteRequest, JobNote, ListAppointmentsRequest, ListJobNotesRequest,
    UpdateAppointmentRequest,
};
use serde::{Deserialize, Deserializer, Serialize};

use super::conversations::IdempotencyKey;
use super::page::{next_cursor, non_empty, page_size};
use crate::Gateway;
use crate::authn::TenantCaller;
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// An appointment to book.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppointment {
    /// The tenant's customer (`cus_...`).
    #[schema(max_length = 64)]
    customer_id: String,
    /// RFC 3339.
    #[schema(max_length = 64, example = "2026-03-02T09:00:00Z")]
    starts_at: String,
    /// RFC 3339, after `starts_at` and at most 24 hours later.
    #[schema(max_length = 64, example = "2026-03-02T11:00:00Z")]
    ends_at: String,
    /// What the work is, at most 100 characters.
    #[schema(max_length = 100, example = "Boiler service")]
    service_type: String,
    /// The user who does the work (`usr_...`).
    #[serde(default)]
    #[schema(max_length = 64)]
    assignee: Option<String>,
}

/// One appointment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppointmentView {
    id: String,
    customer_id: String,
    starts_at: String,
    ends_at: String,
    service_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<String>,
    /// `scheduled`, `confirmed`, `completed` or `cancelled`.
    #[schema(example = "scheduled")]
    status: String,
    created_at: String,
    updated_at: String,
}

impl From<Appointment> for AppointmentView {
    fn from(appointment: Appointment) -> Self {
        Self {
            id: appointment.id,
            customer_id: appointment.customer_id,
            starts_at: appointment.starts_at,
            ends_at: appointment.ends_at,
            service_type: appointment.service_type,
            assignee: non_empty(appointment.assignee),
            status: appointment.status,
            created_at: appointment.created_at,
            updated_at: appointment.updated_at,
        }
    }
}

/// Reads a field that may be absent (unchanged), null (cleared) or a
/// value: JSON merge-patch's three cases.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// A merge-patch of an appointment: absent fields stay as they are; only
/// `assignee` may be cleared (null).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64)]
    starts_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64)]
    ends_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    service_type: Option<Option<String>>,
    /// `usr_...`, or null to unassign.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 64)]
    assignee: Option<Option<String>>,
    /// The next step: `confirmed`, `completed` or `cancelled`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 16)]
    status: Option<Option<String>>,
}

impl AppointmentPatch {
    /// The CRM's update: absent stays absent, null unassigns (the CRM
    /// reads an empty assignee as none), and null elsewhere is refused.
    fn into_request(self, appointment_id: String) -> Result<UpdateAppointmentRequest, ApiError> {
        Ok(UpdateAppointmentRequest {
            appointment_id,
            starts_at: not_null("starts_at", self.starts_at)?,
            ends_at: not_null("ends_at", self.ends_at)?,
            service_type: not_null("service_type", self.service_type)?,
            assignee: self.assignee.map(Option::unwrap_or_default),
            status: not_null("status", self.status)?,
        })
    }
}

/// A field that cannot be cleared: absent or a value, never null.
fn not_null(field: &str, value: Option<Option<String>>) -> Result<Option<String>, ApiError> {
    match value {
        Some(None) => Err(ApiError::invalid(format!("{field} cannot be null"))),
        Some(Some(value)) => Ok(Some(value)),
        None => Ok(None),
    }
}

/// `POST /v1/crm/appointments`
#[utoipa::path(
    post,
    path = "/v1/crm/appointments",
    tag = "crm",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create answer the first one's appointment")),
    request_body = NewAppointment,
    responses(
        (status = 201, description = "The appointment, scheduled", body = AppointmentView),
        (status = 400, description = "A field is missing or invalid (the detail names it)"),
        (status = 403, description = "The key lacks the write scope"),
        (status = 404, description = "No such customer in the caller's tenant"),
        (status = 409, description = "The Idempotency-Key was used for a different request"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn create_appointment(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(body): JsonBody<NewAppointment>,
) -> Result<(StatusCode, Json<AppointmentView>), ApiError> {
    let appointment = call(
        &caller.principal,
        &gateway.backends.schedule,
        CreateAppointmentRequest {
            customer_id: body.customer_id,
            starts_at: body.starts_at,
            ends_at: body.ends_at,
            service_type: body.service_type,
            assignee: body.assignee.unwrap_or_default(),
            idempotency_key,
        },
        async |mut schedule, request| schedule.create_appointment(request).await,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(appointment.into())))
}

/// `GET /v1/crm/appointments/{appointment_id}`
#[utoipa::path(
    get,
    path = "/v1/crm/appointments/{appointment_id}",
    tag = "crm",
    params(("appointment_id" = String, Path, description = "The appointment's id (apt_...)", max_length = 64)),
    responses(
        (status = 200, description = "The appointment", body = AppointmentView),
        (status = 404, description = "No such appointment in the caller's tenant"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn get_appointment(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(appointment_id): Path<String>,
) -> Result<Json<AppointmentView>, ApiError> {
    let appointment = call(
        &caller.principal,
        &gateway.backends.schedule,
        GetAppointmentRequest { appointment_id },
        async |mut schedule, request| schedule.get_appointment(request).await,
    )
    .await?;
    Ok(Json(appointment.into()))
}

/// `PATCH /v1/crm/appointments/{appointment_id}`: reschedule, reassign, or
/// take a status step (scheduled → confirmed → completed; scheduled or
/// confirmed → cancelled).
#[utoipa::path(
    patch,
    path = "/v1/crm/appointments/{appointment_id}",
    tag = "crm",
    params(("appointment_id" = String, Path, description = "The appointment's id (apt_...)", max_length = 64)),
    request_body = AppointmentPatch,
    responses(
        (status = 200, description = "The appointment, changed", body = AppointmentView),
        (status = 400, description = "A field is invalid (the detail names it)"),
        (status = 403, description = "The key lacks the write scope"),
        (status = 404, description = "No such appointment in the caller's tenant"),
        (status = 409, description = "The status step is not allowed, or the appointment has ended (state-conflict)"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn update_appointment(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(appointment_id): Path<String>,
    JsonBody(body): JsonBody<AppointmentPatch>,
) -> Result<Json<AppointmentView>, ApiError> {
    let appointment = call(
        &caller.principal,
        &gateway.backends.schedule,
        body.into_request(appointment_id)?,
        async |mut schedule, request| schedule.update_appointment(request).await,
    )
    .await?;
    Ok(Json(appointment.into()))
}

/// Filters and page of the appointment list; unknown parameters are
/// refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AppointmentQuery {
    /// `cus_...`
    #[param(max_length = 64)]
    customer_id: Option<String>,
    /// The assigned user's id.
    #[param(max_length = 64)]
    assignee: Option<String>,
    /// `scheduled`, `confirmed`, `completed` or `cancelled`.
    #[param(max_length = 16)]
    status: Option<String>,
    /// Appointments starting at or after this time (RFC 3339).
    #[param(max_length = 64)]
    from: Option<String>,
    /// Appointments starting before this time (RFC 3339).
    #[param(max_length = 64)]
    to: Option<String>,
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$", max_length = 64)]
    cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppointmentList {
    appointments: Vec<AppointmentView>,
    next_cursor: Option<String>,
}

/// `GET /v1/crm/appointments`: newest booking first.
#[utoipa::path(
    get,
    path = "/v1/crm/appointments",
    tag = "crm",
    params(AppointmentQuery),
    responses(
        (status = 200, description = "One page of the tenant's appointments", body = AppointmentList),
        (status = 400, description = "An unknown or malformed filter"),
        (status = 403, description = "The key lacks the read scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn list_appointments(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    uri: http::Uri,
) -> Result<Json<AppointmentList>, ApiError> {
    let query: AppointmentQuery = super::query(&uri)?;
    let page_size = page_size(query.limit)?;
    let list = call(
        &caller.principal,
        &gateway.backends.schedule,
        ListAppointmentsRequest {
            customer_id: query.customer_id.unwrap_or_default(),
            assignee: query.assignee.unwrap_or_default(),
            status: query.status.unwrap_or_default(),
            starts_from: query.from.unwrap_or_default(),
            starts_before: query.to.unwrap_or_default(),
            page_size,
            cursor: query.cursor.unwrap_or_default(),
        },
        async |mut schedule, request| schedule.list_appointments(request).await,
    )
    .await?;
    Ok(Json(AppointmentList {
        appointments: list.appointments.into_iter().map(Into::into).collect(),
        next_cursor: next_cursor(list.next_cursor),
    }))
}

/// A job note to write: on a customer or on an appointment, exactly one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewJobNote {
    /// `cus_...`, for a note on the customer.
    #[serde(default)]
    #[schema(max_length = 64)]
    customer_id: Option<String>,
    /// `apt_...`, for a note on an appointment (its customer is recorded
    /// too).
    #[serde(default)]
    #[schema(max_length = 64)]
    appointment_id: Option<String>,
    /// At most 4000 characters.
    #[schema(max_length = 4000)]
    text: String,
    /// Make, model, serial number: at most 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    equipment: Option<String>,
}

/// One job note.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobNoteView {
    id: String,
    customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    appointment_id: Option<String>,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    equipment: Option<String>,
    /// Who wrote it: `user:<id>` or `api_key:<id>`.
    author: String,
    created_at: String,
}

impl From<JobNote> for JobNoteView {
    fn from(note: JobNote) -> Self {
        Self {
            id: note.id,
            customer_id: note.customer_id,
            appointment_id: non_empty(note.appointment_id),
            text: note.text,
            equipment: non_empty(note.equipment),
            author: note.author,
            created_at: note.created_at,
        }
    }
}

/// `POST /v1/crm/job-notes`
#[utoipa::path(
    post,
    path = "/v1/crm/job-notes",
    tag = "crm",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create answer the first one's note")),
    request_body = NewJobNote,
    responses(
        (status = 201, description = "The job note, written", body = JobNoteView),
        (status = 400, description = "A field is missing or invalid, or both or neither of customer_id and appointment_id were given"),
        (status = 403, description = "The key lacks the write scope"),
        (status = 404, description = "No such customer or appointment in the caller's tenant"),
        (status = 409, description = "The Idempotency-Key was used for a different request"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn create_job_note(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(body): JsonBody<NewJobNote>,
) -> Result<(StatusCode, Json<JobNoteView>), ApiError> {
    let note = call(
        &caller.principal,
        &gateway.backends.schedule,
        CreateJobNoteRequest {
            customer_id: body.customer_id.unwrap_or_default(),
            appointment_id: body.appointment_id.unwrap_or_default(),
            text: body.text,
            equipment: body.equipment.unwrap_or_default(),
            idempotency_key,
        },
        async |mut schedule, request| schedule.create_job_note(request).await,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(note.into())))
}

/// `GET /v1/crm/job-notes/{job_note_id}`
#[utoipa::path(
    get,
    path = "/v1/crm/job-notes/{job_note_id}",
    tag = "crm",
    params(("job_note_id" = String, Path, description = "The job note's id (jnt_...)", max_length = 64)),
    responses(
        (status = 200, description = "The job note", body = JobNoteView),
        (status = 404, description = "No such job note in the caller's tenant"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn get_job_note(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(job_note_id): Path<String>,
) -> Result<Json<JobNoteView>, ApiError> {
    let note = call(
        &caller.principal,
        &gateway.backends.schedule,
        GetJobNoteRequest { job_note_id },
        async |mut schedule, request| schedule.get_job_note(request).await,
    )
    .await?;
    Ok(Json(note.into()))
}

/// Filters and page of the job note list; unknown parameters are refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobNoteQuery {
    /// The customer's notes, those on its appointments included (`cus_...`).
    #[param(max_length = 64)]
    customer_id: Option<String>,
    /// The appointment's notes (`apt_...`).
    #[param(max_length = 64)]
    appointment_id: Option<String>,
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$", max_length = 64)]
    cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobNoteList {
    job_notes: Vec<JobNoteView>,
    next_cursor: Option<String>,
}

/// `GET /v1/crm/job-notes`: newest first.
#[utoipa::path(
    get,
    path = "/v1/crm/job-notes",
    tag = "crm",
    params(JobNoteQuery),
    responses(
        (status = 200, description = "One page of the tenant's job notes", body = JobNoteList),
        (status = 400, description = "An unknown or malformed filter"),
        (status = 403, description = "The key lacks the read scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn list_job_notes(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    uri: http::Uri,
) -> Result<Json<JobNoteList>, ApiError> {
    let query: JobNoteQuery = super::query(&uri)?;
    let page_size = page_size(query.limit)?;
    let list = call(
        &caller.principal,
        &gateway.backends.schedule,
        ListJobNotesRequest {
            customer_id: query.customer_id.unwrap_or_default(),
            appointment_id: query.appointment_id.unwrap_or_default(),
            page_size,
            cursor: query.cursor.unwrap_or_default(),
        },
        async |mut schedule, request| schedule.list_job_notes(request).await,
    )
    .await?;
    Ok(Json(JobNoteList {
        job_notes: list.job_notes.into_iter().map(Into::into).collect(),
        next_cursor: next_cursor(list.next_cursor),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: serde_json::Value) -> AppointmentPatch {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_patch_tells_absent_from_null_from_a_value() {
        let request = patch(serde_json::json!({"assignee": null}))
            .into_request("apt_x".into())
            .unwrap();
        assert_eq!(request.assignee.as_deref(), Some(""));
        assert_eq!(request.status, None);
        assert_eq!(request.starts_at, None);

        let request = patch(serde_json::json!({"status": "confirmed", "assignee": "usr_a"}))
            .into_request("apt_x".into())
            .unwrap();
        assert_eq!(request.status.as_deref(), Some("confirmed"));
        assert_eq!(request.assignee.as_deref(), Some("usr_a"));

        let request = patch(serde_json::json!({}))
            .into_request("apt_x".into())
            .unwrap();
        assert_eq!(request.assignee, None);
    }

    #[test]
    fn null_is_refused_where_a_field_cannot_be_cleared() {
        for field in ["starts_at", "ends_at", "service_type", "status"] {
            let result = patch(serde_json::json!({ field: null })).into_request("apt_x".into());
            assert!(result.is_err(), "{field}");
        }
        assert!(
            serde_json::from_value::<AppointmentPatch>(serde_json::json!({"colour": "red"}))
                .is_err()
        );
    }
}
