//! `cargo xtask faults [--actions N]`: the fault run (issue 22, part 7).
//!
//! Starts its own PostgreSQL (`initdb` into a scratch folder, on a free
//! port) and its own `redis-server`, then `rampart serve` as two processes:
//! audit alone (so it can be killed) and everything else. It sends N
//! audited actions (customers created; 10,000 by default) through the edge
//! while, in turn:
//!
//! 1. audit is killed (SIGKILL) and restarted;
//! 2. audit is killed again and restarted with the failpoint
//!    `audit_after_commit_exit` (see `rampart_audit::failpoints`), so that
//!    it exits right after committing a batch and before answering the
//!    relay: the relay must send that batch again, and audit store it once;
//!    then it is restarted normally (three deaths in all);
//! 3. a key is revoked, Redis is paused (SIGSTOP) and the revoked key tried
//!    while it is, then Redis resumes (SIGCONT);
//! 4. PostgreSQL (the postmaster and every backend) is paused and resumed.
//!
//! Workers wait at each fault's starting point until the fault has begun,
//! so actions are in flight during every fault whatever the machine's
//! speed. After each fault the time to recover is measured: from the
//! restart or resume until a probe tenant's new action is in its audit log.
//! At the end every tenant's log is exported and checked: each created
//! customer has exactly one `customer.created` event, no event id appears
//! twice, and no action that was refused has an event (an action whose
//! answer was lost, a timeout, may have committed: it is counted apart and
//! allowed at most one event). Prints a table; fails on any loss,
//! duplicate, or revoked key accepted.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::pause;

/// Requests in flight at once.
const WORKERS: usize = 8;
/// How long a fault lasts (audit down, Redis or PostgreSQL paused).
const OUTAGE: Duration = Duration::from_secs(3);

/// Options from the command line.
pub struct Options {
    pub actions: usize,
}

impl Options {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut actions = 10_000;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--actions" => {
                    actions = args
                        .next()
                        .context("--actions takes a number")?
                        .parse()
                        .context("--actions takes a number")?;
                    ensure!(actions >= 100, "--actions must be at least 100");
                }
                other => bail!("unknown option {other:?}; usage: cargo xtask faults [--actions N]"),
            }
        }
        Ok(Self { actions })
    }
}

/// A child process, stopped when dropped.
struct Proc {
    child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for it to be gone.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = signal("TERM", &[self.child.id()]);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                pause(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn signal(name: &str, pids: &[u32]) -> anyhow::Result<()> {
    if pids.is_empty() {
        return Ok(());
    }
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .status()?;
    ensure!(status.success(), "kill -{name} {pids:?} failed");
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    File::open("/dev/urandom")?.read_exact(&mut buffer)?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

fn output(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let out = command
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    ensure!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// A PostgreSQL cluster of the run's own.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// `runuser -u postgres --` when running as root (initdb refuses root).
    as_user: Vec<String>,
}

impl Postgres {
    fn start(scratch: &Path) -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL's binaries are not under /usr/lib/postgresql")?
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .context("no initdb under /usr/lib/postgresql/*/bin")?;
        let data = scratch.join("pg");
        std::fs::create_dir_all(&data)?;
        let root = output(Command::new("id").arg("-u"), "id -u")? == "0";
        let as_user = if root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data)
                .status()?;
            ensure!(
                status.success(),
                "cannot hand the PostgreSQL folder to postgres"
            );
            vec![
                "runuser".into(),
                "-u".into(),
                "postgres".into(),
                "--".into(),
            ]
        } else {
            Vec::new()
        };
        let port = free_port()?;
        let this = Self {
            bin,
            data,
            port,
            as_user,
        };
        this.run(
            "initdb",
            &["-U", "postgres", "-A", "trust", "--no-sync", "-D"],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            this.data.display()
        );
        this.run(
            "pg_ctl",
            &["-w", "-l", "postgres.log", "-o", &options, "start", "-D"],
        )?;
        Ok(this)
    }

    /// Runs `tool` with `args`, then the data folder.
    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let mut command = if self.as_user.is_empty() {
            Command::new(self.bin.join(tool))
        } else {
            let mut command = Command::new(&self.as_user[0]);
            command.args(&self.as_user[1..]).arg(self.bin.join(tool));
            command
        };
        command
            .args(args)
            .arg(&self.data)
            .current_dir(&self.data)
            .stdout(Stdio::null());
        output(&mut command, tool).map(drop)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster and every process it started.
    fn pids(&self) -> anyhow::Result<Vec<u32>> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid"))?;
        let postmaster: u32 = text
            .lines()
            .next()
            .context("empty postmaster.pid")?
            .parse()?;
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: the command may hold spaces.
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<u32>().ok());
            if parent == Some(postmaster) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(pids) = self.pids() {
            let _ = signal("CONT", &pids);
        }
        let _ = self.run("pg_ctl", &["-m", "immediate", "stop", "-D"]);
    }
}

