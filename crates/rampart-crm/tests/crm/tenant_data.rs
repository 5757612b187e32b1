//! A manager's activity report and the owner's bulk export, through
//! `CrmService`: what they count and hold, who may ask, and that another
//! tenant's data and the other data mode's never appear.

use std::collections::{BTreeMap, HashSet};

use rampart_crm::store::EXPORT_PAGE;
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::principal::{DataMode, Principal, Role};
use rampart_kit::testing::{TestDatabase, admin_principal, expect_code, request_as};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::{TestApp, post, start_request, user};

on_both_databases!(
    a_report_counts_the_period_by_status_and_channel,
    a_report_is_a_managers_and_refuses_others,
    malformed_periods_are_refused_naming_the_field,
    an_export_holds_exactly_the_tenants_data_opened,
    an_export_in_test_mode_holds_only_test_data,
    an_export_is_the_owners_alone,
    an_export_the_audit_log_cannot_hold_sends_nothing,
    an_export_reads_in_pages
);

/// A key of `tenant` holding `scopes`, in `mode`.
fn key(tenant: &TenantId, mode: DataMode, scopes: &[&str]) -> Principal {
    Principal {
        mode,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..rampart_kit::testing::tenant_principal(tenant)
    }
}

/// A read-write key that also holds `owner` and `settings`: it sets up
/// the data, and exports and reports it.
fn full_key(tenant: &TenantId, mode: DataMode) -> Principal {
    key(tenant, mode, &["read", "write", "settings", "owner"])
}

