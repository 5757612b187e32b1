//! The `ScheduleService` handlers: appointments and job notes.
//!
//! Who may do what (issue 21, least privilege): a signed-in user of the
//! tenant, agent or above, reads and writes both; an API key needs `read`
//! to read and `write` to write. Platform admins have no tenant and are
//! refused.
//!
//! Another tenant's (or the other data mode's) appointment, job note or
//! customer, an unknown id and a malformed one all answer the same
//! NOT_FOUND. A status step outside scheduled → confirmed → completed, or
//! → cancelled before completion, is FAILED_PRECONDITION (the gateway's
//! `state-conflict`). An idempotency key reused for a different request is
//! ALREADY_EXISTS.

use chrono::SecondsFormat;
use rampart_kit::ids::{AppointmentId, CustomerId, JobNoteId, UserId};
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::schedule_service_server::ScheduleService;
use tonic::{Request, Response, Status};

use super::CrmApi;
use crate::Error;
use crate::domain::schedule::parse_time;
use crate::domain::{
    AppointmentStatus, AppointmentWindow, Equipment, IdempotencyKey, InvalidInput, NoteText,
    PageRequest, ServiceType,
};
use crate::entity::appointment;
use crate::store::{
    AppointmentChange, AppointmentFilter, AppointmentStore, DataScope, JobNote, JobNoteFilter,
    JobNoteStore, NewAppointment, NewJobNote, NoteSubject,
};

/// What the caller is about to do with the schedule.
#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

/// People: agent or above, for reads and writes alike; keys: the scope
/// matching the access.
fn authorise(principal: &Principal, access: Access) -> Result<(), Status> {
    if principal.user.is_some() {
        return principal.require_role(Role::Agent).map(|_| ());
    }
    principal.require_scope(match access {
        Access::Read => Scope::Read,
        Access::Write => Scope::Write,
    })
}

/// The scope of a caller allowed `access`, in the handlers' order:
/// principal (tenant), then authorisation.
fn admit<T>(request: &Request<T>, access: Access) -> Result<(Principal, DataScope), Status> {
    let principal = Principal::from_request(request)?;
    let scope = DataScope::of(&principal)?;
    authorise(&principal, access)?;
    Ok((principal, scope))
}

fn optional(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// A referenced customer id that does not parse names no customer.
fn customer_ref(text: &str) -> Result<CustomerId, Error> {
    CustomerId::parse(text).map_err(|_| Error::CustomerNotFound)
}

fn appointment_ref(text: &str) -> Result<AppointmentId, Error> {
    AppointmentId::parse(text).map_err(|_| Error::AppointmentNotFound)
}

fn parse_user(field: &'static str, text: &str) -> Result<UserId, InvalidInput> {
    UserId::parse(text).map_err(|_| InvalidInput::new(field, "must be a user id (usr_...)"))
}

/// A filter id: malformed is a bad request (it is the caller's typo, not a
/// probe of another tenant's rows, which simply list nothing).
fn filter_id<Id>(
    field: &'static str,
    text: &str,
    parse: impl FnOnce(&str) -> Result<Id, rampart_kit::ids::MalformedId>,
) -> Result<Option<Id>, InvalidInput> {
    optional(text)
        .map(|text| parse(text).map_err(|_| InvalidInput::new(field, "is malformed")))
        .transpose()
}

impl CrmApi {
    fn appointments(&self, scope: &DataScope) -> AppointmentStore<'_> {
        AppointmentStore::for_tenant(&self.db, &self.outbox, &self.vault, scope.clone())
    }

    fn job_notes(&self, scope: &DataScope) -> JobNoteStore<'_> {
        JobNoteStore::for_tenant(&self.db, &self.outbox, &self.vault, scope.clone())
    }
}

#[tonic::async_trait]
impl ScheduleService for CrmApi {
    async fn create_appointment(
        &self,
        request: Request<proto::CreateAppointmentRequest>,
    ) -> Result<Response<proto::Appointment>, Status> {
        let (principal, scope) = admit(&request, Access::Write)?;
        let new = parse_new_appointment(request.get_ref())?;
        let appointment = self.appointments(&scope).create(&principal, new).await?;
        tracing::info!(
            tenant_id = %scope.tenant_id,
            appointment_id = %appointment.id,
            request_id = %principal.request_id,
            "appointment created"
        );
        Ok(Response::new(appointment_to_proto(appointment)))
    }

