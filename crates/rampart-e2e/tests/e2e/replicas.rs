//! Two instances of every service on one PostgreSQL and Redis, as replicas
//! run in production.
//!
//! The test stack is the first instance of each service; a second stack in
//! the same process, with its own listeners, pools, caches, relays and
//! background jobs, is the second (its gateway calls its own auth, CRM,
//! escalation and audit, which relay to their own audit). Then:
//!
//! - audited actions go through both gateways at once, for two tenants:
//!   each tenant's log is one Merkle tree (both audit instances sign the
//!   same checkpoint, the consistency proof from before the run and an
//!   inclusion proof verify, the export verifies and holds each created
//!   customer exactly once: no gap, no duplicate leaf);
//! - a key revoked through one gateway is refused at the other;
//! - a handoff deadline fires once with the two escalation instances: one
//!   `handoff.escalated` event and one notification for the next level.
//!
//! SQLite is one process's database, so this runs on PostgreSQL and Redis
//! only (skipped outside CI when they are unreachable).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rampart::dev_data::DataDir;
use rampart_audit::checkpoint::{Checkpoint, PublicKey};
use rampart_kit::pki::ServiceName;
use rampart_kit::rate_limit::Quota;
use rampart_kit::secret::SecretString;
use reqwest::{Method, RequestBuilder, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::accounts::{audit_events, tenant_with_owner};
use crate::harness::{Backend, OFFICE_DOMAIN, Tenant, TestStack, read};

/// Customers created per tenant, half through each gateway.
const ACTIONS: usize = 160;
/// Requests in flight per gateway and tenant.
const CONCURRENCY: usize = 4;

fn unlimited() -> rampart_gateway::Config {
    rampart_gateway::Config {
        per_address: Quota::per_minute(10_000_000),
        per_credential: Quota::per_minute(10_000_000),
        ..rampart_gateway::Config::default()
    }
}

/// The second instance of every service, on the test stack's database,
/// Redis, PKI and secrets.
struct Replica {
    base: String,
    running: rampart::stack::RunningStack,
}

impl Replica {
    async fn start(stack: &TestStack) -> Self {
        let data = DataDir::open(&stack.data_dir).unwrap();
        let database_url = stack.database_url.clone().expect("a PostgreSQL stack");
        let edge = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = edge.local_addr().unwrap().port();
        let mut listeners = vec![(ServiceName::Gateway, edge)];
        let mut urls = HashMap::new();
        let mut databases = HashMap::new();
        for service in [
            ServiceName::Auth,
            ServiceName::Crm,
            ServiceName::Escalation,
            ServiceName::Audit,
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            urls.insert(
                service,
                format!("https://{}", listener.local_addr().unwrap()),
            );
            databases.insert(service, database_url.clone());
            listeners.push((service, listener));
        }
        let running = rampart::stack::start(rampart::stack::StackConfig {
            crm: Default::default(),
            pki: stack.stack.pki.clone(),
            listeners,
            urls,
            databases,
            redis: stack.redis.clone(),
            key_hash_secret: Some(data.key_hash_secret().unwrap()),
            admin_api_key: Some(SecretString::from(stack.admin_key.clone())),
            gateway: rampart_gateway::Config {
                admin_sign_in_path: Some(stack.admin_sign_in_path.clone()),
                ..unlimited()
            },
            audit_signing_key: Some(data.audit_signing_key().unwrap()),
            audit_checkpoint_interval: Duration::from_secs(1),
            totp_encryption_key: Some(data.totp_encryption_key().unwrap()),
            crm_master_key: Some(
                rampart::stack::parse_master_key(&data.crm_master_key().unwrap()).unwrap(),
            ),
            accounts: rampart_auth::AccountSettings {
                admin_email_domains: vec![OFFICE_DOMAIN.to_owned()],
                ..rampart_auth::AccountSettings::default()
            },
            admin_listener: None,
            escalation: rampart_escalation::Settings {
                deadline_tick: Duration::from_millis(200),
                smtp: None,
                webhook_targets: rampart_escalation::handoffs::WebhookTargets::AnyAddress,
            },
            transport: rampart_e2e::harness::transport_under_test(),
        })
        .await
        .expect("the second instances start");
        let replica = Self {
            base: format!("https://localhost:{port}"),
            running,
        };
        eventually("the second gateway is ready", async || {
            stack
                .client
                .get(format!("{}/readyz", replica.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
                .then_some(())
        })
        .await;
        replica
    }
}

/// Polls until `check` holds, failing after 30 s.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tenant's request at the gateway at `base`.
fn at(
    stack: &TestStack,
    base: &str,
    tenant: &Tenant,
    method: Method,
    path: &str,
) -> RequestBuilder {
    stack
        .client
        .request(method, format!("{base}{path}"))
        .header("X-API-Key", &tenant.key)
}

async fn get(stack: &TestStack, base: &str, tenant: &Tenant, path: &str) -> Value {
    let (status, body) = read(
        at(stack, base, tenant, Method::GET, path)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn checkpoint(stack: &TestStack, base: &str, tenant: &Tenant) -> Value {
    get(stack, base, tenant, "/v1/owner/audit/checkpoint?fresh=true").await
}

fn hash(value: &Value) -> [u8; 32] {
    rampart_kit::secret::unhex(value.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn hashes(value: &Value) -> Vec<[u8; 32]> {
    value.as_array().unwrap().iter().map(hash).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_of_every_service_on_postgres_and_redis() {
    let Some(stack) = TestStack::start_with(Backend::PostgresRedis, unlimited()).await else {
        return;
    };
    let replica = Replica::start(&stack).await;
    one_tree_per_tenant(&stack, &replica).await;
    revoked_at_one_gateway_refused_at_the_other(&stack, &replica).await;
    a_deadline_fires_once(&stack, &replica).await;
    replica.running.stop().await.unwrap();
    stack.stop().await;
}

async fn one_tree_per_tenant(stack: &TestStack, replica: &Replica) {
    let gateways = [stack.base.clone(), replica.base.clone()];
    let tenants = [
        stack.create_tenant("Replica One Ltd").await,
        stack.create_tenant("Replica Two Ltd").await,
    ];
    // Each tenant's first events (its creation, its first key), signed.
    let mut before = Vec::new();
    for tenant in &tenants {
        let first = eventually("a tenant's first events arrive", async || {
            let body = checkpoint(stack, &stack.base, tenant).await;
            (body["size"].as_u64().unwrap() >= 2).then_some(body)
        })
        .await;
        before.push(first);
    }

    // Both gateways, both tenants, at once.
    let mut workers = tokio::task::JoinSet::new();
    for (t, tenant) in tenants.iter().enumerate() {
        for (g, base) in gateways.iter().enumerate() {
            for w in 0..CONCURRENCY {
                let (client, base, tenant) = (stack.client.clone(), base.clone(), tenant.clone());
                workers.spawn(async move {
                    let mut created = Vec::new();
                    let mut n = w;
                    while n < ACTIONS / 2 {
                        let response = client
                            .post(format!("{base}/v1/crm/customers"))
                            .header("X-API-Key", &tenant.key)
                            .json(&json!({ "name": format!("Customer {g}-{n}") }))
                            .send()
                            .await
                            .expect("the edge answers");
                        let (status, body) = read(response).await;
                        assert_eq!(status, StatusCode::CREATED, "{body}");
                        created.push(body["id"].as_str().unwrap().to_owned());
                        n += CONCURRENCY;
                    }
                    (t, created)
                });
            }
        }
    }
    let mut created = [Vec::new(), Vec::new()];
    while let Some(joined) = workers.join_next().await {
        let (t, ids) = joined.unwrap();
        created[t].extend(ids);
    }

    let (status, key) = read(
        stack
            .request(Method::GET, "/v1/audit/public-key")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let key = PublicKey::parse(&key.to_string()).unwrap();

    for (t, tenant) in tenants.iter().enumerate() {
        assert_eq!(created[t].len(), ACTIONS);
        let old_size = before[t]["size"].as_u64().unwrap();
        let expected = old_size + ACTIONS as u64;
        let now = eventually("every event arrives", async || {
            let body = checkpoint(stack, &replica.base, tenant).await;
            let size = body["size"].as_u64().unwrap();
            assert!(size <= expected, "{size} events for {expected} actions");
            (size == expected).then_some(body)
        })
        .await;
        // Both audit instances sign the same tree.
        let other = checkpoint(stack, &stack.base, tenant).await;
        assert_eq!(other["size"], now["size"]);
        assert_eq!(other["root_hash"], now["root_hash"]);
        let parsed: Checkpoint = serde_json::from_value(now.clone()).unwrap();
        parsed.verify(&key).unwrap();

        // The tree before the run is a prefix of the tree after it.
        let path =
            format!("/v1/owner/audit/proofs/consistency?from_size={old_size}&to_size={expected}");
        let consistency = get(stack, &stack.base, tenant, &path).await;
        rampart_audit::merkle::verify_consistency(
            old_size,
            expected,
            &hash(&before[t]["root_hash"]),
            &hash(&now["root_hash"]),
            &hashes(&consistency["proof"]),
        )
        .unwrap();

        // The export verifies, and holds each created customer once.
        let response = at(
            stack,
            &replica.base,
            tenant,
            Method::GET,
            "/v1/owner/audit/export",
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let export = response.bytes().await.unwrap();
        let report = rampart_audit::export::verify(&export[..], Some(&key), None);
        assert!(report.ok(), "{}", report.render());
        assert_eq!(report.valid_events, expected);
        let mut ids = HashSet::new();
        let mut targets = Vec::new();
        let mut last_event = String::new();
        for line in std::str::from_utf8(&export).unwrap().lines().skip(1) {
            let line: Value = serde_json::from_str(line).unwrap();
            let event = &line["event"];
            let id = event["event_id"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "event {id} is in the log twice");
            if event["action"] == "customer.created" {
                let target = event["target"].as_str().unwrap();
                targets.push(target.trim_start_matches("customer:").to_owned());
                last_event = id;
            }
        }
        assert_eq!(ids.len() as u64, expected);
        targets.sort();
        created[t].sort();
        assert_eq!(
            targets, created[t],
            "the log's customers are the created ones"
        );

        // An event relayed by either instance is included in the tree.
        let path = format!("/v1/owner/audit/proofs/inclusion?event_id={last_event}");
        let proof = get(stack, &replica.base, tenant, &path).await;
        rampart_audit::merkle::verify_inclusion(
            proof["index"].as_u64().unwrap(),
            proof["tree_size"].as_u64().unwrap(),
            &hash(&proof["leaf_hash"]),
            &hashes(&proof["proof"]),
            &hash(&proof["checkpoint"]["root_hash"]),
        )
        .unwrap();
    }
}

async fn revoked_at_one_gateway_refused_at_the_other(stack: &TestStack, replica: &Replica) {
    let tenant = stack.create_tenant("Replica Revocations").await;
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&json!({ "name": "integration" }))
        .send()
        .await
        .unwrap();
    let (status, issued) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let holder = Tenant {
        id: tenant.id.clone(),
        key: issued["api_key"].as_str().unwrap().to_owned(),
    };
    let key_id = issued["key_id"].as_str().unwrap();
    // Accepted, and so cached, by both gateways.
    for base in [&stack.base, &replica.base] {
        get(stack, base, &holder, "/v1/crm/customers").await;
    }
    let response = stack
        .as_admin(
            Method::DELETE,
            &format!("/v1/admin/tenants/{}/api-keys/{key_id}", tenant.id),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for base in [&replica.base, &stack.base] {
        eventually("the revoked key is refused", async || {
            let status = at(stack, base, &holder, Method::GET, "/v1/crm/customers")
                .send()
                .await
                .unwrap()
                .status();
            (status == StatusCode::UNAUTHORIZED).then_some(())
        })
        .await;
    }
}

async fn a_deadline_fires_once(stack: &TestStack, replica: &Replica) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Replica Repairs").await;
    let (status, body) = read(
        stack
            .client
            .put(format!("{}/v1/escalation/policy", replica.base))
            .bearer_auth(&owner)
            .json(&json!({ "policy": {
                "response_targets": { "critical_secs": 1, "high_secs": 1, "medium_secs": 1, "low_secs": 1 },
                "contacts": [
                    { "name": "on-call", "kind": "technical_incident", "email": "oncall@repairs.example" },
                    { "name": "boss", "kind": "general", "email": "boss@repairs.example" }
                ],
                "chain": {
                    "levels": [
                        { "contacts": ["on-call"], "delay_secs": 1 },
                        { "contacts": ["boss"], "delay_secs": 3600 }
                    ],
                    "repeats": 0
                }
            }}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, started) = read(
        at(
            stack,
            &replica.base,
            &tenant,
            Method::POST,
            "/v1/crm/conversations",
        )
        .json(&json!({ "channel": "sms", "text": "I am going to sue you for this" }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let conversation_id = started["id"].as_str().unwrap();
    let listed = get(
        stack,
        &stack.base,
        &tenant,
        &format!("/v1/handoffs?conversation_id={conversation_id}&status=open"),
    )
    .await;
    let handoff_id = listed["handoffs"][0]["id"].as_str().unwrap().to_owned();

    // Both escalation instances tick every 200 ms; the step fires once.
    eventually("the deadline fires", async || {
        let handoff = get(
            stack,
            &stack.base,
            &tenant,
            &format!("/v1/handoffs/{handoff_id}"),
        )
        .await;
        (handoff["level"] == 2).then_some(())
    })
    .await;
    let target = format!("handoff:{handoff_id}");
    let escalated = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["action"] == "handoff.escalated" && e["target"] == target.as_str())
            .count()
    };
    eventually("handoff.escalated arrives", async || {
        (escalated(&audit_events(stack, &tenant).await) >= 1).then_some(())
    })
    .await;
    // Ten ticks of each instance, in which a second firing would show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(escalated(&audit_events(stack, &tenant).await), 1);
    let handoff = get(
        stack,
        &replica.base,
        &tenant,
        &format!("/v1/handoffs/{handoff_id}"),
    )
    .await;
    assert_eq!(handoff["level"], 2, "{handoff}");

    // One notification for level 2's contact.
    let db = rampart_kit::db::connect(stack.database_url.as_deref().unwrap())
        .await
        .unwrap();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT COUNT(*) AS n FROM esc_notification WHERE handoff_id = $1 AND target = $2",
            [handoff_id.into(), "boss@repairs.example".into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let notifications: i64 = row.try_get("", "n").unwrap();
    assert_eq!(notifications, 1);
    rampart_kit::db::close(db).await;
}
