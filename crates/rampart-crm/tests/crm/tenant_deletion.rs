//! Deleting a tenant: platform admins only; its keys are destroyed, so what
//! it sealed (read before) no longer opens, even with the vault; no row of
//! it is left in any CRM table, in either data mode; another tenant is
//! untouched; an unknown tenant is not found and nothing changes.

use rampart_crm::store::{conversation_owner, customer_owner};
use rampart_crm::vault::Field;
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Principal, Role};
use rampart_kit::testing::{
    TestDatabase, admin_principal, expect_code, request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use serde_json::json;
use tonic::Code;

use crate::helpers::{TestApp, user};
use crate::retention_job::{
    appointment, conversation, count_where, customer, hold, in_test_mode, job_note, opens,
    owner_key, sealed_message, set_periods,
};

on_both_databases!(
    a_deleted_tenant_leaves_no_row_and_no_readable_byte,
    destroying_a_tenant_evicts_its_cached_keys,
);

/// Every CRM table holding a tenant's rows, and the column naming it.
const TENANT_TABLES: [(&str, &str); 14] = [
    ("crm_tenant", "id"),
    ("crm_tenant_key", "tenant_id"),
    ("crm_data_key", "tenant_id"),
    ("crm_customer", "tenant_id"),
    ("crm_conversation", "tenant_id"),
    ("crm_message", "tenant_id"),
    ("crm_appointment", "tenant_id"),
    ("crm_job_note", "tenant_id"),
    ("crm_business_settings", "tenant_id"),
    ("crm_channel", "tenant_id"),
    ("crm_retention", "tenant_id"),
    ("crm_legal_hold", "tenant_id"),
    ("crm_billing_event", "tenant_id"),
    ("crm_erasure_request", "tenant_id"),
];

async fn rows_of(db: &DatabaseConnection, tenant: &TenantId) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for (table, column) in TENANT_TABLES {
        counts.push((table, count_where(db, table, column, tenant.as_str()).await));
    }
    counts
}

