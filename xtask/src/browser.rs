//! `cargo xtask browser`: the widget and the console in a real browser.
//!
//! Starts `rampart dev` in a scratch folder on free ports, sets up a
//! business through the REST API as an operator would (the platform admin
//! makes a tenant and its owner; the owner signs in and adds an agent; the
//! admin issues a widget key for one origin), serves two local host pages
//! that embed the widget (one from the allowed origin, one from an origin
//! the key does not list), and runs `node browser-tests/run.mjs` with their
//! addresses in the environment. The browser tests drive Debian's Chromium
//! through playwright-core; see that file for what they check.
//!
//! The host pages are served from here (a few lines of HTTP over std's
//! listener) so that the harness needs nothing but this binary, node and
//! Chromium. They send a strict CSP of their own, as a careful business
//! would, so the tests show the widget working under one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{pause, workspace_root};

const OWNER_PASSWORD: &str = "copper teapot sings at noon";
const AGENT_PASSWORD: &str = "silver bicycle rests in rain";
const ADMIN_PASSWORD: &str = "golden lantern hums at dusk";
const ADMIN_EMAIL: &str = "ops@browser.example";
const OWNER_EMAIL: &str = "owner@browser.example";
const AGENT_EMAIL: &str = "agent@browser.example";

/// A `rampart dev` on free ports, stopped when dropped.
struct DevStack {
    child: Child,
    edge: String,
    ca: PathBuf,
    admin_key: String,
    admin_sign_in_path: String,
}

impl Drop for DevStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DevStack {
    /// Starts `rampart dev` in `scratch` on port 0 and reads the edge's
    /// address from what it prints.
    fn start(binary: &Path, scratch: &Path) -> anyhow::Result<Self> {
        let log_path = scratch.join("rampart.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(binary)
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .current_dir(scratch)
            .env_remove("RAMPART_ADMIN_API_KEY")
            .env_remove("RAMPART_ADMIN_EMAIL_DOMAINS")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("cannot start rampart dev")?;
        let mut stack = Self {
            child,
            edge: String::new(),
            ca: scratch.join(".rampart/pki/edge-ca.pem"),
            admin_key: String::new(),
            admin_sign_in_path: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let printed = std::fs::read_to_string(&log_path).unwrap_or_default();
            let edge = printed
                .lines()
                .find_map(|line| line.trim().strip_prefix("edge:"))
                .map(|address| address.trim().replace("127.0.0.1", "localhost"));
            if let Some(edge) = edge {
                stack.edge = edge;
                let key = std::fs::read_to_string(scratch.join(".rampart/secrets/admin-api-key"))
                    .unwrap_or_default();
                stack.admin_key = key.trim().to_owned();
                let path =
                    std::fs::read_to_string(scratch.join(".rampart/secrets/admin-sign-in-path"))
                        .unwrap_or_default();
                stack.admin_sign_in_path = path.trim().to_owned();
                let ready = Command::new("curl")
                    .args(["-sf", "--cacert"])
                    .arg(&stack.ca)
                    .arg(format!("{}/readyz", stack.edge))
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success());
                if ready && !stack.admin_key.is_empty() && !stack.admin_sign_in_path.is_empty() {
                    return Ok(stack);
                }
            }
            if let Some(status) = stack.child.try_wait()? {
                bail!("rampart dev stopped ({status}):\n{printed}");
            }
            if Instant::now() > deadline {
                bail!("rampart dev did not become ready within 60 s:\n{printed}");
            }
            pause(Duration::from_millis(200));
        }
    }

