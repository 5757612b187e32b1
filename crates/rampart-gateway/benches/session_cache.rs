//! What checking a session costs at the edge when its verdict is cached:
//! the keyed hash of token and client address, the cache lookup, and the
//! session's end compared with now. The goal is well under 2 µs.
//!
//! `cargo bench -p rampart-gateway --bench session_cache`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_gateway::authn::sessions::{Cached, SessionCache, SessionIdentity};
use rampart_kit::ids::TenantId;
use rampart_kit::principal::{PrincipalKind, Role};
use rampart_kit::revocation::BusEvent;

fn session_cache(c: &mut Criterion) {
    let cache = SessionCache::new(Duration::from_secs(10), Duration::from_secs(2));
    cache.apply(&BusEvent::ChannelUp);
    let client = "203.0.113.7";
    // A full cache of other sessions, so the lookup is not into an empty map.
    let tokens: Vec<String> = (0..10_000).map(|i| format!("rs_{:064x}", i + 1)).collect();
    for (i, token) in tokens.iter().enumerate() {
        let Cached::Miss(ticket) = cache.get(token, client) else {
            panic!("an empty cache holds nothing");
        };
        let identity = SessionIdentity {
            session_id: format!("ses_{i}"),
            user_id: format!("usr_{i}"),
            kind: PrincipalKind::Tenant(TenantId::generate()),
            role: Role::Agent,
            ends: Instant::now() + Duration::from_secs(3600),
            tenant_suspended: false,
            tenant_isolated: false,
        };
        cache.insert(token, client, Some(identity), ticket);
    }
    let token = &tokens[4_242];
    assert!(matches!(cache.get(token, client), Cached::Valid(_)));
    c.bench_function("session check from the cache", |b| {
        b.iter(|| cache.get(black_box(token), black_box(client)));
    });
}

criterion_group!(benches, session_cache);
criterion_main!(benches);
