//! Erasure requests through `OwnerService`: an exact preview, an execution
//! that crypto-shreds one customer and nobody else, a deletion certificate
//! that verifies with the audit key (and fails with any byte changed),
//! refusal under a legal hold or without a certificate (nothing changes),
//! idempotent re-execution, tenant and mode isolation, roles, and requests
//! opened by privacy handoffs.

mod app;

use rampart_audit::certificate::Certificate;
use rampart_crm::entity::{appointment, conversation, customer, job_note, message};
use rampart_crm::vault::Field;
use rampart_kit::ids::{CustomerId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::principal::{DataMode, Principal, Role};
use rampart_kit::testing::{TestDatabase, expect_code, request_as, tenant_principal};
use rampart_proto::crm::v1 as proto;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
};
use tonic::Code;

use self::app::ErasureApp;
use crate::helpers::{new_tenant, post, user};

on_both_databases!(
    the_preview_is_exact_and_execution_erases_that_customer_alone,
    a_held_customer_is_refused_and_nothing_changes,
    without_a_certificate_nothing_is_erased,
    another_tenant_or_mode_finds_nothing,
    only_owners_and_owner_keys_may_erase,
    malformed_input_names_the_field_and_stores_nothing,
    a_privacy_handoff_opens_a_request_and_erases_nothing,
    rows_restored_without_their_keys_stay_erased,
);

const NAME: &str = "Quillon Zephyrine";
const FIRST: &str = "my boiler Krakatoa-9 is leaking";
const START: &str = "2026-03-02T09:00:00Z";
const END: &str = "2026-03-02T11:00:00Z";
const PRIVACY: &str = "please delete all my personal data";

/// A key of `tenant` holding `scopes`.
fn key(tenant: &TenantId, scopes: &[&str]) -> Principal {
    Principal {
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..tenant_principal(tenant)
    }
}

fn owner_key(tenant: &TenantId) -> Principal {
    key(tenant, &["read", "write", "owner"])
}

/// Everything one customer has, as the API made it.
struct Customer {
    id: String,
    conversations: Vec<String>,
    appointments: Vec<String>,
    notes: Vec<String>,
}

