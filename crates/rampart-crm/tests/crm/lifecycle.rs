//! Stopping and restarting: `run` returns once its token is cancelled (the
//! audit relay included), and a restart on the same database finds the
//! schema, the data and the undelivered audit events where they were.

use rampart_kit::on_both_databases;
use rampart_kit::testing::{TestDatabase, admin_principal, request_as};
use rampart_proto::crm::v1 as proto;

use crate::helpers::TestApp;

on_both_databases!(the_service_stops_and_restarts_on_its_own_data);

async fn the_service_stops_and_restarts_on_its_own_data(database: TestDatabase) {
    let mut app = TestApp::spawn(database).await;
    let request = proto::CreateTenantRequest {
        name: "Acme".into(),
        office_domains: vec!["acme.example".into()],
    };
    let created = app
        .client()
        .await
        .create_tenant(request_as(&admin_principal(), request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.pending_audit().await, 1);

    // The relay is retrying an unreachable audit service; stopping must not
    // wait for it to succeed.
    app.stop().await.unwrap();
    assert_eq!(app.pending_audit().await, 1);

    // Migrating again is a no-op, and everything is still there.
    app.restart().await;
    let request = proto::GetTenantRequest {
        tenant_id: created.id.clone(),
    };
    let fetched = app
        .client()
        .await
        .get_tenant(request_as(&admin_principal(), request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, created);
    assert_eq!(app.pending_audit().await, 1);
    app.stop().await.unwrap();
}
