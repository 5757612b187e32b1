//! Transcripts: when a conversation ends, its texts are kept only if the
//! tenant turned transcripts on and the customer consented; otherwise they
//! are blanked, and the rest (who said it, when, the receipts) stays.

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::principal::Role;
use rampart_kit::testing::{TestDatabase, admin_principal, request_as, tenant_principal};
use rampart_proto::crm::v1 as proto;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use crate::helpers::{TestApp, post, start_request, user};

on_both_databases!(transcripts_are_kept_only_with_consent_and_the_tenants_switch);

/// Runs a conversation to its close and answers it as read afterwards.
async fn close_a_conversation(
    app: &TestApp,
    tenant: &TenantId,
    consent: bool,
    end: &str,
) -> proto::Conversation {
    let mut crm = app.client().await;
    let key = tenant_principal(tenant);
    let agent = user(tenant, Role::Agent);
    let started = crm
        .start_conversation(request_as(
            &key,
            proto::StartConversationRequest {
                transcript_consent: consent,
                ..start_request("web", "My account number is 12345")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    crm.post_ai_reply(request_as(&key, post(&started.id, "Thanks, checking")))
        .await
        .unwrap();
    crm.post_agent_reply(request_as(&agent, post(&started.id, "All done")))
        .await
        .unwrap();
    for status in ["resolved", "closed"] {
        crm.set_conversation_status(request_as(
            &agent,
            proto::SetConversationStatusRequest {
                conversation_id: started.id.clone(),
                status: status.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
        if status == end {
            break;
        }
    }
    crm.get_conversation(request_as(
        &key,
        proto::GetConversationRequest {
            conversation_id: started.id,
        },
    ))
    .await
    .unwrap()
    .into_inner()
}

async fn transcripts_are_kept_only_with_consent_and_the_tenants_switch(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let created = crm
        .create_tenant(request_as(
            &admin_principal(),
            proto::CreateTenantRequest {
                name: "Acme".into(),
                office_domains: vec![],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let tenant = TenantId::parse(&created.id).unwrap();

    // Transcripts are off by default: consent alone keeps nothing.
    let off = close_a_conversation(&app, &tenant, true, "closed").await;
    assert_eq!(off.status, "closed");
    assert_eq!(off.messages.len(), 3);
    assert!(off.messages.iter().all(|m| m.text.is_empty()));
    let authors: Vec<&str> = off.messages.iter().map(|m| m.author.as_str()).collect();
    assert_eq!(authors, ["customer", "ai", "agent"]);
    assert!(off.messages[0].receipt.is_some());

    app.db
        .execute(
            &Query::update()
                .table("crm_tenant")
                .value("transcripts_enabled", true)
                .and_where(Expr::col("id").eq(created.id.as_str()))
                .to_owned(),
        )
        .await
        .unwrap();

    // On, but the customer did not consent: blanked already on resolve.
    let no_consent = close_a_conversation(&app, &tenant, false, "resolved").await;
    assert_eq!(no_consent.status, "resolved");
    assert!(no_consent.messages.iter().all(|m| m.text.is_empty()));

    // On, with consent: kept through the close.
    let kept = close_a_conversation(&app, &tenant, true, "closed").await;
    let texts: Vec<&str> = kept.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["My account number is 12345", "Thanks, checking", "All done"]
    );
}
