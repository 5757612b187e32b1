//! `cargo xtask bench-edge [seconds]`: Rampart's gateway against nginx, side
//! by side on this machine, in one run, as ratios.
//!
//! - Rampart: `rampart`'s `bench_stack` example, a release build of the
//!   whole stack in one process. Each measured request is
//!   `POST /v1/escalation/evaluate` with a tenant key that is hot in the
//!   gateway's cache: pipeline, rate limiters, key check, and one mTLS gRPC
//!   call to the escalation service, which does no I/O (it classifies the
//!   text in memory).
//! - nginx (Debian package): the same request checked against a 10,000-key
//!   `map` (the same tenant key among 9,999 others), then proxied over
//!   HTTP/1.1 with keep-alive to an upstream that does no I/O (an nginx
//!   `return 200` server). Access logs off.
//! - The same client (wrk, Debian package) with the same connections,
//!   threads and duration against each: plain HTTP, then TLS (the same
//!   ECDSA certificate on both); then an unknown but well-formed key, which
//!   both answer 401 without any database query (Rampart from its negative
//!   cache).
//!
//! - The floor (`rampart`'s `bench_floor` example): the same request served
//!   by a bare axum route making the same kind of mTLS gRPC call to a backend
//!   that answers a fixed decision, with nothing of Rampart's own; and the
//!   same route answering at once, with no hop. It splits the gap to nginx
//!   into the hop's cost (floor against nginx) and Rampart's own (Rampart
//!   against the floor).
//!
//! Prints requests per second and the ratios; installs nginx-light and wrk
//! with apt-get when they are missing.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// A child process stopped when dropped: first asked (SIGTERM, so nginx's
/// master takes its workers down with it), then killed if still there.
struct Killed(Child);

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

// The cases, by the names they are printed under.
const RAMPART_PLAIN: &str = "rampart plain, valid key";
const NGINX_PLAIN: &str = "nginx   plain, valid key";
const FLOOR_PLAIN: &str = "floor   plain, one mTLS hop";
const FLOOR_NO_HOP: &str = "floor   plain, no hop";
const RAMPART_TLS: &str = "rampart TLS,   valid key";
const NGINX_TLS: &str = "nginx   TLS,   valid key";
const FLOOR_TLS: &str = "floor   TLS,   one mTLS hop";
const RAMPART_UNKNOWN: &str = "rampart TLS,   unknown key";
const NGINX_UNKNOWN: &str = "nginx   TLS,   unknown key";

const BODY: &str = r#"{"channel":"web","text":"what are your opening hours?"}"#;
const CONNECTIONS: u32 = 64;
const THREADS: u32 = 2;

pub fn run(root: &Path, seconds: u64) -> anyhow::Result<()> {
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

    let scratch = std::env::temp_dir().join(format!("rampart-bench-edge-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = run_in(&scratch, &examples, seconds);
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

fn run_in(scratch: &Path, examples: &Path, seconds: u64) -> anyhow::Result<()> {
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
    let (floor_hop, floor_no_hop) = (field(&floor_info, "hop")?, field(&floor_info, "no_hop")?);
    let floor_hop_tls = field(&floor_info, "hop_tls")?;

    let nginx_plain = free_port()?;
    let nginx_tls = free_port()?;
    let upstream = free_port()?;
    let conf = nginx_conf(
        scratch,
        &tenant_key,
        nginx_plain,
        nginx_tls,
        upstream,
        &field(&info, "cert")?,
        &field(&info, "key")?,
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
    crate::pause(Duration::from_millis(500));

    let valid = write_script(scratch, "valid.lua", &tenant_key)?;
    let unknown = write_script(scratch, "unknown.lua", &unknown_key)?;
    let path = "/v1/escalation/evaluate";
    let cases = [
        (
            RAMPART_PLAIN,
            format!("http://{rampart_plain}{path}"),
            &valid,
            true,
        ),
        (
            NGINX_PLAIN,
            format!("http://127.0.0.1:{nginx_plain}{path}"),
            &valid,
            true,
        ),
        (
            FLOOR_PLAIN,
            format!("http://{floor_hop}{path}"),
            &valid,
            true,
        ),
        (
            FLOOR_NO_HOP,
            format!("http://{floor_no_hop}{path}"),
            &valid,
            true,
        ),
        (
            RAMPART_TLS,
            format!("https://{rampart_tls}{path}"),
            &valid,
            true,
        ),
        (
            NGINX_TLS,
            format!("https://127.0.0.1:{nginx_tls}{path}"),
            &valid,
            true,
        ),
        (
            FLOOR_TLS,
            format!("https://{floor_hop_tls}{path}"),
            &valid,
            true,
        ),
        (
            RAMPART_UNKNOWN,
            format!("https://{rampart_tls}{path}"),
            &unknown,
            false,
        ),
        (
            NGINX_UNKNOWN,
            format!("https://127.0.0.1:{nginx_tls}{path}"),
            &unknown,
            false,
        ),
    ];
    // Warm both (TLS sessions, the key cache, connection pools).
    for (_, url, script, _) in &cases {
        wrk(url, script, 1)?;
    }
    println!(
        "bench-edge: wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, POST {path}, {} cores",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    let mut rates = Vec::new();
    for (name, url, script, expect_success) in &cases {
        let outcome = wrk(url, script, seconds)?;
        let non_success = outcome.non_success;
        if *expect_success && non_success > 0 {
            bail!("{name}: {non_success} answers were not 2xx");
        }
        if !*expect_success && non_success < outcome.requests {
            bail!("{name}: an unknown key was accepted");
        }
        println!("  {name:<28} {:>10.0} req/s", outcome.rate);
        rates.push(outcome.rate);
    }
    let rate = |case: &str| {
        let index = cases
            .iter()
            .position(|(name, ..)| *name == case)
            .expect("every ratio names a case of this run");
        rates[index]
    };
    let sections: [(&str, &[Ratio]); 3] = [
        (
            "ratios (goal: rampart/nginx >= 1.0; unknown/valid >= 2.0):",
            &[
                ("rampart / nginx, plain:", RAMPART_PLAIN, NGINX_PLAIN, ""),
                ("rampart / nginx, TLS:", RAMPART_TLS, NGINX_TLS, ""),
                (
                    "rampart unknown / valid, TLS:",
                    RAMPART_UNKNOWN,
                    RAMPART_TLS,
                    "",
                ),
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
    for (heading, ratios) in sections {
        println!("{heading}");
        for (label, over, under, note) in ratios {
            println!("  {label:<31}{:.2}{note}", rate(over) / rate(under));
        }
    }
    drop(nginx);
    drop(floor);
    drop(stack);
    Ok(())
}

fn ensure_tools() -> anyhow::Result<()> {
    let missing: Vec<&str> = [("nginx", "nginx-light"), ("wrk", "wrk")]
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
    tenant_key: &str,
    plain: u16,
    tls: u16,
    upstream: u16,
    cert: &str,
    key: &str,
) -> anyhow::Result<PathBuf> {
    let mut map = String::new();
    // The real key in the middle of 10,000.
    for i in 0..10_000 {
        if i == 5_000 {
            map.push_str(&format!("        \"{tenant_key}\" ten_bench;\n"));
        } else {
            map.push_str(&format!("        \"{}\" ten_{i};\n", random_key()?));
        }
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
