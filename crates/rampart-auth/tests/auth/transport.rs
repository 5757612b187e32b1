//! Who may connect at all: a certificate from the internal CA is required,
//! and of those only the gateway's is let through.

use rampart_kit::on_both_databases;
use rampart_kit::pki::ServiceName;
use rampart_kit::testing::TestDatabase;
use rampart_proto::auth::v1::VerifyApiKeyRequest;
use rampart_proto::auth::v1::auth_service_client::AuthServiceClient;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::helpers::TestAuth;

on_both_databases!(
    a_client_without_a_certificate_fails_the_handshake,
    another_service_is_refused,
);

fn request() -> VerifyApiKeyRequest {
    VerifyApiKeyRequest {
        api_key: "rk_live_whatever".to_owned(),
    }
}

async fn a_client_without_a_certificate_fails_the_handshake(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    let ca = std::fs::read_to_string(auth.server.pki().internal_ca_cert()).unwrap();
    // Trusts the server, but has no identity of its own to present.
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name(ServiceName::Auth.dns_name());
    let endpoint = Endpoint::from_shared(format!("https://{}", auth.server.address))
        .unwrap()
        .tls_config(tls)
        .unwrap();
    // With TLS 1.3 the client may finish its side of the handshake before
    // the server refuses it, so the failure shows at connect or at the call.
    let failure = match endpoint.connect().await {
        Err(error) => format!("{error:?}"),
        Ok(channel) => {
            let status = AuthServiceClient::new(channel)
                .verify_api_key(request())
                .await
                .unwrap_err();
            // A refusal by the service itself would be Unauthenticated (the
            // key is malformed) or PermissionDenied, not a transport error.
            assert!(
                !matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied
                ),
                "{status:?}"
            );
            format!("{status:?}")
        }
    };
    // The server's alert says why: "CertificateRequired".
    assert!(failure.to_lowercase().contains("certificate"), "{failure}");
}

async fn another_service_is_refused(database: TestDatabase) {
    let auth = TestAuth::spawn(database).await;
    for identity in [
        ServiceName::Crm,
        ServiceName::Escalation,
        ServiceName::Audit,
    ] {
        let status = auth
            .client_as(identity)
            .await
            .verify_api_key(request())
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{identity}: {status:?}"
        );
    }
    // The gateway gets as far as the key check.
    let status = auth
        .gateway()
        .await
        .verify_api_key(request())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}
