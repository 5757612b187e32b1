//! The retention job: with periods set, exactly what expired goes (ended
//! conversations with their messages, old job notes, inactive customers
//! with everything of theirs), and nothing else: not newer data, open
//! conversations, held customers, another tenant's data, the other data
//! mode's, nor a tenant without periods. Keys go with the rows, one event
//! carries the counts, a second run finds nothing, batches add up, and the
//! spawned job runs on its own. Telephony's replay receipts past their
//! window go with the job too, every tenant's, and only theirs.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_crm::OUTBOX_TABLE;
use rampart_crm::retention_job::{
    BATCH, Report, RetentionSchedule, run_retention, run_scheduled_retention,
};
use rampart_crm::store::{conversation_owner, customer_owner};
use rampart_crm::vault::Field;
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::{DataMode, Principal, Role};
use rampart_kit::testing::{TestDatabase, request_as, tenant_principal};
use rampart_proto::crm::v1 as proto;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::helpers::{TestApp, new_tenant, post, start_request, user};

on_both_databases!(
    exactly_what_expired_is_deleted,
    more_than_a_batch_is_deleted_in_batches_under_one_event,
    the_spawned_job_runs_on_its_own,
    two_instances_run_a_scheduled_period_once,
    webhook_receipts_expire_with_the_job_not_with_each_webhook,
);

/// A key of `tenant` with the `owner` scope, for retention and holds.
pub fn owner_key(tenant: &TenantId) -> Principal {
    Principal {
        scopes: vec!["owner".to_owned()],
        ..tenant_principal(tenant)
    }
}

pub fn in_test_mode(principal: Principal) -> Principal {
    Principal {
        mode: DataMode::Test,
        ..principal
    }
}

