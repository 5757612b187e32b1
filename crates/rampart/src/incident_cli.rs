//! `rampart incident ...`: the incident playbook as commands, run against a
//! live stack's admin REST API, so they work the same on the embedded
//! default and on PostgreSQL + Redis.
//!
//! - `contain --tenant T | --user U | --key K | --admin-key K [--reason R]`
//!   revokes the target's keys and sessions, refuses its access path at
//!   every gateway until restored, and records one `incident.contained`
//!   audit event (`POST /v1/admin/incidents`); prints the incident.
//! - `restore --id I` lifts the isolation (`.../{id}/restore`).
//! - `verify [--baseline FILE] [--save-baseline FILE]` checks the platform
//!   audit log against its signed checkpoint (as `rampart audit verify`
//!   does with an export), the platform admins, their roles and the admin
//!   keys against a saved baseline, and prints this binary's SHA-256;
//!   exits non-zero on any mismatch.
//! - `report --id I [--out FILE]` writes the incident's timeline from the
//!   audit log, with root-cause and preventive-controls sections to fill in
//!   (Markdown).
//!
//! The admin key comes from `RAMPART_ADMIN_API_KEY` (or `_FILE`), as for
//! the other admin commands; `--ca-file` names the edge CA to trust (the
//! platform's roots otherwise).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args, Subcommand};
use rampart_audit::checkpoint::PublicKey;
use rampart_audit::export;
use serde_json::{Value, json};

use crate::admin_api::AdminApi;
use crate::checklist::backup::Databases;
use crate::settings::FileSettings;

#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// The edge of the running stack.
    #[arg(long, env = "RAMPART_URL", default_value = "https://127.0.0.1:8443")]
    pub url: String,
    /// The CA certificate (PEM) the edge's certificate is checked against;
    /// `rampart dev` prints where its own is.
    #[arg(long, env = "RAMPART_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: IncidentCommand,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Contain an incident: revoke, isolate, record.
    Contain(ContainArgs),
    /// Lift an incident's isolation (revoked credentials stay revoked).
    Restore {
        /// The incident's id (inc_...).
        #[arg(long)]
        id: String,
    },
    /// Validate integrity: the audit log, the admins, this binary.
    Verify(VerifyArgs),
    /// Write an incident's timeline and report template (Markdown).
    Report {
        /// The incident's id (inc_...).
        #[arg(long)]
        id: String,
        /// Where to write it; standard output by default.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["tenant", "user", "key", "admin_key"])))]
pub struct ContainArgs {
    /// A tenant (ten_...): all its keys and sessions.
    #[arg(long)]
    pub tenant: Option<String>,
    /// A user (usr_...): their sessions, and the account until restored.
    #[arg(long)]
    pub user: Option<String>,
    /// A tenant's API key by id (key_...).
    #[arg(long)]
    pub key: Option<String>,
    /// A platform admin key by id (key_...).
    #[arg(long)]
    pub admin_key: Option<String>,
    /// Why, for the record.
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A baseline saved earlier with --save-baseline: the admins and admin
    /// keys must match it.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Save the current admins and admin keys as the baseline.
    #[arg(long)]
    pub save_baseline: Option<PathBuf>,
    /// The release's published SHA-256 of the binary; the server's must
    /// match it (by default, the SHA-256 of this binary, the same release).
    #[arg(long)]
    pub expect_binary_sha256: Option<String>,
    /// The stack's database, for the migrations check (as `rampart
    /// migrate` takes it).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Otherwise the embedded default's data folder (default `.rampart`).
    #[arg(long, env = "RAMPART_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs the command; a failed verification is an error after its report.
pub async fn run(args: IncidentArgs, file: &FileSettings) -> anyhow::Result<()> {
    let admin = AdminApi::new(&args.url, args.ca_file.as_deref())?;
    match args.command {
        IncidentCommand::Contain(contain) => {
            let (kind, id) = contain.target();
            let incident = admin
                .send(
                    reqwest::Method::POST,
                    "/v1/admin/incidents",
                    Some(json!({ "target_kind": kind, "target_id": id, "reason": contain.reason })),
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&incident)?);
            Ok(())
        }
        IncidentCommand::Restore { id } => {
            let path = format!("/v1/admin/incidents/{}/restore", path_segment(&id)?);
            let incident = admin.send(reqwest::Method::POST, &path, None).await?;
            println!("{}", serde_json::to_string_pretty(&incident)?);
            Ok(())
        }
        IncidentCommand::Verify(verify_args) => {
            let report = verify(&admin, file, &verify_args).await?;
            print!("{}", report.render());
            if report.ok() {
                Ok(())
            } else {
                bail!("integrity verification failed")
            }
        }
        IncidentCommand::Report { id, out } => {
            let markdown = report(&admin, &id).await?;
            match out {
                Some(path) => std::fs::write(&path, markdown)
                    .with_context(|| format!("cannot write the report to {}", path.display()))?,
                None => std::io::stdout().write_all(markdown.as_bytes())?,
            }
            Ok(())
        }
    }
}

impl ContainArgs {
    fn target(&self) -> (&'static str, &str) {
        // clap's group makes exactly one of them present.
        match (&self.tenant, &self.user, &self.key, &self.admin_key) {
            (Some(id), ..) => ("tenant", id),
            (_, Some(id), ..) => ("user", id),
            (_, _, Some(id), _) => ("key", id),
            (.., Some(id)) => ("admin_key", id),
            (None, None, None, None) => ("tenant", ""),
        }
    }
}

/// An id as one path segment: ids are letters, digits and underscores, so
/// anything else is refused here rather than sent.
fn path_segment(id: &str) -> anyhow::Result<&str> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("--id {id:?} is not an incident id (inc_...)");
    }
    Ok(id)
}

