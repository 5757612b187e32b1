//! Nothing of one tenant reaches another, and nothing of a tenant's test
//! mode reaches its live mode or back, on both storage backends.
//!
//! Each side holds the same kinds of data: customers (one with a phone and
//! an e-mail both sides use), an appointment, a job note, a conversation,
//! settings, a channel and retention periods. Each side's lists, lookups
//! and configuration show only its own; every route that takes an id
//! answers the other side's real ids with a 404 problem (creates naming the
//! other side's customer or appointment included); and afterwards both
//! sides read exactly as before. Each side's activity report counts only
//! its own rows, and its bulk export holds only its own ids.

use rampart_e2e::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::accounts::tenant_with_owner;
use crate::crm_at_rest::CrmDatabase;
use crate::crm_roles::{Credential, FIXTURE_SCOPES, Mode, World, id_of, issue_key, problem};
use crate::harness::TestStack;

on_both_backends!(another_tenants_ids_are_not_found, test_and_live_never_mix);

/// One side's data and the credentials that own it.
struct Side {
    label: &'static str,
    key: Credential,
    /// An owner's session, on a live side.
    session: Option<Credential>,
    world: World,
    /// A customer with the phone and e-mail both sides use.
    twin: String,
    conversation: String,
    channel: String,
    pricing_notes: String,
    conversations_days: u32,
}

/// The phone and e-mail both sides give a customer, so that a lookup
/// that crossed sides would find two.
struct Shared {
    phone: String,
    email: String,
}

impl Shared {
    fn new() -> Self {
        let n = uuid::Uuid::new_v4().simple().to_string();
        let digits: String = n
            .bytes()
            .take(6)
            .map(|b| char::from(b'0' + b % 10))
            .collect();
        Self {
            phone: format!("07700900{digits}"),
            email: format!("twin.{}@example.com", &n[..10]),
        }
    }
}

