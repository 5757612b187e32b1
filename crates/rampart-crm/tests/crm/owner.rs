//! The owner's configuration through `OwnerService`: business settings,
//! channels (with write-only, sealed credentials), retention periods and
//! legal holds; who may touch them, and that test and live never meet.

use rampart_crm::store::{DataScope, is_held};
use rampart_crm::vault::Field;
use rampart_kit::ids::{CustomerId, TenantId};
use rampart_kit::on_both_databases;
use rampart_kit::outbox::AuditRecord;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{DataMode, Principal, Role};
use rampart_kit::testing::{
    TestDatabase, admin_principal, expect_code, request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::owner_service_client::OwnerServiceClient;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::{TestApp, user};

on_both_databases!(
    settings_round_trip_with_versions_and_audit,
    invalid_settings_name_the_field_and_store_nothing,
    channels_are_connected_listed_and_disconnected_without_showing_credentials,
    retention_periods_are_bounded_and_audited,
    legal_holds_are_set_released_and_scoped,
    wrong_roles_and_scopes_are_refused,
    test_and_live_configuration_never_meet,
    only_the_gateway_may_call
);

const SECRET_TOKEN: &str = "tok-zq81-NEVER-SHOWN";

/// A key of `tenant` holding `scopes`.
fn key(tenant: &TenantId, scopes: &[&str]) -> Principal {
    Principal {
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..tenant_principal(tenant)
    }
}

fn test_mode(principal: Principal) -> Principal {
    Principal {
        mode: DataMode::Test,
        ..principal
    }
}

async fn owner_api(app: &TestApp) -> OwnerServiceClient<Channel> {
    app.owner_client_as(ServiceName::Gateway).await
}

fn document() -> Value {
    json!({
        "time_zone": "America/Chicago",
        "opening_hours": {
            "monday": [{"open": "08:00", "close": "17:00"}],
            "tuesday": [{"open": "08:00", "close": "17:00"}],
            "wednesday": [], "thursday": [], "friday": [], "saturday": [], "sunday": []
        },
        "emergency": {"keywords": ["burst pipe"], "after_hours_phone": "+1 312 555 0100"},
        "sms_templates": {"reminder": "Hi {customer_name}, we arrive at {appointment_time}."},
        "pricing_notes": "Call-out fee $89.",
        "transcripts_enabled": false
    })
}

fn put(document: &Value, expected_version: Option<u32>) -> proto::PutSettingsRequest {
    proto::PutSettingsRequest {
        document: document.to_string(),
        expected_version,
    }
}

/// A tenant the CRM knows (so `transcripts_enabled` has a row to live on).
async fn created_tenant(app: &TestApp) -> TenantId {
    let tenant = app
        .client()
        .await
        .create_tenant(request_as(
            &admin_principal(),
            proto::CreateTenantRequest {
                name: "Acme Plumbing".into(),
                office_domains: Vec::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    TenantId::parse(&tenant.id).unwrap()
}

fn checked(records: Vec<AuditRecord>) -> Vec<AuditRecord> {
    for record in &records {
        record.check_schema().unwrap();
    }
    records
}

async fn settings_round_trip_with_versions_and_audit(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut owner = owner_api(&app).await;
    let tenant = created_tenant(&app).await;
    let manager = user(&tenant, Role::Manager);

    let initial = owner
        .get_settings(request_as(&manager, proto::GetSettingsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(initial.version, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&initial.document).unwrap()["time_zone"],
        "UTC"
    );

    let written = owner
        .put_settings(request_as(&manager, put(&document(), Some(0))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(written.version, 1);
    assert!(written.updated_by.starts_with("user:usr_"));
    let read = owner
        .get_settings(request_as(&manager, proto::GetSettingsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.version, 1);
    let stored: Value = serde_json::from_str(&read.document).unwrap();
    assert_eq!(stored["emergency"]["after_hours_phone"], "+13125550100");
    assert_eq!(stored["opening_hours"]["monday"][0]["close"], "17:00");
    assert_eq!(stored["sms_templates"], document()["sms_templates"]);

    // A write from a stale version is refused and changes nothing.
    let mut stale = document();
    stale["pricing_notes"] = "Free quotes.".into();
    expect_code(
        owner
            .put_settings(request_as(&manager, put(&stale, Some(0))))
            .await,
        Code::FailedPrecondition,
    );
    let read = owner
        .get_settings(request_as(&manager, proto::GetSettingsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.version, 1);

    // transcripts_enabled is the tenant's flag, the one the support flow reads.
    stale["transcripts_enabled"] = true.into();
    let second = owner
        .put_settings(request_as(&manager, put(&stale, Some(1))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.version, 2);
    let row = rampart_crm::entity::tenant::Entity::find_by_id(tenant.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.transcripts_enabled);

    let events = checked(app.audit_actions("config.changed").await);
    assert_eq!(events.len(), 2, "one event per written version");
    let first = &events[0];
    assert_eq!(first.tenant_id.as_deref(), Some(tenant.as_str()));
    assert_eq!(first.target, "config:business_settings");
    assert_eq!(first.details["setting"], "business_settings");
    assert_eq!(first.details["before"], "version 0");
    assert_eq!(first.details["after"], "version 1");
    assert!(first.details["changed"].contains("opening_hours"));
    assert_eq!(
        events[1].details["changed"],
        "pricing_notes,transcripts_enabled"
    );
    // Values (a phone number, free text) stay out of the log.
    let payloads = app.audit_payloads().await.join("\n");
    assert!(!payloads.contains("3125550100") && !payloads.contains("Free quotes"));
}

async fn invalid_settings_name_the_field_and_store_nothing(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut owner = owner_api(&app).await;
    let tenant = TenantId::generate();
    let settings_key = key(&tenant, &["settings"]);
    let cases: Vec<(&str, Value)> = vec![
        ("opening_hours.monday[0].close", {
            let mut d = document();
            d["opening_hours"]["monday"][0]["close"] = "07:00".into();
            d
        }),
        ("sms_templates.reminder", {
            let mut d = document();
            d["sms_templates"]["reminder"] = "Hi {first_name}".into();
            d
        }),
        ("emergency.after_hours_phone", {
            let mut d = document();
            d["emergency"]["after_hours_phone"] = "ring me".into();
            d
        }),
        ("time_zone", {
            let mut d = document();
            d.as_object_mut().unwrap().remove("time_zone");
            d
        }),
    ];
    for (field, bad) in cases {
        let status = expect_code(
            owner
                .put_settings(request_as(&settings_key, put(&bad, None)))
                .await,
            Code::InvalidArgument,
        );
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }
    assert_eq!(app.count_rows("crm_business_settings").await, 0);
    assert_eq!(app.pending_audit().await, 0);
}

fn sms_channel() -> proto::CreateChannelRequest {
    proto::CreateChannelRequest {
        kind: "sms".into(),
        display_name: "Front desk SMS".into(),
        credentials: json!({"account_sid": "AC0192f0c1", "auth_token": SECRET_TOKEN}).to_string(),
        ..Default::default()
    }
}

/// Every byte the database keeps, as far as the test can reach it: the
/// SQLite files themselves, or on PostgreSQL the channel table's columns.
async fn raw_database(app: &TestApp) -> Vec<u8> {
    let url = app.database_url();
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap();
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            if let Ok(file) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(file);
            }
        }
        assert!(!bytes.is_empty());
        return bytes;
    }
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT id, display_name, credential_names, credentials FROM crm_channel",
        ))
        .await
        .unwrap();
    let mut bytes = Vec::new();
    for row in rows {
        for column in ["id", "display_name", "credential_names"] {
            bytes.extend(row.try_get::<String>("", column).unwrap().into_bytes());
        }
        bytes.extend(
            row.try_get::<Option<Vec<u8>>>("", "credentials")
                .unwrap()
                .unwrap_or_default(),
        );
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn channels_are_connected_listed_and_disconnected_without_showing_credentials(
    database: TestDatabase,
) {
    let app = TestApp::spawn(database).await;
    let mut owner = owner_api(&app).await;
    let tenant = TenantId::generate();
    let owner_key = key(&tenant, &["owner"]);

    let channel = owner
        .create_channel(request_as(&owner_key, sms_channel()))
        .await
        .unwrap()
        .into_inner();
    assert!(channel.id.starts_with("chn_"));
    assert!(channel.credentials_set);
    assert_eq!(channel.credential_names, ["account_sid", "auth_token"]);
    assert!(!format!("{channel:?}").contains(SECRET_TOKEN));
    let widget = owner
        .create_channel(request_as(
            &user(&tenant, Role::Owner),
            proto::CreateChannelRequest {
                kind: "widget".into(),
                display_name: "Website".into(),
                credentials: String::new(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!widget.credentials_set);

    let listed = owner
        .list_channels(request_as(&owner_key, proto::ListChannelsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.channels.len(), 2);
    assert!(!format!("{listed:?}").contains(SECRET_TOKEN));

    // Only ciphertext is stored, and it opens with the tenant's data key at
    // exactly this row and column.
    assert!(!contains(&raw_database(&app).await, SECRET_TOKEN));
    let row = rampart_crm::entity::channel::Entity::find_by_id(channel.id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let sealed = row.credentials.unwrap();
    let key = app
        .vault()
        .tenant(&app.db, &tenant)
        .await
        .unwrap()
        .data_key(&app.db, "tenant")
        .await
        .unwrap();
    let at = |row| Field {
        table: "crm_channel",
        column: "credentials",
        row,
    };
    let opened: Value =
        serde_json::from_str(&key.open(&at(&channel.id), &sealed).unwrap()).unwrap();
    assert_eq!(opened["auth_token"], SECRET_TOKEN);
    assert!(key.open(&at(&widget.id), &sealed).is_err());

    // Another tenant cannot see or delete it.
    let other = key_of_other_tenant();
    let seen = owner
        .list_channels(request_as(&other, proto::ListChannelsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(seen.channels.is_empty());
    expect_code(
        owner
            .delete_channel(request_as(
                &other,
                proto::DeleteChannelRequest {
                    channel_id: channel.id.clone(),
                },
            ))
            .await,
        Code::NotFound,
    );

    owner
        .delete_channel(request_as(
            &owner_key,
            proto::DeleteChannelRequest {
                channel_id: channel.id.clone(),
            },
        ))
        .await
        .unwrap();
    assert!(
        rampart_crm::entity::channel::Entity::find_by_id(channel.id.as_str())
            .one(&app.db)
            .await
            .unwrap()
            .is_none(),
        "the sealed credentials went with the row"
    );
    expect_code(
        owner
            .delete_channel(request_as(
                &owner_key,
                proto::DeleteChannelRequest {
                    channel_id: channel.id.clone(),
                },
            ))
            .await,
        Code::NotFound,
    );
    expect_code(
        owner
            .delete_channel(request_as(
                &owner_key,
                proto::DeleteChannelRequest {
                    channel_id: "not-an-id".into(),
                },
            ))
            .await,
        Code::NotFound,
    );

    let connected = checked(app.audit_actions("channel.connected").await);
    assert_eq!(connected.len(), 2);
    assert_eq!(connected[0].target, format!("channel:{}", channel.id));
    assert_eq!(connected[0].details["channel_type"], "sms");
    let disconnected = checked(app.audit_actions("channel.disconnected").await);
    assert_eq!(disconnected.len(), 1);
    assert_eq!(disconnected[0].target, format!("channel:{}", channel.id));
    assert!(!app.audit_payloads().await.join("\n").contains(SECRET_TOKEN));

    // A bad credential object is refused, naming the field, storing nothing.
    let before = app.count_rows("crm_channel").await;
    let status = expect_code(
        owner
            .create_channel(request_as(
                &owner_key,
                proto::CreateChannelRequest {
                    credentials: r#"{"auth_token": 42}"#.into(),
                    ..sms_channel()
                },
            ))
            .await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("credentials.auth_token"));
    let status = expect_code(
        owner
            .create_channel(request_as(
                &owner_key,
                proto::CreateChannelRequest {
                    kind: "pager".into(),
                    ..sms_channel()
                },
            ))
            .await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("kind"));
    assert_eq!(app.count_rows("crm_channel").await, before);
}

fn key_of_other_tenant() -> Principal {
    key(&TenantId::generate(), &["owner"])
}

async fn retention_periods_are_bounded_and_audited(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut owner = owner_api(&app).await;
    let tenant = TenantId::generate();
    let owner_user = user(&tenant, Role::Owner);

    let initial = owner
        .get_retention(request_as(&owner_user, proto::GetRetentionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(initial.conversations_days, None);
    assert!(initial.audit_log.starts_with("exempt"));

    for (field, request) in [
        (
            "conversations_days",
            proto::PutRetentionRequest {
                conversations_days: Some(0),
                ..Default::default()
            },
        ),
        (
            "job_notes_days",
            proto::PutRetentionRequest {
                job_notes_days: Some(3651),
                ..Default::default()
            },
        ),
    ] {
        let status = expect_code(
            owner.put_retention(request_as(&owner_user, request)).await,
            Code::InvalidArgument,
        );
        assert!(status.message().starts_with(field), "{}", status.message());
    }
    assert_eq!(app.count_rows("crm_retention").await, 0);

    let set = proto::PutRetentionRequest {
        conversations_days: Some(365),
        job_notes_days: Some(3650),
        inactive_customers_days: None,
    };
    let written = owner
        .put_retention(request_as(&owner_user, set))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(written.conversations_days, Some(365));
    assert_eq!(written.job_notes_days, Some(3650));
    assert_eq!(written.inactive_customers_days, None);
    owner
        .put_retention(request_as(
            &owner_user,
            proto::PutRetentionRequest {
                conversations_days: Some(90),
                job_notes_days: Some(3650),
                inactive_customers_days: Some(730),
            },
        ))
        .await
        .unwrap();
    let read = owner
        .get_retention(request_as(&owner_user, proto::GetRetentionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.conversations_days, Some(90));
    assert_eq!(read.inactive_customers_days, Some(730));

    let events = checked(app.audit_actions("config.changed").await);
    assert_eq!(events.len(), 2);
    let last = &events[1];
    assert_eq!(last.details["setting"], "retention");
    assert_eq!(
        last.details["changed"],
        "conversations_days,inactive_customers_days"
    );
    assert_eq!(
        last.details["before"],
        "conversations_days=365,inactive_customers_days=keep"
    );
    assert_eq!(
        last.details["after"],
        "conversations_days=90,inactive_customers_days=730"
    );
}

async fn create_customer(app: &TestApp, tenant: &TenantId) -> String {
    app.client()
        .await
        .create_customer(request_as(
            &tenant_principal(tenant),
            proto::CreateCustomerRequest {
                name: "Grace Hopper".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

fn hold(customer_id: &str, held: bool, reason: &str) -> proto::SetLegalHoldRequest {
    proto::SetLegalHoldRequest {
        customer_id: customer_id.to_owned(),
        held,
        reason: reason.to_owned(),
    }
}

async fn legal_holds_are_set_released_and_scoped(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut owner = owner_api(&app).await;
    let tenant = TenantId::generate();
    let customer = create_customer(&app, &tenant).await;
    let customer_id = CustomerId::parse(&customer).unwrap();
    let scope = DataScope::live(tenant.clone());
    let owner_user = user(&tenant, Role::Owner);
    assert!(!is_held(&app.db, &scope, &customer_id).await.unwrap());

    let placed = owner
        .set_legal_hold(request_as(
            &owner_user,
            hold(&customer, true, "Case 2026-114"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(placed.held);
    assert_eq!(placed.reason, "Case 2026-114");
    assert!(placed.changed_by.starts_with("user:usr_"));
    assert!(is_held(&app.db, &scope, &customer_id).await.unwrap());
    // Another tenant's scope, or the test mode, does not see the hold.
    assert!(
        !is_held(
            &app.db,
            &DataScope::live(TenantId::generate()),
            &customer_id
        )
        .await
        .unwrap()
    );
    let test_scope = DataScope {
        tenant_id: tenant.clone(),
        mode: DataMode::Test,
    };
    assert!(!is_held(&app.db, &test_scope, &customer_id).await.unwrap());

    // Another tenant's owner, a test key and a malformed id: not found.
    for (principal, id) in [
        (key_of_other_tenant(), customer.as_str()),
        (test_mode(key(&tenant, &["owner"])), customer.as_str()),
        (key(&tenant, &["owner"]), "cus_nope"),
    ] {
        expect_code(
            owner
                .set_legal_hold(request_as(&principal, hold(id, false, "release")))
                .await,
            Code::NotFound,
        );
    }
    assert!(is_held(&app.db, &scope, &customer_id).await.unwrap());
    let status = expect_code(
        owner
            .set_legal_hold(request_as(&owner_user, hold(&customer, false, "  ")))
            .await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("reason"));

    let released = owner
        .set_legal_hold(request_as(
            &key(&tenant, &["owner"]),
            hold(&customer, false, "Case closed"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!released.held);
    assert!(!is_held(&app.db, &scope, &customer_id).await.unwrap());

    let set = checked(app.audit_actions("legal_hold.set").await);
    let release = checked(app.audit_actions("legal_hold.released").await);
    assert_eq!((set.len(), release.len()), (1, 1));
    assert_eq!(set[0].target, format!("customer:{customer}"));
    assert!(release[0].actor.starts_with("api_key:"));
    assert!(
        !app.audit_payloads()
            .await
            .join("\n")
            .contains("Case 2026-114")
    );
}

async fn wrong_roles_and_scopes_are_refused(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut owner = owner_api(&app).await;
    let tenant = TenantId::generate();
    let customer = create_customer(&app, &tenant).await;
    let agent = user(&tenant, Role::Agent);
    let manager = user(&tenant, Role::Manager);
    let read_write = key(&tenant, &["read", "write"]);
    let settings_key = key(&tenant, &["settings"]);

    // Business settings: managers and the settings scope.
    for principal in [&agent, &read_write, &key(&tenant, &["owner"])] {
        expect_code(
            owner
                .put_settings(request_as(principal, put(&document(), None)))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            owner
                .get_settings(request_as(principal, proto::GetSettingsRequest {}))
                .await,
            Code::PermissionDenied,
        );
    }
    owner
        .get_settings(request_as(&manager, proto::GetSettingsRequest {}))
        .await
        .unwrap();
    owner
        .get_settings(request_as(&settings_key, proto::GetSettingsRequest {}))
        .await
        .unwrap();

    // Channels, retention, holds: owners and the owner scope.
    for principal in [&agent, &manager, &read_write, &settings_key] {
        expect_code(
            owner
                .create_channel(request_as(principal, sms_channel()))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            owner
                .list_channels(request_as(principal, proto::ListChannelsRequest {}))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            owner
                .put_retention(request_as(
                    principal,
                    proto::PutRetentionRequest {
                        conversations_days: Some(30),
                        ..Default::default()
                    },
                ))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            owner
                .get_retention(request_as(principal, proto::GetRetentionRequest {}))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            owner
                .set_legal_hold(request_as(principal, hold(&customer, true, "x")))
                .await,
            Code::PermissionDenied,
        );
    }
    expect_code(
        owner
            .get_settings(request_as(&admin_principal(), proto::GetSettingsRequest {}))
            .await,
        Code::PermissionDenied,
    );
    for table in [
        "crm_business_settings",
        "crm_channel",
        "crm_retention",
        "crm_legal_hold",
    ] {
        assert_eq!(app.count_rows(table).await, 0, "{table}");
    }
    assert_eq!(app.audit_actions("config.changed").await.len(), 0);
}

async fn test_and_live_configuration_never_meet(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut owner = owner_api(&app).await;
    let tenant = created_tenant(&app).await;
    let live = key(&tenant, &["owner", "settings"]);
    let test = test_mode(live.clone());

    owner
        .put_settings(request_as(&live, put(&document(), None)))
        .await
        .unwrap();
    let live_channel = owner
        .create_channel(request_as(&live, sms_channel()))
        .await
        .unwrap()
        .into_inner();
    owner
        .put_retention(request_as(
            &live,
            proto::PutRetentionRequest {
                conversations_days: Some(30),
                ..Default::default()
            },
        ))
        .await
        .unwrap();

    let seen = owner
        .get_settings(request_as(&test, proto::GetSettingsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.version, 0);
    let channels = owner
        .list_channels(request_as(&test, proto::ListChannelsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(channels.channels.is_empty());
    expect_code(
        owner
            .delete_channel(request_as(
                &test,
                proto::DeleteChannelRequest {
                    channel_id: live_channel.id.clone(),
                },
            ))
            .await,
        Code::NotFound,
    );
    let retention = owner
        .get_retention(request_as(&test, proto::GetRetentionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retention.conversations_days, None);

    // Test mode writes its own, which live does not see.
    let mut test_document = document();
    test_document["pricing_notes"] = "Sandbox prices.".into();
    owner
        .put_settings(request_as(&test, put(&test_document, None)))
        .await
        .unwrap();
    owner
        .create_channel(request_as(&test, sms_channel()))
        .await
        .unwrap();
    let live_settings = owner
        .get_settings(request_as(&live, proto::GetSettingsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(live_settings.version, 1);
    assert!(!live_settings.document.contains("Sandbox"));
    let live_channels = owner
        .list_channels(request_as(&live, proto::ListChannelsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(live_channels.channels.len(), 1);
    assert_eq!(live_channels.channels[0].id, live_channel.id);

    // The tenant-wide transcripts flag is changed in live mode only.
    test_document["transcripts_enabled"] = true.into();
    let status = expect_code(
        owner
            .put_settings(request_as(&test, put(&test_document, None)))
            .await,
        Code::InvalidArgument,
    );
    assert!(status.message().starts_with("transcripts_enabled"));
}

async fn only_the_gateway_may_call(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let principal = key(&TenantId::generate(), &["owner", "settings"]);
    for service in [
        ServiceName::Auth,
        ServiceName::Escalation,
        ServiceName::Audit,
    ] {
        let mut owner = app.owner_client_as(service).await;
        expect_code(
            owner
                .list_channels(request_as(&principal, proto::ListChannelsRequest {}))
                .await,
            Code::PermissionDenied,
        );
    }
}
