//! The chain over stored rows: it verifies as written, and a row changed or
//! removed behind the service's back is named by its index.

use rampart_audit::chain::{Problem, verify_chain};
use rampart_audit::{PLATFORM_LOG_ID, read_log};
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{TestDatabase, admin_principal, tenant_principal};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use crate::helpers::{TestAudit, event};

on_both_databases!(
    stored_chains_verify,
    a_tampered_row_is_named,
    a_deleted_row_is_named,
);

/// Appends `count` events to `owner`'s log, a few per call.
async fn fill(audit: &TestAudit, owner: &TenantId, count: usize) {
    let events: Vec<_> = (0..count)
        .map(|_| event(Some(owner), "customer.updated"))
        .collect();
    for batch in events.chunks(3) {
        audit
            .append(ServiceName::Crm, batch.to_vec())
            .await
            .unwrap();
    }
}

async fn stored_chains_verify(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let a = TenantId::generate();
    let b = TenantId::generate();
    fill(&audit, &a, 7).await;
    fill(&audit, &b, 4).await;
    audit
        .append(ServiceName::Auth, vec![event(None, "api_key.issued")])
        .await
        .unwrap();

    for (log_id, len) in [(a.as_str(), 7), (b.as_str(), 4), (PLATFORM_LOG_ID, 1)] {
        let entries = read_log(&audit.db, log_id).await.unwrap();
        assert_eq!(entries.len(), len);
        verify_chain(log_id, &entries).unwrap();
    }

    // What ListEvents returns is the stored chain.
    let listed = audit.list(&tenant_principal(&a), 0, "").await.unwrap();
    let stored = read_log(&audit.db, a.as_str()).await.unwrap();
    let listed: Vec<_> = listed.events.iter().map(|e| e.chain_hash.clone()).collect();
    let stored: Vec<_> = stored.iter().map(|e| e.chain_hash.clone()).collect();
    assert_eq!(listed, stored);
    let platform = audit.list(&admin_principal(), 0, "").await.unwrap();
    assert_eq!(platform.events[0].event.as_ref().unwrap().service, "auth");
}

async fn a_tampered_row_is_named(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    fill(&audit, &owner, 6).await;

    let tamper = Query::update()
        .table("audit_event")
        .value("outcome", "failure")
        .and_where(Expr::col("log_id").eq(owner.as_str()))
        .and_where(Expr::col("sequence").eq(4))
        .to_owned();
    assert_eq!(audit.db.execute(&tamper).await.unwrap().rows_affected(), 1);

    let entries = read_log(&audit.db, owner.as_str()).await.unwrap();
    let failure = verify_chain(owner.as_str(), &entries).unwrap_err();
    assert_eq!(failure.index, 4);
    assert_eq!(failure.problem, Problem::HashMismatch);
}

async fn a_deleted_row_is_named(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    fill(&audit, &owner, 6).await;

    let delete = Query::delete()
        .from_table("audit_event")
        .and_where(Expr::col("log_id").eq(owner.as_str()))
        .and_where(Expr::col("sequence").eq(2))
        .to_owned();
    assert_eq!(audit.db.execute(&delete).await.unwrap().rows_affected(), 1);

    let entries = read_log(&audit.db, owner.as_str()).await.unwrap();
    let failure = verify_chain(owner.as_str(), &entries).unwrap_err();
    assert_eq!(failure.index, 2);
    assert_eq!(
        failure.problem,
        Problem::WrongSequence {
            expected: 2,
            found: 3
        }
    );

    // Appending after the gap does not hide it.
    fill(&audit, &owner, 1).await;
    let entries = read_log(&audit.db, owner.as_str()).await.unwrap();
    assert_eq!(verify_chain(owner.as_str(), &entries).unwrap_err().index, 2);
}
