//! The schedule: appointments and job notes, through `ScheduleService` as
//! the gateway calls it, on both databases.

use rampart_kit::ids::{AppointmentId, JobNoteId, TenantId, UserId};
use rampart_kit::on_both_databases;
use rampart_kit::principal::{DataMode, Principal, Role};
use rampart_kit::testing::{
    TestDatabase, admin_principal, expect_code, request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::schedule_service_client::ScheduleServiceClient;
use sea_orm::ConnectionTrait;
use tonic::Code;
use tonic::transport::Channel;

use crate::customers;
use crate::helpers::{TestApp, new_tenant, user};

on_both_databases!(
    appointments_are_created_read_listed_filtered_and_paged,
    every_status_step_is_allowed_or_refused_as_listed,
    updates_reschedule_reassign_and_audit_field_names_only,
    another_tenant_or_mode_finds_nothing,
    roles_and_scopes_are_enforced,
    malformed_input_names_the_field_and_stores_nothing,
    creates_are_idempotent_by_key,
    job_notes_are_written_read_and_listed,
    job_notes_are_only_ciphertext_in_the_database,
);

type Schedule = ScheduleServiceClient<Channel>;

/// Makes a good booking request bad in one field.
type Spoil = fn(&mut proto::CreateAppointmentRequest);

const START: &str = "2026-03-02T09:00:00Z";
const END: &str = "2026-03-02T11:00:00Z";

fn booking(customer_id: &str) -> proto::CreateAppointmentRequest {
    proto::CreateAppointmentRequest {
        customer_id: customer_id.to_owned(),
        starts_at: START.to_owned(),
        ends_at: END.to_owned(),
        service_type: "Boiler service".to_owned(),
        ..Default::default()
    }
}

fn note_on_customer(customer_id: &str, text: &str) -> proto::CreateJobNoteRequest {
    proto::CreateJobNoteRequest {
        customer_id: customer_id.to_owned(),
        text: text.to_owned(),
        ..Default::default()
    }
}

async fn book(
    schedule: &mut Schedule,
    principal: &Principal,
    request: proto::CreateAppointmentRequest,
) -> Result<proto::Appointment, tonic::Status> {
    schedule
        .create_appointment(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

async fn update(
    schedule: &mut Schedule,
    principal: &Principal,
    request: proto::UpdateAppointmentRequest,
) -> Result<proto::Appointment, tonic::Status> {
    schedule
        .update_appointment(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

fn to_status(id: &str, status: &str) -> proto::UpdateAppointmentRequest {
    proto::UpdateAppointmentRequest {
        appointment_id: id.to_owned(),
        status: Some(status.to_owned()),
        ..Default::default()
    }
}

async fn list(
    schedule: &mut Schedule,
    principal: &Principal,
    request: proto::ListAppointmentsRequest,
) -> Result<proto::ListAppointmentsResponse, tonic::Status> {
    schedule
        .list_appointments(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

async fn write_note(
    schedule: &mut Schedule,
    principal: &Principal,
    request: proto::CreateJobNoteRequest,
) -> Result<proto::JobNote, tonic::Status> {
    schedule
        .create_job_note(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

/// A tenant with a key and one customer; the customer's id.
async fn tenant_with_customer(app: &TestApp) -> (TenantId, Principal, String) {
    let (tenant, key) = new_tenant();
    let customer = customers::create(&mut app.client().await, &key, "Grace Hopper").await;
    (tenant, key, customer.id)
}

async fn appointments_are_created_read_listed_filtered_and_paged(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (_, key, grace) = tenant_with_customer(&app).await;
    let other = customers::create(&mut app.client().await, &key, "Alan Turing")
        .await
        .id;
    let fitter = UserId::generate().into_string();

    let mut request = booking(&grace);
    request.starts_at = "2026-03-02T10:00:00+01:00".into();
    request.ends_at = "2026-03-02T12:30:00+01:00".into();
    request.service_type = "  Boiler service ".into();
    request.assignee = fitter.clone();
    let first = book(&mut schedule, &key, request).await.unwrap();
    assert!(AppointmentId::parse(&first.id).is_ok(), "{}", first.id);
    assert_eq!(first.customer_id, grace);
    assert_eq!(first.starts_at, "2026-03-02T09:00:00.000000Z");
    assert_eq!(first.ends_at, "2026-03-02T11:30:00.000000Z");
    assert_eq!(first.service_type, "Boiler service");
    assert_eq!(first.assignee, fitter);
    assert_eq!(first.status, "scheduled");

    let fetched = schedule
        .get_appointment(request_as(
            &key,
            proto::GetAppointmentRequest {
                appointment_id: first.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, first);

    // Two more: one for the other customer a week later, one confirmed.
    let mut later = booking(&other);
    later.starts_at = "2026-03-09T09:00:00Z".into();
    later.ends_at = "2026-03-09T10:00:00Z".into();
    let second = book(&mut schedule, &key, later).await.unwrap();
    let third = book(&mut schedule, &key, booking(&grace)).await.unwrap();
    update(&mut schedule, &key, to_status(&third.id, "confirmed"))
        .await
        .unwrap();

    let ids = |page: &proto::ListAppointmentsResponse| -> Vec<String> {
        page.appointments.iter().map(|a| a.id.clone()).collect()
    };
    let all = list(&mut schedule, &key, Default::default()).await.unwrap();
    assert_eq!(
        ids(&all),
        [third.id.clone(), second.id.clone(), first.id.clone()]
    );

    let by_customer = proto::ListAppointmentsRequest {
        customer_id: grace.clone(),
        ..Default::default()
    };
    let listed = list(&mut schedule, &key, by_customer).await.unwrap();
    assert_eq!(ids(&listed), [third.id.clone(), first.id.clone()]);
    let by_assignee = proto::ListAppointmentsRequest {
        assignee: fitter.clone(),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(&mut schedule, &key, by_assignee).await.unwrap()),
        [first.id.as_str()]
    );
    let by_status = proto::ListAppointmentsRequest {
        status: "confirmed".into(),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(&mut schedule, &key, by_status).await.unwrap()),
        [third.id.as_str()]
    );
    // The window is [from, before): the week-later one only.
    let window = proto::ListAppointmentsRequest {
        starts_from: "2026-03-03T00:00:00Z".into(),
        starts_before: "2026-03-10T00:00:00Z".into(),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(&mut schedule, &key, window).await.unwrap()),
        [second.id.as_str()]
    );
    let before_first = proto::ListAppointmentsRequest {
        starts_before: "2026-03-02T09:00:00Z".into(),
        ..Default::default()
    };
    assert!(
        list(&mut schedule, &key, before_first)
            .await
            .unwrap()
            .appointments
            .is_empty()
    );

    // Pages of two: the cursor continues where the first page ended.
    let page = proto::ListAppointmentsRequest {
        page_size: 2,
        ..Default::default()
    };
    let first_page = list(&mut schedule, &key, page.clone()).await.unwrap();
    assert_eq!(ids(&first_page), [third.id.clone(), second.id.clone()]);
    assert_eq!(first_page.next_cursor, second.id);
    let next = proto::ListAppointmentsRequest {
        cursor: first_page.next_cursor,
        ..page
    };
    let second_page = list(&mut schedule, &key, next).await.unwrap();
    assert_eq!(ids(&second_page), [first.id.as_str()]);
    assert_eq!(second_page.next_cursor, "");

    let created = app.audit_actions("appointment.created").await;
    assert_eq!(created.len(), 3);
    assert_eq!(created[0].target, format!("appointment:{}", first.id));
}

async fn every_status_step_is_allowed_or_refused_as_listed(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (_, key, customer) = tenant_with_customer(&app).await;
    let statuses = ["scheduled", "confirmed", "completed", "cancelled"];
    // The path that reaches each status, from a new appointment.
    let path_to = |status: &str| -> &'static [&'static str] {
        match status {
            "scheduled" => &[],
            "confirmed" => &["confirmed"],
            "completed" => &["confirmed", "completed"],
            _ => &["cancelled"],
        }
    };
    let allowed = [
        ("scheduled", "confirmed"),
        ("confirmed", "completed"),
        ("scheduled", "cancelled"),
        ("confirmed", "cancelled"),
    ];
    for from in statuses {
        for to in statuses {
            if from == to {
                continue;
            }
            let appointment = book(&mut schedule, &key, booking(&customer)).await.unwrap();
            for step in path_to(from) {
                update(&mut schedule, &key, to_status(&appointment.id, step))
                    .await
                    .unwrap();
            }
            let result = update(&mut schedule, &key, to_status(&appointment.id, to)).await;
            if allowed.contains(&(from, to)) {
                assert_eq!(result.unwrap().status, to, "{from} -> {to}");
            } else {
                let status = expect_code(result, Code::FailedPrecondition);
                assert_eq!(
                    status.message(),
                    format!("an appointment cannot go from {from} to {to}")
                );
                let stored = schedule
                    .get_appointment(request_as(
                        &key,
                        proto::GetAppointmentRequest {
                            appointment_id: appointment.id.clone(),
                        },
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(stored.status, from, "{from} -> {to} changed it");
            }
        }
    }
    // An ended appointment keeps its time too.
    let done = book(&mut schedule, &key, booking(&customer)).await.unwrap();
    update(&mut schedule, &key, to_status(&done.id, "cancelled"))
        .await
        .unwrap();
    let reschedule = proto::UpdateAppointmentRequest {
        appointment_id: done.id.clone(),
        starts_at: Some("2026-03-02T08:00:00Z".into()),
        ..Default::default()
    };
    expect_code(
        update(&mut schedule, &key, reschedule).await,
        Code::FailedPrecondition,
    );
}

async fn updates_reschedule_reassign_and_audit_field_names_only(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (tenant, key, customer) = tenant_with_customer(&app).await;
    let agent = user(&tenant, Role::Agent);
    let appointment = book(&mut schedule, &key, booking(&customer)).await.unwrap();
    let fitter = UserId::generate().into_string();

    let change = proto::UpdateAppointmentRequest {
        appointment_id: appointment.id.clone(),
        starts_at: Some("2026-03-03T09:00:00Z".into()),
        ends_at: Some("2026-03-03T10:00:00Z".into()),
        service_type: Some("Gas safety check".into()),
        assignee: Some(fitter.clone()),
        status: Some("confirmed".into()),
    };
    let updated = update(&mut schedule, &agent, change).await.unwrap();
    assert_eq!(updated.starts_at, "2026-03-03T09:00:00.000000Z");
    assert_eq!(updated.ends_at, "2026-03-03T10:00:00.000000Z");
    assert_eq!(updated.service_type, "Gas safety check");
    assert_eq!(updated.assignee, fitter);
    assert_eq!(updated.status, "confirmed");
    assert_eq!(updated.created_at, appointment.created_at);

    // Only the end moves: checked against the stored start.
    let too_early = proto::UpdateAppointmentRequest {
        appointment_id: appointment.id.clone(),
        ends_at: Some("2026-03-03T08:00:00Z".into()),
        ..Default::default()
    };
    let status = expect_code(
        update(&mut schedule, &key, too_early).await,
        Code::InvalidArgument,
    );
    assert_eq!(status.message(), "ends_at must be after starts_at");
    // Unassigning, and a change that changes nothing.
    let unassign = proto::UpdateAppointmentRequest {
        appointment_id: appointment.id.clone(),
        assignee: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(
        update(&mut schedule, &key, unassign)
            .await
            .unwrap()
            .assignee,
        ""
    );
    let same = to_status(&appointment.id, "confirmed");
    assert_eq!(
        update(&mut schedule, &key, same).await.unwrap().status,
        "confirmed"
    );

    let events = app.audit_actions("appointment.updated").await;
    assert_eq!(events.len(), 2, "the no-op wrote an event");
    assert_eq!(events[0].actor, agent.actor());
    assert_eq!(
        events[0].details["changed"],
        "starts_at,ends_at,service_type,assignee,status"
    );
    assert_eq!(events[0].details["from"], "scheduled");
    assert_eq!(events[0].details["to"], "confirmed");
    assert_eq!(events[1].details["changed"], "assignee");
    assert!(!events[1].details.contains_key("from"));
    let payloads = app.audit_payloads().await.join("\n");
    assert!(!payloads.contains("Gas safety"), "{payloads}");
    assert!(!payloads.contains("Grace"), "{payloads}");
}

async fn another_tenant_or_mode_finds_nothing(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (tenant, key, customer) = tenant_with_customer(&app).await;
    let appointment = book(&mut schedule, &key, booking(&customer)).await.unwrap();
    let note = write_note(
        &mut schedule,
        &key,
        note_on_customer(&customer, "Loft hatch is stiff"),
    )
    .await
    .unwrap();
    let (_, stranger) = new_tenant();
    let test_key = tenant_principal(&tenant).in_mode(DataMode::Test);

    for outsider in [&stranger, &test_key] {
        let get = proto::GetAppointmentRequest {
            appointment_id: appointment.id.clone(),
        };
        let status = expect_code(
            schedule.get_appointment(request_as(outsider, get)).await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "appointment not found");
        let move_it = to_status(&appointment.id, "cancelled");
        expect_code(
            update(&mut schedule, outsider, move_it).await,
            Code::NotFound,
        );
        let get = proto::GetJobNoteRequest {
            job_note_id: note.id.clone(),
        };
        let status = expect_code(
            schedule.get_job_note(request_as(outsider, get)).await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "job note not found");
        // Their customer is not theirs to book or to write about.
        let status = expect_code(
            book(&mut schedule, outsider, booking(&customer)).await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "customer not found");
        let status = expect_code(
            write_note(&mut schedule, outsider, note_on_customer(&customer, "x")).await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "customer not found");
        let on_appointment = proto::CreateJobNoteRequest {
            appointment_id: appointment.id.clone(),
            text: "x".into(),
            ..Default::default()
        };
        let status = expect_code(
            write_note(&mut schedule, outsider, on_appointment).await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "appointment not found");
        // Lists, even filtered by the other's ids, show nothing.
        let listed = list(
            &mut schedule,
            outsider,
            proto::ListAppointmentsRequest {
                customer_id: customer.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(listed.appointments.is_empty());
        let notes = schedule
            .list_job_notes(request_as(outsider, proto::ListJobNotesRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(notes.job_notes.is_empty());
    }
    // Nothing the outsiders tried was stored, and the original is as it was.
    assert_eq!(app.count_rows("crm_appointment").await, 1);
    assert_eq!(app.count_rows("crm_job_note").await, 1);
    let get = proto::GetAppointmentRequest {
        appointment_id: appointment.id.clone(),
    };
    let stored = schedule
        .get_appointment(request_as(&key, get))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.status, "scheduled");

    // And the test mode has a schedule of its own, which live keys cannot see.
    let test_customer = customers::create(&mut app.client().await, &test_key, "Test Person").await;
    let test_appointment = book(&mut schedule, &test_key, booking(&test_customer.id))
        .await
        .unwrap();
    let get = proto::GetAppointmentRequest {
        appointment_id: test_appointment.id.clone(),
    };
    expect_code(
        schedule.get_appointment(request_as(&key, get)).await,
        Code::NotFound,
    );
    let live = list(&mut schedule, &key, Default::default()).await.unwrap();
    assert_eq!(live.appointments.len(), 1);
    let test = list(&mut schedule, &test_key, Default::default())
        .await
        .unwrap();
    assert_eq!(test.appointments.len(), 1);
    assert_eq!(test.appointments[0].id, test_appointment.id);
}

async fn roles_and_scopes_are_enforced(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (tenant, key, customer) = tenant_with_customer(&app).await;

    // Every tenant role may read and write the schedule.
    for role in Role::TENANT_ROLES {
        let person = user(&tenant, role);
        let appointment = book(&mut schedule, &person, booking(&customer))
            .await
            .unwrap();
        update(
            &mut schedule,
            &person,
            to_status(&appointment.id, "confirmed"),
        )
        .await
        .unwrap();
        write_note(&mut schedule, &person, note_on_customer(&customer, "ok"))
            .await
            .unwrap();
        list(&mut schedule, &person, Default::default())
            .await
            .unwrap();
    }
    let written = app.count_rows("crm_appointment").await;

    let read_only = Principal {
        scopes: vec!["read".into()],
        ..key.clone()
    };
    let write_only = Principal {
        scopes: vec!["write".into()],
        ..key.clone()
    };
    let settings_only = Principal {
        scopes: vec!["settings".into(), "audit".into()],
        ..key.clone()
    };
    let admin = admin_principal();
    let widget = crate::helpers::widget_key(&tenant);
    for refused in [&read_only, &settings_only, &admin, &widget] {
        expect_code(
            book(&mut schedule, refused, booking(&customer)).await,
            Code::PermissionDenied,
        );
        expect_code(
            write_note(&mut schedule, refused, note_on_customer(&customer, "no")).await,
            Code::PermissionDenied,
        );
    }
    let some_appointment = list(&mut schedule, &key, Default::default())
        .await
        .unwrap()
        .appointments[0]
        .id
        .clone();
    expect_code(
        update(
            &mut schedule,
            &read_only,
            to_status(&some_appointment, "cancelled"),
        )
        .await,
        Code::PermissionDenied,
    );
    for refused in [&write_only, &settings_only, &admin, &widget] {
        expect_code(
            list(&mut schedule, refused, Default::default()).await,
            Code::PermissionDenied,
        );
        let get = proto::GetAppointmentRequest {
            appointment_id: some_appointment.clone(),
        };
        expect_code(
            schedule.get_appointment(request_as(refused, get)).await,
            Code::PermissionDenied,
        );
        expect_code(
            schedule
                .list_job_notes(request_as(refused, proto::ListJobNotesRequest::default()))
                .await,
            Code::PermissionDenied,
        );
    }
    // The read-only key reads.
    list(&mut schedule, &read_only, Default::default())
        .await
        .unwrap();
    assert_eq!(app.count_rows("crm_appointment").await, written);
    assert_eq!(app.count_rows("crm_job_note").await, 3);
}

async fn malformed_input_names_the_field_and_stores_nothing(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (_, key, customer) = tenant_with_customer(&app).await;
    let events_before = app.audit_records().await.len();

    let bad_bookings: Vec<(&str, Spoil)> = vec![
        ("starts_at", |r| r.starts_at = "next tuesday".into()),
        ("starts_at", |r| r.starts_at = String::new()),
        ("ends_at", |r| r.ends_at = "2026-03-02".into()),
        ("ends_at", |r| r.ends_at = "2026-03-02T08:00:00Z".into()),
        ("ends_at", |r| r.ends_at = START.into()),
        ("ends_at", |r| r.ends_at = "2026-03-03T09:00:01Z".into()),
        ("service_type", |r| r.service_type = " ".into()),
        ("service_type", |r| r.service_type = "x".repeat(101)),
        ("assignee", |r| r.assignee = "bob".into()),
        ("idempotency_key", |r| r.idempotency_key = "k".repeat(201)),
    ];
    for (field, spoil) in bad_bookings {
        let mut request = booking(&customer);
        spoil(&mut request);
        let status = expect_code(
            book(&mut schedule, &key, request).await,
            Code::InvalidArgument,
        );
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }
    let appointment = book(&mut schedule, &key, booking(&customer)).await.unwrap();
    let bad_updates: Vec<(&str, proto::UpdateAppointmentRequest)> = vec![
        ("status", to_status(&appointment.id, "done")),
        (
            "starts_at",
            proto::UpdateAppointmentRequest {
                appointment_id: appointment.id.clone(),
                starts_at: Some("yesterday".into()),
                ..Default::default()
            },
        ),
        (
            "ends_at",
            proto::UpdateAppointmentRequest {
                appointment_id: appointment.id.clone(),
                starts_at: Some("2026-03-02T10:00:00Z".into()),
                ends_at: Some("2026-03-05T10:00:00Z".into()),
                ..Default::default()
            },
        ),
        (
            "service_type",
            proto::UpdateAppointmentRequest {
                appointment_id: appointment.id.clone(),
                service_type: Some(String::new()),
                status: Some("confirmed".into()),
                ..Default::default()
            },
        ),
    ];
    for (field, request) in bad_updates {
        let status = expect_code(
            update(&mut schedule, &key, request).await,
            Code::InvalidArgument,
        );
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }
    let unchanged = schedule
        .get_appointment(request_as(
            &key,
            proto::GetAppointmentRequest {
                appointment_id: appointment.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged, appointment);
    let bad_list = proto::ListAppointmentsRequest {
        status: "open".into(),
        ..Default::default()
    };
    let status = expect_code(
        list(&mut schedule, &key, bad_list).await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("status"));
    let bad_list = proto::ListAppointmentsRequest {
        starts_from: "soon".into(),
        ..Default::default()
    };
    let status = expect_code(
        list(&mut schedule, &key, bad_list).await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("starts_from"));

    let bad_notes: Vec<(&str, proto::CreateJobNoteRequest)> = vec![
        ("text", note_on_customer(&customer, "  ")),
        ("text", note_on_customer(&customer, &"n".repeat(4001))),
        ("text", note_on_customer(&customer, "bell\u{7}")),
        (
            "equipment",
            proto::CreateJobNoteRequest {
                equipment: "e".repeat(1001),
                ..note_on_customer(&customer, "fine")
            },
        ),
        (
            "customer_id",
            proto::CreateJobNoteRequest {
                text: "fine".into(),
                ..Default::default()
            },
        ),
        (
            "appointment_id",
            proto::CreateJobNoteRequest {
                appointment_id: appointment.id.clone(),
                ..note_on_customer(&customer, "fine")
            },
        ),
    ];
    for (field, request) in bad_notes {
        let status = expect_code(
            write_note(&mut schedule, &key, request).await,
            Code::InvalidArgument,
        );
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }
    // A malformed id names nothing.
    expect_code(
        book(&mut schedule, &key, booking("cus_nope")).await,
        Code::NotFound,
    );

    assert_eq!(app.count_rows("crm_appointment").await, 1);
    assert_eq!(app.count_rows("crm_job_note").await, 0);
    // Only the one booking was audited.
    assert_eq!(app.audit_records().await.len(), events_before + 1);
}

async fn creates_are_idempotent_by_key(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (tenant, key, customer) = tenant_with_customer(&app).await;

    let request = proto::CreateAppointmentRequest {
        idempotency_key: "book-1".into(),
        ..booking(&customer)
    };
    let first = book(&mut schedule, &key, request.clone()).await.unwrap();
    let again = book(&mut schedule, &key, request.clone()).await.unwrap();
    assert_eq!(again, first);
    let different = proto::CreateAppointmentRequest {
        service_type: "Something else".into(),
        ..request.clone()
    };
    expect_code(
        book(&mut schedule, &key, different).await,
        Code::AlreadyExists,
    );
    // The same key in the test mode is another key.
    let test_key = tenant_principal(&tenant).in_mode(DataMode::Test);
    let test_customer = customers::create(&mut app.client().await, &test_key, "T").await;
    let test_booking = proto::CreateAppointmentRequest {
        idempotency_key: "book-1".into(),
        ..booking(&test_customer.id)
    };
    assert_ne!(
        book(&mut schedule, &test_key, test_booking)
            .await
            .unwrap()
            .id,
        first.id
    );
    assert_eq!(app.count_rows("crm_appointment").await, 2);

    let note = proto::CreateJobNoteRequest {
        idempotency_key: "note-1".into(),
        equipment: "Worcester 30i, SN 4471".into(),
        ..note_on_customer(&customer, "Replaced the pump")
    };
    let written = write_note(&mut schedule, &key, note.clone()).await.unwrap();
    assert_eq!(
        write_note(&mut schedule, &key, note.clone()).await.unwrap(),
        written
    );
    let changed = proto::CreateJobNoteRequest {
        text: "Replaced the fan".into(),
        ..note
    };
    expect_code(
        write_note(&mut schedule, &key, changed).await,
        Code::AlreadyExists,
    );
    assert_eq!(app.count_rows("crm_job_note").await, 1);
    assert_eq!(app.audit_actions("appointment.created").await.len(), 2);
    assert_eq!(app.audit_actions("job_note.created").await.len(), 1);
}

async fn job_notes_are_written_read_and_listed(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (tenant, key, customer) = tenant_with_customer(&app).await;
    let agent = user(&tenant, Role::Agent);
    let appointment = book(&mut schedule, &key, booking(&customer)).await.unwrap();
    let other_customer = customers::create(&mut app.client().await, &key, "Other")
        .await
        .id;

    let on_customer = write_note(
        &mut schedule,
        &agent,
        note_on_customer(&customer, "Dog in the garden.\nRing twice."),
    )
    .await
    .unwrap();
    assert!(JobNoteId::parse(&on_customer.id).is_ok());
    assert_eq!(on_customer.customer_id, customer);
    assert_eq!(on_customer.appointment_id, "");
    assert_eq!(on_customer.text, "Dog in the garden.\nRing twice.");
    assert_eq!(on_customer.equipment, "");
    assert_eq!(on_customer.author, agent.actor());

    let on_appointment = write_note(
        &mut schedule,
        &key,
        proto::CreateJobNoteRequest {
            appointment_id: appointment.id.clone(),
            text: "Flue needs replacing".into(),
            equipment: "Baxi 600, serial BX-99812".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // The appointment's customer is recorded too.
    assert_eq!(on_appointment.customer_id, customer);
    assert_eq!(on_appointment.appointment_id, appointment.id);
    assert_eq!(on_appointment.equipment, "Baxi 600, serial BX-99812");
    let elsewhere = write_note(
        &mut schedule,
        &key,
        note_on_customer(&other_customer, "Other"),
    )
    .await
    .unwrap();

    let get = proto::GetJobNoteRequest {
        job_note_id: on_appointment.id.clone(),
    };
    let fetched = schedule
        .get_job_note(request_as(&agent, get))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, on_appointment);

    let mut list_notes = async |request: proto::ListJobNotesRequest| -> Vec<String> {
        schedule
            .list_job_notes(request_as(&key, request))
            .await
            .unwrap()
            .into_inner()
            .job_notes
            .into_iter()
            .map(|note| note.id)
            .collect()
    };
    let by_customer = proto::ListJobNotesRequest {
        customer_id: customer.clone(),
        ..Default::default()
    };
    assert_eq!(
        list_notes(by_customer).await,
        [on_appointment.id.clone(), on_customer.id.clone()]
    );
    let by_appointment = proto::ListJobNotesRequest {
        appointment_id: appointment.id.clone(),
        ..Default::default()
    };
    assert_eq!(
        list_notes(by_appointment).await,
        [on_appointment.id.as_str()]
    );
    let paged = proto::ListJobNotesRequest {
        page_size: 2,
        ..Default::default()
    };
    assert_eq!(
        list_notes(paged.clone()).await,
        [elsewhere.id.clone(), on_appointment.id.clone()]
    );
    let rest = proto::ListJobNotesRequest {
        cursor: on_appointment.id.clone(),
        ..paged
    };
    assert_eq!(list_notes(rest).await, [on_customer.id.as_str()]);
    let malformed = proto::ListJobNotesRequest {
        customer_id: "nope".into(),
        ..Default::default()
    };
    let status = expect_code(
        schedule.list_job_notes(request_as(&key, malformed)).await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("customer_id"));

    let events = app.audit_actions("job_note.created").await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].target, format!("job_note:{}", on_appointment.id));
    assert_eq!(events[1].details["appointment_id"], appointment.id);
    assert_eq!(events[1].details["customer_id"], customer);
    let payloads = app.audit_payloads().await.join("\n");
    for secret in ["Dog in the garden", "Flue", "BX-99812"] {
        assert!(!payloads.contains(secret), "{secret} in the audit log");
    }
}

async fn job_notes_are_only_ciphertext_in_the_database(database: TestDatabase) {
    let url = database.url.clone();
    let app = TestApp::spawn(database).await;
    let mut schedule = app.schedule_client().await;
    let (_, key, customer) = tenant_with_customer(&app).await;
    let appointment = book(&mut schedule, &key, booking(&customer)).await.unwrap();
    const TEXT: &str = "Quixotic sprocket gasket under the Wexlerbrook stairs";
    const EQUIPMENT: &str = "Thornvale X9, serial TV-55820913";
    let request = proto::CreateJobNoteRequest {
        appointment_id: appointment.id.clone(),
        text: TEXT.into(),
        equipment: EQUIPMENT.into(),
        idempotency_key: "sealed-1".into(),
        ..Default::default()
    };
    let note = write_note(&mut schedule, &key, request.clone())
        .await
        .unwrap();
    // Read back opened, and a retry still recognises the same request.
    let get = proto::GetJobNoteRequest {
        job_note_id: note.id.clone(),
    };
    let read = schedule
        .get_job_note(request_as(&key, get))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (read.text.as_str(), read.equipment.as_str()),
        (TEXT, EQUIPMENT)
    );
    assert_eq!(
        write_note(&mut schedule, &key, request).await.unwrap(),
        note
    );

    let bytes = crate::vault::dump(&url, &app.db).await;
    assert!(
        crate::vault::contains(&bytes, &note.id),
        "the dump holds the note"
    );
    for secret in ["Quixotic", "Wexlerbrook", "Thornvale", "TV-55820913"] {
        assert!(
            !crate::vault::contains(&bytes, secret),
            "{secret:?} is in the dump"
        );
    }

    // A sealed text copied onto another note (same customer, same data
    // key) does not open there: the row is bound in.
    let other = write_note(
        &mut schedule,
        &key,
        note_on_customer(&customer, "Second note"),
    )
    .await
    .unwrap();
    let copy = format!(
        "UPDATE crm_job_note SET text = (SELECT text FROM crm_job_note WHERE id = '{}') \
         WHERE id = '{}'",
        note.id, other.id
    );
    app.db
        .execute_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            copy,
        ))
        .await
        .unwrap();
    let get = proto::GetJobNoteRequest {
        job_note_id: other.id.clone(),
    };
    expect_code(
        schedule.get_job_note(request_as(&key, get)).await,
        Code::Internal,
    );
}
