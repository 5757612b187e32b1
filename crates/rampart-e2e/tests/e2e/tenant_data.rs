//! A manager's activity report and the owner's bulk export, through the
//! edge on both storage backends: what they hold, how they refuse bad
//! input, and that the export is audited. Who may call them is the role
//! matrix's (`crm_roles`); that nothing of another tenant or the other data
//! mode appears is `crm_isolation`'s, with [`export`] and [`summary`] here.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_e2e::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::accounts::tenant_with_owner;
use crate::crm_roles::{
    Credential, FIXTURE_SCOPES, Mode, Role, World, id_of, issue_key, problem, staff_session,
};
use crate::harness::TestStack;

on_both_backends!(
    an_export_is_complete_opened_and_audited,
    a_report_counts_and_refuses_malformed_periods
);

/// An export read whole: its text (to search) and its records by type,
/// once its shape is checked: the NDJSON content type, one JSON object per
/// line each with a `type`, the end line last and counting exactly the
/// lines of each type.
pub(crate) async fn export(
    stack: &TestStack,
    credential: &Credential,
) -> (String, BTreeMap<String, Vec<Value>>) {
    let response = credential
        .on(stack, Method::GET, "/v1/owner/export")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/x-ndjson",
        "{:?}",
        response.headers()
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with('\n'), "the export ends with a whole line");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    let (end, records) = lines.split_last().expect("at least the end line");
    assert_eq!(end["type"], "end", "{end}");
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for record in records {
        let kind = record["type"].as_str().expect("a type").to_owned();
        assert_ne!(kind, "end", "only the last line ends the export");
        by_type.entry(kind).or_default().push(record.clone());
    }
    let expected: BTreeMap<String, u64> = [
        "customer",
        "appointment",
        "job_note",
        "conversation",
        "message",
    ]
    .iter()
    .map(|kind| {
        let lines = by_type.get(*kind).map_or(0, Vec::len) as u64;
        (format!("{kind}s"), lines)
    })
    .collect();
    let counted: BTreeMap<String, u64> = serde_json::from_value(end["counts"].clone()).unwrap();
    assert_eq!(counted, expected, "the end line counts the lines sent");
    for kind in by_type.keys() {
        assert!(
            expected.contains_key(&format!("{kind}s")),
            "unexpected type {kind}"
        );
    }
    (text, by_type)
}

/// A report of the last 30 days, which must succeed.
pub(crate) async fn summary(stack: &TestStack, credential: &Credential) -> Value {
    credential.get(stack, "/v1/crm/reports/summary").await
}

