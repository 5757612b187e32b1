//! Developer tasks: `cargo xtask <task>`.
//!
//! - `walkthrough`: runs the README's curl walk-through, exactly as written,
//!   against a fresh `rampart dev` in a scratch folder, and checks what it
//!   prints; then its first-admin steps: the admin made in the data folder,
//!   `rampart dev` restarted as the README says, the sign-in with the
//!   password and a code from the printed TOTP secret. It keeps the README
//!   honest.
//! - `browser`: the widget and the console in Chromium, driven by
//!   `browser-tests/run.mjs` against a fresh `rampart dev` ([`browser`]).
//! - `bench-edge [seconds] [rounds]`: the gateway against Envoy and nginx,
//!   side by side, as ratios, with a floor that shows how much of the gap
//!   is the gRPC hop ([`bench_edge`]); 10 s per case and 3 rounds by
//!   default.
//! - `faults [--actions N]`: the fault run ([`faults`]): N audited actions
//!   (10,000 by default) while audit is killed and PostgreSQL and Redis are
//!   paused; fails on any lost or duplicated event or revoked key accepted.

mod bench_edge;
mod browser;
mod envoy;
mod faults;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("walkthrough") => walkthrough(),
        Some("browser") => browser::run(),
        Some("bench-edge") => {
            let seconds = match std::env::args().nth(2) {
                Some(value) => value
                    .parse()
                    .context("bench-edge takes the seconds per case")?,
                None => 10,
            };
            let rounds = match std::env::args().nth(3) {
                Some(value) => value
                    .parse()
                    .context("bench-edge takes the rounds after the seconds")?,
                None => 3,
            };
            bench_edge::run(&workspace_root(), seconds, rounds)
        }
        Some("faults") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            faults::run(&workspace_root(), &faults::Options::parse(&args)?)
        }
        _ => bail!(
            "usage: cargo xtask walkthrough | browser | bench-edge [seconds] [rounds] | faults [--actions N]"
        ),
    }
}

/// Waits `duration`. xtask is a synchronous program with no async runtime,
/// so blocking its one thread is the right way to wait for a child process.
#[allow(
    clippy::disallowed_methods,
    reason = "xtask has no runtime whose workers a blocking sleep could stall"
)]
pub(crate) fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The `n`th (from 0) shell block after `heading` in the README.
fn readme_block(readme: &str, heading: &str, n: usize) -> anyhow::Result<String> {
    let section = readme
        .split(heading)
        .nth(1)
        .with_context(|| format!("the README has no {heading:?}"))?;
    let block = section
        .split("```sh\n")
        .nth(n + 1)
        .and_then(|rest| rest.split("\n```").next())
        .with_context(|| format!("{heading:?} has no sh block {n}"))?;
    Ok(block.to_owned())
}

const WALKTHROUGH: &str = "## A first walk through the API";
const FIRST_ADMIN: &str = "**The first platform admin**";

/// A `rampart dev` started by the walk-through, stopped when dropped.
struct Stack(Child);

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Stack {
    /// Starts `rampart dev` in `scratch` and waits until it is ready.
    fn start(binary: &Path, scratch: &Path) -> anyhow::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(scratch.join("rampart.log"))?;
        let stack = Self(
            Command::new(binary)
                .arg("dev")
                .current_dir(scratch)
                .env_remove("RAMPART_ADMIN_API_KEY")
                .env_remove("RAMPART_ADMIN_EMAIL_DOMAINS")
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()
                .context("cannot start rampart dev")?,
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = scratch.join(".rampart/secrets/admin-api-key").exists()
                && Command::new("curl")
                    .args([
                        "-sf",
                        "--cacert",
                        ".rampart/pki/edge-ca.pem",
                        "https://localhost:8443/readyz",
                    ])
                    .current_dir(scratch)
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if ready {
                return Ok(stack);
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(scratch.join("rampart.log")).unwrap_or_default();
                bail!("rampart dev did not become ready within 60 s:\n{log}");
            }
            pause(Duration::from_millis(200));
        }
    }
}

