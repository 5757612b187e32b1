//! Developer tasks: `cargo xtask <task>`.
//!
//! - `walkthrough`: runs the README's curl walk-through, exactly as written,
//!   against a fresh `rampart dev` in a scratch folder, and checks what it
//!   prints. It keeps the README honest.
//! - `bench-edge [seconds]`: the gateway against nginx, side by side, as
//!   ratios, with a floor that shows how much of the gap is the gRPC hop
//!   ([`bench_edge`]); 10 s per case by default.

mod bench_edge;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("walkthrough") => walkthrough(),
        Some("bench-edge") => {
            let seconds = match std::env::args().nth(2) {
                Some(value) => value
                    .parse()
                    .context("bench-edge takes the seconds per case")?,
                None => 10,
            };
            bench_edge::run(&workspace_root(), seconds)
        }
        _ => bail!("usage: cargo xtask walkthrough | bench-edge [seconds]"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The shell block that follows the walk-through heading in the README.
fn walkthrough_script(readme: &str) -> anyhow::Result<String> {
    let section = readme
        .split("## A first walk through the API")
        .nth(1)
        .context("the README has no walk-through section")?;
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .context("the walk-through section has no sh block")?;
    Ok(block.to_owned())
}

struct Stack(Child);

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn walkthrough() -> anyhow::Result<()> {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let script = walkthrough_script(&readme)?;

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
    let log = std::fs::File::create(scratch.join("rampart.log"))?;
    let _stack = Stack(
        Command::new(&binary)
            .arg("dev")
            .current_dir(&scratch)
            .env_remove("RAMPART_ADMIN_API_KEY")
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
                .current_dir(&scratch)
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(scratch.join("rampart.log")).unwrap_or_default();
            bail!("rampart dev did not become ready within 60 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    // The block runs in the scratch folder (its `.rampart` is the stack's),
    // so the `cargo run` it contains is pointed at this workspace.
    let script = format!(
        "cargo() {{ local command=\"$1\"; shift; command cargo \"$command\" --manifest-path {:?} \"$@\"; }}\n{script}",
        root.join("Cargo.toml").display().to_string()
    );
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&scratch)
        .output()
        .context("cannot run bash")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    anyhow::ensure!(output.status.success(), "the walk-through failed");
    for expected in [
        "\"status\":\"ready\"",
        "\"api_key\":\"rk_live_",
        "\"name\":\"Jane Doe\"",
        "\"action\":\"handoff\"",
        "\"action\":\"ai_answer\"",
        " 401",
        "application/problem+json",
    ] {
        anyhow::ensure!(
            stdout.contains(expected),
            "the walk-through printed no {expected}"
        );
    }
    std::fs::remove_dir_all(&scratch).ok();
    println!("\nwalkthrough: the README's commands work as written");
    Ok(())
}
