//! What field encryption costs the CRM, and how fast a master key rotation
//! re-wraps tenant keys, in one run.
//!
//! 1. **Encrypted against unencrypted.** Two CRMs on the same kind of
//!    backend, each with a database of its own: one sealing personal data
//!    with a vault under a generated master key, one with
//!    [`Vault::unencrypted_baseline`] (the same routes and queries, minus
//!    the keys and the AEAD). Both are called over gRPC with mutual TLS as
//!    the gateway calls them, with a tenant key's principal; the encryption
//!    happens in the CRM, so the gateway's own work (the same on both
//!    sides) is left out. Three operations: `CreateCustomer` (name, phone,
//!    e-mail, address), `GetCustomer` of existing customers, and the exact
//!    lookup by phone (`ListCustomers` with `phone`); creates go to a
//!    tenant of their own, so both sides read tenants of equal size.
//!    Rounds alternate between the two CRMs (which one goes first
//!    alternates too), so noise on a shared machine moves both alike; the
//!    ratio is taken per pair of rounds, and its median reported. Goal
//!    (docs/benchmarks.md): encrypted at least 0.8x of unencrypted.
//! 2. **Master key rotation.** Tenants, each with its tenant key (wrapped
//!    under master v1) and a customer's data key, made through
//!    `CreateCustomer`; the CRM restarted with v1 and v2, then
//!    `RotateMasterKey` while clients read the tenants' customers (each
//!    read's first load of a tenant key races the rotation), then v2 to v3
//!    with no reads. Reported: tenant keys re-wrapped per second, the counts
//!    the rotation answers, and the reads served (and failed) meanwhile.
//!
//! `cargo bench -p rampart-crm --bench vault` (release build; about 75 s on
//! SQLite, 100 s on PostgreSQL).
//! `RAMPART_BENCH_BACKEND=postgres` runs it on PostgreSQL (at
//! `RAMPART_TEST_POSTGRES_URL`, default the loopback port with trust auth;
//! a fresh database per CRM) instead of embedded SQLite. Sizes:
//! `RAMPART_BENCH_TENANTS` (tenants in the rotation, default 2000).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rampart_crm::gate::GateRetry;
use rampart_crm::vault::{LocalMasterKeys, MasterKey, Vault};
use rampart_kit::ids::TenantId;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::Principal;
use rampart_kit::testing::{
    TestDatabase, TestServer, admin_principal, closed_address, request_as, tenant_principal,
};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_client::CrmServiceClient;
use tonic::transport::Channel;

/// Clients calling at once, as in the other load benches.
const CLIENTS: usize = 16;
/// Customers each CRM holds before the reads are measured.
const READ_SET: usize = 2_000;
const ROUND: Duration = Duration::from_secs(3);
const WARM_UP: Duration = Duration::from_secs(1);
const PAIRS: usize = 3;
/// The goal: encrypted at least this share of unencrypted.
const GOAL: f64 = 0.8;
/// The gate retry only finds work with conversations, which this bench has
/// none of; an hour keeps its ticks out of the measured rounds.
const IDLE_GATE_RETRY: GateRetry = GateRetry {
    tick: Duration::from_secs(3600),
    min_age: Duration::ZERO,
};

#[tokio::main]
async fn main() {
    let backend = Backend::from_env();
    println!(
        "backend {}, {CLIENTS} clients, gRPC over mutual TLS to the CRM",
        backend.name()
    );
    compare_encrypted_with_unencrypted(backend).await;
    rotate_master_key(backend).await;
}

/// Part 1: the same operations on a sealing CRM and on the baseline.
async fn compare_encrypted_with_unencrypted(backend: Backend) {
    let master_key = keyring(&[&master_key_version(1)]);
    let sealed = Crm::start(backend, "encrypted", &master_key, |config| {
        Vault::new(config.master_key.clone())
    })
    .await;
    let plain = Crm::start(backend, "unencrypted", &master_key, |_| {
        Vault::unencrypted_baseline()
    })
    .await;
    let sealed_side = Side::seed(&sealed).await;
    let plain_side = Side::seed(&plain).await;

    // Warm both: connections, statement caches, and the sealing side's
    // unwrapped data keys (which a real CRM keeps for a minute after a read).
    for operation in Operation::ALL {
        sealed_side.round(operation, WARM_UP).await;
        plain_side.round(operation, WARM_UP).await;
    }
    for operation in Operation::ALL {
        let mut ratios = Vec::with_capacity(PAIRS);
        for pair in 0..PAIRS {
            let (encrypted, unencrypted) = if pair % 2 == 0 {
                let encrypted = sealed_side.round(operation, ROUND).await;
                (encrypted, plain_side.round(operation, ROUND).await)
            } else {
                let unencrypted = plain_side.round(operation, ROUND).await;
                (sealed_side.round(operation, ROUND).await, unencrypted)
            };
            let ratio = encrypted / unencrypted;
            println!(
                "{} pair {}: encrypted {encrypted:.0}/s, unencrypted {unencrypted:.0}/s, ratio {ratio:.2}",
                operation.name(),
                pair + 1,
            );
            ratios.push(ratio);
        }
        let median = median(&mut ratios);
        println!(
            "{}: median ratio encrypted / unencrypted {median:.2} (goal at least {GOAL}: {})",
            operation.name(),
            if median >= GOAL { "met" } else { "not met" },
        );
    }
}

