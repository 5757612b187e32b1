//! `cargo xtask bench-edge [seconds] [rounds]`: Rampart's gateway against
//! Envoy and nginx, side by side on this machine, in one run, as ratios.
//!
//! - Rampart: `rampart`'s `bench_stack` example, a release build of the
//!   whole stack in one process. Each measured request is
//!   `POST /v1/escalation/evaluate` with a tenant key that is hot in the
//!   gateway's cache: pipeline, rate limiters, key check, and one mTLS gRPC
//!   call to the escalation service, which does no I/O (it classifies the
//!   text in memory). When the stack also serves a gateway co-located with
//!   the services (`local_plain`, `local_tls` in its JSON line), that one is
//!   measured too.
//! - Envoy, the peer that does the same job ([`crate::envoy`]): the same
//!   10,000 keys checked by `api_key_auth`, the JSON transcoded to gRPC, and
//!   one mTLS call to the same escalation service with the principal as the
//!   gateway writes it.
//! - nginx (Debian package): the same request checked against a 10,000-key
//!   `map` (the same keys), then proxied over HTTP/1.1 with keep-alive to
//!   an upstream that does no I/O (an nginx `return 200` server). Access
//!   logs off.
//! - The same client (wrk, Debian package) with the same connections,
//!   threads and duration against each: plain HTTP, then TLS (the same
//!   ECDSA certificate on all); then an unknown but well-formed key, which
//!   all answer 401 without any database query (Rampart from its negative
//!   cache).
//!
//! - The floor (`rampart`'s `bench_floor` example): the same request served
//!   by a bare axum route making the same kind of mTLS gRPC call to a backend
//!   that answers a fixed decision, with nothing of Rampart's own; and the
//!   same route answering at once, with no hop. It splits the gap to nginx
//!   into the hop's cost (floor against nginx) and Rampart's own (Rampart
//!   against the floor).
//!
//! Every case runs once per round; each round prints its rates and ratios,
//! and the end the smallest of each goal's ratio over the rounds, met or
//! not. Installs nginx-light, wrk and curl with apt-get when they are
//! missing, and Envoy into a virtual environment in the target folder.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// A child process stopped when dropped: first asked (SIGTERM, so nginx's
/// master takes its workers down with it), then killed if still there.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let asked = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if asked {
            for _ in 0..50 {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                crate::pause(Duration::from_millis(100));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A printed ratio: its label, the case over the case under, a note.
type Ratio = (&'static str, &'static str, &'static str, &'static str);

/// A goal: its label, the case over the case under, the least ratio that
/// meets it in every round.
type Goal = (&'static str, &'static str, &'static str, f64);

// The cases, by the names they are printed under.
const RAMPART_PLAIN: &str = "rampart plain, valid key";
const ENVOY_PLAIN: &str = "envoy   plain, valid key";
const NGINX_PLAIN: &str = "nginx   plain, valid key";
const FLOOR_PLAIN: &str = "floor   plain, one mTLS hop";
const FLOOR_NO_HOP: &str = "floor   plain, no hop";
const LOCAL_PLAIN: &str = "rampart co-located plain, valid key";
const RAMPART_TLS: &str = "rampart TLS,   valid key";
const ENVOY_TLS: &str = "envoy   TLS,   valid key";
const NGINX_TLS: &str = "nginx   TLS,   valid key";
const FLOOR_TLS: &str = "floor   TLS,   one mTLS hop";
const LOCAL_TLS: &str = "rampart co-located TLS, valid key";
const RAMPART_UNKNOWN: &str = "rampart TLS,   unknown key";
const ENVOY_UNKNOWN: &str = "envoy   TLS,   unknown key";
const NGINX_UNKNOWN: &str = "nginx   TLS,   unknown key";
const LOCAL_UNKNOWN: &str = "rampart co-located TLS, unknown key";

/// The ratios the goals are set on (issue 25), each checked per round.
const GOALS: [Goal; 5] = [
    ("rampart / envoy, TLS", RAMPART_TLS, ENVOY_TLS, 1.5),
    (
        "rampart unknown / valid, TLS",
        RAMPART_UNKNOWN,
        RAMPART_TLS,
        2.0,
    ),
    ("co-located / nginx, plain", LOCAL_PLAIN, NGINX_PLAIN, 1.0),
    ("co-located / nginx, TLS", LOCAL_TLS, NGINX_TLS, 1.0),
    (
        "co-located unknown / valid, TLS",
        LOCAL_UNKNOWN,
        LOCAL_TLS,
        2.0,
    ),
];

/// The scopes of the first key of a tenant made by `POST /v1/admin/tenants`
/// (the bench tenant's), which Envoy must name as the gateway does.
const FIRST_KEY_SCOPES: &str = "read write audit";

const BODY: &str = r#"{"channel":"web","text":"what are your opening hours?"}"#;
const PATH: &str = "/v1/escalation/evaluate";
const CONNECTIONS: u32 = 64;
const THREADS: u32 = 2;

pub fn run(root: &Path, seconds: u64, rounds: u32) -> anyhow::Result<()> {
    anyhow::ensure!(rounds > 0, "bench-edge needs at least one round");
    ensure_tools()?;
    println!(
        "bench-edge: building the release stack and floor (cargo build --release --example bench_stack --example bench_floor)"
    );
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "rampart",
            "--example",
            "bench_stack",
            "--example",
            "bench_floor",
        ])
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), "building the bench stack failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let examples = target.join("release").join("examples");
    let envoy = crate::envoy::ensure(&target)?;

    let scratch = std::env::temp_dir().join(format!("rampart-bench-edge-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = run_in(root, &scratch, &examples, &envoy, seconds, rounds);
    std::fs::remove_dir_all(&scratch).ok();
    result
}

/// Starts one of the bench examples on `folder` and reads the JSON line it
/// prints once it is serving.
fn start_example(
    examples: &Path,
    name: &str,
    folder: &Path,
) -> anyhow::Result<(Killed, serde_json::Value)> {
    let mut child = Command::new(examples.join(name))
        .arg(folder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let process = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let info = serde_json::from_str(&line).with_context(|| format!("{name} said {line:?}"))?;
    Ok((process, info))
}

/// One measured case: where wrk sends the request, with which key.
struct Case {
    name: &'static str,
    url: String,
    script: PathBuf,
    /// A valid key (200 expected) or an unknown one (401).
    valid: bool,
}

fn run_in(
    root: &Path,
    scratch: &Path,
    examples: &Path,
    envoy_tools: &crate::envoy::Tools,
    seconds: u64,
    rounds: u32,
) -> anyhow::Result<()> {
    let (stack, info) = start_example(examples, "bench_stack", &scratch.join("data"))?;
    let (floor, floor_info) = start_example(examples, "bench_floor", &scratch.join("floor"))?;
    let field = |info: &serde_json::Value, name: &str| -> anyhow::Result<String> {
        info[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no {name} from a bench example"))
    };
    let (rampart_tls, rampart_plain) = (field(&info, "tls")?, field(&info, "plain")?);
    let (tenant_key, unknown_key) = (field(&info, "tenant_key")?, field(&info, "unknown_key")?);
    let key_id = field(&info, "api_key_id")?;
    let (floor_hop, floor_no_hop) = (field(&floor_info, "hop")?, field(&floor_info, "no_hop")?);
    let floor_hop_tls = field(&floor_info, "hop_tls")?;
    // Printed only by a stack that runs a co-located gateway too.
    let local = match (field(&info, "local_plain"), field(&info, "local_tls")) {
        (Ok(plain), Ok(tls)) => Some((plain, tls)),
        _ => None,
    };
    let (cert, key) = (field(&info, "cert")?, field(&info, "key")?);

    // The same 10,000 keys for nginx and Envoy: the real key in the middle,
    // each with the name of its client (for Envoy, the credential id the
    // gateway would forward).
    let mut keys = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        if i == 5_000 {
            keys.push((tenant_key.clone(), key_id.clone()));
        } else {
            keys.push((random_key()?, format!("key_{i}")));
        }
    }

    let nginx_plain = free_port()?;
    let nginx_tls = free_port()?;
    let upstream = free_port()?;
    let conf = nginx_conf(
        scratch,
        &keys,
        nginx_plain,
        nginx_tls,
        upstream,
        &cert,
        &key,
    )?;
    let nginx = Killed(
        Command::new("nginx")
            .args(["-p"])
            .arg(scratch)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start nginx")?,
    );

    let (envoy_plain, envoy_tls) = (free_port()?, free_port()?);
    let envoy = crate::envoy::start(
        envoy_tools,
        root,
        scratch,
        &crate::envoy::Upstream {
            escalation: &field(&info, "escalation")?,
            ca_cert: &field(&info, "ca_cert")?,
            client_cert: &field(&info, "client_cert")?,
            client_key: &field(&info, "client_key")?,
            tenant_id: &field(&info, "tenant_id")?,
            scopes: FIRST_KEY_SCOPES,
            edge_cert: &cert,
            edge_key: &key,
        },
        &keys,
        envoy_plain,
        envoy_tls,
    )?;
    crate::pause(Duration::from_millis(500));

    let valid = write_script(scratch, "valid.lua", &tenant_key)?;
    let unknown = write_script(scratch, "unknown.lua", &unknown_key)?;
    let case = |name, url: String, valid_key: bool| Case {
        name,
        url: format!("{url}{PATH}"),
        script: if valid_key {
            valid.clone()
        } else {
            unknown.clone()
        },
        valid: valid_key,
    };
    let mut cases = vec![
        case(RAMPART_PLAIN, format!("http://{rampart_plain}"), true),
        case(ENVOY_PLAIN, format!("http://127.0.0.1:{envoy_plain}"), true),
        case(NGINX_PLAIN, format!("http://127.0.0.1:{nginx_plain}"), true),
        case(FLOOR_PLAIN, format!("http://{floor_hop}"), true),
        case(FLOOR_NO_HOP, format!("http://{floor_no_hop}"), true),
        case(RAMPART_TLS, format!("https://{rampart_tls}"), true),
        case(ENVOY_TLS, format!("https://127.0.0.1:{envoy_tls}"), true),
        case(NGINX_TLS, format!("https://127.0.0.1:{nginx_tls}"), true),
        case(FLOOR_TLS, format!("https://{floor_hop_tls}"), true),
        case(RAMPART_UNKNOWN, format!("https://{rampart_tls}"), false),
        case(
            ENVOY_UNKNOWN,
            format!("https://127.0.0.1:{envoy_tls}"),
            false,
        ),
        case(
            NGINX_UNKNOWN,
            format!("https://127.0.0.1:{nginx_tls}"),
            false,
        ),
    ];
    if let Some((plain, tls)) = &local {
        cases.push(case(LOCAL_PLAIN, format!("http://{plain}"), true));
        cases.push(case(LOCAL_TLS, format!("https://{tls}"), true));
        cases.push(case(LOCAL_UNKNOWN, format!("https://{tls}"), false));
    } else {
        println!("bench-edge: the stack runs no co-located gateway; those cases are skipped");
    }

    // One answer from each, read in full: the decision for a valid key, 401
    // for an unknown one.
    for case in &cases {
        check_answer(
            case,
            if case.valid {
                &tenant_key
            } else {
                &unknown_key
            },
        )?;
    }
    // Warm all (TLS sessions, the key cache, connection pools).
    for case in &cases {
        wrk(&case.url, &case.script, 1)?;
    }
    println!(
        "bench-edge: wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, POST {PATH}, {} cores, {rounds} rounds; envoy {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        envoy_tools.version()?,
    );
    let sections: [(&str, &[Ratio]); 5] = [
        (
            "against Envoy (goal: rampart/envoy, TLS >= 1.5; unknown/valid >= 2.0):",
            &[
                ("rampart / envoy, TLS:", RAMPART_TLS, ENVOY_TLS, ""),
                ("rampart / envoy, plain:", RAMPART_PLAIN, ENVOY_PLAIN, ""),
                (
                    "rampart unknown / valid, TLS:",
                    RAMPART_UNKNOWN,
                    RAMPART_TLS,
                    "",
                ),
                (
                    "envoy   unknown / valid, TLS:",
                    ENVOY_UNKNOWN,
                    ENVOY_TLS,
                    "",
                ),
            ],
        ),
        (
            "co-located (goal: co-located/nginx >= 1.0; unknown/valid >= 2.0):",
            &[
                ("co-located / nginx, plain:", LOCAL_PLAIN, NGINX_PLAIN, ""),
                ("co-located / nginx, TLS:", LOCAL_TLS, NGINX_TLS, ""),
                (
                    "co-located unknown / valid, TLS:",
                    LOCAL_UNKNOWN,
                    LOCAL_TLS,
                    "",
                ),
            ],
        ),
        (
            "against nginx:",
            &[
                ("rampart / nginx, plain:", RAMPART_PLAIN, NGINX_PLAIN, ""),
                ("rampart / nginx, TLS:", RAMPART_TLS, NGINX_TLS, ""),
                (
                    "nginx   unknown / valid, TLS:",
                    NGINX_UNKNOWN,
                    NGINX_TLS,
                    "",
                ),
            ],
        ),
        (
            "where the plain gap lies:",
            &[
                (
                    "floor with hop / nginx:",
                    FLOOR_PLAIN,
                    NGINX_PLAIN,
                    "  (the most a gateway on this hop could reach)",
                ),
                (
                    "rampart / floor with hop:",
                    RAMPART_PLAIN,
                    FLOOR_PLAIN,
                    "  (Rampart's own cost)",
                ),
                (
                    "floor with hop / no hop:",
                    FLOOR_PLAIN,
                    FLOOR_NO_HOP,
                    "  (the hop's cost)",
                ),
            ],
        ),
        (
            "and the TLS gap:",
            &[
                ("floor with hop / nginx, TLS:", FLOOR_TLS, NGINX_TLS, ""),
                ("rampart / floor with hop, TLS:", RAMPART_TLS, FLOOR_TLS, ""),
            ],
        ),
    ];
    // Each goal's ratio in every round, for those this run measures.
    let mut goal_ratios: Vec<Vec<f64>> = vec![Vec::new(); GOALS.len()];
    for round in 1..=rounds {
        println!("round {round} of {rounds}:");
        let mut rates = Vec::new();
        for case in &cases {
            let outcome = wrk(&case.url, &case.script, seconds)?;
            let non_success = outcome.non_success;
            if case.valid && non_success > 0 {
                bail!("{}: {non_success} answers were not 2xx", case.name);
            }
            if !case.valid && non_success < outcome.requests {
                bail!("{}: an unknown key was accepted", case.name);
            }
            println!("  {:<36} {:>10.0} req/s", case.name, outcome.rate);
            rates.push((case.name, outcome.rate));
        }
        let ratio = |over: &str, under: &str| {
            let rate = |name: &str| {
                rates
                    .iter()
                    .find(|(case, _)| *case == name)
                    .map(|(_, rate)| *rate)
            };
            Some(rate(over)? / rate(under)?)
        };
        for (heading, ratios) in &sections {
            // A section of cases this run does not have (co-located) is left
            // out whole.
            let lines: Vec<_> = ratios
                .iter()
                .filter_map(|(label, over, under, note)| Some((label, ratio(over, under)?, note)))
                .collect();
            if lines.is_empty() {
                continue;
            }
            println!("{heading}");
            for (label, value, note) in lines {
                println!("  {label:<34}{value:.2}{note}");
            }
        }
        for ((_, over, under, _), seen) in GOALS.iter().zip(&mut goal_ratios) {
            if let Some(value) = ratio(over, under) {
                seen.push(value);
            }
        }
    }
    println!("goals, the smallest ratio over {rounds} rounds:");
    for ((label, _, _, least), seen) in GOALS.iter().zip(&goal_ratios) {
        let Some(smallest) = seen.iter().copied().reduce(f64::min) else {
            println!("  {label:<34}not measured (no such case in this run)");
            continue;
        };
        let verdict = if smallest >= *least { "met" } else { "not met" };
        println!("  {label:<34}{smallest:.2}  (goal >= {least:.1}: {verdict})");
    }
    drop(envoy);
    drop(nginx);
    drop(floor);
    drop(stack);
    Ok(())
}

/// Sends the case's request once with curl and checks the answer in full:
/// for a valid key, 200 and a decision to let the AI answer with no intents
/// (Rampart, nginx and the floor name it `ai_answer`; Envoy transcodes the
/// proto's enums by their proto names, `ACTION_AI_ANSWER`); for an unknown
/// key, 401.
fn check_answer(case: &Case, key: &str) -> anyhow::Result<()> {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--insecure", "--max-time", "10"])
        .args(["--write-out", "\n%{http_code}"])
        .args(["--header", "Content-Type: application/json"])
        .args(["--header", &format!("X-API-Key: {key}")])
        .args(["--data", BODY])
        .arg(&case.url)
        .output()
        .context("cannot run curl")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "{}: curl failed: {}",
        case.name,
        String::from_utf8_lossy(&output.stderr)
    );
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    if !case.valid {
        anyhow::ensure!(
            status == "401",
            "{}: an unknown key got {status}: {body}",
            case.name
        );
        return Ok(());
    }
    anyhow::ensure!(status == "200", "{}: got {status}: {body}", case.name);
    let decision: serde_json::Value =
        serde_json::from_str(body).with_context(|| format!("{}: not JSON: {body}", case.name))?;
    let allowed = matches!(
        decision["action"].as_str(),
        Some("ai_answer" | "ACTION_AI_ANSWER")
    ) && matches!(
        decision["severity"].as_str(),
        Some("none" | "SEVERITY_NONE")
    ) && decision["intents"].as_array().is_some_and(Vec::is_empty);
    anyhow::ensure!(allowed, "{}: unexpected decision {body}", case.name);
    Ok(())
}

fn ensure_tools() -> anyhow::Result<()> {
    let missing: Vec<&str> = [("nginx", "nginx-light"), ("wrk", "wrk"), ("curl", "curl")]
        .into_iter()
        .filter(|(tool, _)| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .map_or(true, |s| !s.success())
        })
        .map(|(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("bench-edge: installing {}", missing.join(" "));
    let sudo = if Command::new("id")
        .arg("-u")
        .output()?
        .stdout
        .starts_with(b"0")
    {
        vec![]
    } else {
        vec!["sudo"]
    };
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let mut command: Vec<&str> = sudo.clone();
        command.extend(args);
        let status = Command::new(command[0])
            .args(&command[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()?;
        anyhow::ensure!(status.success(), "{} failed", command.join(" "));
        Ok(())
    };
    run(&["apt-get", "update", "-qq"])?;
    let mut install = vec!["apt-get", "install", "-y", "-qq"];
    install.extend(&missing);
    run(&install)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A key shaped like Rampart's (prefix and 49 base62 characters), random.
fn random_key() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 49];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("cannot read /dev/urandom")?;
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(format!("rk_live_{tail}"))
}

fn nginx_conf(
    scratch: &Path,
    keys: &[(String, String)],
    plain: u16,
    tls: u16,
    upstream: u16,
    cert: &str,
    key: &str,
) -> anyhow::Result<PathBuf> {
    let mut map = String::new();
    for (api_key, client) in keys {
        map.push_str(&format!("        \"{api_key}\" {client};\n"));
    }
    let dir = scratch.display();
    let conf = format!(
        r#"daemon off;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log crit;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    map_hash_max_size 32768;
    map_hash_bucket_size 128;
    map $http_x_api_key $tenant {{
        default "";
{map}    }}
    upstream backend {{
        server 127.0.0.1:{upstream};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{plain};
        listen 127.0.0.1:{tls} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            if ($tenant = "") {{ return 401; }}
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Tenant-Id $tenant;
            proxy_pass http://backend;
        }}
    }}
    server {{
        listen 127.0.0.1:{upstream};
        location / {{
            default_type application/json;
            return 200 '{{"action":"ai_answer","intents":[],"severity":"none","reasons":[]}}';
        }}
    }}
}}
"#
    );
    let path = scratch.join("nginx.conf");
    std::fs::write(&path, conf)?;
    Ok(path)
}

