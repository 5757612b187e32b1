//! Personal data at rest: sealed under per-customer and per-conversation
//! data keys, found by exact phone or e-mail through blind indexes, changed
//! by PATCH, surviving a master key rotation, and converted from plaintext
//! rows written before the vault.

use rampart_kit::ids::{ConversationId, CustomerId, MessageId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::principal::{DataMode, Principal, Role};
use rampart_kit::testing::{TestDatabase, admin_principal, expect_code, request_as};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::{TestApp, new_tenant, post, start_request, test_master_key, user};

on_both_databases!(
    no_personal_data_reaches_the_database_in_plaintext,
    exact_lookups_find_one_customer_in_its_tenant_and_mode,
    lookup_filters_are_parsed_and_named,
    customers_are_updated_by_patch,
    only_managers_and_write_keys_update_customers,
    a_ciphertext_moved_to_another_row_or_tenant_does_not_open,
    rotation_rewraps_and_the_old_master_key_can_go,
    legacy_plaintext_rows_are_sealed_at_start_up,
);

/// Text no ciphertext, index or id could contain by chance.
const NAME: &str = "Quillon Zephyrine";
const PHONE: &str = "+15557319824";
const EMAIL: &str = "quillon.zephyrine@marigold.example";
const ADDRESS: &str = "77 Vexmoor Lane";
const MESSAGE: &str = "my boiler Krakatoa-9 is leaking";
const SUMMARY: &str = "leaking Krakatoa-9 boiler";

fn new_customer(
    name: &str,
    phone: Option<&str>,
    email: Option<&str>,
) -> proto::CreateCustomerRequest {
    proto::CreateCustomerRequest {
        name: name.to_owned(),
        phone: phone.map(str::to_owned),
        email: email.map(str::to_owned),
        address: Some(ADDRESS.to_owned()),
    }
}

async fn create(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    request: proto::CreateCustomerRequest,
) -> proto::Customer {
    crm.create_customer(request_as(principal, request))
        .await
        .unwrap()
        .into_inner()
}

async fn get(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    id: &str,
) -> Result<proto::Customer, tonic::Status> {
    let request = proto::GetCustomerRequest {
        customer_id: id.to_owned(),
    };
    crm.get_customer(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

async fn lookup(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    phone: &str,
    email: &str,
) -> Result<Vec<String>, tonic::Status> {
    let request = proto::ListCustomersRequest {
        phone: phone.to_owned(),
        email: email.to_owned(),
        ..Default::default()
    };
    let listed = crm
        .list_customers(request_as(principal, request))
        .await?
        .into_inner();
    Ok(listed.customers.into_iter().map(|c| c.id).collect())
}

/// Everything the database holds, as bytes: the SQLite files (database,
/// WAL and shared memory), or a `pg_dump` (every text and bytea column
/// when `pg_dump` is missing).
pub async fn dump(url: &str, db: &DatabaseConnection) -> Vec<u8> {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = std::path::Path::new(rest.split('?').next().unwrap());
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        return bytes;
    }
    if let Ok(output) = std::process::Command::new("pg_dump")
        .args(["--data-only", "--dbname", url])
        .output()
        && output.status.success()
    {
        return output.stdout;
    }
    let columns = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT table_name, column_name, data_type FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'bytea')",
        ))
        .await
        .unwrap();
    let mut bytes = Vec::new();
    for column in columns {
        let table: String = column.try_get("", "table_name").unwrap();
        let name: String = column.try_get("", "column_name").unwrap();
        let kind: String = column.try_get("", "data_type").unwrap();
        let value = if kind == "bytea" {
            format!("encode(\"{name}\", 'escape')")
        } else {
            format!("\"{name}\"")
        };
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT {value} AS v FROM \"{table}\""),
            ))
            .await
            .unwrap();
        for row in rows {
            if let Ok(Some(text)) = row.try_get::<Option<String>>("", "v") {
                bytes.extend(text.into_bytes());
            }
        }
    }
    bytes
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn no_personal_data_reaches_the_database_in_plaintext(database: TestDatabase) {
    let url = database.url.clone();
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let customer = create(&mut crm, &key, new_customer(NAME, Some(PHONE), Some(EMAIL))).await;
    assert_eq!(customer.name, NAME);
    assert_eq!(customer.phone.as_deref(), Some(PHONE));
    let start = proto::StartConversationRequest {
        customer_id: customer.id.clone(),
        ..start_request("web", MESSAGE)
    };
    let conversation = crm
        .start_conversation(request_as(&key, start))
        .await
        .unwrap()
        .into_inner();
    let agent = user(&tenant, Role::Agent);
    crm.post_agent_reply(request_as(
        &agent,
        post(&conversation.id, "Vexmoor engineer en route"),
    ))
    .await
    .unwrap();
    crm.set_summary(request_as(
        &agent,
        proto::SetSummaryRequest {
            conversation_id: conversation.id.clone(),
            summary: SUMMARY.to_owned(),
        },
    ))
    .await
    .unwrap();

    // Everything reads back opened.
    assert_eq!(get(&mut crm, &key, &customer.id).await.unwrap(), customer);
    let read = crm
        .get_conversation(request_as(
            &agent,
            proto::GetConversationRequest {
                conversation_id: conversation.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.summary, SUMMARY);
    let texts: Vec<&str> = read.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, [MESSAGE, "Vexmoor engineer en route"]);

    let bytes = dump(&url, &app.db).await;
    assert!(contains(&bytes, &customer.id), "the dump holds the rows");
    for secret in [
        NAME,
        "Zephyrine",
        PHONE,
        "5557319824",
        EMAIL,
        "marigold",
        ADDRESS,
        "Krakatoa",
        "Vexmoor",
    ] {
        assert!(!contains(&bytes, secret), "{secret:?} is in the dump");
    }
}

async fn exact_lookups_find_one_customer_in_its_tenant_and_mode(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let wanted = create(
        &mut crm,
        &key,
        new_customer(
            "Wanted",
            Some("+1 (555) 000-1111"),
            Some("Wanted@Example.com"),
        ),
    )
    .await;
    create(
        &mut crm,
        &key,
        new_customer(
            "Neighbour",
            Some("+15550001112"),
            Some("wanted@example.org"),
        ),
    )
    .await;
    // The same contact details in the tenant's test mode and in another
    // tenant: never found from here.
    let test_key = key.clone().in_mode(DataMode::Test);
    let test_twin = create(
        &mut crm,
        &test_key,
        new_customer("Twin", Some("+15550001111"), Some("Wanted@example.com")),
    )
    .await;
    let (_, other_key) = new_tenant();
    let other_twin = create(
        &mut crm,
        &other_key,
        new_customer("Twin", Some("+15550001111"), Some("Wanted@example.com")),
    )
    .await;

    // Written and asked in different forms; both normalise the same.
    assert_eq!(
        lookup(&mut crm, &key, "+15550001111", "").await.unwrap(),
        std::slice::from_ref(&wanted.id)
    );
    assert_eq!(
        lookup(&mut crm, &key, "+1 555 000 1111", "").await.unwrap(),
        std::slice::from_ref(&wanted.id)
    );
    assert_eq!(
        lookup(&mut crm, &key, "", "Wanted@EXAMPLE.com")
            .await
            .unwrap(),
        std::slice::from_ref(&wanted.id)
    );
    assert_eq!(
        lookup(&mut crm, &key, "+15550001111", "Wanted@example.com")
            .await
            .unwrap(),
        std::slice::from_ref(&wanted.id)
    );
    // Exact: the local part keeps its case, and a near number is another.
    assert!(
        lookup(&mut crm, &key, "", "wanted@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        lookup(&mut crm, &key, "+15550001113", "")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        lookup(&mut crm, &key, "+15550001111", "Neighbour@example.com")
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        lookup(&mut crm, &test_key, "+15550001111", "")
            .await
            .unwrap(),
        [test_twin.id]
    );
    assert_eq!(
        lookup(&mut crm, &other_key, "", "Wanted@example.com")
            .await
            .unwrap(),
        [other_twin.id]
    );
    // A signed-in agent may read customers, so may look them up.
    let agent = user(&tenant, Role::Agent);
    assert_eq!(
        lookup(&mut crm, &agent, PHONE, "").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        lookup(&mut crm, &agent, "+15550001111", "").await.unwrap(),
        [wanted.id]
    );
}

async fn lookup_filters_are_parsed_and_named(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    let status = expect_code(
        lookup(&mut crm, &key, "call me", "").await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().starts_with("phone "),
        "{}",
        status.message()
    );
    let status = expect_code(
        lookup(&mut crm, &key, "", "no-at-sign").await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().starts_with("email "),
        "{}",
        status.message()
    );
}

fn patch(id: &str) -> proto::UpdateCustomerRequest {
    proto::UpdateCustomerRequest {
        customer_id: id.to_owned(),
        ..Default::default()
    }
}

async fn update(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    request: proto::UpdateCustomerRequest,
) -> Result<proto::Customer, tonic::Status> {
    crm.update_customer(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

async fn customers_are_updated_by_patch(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let manager = user(&tenant, Role::Manager);
    let before = create(
        &mut crm,
        &key,
        new_customer("Old Name", Some("+15550002222"), Some("old@example.com")),
    )
    .await;

    // Absent fields stay; a present one changes; an empty one clears.
    let request = proto::UpdateCustomerRequest {
        phone: Some("+1 555 000 3333".into()),
        address: Some(String::new()),
        ..patch(&before.id)
    };
    let after = update(&mut crm, &manager, request).await.unwrap();
    assert_eq!(after.name, "Old Name");
    assert_eq!(after.email.as_deref(), Some("old@example.com"));
    assert_eq!(after.phone.as_deref(), Some("+15550003333"));
    assert_eq!(after.address, None);
    assert_eq!(after.created_at, before.created_at);
    assert_eq!(get(&mut crm, &key, &before.id).await.unwrap(), after);
    // The blind index follows the change.
    assert_eq!(
        lookup(&mut crm, &key, "+15550003333", "").await.unwrap(),
        std::slice::from_ref(&before.id)
    );
    assert!(
        lookup(&mut crm, &key, "+15550002222", "")
            .await
            .unwrap()
            .is_empty()
    );

    let renamed = update(
        &mut crm,
        &key,
        proto::UpdateCustomerRequest {
            name: Some(" New Name ".into()),
            email: Some(String::new()),
            ..patch(&before.id)
        },
    )
    .await
    .unwrap();
    assert_eq!(renamed.name, "New Name");
    assert_eq!(renamed.email, None);
    assert!(
        lookup(&mut crm, &key, "", "old@example.com")
            .await
            .unwrap()
            .is_empty()
    );

    // Audited with the field names, never the values.
    let events = app.audit_actions("customer.updated").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].target, format!("customer:{}", before.id));
    assert_eq!(
        events[0].details.get("fields").map(String::as_str),
        Some("phone,address")
    );
    assert_eq!(
        events[1].details.get("fields").map(String::as_str),
        Some("name,email")
    );
    let payloads = app.audit_payloads().await.join("\n");
    for value in ["New Name", "5550003333", "old@example.com"] {
        assert!(!payloads.contains(value), "{value} in the audit log");
    }

    // The name cannot be cleared; a bad field is named and changes nothing.
    for (request, field) in [
        (
            proto::UpdateCustomerRequest {
                name: Some(String::new()),
                ..patch(&before.id)
            },
            "name",
        ),
        (
            proto::UpdateCustomerRequest {
                phone: Some("12".into()),
                name: Some("Other".into()),
                ..patch(&before.id)
            },
            "phone",
        ),
        (
            proto::UpdateCustomerRequest {
                email: Some("nope".into()),
                ..patch(&before.id)
            },
            "email",
        ),
    ] {
        let status = expect_code(update(&mut crm, &key, request).await, Code::InvalidArgument);
        assert!(status.message().starts_with(field), "{}", status.message());
    }
    assert_eq!(get(&mut crm, &key, &before.id).await.unwrap(), renamed);
    assert_eq!(app.audit_actions("customer.updated").await.len(), 2);

    // Unknown, malformed and another tenant's ids: not found, nothing changes.
    let (_, other_key) = new_tenant();
    let unknown = CustomerId::generate().into_string();
    for (principal, id) in [
        (&key, unknown.as_str()),
        (&key, "garbage"),
        (&other_key, before.id.as_str()),
    ] {
        let request = proto::UpdateCustomerRequest {
            name: Some("Hijacked".into()),
            ..patch(id)
        };
        expect_code(update(&mut crm, principal, request).await, Code::NotFound);
    }
    assert_eq!(
        get(&mut crm, &key, &before.id).await.unwrap().name,
        "New Name"
    );
}

async fn only_managers_and_write_keys_update_customers(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let customer = create(&mut crm, &key, new_customer("Kept", None, None)).await;
    let read_key = Principal {
        scopes: vec!["read".to_owned()],
        ..key.clone()
    };
    for principal in [user(&tenant, Role::Agent), read_key] {
        let request = proto::UpdateCustomerRequest {
            name: Some("Changed".into()),
            ..patch(&customer.id)
        };
        expect_code(
            update(&mut crm, &principal, request).await,
            Code::PermissionDenied,
        );
    }
    for principal in [user(&tenant, Role::Manager), user(&tenant, Role::Owner)] {
        let request = proto::UpdateCustomerRequest {
            name: Some("Changed".into()),
            ..patch(&customer.id)
        };
        update(&mut crm, &principal, request).await.unwrap();
    }
    assert_eq!(app.audit_actions("customer.updated").await.len(), 2);
}

async fn a_ciphertext_moved_to_another_row_or_tenant_does_not_open(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    let (_, other_key) = new_tenant();
    let source = create(&mut crm, &key, new_customer("Source", None, None)).await;
    let same_tenant = create(&mut crm, &key, new_customer("Target", None, None)).await;
    let other_tenant = create(&mut crm, &other_key, new_customer("Target", None, None)).await;

    let sealed_name = |id: String| {
        Query::select()
            .column("name_sealed")
            .from("crm_customer")
            .and_where(Expr::col("id").eq(id))
            .to_owned()
    };
    let row = app
        .db
        .query_one(&sealed_name(source.id.clone()))
        .await
        .unwrap()
        .unwrap();
    let stolen: Vec<u8> = row.try_get("", "name_sealed").unwrap();
    for (target, principal) in [(&same_tenant, &key), (&other_tenant, &other_key)] {
        app.db
            .execute(
                &Query::update()
                    .table("crm_customer")
                    .value("name_sealed", stolen.clone())
                    .and_where(Expr::col("id").eq(target.id.clone()))
                    .to_owned(),
            )
            .await
            .unwrap();
        expect_code(get(&mut crm, principal, &target.id).await, Code::Internal);
    }
    // A flipped byte in place fails too; the source itself still opens.
    let mut tampered = stolen.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    app.db
        .execute(
            &Query::update()
                .table("crm_customer")
                .value("name_sealed", tampered)
                .and_where(Expr::col("id").eq(same_tenant.id.clone()))
                .to_owned(),
        )
        .await
        .unwrap();
    expect_code(get(&mut crm, &key, &same_tenant.id).await, Code::Internal);
    assert_eq!(
        get(&mut crm, &key, &source.id).await.unwrap().name,
        "Source"
    );
}

/// Stops the service and starts it again on the same database.
async fn restart(app: &mut TestApp) {
    app.stop().await.unwrap();
    app.restart().await;
}

fn keyring(versions: &[(u32, u8)]) -> String {
    use base64::Engine;
    versions
        .iter()
        .map(|(version, byte)| {
            format!(
                "v{version}:{}",
                base64::engine::general_purpose::STANDARD.encode([*byte; 32])
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn rotate(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
) -> Result<proto::RotateMasterKeyResponse, tonic::Status> {
    crm.rotate_master_key(request_as(principal, proto::RotateMasterKeyRequest {}))
        .await
        .map(tonic::Response::into_inner)
}

async fn rotation_rewraps_and_the_old_master_key_can_go(database: TestDatabase) {
    let mut app = TestApp::spawn(database).await;
    app.set_master_key(test_master_key(&keyring(&[(1, 1)])));
    restart(&mut app).await;
    let mut crm = app.client().await;
    let tenants: Vec<(TenantId, Principal)> = (0..3).map(|_| new_tenant()).collect();
    let mut customers = Vec::new();
    for (_, key) in &tenants {
        customers.push(create(&mut crm, key, new_customer("Rotated", Some(PHONE), None)).await);
    }

    app.set_master_key(test_master_key(&keyring(&[(1, 1), (2, 2)])));
    restart(&mut app).await;
    let mut crm = app.client().await;
    // Only platform admins rotate.
    expect_code(
        rotate(&mut crm, &tenants[0].1).await,
        Code::PermissionDenied,
    );
    let owner = user(&tenants[0].0, Role::Owner);
    expect_code(rotate(&mut crm, &owner).await, Code::PermissionDenied);
    // A tenant keyed after the new version came is already current.
    let (_, newcomer) = new_tenant();
    create(&mut crm, &newcomer, new_customer("Newcomer", None, None)).await;

    let rotation = rotate(&mut crm, &admin_principal()).await.unwrap();
    assert_eq!((rotation.rewrapped, rotation.already_current), (3, 1));
    let again = rotate(&mut crm, &admin_principal()).await.unwrap();
    assert_eq!((again.rewrapped, again.already_current), (0, 4));
    let events = app.audit_actions("master_key.rotated").await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].details.get("rewrapped").map(String::as_str),
        Some("3")
    );
    assert_eq!(
        events[0].details.get("already_current").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        events[0].details.get("version").map(String::as_str),
        Some("2")
    );

    // The old version leaves the keyring: everything still opens and is
    // still found.
    app.set_master_key(test_master_key(&keyring(&[(2, 2)])));
    restart(&mut app).await;
    let mut crm = app.client().await;
    for ((_, key), customer) in tenants.iter().zip(&customers) {
        assert_eq!(&get(&mut crm, key, &customer.id).await.unwrap(), customer);
        assert_eq!(
            lookup(&mut crm, key, PHONE, "").await.unwrap(),
            std::slice::from_ref(&customer.id)
        );
    }
}

async fn legacy_plaintext_rows_are_sealed_at_start_up(database: TestDatabase) {
    let url = database.url.clone();
    let mut app = TestApp::spawn(database).await;
    let (tenant, key) = new_tenant();
    let customer_id = CustomerId::generate().into_string();
    let conversation_id = ConversationId::generate().into_string();
    let message_id = MessageId::generate().into_string();
    let now = chrono::Utc::now();
    // Rows as the CRM wrote them before the vault: plaintext, no sealed
    // twin, no blind index.
    let statements = [
        Query::insert()
            .into_table("crm_customer")
            .columns([
                "id",
                "tenant_id",
                "mode",
                "name",
                "phone",
                "email",
                "address",
                "created_at",
            ])
            .values_panic([
                customer_id.as_str().into(),
                tenant.as_str().into(),
                "live".into(),
                NAME.into(),
                PHONE.into(),
                EMAIL.into(),
                ADDRESS.into(),
                now.into(),
            ])
            .to_owned(),
        Query::insert()
            .into_table("crm_conversation")
            .columns([
                "id",
                "tenant_id",
                "mode",
                "channel",
                "origin",
                "first_message",
                "started_at",
                "updated_at",
                "summary",
                "status",
            ])
            .values_panic([
                conversation_id.as_str().into(),
                tenant.as_str().into(),
                "live".into(),
                "web".into(),
                "".into(),
                "".into(),
                now.into(),
                now.into(),
                SUMMARY.into(),
                "assigned".into(),
            ])
            .to_owned(),
        Query::insert()
            .into_table("crm_message")
            .columns([
                "id",
                "tenant_id",
                "mode",
                "conversation_id",
                "author",
                "text",
                "delivery",
                "findings",
                "created_at",
            ])
            .values_panic([
                message_id.as_str().into(),
                tenant.as_str().into(),
                "live".into(),
                conversation_id.as_str().into(),
                "customer".into(),
                MESSAGE.into(),
                "received".into(),
                "[]".into(),
                now.into(),
            ])
            .to_owned(),
    ];
    for statement in &statements {
        app.db.execute(statement).await.unwrap();
    }

    restart(&mut app).await;
    let mut crm = app.client().await;
    let customer = get(&mut crm, &key, &customer_id).await.unwrap();
    assert_eq!(
        (
            customer.name.as_str(),
            customer.phone.as_deref(),
            customer.email.as_deref(),
            customer.address.as_deref()
        ),
        (NAME, Some(PHONE), Some(EMAIL), Some(ADDRESS))
    );
    assert_eq!(
        lookup(&mut crm, &key, PHONE, EMAIL).await.unwrap(),
        std::slice::from_ref(&customer_id)
    );
    let agent = user(&tenant, Role::Agent);
    let conversation = crm
        .get_conversation(request_as(
            &agent,
            proto::GetConversationRequest {
                conversation_id: conversation_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(conversation.summary, SUMMARY);
    assert_eq!(conversation.messages[0].text, MESSAGE);

    // The plaintext columns are empty now (SQLite may still hold the old
    // text in free pages until they are reused, so the columns are checked,
    // not the file).
    let sealed_state = || {
        Query::select()
            .columns([
                "name",
                "phone",
                "email",
                "address",
                "name_sealed",
                "phone_index",
            ])
            .from("crm_customer")
            .and_where(Expr::col("id").eq(customer_id.clone()))
            .to_owned()
    };
    let row = app.db.query_one(&sealed_state()).await.unwrap().unwrap();
    assert_eq!(row.try_get::<String>("", "name").unwrap(), "");
    for column in ["phone", "email", "address"] {
        assert_eq!(
            row.try_get::<Option<String>>("", column).unwrap(),
            None,
            "{column}"
        );
    }
    let sealed_before: Vec<u8> = row.try_get("", "name_sealed").unwrap();
    let text = |table: &'static str, column: &'static str, id: String| {
        Query::select()
            .column(column)
            .from(table)
            .and_where(Expr::col("id").eq(id))
            .to_owned()
    };
    let summary = app
        .db
        .query_one(&text(
            "crm_conversation",
            "summary",
            conversation_id.clone(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.try_get::<String>("", "summary").unwrap(), "");
    let message = app
        .db
        .query_one(&text("crm_message", "text", message_id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.try_get::<String>("", "text").unwrap(), "");
    if !url.starts_with("sqlite:") {
        let bytes = dump(&url, &app.db).await;
        for secret in ["Zephyrine", "5557319824", "marigold", "Krakatoa", "Vexmoor"] {
            assert!(!contains(&bytes, secret), "{secret:?} is in the dump");
        }
    }

    // Idempotent: a second start converts nothing again.
    restart(&mut app).await;
    let row = app.db.query_one(&sealed_state()).await.unwrap().unwrap();
    assert_eq!(
        row.try_get::<Vec<u8>>("", "name_sealed").unwrap(),
        sealed_before
    );
    let mut crm = app.client().await;
    assert_eq!(get(&mut crm, &key, &customer_id).await.unwrap(), customer);
}