/// Part 2: re-wrapping every tenant key under a new master version, online.
async fn rotate_master_key(backend: Backend) {
    let tenants: usize = std::env::var("RAMPART_BENCH_TENANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let (v1, v2, v3) = (
        master_key_version(1),
        master_key_version(2),
        master_key_version(3),
    );
    let mut crm = Crm::start(backend, "rotation", &keyring(&[&v1]), |config| {
        Vault::new(config.master_key.clone())
    })
    .await;

    // One customer per tenant: its first create makes the tenant key (under
    // v1), and each makes the customer's data key under it.
    let started = Instant::now();
    let customers = Arc::new(
        run_clients(tenants, &crm.client().await, |mut client, n| async move {
            let principal = tenant_principal(&TenantId::generate());
            let created = create_customer(&mut client, &principal, n).await;
            (principal, created.id)
        })
        .await,
    );
    println!(
        "rotation setup: {tenants} tenants, one customer each (tenant key and data key made on first use) in {:.1} s, {:.0} creates/s",
        started.elapsed().as_secs_f64(),
        tenants as f64 / started.elapsed().as_secs_f64(),
    );

    // v2 joins the keyring; the restarted CRM has no key in memory, so
    // every tenant's first read below loads its tenant key from the table
    // the rotation is rewriting.
    crm.restart(keyring(&[&v1, &v2])).await;
    let client = crm.client().await;
    let rotating = Arc::new(AtomicBool::new(true));
    let reads = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::with_capacity(CLIENTS);
    for reader in 0..CLIENTS {
        let (mut client, customers) = (client.clone(), customers.clone());
        let (rotating, reads, failed) = (rotating.clone(), reads.clone(), failed.clone());
        readers.push(tokio::spawn(async move {
            let mut n = reader;
            while rotating.load(Ordering::Relaxed) {
                let (principal, id) = &customers[n % customers.len()];
                match get_customer(&mut client, principal, id).await {
                    Ok(customer) if customer.id == *id => reads.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                n += CLIENTS;
            }
        }));
    }
    let rotation = timed_rotation(&client).await;
    rotating.store(false, Ordering::Relaxed);
    for reader in readers {
        reader.await.expect("a reader did not panic");
    }
    let (reads, failed) = (
        reads.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    report_rotation("v1 to v2, under reads", &rotation);
    println!(
        "  reads during the rotation: {reads} served ({:.0}/s), {failed} failed",
        reads as f64 / rotation.elapsed.as_secs_f64(),
    );
    assert_eq!(
        (rotation.rewrapped, rotation.already_current),
        (tenants as u64, 0),
        "every tenant key re-wrapped once"
    );
    assert_eq!(failed, 0, "reads kept working during the rotation");
    let again = timed_rotation(&client).await;
    assert_eq!(
        (again.rewrapped, again.already_current),
        (0, tenants as u64)
    );
    println!("  a second rotation: rewrapped 0, already current {tenants}");

    crm.restart(keyring(&[&v1, &v2, &v3])).await;
    let rotation = timed_rotation(&crm.client().await).await;
    report_rotation("v2 to v3, quiet", &rotation);
    assert_eq!(rotation.rewrapped, tenants as u64);
    crm.stop().await;
}

struct TimedRotation {
    rewrapped: u64,
    already_current: u64,
    elapsed: Duration,
}

async fn timed_rotation(client: &CrmServiceClient<Channel>) -> TimedRotation {
    let started = Instant::now();
    let rotated = client
        .clone()
        .rotate_master_key(request_as(
            &admin_principal(),
            proto::RotateMasterKeyRequest {},
        ))
        .await
        .expect("the rotation succeeds")
        .into_inner();
    TimedRotation {
        rewrapped: rotated.rewrapped,
        already_current: rotated.already_current,
        elapsed: started.elapsed(),
    }
}

fn report_rotation(what: &str, rotation: &TimedRotation) {
    println!(
        "rotation {what}: rewrapped {}, already current {}, in {:.2} s: {:.0} tenant keys/s",
        rotation.rewrapped,
        rotation.already_current,
        rotation.elapsed.as_secs_f64(),
        rotation.rewrapped as f64 / rotation.elapsed.as_secs_f64(),
    );
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn from_env() -> Self {
        match std::env::var("RAMPART_BENCH_BACKEND").as_deref() {
            Ok("postgres") => Self::Postgres,
            _ => Self::Sqlite,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "embedded (SQLite)",
            Self::Postgres => "PostgreSQL",
        }
    }

    async fn database(self) -> TestDatabase {
        match self {
            Self::Sqlite => TestDatabase::sqlite(),
            Self::Postgres => TestDatabase::postgres()
                .await
                .expect("PostgreSQL at RAMPART_TEST_POSTGRES_URL"),
        }
    }
}

/// A fresh random master key as keyring text for `version`
/// (`v<version>:<base64>`).
fn master_key_version(version: u32) -> String {
    let generated = LocalMasterKeys::generate().expect("randomness");
    let key = generated.strip_prefix("v1:").expect("a v1 keyring");
    format!("v{version}:{key}")
}

/// The keyring holding `versions` (texts from [`master_key_version`]).
fn keyring(versions: &[&str]) -> Arc<dyn MasterKey> {
    Arc::new(LocalMasterKeys::parse(&versions.join(",")).expect("a valid keyring"))
}

/// A CRM serving on port 0 with a database of its own, the audit and
/// escalation services down (their outbox and gate are not what is
/// measured, and both sides keep the same events waiting).
struct Crm {
    /// First, so the service stops before its database goes.
    server: TestServer,
    config: rampart_crm::Config,
    _database: TestDatabase,
}

impl Crm {
    async fn start(
        backend: Backend,
        name: &'static str,
        master_key: &Arc<dyn MasterKey>,
        vault: impl FnOnce(&rampart_crm::Config) -> Vault,
    ) -> Self {
        let database = backend.database().await;
        let config = rampart_crm::Config {
            database_url: database.url.clone(),
            audit_url: format!("https://{}", closed_address().await),
            escalation_url: format!("https://{}", closed_address().await),
            master_key: master_key.clone(),
            integrations: rampart_crm::Integrations::default(),
        };
        let vault = vault(&config);
        let served = config.clone();
        let server = TestServer::start(
            ServiceName::Crm,
            move |listener, tls, shutdown| async move {
                let result = rampart_crm::serve_with_vault(
                    served,
                    listener,
                    tls,
                    shutdown,
                    IDLE_GATE_RETRY,
                    // No tenant here has retention periods: the job, were it
                    // to run, would find nothing.
                    rampart_crm::retention_job::RetentionSchedule::default(),
                    vault,
                    &rampart_kit::local::LocalServices::new(),
                )
                .await;
                if let Err(error) = &result {
                    eprintln!("the {name} crm failed: {error:#}");
                }
                result
            },
        )
        .await;
        let crm = Self {
            server,
            config,
            _database: database,
        };
        crm.wait_until_serving().await;
        crm
    }

    /// Stops the service and starts it again on the same database with
    /// `master_key` (and so an empty key cache).
    async fn restart(&mut self, master_key: Arc<dyn MasterKey>) {
        self.server.stop().await.expect("the crm stopped cleanly");
        self.config.master_key = master_key;
        let config = self.config.clone();
        self.server
            .restart(|listener, tls, shutdown| {
                rampart_crm::run_with(config, listener, tls, shutdown, IDLE_GATE_RETRY)
            })
            .await;
        self.wait_until_serving().await;
    }

    async fn stop(mut self) {
        self.server.stop().await.expect("the crm stopped cleanly");
    }

    /// A client holding the gateway's certificate, the only caller the CRM
    /// answers.
    async fn client(&self) -> CrmServiceClient<Channel> {
        CrmServiceClient::new(self.server.channel_as(ServiceName::Gateway).await)
    }

    /// Returns once the CRM answers, which it does only after migrating.
    async fn wait_until_serving(&self) {
        self.client()
            .await
            .list_tenants(request_as(
                &admin_principal(),
                proto::ListTenantsRequest::default(),
            ))
            .await
            .expect("the crm starts");
    }
}

/// One CRM with a tenant and the customers it reads.
struct Side {
    client: CrmServiceClient<Channel>,
    /// The tenant read from: exactly [`READ_SET`] customers on both sides,
    /// so that a lookup's work does not depend on how many customers the
    /// create rounds managed to make.
    principal: Arc<Principal>,
    /// The tenant the create rounds write to.
    writer: Arc<Principal>,
    /// Ids of the customers created first, the one with phone
    /// `seeded_phone(n)` at index `n`.
    seeded: Arc<Vec<String>>,
    /// Numbers new customers' phones, past the seeded ones.
    created: Arc<AtomicUsize>,
}

impl Side {
    async fn seed(crm: &Crm) -> Self {
        let client = crm.client().await;
        let principal = Arc::new(tenant_principal(&TenantId::generate()));
        let creator = principal.clone();
        let seeded = run_clients(READ_SET, &client, move |mut client, n| {
            let principal = creator.clone();
            async move { create_customer(&mut client, &principal, n).await.id }
        })
        .await;
        Self {
            client,
            principal,
            writer: Arc::new(tenant_principal(&TenantId::generate())),
            seeded: Arc::new(seeded),
            created: Arc::new(AtomicUsize::new(READ_SET)),
        }
    }

    /// `operation` by [`CLIENTS`] clients back to back for `length`; calls
    /// answered per second.
    async fn round(&self, operation: Operation, length: Duration) -> f64 {
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut clients = Vec::with_capacity(CLIENTS);
        for client in 0..CLIENTS {
            let mut crm = self.client.clone();
            let (principal, seeded) = (self.principal.clone(), self.seeded.clone());
            let writer = self.writer.clone();
            let (created, done) = (self.created.clone(), done.clone());
            clients.push(tokio::spawn(async move {
                // Each client walks the seeded customers from its own offset.
                let mut n = client * (READ_SET / CLIENTS);
                while started.elapsed() < length {
                    match operation {
                        Operation::Create => {
                            let n = created.fetch_add(1, Ordering::Relaxed);
                            create_customer(&mut crm, &writer, n).await;
                        }
                        Operation::Get => {
                            let id = &seeded[n % READ_SET];
                            let customer = get_customer(&mut crm, &principal, id)
                                .await
                                .expect("a seeded customer reads back");
                            assert_eq!(customer.phone, Some(seeded_phone(n % READ_SET)));
                        }
                        Operation::LookupByPhone => {
                            let phone = seeded_phone(n % READ_SET);
                            let found = lookup_by_phone(&mut crm, &principal, &phone).await;
                            assert_eq!(found, [seeded[n % READ_SET].clone()], "{phone}");
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            }));
        }
        for client in clients {
            client.await.expect("a client did not panic");
        }
        done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    }
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Create,
    Get,
    LookupByPhone,
}

impl Operation {
    const ALL: [Self; 3] = [Self::Create, Self::Get, Self::LookupByPhone];

    fn name(self) -> &'static str {
        match self {
            Self::Create => "create customer",
            Self::Get => "get customer",
            Self::LookupByPhone => "lookup by phone",
        }
    }
}

/// Calls `call(client, n)` for `n` in `0..count`, [`CLIENTS`] at a time,
/// each with a clone of `client` (one HTTP/2 connection, as the gateway
/// holds); answers in `n` order.
async fn run_clients<T, F, Fut>(count: usize, client: &CrmServiceClient<Channel>, call: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(CrmServiceClient<Channel>, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
{
    let mut tasks = Vec::with_capacity(CLIENTS);
    for first in 0..CLIENTS {
        let (client, call) = (client.clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for n in (first..count).step_by(CLIENTS) {
                answers.push((n, call(client.clone(), n).await));
            }
            answers
        }));
    }
    let mut answers = Vec::with_capacity(count);
    for task in tasks {
        answers.extend(task.await.expect("a client did not panic"));
    }
    answers.sort_by_key(|(n, _)| *n);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

/// The phone of the `n`th customer (seeded or created in a round), unique
/// in its tenant so that a lookup finds exactly one.
fn seeded_phone(n: usize) -> String {
    format!("+1555{n:07}")
}

async fn create_customer(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    n: usize,
) -> proto::Customer {
    let request = proto::CreateCustomerRequest {
        name: format!("Bench Customer {n}"),
        phone: Some(seeded_phone(n)),
        email: Some(format!("customer{n}@bench.example")),
        address: Some(format!("{n} Harbour Road, Portsmouth")),
    };
    let customer = crm
        .create_customer(request_as(principal, request))
        .await
        .expect("the customer is created")
        .into_inner();
    assert_eq!(customer.phone, Some(seeded_phone(n)));
    customer
}

async fn get_customer(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    id: &str,
) -> Result<proto::Customer, tonic::Status> {
    let request = proto::GetCustomerRequest {
        customer_id: id.to_owned(),
    };
    crm.get_customer(request_as(principal, request))
        .await
        .map(tonic::Response::into_inner)
}

/// The ids of the customers with exactly `phone`.
async fn lookup_by_phone(
    crm: &mut CrmServiceClient<Channel>,
    principal: &Principal,
    phone: &str,
) -> Vec<String> {
    let request = proto::ListCustomersRequest {
        phone: phone.to_owned(),
        ..Default::default()
    };
    crm.list_customers(request_as(principal, request))
        .await
        .expect("the lookup succeeds")
        .into_inner()
        .customers
        .into_iter()
        .map(|customer| customer.id)
        .collect()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
