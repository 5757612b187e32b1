//! Sign-in under load, measured through the real stack (embedded default,
//! in this process, over HTTPS):
//!
//! 1. sign-in throughput with Argon2id at OWASP's parameters (m = 19 MiB,
//!    t = 2, p = 1) and the bound on concurrent hashes;
//! 2. the p99 latency of authenticated CRM reads alone, then the same reads
//!    while a flood of sign-ins runs, in one run, and their ratio (goal:
//!    within 2x), under two read loads:
//!    - closed: [`rampart_e2e::reads::READERS`] clients each reading as fast as they are
//!      answered, which keeps both cores of the reference machine busy on
//!      reads alone, so the flood only gets what they leave;
//!    - open: reads started on a fixed schedule (`RAMPART_BENCH_READ_RATE`
//!      a second, default 1,000), each timed from when it was due, the way
//!      latency under load is measured for a service many independent
//!      clients call.
//!
//! 3. a floor under 2: the same reads, quiet and then while Argon2id alone
//!    runs on as many idle-class threads as the bound, with no sign-in work
//!    at all ([`BareHashes`]).
//!
//! `cargo bench -p rampart-e2e --bench auth_load` (release build; about a
//! minute). `RAMPART_BENCH_HASHES` sets the bound (default 2, one per core
//! of the reference machine). The hashing threads run SCHED_IDLE (see
//! `rampart_auth::passwords`), as in production.

use std::time::{Duration, Instant};

use rampart_e2e::harness::{Backend, TestStack};
use rampart_e2e::reads::{Readers, compare, compare_load, customer_path};
use reqwest::{Method, StatusCode};
use serde_json::json;

const PASSWORD: &str = "violet tractor measures quietly";
/// Below the per-address throttle's 50 free attempts: every client here has
/// one address, and attempts count until they succeed.
const SIGN_INS: usize = 40;
const FLOODERS: usize = 32;