/// What `verify` found, check by check.
#[derive(Debug, Default)]
pub struct VerifyReport {
    lines: Vec<(bool, String)>,
}

impl VerifyReport {
    fn check(&mut self, ok: bool, line: impl Into<String>) {
        self.lines.push((ok, line.into()));
    }

    #[must_use]
    pub fn ok(&self) -> bool {
        self.lines.iter().all(|(ok, _)| *ok)
    }

    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (ok, line) in &self.lines {
            out.push_str(if *ok { "ok      " } else { "FAILED  " });
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

async fn verify(
    admin: &AdminApi,
    file: &FileSettings,
    args: &VerifyArgs,
) -> anyhow::Result<VerifyReport> {
    let mut report = VerifyReport::default();

    // The platform log against a checkpoint signed now, checked with the
    // public key the stack publishes.
    let key_text = admin
        .call(reqwest::Method::GET, "/v1/audit/public-key", None)
        .await?;
    let key = PublicKey::parse(&key_text).context("the audit public key")?;
    let exported = admin
        .call(reqwest::Method::GET, "/v1/admin/audit/export", None)
        .await?;
    let audit = export::verify(exported.as_bytes(), Some(&key), None);
    report.check(
        audit.ok(),
        format!(
            "platform audit log against its signed checkpoint: {}",
            audit.render().trim_end().replace('\n', "; ")
        ),
    );

    // The admins, their roles and the admin keys against the baseline.
    let current = admin
        .send(reqwest::Method::GET, "/v1/admin/incidents/baseline", None)
        .await?;
    if let Some(path) = &args.baseline {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --baseline {}", path.display()))?;
        let saved: Value = serde_json::from_str(&text)
            .with_context(|| format!("--baseline {} is not JSON", path.display()))?;
        for (what, id) in [("admins", "user_id"), ("admin_keys", "key_id")] {
            let differences = compare(&saved[what], &current[what], id);
            report.check(
                differences.is_empty(),
                if differences.is_empty() {
                    format!("{what} match the baseline")
                } else {
                    format!(
                        "{what} differ from the baseline: {}",
                        differences.join("; ")
                    )
                },
            );
        }
    }
    if let Some(path) = &args.save_baseline {
        std::fs::write(path, serde_json::to_string_pretty(&current)?)
            .with_context(|| format!("cannot write --save-baseline {}", path.display()))?;
        report.check(true, format!("baseline saved to {}", path.display()));
    }

    // The server's binary against the release's checksum (or this one's).
    let build = admin
        .send(reqwest::Method::GET, "/v1/admin/build", None)
        .await?;
    let served = build["binary_sha256"].as_str().unwrap_or_default();
    let (expected, source) = match &args.expect_binary_sha256 {
        Some(expected) => (
            expected.trim().to_ascii_lowercase(),
            "--expect-binary-sha256",
        ),
        None => (
            rampart_gateway::executable_sha256().context("hashing this binary")?,
            "this binary",
        ),
    };
    report.check(
        served == expected,
        if served == expected {
            format!("server binary sha256 {served} matches {source}")
        } else {
            format!("server binary sha256 {served:?} differs from {source}'s {expected}")
        },
    );

    // Every service's migrations against those this binary knows.
    for (service, result) in migrations(file, args).await? {
        match result {
            Ok(pending) if pending.is_empty() => {
                report.check(
                    true,
                    format!("{service} migrations: all applied, none unknown"),
                );
            }
            Ok(pending) => report.check(
                false,
                format!("{service} migrations not applied: {}", pending.join(", ")),
            ),
            Err(error) => report.check(
                false,
                format!(
                    "{service} migrations: {}",
                    format!("{error:#}").replace('\n', "; ")
                ),
            ),
        }
    }
    Ok(report)
}

/// Each service's pending migrations (or the error naming one applied
/// that this binary does not know), from the databases the settings name.
async fn migrations(
    file: &FileSettings,
    args: &VerifyArgs,
) -> anyhow::Result<Vec<(&'static str, anyhow::Result<Vec<String>>)>> {
    let databases = crate::checklist::resolve_databases(
        args.database_url.clone(),
        args.data_dir.clone(),
        file,
    )?;
    let url_of = |service: &str| -> anyhow::Result<String> {
        Ok(match &databases {
            Databases::Postgres(url) => url.clone(),
            Databases::SqliteFile(path) => rampart_kit::db::sqlite_url(path),
            Databases::Embedded(dir) => {
                let path = dir.join(format!("{service}.db"));
                if !path.exists() {
                    bail!(
                        "no {service}.db in the data folder {}; set --data-dir or --database-url",
                        dir.display()
                    );
                }
                rampart_kit::db::sqlite_url(&path)
            }
        })
    };
    let mut results = Vec::new();
    for service in ["auth", "crm", "escalation", "audit"] {
        let result = async {
            let db = rampart_kit::db::connect(&url_of(service)?).await?;
            let pending = match service {
                "auth" => rampart_auth::pending_migrations(&db).await,
                "crm" => rampart_crm::pending_migrations(&db).await,
                "escalation" => rampart_escalation::pending_migrations(&db).await,
                _ => rampart_audit::pending_migrations(&db).await,
            };
            rampart_kit::db::close(db).await;
            pending
        }
        .await;
        results.push((service, result));
    }
    Ok(results)
}

/// The entries of two lists of objects keyed by `id`: added, removed and
/// changed, each named.
fn compare(saved: &Value, current: &Value, id: &str) -> Vec<String> {
    let index = |list: &Value| -> BTreeMap<String, Value> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|entry| {
                (
                    entry[id].as_str().unwrap_or_default().to_owned(),
                    entry.clone(),
                )
            })
            .collect()
    };
    let (saved, current) = (index(saved), index(current));
    let mut differences = Vec::new();
    for (key, entry) in &current {
        match saved.get(key) {
            None => differences.push(format!("added {key} {}", summary(entry))),
            Some(before) if before != entry => {
                differences.push(format!(
                    "changed {key}: {} -> {}",
                    summary(before),
                    summary(entry)
                ));
            }
            Some(_) => {}
        }
    }
    for (key, entry) in &saved {
        if !current.contains_key(key) {
            differences.push(format!("removed {key} {}", summary(entry)));
        }
    }
    differences
}