    async fn get_appointment(
        &self,
        request: Request<proto::GetAppointmentRequest>,
    ) -> Result<Response<proto::Appointment>, Status> {
        let (_, scope) = admit(&request, Access::Read)?;
        let id = appointment_ref(&request.get_ref().appointment_id)?;
        let appointment = self.appointments(&scope).get(&id).await?;
        Ok(Response::new(appointment_to_proto(appointment)))
    }

    async fn list_appointments(
        &self,
        request: Request<proto::ListAppointmentsRequest>,
    ) -> Result<Response<proto::ListAppointmentsResponse>, Status> {
        let (_, scope) = admit(&request, Access::Read)?;
        let request = request.get_ref();
        let filter = parse_appointment_filter(request)?;
        let page = PageRequest::parse(request.page_size, &request.cursor, AppointmentId::parse)?;
        let page = self.appointments(&scope).list(&filter, &page).await?;
        Ok(Response::new(proto::ListAppointmentsResponse {
            appointments: page.items.into_iter().map(appointment_to_proto).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn update_appointment(
        &self,
        request: Request<proto::UpdateAppointmentRequest>,
    ) -> Result<Response<proto::Appointment>, Status> {
        let (principal, scope) = admit(&request, Access::Write)?;
        let request = request.get_ref();
        let change = parse_appointment_change(request)?;
        let id = appointment_ref(&request.appointment_id)?;
        let appointment = self
            .appointments(&scope)
            .update(&principal, &id, change)
            .await?;
        tracing::info!(
            tenant_id = %scope.tenant_id,
            appointment_id = %appointment.id,
            status = %appointment.status,
            request_id = %principal.request_id,
            "appointment updated"
        );
        Ok(Response::new(appointment_to_proto(appointment)))
    }

    async fn create_job_note(
        &self,
        request: Request<proto::CreateJobNoteRequest>,
    ) -> Result<Response<proto::JobNote>, Status> {
        let (principal, scope) = admit(&request, Access::Write)?;
        let new = parse_new_job_note(request.get_ref())?;
        let note = self.job_notes(&scope).create(&principal, new).await?;
        tracing::info!(
            tenant_id = %scope.tenant_id,
            job_note_id = %note.id,
            request_id = %principal.request_id,
            "job note created"
        );
        Ok(Response::new(job_note_to_proto(note)))
    }

    async fn get_job_note(
        &self,
        request: Request<proto::GetJobNoteRequest>,
    ) -> Result<Response<proto::JobNote>, Status> {
        let (_, scope) = admit(&request, Access::Read)?;
        let id =
            JobNoteId::parse(&request.get_ref().job_note_id).map_err(|_| Error::JobNoteNotFound)?;
        let note = self.job_notes(&scope).get(&id).await?;
        Ok(Response::new(job_note_to_proto(note)))
    }

    async fn list_job_notes(
        &self,
        request: Request<proto::ListJobNotesRequest>,
    ) -> Result<Response<proto::ListJobNotesResponse>, Status> {
        let (_, scope) = admit(&request, Access::Read)?;
        let request = request.get_ref();
        let filter = JobNoteFilter {
            customer_id: filter_id("customer_id", &request.customer_id, CustomerId::parse)?,
            appointment_id: filter_id(
                "appointment_id",
                &request.appointment_id,
                AppointmentId::parse,
            )?,
        };
        let page = PageRequest::parse(request.page_size, &request.cursor, JobNoteId::parse)?;
        let page = self.job_notes(&scope).list(&filter, &page).await?;
        Ok(Response::new(proto::ListJobNotesResponse {
            job_notes: page.items.into_iter().map(job_note_to_proto).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }
}

/// Parses an appointment to book. Field errors come before the customer's
/// lookup, so a malformed request never learns whether the customer exists.
fn parse_new_appointment(
    request: &proto::CreateAppointmentRequest,
) -> Result<NewAppointment, Status> {
    let window = AppointmentWindow::parse(&request.starts_at, &request.ends_at)?;
    let service_type = ServiceType::parse(&request.service_type)?;
    let assignee = optional(&request.assignee)
        .map(|text| parse_user("assignee", text))
        .transpose()?;
    let idempotency_key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    Ok(NewAppointment {
        customer_id: customer_ref(&request.customer_id)?,
        window,
        service_type,
        assignee,
        idempotency_key,
    })
}

fn parse_appointment_change(
    request: &proto::UpdateAppointmentRequest,
) -> Result<AppointmentChange, InvalidInput> {
    Ok(AppointmentChange {
        starts_at: request
            .starts_at
            .as_deref()
            .map(|text| parse_time("starts_at", text))
            .transpose()?,
        ends_at: request
            .ends_at
            .as_deref()
            .map(|text| parse_time("ends_at", text))
            .transpose()?,
        service_type: request
            .service_type
            .as_deref()
            .map(ServiceType::parse)
            .transpose()?,
        assignee: request
            .assignee
            .as_deref()
            .map(|text| {
                optional(text)
                    .map(|text| parse_user("assignee", text))
                    .transpose()
            })
            .transpose()?,
        status: request
            .status
            .as_deref()
            .map(|text| AppointmentStatus::parse("status", text))
            .transpose()?,
    })
}

fn parse_appointment_filter(
    request: &proto::ListAppointmentsRequest,
) -> Result<AppointmentFilter, InvalidInput> {
    Ok(AppointmentFilter {
        customer_id: filter_id("customer_id", &request.customer_id, CustomerId::parse)?,
        assignee: optional(&request.assignee)
            .map(|text| parse_user("assignee", text))
            .transpose()?,
        status: optional(&request.status)
            .map(|text| AppointmentStatus::parse("status", text))
            .transpose()?,
        starts_from: optional(&request.starts_from)
            .map(|text| parse_time("starts_from", text))
            .transpose()?,
        starts_before: optional(&request.starts_before)
            .map(|text| parse_time("starts_before", text))
            .transpose()?,
    })
}

/// Parses a note to write: exactly one subject, then the text.
fn parse_new_job_note(request: &proto::CreateJobNoteRequest) -> Result<NewJobNote, Status> {
    let subject = match (
        optional(&request.customer_id),
        optional(&request.appointment_id),
    ) {
        (Some(_), Some(_)) => {
            return Err(InvalidInput::new(
                "appointment_id",
                "must not be given with customer_id (a note is on one of them)",
            )
            .into());
        }
        (None, None) => {
            return Err(InvalidInput::new("customer_id", "or appointment_id is required").into());
        }
        (Some(customer), None) => NoteSubject::Customer(customer_ref(customer)?),
        (None, Some(appointment)) => NoteSubject::Appointment(appointment_ref(appointment)?),
    };
    Ok(NewJobNote {
        text: NoteText::parse(&request.text)?,
        equipment: Equipment::parse_optional(&request.equipment)?,
        idempotency_key: IdempotencyKey::parse_optional(&request.idempotency_key)?,
        subject,
    })
}

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn appointment_to_proto(row: appointment::Model) -> proto::Appointment {
    proto::Appointment {
        id: row.id,
        customer_id: row.customer_id,
        starts_at: rfc3339(row.starts_at),
        ends_at: rfc3339(row.ends_at),
        service_type: row.service_type,
        assignee: row.assignee.unwrap_or_default(),
        status: row.status,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

fn job_note_to_proto(note: JobNote) -> proto::JobNote {
    proto::JobNote {
        id: note.id,
        customer_id: note.customer_id,
        appointment_id: note.appointment_id.unwrap_or_default(),
        text: note.text,
        equipment: note.equipment.unwrap_or_default(),
        author: note.author,
        created_at: rfc3339(note.created_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_names_exactly_one_subject() {
        let mut request = proto::CreateJobNoteRequest {
            text: "Checked the boiler".into(),
            ..Default::default()
        };
        let status = parse_new_job_note(&request).unwrap_err();
        assert!(
            status.message().starts_with("customer_id"),
            "{}",
            status.message()
        );
        request.customer_id = CustomerId::generate().into_string();
        request.appointment_id = AppointmentId::generate().into_string();
        let status = parse_new_job_note(&request).unwrap_err();
        assert!(
            status.message().starts_with("appointment_id"),
            "{}",
            status.message()
        );
        request.appointment_id.clear();
        assert!(parse_new_job_note(&request).is_ok());
    }

    #[test]
    fn an_update_leaves_absent_fields_and_an_empty_assignee_unassigns() {
        let change = parse_appointment_change(&proto::UpdateAppointmentRequest {
            assignee: Some(String::new()),
            ..Default::default()
        })
        .unwrap();
        assert!(matches!(change.assignee, Some(None)));
        assert!(change.starts_at.is_none() && change.status.is_none());
        let error = parse_appointment_change(&proto::UpdateAppointmentRequest {
            status: Some("done".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(error.field(), "status");
    }
}