async fn created_tenant(app: &TestApp, name: &str) -> TenantId {
    let tenant = app
        .client()
        .await
        .create_tenant(request_as(
            &admin_principal(),
            proto::CreateTenantRequest {
                name: name.into(),
                office_domains: Vec::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    TenantId::parse(&tenant.id).unwrap()
}

fn period(from: &str, to: &str) -> proto::ActivitySummaryRequest {
    proto::ActivitySummaryRequest {
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

async fn report(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    request: proto::ActivitySummaryRequest,
) -> Result<proto::ActivitySummary, tonic::Status> {
    crm.get_activity_summary(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

/// Everything one tenant's mode holds, made with distinctive values under
/// `tag`, and what an export must show of it.
struct Made {
    customers: Vec<proto::Customer>,
    appointments: Vec<proto::Appointment>,
    job_notes: Vec<proto::JobNote>,
    conversations: Vec<String>,
    /// Message texts, as posted.
    messages: Vec<String>,
    summary: String,
}

/// Two customers (one under a legal hold when `owner` may place it), an
/// appointment in May 2031 and one in September, two job notes, two
/// conversations (web and sms) with messages and a summary.
async fn make(app: &TestApp, principal: &Principal, tag: &str) -> Made {
    let mut crm = app.client().await;
    let mut schedule = app.schedule_client().await;
    let mut customers = Vec::new();
    for (index, name) in ["Zebulon", "Quintessa"].iter().enumerate() {
        let customer = crm
            .create_customer(request_as(
                principal,
                proto::CreateCustomerRequest {
                    name: format!("{name} {tag}"),
                    phone: Some(format!("+44 161 496 {:04}", 100 * index + tag.len())),
                    email: Some(format!("{}.{tag}@example.org", name.to_lowercase())),
                    address: Some(format!("{index} {tag} Lane")),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        customers.push(customer);
    }
    app.owner_client_as(rampart_kit::pki::ServiceName::Gateway)
        .await
        .set_legal_hold(request_as(
            principal,
            proto::SetLegalHoldRequest {
                customer_id: customers[1].id.clone(),
                held: true,
                reason: "litigation".into(),
            },
        ))
        .await
        .unwrap();
    let mut appointments = Vec::new();
    for (starts_at, ends_at) in [
        ("2031-05-06T09:00:00Z", "2031-05-06T10:00:00Z"),
        ("2031-09-06T09:00:00Z", "2031-09-06T10:00:00Z"),
    ] {
        let appointment = schedule
            .create_appointment(request_as(
                principal,
                proto::CreateAppointmentRequest {
                    customer_id: customers[0].id.clone(),
                    starts_at: starts_at.into(),
                    ends_at: ends_at.into(),
                    service_type: format!("boiler {tag}"),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        appointments.push(appointment);
    }
    let mut job_notes = Vec::new();
    for request in [
        proto::CreateJobNoteRequest {
            customer_id: customers[1].id.clone(),
            text: format!("valve seized {tag}"),
            equipment: format!("Worcester {tag}"),
            ..Default::default()
        },
        proto::CreateJobNoteRequest {
            appointment_id: appointments[0].id.clone(),
            text: format!("pressure fine {tag}"),
            ..Default::default()
        },
    ] {
        job_notes.push(
            schedule
                .create_job_note(request_as(principal, request))
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let mut conversations = Vec::new();
    let mut messages = Vec::new();
    for channel in ["web", "sms"] {
        let first = format!("hello from {channel} {tag}");
        let started = crm
            .start_conversation(request_as(
                principal,
                proto::StartConversationRequest {
                    customer_id: customers[0].id.clone(),
                    ..start_request(channel, &first)
                },
            ))
            .await
            .unwrap()
            .into_inner();
        messages.push(first);
        let second = format!("second word {channel} {tag}");
        crm.post_customer_message(request_as(principal, post(&started.id, &second)))
            .await
            .unwrap();
        messages.push(second);
        conversations.push(started.id);
    }
    let summary = format!("asked about boilers {tag}");
    crm.set_summary(request_as(
        principal,
        proto::SetSummaryRequest {
            conversation_id: conversations[0].clone(),
            summary: summary.clone(),
        },
    ))
    .await
    .unwrap();
    Made {
        customers,
        appointments,
        job_notes,
        conversations,
        messages,
        summary,
    }
}

async fn a_report_counts_the_period_by_status_and_channel(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let tenant = created_tenant(&app, "Report Plumbing").await;
    let principal = full_key(&tenant, DataMode::Live);
    make(&app, &principal, "live").await;
    // Another tenant and the test mode hold data of their own, which the
    // report must not count.
    let other = created_tenant(&app, "Other Plumbing").await;
    make(&app, &full_key(&other, DataMode::Live), "other").await;
    make(&app, &full_key(&tenant, DataMode::Test), "test").await;

    // Now, by default: every customer and conversation made just now.
    let now = report(&mut crm, &principal, period("", "")).await.unwrap();
    assert_eq!(now.customers_total, 2);
    assert_eq!(now.customers_created, 2);
    assert_eq!(now.conversations_started, 2);
    assert_eq!(now.conversations_by_channel["web"], 1);
    assert_eq!(now.conversations_by_channel["sms"], 1);
    assert_eq!(now.conversations_by_channel["email"], 0);
    // The statuses, as the conversations list reports them.
    let listed = crm
        .list_conversations(request_as(
            &principal,
            proto::ListConversationsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    let mut expected: BTreeMap<String, u64> =
        ["ai_active", "handed_off", "assigned", "resolved", "closed"]
            .iter()
            .map(|s| ((*s).to_owned(), 0))
            .collect();
    for conversation in &listed.conversations {
        *expected.get_mut(&conversation.status).unwrap() += 1;
    }
    let by_status: BTreeMap<String, u64> =
        now.conversations_by_status.clone().into_iter().collect();
    assert_eq!(by_status, expected);
    assert_eq!(now.job_notes, 2);
    // Both appointments start in 2031, outside the last 30 days.
    assert_eq!(now.appointments, 0);

    // May 2031: one appointment, scheduled; nothing created then.
    let may = report(
        &mut crm,
        &principal,
        period("2031-05-01T00:00:00Z", "2031-06-01T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(may.appointments, 1);
    assert_eq!(may.appointments_by_status["scheduled"], 1);
    assert_eq!(may.appointments_by_status["cancelled"], 0);
    assert_eq!(may.customers_total, 2, "the total is whenever created");
    assert_eq!(may.customers_created, 0);
    assert_eq!(may.conversations_started, 0);
    assert_eq!(may.job_notes, 0);
    assert_eq!(may.from, "2031-05-01T00:00:00.000000Z");
    assert_eq!(may.to, "2031-06-01T00:00:00.000000Z");

    // The test mode counts its own, and only its own.
    let test = report(&mut crm, &full_key(&tenant, DataMode::Test), period("", ""))
        .await
        .unwrap();
    assert_eq!(test.customers_total, 2);
    assert_eq!(test.conversations_started, 2);
}

async fn a_report_is_a_managers_and_refuses_others(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let tenant = created_tenant(&app, "Roles Plumbing").await;
    for allowed in [
        user(&tenant, Role::Manager),
        user(&tenant, Role::Owner),
        key(&tenant, DataMode::Live, &["settings"]),
    ] {
        report(&mut crm, &allowed, period("", "")).await.unwrap();
    }
    for refused in [
        user(&tenant, Role::Agent),
        key(&tenant, DataMode::Live, &["read", "write"]),
        key(&tenant, DataMode::Live, &["owner"]),
        key(&tenant, DataMode::Live, &["audit"]),
    ] {
        expect_code(
            report(&mut crm, &refused, period("", "")).await,
            Code::PermissionDenied,
        );
    }
    expect_code(
        report(&mut crm, &admin_principal(), period("", "")).await,
        Code::PermissionDenied,
    );
}

async fn malformed_periods_are_refused_naming_the_field(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let tenant = created_tenant(&app, "Periods Plumbing").await;
    let manager = user(&tenant, Role::Manager);
    for (from, to, field) in [
        ("last week", "", "from"),
        ("", "2026-02-30T00:00:00Z", "to"),
        ("2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z", "from"),
        ("2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", "from"),
        ("2024-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "from"),
        ("2026-01-01\u{0}", "", "from"),
    ] {
        let status = expect_code(
            report(&mut crm, &manager, period(from, to)).await,
            Code::InvalidArgument,
        );
        assert!(
            status.message().starts_with(field),
            "{from:?}..{to:?}: {}",
            status.message()
        );
    }
}

/// The export's raw bytes, or its failure.
async fn export(app: &TestApp, principal: &Principal) -> Result<Vec<u8>, tonic::Status> {
    let mut stream = app
        .client()
        .await
        .export_tenant_data(request_as(principal, proto::ExportTenantDataRequest {}))
        .await?
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        bytes.extend_from_slice(&chunk.data);
    }
    Ok(bytes)
}

/// Every line parsed, grouped by type; the end line's counts checked
/// against the lines of each type, and nothing after it.
fn parse(bytes: &[u8]) -> BTreeMap<String, Vec<Value>> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.ends_with('\n'), "the export ends with a whole line");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    let (end, records) = lines.split_last().expect("at least the end line");
    assert_eq!(end["type"], "end", "the last line is the end: {end}");
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for record in records {
        let kind = record["type"].as_str().expect("every line has a type");
        assert_ne!(kind, "end", "only the last line is the end");
        by_type
            .entry(kind.to_owned())
            .or_default()
            .push(record.clone());
    }
    let counted: BTreeMap<String, u64> = serde_json::from_value(end["counts"].clone()).unwrap();
    for kind in [
        "customer",
        "appointment",
        "job_note",
        "conversation",
        "message",
    ] {
        let plural = if kind.ends_with('s') {
            kind.to_owned()
        } else {
            format!("{kind}s")
        };
        let lines = by_type.get(kind).map_or(0, Vec::len) as u64;
        assert_eq!(counted[&plural], lines, "{kind}: end line {end}");
    }
    assert_eq!(counted.len(), 5, "{end}");
    by_type
}

fn ids(lines: &[Value]) -> HashSet<String> {
    lines
        .iter()
        .map(|line| line["id"].as_str().unwrap().to_owned())
        .collect()
}

/// What an export of `made` must hold, exactly.
fn check_export(by_type: &BTreeMap<String, Vec<Value>>, made: &Made) {
    let customers = &by_type["customer"];
    assert_eq!(customers.len(), made.customers.len());
    for customer in &made.customers {
        let line = customers
            .iter()
            .find(|l| l["id"] == customer.id.as_str())
            .unwrap();
        assert_eq!(
            *line,
            json!({
                "type": "customer",
                "id": customer.id,
                "name": customer.name,
                "phone": customer.phone,
                "email": customer.email,
                "address": customer.address,
                "created_at": customer.created_at,
            })
        );
    }
    let appointments = &by_type["appointment"];
    assert_eq!(
        ids(appointments),
        made.appointments.iter().map(|a| a.id.clone()).collect()
    );
    for appointment in &made.appointments {
        let line = appointments
            .iter()
            .find(|l| l["id"] == appointment.id.as_str())
            .unwrap();
        assert_eq!(line["customer_id"], appointment.customer_id.as_str());
        assert_eq!(line["service_type"], appointment.service_type.as_str());
        assert_eq!(line["status"], "scheduled");
        assert_eq!(line["starts_at"], appointment.starts_at.as_str());
    }
    let notes = &by_type["job_note"];
    assert_eq!(
        ids(notes),
        made.job_notes.iter().map(|n| n.id.clone()).collect()
    );
    for note in &made.job_notes {
        let line = notes.iter().find(|l| l["id"] == note.id.as_str()).unwrap();
        assert_eq!(line["text"], note.text.as_str());
        assert_eq!(line["customer_id"], note.customer_id.as_str());
        let equipment = (!note.equipment.is_empty()).then(|| note.equipment.clone());
        assert_eq!(line["equipment"], json!(equipment));
    }
    let conversations = &by_type["conversation"];
    assert_eq!(
        ids(conversations),
        made.conversations.iter().cloned().collect()
    );
    let summarised = conversations
        .iter()
        .find(|l| l["id"] == made.conversations[0].as_str())
        .unwrap();
    assert_eq!(summarised["summary"], made.summary.as_str());
    let messages = &by_type["message"];
    let texts: HashSet<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    for text in &made.messages {
        assert!(
            texts.contains(text.as_str()),
            "{text} missing from {texts:?}"
        );
    }
    // What the messages are: the customer's, plus whatever the flow added
    // (none is another conversation's).
    for message in messages {
        assert!(
            made.conversations
                .iter()
                .any(|c| message["conversation_id"] == c.as_str()),
            "{message}"
        );
    }
}

/// What another tenant's or mode's data leaves in an export: its ids and
/// its distinctive tag.
fn assert_absent(bytes: &[u8], made: &Made, tag: &str) {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(!text.contains(tag), "{tag} leaked into the export");
    let mut foreign: Vec<&str> = made.customers.iter().map(|c| c.id.as_str()).collect();
    foreign.extend(made.appointments.iter().map(|a| a.id.as_str()));
    foreign.extend(made.job_notes.iter().map(|n| n.id.as_str()));
    foreign.extend(made.conversations.iter().map(String::as_str));
    for id in foreign {
        assert!(!text.contains(id), "{id} leaked into the export");
    }
}

async fn an_export_holds_exactly_the_tenants_data_opened(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let tenant = created_tenant(&app, "Export Plumbing").await;
    let owner = full_key(&tenant, DataMode::Live);
    let made = make(&app, &owner, "Marmalade").await;
    // A channel whose secret must never leave.
    app.owner_client_as(rampart_kit::pki::ServiceName::Gateway)
        .await
        .create_channel(request_as(
            &owner,
            proto::CreateChannelRequest {
                kind: "sms".into(),
                display_name: "Front desk".into(),
                credentials: json!({"auth_token": "tok-EXPORT-NEVER-97"}).to_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let other = created_tenant(&app, "Other Plumbing").await;
    let foreign = make(&app, &full_key(&other, DataMode::Live), "Tangerine").await;
    let test = make(&app, &full_key(&tenant, DataMode::Test), "Papaya").await;
    let audited_before = app.audit_actions("data.exported").await.len();

    let bytes = export(&app, &owner).await.unwrap();
    let by_type = parse(&bytes);
    check_export(&by_type, &made);
    assert_absent(&bytes, &foreign, "Tangerine");
    assert_absent(&bytes, &test, "Papaya");
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(!text.contains("tok-EXPORT-NEVER-97"));
    assert!(!text.contains("\"type\":\"channel\""));
    // The customer under a legal hold is exported like the other.
    assert!(text.contains(&made.customers[1].id));

    let records = app.audit_actions("data.exported").await;
    assert_eq!(records.len(), audited_before + 1);
    let record = records.last().unwrap();
    record.check_schema().unwrap();
    assert_eq!(record.tenant_id.as_deref(), Some(tenant.as_str()));
    assert_eq!(record.details["mode"], "live");
    assert_eq!(record.details["customers"], "2");
    assert_eq!(record.details["appointments"], "2");
    assert_eq!(record.details["job_notes"], "2");
    assert_eq!(record.details["conversations"], "2");
    assert_eq!(
        record.details["messages"],
        by_type["message"].len().to_string()
    );
    let payload = serde_json::to_string(record).unwrap();
    assert!(
        !payload.contains("Marmalade"),
        "no personal data in the audit record"
    );
}

async fn an_export_in_test_mode_holds_only_test_data(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let tenant = created_tenant(&app, "Mode Plumbing").await;
    let live = make(&app, &full_key(&tenant, DataMode::Live), "Kumquat").await;
    let test_key = full_key(&tenant, DataMode::Test);
    let test = make(&app, &test_key, "Quince").await;

    let bytes = export(&app, &test_key).await.unwrap();
    check_export(&parse(&bytes), &test);
    assert_absent(&bytes, &live, "Kumquat");
    let record = app.audit_actions("data.exported").await.pop().unwrap();
    assert_eq!(record.details["mode"], "test");
}

async fn an_export_is_the_owners_alone(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let tenant = created_tenant(&app, "Owner Plumbing").await;
    make(&app, &full_key(&tenant, DataMode::Live), "Guava").await;
    for refused in [
        user(&tenant, Role::Manager),
        user(&tenant, Role::Agent),
        key(
            &tenant,
            DataMode::Live,
            &["read", "write", "settings", "audit"],
        ),
        admin_principal(),
    ] {
        expect_code(export(&app, &refused).await, Code::PermissionDenied);
    }
    assert!(app.audit_actions("data.exported").await.is_empty());
    for allowed in [
        user(&tenant, Role::Owner),
        key(&tenant, DataMode::Live, &["owner"]),
    ] {
        let bytes = export(&app, &allowed).await.unwrap();
        assert_eq!(parse(&bytes)["customer"].len(), 2);
    }
    assert_eq!(app.audit_actions("data.exported").await.len(), 2);
}

async fn an_export_the_audit_log_cannot_hold_sends_nothing(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let tenant = created_tenant(&app, "Broken Plumbing").await;
    let owner = full_key(&tenant, DataMode::Live);
    make(&app, &owner, "Durian").await;
    // The outbox gone, no audit record can be written.
    app.db
        .execute_unprepared(&format!("DROP TABLE {}", rampart_crm::OUTBOX_TABLE))
        .await
        .unwrap();
    let status = expect_code(export(&app, &owner).await, Code::Unavailable);
    assert!(status.message().contains("audit"), "{}", status.message());
    assert!(!status.message().contains("Durian"));
}

async fn an_export_reads_in_pages(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let tenant = created_tenant(&app, "Busy Plumbing").await;
    let owner = full_key(&tenant, DataMode::Live);
    let mut crm = app.client().await;
    // One page and one more row, so the second page holds one.
    let total = usize::try_from(EXPORT_PAGE).unwrap() + 1;
    let mut created = HashSet::new();
    for index in 0..total {
        let customer = crm
            .create_customer(request_as(
                &owner,
                proto::CreateCustomerRequest {
                    name: format!("Customer {index}"),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        created.insert(customer.id);
    }
    let bytes = export(&app, &owner).await.unwrap();
    let by_type = parse(&bytes);
    assert_eq!(ids(&by_type["customer"]), created);
}
