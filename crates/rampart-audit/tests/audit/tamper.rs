//! Tampering with the stored rows directly, behind the service's back, as
//! someone with database access would: change one byte of an event, delete
//! one, reorder two, truncate the tail. An export taken afterwards does not
//! verify, and the report names the index (the check `rampart audit verify`
//! runs).

use rampart_audit::export::Failure;
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{TestDatabase, tenant_auditor};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::helpers::{TestAudit, event};

on_both_databases!(
    an_intact_log_verifies,
    one_changed_byte_is_named,
    a_deleted_event_is_named,
    two_reordered_events_are_named,
    a_truncated_tail_is_named,
    a_tail_removed_with_its_tree_is_caught_by_an_older_checkpoint,
);

const EVENTS: usize = 10;

/// A log of `EVENTS` events, appended a few at a time, with a checkpoint.
async fn filled(database: TestDatabase) -> (TestAudit, TenantId) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let events: Vec<_> = (0..EVENTS)
        .map(|_| event(Some(&owner), "customer.created"))
        .collect();
    for batch in events.chunks(3) {
        audit
            .append(ServiceName::Crm, batch.to_vec())
            .await
            .unwrap();
    }
    // Also another tenant's log, which tampering with this one must not
    // disturb.
    let other = TenantId::generate();
    audit
        .append(
            ServiceName::Crm,
            vec![event(Some(&other), "customer.created")],
        )
        .await
        .unwrap();
    audit.checkpoint(&tenant_auditor(&owner)).await;
    (audit, owner)
}

async fn run(db: &DatabaseConnection, statement: &impl sea_orm::StatementBuilder) -> u64 {
    db.execute(statement).await.unwrap().rows_affected()
}

async fn an_intact_log_verifies(database: TestDatabase) {
    let (audit, owner) = filled(database).await;
    let report = audit.verify_export(&tenant_auditor(&owner), None).await;
    assert!(report.ok(), "{}", report.render());
    assert!(
        report.render().contains("10/10 events valid"),
        "{}",
        report.render()
    );
    assert!(report.root_checked && report.signature_checked && !report.key_from_export);
}

async fn one_changed_byte_is_named(database: TestDatabase) {
    let (audit, owner) = filled(database).await;
    let row = Query::select()
        .column("target")
        .from("audit_event")
        .and_where(Expr::col("log_id").eq(owner.as_str()))
        .and_where(Expr::col("sequence").eq(4))
        .to_owned();
    let target: String = audit
        .db
        .query_one(&row)
        .await
        .unwrap()
        .unwrap()
        .try_get("", "target")
        .unwrap();
    // One byte: the last hex digit of the customer id.
    let mut bytes = target.into_bytes();
    let last = bytes.last_mut().unwrap();
    *last = if *last == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(bytes).unwrap();
    let update = Query::update()
        .table("audit_event")
        .value("target", tampered)
        .and_where(Expr::col("log_id").eq(owner.as_str()))
        .and_where(Expr::col("sequence").eq(4))
        .to_owned();
    assert_eq!(run(&audit.db, &update).await, 1);

    let report = audit.verify_export(&tenant_auditor(&owner), None).await;
    assert!(
        report
            .failures
            .contains(&Failure::EventMismatch { index: 4 }),
        "{}",
        report.render()
    );
    let text = report.render();
    assert!(text.contains("9/10 events valid"), "{text}");
    assert!(
        text.contains("FAIL index 4: the event does not match"),
        "{text}"
    );
    assert!(text.contains("result: FAILED"), "{text}");
}

async fn a_deleted_event_is_named(database: TestDatabase) {
    let (audit, owner) = filled(database).await;
    let delete = Query::delete()
        .from_table("audit_event")
        .and_where(Expr::col("log_id").eq(owner.as_str()))
        .and_where(Expr::col("sequence").eq(2))
        .to_owned();
    assert_eq!(run(&audit.db, &delete).await, 1);

    let report = audit.verify_export(&tenant_auditor(&owner), None).await;
    assert_eq!(report.failures, [Failure::Missing { from: 2, to: 2 }]);
    assert!(
        report
            .render()
            .contains("missing range: the event at index 2 is absent"),
        "{}",
        report.render()
    );
}