#[tokio::main]
async fn main() {
    let hashes: usize = std::env::var("RAMPART_BENCH_HASHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let read_rate = rampart_e2e::reads::read_rate();
    let accounts = rampart_auth::AccountSettings {
        max_concurrent_hashes: hashes,
        ..rampart_auth::AccountSettings::default()
    };
    let gateway = rampart_gateway::Config {
        // Everything comes from one address and one key; this measures
        // hashing, not the edge's rate limits.
        per_address: rampart_kit::rate_limit::Quota::per_minute(1_000_000),
        per_credential: rampart_kit::rate_limit::Quota::per_minute(1_000_000),
        ..rampart_gateway::Config::default()
    };
    let stack = TestStack::start_with_accounts(Backend::Embedded, gateway, accounts)
        .await
        .expect("embedded stack");
    let tenant = stack.create_tenant("Bench Tenant").await;
    // One user per concurrent sign-in: attempts on one account are counted
    // before they are evaluated, so parallel sign-ins of a single account
    // would (rightly) be throttled.
    let emails: Vec<String> = (0..SIGN_INS)
        .map(|i| format!("user{i}@bench.example"))
        .collect();
    for email in &emails {
        let response = stack
            .as_admin(
                Method::POST,
                &format!("/v1/admin/tenants/{}/users", tenant.id),
            )
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let sign_in = |email: String| {
        let request = stack
            .request(Method::POST, "/v1/auth/sign-in")
            .json(&json!({ "tenant_id": tenant.id, "email": email, "password": PASSWORD }));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    };

    // 1. Sign-in throughput.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..SIGN_INS {
        tasks.push(tokio::spawn(sign_in(emails[i % emails.len()].clone())));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "sign-in: {SIGN_INS} successful sign-ins, all at once, in {:.2} s = {:.1}/s \
         (Argon2id m=19456 KiB t=2 p=1, at most {hashes} hashes at once)",
        elapsed.as_secs_f64(),
        SIGN_INS as f64 / elapsed.as_secs_f64()
    );

    // 2. CRM reads without, then with, a sign-in flood.
    let path = customer_path(&stack, &tenant).await;
    let readers = Readers::new(&stack, &tenant, &path);
    readers.closed().await; // warm up
    // Let the sign-ins' aftermath (sessions written, audit events relayed)
    // settle, so the quiet figure is quiet.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let quiet = readers.closed().await;
    let quiet_open = readers.open(read_rate).await;

    let stop = tokio_util::sync::CancellationToken::new();
    let mut flood = Vec::new();
    let signed_in = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for i in 0..FLOODERS {
        let stop = stop.clone();
        let signed_in = signed_in.clone();
        let request = stack
            .request(Method::POST, "/v1/auth/sign-in")
            .json(&json!({
                "tenant_id": tenant.id,
                "email": emails[i % emails.len()],
                "password": PASSWORD,
            }));
        flood.push(tokio::spawn(async move {
            while !stop.is_cancelled() {
                let response = request.try_clone().unwrap().send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                signed_in.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Sign-ins a second since `started`, counting from `before`.
    let during = |started: Instant, before: usize| {
        (signed_in.load(std::sync::atomic::Ordering::Relaxed) - before) as f64
            / started.elapsed().as_secs_f64()
    };
    let (started, before) = (
        Instant::now(),
        signed_in.load(std::sync::atomic::Ordering::Relaxed),
    );
    let loaded = readers.closed().await;
    let flood_rate = during(started, before);
    let (started, before) = (
        Instant::now(),
        signed_in.load(std::sync::atomic::Ordering::Relaxed),
    );
    let loaded_open = readers.open(read_rate).await;
    let flood_rate_open = during(started, before);
    stop.cancel();
    for task in flood {
        task.await.unwrap();
    }

    // 3. The floor: the same reads while Argon2id alone runs on `hashes`
    //    idle-class threads, with no sign-in work at all.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (floor_quiet, floor_quiet_open) = (readers.closed().await, readers.open(read_rate).await);
    let bare = BareHashes::start(hashes);
    let started = Instant::now();
    let floor_loaded = readers.closed().await;
    let floor_loaded_open = readers.open(read_rate).await;
    let bare_rate = bare.stop() as f64 / started.elapsed().as_secs_f64();

    println!(
        "{}",
        compare(
            &format!("under a flood of {FLOODERS} signing-in clients ({flood_rate:.1} sign-ins/s)"),
            &quiet,
            &loaded
        )
    );
    println!(
        "{}",
        compare_load(
            &format!("open load, {read_rate}/s"),
            &format!(
                "under a flood of {FLOODERS} signing-in clients ({flood_rate_open:.1} sign-ins/s)"
            ),
            &quiet_open,
            &loaded_open
        )
    );
    let floor =
        format!("under Argon2id alone on {hashes} idle-class threads ({bare_rate:.1} hashes/s)");
    println!("floor: {}", compare(&floor, &floor_quiet, &floor_loaded));
    println!(
        "floor: {}",
        compare_load(
            &format!("open load, {read_rate}/s"),
            &floor,
            &floor_quiet_open,
            &floor_loaded_open
        )
    );
    stack.stop().await;
}

/// Argon2id at the stack's parameters, looping on threads of its own in the
/// idle scheduling class, as the stack's hashing pool runs it, but with
/// nothing else: no request, no query, no audit event, no wake-up of an
/// async task. What the hashes' presence alone costs the reads is the floor
/// under what a sign-in flood can cost them. (It repeats a few lines of
/// `rampart_auth::passwords` on purpose: the floor holds nothing of
/// Rampart's own.)
struct BareHashes {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl BareHashes {
    fn start(threads: usize) -> Self {
        use argon2::{Algorithm, Argon2, Block, Params, Version};
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
                    set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
                        .expect("the idle scheduling class");
                    let params = Params::new(
                        rampart_auth::ARGON2_MEMORY_KIB,
                        rampart_auth::ARGON2_ITERATIONS,
                        rampart_auth::ARGON2_LANES,
                        None,
                    )
                    .unwrap();
                    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                    let mut memory = vec![Block::default(); argon2.params().block_count()];
                    let mut out = [0u8; 32];
                    let mut hashes = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        argon2
                            .hash_password_into_with_memory(
                                PASSWORD.as_bytes(),
                                b"a salt of 16 b..",
                                &mut out,
                                &mut memory,
                            )
                            .unwrap();
                        hashes += 1;
                    }
                    hashes
                })
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops the threads; the hashes they made.
    fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.threads.into_iter().map(|t| t.join().unwrap()).sum()
    }
}
