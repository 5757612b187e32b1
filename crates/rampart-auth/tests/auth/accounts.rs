//! The account service at the service boundary: only the gateway may call
//! it, and principal metadata forged by another caller is not believed.

use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Role, SignedInUser};
use rampart_kit::testing::{TestDatabase, request_as, tenant_principal};
use rampart_proto::auth::v1::account_service_client::AccountServiceClient;
use rampart_proto::auth::v1::{
    CreateUserRequest, SignInRequest, SignInRoute, VerifySessionRequest,
};
use tonic::Code;

use crate::helpers::TestAuth;

on_both_databases!(
    only_the_gateway_reaches_accounts,
    roles_are_checked_in_the_service
);

async fn only_the_gateway_reaches_accounts(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    for identity in [
        ServiceName::Crm,
        ServiceName::Escalation,
        ServiceName::Audit,
    ] {
        let channel = auth.server.channel_as(identity).await;
        let status = AccountServiceClient::new(channel)
            .sign_in(SignInRequest {
                route: SignInRoute::Public.into(),
                tenant_id: TenantId::generate().into_string(),
                email: "a@b.example".to_owned(),
                password: "whatever it is here".to_owned(),
                client_address: "10.0.0.1".to_owned(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{identity}: {status:?}"
        );
    }
    // The gateway gets as far as the session check.
    let channel = auth.server.channel_as(ServiceName::Gateway).await;
    let status = AccountServiceClient::new(channel)
        .verify_session(VerifySessionRequest {
            token: format!("rs_{}", "0".repeat(64)),
            client_address: "10.0.0.1".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

async fn roles_are_checked_in_the_service(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let tenant = TenantId::generate();
    let channel = auth.server.channel_as(ServiceName::Gateway).await;
    let mut client = AccountServiceClient::new(channel);
    let new_user = || CreateUserRequest {
        tenant_id: tenant.to_string(),
        email: "new@acme.example".to_owned(),
        password: "violet tractor measures quietly".to_owned(),
        role: "owner".to_owned(),
        context_words: Vec::new(),
    };
    // Even from the gateway, an agent (or a bare API key) may not create
    // users: the service checks the role itself.
    let mut agent = tenant_principal(&tenant);
    agent.user = Some(SignedInUser {
        id: "usr_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".to_owned(),
        role: Role::Agent,
    });
    for principal in [agent, tenant_principal(&tenant)] {
        let status = client
            .create_user(request_as(&principal, new_user()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    assert_eq!(auth.count("auth_user").await, 0);
}