async fn create_tenant(app: &TestApp, name: &str) -> TenantId {
    let created = app
        .client()
        .await
        .create_tenant(request_as(
            &admin_principal(),
            proto::CreateTenantRequest {
                name: name.to_owned(),
                office_domains: vec![],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    TenantId::parse(&created.id).unwrap()
}

/// Something in every table, in both modes where a table has modes; the
/// ids of the live customer and its conversation.
async fn populate(app: &TestApp, tenant: &TenantId) -> (String, String) {
    let key = Principal {
        scopes: ["read", "write", "settings", "owner"]
            .map(str::to_owned)
            .to_vec(),
        ..owner_key(tenant)
    };
    let mut live = None;
    for key in [in_test_mode(key.clone()), key.clone()] {
        let someone = customer(app, &key, "Wilhelmina Quibble").await;
        // Left open, so its text stays sealed (ending it would blank it).
        let talk = conversation(app, &key, Some(&someone), &[]).await;
        appointment(app, &key, &someone, 3).await;
        job_note(app, &key, &someone).await;
        live = Some((someone, talk));
    }
    let (someone, talk) = live.unwrap();
    let mut owner = app.owner_client_as(ServiceName::Gateway).await;
    owner
        .put_settings(request_as(
            &key,
            proto::PutSettingsRequest {
                document: json!({
                    "time_zone": "Europe/Oslo",
                    "opening_hours": {
                        "monday": [{"open": "08:00", "close": "17:00"}],
                        "tuesday": [], "wednesday": [], "thursday": [], "friday": [],
                        "saturday": [], "sunday": []
                    },
                    "emergency": {"keywords": ["burst pipe"], "after_hours_phone": "+1 312 555 0100"},
                    "sms_templates": {"reminder": "Hi {customer_name}, see you at {appointment_time}."},
                    "pricing_notes": "Call-out fee 90",
                    "transcripts_enabled": false
                })
                .to_string(),
                expected_version: None,
            },
        ))
        .await
        .unwrap();
    owner
        .create_channel(request_as(
            &key,
            proto::CreateChannelRequest {
                kind: "sms".into(),
                display_name: "Front desk SMS".into(),
                credentials: json!({"account_sid": "AC01", "auth_token": "tok_sealed_0192"})
                    .to_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    owner
        .create_erasure_request(request_as(
            &key,
            proto::CreateErasureRequestRequest {
                customer_id: someone.clone(),
                reason: "Asked on the phone".into(),
            },
        ))
        .await
        .unwrap();
    set_periods(app, &key, [Some(365), None, None]).await;
    hold(app, tenant, &someone).await;
    let body = format!("{{\"id\":\"evt_{tenant}\"}}");
    app.billing_client()
        .await
        .transition_billing(request_as(
            &admin_principal(),
            proto::TransitionBillingRequest {
                tenant_id: tenant.to_string(),
                state: "active".to_owned(),
                source: "webhook".to_owned(),
                event_id: format!("evt_{tenant}"),
                event_fingerprint: rampart_kit::secret::hex(
                    ring::digest::digest(&ring::digest::SHA256, body.as_bytes()).as_ref(),
                ),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    (someone, talk)
}

/// A customer's sealed name.
async fn sealed_name(db: &DatabaseConnection, customer_id: &str) -> Vec<u8> {
    let query = Query::select()
        .column("name_sealed")
        .from("crm_customer")
        .and_where(Expr::col("id").eq(customer_id))
        .to_owned();
    db.query_one(&query)
        .await
        .unwrap()
        .unwrap()
        .try_get::<Option<Vec<u8>>>("", "name_sealed")
        .unwrap()
        .expect("the name is sealed")
}

fn delete(tenant_id: &str) -> proto::DeleteTenantRequest {
    proto::DeleteTenantRequest {
        tenant_id: tenant_id.to_owned(),
    }
}

async fn a_deleted_tenant_leaves_no_row_and_no_readable_byte(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let doomed = create_tenant(&app, "Doomed Dairy").await;
    let other = create_tenant(&app, "Lasting Locksmiths").await;
    let (someone, talk) = populate(&app, &doomed).await;
    populate(&app, &other).await;
    let before = rows_of(&app.db, &doomed).await;
    for (table, count) in &before {
        assert!(*count > 0, "the test fills {table}");
    }
    let other_before = rows_of(&app.db, &other).await;

    // What an attacker with a copy of the database would hold.
    let name = sealed_name(&app.db, &someone).await;
    let name_at = Field {
        table: "crm_customer",
        column: "name",
        row: &someone,
    };
    let (message_id, text) = sealed_message(&app.db, &talk).await;
    let text_at = Field {
        table: "crm_message",
        column: "text",
        row: &message_id,
    };
    assert!(opens(&app, &doomed, &customer_owner(&someone), &name_at, &name).await);
    assert!(opens(&app, &doomed, &conversation_owner(&talk), &text_at, &text).await);

    // Tenant credentials, even the tenant's owner, are refused; unknown
    // and malformed ids are not found; nothing changes.
    for principal in [owner_key(&doomed), user(&doomed, Role::Owner)] {
        expect_code(
            crm.delete_tenant(request_as(&principal, delete(doomed.as_str())))
                .await,
            Code::PermissionDenied,
        );
    }
    for id in [TenantId::generate().to_string(), "ten_nope".to_owned()] {
        expect_code(
            crm.delete_tenant(request_as(&admin_principal(), delete(&id)))
                .await,
            Code::NotFound,
        );
    }
    assert_eq!(rows_of(&app.db, &doomed).await, before);
    assert!(app.audit_actions("tenant.deleted").await.is_empty());

    let data_keys = before
        .iter()
        .find(|(table, _)| *table == "crm_data_key")
        .unwrap()
        .1;
    let deleted = crm
        .delete_tenant(request_as(&admin_principal(), delete(doomed.as_str())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(i64::from(deleted.data_keys), data_keys);

    let after = rows_of(&app.db, &doomed).await;
    assert!(after.iter().all(|(_, count)| *count == 0), "{after:?}");
    assert_eq!(rows_of(&app.db, &other).await, other_before);
    let events = app.audit_actions("tenant.deleted").await;
    assert_eq!(events.len(), 1);
    events[0].check_schema().unwrap();
    assert_eq!(events[0].target, format!("tenant:{doomed}"));
    assert_eq!(events[0].tenant_id.as_deref(), Some(doomed.as_str()));
    assert_eq!(events[0].details["shredded"], data_keys.to_string());

    // Gone for its API too, and a second deletion finds nothing.
    expect_code(
        crm.get_tenant(request_as(
            &admin_principal(),
            proto::GetTenantRequest {
                tenant_id: doomed.to_string(),
            },
        ))
        .await,
        Code::NotFound,
    );
    expect_code(
        crm.delete_tenant(request_as(&admin_principal(), delete(doomed.as_str())))
            .await,
        Code::NotFound,
    );

    // The bytes read before no longer open with the vault: the keys that
    // sealed them exist nowhere (asking makes new, unrelated ones).
    assert!(!opens(&app, &doomed, &customer_owner(&someone), &name_at, &name).await);
    assert!(!opens(&app, &doomed, &conversation_owner(&talk), &text_at, &text).await);
}

async fn destroying_a_tenant_evicts_its_cached_keys(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let tenant = create_tenant(&app, "Cached Cobblers").await;
    let other = create_tenant(&app, "Kept Kennels").await;
    let someone = customer(&app, &tenant_principal(&tenant), "Cosima Cached").await;
    let kept = customer(&app, &tenant_principal(&other), "Konrad Kept").await;
    let (name, kept_name) = (
        sealed_name(&app.db, &someone).await,
        sealed_name(&app.db, &kept).await,
    );

    // One vault, its caches warmed with both tenants' keys.
    let vault = app.vault();
    let open = async |tenant: &TenantId, id: &str, sealed: &[u8]| {
        let keys = vault.tenant(&app.db, tenant).await.unwrap();
        let key = keys.data_key(&app.db, &customer_owner(id)).await.unwrap();
        let at = Field {
            table: "crm_customer",
            column: "name",
            row: id,
        };
        key.open(&at, sealed).is_ok()
    };
    assert!(open(&tenant, &someone, &name).await);
    assert!(open(&other, &kept, &kept_name).await);

    let tx = app.db.begin().await.unwrap();
    assert_eq!(vault.destroy_tenant(&tx, &tenant).await.unwrap(), 1);
    tx.commit().await.unwrap();

    // The same vault no longer holds the destroyed keys; the other
    // tenant's still open.
    assert!(!open(&tenant, &someone, &name).await);
    assert!(open(&other, &kept, &kept_name).await);
}
