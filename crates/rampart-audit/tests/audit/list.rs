//! ListEvents: each principal sees its own log and nothing else, a page at a
//! time.

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{TestDatabase, admin_principal, request_as, tenant_auditor};
use rampart_proto::audit::v1::ListEventsRequest;
use tonic::Code;

use crate::helpers::{TestAudit, event};

on_both_databases!(
    a_tenant_sees_only_its_own_log,
    an_admin_sees_only_the_platform_log,
    pages_follow_the_cursor,
    bad_paging_is_refused,
    only_the_gateway_may_pass_a_principal,
);

async fn a_tenant_sees_only_its_own_log(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let a = TenantId::generate();
    let b = TenantId::generate();
    let batch = vec![
        event(Some(&a), "customer.created"),
        event(Some(&b), "customer.created"),
        event(None, "tenant.created"),
        event(Some(&b), "customer.created"),
    ];
    audit.append(ServiceName::Crm, batch.clone()).await.unwrap();

    let seen_by_a: Vec<String> = audit
        .list_all(&tenant_auditor(&a))
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(seen_by_a, [batch[0].event_id.clone()]);
    let seen_by_b: Vec<String> = audit
        .list_all(&tenant_auditor(&b))
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(
        seen_by_b,
        [batch[1].event_id.clone(), batch[3].event_id.clone()]
    );
    // Each log numbers its own events from 0.
    let page = audit.list(&tenant_auditor(&b), 0, "").await.unwrap();
    assert_eq!(page.events[0].sequence, 0);
    assert_eq!(page.events[1].sequence, 1);

    let stranger = TenantId::generate();
    assert!(audit.list_all(&tenant_auditor(&stranger)).await.is_empty());
}

async fn an_admin_sees_only_the_platform_log(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let platform_event = event(None, "tenant.created");
    audit
        .append(
            ServiceName::Crm,
            vec![
                event(Some(&owner), "customer.created"),
                platform_event.clone(),
            ],
        )
        .await
        .unwrap();
    let seen: Vec<_> = audit.list_all(&admin_principal()).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].event_id, platform_event.event_id);
    assert_eq!(seen[0].tenant_id, "");
}

async fn pages_follow_the_cursor(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let batch: Vec<_> = (0..5)
        .map(|_| event(Some(&owner), "customer.created"))
        .collect();
    audit.append(ServiceName::Crm, batch.clone()).await.unwrap();

    let principal = tenant_auditor(&owner);
    let first = audit.list(&principal, 2, "").await.unwrap();
    assert_eq!(first.events.len(), 2);
    assert_eq!(first.next_cursor, "2");
    let second = audit.list(&principal, 2, &first.next_cursor).await.unwrap();
    assert_eq!(second.next_cursor, "4");
    let last = audit
        .list(&principal, 2, &second.next_cursor)
        .await
        .unwrap();
    assert_eq!(last.events.len(), 1);
    assert_eq!(last.next_cursor, "");
    // A page that ends exactly at the end of the log has no next cursor.
    let exact = audit.list(&principal, 5, "").await.unwrap();
    assert_eq!(exact.events.len(), 5);
    assert_eq!(exact.next_cursor, "");

    let ids: Vec<String> = [first, second, last]
        .into_iter()
        .flat_map(|page| page.events)
        .map(|stored| stored.event.unwrap().event_id)
        .collect();
    let sent: Vec<String> = batch.into_iter().map(|e| e.event_id).collect();
    assert_eq!(ids, sent);
}

async fn bad_paging_is_refused(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let principal = tenant_auditor(&TenantId::generate());
    assert_eq!(
        audit.list(&principal, 100, "").await.unwrap().events.len(),
        0
    );
    let status = audit.list(&principal, 101, "").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    for cursor in ["abc", "-1", "1.5", " 2"] {
        let status = audit.list(&principal, 10, cursor).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{cursor:?}");
    }
}

async fn only_the_gateway_may_pass_a_principal(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    audit
        .append(
            ServiceName::Crm,
            vec![event(Some(&owner), "customer.created")],
        )
        .await
        .unwrap();
    // CRM may append, but cannot read a tenant's log by claiming to be it.
    let request = request_as(&tenant_auditor(&owner), ListEventsRequest::default());
    let status = audit
        .client_as(ServiceName::Crm)
        .await
        .list_events(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // The gateway without a principal gets nothing either.
    let status = audit
        .client_as(ServiceName::Gateway)
        .await
        .list_events(ListEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}
