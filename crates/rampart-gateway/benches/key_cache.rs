//! The cost of checking an API key whose verdict is cached: what every
//! request with a known key pays at the gateway before it reaches a handler
//! (keyed hash of the presented key, cache lookup, trust check).
//!
//! Run: `cargo bench -p rampart-gateway --bench key_cache`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_gateway::authn::{Authenticator, VerifiedKey};
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::ids::{ApiKeyId, TenantId};
use rampart_kit::revocation::BusEvent;
use rampart_proto::auth::v1::auth_service_client::AuthServiceClient;
use rampart_proto::auth::v1::auth_service_handle::AuthServiceHandle;
use rampart_proto::auth::v1::{PrincipalKind, VerifyApiKeyResponse};
use tonic::transport::Endpoint;

fn authenticator() -> Authenticator {
    // Never connected: every key the bench checks is cached.
    let channel = Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
    let auth =
        AuthServiceHandle::Remote(AuthServiceClient::new(rampart_kit::grpc::traced(channel)));
    let authenticator = Authenticator::new(auth, Duration::from_secs(3600), Duration::from_secs(2));
    authenticator.apply(&BusEvent::ChannelUp);
    authenticator
}

fn verdict() -> VerifiedKey {
    VerifiedKey::from_response(VerifyApiKeyResponse {
        kind: PrincipalKind::Tenant.into(),
        tenant_id: TenantId::generate().into_string(),
        credential_id: ApiKeyId::generate().into_string(),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        ..VerifyApiKeyResponse::default()
    })
    .expect("a well-formed verdict")
}

fn cached_key_check(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();
    let authenticator = authenticator();
    // A realistic cache: 10,000 keys, checking one of them.
    let keys: Vec<PlaintextApiKey> = (0..10_000)
        .map(|_| PlaintextApiKey::generate(KeyKind::Live))
        .collect();
    for key in &keys {
        authenticator.remember(key, verdict());
    }
    let key = &keys[4_321];
    assert!(authenticator.cached_key(key).is_some());
    c.bench_function("key check from cache (10k keys cached)", |b| {
        b.iter(|| black_box(authenticator.cached_key(black_box(key))));
    });
    let parse_and_check = key.expose().to_owned();
    c.bench_function("key parse + check from cache", |b| {
        b.iter(|| {
            let key = PlaintextApiKey::parse(black_box(&parse_and_check)).expect("valid");
            black_box(authenticator.cached_key(&key))
        });
    });
}

criterion_group!(benches, cached_key_check);
criterion_main!(benches);