    /// One REST call with curl; answers the status and the JSON body.
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut command = Command::new("curl");
        command
            .args(["-sS", "-w", "\n%{http_code}", "-X", method, "--cacert"])
            .arg(&self.ca)
            .arg(format!("{}{path}", self.edge));
        for (name, value) in headers {
            command.args(["-H", &format!("{name}: {value}")]);
        }
        if let Some(body) = body {
            command.args([
                "-H",
                "Content-Type: application/json",
                "-d",
                &body.to_string(),
            ]);
        }
        let output = command.output().context("cannot run curl")?;
        anyhow::ensure!(output.status.success(), "curl {method} {path} failed");
        let text = String::from_utf8_lossy(&output.stdout);
        let (body, status) = text.rsplit_once('\n').context("curl printed no status")?;
        let status: u16 = status.trim().parse().context("curl's status")?;
        let body = if body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).with_context(|| format!("{method} {path}: {body}"))?
        };
        Ok((status, body))
    }

    /// A call that must answer `expected`; its body.
    fn expect(
        &self,
        expected: u16,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method, path, headers, Some(&body))?;
        anyhow::ensure!(
            status == expected,
            "{method} {path} answered {status}, not {expected}: {answer}"
        );
        Ok(answer)
    }
}

fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {field} in {value}"))
}

/// Makes the platform admin the console tests sign in as, in the data
/// folder `rampart dev` is about to use (as an operator would with
/// `rampart admin create-user --data-dir`), and answers its TOTP secret.
fn create_platform_admin(binary: &Path, scratch: &Path) -> anyhow::Result<String> {
    let output = Command::new(binary)
        .args([
            "admin",
            "create-user",
            "--data-dir",
            ".rampart",
            "--email",
            ADMIN_EMAIL,
            "--office-domains",
            "browser.example",
        ])
        .current_dir(scratch)
        .env("RAMPART_NEW_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("RAMPART_ADMIN_EMAIL_DOMAINS")
        .output()
        .context("cannot run rampart admin create-user")?;
    let printed = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "rampart admin create-user failed:\n{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("secret:"))
        .map(|secret| secret.trim().to_owned())
        .context("rampart admin create-user printed no secret")
}

/// The business the browser tests act for.
struct Business {
    tenant_id: String,
    agent_token: String,
    widget_key: String,
}

fn set_up_business(stack: &DevStack, allowed_origin: &str) -> anyhow::Result<Business> {
    let admin = [("X-Admin-API-Key", stack.admin_key.as_str())];
    let tenant = stack.expect(
        201,
        "POST",
        "/v1/admin/tenants",
        &admin,
        json!({ "name": "Browser Plumbing", "office_domains": ["browser.example"] }),
    )?;
    let tenant_id = text(&tenant, "tenant_id")?;
    stack.expect(
        201,
        "POST",
        &format!("/v1/admin/tenants/{tenant_id}/users"),
        &admin,
        json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD, "role": "owner" }),
    )?;
    let sign_in = |email: &str, password: &str| -> anyhow::Result<String> {
        let session = stack.expect(
            200,
            "POST",
            "/v1/auth/sign-in",
            &[],
            json!({ "tenant_id": tenant_id, "email": email, "password": password }),
        )?;
        text(&session, "session_token")
    };
    let owner = sign_in(OWNER_EMAIL, OWNER_PASSWORD)?;
    let bearer = format!("Bearer {owner}");
    stack.expect(
        201,
        "POST",
        "/v1/users",
        &[("Authorization", bearer.as_str())],
        json!({ "email": AGENT_EMAIL, "password": AGENT_PASSWORD, "role": "agent" }),
    )?;
    let agent_token = sign_in(AGENT_EMAIL, AGENT_PASSWORD)?;
    let key = stack.expect(
        201,
        "POST",
        &format!("/v1/admin/tenants/{tenant_id}/api-keys"),
        &admin,
        json!({ "environment": "widget", "allowed_origins": [allowed_origin] }),
    )?;
    Ok(Business {
        tenant_id,
        agent_token,
        widget_key: text(&key, "api_key")?,
    })
}

/// A business's page with the widget's tag, and a CSP of its own that
/// allows scripts and requests to the edge only, and no inline style.
fn host_page(edge: &str, widget_key: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Browser Plumbing</title>\n</head>\n<body>\n<main>\n<h1>Browser Plumbing</h1>\n\
         <p>Boilers, pipes and radiators, fixed the same day.</p>\n</main>\n\
         <script src=\"{edge}/widget.js\" data-key=\"{widget_key}\"></script>\n</body>\n</html>\n"
    )
}

