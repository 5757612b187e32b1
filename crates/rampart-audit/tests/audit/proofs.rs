//! Checkpoints and proofs as a reader gets them from the service: each
//! verifies with the published key and the RFC 9162 algorithms, and each
//! reader sees only the logs it may.

use rampart_audit::checkpoint::PublicKey;
use rampart_audit::merkle::{Hash, verify_consistency, verify_inclusion};
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::Principal;
use rampart_kit::testing::{TestDatabase, admin_principal, request_as, tenant_auditor};
use rampart_proto::audit::v1::{
    ConsistencyProofRequest, ExportRequest, GetPublicKeyRequest, InclusionProofRequest,
    ListEventsRequest, LogSelector,
};
use tonic::Code;

use crate::helpers::{TestAudit, event};

on_both_databases!(
    inclusion_proofs_verify_against_signed_checkpoints,
    consistency_proofs_verify_between_sizes,
    the_public_key_is_published,
    queries_filter_and_page,
    readers_see_only_their_logs,
    exports_of_ranges_verify,
    deletion_certificates_are_signed_for_the_crm_alone,
);

fn hash(text: &str) -> Hash {
    rampart_kit::secret::unhex(text)
        .unwrap()
        .try_into()
        .unwrap()
}

async fn inclusion_proof(
    audit: &TestAudit,
    principal: &Principal,
    event_id: &str,
    tree_size: u64,
) -> Result<rampart_proto::audit::v1::InclusionProof, tonic::Status> {
    audit
        .client_as(ServiceName::Gateway)
        .await
        .get_inclusion_proof(request_as(
            principal,
            InclusionProofRequest {
                log: None,
                event_id: event_id.to_owned(),
                tree_size,
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn inclusion_proofs_verify_against_signed_checkpoints(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let principal = tenant_auditor(&owner);
    let events: Vec<_> = (0..7)
        .map(|_| event(Some(&owner), "customer.created"))
        .collect();
    audit
        .append(ServiceName::Crm, events[..4].to_vec())
        .await
        .unwrap();
    let first = audit.checkpoint(&principal).await;
    first.verify(&audit.public_key).unwrap();
    assert_eq!(first.size, 4);
    audit
        .append(ServiceName::Crm, events[4..].to_vec())
        .await
        .unwrap();

    for (index, sent) in events.iter().enumerate() {
        // Against the latest (signed now, since the log grew).
        let proof = inclusion_proof(&audit, &principal, &sent.event_id, 0)
            .await
            .unwrap();
        assert_eq!((proof.index, proof.tree_size), (index as u64, 7));
        let checkpoint = proof.checkpoint.unwrap();
        assert_eq!(checkpoint.size, 7);
        let proof_hashes: Vec<Hash> = proof.proof.iter().map(|h| hash(h)).collect();
        verify_inclusion(
            proof.index,
            proof.tree_size,
            &hash(&proof.leaf_hash),
            &proof_hashes,
            &hash(&checkpoint.root_hash),
        )
        .unwrap();
        // And against the older checkpoint, for the events it covers.
        if index < 4 {
            let old = inclusion_proof(&audit, &principal, &sent.event_id, 4)
                .await
                .unwrap();
            let old_hashes: Vec<Hash> = old.proof.iter().map(|h| hash(h)).collect();
            verify_inclusion(
                old.index,
                4,
                &hash(&old.leaf_hash),
                &old_hashes,
                &first.root().unwrap(),
            )
            .unwrap();
        } else {
            let status = inclusion_proof(&audit, &principal, &sent.event_id, 4)
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
        }
    }
    // An unknown event, a malformed id, a size beyond the log.
    let unknown = uuid::Uuid::new_v4().to_string();
    let status = inclusion_proof(&audit, &principal, &unknown, 0)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = inclusion_proof(&audit, &principal, "nope", 0)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = inclusion_proof(&audit, &principal, &events[0].event_id, 99)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

async fn consistency_proofs_verify_between_sizes(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let principal = tenant_auditor(&owner);
    let mut checkpoints = Vec::new();
    for round in 0..5 {
        let batch = (0..=round)
            .map(|_| event(Some(&owner), "customer.created"))
            .collect();
        audit.append(ServiceName::Crm, batch).await.unwrap();
        checkpoints.push(audit.checkpoint(&principal).await);
    }
    for old in &checkpoints {
        for new in checkpoints.iter().filter(|new| new.size >= old.size) {
            let proof = audit
                .client_as(ServiceName::Gateway)
                .await
                .get_consistency_proof(request_as(
                    &principal,
                    ConsistencyProofRequest {
                        log: None,
                        from_size: old.size,
                        to_size: new.size,
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(proof.checkpoint.unwrap().root_hash, new.root_hash);
            let hashes: Vec<Hash> = proof.proof.iter().map(|h| hash(h)).collect();
            verify_consistency(
                old.size,
                new.size,
                &old.root().unwrap(),
                &new.root().unwrap(),
                &hashes,
            )
            .unwrap();
        }
    }
    let status = audit
        .client_as(ServiceName::Gateway)
        .await
        .get_consistency_proof(request_as(
            &principal,
            ConsistencyProofRequest {
                log: None,
                from_size: 3,
                to_size: 999,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

async fn the_public_key_is_published(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    // Any caller of the service may read it; it is public.
    let published = audit
        .client_as(ServiceName::Crm)
        .await
        .get_public_key(GetPublicKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(published.algorithm, "Ed25519");
    assert_eq!(
        PublicKey::parse(&published.public_key).unwrap(),
        audit.public_key
    );
    assert_eq!(PublicKey::parse(&published.pem).unwrap(), audit.public_key);
    assert_eq!(published.key_id, audit.public_key.key_id());
}

async fn queries_filter_and_page(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let principal = tenant_auditor(&owner);
    let mut events = Vec::new();
    for n in 0..9 {
        let mut e = event(
            Some(&owner),
            if n % 3 == 0 {
                "api_key.issued"
            } else {
                "customer.created"
            },
        );
        e.occurred_at = format!("2025-06-0{}T12:00:00Z", n + 1);
        if n == 4 {
            e.actor = "user:someone".to_owned();
        }
        events.push(e);
    }
    audit
        .append(ServiceName::Crm, events.clone())
        .await
        .unwrap();
    let query = |mut request: ListEventsRequest| {
        let audit = &audit;
        let principal = principal.clone();
        async move {
            request.page_size = request.page_size.max(2);
            audit
                .client_as(ServiceName::Gateway)
                .await
                .list_events(request_as(&principal, request))
                .await
        }
    };
    let ids = |page: &rampart_proto::audit::v1::ListEventsResponse| -> Vec<u64> {
        page.events.iter().map(|e| e.sequence).collect()
    };
    let by_action = query(ListEventsRequest {
        action: "api_key.issued".to_owned(),
        page_size: 2,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(ids(&by_action), [0, 3]);
    let next = query(ListEventsRequest {
        action: "api_key.issued".to_owned(),
        page_size: 2,
        cursor: by_action.next_cursor.clone(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(ids(&next), [6]);
    assert_eq!(next.next_cursor, "");

    let by_actor = query(ListEventsRequest {
        actor: "user:someone".to_owned(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(ids(&by_actor), [4]);
    let by_target = query(ListEventsRequest {
        target: events[5].target.clone(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(ids(&by_target), [5]);
    let by_time = query(ListEventsRequest {
        since: "2025-06-03T00:00:00+00:00".to_owned(),
        until: "2025-06-05T12:00:00Z".to_owned(),
        page_size: 100,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(ids(&by_time), [2, 3]);
    let status = query(ListEventsRequest {
        since: "last tuesday".to_owned(),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

async fn readers_see_only_their_logs(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let a = TenantId::generate();
    let b = TenantId::generate();
    let secret_of_b = event(Some(&b), "customer.created");
    audit
        .append(
            ServiceName::Crm,
            vec![event(Some(&a), "customer.created"), secret_of_b.clone()],
        )
        .await
        .unwrap();
    let gateway = || async { audit.client_as(ServiceName::Gateway).await };
    let b_log = Some(LogSelector {
        log_id: b.as_str().to_owned(),
    });

    // A names B's log: NotFound, on every read.
    let status = gateway()
        .await
        .list_events(request_as(
            &tenant_auditor(&a),
            ListEventsRequest {
                log: b_log.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = gateway()
        .await
        .export(request_as(
            &tenant_auditor(&a),
            ExportRequest {
                log: b_log.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // A asks for B's event in its own log: not there.
    let status = inclusion_proof(&audit, &tenant_auditor(&a), &secret_of_b.event_id, 0)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // The platform admin reads the platform log by default and may name a
    // tenant's.
    let platform = gateway()
        .await
        .list_events(request_as(&admin_principal(), ListEventsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(platform.events.is_empty());
    let named = gateway()
        .await
        .list_events(request_as(
            &admin_principal(),
            ListEventsRequest {
                log: b_log,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(named.events.len(), 1);

    // A service other than the gateway cannot read at all.
    let status = audit
        .client_as(ServiceName::Crm)
        .await
        .export(request_as(&tenant_auditor(&a), ExportRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

async fn exports_of_ranges_verify(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let owner = TenantId::generate();
    let principal = tenant_auditor(&owner);
    let batch: Vec<_> = (0..11)
        .map(|_| event(Some(&owner), "customer.created"))
        .collect();
    audit
        .append(ServiceName::Crm, batch[..5].to_vec())
        .await
        .unwrap();
    let old = audit.checkpoint(&principal).await;
    audit
        .append(ServiceName::Crm, batch[5..].to_vec())
        .await
        .unwrap();

    for (from, to, previous) in [(0, 11, 0), (3, 8, 0), (6, 11, 5), (0, 0, 0), (11, 11, 0)] {
        let bytes = audit.export(&principal, from, to, previous).await;
        let prior = (previous > 0).then_some(&old);
        let report = rampart_audit::export::verify(&bytes[..], Some(&audit.public_key), prior);
        assert!(report.ok(), "{from}..{to}: {}", report.render());
        let expected = if to == 0 { 11 - from } else { to - from };
        assert_eq!(report.valid_events, expected);
        if previous > 0 {
            assert_eq!(report.consistency_checked, Some(5));
        }
    }
    // Every line is one JSON object: nothing a producer sent can split one.
    let bytes = audit.export(&principal, 0, 0, 0).await;
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.lines().count(), 12);
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    // Ranges outside the log are refused.
    let status = audit
        .client_as(ServiceName::Gateway)
        .await
        .export(request_as(
            &principal,
            ExportRequest {
                log: None,
                from: 5,
                to: 12,
                previous_size: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

/// Only the CRM may have a deletion certificate signed, and what it gets
/// back verifies with the published key.
async fn deletion_certificates_are_signed_for_the_crm_alone(database: TestDatabase) {
    let audit = TestAudit::spawn(database).await;
    let statement = serde_json::json!({
        "format": rampart_audit::certificate::FORMAT,
        "certificate_id": "era_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f",
        "subject": "customer:cus_0192f0c17e4a7b1d9c3e1a2b3c4d5e70",
    });
    let request = || rampart_proto::audit::v1::SignDeletionCertificateRequest {
        statement_json: statement.to_string(),
    };
    for service in [
        ServiceName::Gateway,
        ServiceName::Auth,
        ServiceName::Escalation,
    ] {
        let refused = audit
            .client_as(service)
            .await
            .sign_deletion_certificate(request())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{service:?}");
    }
    let mut crm = audit.client_as(ServiceName::Crm).await;
    let signed = crm
        .sign_deletion_certificate(request())
        .await
        .unwrap()
        .into_inner();
    let certificate =
        rampart_audit::certificate::Certificate::parse(&signed.certificate_json).unwrap();
    assert_eq!(certificate.statement, statement);
    let published = audit
        .client_as(ServiceName::Gateway)
        .await
        .get_public_key(GetPublicKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    certificate
        .verify(&PublicKey::parse(&published.public_key).unwrap())
        .unwrap();

    // Not JSON, not an object of the format, too large: refused.
    for bad in [
        "{not json".to_owned(),
        serde_json::json!({"format": "rampart-checkpoint"}).to_string(),
        serde_json::json!({"format": rampart_audit::certificate::FORMAT, "pad": "x".repeat(20_000)})
            .to_string(),
    ] {
        let refused = crm
            .sign_deletion_certificate(rampart_proto::audit::v1::SignDeletionCertificateRequest {
                statement_json: bad,
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
    }
}