fn days_ago(days: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(days)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub async fn set_periods(app: &TestApp, principal: &Principal, days: [Option<u32>; 3]) {
    let [conversations_days, job_notes_days, inactive_customers_days] = days;
    app.owner_client_as(rampart_kit::pki::ServiceName::Gateway)
        .await
        .put_retention(request_as(
            principal,
            proto::PutRetentionRequest {
                conversations_days,
                job_notes_days,
                inactive_customers_days,
            },
        ))
        .await
        .unwrap();
}

pub async fn customer(app: &TestApp, key: &Principal, name: &str) -> String {
    app.client()
        .await
        .create_customer(request_as(
            key,
            proto::CreateCustomerRequest {
                name: name.to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

/// A conversation (of `customer_id`, if given) with a customer message and
/// an AI reply, moved through `statuses`.
pub async fn conversation(
    app: &TestApp,
    key: &Principal,
    customer_id: Option<&str>,
    statuses: &[&str],
) -> String {
    let mut crm = app.client().await;
    let started = crm
        .start_conversation(request_as(
            key,
            proto::StartConversationRequest {
                customer_id: customer_id.unwrap_or_default().to_owned(),
                ..start_request("web", "the Zanzibar-7 heater rattles")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    crm.post_ai_reply(request_as(key, post(&started.id, "Noted, thank you")))
        .await
        .unwrap();
    move_through(app, key, &started.id, statuses).await;
    started.id
}

/// Moves a conversation through `statuses`, as an agent.
pub async fn move_through(app: &TestApp, key: &Principal, id: &str, statuses: &[&str]) {
    let agent = Principal {
        mode: key.mode,
        ..user(key.tenant_id().unwrap(), Role::Agent)
    };
    for status in statuses {
        app.client()
            .await
            .set_conversation_status(request_as(
                &agent,
                proto::SetConversationStatusRequest {
                    conversation_id: id.to_owned(),
                    status: (*status).to_owned(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
    }
}

pub async fn job_note(app: &TestApp, key: &Principal, customer_id: &str) -> String {
    app.schedule_client()
        .await
        .create_job_note(request_as(
            key,
            proto::CreateJobNoteRequest {
                customer_id: customer_id.to_owned(),
                text: "replaced the flue seal".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

pub async fn appointment(app: &TestApp, key: &Principal, customer_id: &str, ends: i64) -> String {
    let ends_at = Utc::now() + chrono::Duration::days(ends);
    app.schedule_client()
        .await
        .create_appointment(request_as(
            key,
            proto::CreateAppointmentRequest {
                customer_id: customer_id.to_owned(),
                starts_at: rfc3339(ends_at - chrono::Duration::hours(2)),
                ends_at: rfc3339(ends_at),
                service_type: "Boiler service".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

pub async fn hold(app: &TestApp, tenant: &TenantId, customer_id: &str) {
    app.owner_client_as(rampart_kit::pki::ServiceName::Gateway)
        .await
        .set_legal_hold(request_as(
            &owner_key(tenant),
            proto::SetLegalHoldRequest {
                customer_id: customer_id.to_owned(),
                held: true,
                reason: "Case 2026-7".to_owned(),
            },
        ))
        .await
        .unwrap();
}

/// Moves `columns` of the row `id` of `table` back to `at`.
async fn backdate(
    db: &DatabaseConnection,
    table: &'static str,
    columns: &[&'static str],
    id: &str,
    at: DateTime<Utc>,
) {
    let mut update = Query::update();
    update.table(table).and_where(Expr::col("id").eq(id));
    for column in columns {
        update.value(*column, at);
    }
    let done = db.execute(&update).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{table} {id}");
}

/// How many rows of `table` have `column` = `value`.
pub async fn count_where(
    db: &DatabaseConnection,
    table: &'static str,
    column: &'static str,
    value: &str,
) -> i64 {
    let query = Query::select()
        .expr_as(Func::count(Expr::cust("*")), "n")
        .from(table)
        .and_where(Expr::col(column).eq(value))
        .to_owned();
    db.query_one(&query)
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap()
}

async fn exists(db: &DatabaseConnection, table: &'static str, id: &str) -> bool {
    count_where(db, table, "id", id).await == 1
}

pub async fn data_key_exists(db: &DatabaseConnection, owner: &str) -> bool {
    count_where(db, "crm_data_key", "owner", owner).await == 1
}

async fn run(app: &TestApp) -> Report {
    run_retention(
        &app.db,
        &Outbox::new(OUTBOX_TABLE),
        &app.vault(),
        Utc::now(),
    )
    .await
    .unwrap()
}

fn checked(records: Vec<AuditRecord>) -> Vec<AuditRecord> {
    for record in &records {
        record.check_schema().unwrap();
    }
    records
}

/// The sealed text of a conversation's first message.
pub async fn sealed_message(db: &DatabaseConnection, conversation_id: &str) -> (String, Vec<u8>) {
    let query = Query::select()
        .columns(["id", "text_sealed"])
        .from("crm_message")
        .and_where(Expr::col("conversation_id").eq(conversation_id))
        .and_where(Expr::col("author").eq("customer"))
        .to_owned();
    let row = db.query_one(&query).await.unwrap().unwrap();
    (
        row.try_get("", "id").unwrap(),
        row.try_get::<Option<Vec<u8>>>("", "text_sealed")
            .unwrap()
            .expect("the message is sealed"),
    )
}

pub async fn opens(
    app: &TestApp,
    tenant: &TenantId,
    owner: &str,
    at: &Field<'_>,
    sealed: &[u8],
) -> bool {
    let vault = app.vault();
    let keys = vault.tenant(&app.db, tenant).await.unwrap();
    let key = keys.data_key(&app.db, owner).await.unwrap();
    key.open(at, sealed).is_ok()
}

async fn exactly_what_expired_is_deleted(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let (tenant, key) = new_tenant();
    let (_, other_key) = new_tenant();
    let test_key = in_test_mode(key.clone());
    // Live: conversations 30 days, job notes 60, inactive customers 365.
    // The test mode and the other tenant keep everything.
    set_periods(&app, &owner_key(&tenant), [Some(30), Some(60), Some(365)]).await;
    let old = days_ago(400);

    // Inactive for 400 days: goes, with its conversation, appointment and note.
    let gone = customer(&app, &key, "Ottilie Gone").await;
    let gone_conversation = conversation(&app, &key, Some(&gone), &["resolved", "closed"]).await;
    let gone_appointment = appointment(&app, &key, &gone, -400).await;
    let gone_note = job_note(&app, &key, &gone).await;
    backdate(&app.db, "crm_customer", &["created_at"], &gone, old).await;
    backdate(
        &app.db,
        "crm_conversation",
        &["updated_at", "started_at"],
        &gone_conversation,
        old,
    )
    .await;
    backdate(
        &app.db,
        "crm_appointment",
        &["created_at", "updated_at"],
        &gone_appointment,
        old,
    )
    .await;
    backdate(&app.db, "crm_job_note", &["created_at"], &gone_note, old).await;

    // Old, but a note written 10 days ago keeps it (and that note); its
    // ended 40-day-old conversation and 90-day-old note go.
    let active = customer(&app, &key, "Arvid Active").await;
    let recent_note = job_note(&app, &key, &active).await;
    backdate(
        &app.db,
        "crm_job_note",
        &["created_at"],
        &recent_note,
        days_ago(10),
    )
    .await;
    let stale_note = job_note(&app, &key, &active).await;
    backdate(
        &app.db,
        "crm_job_note",
        &["created_at"],
        &stale_note,
        days_ago(90),
    )
    .await;
    let ended = conversation(&app, &key, Some(&active), &["resolved", "closed"]).await;
    backdate(
        &app.db,
        "crm_conversation",
        &["updated_at"],
        &ended,
        days_ago(40),
    )
    .await;
    backdate(&app.db, "crm_customer", &["created_at"], &active, old).await;

    // Old, but with an appointment still to come.
    let booked = customer(&app, &key, "Bertil Booked").await;
    let upcoming = appointment(&app, &key, &booked, 10).await;
    backdate(
        &app.db,
        "crm_appointment",
        &["created_at", "updated_at"],
        &upcoming,
        old,
    )
    .await;
    backdate(&app.db, "crm_customer", &["created_at"], &booked, old).await;

    // Old in every way, but held: keeps everything.
    let held = customer(&app, &key, "Hedda Held").await;
    let held_conversation = conversation(&app, &key, Some(&held), &["resolved", "closed"]).await;
    let held_note = job_note(&app, &key, &held).await;
    hold(&app, &tenant, &held).await;
    backdate(&app.db, "crm_customer", &["created_at"], &held, old).await;
    backdate(
        &app.db,
        "crm_conversation",
        &["updated_at"],
        &held_conversation,
        old,
    )
    .await;
    backdate(&app.db, "crm_job_note", &["created_at"], &held_note, old).await;

    // Conversations without a customer: ended 40 days ago (closed and
    // resolved) go; open for 40 days, or closed 10 days ago, stay.
    // Its text is blanked when it ends (no transcript kept): read it
    // before, as a backup taken then would hold it.
    let closed = conversation(&app, &key, None, &[]).await;
    let (message_id, sealed) = sealed_message(&app.db, &closed).await;
    move_through(&app, &key, &closed, &["resolved", "closed"]).await;
    let resolved = conversation(&app, &key, None, &["resolved"]).await;
    let open = conversation(&app, &key, None, &[]).await;
    let recent = conversation(&app, &key, None, &["resolved", "closed"]).await;
    for (id, age) in [(&closed, 40), (&resolved, 40), (&open, 40), (&recent, 10)] {
        backdate(
            &app.db,
            "crm_conversation",
            &["updated_at"],
            id,
            days_ago(age),
        )
        .await;
    }
    let fresh = customer(&app, &key, "Frida Fresh").await;

    // The same old data in the test mode and in another tenant.
    let mut untouched = Vec::new();
    for key in [&test_key, &other_key] {
        let someone = customer(&app, key, "Ulla Untouched").await;
        let talk = conversation(&app, key, Some(&someone), &["resolved", "closed"]).await;
        let note = job_note(&app, key, &someone).await;
        backdate(&app.db, "crm_customer", &["created_at"], &someone, old).await;
        backdate(&app.db, "crm_conversation", &["updated_at"], &talk, old).await;
        backdate(&app.db, "crm_job_note", &["created_at"], &note, old).await;
        untouched.extend([
            ("crm_customer", someone),
            ("crm_conversation", talk),
            ("crm_job_note", note),
        ]);
    }

    let doomed = [&gone_conversation, &ended, &closed, &resolved];
    let mut messages = 0;
    for id in doomed {
        messages += count_where(&app.db, "crm_message", "conversation_id", id).await;
    }
    assert!(messages >= 8, "each conversation has two messages or more");
    let at = Field {
        table: "crm_message",
        column: "text",
        row: &message_id,
    };
    assert!(opens(&app, &tenant, &conversation_owner(&closed), &at, &sealed).await);
    let events_before = app.audit_actions("retention.purged").await.len();
    assert_eq!(events_before, 0);

    let report = run(&app).await;
    assert_eq!(report.failed, 0);
    assert_eq!(report.purged.len(), 1, "{report:?}");
    let (scope, expired) = &report.purged[0];
    assert_eq!((&scope.tenant_id, scope.mode), (&tenant, DataMode::Live));
    assert_eq!(expired.conversations, 4);
    assert_eq!(expired.messages, u64::try_from(messages).unwrap());
    assert_eq!(expired.job_notes, 2);
    assert_eq!(expired.customers, 1);
    assert_eq!(expired.held_skipped, 1);

    // Gone: exactly these, with their messages and keys.
    for id in doomed {
        assert!(!exists(&app.db, "crm_conversation", id).await, "{id}");
        assert_eq!(
            count_where(&app.db, "crm_message", "conversation_id", id).await,
            0
        );
        assert!(
            !data_key_exists(&app.db, &conversation_owner(id)).await,
            "{id}"
        );
    }
    assert!(!exists(&app.db, "crm_customer", &gone).await);
    assert!(!data_key_exists(&app.db, &customer_owner(&gone)).await);
    assert!(!exists(&app.db, "crm_appointment", &gone_appointment).await);
    for note in [&gone_note, &stale_note] {
        assert!(!exists(&app.db, "crm_job_note", note).await, "{note}");
    }
    // Kept: everything else.
    for (table, id) in [
        ("crm_customer", &active),
        ("crm_customer", &booked),
        ("crm_customer", &held),
        ("crm_customer", &fresh),
        ("crm_job_note", &recent_note),
        ("crm_job_note", &held_note),
        ("crm_appointment", &upcoming),
        ("crm_conversation", &held_conversation),
        ("crm_conversation", &open),
        ("crm_conversation", &recent),
    ] {
        assert!(exists(&app.db, table, id).await, "{table} {id}");
    }
    for (table, id) in &untouched {
        assert!(exists(&app.db, table, id).await, "{table} {id}");
    }
    assert!(data_key_exists(&app.db, &customer_owner(&held)).await);
    assert!(
        count_where(
            &app.db,
            "crm_message",
            "conversation_id",
            &held_conversation
        )
        .await
            > 0
    );

    // One event, in the tenant's log, by the CRM itself, with the counts.
    let events = checked(app.audit_actions("retention.purged").await);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.tenant_id.as_deref(), Some(tenant.as_str()));
    assert_eq!(event.target, format!("tenant:{tenant}"));
    assert_eq!(event.actor, "system:crm");
    for (detail, value) in [
        ("mode", "live".to_owned()),
        ("conversations", "4".to_owned()),
        ("messages", messages.to_string()),
        ("job_notes", "2".to_owned()),
        ("customers", "1".to_owned()),
        ("held_skipped", "1".to_owned()),
    ] {
        assert_eq!(event.details[detail], value, "{detail}");
    }

    // The deleted conversation's sealed text no longer opens: its key is
    // gone, and a key made now for the same owner is another key.
    assert!(!opens(&app, &tenant, &conversation_owner(&closed), &at, &sealed).await);

    // A second run finds nothing and records nothing.
    let customers = app.count_rows("crm_customer").await;
    let conversations = app.count_rows("crm_conversation").await;
    let notes = app.count_rows("crm_job_note").await;
    let again = run(&app).await;
    assert!(again.purged.is_empty(), "{again:?}");
    assert_eq!(app.count_rows("crm_customer").await, customers);
    assert_eq!(app.count_rows("crm_conversation").await, conversations);
    assert_eq!(app.count_rows("crm_job_note").await, notes);
    assert_eq!(app.audit_actions("retention.purged").await.len(), 1);
}

async fn more_than_a_batch_is_deleted_in_batches_under_one_event(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let (tenant, key) = new_tenant();
    set_periods(&app, &owner_key(&tenant), [None, Some(30), None]).await;
    let someone = customer(&app, &key, "Nils Notes").await;
    let total = BATCH * 2 + 3;
    let mut notes = Vec::new();
    for _ in 0..total {
        notes.push(job_note(&app, &key, &someone).await);
    }
    let kept = job_note(&app, &key, &someone).await;
    for note in &notes {
        backdate(&app.db, "crm_job_note", &["created_at"], note, days_ago(31)).await;
    }

    let report = run(&app).await;
    assert_eq!(report.purged.len(), 1);
    assert_eq!(report.purged[0].1.job_notes, total);
    assert_eq!(app.count_rows("crm_job_note").await, 1);
    assert!(exists(&app.db, "crm_job_note", &kept).await);
    assert!(exists(&app.db, "crm_customer", &someone).await);
    let events = checked(app.audit_actions("retention.purged").await);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].details["job_notes"], total.to_string());
    assert_eq!(events[0].details["customers"], "0");
}

async fn the_spawned_job_runs_on_its_own(database: TestDatabase) {
    let schedule = RetentionSchedule {
        first_run: Duration::from_millis(200),
        every: Duration::from_millis(200),
    };
    let app = TestApp::spawn_with_retention(database, schedule).await;
    let (tenant, key) = new_tenant();
    set_periods(&app, &owner_key(&tenant), [Some(1), None, None]).await;
    let expired = conversation(&app, &key, None, &["resolved", "closed"]).await;
    let kept = conversation(&app, &key, None, &["resolved", "closed"]).await;
    backdate(
        &app.db,
        "crm_conversation",
        &["updated_at"],
        &expired,
        days_ago(2),
    )
    .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while exists(&app.db, "crm_conversation", &expired).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job did not run within 10 seconds"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(exists(&app.db, "crm_conversation", &kept).await);
    // Later runs find nothing more: still one event.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let events = checked(app.audit_actions("retention.purged").await);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].details["conversations"], "1");
    assert!(exists(&app.db, "crm_conversation", &kept).await);
}

/// Two CRM instances' schedules firing together (each on its own
/// connection) claim the period once: one run deletes everything, under one
/// event with the whole count. Before the claim both ran, interleaving
/// their batches, and each recorded a `retention.purged` with part of the
/// counts. Later in the period nobody runs again; the next period runs.
async fn two_instances_run_a_scheduled_period_once(database: TestDatabase) {
    let url = database.url.clone();
    let app = TestApp::spawn(database).await;
    let other_instance = rampart_kit::db::connect(&url).await.unwrap();
    let (tenant, key) = new_tenant();
    set_periods(&app, &owner_key(&tenant), [None, Some(30), None]).await;
    let someone = customer(&app, &key, "Paula Pair").await;
    let total = BATCH * 2 + 3;
    for _ in 0..total {
        let note = job_note(&app, &key, &someone).await;
        backdate(
            &app.db,
            "crm_job_note",
            &["created_at"],
            &note,
            days_ago(31),
        )
        .await;
    }

    let every = Duration::from_secs(3600);
    let now = Utc::now();
    let (outbox, vault) = (Outbox::new(OUTBOX_TABLE), app.vault());
    let (first, second) = tokio::join!(
        run_scheduled_retention(&app.db, &outbox, &vault, now, every),
        run_scheduled_retention(&other_instance, &outbox, &vault, now, every),
    );
    let runs: Vec<Report> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1, "both instances ran the period");
    assert_eq!(runs[0].purged.len(), 1);
    assert_eq!(runs[0].purged[0].1.job_notes, total);
    assert_eq!(app.count_rows("crm_job_note").await, 0);
    let events = checked(app.audit_actions("retention.purged").await);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].details["job_notes"], total.to_string());

    // Half a period later (an instance out of phase, or restarted): no run.
    let later = now + chrono::Duration::minutes(30);
    let skipped = run_scheduled_retention(&other_instance, &outbox, &vault, later, every).await;
    assert!(skipped.unwrap().is_none());
    // The next period runs, finding nothing more.
    let next = now + chrono::Duration::minutes(60);
    let ran = run_scheduled_retention(&app.db, &outbox, &vault, next, every).await;
    assert!(ran.unwrap().unwrap().purged.is_empty());
    assert_eq!(app.audit_actions("retention.purged").await.len(), 1);
}

async fn webhook_receipts_expire_with_the_job_not_with_each_webhook(database: TestDatabase) {
    use rampart_crm::store::DataScope;
    use rampart_crm::telephony::receipts;

    let app = TestApp::spawn(database).await;
    let (tenant, _) = new_tenant();
    let (other, _) = new_tenant();
    let scope = |tenant: &TenantId| DataScope {
        tenant_id: tenant.clone(),
        mode: DataMode::Live,
    };
    let receipt_at = |tenant: &TenantId, key: &str, at: DateTime<Utc>| {
        Query::insert()
            .into_table("crm_telephony_receipt")
            .columns(["tenant_id", "request_key", "received_at"])
            .values_panic([tenant.as_str().into(), key.into(), at.into()])
            .to_owned()
    };
    let receipts_of = async |tenant: &TenantId| {
        count_where(
            &app.db,
            "crm_telephony_receipt",
            "tenant_id",
            tenant.as_str(),
        )
        .await
    };
    // A week and a day old in both tenants, and a fresh one.
    for (tenant, key) in [(&tenant, "sms:SMold"), (&other, "sms:SMother")] {
        app.db
            .execute(&receipt_at(tenant, key, days_ago(8)))
            .await
            .unwrap();
    }
    receipts::record(&app.db, &scope(&tenant), "sms:SMfresh")
        .await
        .unwrap();

    // A webhook deletes nothing but its own key's expired receipt.
    receipts::record(&app.db, &scope(&tenant), "sms:SMnew")
        .await
        .unwrap();
    assert_eq!(
        receipts_of(&other).await,
        1,
        "another tenant's receipt went with a webhook"
    );
    assert_eq!(receipts_of(&tenant).await, 3);
    // The same key within the window is a replay; past it, not.
    let replayed = receipts::record(&app.db, &scope(&tenant), "sms:SMfresh").await;
    assert!(
        matches!(replayed, Err(rampart_crm::Error::WebhookReplayed)),
        "{replayed:?}"
    );
    receipts::record(&app.db, &scope(&other), "sms:SMother")
        .await
        .expect("a key past its window is not a replay");

    // A calendar authorisation never completed, expired an hour ago, and
    // one still open.
    let pending = |state: &str, expires: DateTime<Utc>| {
        Query::insert()
            .into_table("crm_calendar_pending")
            .columns([
                "state_hash",
                "tenant_id",
                "mode",
                "calendar_id",
                "verifier",
                "redirect_uri",
                "requested_by",
                "credential_id",
                "expires_at",
                "created_at",
            ])
            .values_panic([
                state.into(),
                other.as_str().into(),
                "live".into(),
                "primary".into(),
                vec![0_u8; 16].into(),
                "https://rampart.example/cb".into(),
                "usr_x".into(),
                "key_x".into(),
                expires.into(),
                days_ago(1).into(),
            ])
            .to_owned()
    };
    let hour = chrono::Duration::hours(1);
    for (state, expires) in [("expired", Utc::now() - hour), ("open", Utc::now() + hour)] {
        app.db.execute(&pending(state, expires)).await.unwrap();
    }

    // The job purges what expired, every tenant's, and nothing fresh.
    let report = run(&app).await;
    assert_eq!(report.pending_purged, 1, "{report:?}");
    assert_eq!(
        count_where(&app.db, "crm_calendar_pending", "state_hash", "open").await,
        1
    );
    assert_eq!(report.receipts_purged, 1, "{report:?}");
    assert_eq!(report.failed, 0);
    assert_eq!(receipts_of(&tenant).await, 2);
    assert_eq!(receipts_of(&other).await, 1);
    assert_eq!(run(&app).await.receipts_purged, 0);
}