/// What every `rampart serve` process is started with.
struct Services {
    binary: PathBuf,
    scratch: PathBuf,
    env: Vec<(String, String)>,
}

impl Services {
    fn spawn(&self, name: &str, services: &[&str], extra: &[(&str, &str)]) -> anyhow::Result<Proc> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.scratch.join(format!("{name}.log")))?;
        let child = Command::new(&self.binary)
            .arg("serve")
            .args(services)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start rampart serve {services:?}"))?;
        Ok(Proc { child })
    }
}

/// The edge, through curl.
#[derive(Clone)]
struct Edge {
    base: String,
    ca: PathBuf,
    admin_key: String,
}

/// An answer: the HTTP status (0 when none came) and the body.
type Answer = (u16, String);

impl Edge {
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
        timeout: u64,
    ) -> Answer {
        let mut command = Command::new("curl");
        command
            .args([
                "-sS",
                "--max-time",
                &timeout.to_string(),
                "-X",
                method,
                "--cacert",
            ])
            .arg(&self.ca)
            .args(["-w", "\n%{http_code}"]);
        for (name, value) in headers {
            command.arg("-H").arg(format!("{name}: {value}"));
        }
        if let Some(body) = body {
            command
                .args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(body.to_string());
        }
        command.arg(format!("{}{path}", self.base));
        let Ok(out) = command.stderr(Stdio::null()).output() else {
            return (0, String::new());
        };
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        match text.rsplit_once('\n') {
            Some((body, code)) => (code.trim().parse().unwrap_or(0), body.to_owned()),
            None => (text.trim().parse().unwrap_or(0), String::new()),
        }
    }

    fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.call(
            method,
            path,
            &[("X-Admin-API-Key", &self.admin_key)],
            body,
            10,
        )
    }

    fn tenant(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: u64,
    ) -> Answer {
        self.call(method, path, &[("X-API-Key", key)], body, timeout)
    }

    fn ready(&self) -> bool {
        self.call("GET", "/readyz", &[], None, 2).0 == 200
    }
}

fn json_of(answer: &Answer, what: &str) -> anyhow::Result<Value> {
    ensure!(
        (200..300).contains(&answer.0),
        "{what}: HTTP {} {}",
        answer.0,
        answer.1
    );
    serde_json::from_str(&answer.1).with_context(|| format!("{what}: not JSON: {}", answer.1))
}

fn wait_for(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> bool,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    while !check() {
        ensure!(
            start.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        pause(Duration::from_millis(100));
    }
    Ok(start.elapsed())
}

/// How each action ended.
#[derive(Default)]
struct Outcomes {
    /// Created: the customer ids.
    created: Vec<String>,
    /// Refused with an answer that says nothing was done.
    refused: HashMap<u16, usize>,
    /// No answer, or a gateway timeout: it may have committed.
    unknown: usize,
}

struct Tenant {
    id: String,
    key: String,
}

fn create_tenant(edge: &Edge, name: &str) -> anyhow::Result<Tenant> {
    let body = json!({ "name": name, "office_domains": ["example.com"] });
    let created = json_of(
        &edge.admin("POST", "/v1/admin/tenants", Some(&body)),
        "creating a tenant",
    )?;
    Ok(Tenant {
        id: created["tenant_id"]
            .as_str()
            .context("tenant_id")?
            .to_owned(),
        key: created["api_key"].as_str().context("api_key")?.to_owned(),
    })
}

fn log_size(edge: &Edge, tenant: &Tenant) -> Option<u64> {
    let answer = edge.tenant(
        &tenant.key,
        "GET",
        "/v1/owner/audit/checkpoint?fresh=true",
        None,
        5,
    );
    json_of(&answer, "checkpoint").ok()?["size"].as_u64()
}

/// From the end of a fault until a new action of the probe tenant is in
/// its audit log.
fn recover(edge: &Edge, probe: &Tenant, ended: Instant) -> anyhow::Result<Duration> {
    let before = loop {
        if let Some(size) = log_size(edge, probe) {
            break size;
        }
        ensure!(
            ended.elapsed() < Duration::from_secs(120),
            "the probe's log stayed unreadable"
        );
        pause(Duration::from_millis(100));
    };
    let body = json!({ "name": "Probe" });
    wait_for("a probe action succeeds", Duration::from_secs(120), || {
        edge.tenant(&probe.key, "POST", "/v1/crm/customers", Some(&body), 5)
            .0
            == 201
    })?;
    wait_for(
        "the probe's event is in the log",
        Duration::from_secs(120),
        || log_size(edge, probe).is_some_and(|size| size > before),
    )?;
    Ok(ended.elapsed())
}

/// Every event of `tenant`'s log, from its export.
fn export(edge: &Edge, tenant: &Tenant) -> anyhow::Result<Vec<Value>> {
    let (status, body) = edge.tenant(&tenant.key, "GET", "/v1/owner/audit/export", None, 120);
    ensure!(status == 200, "export: HTTP {status} {body}");
    body.lines()
        .skip(1)
        .map(|line| Ok(serde_json::from_str::<Value>(line)?["event"].clone()))
        .collect()
}

pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "rampart"])
        .current_dir(root)
        .status()?;
    ensure!(status.success(), "building rampart failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = target.join("debug").join("rampart");

    let scratch = std::env::temp_dir().join(format!("rampart-faults-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = run_in(&binary, &scratch, options);
    match &result {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&scratch);
        }
        Err(_) => eprintln!("logs kept in {}", scratch.display()),
    }
    result
}