/// Serves `page` to every GET on `listener`, on its own thread, for as
/// long as the process runs; answers the page's origin.
fn serve_on(listener: TcpListener, page: String, edge: &str) -> anyhow::Result<String> {
    let origin = format!("http://{}", listener.local_addr()?);
    let csp = format!(
        "default-src 'self'; script-src {edge}; connect-src {edge}; style-src 'self'; \
         frame-ancestors 'none'"
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(stream) => stream,
                Err(_) => continue,
            });
            // Only the request head matters; the pages take no body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                line.clear();
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Security-Policy: {csp}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            let _ = reader.read(&mut [0; 1]);
        }
    });
    Ok(origin)
}

/// Builds `rampart` and runs the browser tests. While working on the
/// console's pages, `RAMPART_DEV_CONSOLE_DIR=$PWD/crates/rampart-gateway/assets/console`
/// (an absolute path: a debug build serves the console from that folder)
/// together with
/// `RAMPART_BROWSER_NO_BUILD=1` runs them against the files as they are,
/// without rebuilding the binary for every change.
pub fn run() -> anyhow::Result<()> {
    let root = workspace_root();
    if std::env::var_os("RAMPART_BROWSER_NO_BUILD").is_none() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "rampart"])
            .current_dir(&root)
            .status()?;
        anyhow::ensure!(status.success(), "building rampart failed");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = target.join("debug").join("rampart");
    let artefacts = target.join("browser-artefacts");
    std::fs::create_dir_all(&artefacts)?;

    let scratch = std::env::temp_dir().join(format!("rampart-browser-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let admin_totp_secret = create_platform_admin(&binary, &scratch)?;
    let stack = DevStack::start(&binary, &scratch)?;

    // The key lists the allowed page's origin, so its port is bound first;
    // the denied page is the same page on another port (another origin).
    let allowed_listener = TcpListener::bind("127.0.0.1:0")?;
    let allowed_origin = format!("http://{}", allowed_listener.local_addr()?);
    let business = set_up_business(&stack, &allowed_origin)?;
    let page = host_page(&stack.edge, &business.widget_key);
    let allowed = serve_on(allowed_listener, page.clone(), &stack.edge)?;
    let denied = serve_on(TcpListener::bind("127.0.0.1:0")?, page, &stack.edge)?;

    let status = Command::new("node")
        .arg(root.join("browser-tests/run.mjs"))
        .current_dir(&root)
        .env("RAMPART_EDGE", &stack.edge)
        .env("RAMPART_TENANT_ID", &business.tenant_id)
        .env("RAMPART_OWNER_EMAIL", OWNER_EMAIL)
        .env("RAMPART_OWNER_PASSWORD", OWNER_PASSWORD)
        .env("RAMPART_AGENT_EMAIL", AGENT_EMAIL)
        .env("RAMPART_AGENT_PASSWORD", AGENT_PASSWORD)
        .env("RAMPART_AGENT_TOKEN", &business.agent_token)
        .env("RAMPART_ADMIN_KEY", &stack.admin_key)
        .env("RAMPART_ADMIN_SIGN_IN_PATH", &stack.admin_sign_in_path)
        .env("RAMPART_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("RAMPART_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RAMPART_ADMIN_TOTP_SECRET", &admin_totp_secret)
        .env("WIDGET_HOST_URL", format!("{allowed}/"))
        .env("WIDGET_DENIED_URL", format!("{denied}/"))
        .env("BROWSER_ARTEFACTS", &artefacts)
        // Node's fetch (the agent's REST calls) trusts the scratch CA.
        .env("NODE_EXTRA_CA_CERTS", &stack.ca)
        .status()
        .context("cannot run node (install nodejs)")?;
    drop(stack);
    if status.success() {
        std::fs::remove_dir_all(&scratch).ok();
        println!("\nbrowser: the widget and the console pass in Chromium");
        Ok(())
    } else {
        let log = std::fs::read_to_string(scratch.join("rampart.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("rampart dev's last lines:");
        for line in tail.iter().rev() {
            eprintln!("{line}");
        }
        bail!("the browser tests failed")
    }
}