async fn two_reordered_events_are_named(database: TestDatabase) {
    let (audit, owner) = filled(database).await;
    // Swap the positions of events 3 and 4.
    for (from, to) in [(3, -1), (4, 3), (-1, 4)] {
        let update = Query::update()
            .table("audit_event")
            .value("sequence", to)
            .and_where(Expr::col("log_id").eq(owner.as_str()))
            .and_where(Expr::col("sequence").eq(from))
            .to_owned();
        assert_eq!(run(&audit.db, &update).await, 1);
    }
    let report = audit.verify_export(&tenant_auditor(&owner), None).await;
    assert!(
        report
            .failures
            .contains(&Failure::EventMismatch { index: 3 })
            && report
                .failures
                .contains(&Failure::EventMismatch { index: 4 }),
        "{}",
        report.render()
    );
    assert!(report.render().contains("8/10 events valid"));
}

async fn a_truncated_tail_is_named(database: TestDatabase) {
    let (audit, owner) = filled(database).await;
    let delete = Query::delete()
        .from_table("audit_event")
        .and_where(Expr::col("log_id").eq(owner.as_str()))
        .and_where(Expr::col("sequence").gte(7))
        .to_owned();
    assert_eq!(run(&audit.db, &delete).await, 3);
    let report = audit.verify_export(&tenant_auditor(&owner), None).await;
    assert_eq!(report.failures, [Failure::Missing { from: 7, to: 9 }]);
    assert!(
        report
            .render()
            .contains("missing range: events at indexes 7 to 9 are absent")
    );
}

async fn a_tail_removed_with_its_tree_is_caught_by_an_older_checkpoint(database: TestDatabase) {
    let (audit, owner) = filled(database).await;
    let principal = tenant_auditor(&owner);
    // An auditor kept the checkpoint at 10.
    let kept = audit.checkpoint(&principal).await;
    assert_eq!(kept.size, 10);

    // Someone removes the last three events and every trace of them: their
    // rows, their tree nodes, the checkpoints that cover them, and rewinds
    // the log's head to a consistent size 7. What is left is a clean log.
    let log = owner.as_str();
    for statement in [
        Query::delete()
            .from_table("audit_event")
            .and_where(Expr::col("log_id").eq(log))
            .and_where(Expr::col("sequence").gte(7))
            .to_owned(),
        Query::delete()
            .from_table("audit_checkpoint")
            .and_where(Expr::col("log_id").eq(log))
            .to_owned(),
    ] {
        run(&audit.db, &statement).await;
    }
    // Nodes that cover any position at or after 7.
    for (level, first) in [(0, 7), (1, 3), (2, 1), (3, 0)] {
        let delete = Query::delete()
            .from_table("audit_node")
            .and_where(Expr::col("log_id").eq(log))
            .and_where(Expr::col("level").eq(level))
            .and_where(Expr::col("idx").gte(first))
            .to_owned();
        run(&audit.db, &delete).await;
    }
    let mut leaves = Vec::new();
    for index in 0..7i64 {
        let select = Query::select()
            .column("hash")
            .from("audit_node")
            .and_where(Expr::col("log_id").eq(log))
            .and_where(Expr::col("level").eq(0))
            .and_where(Expr::col("idx").eq(index))
            .to_owned();
        let hash: Vec<u8> = audit
            .db
            .query_one(&select)
            .await
            .unwrap()
            .unwrap()
            .try_get("", "hash")
            .unwrap();
        leaves.push(<[u8; 32]>::try_from(hash).unwrap());
    }
    let root = rampart_audit::merkle::root_of(&leaves);
    let rewind = Query::update()
        .table("audit_log")
        .value("size", 7i64)
        .value("root_hash", root.to_vec())
        .and_where(Expr::col("log_id").eq(log))
        .to_owned();
    assert_eq!(run(&audit.db, &rewind).await, 1);

    // On its own, the shortened log verifies: that is why auditors keep
    // checkpoints.
    let alone = audit.verify_export(&principal, None).await;
    assert!(alone.ok(), "{}", alone.render());
    assert_eq!(alone.checkpoint_size, 7);
    // Against the kept checkpoint, the removal is named.
    let report = audit.verify_export(&principal, Some(&kept)).await;
    assert!(!report.ok());
    assert!(
        report
            .render()
            .contains("the log is shorter than before: events at indexes 7 to 9 were removed"),
        "{}",
        report.render()
    );
}
