//! The schedule's routes: what a well-formed request reaches in the CRM
//! and answers, and malformed input refused at the edge before any backend
//! is asked.

use http::StatusCode;
use rampart_kit::api_key::KeyKind;
use serde_json::json;

use crate::stubs::{TestGateway, request};

const APPOINTMENT: &str = "apt_0123456789abcdef0123456789abcdef";
const CUSTOMER: &str = "cus_0123456789abcdef0123456789abcdef";

/// A request: method, path, headers and an optional JSON body.
type Case<'a> = (
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Option<serde_json::Value>,
);

fn booking() -> serde_json::Value {
    json!({
        "customer_id": CUSTOMER,
        "starts_at": "2026-03-02T09:00:00Z",
        "ends_at": "2026-03-02T10:00:00Z",
        "service_type": "Boiler service",
    })
}

#[tokio::test]
async fn each_route_reaches_its_schedule_call_with_its_status() {
    let gateway = TestGateway::start().await;
    let key = gateway.stub.key(KeyKind::Live, &["read", "write"]);
    let agent = format!("Bearer {}", gateway.stub.session("agent"));
    let appointment = format!("/v1/crm/appointments/{APPOINTMENT}");
    let cases: Vec<(Case<'_>, StatusCode, &str)> = vec![
        (
            ("POST", "/v1/crm/appointments".into(), vec![("x-api-key", &key), ("idempotency-key", "book-1")], Some(booking())),
            StatusCode::CREATED,
            "create_appointment",
        ),
        (
            ("GET", "/v1/crm/appointments?customer_id=cus_x&status=scheduled&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&limit=10".into(), vec![("x-api-key", &key)], None),
            StatusCode::OK,
            "list_appointments",
        ),
        (
            ("GET", appointment.clone(), vec![("authorization", &agent)], None),
            StatusCode::OK,
            "get_appointment",
        ),
        (
            ("PATCH", appointment.clone(), vec![("authorization", &agent)], Some(json!({"status": "confirmed", "assignee": null}))),
            StatusCode::OK,
            "update_appointment",
        ),
        (
            ("POST", "/v1/crm/job-notes".into(), vec![("authorization", &agent)], Some(json!({"customer_id": CUSTOMER, "text": "Replaced the pump", "equipment": "SN 1"}))),
            StatusCode::CREATED,
            "create_job_note",
        ),
        (
            ("GET", format!("/v1/crm/job-notes?appointment_id={APPOINTMENT}"), vec![("x-api-key", &key)], None),
            StatusCode::OK,
            "list_job_notes",
        ),
        (
            ("GET", "/v1/crm/job-notes/jnt_0123456789abcdef0123456789abcdef".into(), vec![("x-api-key", &key)], None),
            StatusCode::OK,
            "get_job_note",
        ),
    ];
    for ((method, path, headers, body), expected, call) in cases {
        let (status, answer) = gateway.send(request(method, &path, &headers, body)).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        assert_eq!(gateway.stub.calls(call), 1, "{method} {path}");
        assert!(answer.is_object(), "{method} {path}: {answer}");
    }
}

#[tokio::test]
async fn malformed_input_reaches_no_backend() {
    let gateway = TestGateway::start().await;
    let key = gateway.stub.key(KeyKind::Live, &["read", "write"]);
    let long_key = "k".repeat(256);
    let appointment = format!("/v1/crm/appointments/{APPOINTMENT}");
    let mut unknown_field = booking();
    unknown_field["status"] = json!("completed");
    let mut wrong_type = booking();
    wrong_type["starts_at"] = json!(1_772_442_000);
    let cases: Vec<Case<'_>> = vec![
        (
            "POST",
            "/v1/crm/appointments".into(),
            vec![("x-api-key", &key), ("idempotency-key", &long_key)],
            Some(booking()),
        ),
        (
            "POST",
            "/v1/crm/appointments".into(),
            vec![("x-api-key", &key)],
            Some(unknown_field),
        ),
        (
            "POST",
            "/v1/crm/appointments".into(),
            vec![("x-api-key", &key)],
            Some(wrong_type),
        ),
        (
            "POST",
            "/v1/crm/appointments".into(),
            vec![("x-api-key", &key)],
            Some(json!({"customer_id": CUSTOMER})),
        ),
        (
            "PATCH",
            appointment.clone(),
            vec![("x-api-key", &key)],
            Some(json!({"status": null})),
        ),
        (
            "PATCH",
            appointment.clone(),
            vec![("x-api-key", &key)],
            Some(json!({"starts_at": null})),
        ),
        (
            "PATCH",
            appointment.clone(),
            vec![("x-api-key", &key)],
            Some(json!({"customer_id": CUSTOMER})),
        ),
        (
            "GET",
            "/v1/crm/appointments?colour=red".into(),
            vec![("x-api-key", &key)],
            None,
        ),
        (
            "GET",
            "/v1/crm/appointments?limit=0".into(),
            vec![("x-api-key", &key)],
            None,
        ),
        (
            "GET",
            "/v1/crm/job-notes?limit=101".into(),
            vec![("x-api-key", &key)],
            None,
        ),
        (
            "GET",
            "/v1/crm/job-notes?author=me".into(),
            vec![("x-api-key", &key)],
            None,
        ),
        (
            "POST",
            "/v1/crm/job-notes".into(),
            vec![("x-api-key", &key)],
            Some(json!({"customer_id": CUSTOMER})),
        ),
        (
            "POST",
            "/v1/crm/job-notes".into(),
            vec![("x-api-key", &key)],
            Some(json!({"customer_id": CUSTOMER, "text": "x", "author": "someone"})),
        ),
    ];
    for (method, path, headers, body) in cases {
        let before = gateway.stub.work_calls();
        let (status, answer) = gateway
            .send(request(method, &path, &headers, body.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {headers:?} {body:?}: {answer}"
        );
        assert_eq!(
            gateway.stub.work_calls(),
            before,
            "{method} {path} reached a backend"
        );
    }
}
