//! Upgrading from the walking skeleton's hash chain: a database with
//! chain-era events is migrated into the Merkle log, each log re-hashed as
//! leaves in its stored order, and its export verifies; a chain that was
//! already broken is refused, naming where.

use rampart_audit::legacy_chain::{EventFields, GENESIS, chain_hash, hex};
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{TestDatabase, admin_principal, tenant_auditor};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::helpers::{TestAudit, event};

on_both_databases!(
    a_chain_era_database_migrates_and_verifies,
    a_broken_chain_is_not_migrated,
);

/// Writes `count` chain-era events to `log_id` as the walking skeleton did.
async fn write_chain(
    db: &DatabaseConnection,
    log_id: &str,
    tenant_id: &str,
    count: u64,
) -> Vec<String> {
    let mut prev = GENESIS;
    let mut ids = Vec::new();
    for sequence in 0..count {
        let fields = EventFields {
            event_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_owned(),
            actor: "api_key:key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
            credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
            action: if tenant_id.is_empty() {
                "tenant.created"
            } else {
                "customer.created"
            }
            .to_owned(),
            target: format!("customer:{sequence}"),
            occurred_at: format!("2025-01-02T03:04:0{sequence}.000000Z"),
            service: "crm".to_owned(),
            request_id: format!("req-{sequence}"),
            outcome: "success".to_owned(),
        };
        let hash = chain_hash(&prev, log_id, sequence, &fields);
        let insert = Query::insert()
            .into_table("audit_event")
            .columns([
                "log_id",
                "sequence",
                "event_id",
                "tenant_id",
                "actor",
                "credential_id",
                "action",
                "target",
                "occurred_at",
                "service",
                "request_id",
                "outcome",
                "recorded_at",
                "prev_hash",
                "chain_hash",
            ])
            .values_panic([
                log_id.into(),
                (sequence as i64).into(),
                fields.event_id.clone().into(),
                fields.tenant_id.clone().into(),
                fields.actor.clone().into(),
                fields.credential_id.clone().into(),
                fields.action.clone().into(),
                fields.target.clone().into(),
                fields.occurred_at.clone().into(),
                fields.service.clone().into(),
                fields.request_id.clone().into(),
                fields.outcome.clone().into(),
                chrono::Utc::now().into(),
                hex(&prev).into(),
                hex(&hash).into(),
            ])
            .to_owned();
        db.execute(&insert).await.unwrap();
        ids.push(fields.event_id);
        prev = hash;
    }
    ids
}

async fn a_chain_era_database_migrates_and_verifies(database: TestDatabase) {
    let db = rampart_kit::db::connect(&database.url).await.unwrap();
    rampart_audit::migrate_to_chain_era(&db).await.unwrap();
    let owner = TenantId::generate();
    let tenant_ids = write_chain(&db, owner.as_str(), owner.as_str(), 6).await;
    let platform_ids = write_chain(&db, "platform", "", 3).await;
    rampart_audit::migrate(&db).await.unwrap();
    db.close().await.unwrap();

    let audit = TestAudit::spawn(database).await;
    let principal = tenant_auditor(&owner);
    let report = audit.verify_export(&principal, None).await;
    assert!(report.ok(), "{}", report.render());
    assert_eq!(report.valid_events, 6);
    // Same events, same order.
    let listed: Vec<String> = audit
        .list_all(&principal)
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(listed, tenant_ids);
    let platform = audit.verify_export(&admin_principal(), None).await;
    assert!(platform.ok(), "{}", platform.render());
    assert_eq!(platform.valid_events, 3);
    let listed: Vec<String> = audit
        .list_all(&admin_principal())
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(listed, platform_ids);

    // The migrated log grows like any other, consistently with its
    // checkpoint from before.
    let before = audit.checkpoint(&principal).await;
    audit
        .append(
            ServiceName::Crm,
            vec![
                event(Some(&owner), "customer.created"),
                event(Some(&owner), "customer.created"),
            ],
        )
        .await
        .unwrap();
    let report = audit.verify_export(&principal, Some(&before)).await;
    assert!(report.ok(), "{}", report.render());
    assert_eq!(report.valid_events, 8);
    assert_eq!(report.consistency_checked, Some(6));
}

async fn a_broken_chain_is_not_migrated(database: TestDatabase) {
    let db = rampart_kit::db::connect(&database.url).await.unwrap();
    rampart_audit::migrate_to_chain_era(&db).await.unwrap();
    let owner = TenantId::generate();
    write_chain(&db, owner.as_str(), owner.as_str(), 5).await;
    let tamper = Query::update()
        .table("audit_event")
        .value("outcome", "failure")
        .and_where(Expr::col("log_id").eq(owner.as_str()))
        .and_where(Expr::col("sequence").eq(3))
        .to_owned();
    db.execute(&tamper).await.unwrap();
    let error = rampart_audit::migrate(&db).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains(&format!(
            "audit log {owner}: the hash chain is broken at index 3"
        )),
        "{message}"
    );
}