/// Runs `script` with bash in `scratch`, `input` on its standard input, and
/// returns what it printed; fails if it fails.
fn run_block(root: &Path, scratch: &Path, script: &str, input: &str) -> anyhow::Result<String> {
    // The block runs in the scratch folder (its `.rampart` is the stack's),
    // so the `cargo run` it contains is pointed at this workspace.
    let script = format!(
        "cargo() {{ local command=\"$1\"; shift; command cargo \"$command\" --manifest-path {:?} \"$@\"; }}\n{script}",
        root.join("Cargo.toml").display().to_string()
    );
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(scratch)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run bash")?;
    child
        .stdin
        .take()
        .context("bash's standard input")?
        .write_all(input.as_bytes())?;
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    anyhow::ensure!(output.status.success(), "a README block failed");
    Ok(stdout)
}

fn expect_printed(stdout: &str, expected: &[&str]) -> anyhow::Result<()> {
    for expected in expected {
        anyhow::ensure!(
            stdout.contains(expected),
            "the walk-through printed no {expected}"
        );
    }
    Ok(())
}

fn walkthrough() -> anyhow::Result<()> {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let script = readme_block(&readme, WALKTHROUGH, 0)?;
    // The walk-through's opening lines, up to its first blank line, set the
    // variables the later blocks use, as they stay set in a reader's shell.
    let variables = script.split("\n\n").next().unwrap_or_default().to_owned();
    let create_admin = readme_block(&readme, FIRST_ADMIN, 0)?;
    let admin_sign_in = readme_block(&readme, FIRST_ADMIN, 1)?;

    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "rampart"])
        .current_dir(&root)
        .status()?;
    anyhow::ensure!(status.success(), "building rampart failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = target.join("debug").join("rampart");

    let scratch = std::env::temp_dir().join(format!("rampart-walkthrough-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let stack = Stack::start(&binary, &scratch)?;

    let stdout = run_block(&root, &scratch, &script, "")?;
    expect_printed(
        &stdout,
        &[
            "\"status\":\"ready\"",
            "\"api_key\":\"rk_live_",
            "\"name\":\"Jane Doe\"",
            "\"action\":\"handoff\"",
            "\"action\":\"ai_answer\"",
            "\"status\":\"handed_off\"",
            "\"severity\":\"critical\"",
            "\"delivery\":\"blocked\"",
            " 401",
            "application/problem+json",
        ],
    )?;
    // Nothing it saved lands outside the data folder.
    let mut saved: Vec<String> = std::fs::read_dir(&scratch)?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".rampart" && name != "rampart.log")
        .collect();
    saved.sort();
    anyhow::ensure!(
        saved.is_empty(),
        "the walk-through left {saved:?} outside .rampart"
    );

    // The first admin, made while the stack runs; then the restart the
    // README asks for, so the stack reads the office domains.
    let made = run_block(&root, &scratch, &create_admin, "")?;
    let secret = made
        .lines()
        .find_map(|line| line.trim().strip_prefix("secret: "))
        .context("create-user printed no TOTP secret")?
        .to_owned();
    drop(stack);
    let _stack = Stack::start(&binary, &scratch)?;
    let code = totp_now(&secret)?;
    let stdout = run_block(
        &root,
        &scratch,
        &format!("{variables}\n{admin_sign_in}"),
        &format!("{code}\n"),
    )?;
    expect_printed(
        &stdout,
        &[
            "\"second_factor_required\":true",
            "\"session_token\":\"",
            "\"role\":\"admin\"",
        ],
    )?;
    std::fs::remove_dir_all(&scratch).ok();
    println!("\nwalkthrough: the README's commands work as written");
    Ok(())
}

/// The current code of the base32 TOTP `secret` (RFC 6238: HMAC-SHA1,
/// 30 s steps, six digits), as an authenticator app shows it.
fn totp_now(secret: &str) -> anyhow::Result<String> {
    let key = base32_decode(secret).context("the TOTP secret is not base32")?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let step = now.as_secs() / 30;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key);
    let mac = ring::hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    Ok(format!("{:06}", binary % 1_000_000))
}

/// RFC 4648 base32, upper or lower case, padding optional.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').chars() {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => return None,
        };
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}