async fn an_export_is_complete_opened_and_audited(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Export Heating").await;
    let key = issue_key(stack, &tenant.id, Mode::Live, &FIXTURE_SCOPES).await;
    let world = World::create(stack, key.clone(), "Persimmon").await;
    let conversation = key
        .create(
            stack,
            "/v1/crm/conversations",
            json!({ "channel": "sms", "customer_id": world.customer,
                    "text": "my boiler is making a persimmon noise" }),
        )
        .await;
    let conversation = id_of(&conversation);
    let (status, body) = key
        .send(
            stack,
            Method::PUT,
            &format!("/v1/crm/conversations/{conversation}/summary"),
            &json!({ "summary": "noisy boiler, persimmon" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    key.create(
        stack,
        "/v1/owner/channels",
        json!({ "kind": "sms", "display_name": "Desk", "credentials": { "auth_token": "tok-e2e-NEVER-EXPORTED" } }),
    )
    .await;

    let (text, by_type) = export(stack, &Credential::Session(owner)).await;
    let customers = &by_type["customer"];
    assert_eq!(customers.len(), 1, "{text}");
    assert_eq!(customers[0]["id"], world.customer.as_str());
    assert_eq!(customers[0]["name"], "Persimmon Customer");
    assert_eq!(customers[0]["email"], world.email.as_str());
    let phone = customers[0]["phone"].as_str().unwrap();
    assert!(
        phone
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .ends_with(&world.phone[world.phone.len() - 4..]),
        "{phone} is {}",
        world.phone
    );
    assert_eq!(by_type["appointment"][0]["id"], world.appointment.as_str());
    assert_eq!(by_type["job_note"][0]["id"], world.job_note.as_str());
    assert_eq!(by_type["job_note"][0]["text"], "checked the pressure");
    assert_eq!(by_type["conversation"][0]["id"], conversation.as_str());
    assert_eq!(
        by_type["conversation"][0]["summary"],
        "noisy boiler, persimmon"
    );
    assert!(
        by_type["message"]
            .iter()
            .any(|m| m["text"] == "my boiler is making a persimmon noise"),
        "{text}"
    );
    assert!(!text.contains("tok-e2e-NEVER-EXPORTED"));

    // Audited, with the counts, in the tenant's own log.
    let auditor = issue_key(stack, &tenant.id, Mode::Live, &["audit"]).await;
    let mut events = Vec::new();
    for _ in 0..100 {
        let body = auditor
            .get(stack, "/v1/owner/audit?action=data.exported")
            .await;
        events = body["events"].as_array().unwrap().clone();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events.len(), 1, "{events:?}");
    let details = &events[0]["details"];
    assert_eq!(details["mode"], "live", "{details}");
    assert_eq!(details["customers"], "1", "{details}");
    assert_eq!(details["job_notes"], "1", "{details}");
    assert_eq!(details["conversations"], "1", "{details}");
    assert!(events[0]["actor"].as_str().unwrap().starts_with("user:"));
    assert!(!events[0].to_string().contains("Persimmon"));
}

async fn a_report_counts_and_refuses_malformed_periods(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Report Heating").await;
    let key = issue_key(stack, &tenant.id, Mode::Live, &FIXTURE_SCOPES).await;
    let world = World::create(stack, key.clone(), "Report").await;
    key.create(
        stack,
        "/v1/crm/conversations",
        json!({ "channel": "email", "customer_id": world.customer }),
    )
    .await;
    let manager = staff_session(stack, &tenant, &owner, Role::Manager).await;

    let report = summary(stack, &manager).await;
    assert_eq!(
        report["customers"],
        json!({ "total": 1, "created": 1 }),
        "{report}"
    );
    assert_eq!(report["conversations"]["started"], 1, "{report}");
    assert_eq!(
        report["conversations"]["by_channel"]["email"], 1,
        "{report}"
    );
    assert_eq!(report["conversations"]["by_channel"]["sms"], 0, "{report}");
    assert_eq!(report["job_notes"]["created"], 1, "{report}");
    // The world's appointment is in April 2031.
    assert_eq!(report["appointments"]["total"], 0, "{report}");
    let april = manager
        .get(
            stack,
            "/v1/crm/reports/summary?from=2031-04-01T00:00:00Z&to=2031-05-01T00:00:00Z",
        )
        .await;
    assert_eq!(april["appointments"]["total"], 1, "{april}");
    assert_eq!(
        april["appointments"]["by_status"]["scheduled"], 1,
        "{april}"
    );
    assert_eq!(april["customers"]["created"], 0, "{april}");
    assert!(
        !report.to_string().contains("Report Customer"),
        "counts only"
    );
    assert!(
        report.get("handoffs").is_none(),
        "handoffs are escalation's"
    );

    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2031-02-30T00:00:00Z", "to"),
        ("from=2031-02-01T00:00:00Z&to=2031-01-01T00:00:00Z", "from"),
        ("from=2029-01-01T00:00:00Z&to=2031-01-01T00:00:00Z", "from"),
        ("since=2031-01-01T00:00:00Z", "since"),
        (
            "from=2031-01-01T00:00:00Z&from=2031-01-02T00:00:00Z",
            "from",
        ),
        (&format!("from={}", "9".repeat(100)), "from"),
    ] {
        let response = manager
            .on(
                stack,
                Method::GET,
                &format!("/v1/crm/reports/summary?{query}"),
            )
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }
    // An agent is refused, with a problem.
    let agent = staff_session(stack, &tenant, &owner, Role::Agent).await;
    let response = agent
        .on(stack, Method::GET, "/v1/crm/reports/summary")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::FORBIDDEN).await.unwrap();
}
