//! The audit log end to end.
//!
//! The loss test: a couple of thousand audited actions through the gateway
//! while the audit service is stopped and restarted several times. Every
//! request succeeds (audit down stops nothing), and afterwards the tenant's
//! log holds exactly those events, none lost, none twice, and its export
//! verifies with the published key. Also the REST routes for checkpoints,
//! proofs and exports, and who may call them.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rampart::dev_data::DataDir;
use rampart_audit::checkpoint::PublicKey;
use rampart_kit::CancellationToken;
use rampart_kit::pki::ServiceName;
use rampart_kit::rate_limit::Quota;
use rampart_kit::secret::ExposeSecret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::harness::{Backend, Tenant, TestStack, expect_problem, read};

/// Audited actions in the loss test.
const ACTIONS: usize = 2000;
/// Requests in flight at once.
const CONCURRENCY: usize = 16;

fn unlimited() -> rampart_gateway::Config {
    rampart_gateway::Config {
        per_address: Quota::per_minute(10_000_000),
        per_credential: Quota::per_minute(10_000_000),
        ..rampart_gateway::Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_while_audit_restarts_on_the_embedded_default() {
    let stack = TestStack::start_with(Backend::Embedded, unlimited())
        .await
        .expect("embedded always runs");
    nothing_is_lost(&stack).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_while_audit_restarts_on_postgres_and_redis() {
    let Some(stack) = TestStack::start_with(Backend::PostgresRedis, unlimited()).await else {
        return;
    };
    nothing_is_lost(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn audit_routes_at_the_edge() {
    let stack = TestStack::start(Backend::Embedded)
        .await
        .expect("embedded always runs");
    routes(&stack).await;
    stack.stop().await;
}

/// An audit service run by the test, on the address the stack's relays
/// and gateway know.
struct AuditInstance {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_audit(stack: &TestStack) -> AuditInstance {
    let address = stack.stack.internal[&ServiceName::Audit];
    // The port was just released by the instance before; take it again.
    let mut tries = 0;
    let listener = loop {
        match TcpListener::bind(address).await {
            Ok(listener) => break listener,
            Err(error) => {
                tries += 1;
                assert!(tries < 100, "cannot rebind audit's port {address}: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let database_url = stack.database_url.clone().unwrap_or_else(|| {
        rampart_kit::db::sqlite_url(&DataDir::open(&stack.data_dir).unwrap().database("audit"))
    });
    let pem = DataDir::open(&stack.data_dir)
        .unwrap()
        .audit_signing_key()
        .unwrap();
    let config = rampart_audit::Config {
        database_url,
        signing_key: rampart_audit::SigningKey::from_pem(pem.expose_secret()).unwrap(),
        checkpoint_interval: Duration::from_secs(1),
    };
    let tls = stack.stack.pki.load_service(ServiceName::Audit).unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(rampart_audit::run_co_located(
        config,
        listener,
        tls,
        stack.stack.running.local_services().clone(),
        stop.clone(),
    ));
    AuditInstance { stop, task }
}

impl AuditInstance {
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// The tenant's log as its owner reads it: the checkpoint size, signed now.
async fn log_size(stack: &TestStack, tenant: &Tenant) -> Option<u64> {
    let response = stack
        .as_tenant(tenant, Method::GET, "/v1/owner/audit/checkpoint?fresh=true")
        .send()
        .await
        .ok()?;
    let (status, body) = read(response).await;
    (status == StatusCode::OK).then(|| body["size"].as_u64().unwrap())
}

async fn nothing_is_lost(stack: &TestStack) {
    let tenant = stack.create_tenant("Loss Test Ltd").await;
    // The tenant's own events so far (its creation, its first key).
    let mut before = 0;
    for _ in 0..100 {
        if let Some(size) = log_size(stack, &tenant).await
            && size >= 2
        {
            before = size;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(before >= 2, "the tenant's first events never arrived");

    // Audit goes down and comes back several times while the actions run.
    stack.stack.running.stop_service(ServiceName::Audit);
    let done = Arc::new(AtomicUsize::new(0));
    let outages = {
        let done = done.clone();
        async move {
            let mut restarts = 0;
            let mut instance: Option<AuditInstance> = None;
            while done.load(Ordering::Relaxed) < ACTIONS {
                // Down for a while...
                tokio::time::sleep(Duration::from_millis(400)).await;
                // ...up for a while, then down again.
                let running = start_audit(stack).await;
                restarts += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                if done.load(Ordering::Relaxed) < ACTIONS {
                    running.stop().await;
                } else {
                    instance = Some(running);
                }
            }
            (restarts, instance)
        }
    };
    let actions = async {
        let next = AtomicUsize::new(0);
        let created = std::sync::Mutex::new(Vec::with_capacity(ACTIONS));
        let worker = || async {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= ACTIONS {
                    return;
                }
                let response = stack
                    .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
                    .json(&json!({ "name": format!("Customer {n}") }))
                    .send()
                    .await
                    .expect("the edge answers");
                let (status, body) = read(response).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                created
                    .lock()
                    .unwrap()
                    .push(body["id"].as_str().unwrap().to_owned());
                done.fetch_add(1, Ordering::Relaxed);
            }
        };
        futures_join_all((0..CONCURRENCY).map(|_| worker())).await;
        created.into_inner().unwrap()
    };
    let (created, (restarts, instance)) = tokio::join!(actions, outages);
    assert!(restarts >= 3, "audit restarted only {restarts} times");
    let instance = match instance {
        Some(instance) => instance,
        None => start_audit(stack).await,
    };

    // Everything arrives once audit stays up.
    let expected = before + ACTIONS as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let size = log_size(stack, &tenant).await.unwrap_or(0);
        if size >= expected {
            assert_eq!(size, expected, "more events than actions");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {size} of {expected} events arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The export verifies with the published key, and holds each created
    // customer exactly once.
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
    let response = stack
        .as_tenant(&tenant, Method::GET, "/v1/owner/audit/export")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let export = response.bytes().await.unwrap();
    let report = rampart_audit::export::verify(&export[..], Some(&key), None);
    assert!(report.ok(), "{}", report.render());
    assert_eq!(report.valid_events, expected);
    assert!(
        report
            .render()
            .contains(&format!("{expected}/{expected} events valid"))
    );

    let text = std::str::from_utf8(&export).unwrap();
    let mut ids = HashSet::new();
    let mut targets = Vec::new();
    for line in text.lines().skip(1) {
        let line: Value = serde_json::from_str(line).unwrap();
        let event = &line["event"];
        assert!(ids.insert(event["event_id"].as_str().unwrap().to_owned()));
        if event["action"] == "customer.created" {
            targets.push(event["target"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len() as u64, expected);
    let mut targets: Vec<String> = targets
        .into_iter()
        .map(|t| t.trim_start_matches("customer:").to_owned())
        .collect();
    let mut created = created;
    targets.sort();
    created.sort();
    assert_eq!(targets, created, "the log's customers are the created ones");
    instance.stop().await;
}

/// Joins futures without a dependency on `futures`.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    for future in set {
        future.await;
    }
}

async fn routes(stack: &TestStack) {
    let a = stack.create_tenant("Routes A").await;
    let b = stack.create_tenant("Routes B").await;
    for n in 0..3 {
        let response = stack
            .as_tenant(&a, Method::POST, "/v1/crm/customers")
            .json(&json!({ "name": format!("Personal Name {n}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let mut events = Value::Null;
    for _ in 0..100 {
        let (status, body) = read(
            stack
                .as_tenant(&a, Method::GET, "/v1/owner/audit?action=customer.created")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["events"].as_array().unwrap().len() == 3 {
            events = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = &events["events"][0];
    assert_eq!(first["leaf_hash"].as_str().unwrap().len(), 64, "{events}");
    // Where: the client's address as the gateway saw it, the request id,
    // the producing service.
    assert_eq!(first["client_addr"], "127.0.0.1", "{events}");
    assert!(
        !first["request_id"].as_str().unwrap().is_empty(),
        "{events}"
    );
    assert_eq!(first["service"], "crm", "{events}");

    // A checkpoint, then a proof for one event against it.
    let (status, checkpoint) = read(
        stack
            .as_tenant(&a, Method::GET, "/v1/owner/audit/checkpoint?fresh=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{checkpoint}");
    let (_, key) = read(
        stack
            .request(Method::GET, "/v1/audit/public-key")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let key = PublicKey::parse(&key.to_string()).unwrap();
    let parsed: rampart_audit::checkpoint::Checkpoint =
        serde_json::from_value(checkpoint.clone()).unwrap();
    parsed.verify(&key).unwrap();
    let event_id = first["event_id"].as_str().unwrap();
    let (status, proof) = read(
        stack
            .as_tenant(
                &a,
                Method::GET,
                &format!("/v1/owner/audit/proofs/inclusion?event_id={event_id}"),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let hash = |v: &Value| -> [u8; 32] {
        rampart_kit::secret::unhex(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let hashes: Vec<[u8; 32]> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    rampart_audit::merkle::verify_inclusion(
        proof["index"].as_u64().unwrap(),
        proof["tree_size"].as_u64().unwrap(),
        &hash(&proof["leaf_hash"]),
        &hashes,
        &hash(&proof["checkpoint"]["root_hash"]),
    )
    .unwrap();
    let (status, consistency) = read(
        stack
            .as_tenant(
                &a,
                Method::GET,
                "/v1/owner/audit/proofs/consistency?from_size=1",
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{consistency}");

    // Personal data (the customer's name) never reaches the log: ids do.
    let export = stack
        .as_tenant(&a, Method::GET, "/v1/owner/audit/export")
        .send()
        .await
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson",);
    let bytes = export.bytes().await.unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("Personal Name"));
    assert!(rampart_audit::export::verify(&bytes[..], Some(&key), None).ok());

    // A tenant cannot name a log; B sees none of A's events; bad input is a
    // problem response.
    let response = stack
        .as_tenant(&b, Method::GET, &format!("/v1/owner/audit?log={}", a.id))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    let response = stack
        .as_tenant(
            &b,
            Method::GET,
            &format!("/v1/owner/audit/proofs/inclusion?event_id={event_id}"),
        )
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await;
    for bad in [
        "/v1/owner/audit?since=yesterday",
        "/v1/owner/audit?colour=red",
        "/v1/owner/audit/proofs/inclusion",
        "/v1/owner/audit/proofs/consistency?from_size=x",
        "/v1/owner/audit/export?from=9&to=2",
    ] {
        let response = stack.as_tenant(&b, Method::GET, bad).send().await.unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST).await;
    }
    // Without a credential: refused, except the public key.
    let response = stack
        .request(Method::GET, "/v1/owner/audit/export")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED).await;

    // The admin reads the platform log, or names a tenant's.
    let (status, platform) = read(
        stack
            .as_admin(Method::GET, "/v1/admin/audit/checkpoint?fresh=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{platform}");
    assert_eq!(platform["log_id"], "platform");
    let (status, named) = read(
        stack
            .as_admin(Method::GET, &format!("/v1/admin/audit?log={}", a.id))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{named}");
    assert!(named["events"].as_array().unwrap().len() >= 3);
    let export = stack
        .as_admin(Method::GET, &format!("/v1/admin/audit/export?log={}", a.id))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    let report =
        rampart_audit::export::verify(&export.bytes().await.unwrap()[..], Some(&key), None);
    assert!(report.ok(), "{}", report.render());
}