/// A customer with `conversations` conversations (one message each, plus
/// a second in the first), two appointments and a note on the customer and
/// one on the first appointment.
async fn customer_with_data(
    app: &ErasureApp,
    writer: &Principal,
    name: &str,
    conversations: usize,
) -> Customer {
    let mut crm = app.crm().await;
    let mut schedule = app.schedule().await;
    let customer = crm
        .create_customer(request_as(
            writer,
            proto::CreateCustomerRequest {
                name: name.to_owned(),
                phone: Some("+15557319824".to_owned()),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut ids = Vec::new();
    for _ in 0..conversations {
        let started = crm
            .start_conversation(request_as(
                writer,
                proto::StartConversationRequest {
                    channel: "sms".to_owned(),
                    first_message: FIRST.to_owned(),
                    customer_id: customer.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        ids.push(started.id);
    }
    crm.post_customer_message(request_as(writer, post(&ids[0], "and it drips")))
        .await
        .unwrap();
    let mut appointments = Vec::new();
    for _ in 0..2 {
        let booked = schedule
            .create_appointment(request_as(
                writer,
                proto::CreateAppointmentRequest {
                    customer_id: customer.id.clone(),
                    starts_at: START.to_owned(),
                    ends_at: END.to_owned(),
                    service_type: "Boiler service".to_owned(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        appointments.push(booked.id);
    }
    let mut notes = Vec::new();
    for (customer_id, appointment_id) in [
        (customer.id.clone(), String::new()),
        (String::new(), appointments[0].clone()),
    ] {
        let note = schedule
            .create_job_note(request_as(
                writer,
                proto::CreateJobNoteRequest {
                    customer_id,
                    appointment_id,
                    text: "gas valve replaced under the stairs".to_owned(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        notes.push(note.id);
    }
    Customer {
        id: customer.id,
        conversations: ids,
        appointments,
        notes,
    }
}

fn create(customer_id: &str, reason: &str) -> proto::CreateErasureRequestRequest {
    proto::CreateErasureRequestRequest {
        customer_id: customer_id.to_owned(),
        reason: reason.to_owned(),
    }
}

fn by_id(id: &str) -> proto::GetErasureRequestRequest {
    proto::GetErasureRequestRequest {
        erasure_request_id: id.to_owned(),
    }
}

fn execute(id: &str) -> proto::ExecuteErasureRequestRequest {
    proto::ExecuteErasureRequestRequest {
        erasure_request_id: id.to_owned(),
    }
}

fn counts(request: &proto::ErasureRequest) -> [u32; 6] {
    let c = request.counts.unwrap();
    [
        c.customers,
        c.conversations,
        c.messages,
        c.appointments,
        c.job_notes,
        c.data_keys,
    ]
}

/// Which of the customer's things the API still answers, by kind.
async fn visible(app: &ErasureApp, reader: &Principal, customer: &Customer) -> [usize; 4] {
    let mut crm = app.crm().await;
    let mut schedule = app.schedule().await;
    let found = |result: Result<(), tonic::Status>| match result {
        Ok(()) => 1,
        Err(status) if status.code() == Code::NotFound => 0,
        Err(status) => panic!("unexpected {status:?}"),
    };
    let customers = found(
        crm.get_customer(request_as(
            reader,
            proto::GetCustomerRequest {
                customer_id: customer.id.clone(),
            },
        ))
        .await
        .map(drop),
    );
    let mut conversations = 0;
    for id in &customer.conversations {
        conversations += found(
            crm.get_conversation(request_as(
                reader,
                proto::GetConversationRequest {
                    conversation_id: id.clone(),
                },
            ))
            .await
            .map(drop),
        );
    }
    let mut appointments = 0;
    for id in &customer.appointments {
        appointments += found(
            schedule
                .get_appointment(request_as(
                    reader,
                    proto::GetAppointmentRequest {
                        appointment_id: id.clone(),
                    },
                ))
                .await
                .map(drop),
        );
    }
    let mut notes = 0;
    for id in &customer.notes {
        notes += found(
            schedule
                .get_job_note(request_as(
                    reader,
                    proto::GetJobNoteRequest {
                        job_note_id: id.clone(),
                    },
                ))
                .await
                .map(drop),
        );
    }
    [customers, conversations, appointments, notes]
}

/// How many data keys the tenant's `owners` still have in the database.
async fn data_keys(db: &DatabaseConnection, owners: &[String]) -> i64 {
    let select = Query::select()
        .expr(Expr::col("owner").count())
        .from("crm_data_key")
        .and_where(Expr::col("owner").is_in(owners.iter().map(String::as_str)))
        .to_owned();
    let row = db.query_one(&select).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

fn owners_of(customer: &Customer) -> Vec<String> {
    let mut owners = vec![format!("customer:{}", customer.id)];
    owners.extend(
        customer
            .conversations
            .iter()
            .map(|id| format!("conversation:{id}")),
    );
    owners
}

/// A sealed column of one row, read straight from the database.
async fn sealed(
    db: &DatabaseConnection,
    table: &'static str,
    column: &'static str,
    id: &str,
) -> Vec<u8> {
    let select = Query::select()
        .column(column)
        .from(table)
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    let row = db.query_one(&select).await.unwrap().unwrap();
    row.try_get::<Vec<u8>>("", column).unwrap()
}

/// The id of the first message of a conversation, from the database.
async fn first_message_id(db: &DatabaseConnection, conversation_id: &str) -> String {
    let select = Query::select()
        .column("id")
        .from("crm_message")
        .and_where(Expr::col("conversation_id").eq(conversation_id))
        .and_where(Expr::col("author").eq("customer"))
        .order_by("id", sea_orm::sea_query::Order::Asc)
        .to_owned();
    let row = db.query_one(&select).await.unwrap().unwrap();
    row.try_get::<String>("", "id").unwrap()
}

async fn the_preview_is_exact_and_execution_erases_that_customer_alone(database: TestDatabase) {
    let app = ErasureApp::spawn(database).await;
    let (tenant, writer) = new_tenant();
    let owner = user(&tenant, Role::Owner);
    let erased = customer_with_data(&app, &writer, NAME, 2).await;
    let kept = customer_with_data(&app, &writer, "Ada Lovelace", 1).await;
    let mut api = app.owner().await;

    // What an attacker with a copy of the database (or a backup) holds:
    // the sealed name and message, which open now with the service's keys.
    let sealed_name = sealed(&app.db, "crm_customer", "name_sealed", &erased.id).await;
    let message_id = first_message_id(&app.db, &erased.conversations[0]).await;
    let sealed_text = sealed(&app.db, "crm_message", "text_sealed", &message_id).await;
    let name_at = Field {
        table: "crm_customer",
        column: "name",
        row: &erased.id,
    };
    let text_at = Field {
        table: "crm_message",
        column: "text",
        row: &message_id,
    };
    let customer_owner = format!("customer:{}", erased.id);
    let conversation_owner = format!("conversation:{}", erased.conversations[0]);
    {
        let vault = app.fresh_vault();
        let keys = vault.tenant(&app.db, &tenant).await.unwrap();
        let key = keys.data_key(&app.db, &customer_owner).await.unwrap();
        assert_eq!(key.open(&name_at, &sealed_name).unwrap(), NAME);
        let key = keys.data_key(&app.db, &conversation_owner).await.unwrap();
        assert_eq!(key.open(&text_at, &sealed_text).unwrap(), FIRST);
    }

    let opened = api
        .create_erasure_request(request_as(&owner, create(&erased.id, "asked by phone")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.status, "open");
    assert_eq!(opened.source, "owner");
    assert_eq!(opened.reason, "asked by phone");
    assert_eq!(opened.requested_by, owner.actor());
    assert!(!opened.held && !opened.already_open);
    assert!(opened.certificate_json.is_empty() && opened.executed_at.is_empty());
    // 1 customer, 2 conversations, 2 + 1 messages, 2 appointments, 2
    // notes, and the customer's key with one per conversation.
    assert_eq!(counts(&opened), [1, 2, 3, 2, 2, 3]);

    // Asking again answers the open request, with no second event.
    let again = api
        .create_erasure_request(request_as(&owner, create(&erased.id, "asked twice")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, opened.id);
    assert!(again.already_open);
    assert_eq!(again.reason, "asked by phone");
    let requested = app.audit_actions("erasure.requested").await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].target, format!("customer:{}", erased.id));
    assert_eq!(requested[0].details["erasure_request_id"], opened.id);
    assert_eq!(requested[0].details["source"], "owner");
    assert!(
        !serde_json::to_string(&requested[0])
            .unwrap()
            .contains("asked by phone"),
        "the reason stays out of the audit log"
    );

    let executed = api
        .execute_erasure_request(request_as(&owner, execute(&opened.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(executed.status, "executed");
    assert!(!executed.executed_at.is_empty());
    assert_eq!(counts(&executed), [1, 2, 3, 2, 2, 3]);

    // Gone from the API, every kind of it; the other customer untouched.
    assert_eq!(visible(&app, &writer, &erased).await, [0, 0, 0, 0]);
    assert_eq!(visible(&app, &writer, &kept).await, [1, 1, 2, 2]);

    // The keys are gone, so the bytes read before no longer open: a vault
    // with an empty cache (as any CRM instance has once its 60 s cache
    // expires) finds no key for them, and the one it makes is another.
    assert_eq!(data_keys(&app.db, &owners_of(&erased)).await, 0);
    assert_eq!(data_keys(&app.db, &owners_of(&kept)).await, 2);
    {
        let vault = app.fresh_vault();
        let keys = vault.tenant(&app.db, &tenant).await.unwrap();
        let key = keys.data_key(&app.db, &customer_owner).await.unwrap();
        assert!(key.open(&name_at, &sealed_name).is_err());
        let key = keys.data_key(&app.db, &conversation_owner).await.unwrap();
        assert!(key.open(&text_at, &sealed_text).is_err());
    }

    // The certificate verifies with the audit key, says what went, and
    // fails with any value changed.
    let certificate = Certificate::parse(&executed.certificate_json).unwrap();
    certificate.verify(&app.audit.public_key()).unwrap();
    let statement = &certificate.statement;
    assert_eq!(statement["format"], rampart_audit::certificate::FORMAT);
    assert_eq!(
        rampart_crm::certify::FORMAT,
        rampart_audit::certificate::FORMAT
    );
    assert_eq!(statement["certificate_id"], opened.id);
    assert_eq!(statement["tenant_id"], tenant.as_str());
    assert_eq!(statement["mode"], "live");
    assert_eq!(statement["customer_id"], erased.id);
    assert_eq!(statement["requested_at"], opened.created_at);
    assert_eq!(statement["requested_by"], owner.actor());
    assert_eq!(statement["executed_by"], owner.actor());
    assert_eq!(statement["executed_at"], executed.executed_at);
    assert_eq!(statement["source"], "owner");
    assert_eq!(
        statement["method"],
        rampart_crm::store::ERASURE_METHOD,
        "{statement}"
    );
    assert_eq!(
        statement["deleted"],
        serde_json::json!({"customers": 1, "conversations": 2, "messages": 3,
            "appointments": 2, "job_notes": 2, "data_keys": 3})
    );
    assert!(
        !executed.certificate_json.contains(NAME),
        "no personal data in the certificate"
    );
    let tampered = executed
        .certificate_json
        .replacen("\"messages\":3", "\"messages\":2", 1);
    assert_ne!(tampered, executed.certificate_json);
    assert!(
        Certificate::parse(&tampered)
            .unwrap()
            .verify(&app.audit.public_key())
            .is_err()
    );

    // Audited with the certificate's digest and the counts; the statement
    // names that very event.
    let erased_events = app.audit_actions("customer.erased").await;
    assert_eq!(erased_events.len(), 1);
    let event = &erased_events[0];
    assert_eq!(event.target, format!("customer:{}", erased.id));
    assert_eq!(event.actor, owner.actor());
    assert_eq!(event.details["erasure_request_id"], opened.id);
    let digest = ring_sha256(executed.certificate_json.as_bytes());
    assert_eq!(event.details["certificate_sha256"], digest);
    for (field, value) in [
        ("customers", "1"),
        ("conversations", "2"),
        ("messages", "3"),
        ("appointments", "2"),
        ("job_notes", "2"),
        ("shredded", "3"),
    ] {
        assert_eq!(event.details[field], value, "{field}");
    }
    assert_eq!(statement["audit_event_id"], event.event_id);

    // Executing again answers the same certificate, signs and deletes
    // nothing more.
    let twice = api
        .execute_erasure_request(request_as(&owner, execute(&opened.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(twice.certificate_json, executed.certificate_json);
    assert_eq!(counts(&twice), counts(&executed));
    assert_eq!(app.audit.signed(), 1);
    assert_eq!(app.audit_actions("customer.erased").await.len(), 1);
    assert_eq!(visible(&app, &writer, &kept).await, [1, 1, 2, 2]);
    let fetched = api
        .get_erasure_request(request_as(&owner, by_id(&opened.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.certificate_json, executed.certificate_json);

    // The list by status; an erased customer can be asked for again only
    // as not found.
    let second = api
        .create_erasure_request(request_as(&owner, create(&kept.id, "moving away")))
        .await
        .unwrap()
        .into_inner();
    let list = |status: &str, page_size: u32, page_token: &str| proto::ListErasureRequestsRequest {
        status: status.to_owned(),
        page_size,
        page_token: page_token.to_owned(),
    };
    let ids = |listed: proto::ListErasureRequestsResponse| {
        listed
            .erasure_requests
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    let all = api
        .list_erasure_requests(request_as(&owner, list("", 0, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(all), [opened.id.clone(), second.id.clone()]);
    let open = api
        .list_erasure_requests(request_as(&owner, list("open", 0, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open.erasure_requests[0].counts.unwrap().conversations, 1);
    assert_eq!(ids(open), std::slice::from_ref(&second.id));
    let done = api
        .list_erasure_requests(request_as(&owner, list("executed", 0, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(done), std::slice::from_ref(&opened.id));
    let first_page = api
        .list_erasure_requests(request_as(&owner, list("", 1, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.next_page_token, opened.id);
    let next = api
        .list_erasure_requests(request_as(&owner, list("", 1, &first_page.next_page_token)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(next), [second.id]);
    expect_code(
        api.create_erasure_request(request_as(&owner, create(&erased.id, "again")))
            .await,
        Code::NotFound,
    );
}

fn ring_sha256(bytes: &[u8]) -> String {
    rampart_kit::secret::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

async fn a_held_customer_is_refused_and_nothing_changes(database: TestDatabase) {
    let app = ErasureApp::spawn(database).await;
    let (tenant, writer) = new_tenant();
    let owner = owner_key(&tenant);
    let customer = customer_with_data(&app, &writer, NAME, 1).await;
    let mut api = app.owner().await;
    let hold = |held: bool| proto::SetLegalHoldRequest {
        customer_id: customer.id.clone(),
        held,
        reason: "Litigation 2026-14".to_owned(),
    };
    api.set_legal_hold(request_as(&owner, hold(true)))
        .await
        .unwrap();
    let opened = api
        .create_erasure_request(request_as(&owner, create(&customer.id, "asked")))
        .await
        .unwrap()
        .into_inner();
    assert!(opened.held, "the preview says the customer is held");

    let refused = expect_code(
        api.execute_erasure_request(request_as(&owner, execute(&opened.id)))
            .await,
        Code::FailedPrecondition,
    );
    assert!(refused.message().contains("legal hold"), "{refused:?}");
    assert_eq!(visible(&app, &writer, &customer).await, [1, 1, 2, 2]);
    assert_eq!(data_keys(&app.db, &owners_of(&customer)).await, 2);
    assert_eq!(app.audit.signed(), 0);
    assert!(app.audit_actions("customer.erased").await.is_empty());
    let still = api
        .get_erasure_request(request_as(&owner, by_id(&opened.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.status, "open");
    assert_eq!(counts(&still), [1, 1, 2, 2, 2, 2]);

    // Released, the same request erases.
    api.set_legal_hold(request_as(&owner, hold(false)))
        .await
        .unwrap();
    let executed = api
        .execute_erasure_request(request_as(&owner, execute(&opened.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(executed.status, "executed");
    assert_eq!(visible(&app, &writer, &customer).await, [0, 0, 0, 0]);
}

async fn without_a_certificate_nothing_is_erased(database: TestDatabase) {
    let app = ErasureApp::spawn(database).await;
    let (tenant, writer) = new_tenant();
    let owner = owner_key(&tenant);
    let customer = customer_with_data(&app, &writer, NAME, 2).await;
    let mut api = app.owner().await;
    let opened = api
        .create_erasure_request(request_as(&owner, create(&customer.id, "asked")))
        .await
        .unwrap()
        .into_inner();

    app.audit.down();
    expect_code(
        api.execute_erasure_request(request_as(&owner, execute(&opened.id)))
            .await,
        Code::Unavailable,
    );
    // Rolled back: every row and every key is still there, and readable.
    assert_eq!(visible(&app, &writer, &customer).await, [1, 2, 2, 2]);
    assert_eq!(data_keys(&app.db, &owners_of(&customer)).await, 3);
    let name = app
        .crm()
        .await
        .get_customer(request_as(
            &writer,
            proto::GetCustomerRequest {
                customer_id: customer.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .name;
    assert_eq!(name, NAME);
    assert!(app.audit_actions("customer.erased").await.is_empty());
    let still = api
        .get_erasure_request(request_as(&owner, by_id(&opened.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.status, "open");
    assert!(still.certificate_json.is_empty());

    app.audit.up();
    let executed = api
        .execute_erasure_request(request_as(&owner, execute(&opened.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counts(&executed), [1, 2, 3, 2, 2, 3]);
    assert_eq!(visible(&app, &writer, &customer).await, [0, 0, 0, 0]);
}

async fn another_tenant_or_mode_finds_nothing(database: TestDatabase) {
    let app = ErasureApp::spawn(database).await;
    let (tenant, writer) = new_tenant();
    let owner = owner_key(&tenant);
    let customer = customer_with_data(&app, &writer, NAME, 1).await;
    let mut api = app.owner().await;
    let opened = api
        .create_erasure_request(request_as(&owner, create(&customer.id, "asked")))
        .await
        .unwrap()
        .into_inner();

    let (other_tenant, _) = new_tenant();
    let test_mode = Principal {
        mode: DataMode::Test,
        ..owner_key(&tenant)
    };
    for stranger in [owner_key(&other_tenant), test_mode] {
        expect_code(
            api.get_erasure_request(request_as(&stranger, by_id(&opened.id)))
                .await,
            Code::NotFound,
        );
        expect_code(
            api.execute_erasure_request(request_as(&stranger, execute(&opened.id)))
                .await,
            Code::NotFound,
        );
        expect_code(
            api.create_erasure_request(request_as(&stranger, create(&customer.id, "mine")))
                .await,
            Code::NotFound,
        );
        let listed = api
            .list_erasure_requests(request_as(
                &stranger,
                proto::ListErasureRequestsRequest::default(),
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.erasure_requests.is_empty());
    }
    // Malformed and unknown ids answer alike.
    for id in ["nope", "era_", &CustomerId::generate().into_string()] {
        expect_code(
            api.get_erasure_request(request_as(&owner, by_id(id))).await,
            Code::NotFound,
        );
        expect_code(
            api.execute_erasure_request(request_as(&owner, execute(id)))
                .await,
            Code::NotFound,
        );
    }
    assert_eq!(visible(&app, &writer, &customer).await, [1, 1, 2, 2]);
    assert_eq!(app.audit.signed(), 0);
    assert_eq!(app.audit_actions("erasure.requested").await.len(), 1);
}

async fn only_owners_and_owner_keys_may_erase(database: TestDatabase) {
    let app = ErasureApp::spawn(database).await;
    let (tenant, writer) = new_tenant();
    let customer = customer_with_data(&app, &writer, NAME, 1).await;
    let mut api = app.owner().await;
    let opened = api
        .create_erasure_request(request_as(
            &owner_key(&tenant),
            create(&customer.id, "asked"),
        ))
        .await
        .unwrap()
        .into_inner();

    let refused = [
        user(&tenant, Role::Agent),
        user(&tenant, Role::Manager),
        key(&tenant, &["read"]),
        key(&tenant, &["read", "write"]),
        key(&tenant, &["settings"]),
        key(&tenant, &["read", "write", "settings", "audit"]),
    ];
    for principal in &refused {
        expect_code(
            api.create_erasure_request(request_as(principal, create(&customer.id, "asked")))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            api.get_erasure_request(request_as(principal, by_id(&opened.id)))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            api.list_erasure_requests(request_as(
                principal,
                proto::ListErasureRequestsRequest::default(),
            ))
            .await,
            Code::PermissionDenied,
        );
        expect_code(
            api.execute_erasure_request(request_as(principal, execute(&opened.id)))
                .await,
            Code::PermissionDenied,
        );
    }
    assert_eq!(visible(&app, &writer, &customer).await, [1, 1, 2, 2]);
    assert_eq!(app.audit.signed(), 0);
    assert_eq!(app.audit_actions("erasure.requested").await.len(), 1);

    // The owner's session may.
    let executed = api
        .execute_erasure_request(request_as(&user(&tenant, Role::Owner), execute(&opened.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(executed.status, "executed");
}

async fn malformed_input_names_the_field_and_stores_nothing(database: TestDatabase) {
    let app = ErasureApp::spawn(database).await;
    let (tenant, writer) = new_tenant();
    let owner = owner_key(&tenant);
    let customer = customer_with_data(&app, &writer, NAME, 1).await;
    let mut api = app.owner().await;

    for reason in ["", "   ", &"x".repeat(501), "a\u{0}b"] {
        let status = expect_code(
            api.create_erasure_request(request_as(&owner, create(&customer.id, reason)))
                .await,
            Code::InvalidArgument,
        );
        assert!(status.message().starts_with("reason "), "{status:?}");
    }
    for customer_id in ["", "cus_nope", &TenantId::generate().into_string()] {
        expect_code(
            api.create_erasure_request(request_as(&owner, create(customer_id, "asked")))
                .await,
            Code::NotFound,
        );
    }
    let bad_lists = [
        ("status", "deleted", 0, ""),
        ("page_size", "", 101, ""),
        ("cursor", "", 0, "cus_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f"),
    ];
    for (field, status, page_size, page_token) in bad_lists {
        let refused = expect_code(
            api.list_erasure_requests(request_as(
                &owner,
                proto::ListErasureRequestsRequest {
                    status: status.to_owned(),
                    page_size,
                    page_token: page_token.to_owned(),
                },
            ))
            .await,
            Code::InvalidArgument,
        );
        assert!(refused.message().starts_with(field), "{refused:?}");
    }
    assert!(app.audit_actions("erasure.requested").await.is_empty());
    let count = Query::select()
        .expr(Expr::col("id").count())
        .from("crm_erasure_request")
        .to_owned();
    let row = app.db.query_one(&count).await.unwrap().unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0);
}

async fn a_privacy_handoff_opens_a_request_and_erases_nothing(database: TestDatabase) {
    let app = ErasureApp::spawn(database).await;
    let (tenant, writer) = new_tenant();
    let owner = owner_key(&tenant);
    let customer = customer_with_data(&app, &writer, NAME, 1).await;
    let mut crm = app.crm().await;
    let mut api = app.owner().await;

    // The first message of a conversation (decided after it is stored).
    let started = crm
        .start_conversation(request_as(
            &writer,
            proto::StartConversationRequest {
                channel: "sms".to_owned(),
                first_message: PRIVACY.to_owned(),
                customer_id: customer.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.status, "handed_off");
    assert!(!started.handoff_id.is_empty());
    let listed = api
        .list_erasure_requests(request_as(
            &owner,
            proto::ListErasureRequestsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner()
        .erasure_requests;
    assert_eq!(listed.len(), 1);
    let request = &listed[0];
    assert_eq!(request.customer_id, customer.id);
    assert_eq!(request.status, "open");
    assert_eq!(request.source, format!("handoff:{}", started.handoff_id));
    assert_eq!(request.requested_by, writer.actor());
    assert!(!request.reason.contains(PRIVACY), "{}", request.reason);
    let requested = app.audit_actions("erasure.requested").await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].details["source"], request.source);
    // Nothing erased: the owner decides.
    assert_eq!(visible(&app, &writer, &customer).await, [1, 1, 2, 2]);

    // The same request again, in a conversation already going, is answered
    // by the open request: no second one.
    let conversation = &customer.conversations[0];
    let posted = crm
        .post_customer_message(request_as(&writer, post(conversation, PRIVACY)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(posted.receipt.unwrap().intents, ["privacy"]);
    assert_eq!(app.audit_actions("erasure.requested").await.len(), 1);

    // A conversation without a customer has nobody to erase; other
    // handoffs (legal, emergency) open no request.
    crm.start_conversation(request_as(
        &writer,
        crate::helpers::start_request("sms", PRIVACY),
    ))
    .await
    .unwrap();
    let other = customer_with_data(&app, &writer, "Ada Lovelace", 1).await;
    crm.post_customer_message(request_as(
        &writer,
        post(&other.conversations[0], "I will sue you"),
    ))
    .await
    .unwrap();
    assert_eq!(app.audit_actions("erasure.requested").await.len(), 1);

    // Decided by the retry after an outage: opened on the CRM's behalf.
    app.escalation.down();
    crm.post_customer_message(request_as(&writer, post(&other.conversations[0], PRIVACY)))
        .await
        .unwrap();
    assert_eq!(app.audit_actions("erasure.requested").await.len(), 1);
    app.escalation.up();
    assert_eq!(app.retry_pending_gates().await, 1);
    let requested = app.audit_actions("erasure.requested").await;
    assert_eq!(requested.len(), 2);
    assert_eq!(requested[1].target, format!("customer:{}", other.id));
    assert_eq!(requested[1].actor, "system:crm");
    let listed = api
        .list_erasure_requests(request_as(
            &owner,
            proto::ListErasureRequestsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner()
        .erasure_requests;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].customer_id, other.id);
    assert_eq!(listed[1].requested_by, "system:crm");
    assert!(listed[1].source.starts_with("handoff:hof_"));
    assert_eq!(visible(&app, &writer, &other).await, [1, 1, 2, 2]);
}

/// Every stored row of `customer`, as a backup of the data would hold it.
struct Snapshot {
    customers: Vec<customer::Model>,
    conversations: Vec<conversation::Model>,
    messages: Vec<message::Model>,
    appointments: Vec<appointment::Model>,
    notes: Vec<job_note::Model>,
}

impl Snapshot {
    async fn take(db: &DatabaseConnection, customer: &Customer) -> Self {
        Self {
            customers: customer::Entity::find_by_id(customer.id.clone())
                .all(db)
                .await
                .unwrap(),
            conversations: conversation::Entity::find()
                .filter(conversation::Column::Id.is_in(customer.conversations.clone()))
                .all(db)
                .await
                .unwrap(),
            messages: message::Entity::find()
                .filter(message::Column::ConversationId.is_in(customer.conversations.clone()))
                .all(db)
                .await
                .unwrap(),
            appointments: appointment::Entity::find()
                .filter(appointment::Column::Id.is_in(customer.appointments.clone()))
                .all(db)
                .await
                .unwrap(),
            notes: job_note::Entity::find()
                .filter(job_note::Column::Id.is_in(customer.notes.clone()))
                .all(db)
                .await
                .unwrap(),
        }
    }

    /// Puts the rows back, as restoring that backup would (the key tables,
    /// backed up apart, are not rolled back).
    async fn restore(self, db: &DatabaseConnection) {
        for row in self.customers {
            customer::Entity::insert(row.into_active_model())
                .exec_without_returning(db)
                .await
                .unwrap();
        }
        for row in self.conversations {
            conversation::Entity::insert(row.into_active_model())
                .exec_without_returning(db)
                .await
                .unwrap();
        }
        for row in self.messages {
            message::Entity::insert(row.into_active_model())
                .exec_without_returning(db)
                .await
                .unwrap();
        }
        for row in self.appointments {
            appointment::Entity::insert(row.into_active_model())
                .exec_without_returning(db)
                .await
                .unwrap();
        }
        for row in self.notes {
            job_note::Entity::insert(row.into_active_model())
                .exec_without_returning(db)
                .await
                .unwrap();
        }
    }
}

/// A backup of the data taken before an erasure and restored after it
/// brings the rows back without their keys: the customer stays erased
/// (404, not listed, not updatable), reading invents no new key, and the
/// tenant's other customers read as before (no 500 for the whole list).
async fn rows_restored_without_their_keys_stay_erased(database: TestDatabase) {
    let app = ErasureApp::spawn(database).await;
    let (tenant, writer) = new_tenant();
    let owner = owner_key(&tenant);
    let erased = customer_with_data(&app, &writer, NAME, 1).await;
    let kept = customer_with_data(&app, &writer, "Ada Lovelace", 1).await;
    let backup = Snapshot::take(&app.db, &erased).await;
    assert_eq!(backup.customers.len(), 1);
    assert!(!backup.messages.is_empty() && backup.notes.len() == 2);

    let mut api = app.owner().await;
    let opened = api
        .create_erasure_request(request_as(&owner, create(&erased.id, "asked")))
        .await
        .unwrap()
        .into_inner();
    api.execute_erasure_request(request_as(&owner, execute(&opened.id)))
        .await
        .unwrap();
    backup.restore(&app.db).await;
    assert_eq!(
        customer::Entity::find_by_id(erased.id.clone())
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        1,
        "the restore put the row back"
    );

    assert_eq!(visible(&app, &writer, &erased).await, [0, 0, 2, 0]);
    assert_eq!(visible(&app, &writer, &kept).await, [1, 1, 2, 2]);
    let mut crm = app.crm().await;
    let listed = crm
        .list_customers(request_as(&writer, proto::ListCustomersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = listed.customers.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [kept.id.as_str()]);
    expect_code(
        crm.update_customer(request_as(
            &writer,
            proto::UpdateCustomerRequest {
                customer_id: erased.id.clone(),
                name: Some("Someone Else".to_owned()),
                ..Default::default()
            },
        ))
        .await,
        Code::NotFound,
    );
    let mut schedule = app.schedule().await;
    expect_code(
        schedule
            .create_job_note(request_as(
                &writer,
                proto::CreateJobNoteRequest {
                    customer_id: erased.id.clone(),
                    text: "new note".to_owned(),
                    ..Default::default()
                },
            ))
            .await,
        Code::NotFound,
    );
    let notes = schedule
        .list_job_notes(request_as(&writer, proto::ListJobNotesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        notes.job_notes.iter().all(|n| n.customer_id == kept.id),
        "no note of the erased customer is listed"
    );
    assert_eq!(notes.job_notes.len(), 2);
    assert_eq!(
        data_keys(&app.db, &owners_of(&erased)).await,
        0,
        "reading made no new key"
    );
}