fn write_script(scratch: &Path, name: &str, key: &str) -> anyhow::Result<PathBuf> {
    let path = scratch.join(name);
    let mut file = std::fs::File::create(&path)?;
    writeln!(file, "wrk.method = \"POST\"")?;
    writeln!(file, "wrk.body = '{BODY}'")?;
    writeln!(file, "wrk.headers[\"Content-Type\"] = \"application/json\"")?;
    writeln!(file, "wrk.headers[\"X-API-Key\"] = \"{key}\"")?;
    Ok(path)
}

struct WrkOutcome {
    rate: f64,
    requests: u64,
    non_success: u64,
}

fn wrk(url: &str, script: &Path, seconds: u64) -> anyhow::Result<WrkOutcome> {
    let output = Command::new("wrk")
        .args([
            format!("-t{THREADS}"),
            format!("-c{CONNECTIONS}"),
            format!("-d{seconds}s"),
        ])
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "wrk failed: {text}");
    let number_after = |label: &str| -> Option<f64> {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    let rate = number_after("Requests/sec:").with_context(|| format!("no rate in: {text}"))?;
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no request count in: {text}"))?;
    let non_success = number_after("Non-2xx or 3xx responses:").map_or(0, |n| n as u64);
    Ok(WrkOutcome {
        rate,
        requests,
        non_success,
    })
}