impl Side {
    async fn new(
        stack: &TestStack,
        label: &'static str,
        key: Credential,
        session: Option<Credential>,
        shared: &Shared,
        conversations_days: u32,
    ) -> Self {
        let world = World::create(stack, key.clone(), label).await;
        let twin = key
            .create(
                stack,
                "/v1/crm/customers",
                json!({ "name": format!("{label} twin"), "phone": shared.phone, "email": shared.email }),
            )
            .await;
        let conversation = key
            .create(
                stack,
                "/v1/crm/conversations",
                json!({ "channel": "sms", "customer_id": world.customer, "text": "hello, is the boiler covered" }),
            )
            .await;
        let channel = key
            .create(
                stack,
                "/v1/owner/channels",
                json!({ "kind": "sms", "display_name": format!("{label} line"),
                        "credentials": { "auth_token": format!("{label}-token") } }),
            )
            .await;
        let pricing_notes = format!("{label} prices");
        let (status, body) = key
            .send(
                stack,
                Method::PUT,
                "/v1/owner/settings",
                &json!({ "settings": {
                    "time_zone": "Europe/London",
                    "opening_hours": {"monday": [], "tuesday": [], "wednesday": [],
                        "thursday": [], "friday": [], "saturday": [], "sunday": []},
                    "emergency": {"keywords": [], "after_hours_phone": null},
                    "sms_templates": {},
                    "pricing_notes": pricing_notes,
                    "transcripts_enabled": false
                }}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = key
            .send(
                stack,
                Method::PUT,
                "/v1/owner/retention",
                &json!({ "conversations_days": conversations_days }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Self {
            label,
            key,
            session,
            twin: id_of(&twin),
            conversation: id_of(&conversation),
            channel: id_of(&channel),
            world,
            pricing_notes,
            conversations_days,
        }
    }

    /// Everything this side can read of its own, and its legal hold rows.
    async fn snapshot(&self, stack: &TestStack, database: &CrmDatabase) -> Value {
        let mut reads = serde_json::Map::new();
        for path in [
            format!("/v1/crm/customers/{}", self.world.customer),
            format!("/v1/crm/customers/{}", self.twin),
            format!("/v1/crm/appointments/{}", self.world.appointment),
            format!("/v1/crm/job-notes/{}", self.world.job_note),
            format!("/v1/crm/conversations/{}", self.conversation),
            "/v1/crm/customers?limit=100".to_owned(),
            "/v1/crm/appointments?limit=100".to_owned(),
            "/v1/crm/job-notes?limit=100".to_owned(),
            "/v1/crm/conversations?limit=100".to_owned(),
            "/v1/owner/settings".to_owned(),
            "/v1/owner/channels".to_owned(),
            "/v1/owner/retention".to_owned(),
        ] {
            let body = self.key.get(stack, &path).await;
            reads.insert(path, body);
        }
        reads.insert(
            "legal hold".to_owned(),
            database.legal_hold(&self.world.customer).await,
        );
        Value::Object(reads)
    }

    /// The credentials that act for this side: its key, and its owner's
    /// session when it has one.
    fn credentials(&self) -> Vec<(&'static str, &Credential)> {
        let mut all = vec![("key", &self.key)];
        if let Some(session) = &self.session {
            all.push(("owner session", session));
        }
        all
    }
}

/// Who a route takes: keys only (customer messages and AI replies come
/// from an integration), people only (agent replies), or both.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Anyone,
    Key,
    Person,
}

/// Every route that takes an id, pointed at `victim`'s ids.
fn attempts(victim: &Side) -> Vec<(Method, String, Value, By)> {
    let customer = format!("/v1/crm/customers/{}", victim.world.customer);
    let appointment = format!("/v1/crm/appointments/{}", victim.world.appointment);
    let conversation = format!("/v1/crm/conversations/{}", victim.conversation);
    let none = Value::Null;
    vec![
        (Method::GET, customer.clone(), none.clone(), By::Anyone),
        (
            Method::PATCH,
            customer.clone(),
            json!({ "address": "1 Hijack Street" }),
            By::Anyone,
        ),
        (
            Method::PUT,
            format!("{customer}/legal-hold"),
            json!({ "held": true, "reason": "not yours" }),
            By::Anyone,
        ),
        (Method::GET, appointment.clone(), none.clone(), By::Anyone),
        (
            Method::PATCH,
            appointment,
            json!({ "status": "cancelled" }),
            By::Anyone,
        ),
        (
            Method::GET,
            format!("/v1/crm/job-notes/{}", victim.world.job_note),
            none.clone(),
            By::Anyone,
        ),
        (Method::GET, conversation.clone(), none.clone(), By::Anyone),
        (
            Method::POST,
            format!("{conversation}/messages"),
            json!({ "text": "let me in" }),
            By::Key,
        ),
        (
            Method::POST,
            format!("{conversation}/ai-replies"),
            json!({ "text": "Your account is closed." }),
            By::Key,
        ),
        (
            Method::POST,
            format!("{conversation}/agent-replies"),
            json!({ "text": "Please send your card number." }),
            By::Person,
        ),
        (
            Method::PUT,
            format!("{conversation}/summary"),
            json!({ "summary": "rewritten" }),
            By::Anyone,
        ),
        (
            Method::DELETE,
            format!("/v1/owner/channels/{}", victim.channel),
            none,
            By::Anyone,
        ),
        // Creates naming the victim's customer or appointment.
        (
            Method::POST,
            "/v1/crm/appointments".to_owned(),
            json!({
                "customer_id": victim.world.customer,
                "starts_at": "2031-07-01T09:00:00Z",
                "ends_at": "2031-07-01T10:00:00Z",
                "service_type": "stolen visit",
            }),
            By::Anyone,
        ),
        (
            Method::POST,
            "/v1/crm/job-notes".to_owned(),
            json!({ "customer_id": victim.world.customer, "text": "planted note" }),
            By::Anyone,
        ),
        (
            Method::POST,
            "/v1/crm/job-notes".to_owned(),
            json!({ "appointment_id": victim.world.appointment, "text": "planted note" }),
            By::Anyone,
        ),
        (
            Method::POST,
            "/v1/crm/conversations".to_owned(),
            json!({ "channel": "web", "customer_id": victim.world.customer }),
            By::Anyone,
        ),
    ]
}

/// `attacker` tries every id route on `victim`'s ids: each a 404 problem,
/// and neither side changed.
async fn every_id_route_is_not_found(
    stack: &TestStack,
    database: &CrmDatabase,
    attacker: &Side,
    victim: &Side,
) {
    let victim_before = victim.snapshot(stack, database).await;
    let attacker_before = attacker.snapshot(stack, database).await;
    let mut failures = Vec::new();
    for (method, path, body, by) in attempts(victim) {
        for (kind, credential) in attacker.credentials() {
            let is_key = matches!(credential, Credential::Key(_));
            if (by == By::Key && !is_key) || (by == By::Person && is_key) {
                continue;
            }
            let mut request = credential.on(stack, method.clone(), &path);
            if !body.is_null() {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            if let Err(error) = problem(response, StatusCode::NOT_FOUND).await {
                failures.push(format!(
                    "{method} {path} by {}'s {kind} on {}'s id: {error}",
                    attacker.label, victim.label
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        victim.snapshot(stack, database).await,
        victim_before,
        "{} changed",
        victim.label
    );
    assert_eq!(
        attacker.snapshot(stack, database).await,
        attacker_before,
        "{} changed",
        attacker.label
    );
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect()
}

/// Every list, lookup and configuration read of `side` shows its own data
/// and none of `other`'s.
async fn sees_only_its_own(stack: &TestStack, side: &Side, other: &Side, shared: &Shared) {
    for (kind, credential) in side.credentials() {
        let who = format!("{}'s {kind}", side.label);
        let read = async |path: &str| credential.get(stack, path).await;
        let customers = read("/v1/crm/customers?limit=100").await;
        let customers = ids(&customers["customers"]);
        assert!(
            customers.contains(&side.world.customer.as_str()),
            "{who}: {customers:?}"
        );
        assert!(
            customers.contains(&side.twin.as_str()),
            "{who}: {customers:?}"
        );
        assert!(
            !customers.contains(&other.world.customer.as_str()),
            "{who}: {customers:?}"
        );
        assert!(
            !customers.contains(&other.twin.as_str()),
            "{who}: {customers:?}"
        );
        for lookup in [
            format!("phone={}", shared.phone),
            format!("email={}", shared.email),
        ] {
            let found = read(&format!("/v1/crm/customers?{lookup}")).await;
            assert_eq!(
                ids(&found["customers"]),
                [side.twin.as_str()],
                "{who}: {lookup}"
            );
        }
        for (path, field, own, theirs) in [
            (
                "/v1/crm/appointments?limit=100",
                "appointments",
                &side.world.appointment,
                &other.world.appointment,
            ),
            (
                "/v1/crm/job-notes?limit=100",
                "job_notes",
                &side.world.job_note,
                &other.world.job_note,
            ),
            (
                "/v1/crm/conversations?limit=100",
                "conversations",
                &side.conversation,
                &other.conversation,
            ),
            (
                "/v1/owner/channels",
                "channels",
                &side.channel,
                &other.channel,
            ),
        ] {
            let list = read(path).await;
            let listed = ids(&list[field]);
            assert!(listed.contains(&own.as_str()), "{who}: {path}: {list}");
            assert!(!listed.contains(&theirs.as_str()), "{who}: {path}: {list}");
        }
        // Filters naming the other side's ids match nothing.
        for (path, field) in [
            (
                format!("/v1/crm/appointments?customer_id={}", other.world.customer),
                "appointments",
            ),
            (
                format!("/v1/crm/job-notes?customer_id={}", other.world.customer),
                "job_notes",
            ),
            (
                format!(
                    "/v1/crm/job-notes?appointment_id={}",
                    other.world.appointment
                ),
                "job_notes",
            ),
            (
                format!("/v1/crm/conversations?customer_id={}", other.world.customer),
                "conversations",
            ),
        ] {
            let list = read(&path).await;
            assert_eq!(list[field], json!([]), "{who}: {path}");
        }
        let settings = read("/v1/owner/settings").await;
        assert_eq!(
            settings["settings"]["pricing_notes"],
            side.pricing_notes.as_str(),
            "{who}: {settings}"
        );
        let retention = read("/v1/owner/retention").await;
        assert_eq!(
            retention["conversations_days"], side.conversations_days,
            "{who}: {retention}"
        );
        // The report counts this side's rows only: each side holds the
        // same, so counting the other's too would double them.
        let report = crate::tenant_data::summary(stack, credential).await;
        assert_eq!(report["customers"]["total"], 2, "{who}: {report}");
        assert_eq!(report["conversations"]["started"], 1, "{who}: {report}");
        assert_eq!(report["job_notes"]["created"], 1, "{who}: {report}");
        // The export holds this side's ids and none of the other's, and
        // no channel credential of either.
        let (export, by_type) = crate::tenant_data::export(stack, credential).await;
        assert_eq!(by_type["customer"].len(), 2, "{who}: {export}");
        for (own, theirs) in side.ids().into_iter().zip(other.ids()) {
            assert!(export.contains(own), "{who}: {own} missing from the export");
            assert!(!export.contains(theirs), "{who}: {theirs} in the export");
        }
        assert!(!export.contains(&format!("{} twin", other.label)), "{who}");
        for label in [side.label, other.label] {
            assert!(!export.contains(&format!("{label}-token")), "{who}");
        }
    }
}

impl Side {
    /// The ids of this side's rows an export holds.
    fn ids(&self) -> [&str; 5] {
        [
            &self.world.customer,
            &self.twin,
            &self.world.appointment,
            &self.world.job_note,
            &self.conversation,
        ]
    }
}

async fn another_tenants_ids_are_not_found(stack: &TestStack) {
    let database = CrmDatabase::open(stack).await;
    let shared = Shared::new();
    let mut sides = Vec::new();
    for (name, label, days) in [
        ("Alpha Heating", "alpha", 30),
        ("Bravo Drains", "bravo", 60),
    ] {
        let (tenant, _, owner) = tenant_with_owner(stack, name).await;
        let key = issue_key(stack, &tenant.id, Mode::Live, &FIXTURE_SCOPES).await;
        let side = Side::new(
            stack,
            label,
            key,
            Some(Credential::Session(owner)),
            &shared,
            days,
        )
        .await;
        sides.push(side);
    }
    let [alpha, bravo] = &sides[..] else {
        unreachable!("two tenants")
    };
    sees_only_its_own(stack, alpha, bravo, &shared).await;
    sees_only_its_own(stack, bravo, alpha, &shared).await;
    every_id_route_is_not_found(stack, &database, bravo, alpha).await;
    every_id_route_is_not_found(stack, &database, alpha, bravo).await;
}

async fn test_and_live_never_mix(stack: &TestStack) {
    let database = CrmDatabase::open(stack).await;
    let shared = Shared::new();
    let (tenant, _, owner) = tenant_with_owner(stack, "Twofold Plumbing").await;
    let live_key = issue_key(stack, &tenant.id, Mode::Live, &FIXTURE_SCOPES).await;
    let test_key = issue_key(stack, &tenant.id, Mode::Test, &FIXTURE_SCOPES).await;
    let live = Side::new(
        stack,
        "live",
        live_key,
        Some(Credential::Session(owner)),
        &shared,
        90,
    )
    .await;
    let test = Side::new(stack, "test", test_key, None, &shared, 7).await;
    sees_only_its_own(stack, &live, &test, &shared).await;
    sees_only_its_own(stack, &test, &live, &shared).await;
    every_id_route_is_not_found(stack, &database, &test, &live).await;
    every_id_route_is_not_found(stack, &database, &live, &test).await;
}