#[allow(
    clippy::too_many_lines,
    reason = "one run, step by step, reads best in one place"
)]
fn run_in(binary: &Path, scratch: &Path, options: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let postgres = Postgres::start(scratch)?;
    let redis_port = free_port()?;
    let redis = Proc {
        child: Command::new("redis-server")
            .args([
                "--port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start redis-server")?,
    };

    let pki = scratch.join("pki");
    output(
        Command::new(binary)
            .args(["pki", "init", "--dir"])
            .arg(&pki),
        "rampart pki init",
    )?;
    let admin_key = output(
        Command::new(binary).args(["admin", "generate-key"]),
        "rampart admin generate-key",
    )?;
    let signing_key = output(
        Command::new("openssl").args(["genpkey", "-algorithm", "ed25519"]),
        "openssl genpkey",
    )?;
    let master_key = output(
        Command::new("openssl").args(["rand", "-base64", "32"]),
        "openssl rand",
    )?;
    let config = scratch.join("rampart.toml");
    std::fs::write(
        &config,
        "[rate_limits]\nper_address_per_minute = 10000000\nper_credential_per_minute = 10000000\n",
    )?;
    let edge_port = free_port()?;
    let mut env: Vec<(String, String)> = vec![
        ("RAMPART_ENV".into(), "development".into()),
        ("RAMPART_CONFIG".into(), config.display().to_string()),
        ("RAMPART_PKI_DIR".into(), pki.display().to_string()),
        ("DATABASE_URL".into(), postgres.url()),
        (
            "REDIS_URL".into(),
            format!("redis://127.0.0.1:{redis_port}"),
        ),
        ("RAMPART_KEY_HASH_SECRET".into(), random_hex(32)?),
        ("RAMPART_TOTP_ENCRYPTION_KEY".into(), random_hex(32)?),
        ("RAMPART_ADMIN_API_KEY".into(), admin_key.clone()),
        ("RAMPART_AUDIT_SIGNING_KEY".into(), signing_key),
        ("RAMPART_MASTER_KEY".into(), format!("v1:{master_key}")),
        ("RAMPART_AUDIT_CHECKPOINT_INTERVAL".into(), "1".into()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    for service in ["gateway", "auth", "crm", "escalation", "audit"] {
        let port = if service == "gateway" {
            edge_port
        } else {
            free_port()?
        };
        let upper = service.to_ascii_uppercase();
        env.push((
            format!("RAMPART_{upper}_LISTEN"),
            format!("127.0.0.1:{port}"),
        ));
        env.push((
            format!("RAMPART_{upper}_URL"),
            format!("https://127.0.0.1:{port}"),
        ));
    }
    output(
        Command::new(binary)
            .arg("migrate")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        "rampart migrate",
    )?;
    let services = Services {
        binary: binary.to_path_buf(),
        scratch: scratch.to_path_buf(),
        env,
    };
    let mut audit = services.spawn("audit", &["audit"], &[])?;
    // Only the gateway's process gets an admin listener: every `serve`
    // process now opens one when it is configured, and two would contend
    // for the port (audit is restarted three times besides).
    let admin_listen = format!("127.0.0.1:{}", free_port()?);
    let _rest = services.spawn(
        "services",
        &["gateway", "auth", "crm", "escalation"],
        &[("RAMPART_ADMIN_LISTEN", admin_listen.as_str())],
    )?;
    let edge = Edge {
        base: format!("https://127.0.0.1:{edge_port}"),
        ca: pki.join("edge-ca.pem"),
        admin_key,
    };
    wait_for("the edge is ready", Duration::from_secs(90), || {
        edge.ready()
    })?;
    let setup = started.elapsed();

    let tenants = [
        create_tenant(&edge, "Faults One")?,
        create_tenant(&edge, "Faults Two")?,
    ];
    let probe = create_tenant(&edge, "Faults Probe")?;

    // The workers: actions 0..N, alternating tenants, each waiting at a
    // fault's starting point until the fault has begun.
    let n = options.actions;
    let next = Arc::new(AtomicUsize::new(0));
    let allowed = Arc::new(AtomicUsize::new(n / 5));
    let outcomes: Arc<Vec<Mutex<Outcomes>>> = Arc::new(vec![
        Mutex::new(Outcomes::default()),
        Mutex::new(Outcomes::default()),
    ]);
    let keys: Vec<String> = tenants.iter().map(|t| t.key.clone()).collect();
    let actions_started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (edge, next, allowed, outcomes, keys) = (
            edge.clone(),
            next.clone(),
            allowed.clone(),
            outcomes.clone(),
            keys.clone(),
        );
        workers.push(std::thread::spawn(move || {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                while i >= allowed.load(Ordering::SeqCst) {
                    pause(Duration::from_millis(20));
                }
                let t = i % 2;
                let body = json!({ "name": format!("Customer {i}") });
                let (status, answer) =
                    edge.tenant(&keys[t], "POST", "/v1/crm/customers", Some(&body), 60);
                let mut outcome = outcomes[t].lock().expect("no worker panics holding it");
                match status {
                    201 => {
                        let id = serde_json::from_str::<Value>(&answer)
                            .ok()
                            .and_then(|v| v["id"].as_str().map(str::to_owned));
                        match id {
                            Some(id) => outcome.created.push(id),
                            None => outcome.unknown += 1,
                        }
                    }
                    0 | 504 => outcome.unknown += 1,
                    other => *outcome.refused.entry(other).or_default() += 1,
                }
            }
        }));
    }
    // Waits until the workers are close to `until`, where they stop until
    // the fault has begun and `release` lets them on to the next one.
    let near = |until: usize| {
        let from = until.saturating_sub(n / 20);
        while next.load(Ordering::SeqCst) < from {
            pause(Duration::from_millis(20));
        }
    };
    let release = |until: usize| allowed.store(until.min(n), Ordering::SeqCst);

    let mut recoveries: Vec<(&str, Duration)> = Vec::new();
    // 1. Audit killed.
    near(n / 5);
    audit.kill();
    release(2 * n / 5);
    pause(OUTAGE);
    audit = services.spawn("audit", &["audit"], &[])?;
    recoveries.push(("audit SIGKILL #1", recover(&edge, &probe, Instant::now())?));

    // 2. Killed again, back with the failpoint: exits after a commit,
    //    before answering; then back for good.
    near(2 * n / 5);
    audit.kill();
    release(3 * n / 5);
    pause(OUTAGE);
    let mut failing = services.spawn(
        "audit",
        &["audit"],
        &[("RAMPART_FAILPOINTS", "audit_after_commit_exit")],
    )?;
    let body = json!({ "name": "Probe" });
    let _ = edge.tenant(&probe.key, "POST", "/v1/crm/customers", Some(&body), 5);
    let exited = wait_for(
        "audit exits at its failpoint",
        Duration::from_secs(60),
        || matches!(failing.child.try_wait(), Ok(Some(_))),
    );
    let code = failing
        .child
        .try_wait()
        .ok()
        .flatten()
        .and_then(|s| s.code());
    exited?;
    ensure!(
        code == Some(86),
        "audit ended with {code:?}, not at its failpoint (86)"
    );
    drop(failing);
    audit = services.spawn("audit", &["audit"], &[])?;
    recoveries.push(("audit SIGKILL #2", Duration::ZERO));
    recoveries.push((
        "audit exit after commit",
        recover(&edge, &probe, Instant::now())?,
    ));

    // 3. A key revoked, then Redis paused: the key must stay refused.
    near(3 * n / 5);
    let issued = json_of(
        &edge.admin(
            "POST",
            &format!("/v1/admin/tenants/{}/api-keys", tenants[0].id),
            Some(&json!({ "name": "revoked during the run" })),
        ),
        "issuing a key",
    )?;
    let revoked_key = issued["api_key"].as_str().context("api_key")?.to_owned();
    let revoked_id = issued["key_id"].as_str().context("key_id")?.to_owned();
    ensure!(
        edge.tenant(&revoked_key, "GET", "/v1/crm/customers", None, 10)
            .0
            == 200,
        "the new key was not accepted"
    );
    json_of(
        &edge.admin(
            "DELETE",
            &format!("/v1/admin/tenants/{}/api-keys/{revoked_id}", tenants[0].id),
            None,
        ),
        "revoking the key",
    )?;
    signal("STOP", &[redis.pid()])?;
    release(4 * n / 5);
    let paused = Instant::now();
    let mut tries = 0;
    let mut accepted = 0;
    while paused.elapsed() < OUTAGE {
        let (status, _) = edge.tenant(&revoked_key, "GET", "/v1/crm/customers", None, 5);
        tries += 1;
        if (200..300).contains(&status) {
            accepted += 1;
        }
        pause(Duration::from_millis(200));
    }
    signal("CONT", &[redis.pid()])?;
    recoveries.push(("Redis paused", recover(&edge, &probe, Instant::now())?));

    // 4. PostgreSQL paused.
    near(4 * n / 5);
    let pids = postgres.pids()?;
    signal("STOP", &pids)?;
    release(n);
    pause(OUTAGE);
    signal("CONT", &pids)?;
    recoveries.push(("PostgreSQL paused", recover(&edge, &probe, Instant::now())?));

    for worker in workers {
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
    }
    let actions_took = actions_started.elapsed();

    // Every log settles: its size stops moving.
    let mut losses = 0usize;
    let mut duplicates = 0usize;
    let mut rows = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        let outcome = outcomes[t].lock().expect("workers are done");
        let mut last = None;
        let mut stable = 0;
        wait_for("the audit log settles", Duration::from_secs(120), || {
            let size = log_size(&edge, tenant);
            if size.is_some() && size == last {
                stable += 1;
            } else {
                stable = 0;
                last = size;
            }
            stable >= 30
        })?;
        let events = export(&edge, tenant)?;
        let mut ids = HashSet::new();
        let mut per_target: HashMap<String, usize> = HashMap::new();
        for event in &events {
            if !ids.insert(event["event_id"].as_str().unwrap_or_default().to_owned()) {
                duplicates += 1;
            }
            if event["action"] == "customer.created" {
                let target = event["target"].as_str().unwrap_or_default();
                *per_target
                    .entry(target.trim_start_matches("customer:").to_owned())
                    .or_default() += 1;
            }
        }
        let created: HashSet<&String> = outcome.created.iter().collect();
        let lost = created
            .iter()
            .filter(|id| !per_target.contains_key(id.as_str()))
            .count();
        let twice: usize = per_target.values().map(|n| n.saturating_sub(1)).sum();
        let extra = per_target.keys().filter(|id| !created.contains(id)).count();
        let refused: usize = outcome.refused.values().sum();
        // An event with no created customer behind it belongs to an action
        // whose answer was lost; more of them than such actions means a
        // refused action left an event.
        let unexplained = extra.saturating_sub(outcome.unknown);
        losses += lost;
        duplicates += twice + unexplained;
        rows.push(format!(
            "| {} | {} | {} | {:?} | {} | {} | {} | {} |",
            tenant.id,
            outcome.created.len(),
            refused,
            outcome.refused,
            outcome.unknown,
            per_target.len(),
            lost,
            twice + unexplained,
        ));
    }

    println!();
    println!("fault run: {n} actions through the edge in {actions_took:.1?} (setup {setup:.1?})");
    println!();
    println!(
        "| tenant | created | refused | refused by status | no answer | events | lost | duplicated |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!("{row}");
    }
    println!();
    println!("| fault | time to recover |");
    println!("|---|---|");
    for (fault, took) in &recoveries {
        if took.is_zero() {
            println!("| {fault} | (restarted with the failpoint: next row) |");
        } else {
            println!("| {fault} | {took:.1?} |");
        }
    }
    println!();
    println!("revoked key while Redis was paused: {accepted} of {tries} tries accepted");
    drop(audit);
    drop(redis);
    drop(postgres);
    ensure!(losses == 0, "{losses} events lost");
    ensure!(
        duplicates == 0,
        "{duplicates} events duplicated or left by refused actions"
    );
    ensure!(
        accepted == 0,
        "a revoked key was accepted {accepted} times while Redis was paused"
    );
    println!("faults: 0 lost, 0 duplicated, 0 revoked-key acceptances");
    Ok(())
}
