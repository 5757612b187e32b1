//! Append: whole batches or nothing, de-duplication by event id, and the
//! producer taken from its certificate.

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::{TestDatabase, tenant_auditor};
use tonic::Code;

use crate::helpers::{TestAudit, event};

on_both_databases!(
    appended_events_are_listed_in_order,
    duplicate_event_ids_are_stored_once,
    an_invalid_event_rejects_the_whole_batch,
    the_service_comes_from_the_certificate,
    every_service_may_append,
);

async fn appended_events_are_listed_in_order(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let mut sent = vec![
        event(Some(&owner), "customer.created"),
        event(Some(&owner), "customer.created"),
        event(Some(&owner), "api_key.issued"),
    ];
    // Offsets and upper-case ids are normalised, not refused.
    sent[1].occurred_at = "2025-06-01T14:00:00+02:00".to_owned();
    sent[2].event_id = sent[2].event_id.to_uppercase();
    let appended = audit.append(ServiceName::Crm, sent.clone()).await.unwrap();
    assert_eq!((appended.appended, appended.duplicates), (3, 0));

    let page = audit.list(&tenant_auditor(&owner), 0, "").await.unwrap();
    assert_eq!(page.next_cursor, "");
    let sequences: Vec<u64> = page.events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [0, 1, 2]);
    for (stored, sent) in page.events.iter().zip(&sent) {
        assert_eq!(stored.leaf_hash.len(), 64);
        let event = stored.event.as_ref().unwrap();
        assert_eq!(event.event_id, sent.event_id.to_lowercase());
        assert_eq!(event.tenant_id, owner.as_str());
        assert_eq!(event.action, sent.action);
        assert_eq!(event.actor, sent.actor);
        assert_eq!(event.credential_id, sent.credential_id);
        assert_eq!(event.target, sent.target);
        assert_eq!(event.request_id, sent.request_id);
        assert_eq!(event.outcome, "success");
        assert_eq!(event.service, "crm");
    }
    let times: Vec<&str> = page
        .events
        .iter()
        .map(|e| e.event.as_ref().unwrap().occurred_at.as_str())
        .collect();
    assert_eq!(times[1], "2025-06-01T12:00:00.000000Z");
    audit.stop().await.unwrap();
}

async fn duplicate_event_ids_are_stored_once(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let first = event(Some(&owner), "customer.created");
    let second = event(Some(&owner), "customer.created");

    // Twice within one batch.
    let appended = audit
        .append(
            ServiceName::Crm,
            vec![first.clone(), second.clone(), first.clone()],
        )
        .await
        .unwrap();
    assert_eq!((appended.appended, appended.duplicates), (2, 1));

    // Again in a later batch, as a relay that crashed before deleting would.
    let third = event(Some(&owner), "customer.created");
    let appended = audit
        .append(
            ServiceName::Crm,
            vec![second.clone(), third.clone(), first.clone()],
        )
        .await
        .unwrap();
    assert_eq!((appended.appended, appended.duplicates), (1, 2));

    let ids: Vec<String> = audit
        .list_all(&tenant_auditor(&owner))
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(ids, [first.event_id, second.event_id, third.event_id]);
    assert_eq!(audit.stored_events().await, 3);
}

async fn an_invalid_event_rejects_the_whole_batch(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let mut bad = event(Some(&owner), "customer.created");
    bad.outcome = "maybe".to_owned();
    let batch = vec![
        event(Some(&owner), "customer.created"),
        event(None, "tenant.created"),
        bad,
    ];
    let status = audit.append(ServiceName::Crm, batch).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("event 2: "),
        "{}",
        status.message()
    );
    assert!(status.message().contains("outcome"), "{}", status.message());

    let too_many = vec![event(Some(&owner), "customer.created"); 1001];
    let status = audit.append(ServiceName::Crm, too_many).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    assert_eq!(audit.stored_events().await, 0);
    // A batch at the limit goes through (all but one are duplicates).
    let at_limit = vec![event(Some(&owner), "customer.created"); 1000];
    let appended = audit.append(ServiceName::Crm, at_limit).await.unwrap();
    assert_eq!((appended.appended, appended.duplicates), (1, 999));
}

async fn the_service_comes_from_the_certificate(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let mut claimed = event(Some(&owner), "customer.created");
    claimed.service = "gateway".to_owned();
    audit.append(ServiceName::Crm, vec![claimed]).await.unwrap();
    let mut claimed = event(Some(&owner), "customer.created");
    claimed.service = "auth".to_owned();
    audit
        .append(ServiceName::Escalation, vec![claimed])
        .await
        .unwrap();

    let services: Vec<String> = audit
        .list_all(&tenant_auditor(&owner))
        .await
        .into_iter()
        .map(|e| e.service)
        .collect();
    assert_eq!(services, ["crm", "escalation"]);
}

async fn every_service_may_append(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    for producer in ServiceName::ALL {
        let appended = audit
            .append(producer, vec![event(None, "config.changed")])
            .await
            .unwrap();
        assert_eq!(appended.appended, 1, "{producer}");
    }
    assert_eq!(audit.stored_events().await, 5);
}