fn summary(entry: &Value) -> String {
    let fields: Vec<String> = entry
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!("({})", fields.join(", "))
}

/// The audit events of `log` matching `filter` (a query string), oldest
/// first.
async fn events(admin: &AdminApi, log: &str, filter: &str) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut path = format!("/v1/admin/audit?log={log}&limit=100&{filter}");
        if !cursor.is_empty() {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = admin.send(reqwest::Method::GET, &path, None).await?;
        all.extend(page["events"].as_array().into_iter().flatten().cloned());
        match page["next_cursor"].as_str() {
            Some(next) if !next.is_empty() && all.len() < 10_000 => cursor = next.to_owned(),
            _ => break,
        }
    }
    all.sort_by(|a, b| {
        a["occurred_at"]
            .as_str()
            .unwrap_or_default()
            .cmp(b["occurred_at"].as_str().unwrap_or_default())
    });
    Ok(all)
}

async fn report(admin: &AdminApi, id: &str) -> anyhow::Result<String> {
    let path = format!("/v1/admin/incidents/{}", path_segment(id)?);
    let incident = admin.send(reqwest::Method::GET, &path, None).await?;
    let field = |name: &str| incident[name].as_str().unwrap_or_default().to_owned();
    let (kind, target, tenant) = (field("target_kind"), field("target_id"), field("tenant_id"));
    let contained_at = field("contained_at");
    let restored_at = field("restored_at");

    let mut timeline = events(admin, "platform", &format!("target=incident:{id}")).await?;
    // Events touching the target from containment on, in its tenant's log
    // (or the platform's for platform targets).
    let log = if tenant.is_empty() {
        "platform"
    } else {
        tenant.as_str()
    };
    let target_name = match kind.as_str() {
        "admin_key" => format!("api_key:{target}"),
        "key" => format!("api_key:{target}"),
        other => format!("{other}:{target}"),
    };
    for event in events(admin, log, &format!("since={contained_at}")).await? {
        let touches = event["target"].as_str() == Some(target_name.as_str())
            || kind == "tenant"
            || event["actor"]
                .as_str()
                .is_some_and(|actor| actor.contains(&target));
        let new = !timeline
            .iter()
            .any(|seen| seen["event_id"] == event["event_id"]);
        if touches && new {
            timeline.push(event);
        }
    }
    timeline.sort_by(|a, b| {
        a["occurred_at"]
            .as_str()
            .unwrap_or_default()
            .cmp(b["occurred_at"].as_str().unwrap_or_default())
    });

    let mut out = String::new();
    out.push_str(&format!("# Incident {id}\n\n"));
    out.push_str(&format!("- Target: {kind} `{target}`\n"));
    if !tenant.is_empty() {
        out.push_str(&format!("- Tenant: `{tenant}`\n"));
    }
    out.push_str(&format!("- Reason given: {}\n", field("reason")));
    out.push_str(&format!("- Contained: {contained_at}\n"));
    out.push_str(&format!(
        "- Restored: {}\n",
        if restored_at.is_empty() {
            "not yet"
        } else {
            &restored_at
        }
    ));
    out.push_str(&format!(
        "- Revoked: {} API keys, {} sessions\n\n",
        incident["credentials_revoked"], incident["sessions_revoked"]
    ));
    out.push_str("## Timeline (from the audit log)\n\n");
    out.push_str("| time | action | outcome | actor | target | details |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for event in &timeline {
        let cell = |name: &str| event[name].as_str().unwrap_or_default().replace('|', "\\|");
        let details = event["details"]
            .as_object()
            .map(|details| {
                details
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
            .replace('|', "\\|");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {details} |\n",
            cell("occurred_at"),
            cell("action"),
            cell("outcome"),
            cell("actor"),
            cell("target"),
        ));
    }
    out.push_str(
        "\n## Root cause\n\n\
         _What happened, how it was detected, and why the controls did not stop it._\n\n\
         ## Impact\n\n\
         _Which tenants, users and data were affected, and for how long._\n\n\
         ## Preventive controls\n\n\
         - [ ] _Control to add or change_ (owner, due date)\n\
         - [ ] Credentials rotated (`rampart incident verify` passes against the new baseline)\n\
         - [ ] Detection: the alert that would have caught this sooner\n",
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_name_what_was_added_removed_and_changed() {
        let saved = json!([
            {"user_id": "usr_a", "role": "admin"},
            {"user_id": "usr_b", "role": "admin"},
        ]);
        let current = json!([
            {"user_id": "usr_a", "role": "admin"},
            {"user_id": "usr_b", "role": "agent"},
            {"user_id": "usr_c", "role": "admin"},
        ]);
        let differences = compare(&saved, &current, "user_id");
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(
            differences[0].starts_with("changed usr_b"),
            "{differences:?}"
        );
        assert!(differences[1].starts_with("added usr_c"), "{differences:?}");
        assert_eq!(compare(&current, &saved, "user_id").len(), 2);
        assert!(
            compare(&current, &saved, "user_id")
                .iter()
                .any(|d| d.starts_with("removed usr_c"))
        );
        assert!(compare(&saved, &saved, "user_id").is_empty());
    }

    #[test]
    fn ids_with_path_characters_are_refused() {
        assert!(path_segment("inc_0123abcd").is_ok());
        for bad in ["", "../admin", "inc_1/restore", "inc 1", "inc_1?x=1"] {
            assert!(path_segment(bad).is_err(), "{bad:?}");
        }
    }
}
