//! `rampart checklist`: the monthly security checklist as a report, run
//! against a live stack's admin REST API and its databases, so it works
//! the same on the embedded default and on PostgreSQL + Redis.
//!
//! Each item is pass, warn or fail with the facts it was judged on and
//! where they came from (`docs/checklist.md` describes each):
//!
//! 1. credentials older than their rotation age (tenant and admin API
//!    keys, the crm master key, the audit signing key);
//! 2. platform admins and tenants' users with their roles, diffed against
//!    the previous run's JSON;
//! 3. platform admins without a second factor (each one fails);
//! 4. failed sign-ins and lockouts by account and by address;
//! 5. a real backup and restore ([`backup`]);
//! 6. the incident playbook drilled on a scratch tenant, timed;
//! 7. the dependencies compiled in, and what is known of their age
//!    ([`deps`]).
//!
//! The report goes to standard output in Markdown and, with `--json`, to
//! a file that the next run reads back as its previous run. It is then
//! stored in the stack (`POST /v1/admin/checklist/reports`, which records
//! one `checklist.completed` audit event), where the console shows the
//! latest. The command exits non-zero when an item fails, and when the
//! report could not be stored (unless `--no-store`).

pub mod backup;
pub mod deps;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use rampart_kit::secret::{ExposeSecret, SecretString};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin_api::AdminApi;
use crate::settings::{self, FileSettings};
use backup::Databases;
use report::{Item, Report, ReviewedUser, SignInTally};

#[derive(Debug, Args)]
pub struct ChecklistArgs {
    /// The edge of the running stack.
    #[arg(long, env = "RAMPART_URL", default_value = "https://127.0.0.1:8443")]
    pub url: String,
    /// The CA certificate (PEM) the edge's certificate is checked against.
    #[arg(long, env = "RAMPART_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Credentials older than this many days fail (item 1).
    #[arg(long, default_value_t = 90)]
    pub max_key_age_days: u32,
    /// How far back the audit log is read for sign-ins (item 4).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// An account or address with at least this many failed sign-ins in
    /// `--days` warns; so does any lockout.
    #[arg(long, default_value_t = 5)]
    pub failed_sign_ins_warn: u32,
    /// Write the report as JSON here; the file already there is read first
    /// as the previous run, unless `--previous` names another.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The previous run's JSON, for the users diff (item 2).
    #[arg(long)]
    pub previous: Option<PathBuf>,
    /// PostgreSQL (as for `rampart serve`): backed up and restored into a
    /// scratch database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Otherwise the embedded default's data folder (as for `rampart
    /// dev`; default `.rampart`).
    #[arg(long, env = "RAMPART_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The crm master key's file, whose modification time is its age when
    /// the audit log records no rotation.
    #[arg(long, env = "RAMPART_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// The audit signing key's file, whose modification time is its age.
    #[arg(long, env = "RAMPART_AUDIT_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// Do not store the report in the stack (by default it is sent to
    /// `POST /v1/admin/checklist/reports`).
    #[arg(long)]
    pub no_store: bool,
}

/// Runs the checklist, prints the report, writes the JSON, stores it in
/// the stack; a failed item, or a report that could not be stored, is an
/// error after the report.
pub async fn run(args: ChecklistArgs, file: &FileSettings) -> anyhow::Result<()> {
    let report = collect(&args, file).await?;
    print!("{}", report.markdown());
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.json {
        std::fs::write(path, &json)
            .with_context(|| format!("cannot write --json {}", path.display()))?;
    }
    if !args.no_store {
        // The report is printed (and written) first: an operator keeps it
        // even when the stack refuses it. Not storing it is still a
        // failure, because the console would go on showing an older run
        // as the latest, and the audit log would miss this one.
        let admin = AdminApi::new(&args.url, args.ca_file.as_deref())?;
        let stored = admin
            .post_json_text("/v1/admin/checklist/reports", json)
            .await
            .context("the report was printed but could not be stored in the stack (rerun, or pass --no-store to skip storing)")?;
        eprintln!(
            "stored as {} (sha256 {}; audit event checklist.completed {})",
            stored["report_id"].as_str().unwrap_or_default(),
            stored["sha256"].as_str().unwrap_or_default(),
            stored["audit_event_id"].as_str().unwrap_or_default()
        );
    }
    if report.failed() {
        bail!(
            "the checklist failed: {} of {} items (see the report)",
            report.summary.fail,
            report.items.len()
        );
    }
    Ok(())
}

/// The databases to back up, from the settings `serve` and `dev` read:
/// `--database-url`/`DATABASE_URL`/the file's `database_url` first, then
/// `--data-dir`/`RAMPART_DATA_DIR`/the file's `data_dir`, then `.rampart`.
pub fn databases(args: &ChecklistArgs, file: &FileSettings) -> anyhow::Result<Databases> {
    resolve_databases(args.database_url.clone(), args.data_dir.clone(), file)
}

/// [`databases`] from the two flags' values, for any command that takes
/// them (`rampart incident verify` too).
pub fn resolve_databases(
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    file: &FileSettings,
) -> anyhow::Result<Databases> {
    if let Some(url) = database_url.or_else(|| file.database_url.clone()) {
        settings::check_database_url(&url, "DATABASE_URL")?;
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            return Ok(Databases::SqliteFile(PathBuf::from(path)));
        }
        return Ok(Databases::Postgres(url));
    }
    Ok(Databases::Embedded(
        data_dir
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(".rampart")),
    ))
}

/// Every item, judged now.
pub async fn collect(args: &ChecklistArgs, file: &FileSettings) -> anyhow::Result<Report> {
    let databases = databases(args, file)?;
    let previous = previous_run(args)?;
    let admin = AdminApi::new(&args.url, args.ca_file.as_deref())?;
    let now = Utc::now();

    let tenants = tenants(&admin).await?;
    let users = users(&admin, &tenants).await?;
    let items = vec![
        credentials(&admin, args, &databases, &tenants, now).await?,
        review_users(&users, previous),
        second_factors(&users),
        sign_ins(&admin, args, &tenants, &users, now).await?,
        backup::check(&databases).await,
        drill(&admin).await,
        deps::check(now, args.max_key_age_days),
    ];
    Ok(Report::new(&args.url, now, items, users))
}

/// The previous run: `--previous`, or what `--json` holds from the last
/// run. A named file that cannot be read is an error; a stale `--json`
/// that is not a report is ignored with a warning in item 2.
fn previous_run(args: &ChecklistArgs) -> anyhow::Result<Option<Result<Report, String>>> {
    if let Some(path) = &args.previous {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --previous {}", path.display()))?;
        let report = serde_json::from_str(&text)
            .with_context(|| format!("--previous {} is not a checklist report", path.display()))?;
        return Ok(Some(Ok(report)));
    }
    let Some(path) = args.json.as_ref().filter(|path| path.exists()) else {
        return Ok(None);
    };
    Ok(Some(
        std::fs::read_to_string(path)
            .map_err(|error| error.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|error| error.to_string()))
            .map_err(|error| format!("{} is not a checklist report: {error}", path.display())),
    ))
}

/// Every tenant id, through the paged admin route.
async fn tenants(admin: &AdminApi) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut path = "/v1/admin/tenants?limit=100".to_owned();
        if !cursor.is_empty() {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = admin.send(Method::GET, &path, None).await?;
        for tenant in page["tenants"].as_array().into_iter().flatten() {
            if let Some(id) = tenant["tenant_id"].as_str() {
                all.push(id.to_owned());
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) if !next.is_empty() => cursor = next.to_owned(),
            _ => break,
        }
    }
    Ok(all)
}

fn reviewed(user: &Value, tenant_id: &str) -> ReviewedUser {
    let text = |name: &str| user[name].as_str().unwrap_or_default().to_owned();
    ReviewedUser {
        user_id: text("user_id"),
        tenant_id: tenant_id.to_owned(),
        email: text("email"),
        role: text("role"),
        disabled: user["disabled"].as_bool().unwrap_or(false),
        second_factor: user["second_factor"].as_bool().unwrap_or(false),
    }
}

/// The platform admins and every tenant's users, sorted by user id.
async fn users(admin: &AdminApi, tenants: &[String]) -> anyhow::Result<Vec<ReviewedUser>> {
    let baseline = admin
        .send(Method::GET, "/v1/admin/incidents/baseline", None)
        .await?;
    let mut users: Vec<ReviewedUser> = baseline["admins"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|user| reviewed(user, ""))
        .collect();
    for tenant in tenants {
        let list = admin
            .send(
                Method::GET,
                &format!("/v1/admin/tenants/{tenant}/users"),
                None,
            )
            .await?;
        users.extend(
            list["users"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|user| reviewed(user, tenant)),
        );
    }
    users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    Ok(users)
}

/// A key file's age, from its modification time (the files are written
/// once and never replaced in place, so that is when the key was made or
/// last rotated).
fn file_time(path: &Path) -> Option<String> {
    let modified = std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()?;
    let at: DateTime<Utc> = modified.into();
    Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Item 1.
async fn credentials(
    admin: &AdminApi,
    args: &ChecklistArgs,
    databases: &Databases,
    tenants: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<Item> {
    let max = args.max_key_age_days;
    let mut item = Item::new(
        "credentials",
        "Credentials older than their rotation age",
        format!(
            "created_at of the live keys listed by GET /v1/admin/tenants/{{id}}/api-keys and GET /v1/admin/api-keys; the master key's last master_key.rotated audit event or its key file's modification time; the audit signing key's file modification time; rotation age {max} days (--max-key-age-days)"
        ),
    );
    let mut keys = Vec::new();
    for tenant in tenants {
        let list = admin
            .send(
                Method::GET,
                &format!("/v1/admin/tenants/{tenant}/api-keys"),
                None,
            )
            .await?;
        keys.extend(
            list["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|key| (format!("tenant {tenant} key"), key.clone())),
        );
    }
    let list = admin.send(Method::GET, "/v1/admin/api-keys", None).await?;
    keys.extend(
        list["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|key| ("admin key".to_owned(), key.clone())),
    );
    let mut fresh = 0;
    for (what, key) in &keys {
        // A rotated key is on its way out; its successor is judged.
        if key["replaced_by"].is_string() {
            continue;
        }
        let (status, age) = report::judge_age(key["created_at"].as_str(), now, max);
        if status == report::Status::Pass {
            fresh += 1;
        } else {
            item.add(
                status,
                format!(
                    "{what} {} ({}, {}): {age}",
                    key["key_id"].as_str().unwrap_or_default(),
                    key["name"].as_str().unwrap_or_default(),
                    key["display_prefix"].as_str().unwrap_or_default()
                ),
            );
        }
    }
    item.pass(format!(
        "{fresh} live API keys (tenants' and platform admin keys) within {max} days"
    ));

    item.pass(
        "not judged: the bootstrap admin key given to the stack in RAMPART_ADMIN_API_KEY is configuration, not a stored key, so it has no created_at here; rotate it on the key-rotation runbook's schedule",
    );

    let data_dir = match databases {
        Databases::Embedded(dir) => Some(dir.clone()),
        _ => None,
    };
    let rotations = events(admin, "platform", "action=master_key.rotated").await?;
    let master_file = args
        .master_key_file
        .clone()
        .or_else(|| {
            data_dir
                .as_ref()
                .map(|dir| dir.join("secrets/crm-master-key"))
        })
        .filter(|path| path.exists());
    match (rotations.last(), &master_file) {
        (Some(event), _) => {
            let (status, age) = report::judge_age(event["occurred_at"].as_str(), now, max);
            item.add(
                status,
                format!("master key: {age} (its last master_key.rotated audit event)"),
            );
        }
        (None, Some(path)) => {
            let (status, age) = report::judge_age(file_time(path).as_deref(), now, max);
            item.add(
                status,
                format!(
                    "master key: {age} (no rotation in the audit log; the modification time of {})",
                    path.display()
                ),
            );
        }
        (None, None) => item.warn(
            "master key: age unknown: no master_key.rotated event in the audit log and no key file to read (set RAMPART_MASTER_KEY_FILE or --master-key-file)",
        ),
    }
    let signing_file = args
        .signing_key_file
        .clone()
        .or_else(|| {
            data_dir
                .as_ref()
                .map(|dir| dir.join("secrets/audit-signing-key.pem"))
        })
        .filter(|path| path.exists());
    match signing_file {
        Some(path) => {
            let (status, age) = report::judge_age(file_time(&path).as_deref(), now, max);
            item.add(
                status,
                format!(
                    "audit signing key: {age} (the modification time of {})",
                    path.display()
                ),
            );
        }
        None => item.warn(
            "audit signing key: age unknown: the audit log records no signing-key rotation and no key file was named (set RAMPART_AUDIT_SIGNING_KEY_FILE or --signing-key-file)",
        ),
    }
    Ok(item)
}

/// Item 2.
fn review_users(users: &[ReviewedUser], previous: Option<Result<Report, String>>) -> Item {
    let mut item = Item::new(
        "users",
        "Admin users and roles, and changes since the last run",
        "GET /v1/admin/incidents/baseline (platform admins) and GET /v1/admin/tenants/{id}/users (each tenant's users), diffed against the previous run's JSON (--previous, or the file --json names)",
    );
    let admins: Vec<&ReviewedUser> = users.iter().filter(|u| u.tenant_id.is_empty()).collect();
    item.pass(format!(
        "platform admins ({}): {}",
        admins.len(),
        if admins.is_empty() {
            "none".to_owned()
        } else {
            admins
                .iter()
                .map(|u| {
                    format!(
                        "{} ({}{})",
                        u.email,
                        u.user_id,
                        if u.disabled { ", disabled" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let mut roles: BTreeMap<&str, usize> = BTreeMap::new();
    for user in users.iter().filter(|u| !u.tenant_id.is_empty()) {
        *roles.entry(user.role.as_str()).or_default() += 1;
    }
    item.pass(format!(
        "tenants' users by role: {}",
        if roles.is_empty() {
            "none".to_owned()
        } else {
            roles
                .iter()
                .map(|(role, n)| format!("{n} {role}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    match previous {
        None => item.pass("no previous run to compare with; this run's JSON is the next run's"),
        Some(Err(error)) => item.warn(format!("the previous run cannot be read: {error}")),
        Some(Ok(previous)) => {
            let changes = report::diff_users(&previous.users, users);
            if changes.is_empty() {
                item.pass(format!(
                    "no change since the previous run ({})",
                    previous.generated_at
                ));
            }
            for change in changes {
                item.warn(format!(
                    "since the previous run ({}): {change}",
                    previous.generated_at
                ));
            }
        }
    }
    item
}

/// Item 3.
fn second_factors(users: &[ReviewedUser]) -> Item {
    let mut item = Item::new(
        "second_factor",
        "Admins without a second factor",
        "second_factor of each platform admin in GET /v1/admin/incidents/baseline",
    );
    let admins: Vec<&ReviewedUser> = users.iter().filter(|u| u.tenant_id.is_empty()).collect();
    let mut with = 0;
    for admin in &admins {
        if admin.second_factor {
            with += 1;
        } else if admin.disabled {
            item.pass(format!(
                "{} ({}) has no second factor but is disabled",
                admin.email, admin.user_id
            ));
        } else {
            item.fail(format!(
                "{} ({}) is a platform admin without a second factor",
                admin.email, admin.user_id
            ));
        }
    }
    item.pass(format!(
        "platform admins with a second factor: {with} of {}",
        admins.len()
    ));
    item
}

/// The audit events of `log` matching `filter` (a query string), oldest
/// first, at most 10,000.
async fn events(admin: &AdminApi, log: &str, filter: &str) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut path = format!("/v1/admin/audit?log={log}&limit=100&{filter}");
        if !cursor.is_empty() {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = admin.send(Method::GET, &path, None).await?;
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

/// Item 4.
async fn sign_ins(
    admin: &AdminApi,
    args: &ChecklistArgs,
    tenants: &[String],
    users: &[ReviewedUser],
    now: DateTime<Utc>,
) -> anyhow::Result<Item> {
    let since = (now - chrono::Duration::days(i64::from(args.days)))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut item = Item::new(
        "sign_ins",
        "Failed sign-ins and lockouts",
        format!(
            "user.sign_in events with outcome failure or locked in the platform's and every tenant's audit log (GET /v1/admin/audit) since {since} (--days {}); warn at {} failures per account or address (--failed-sign-ins-warn) or any lockout",
            args.days, args.failed_sign_ins_warn
        ),
    );
    let filter = format!("action=user.sign_in&since={since}");
    let mut all = events(admin, "platform", &filter).await?;
    for tenant in tenants {
        all.extend(events(admin, tenant, &filter).await?);
    }
    let mut tally = SignInTally::count(&all);
    // Accounts by name as well as id, for the reader.
    let emails: BTreeMap<String, &str> = users
        .iter()
        .map(|u| (format!("user:{}", u.user_id), u.email.as_str()))
        .collect();
    tally.by_account = std::mem::take(&mut tally.by_account)
        .into_iter()
        .map(|(account, counts)| match emails.get(&account) {
            Some(email) => (format!("{account} ({email})"), counts),
            None => (account, counts),
        })
        .collect();
    tally.judge(&mut item, args.failed_sign_ins_warn);
    Ok(item)
}

/// Item 6: the incident playbook on a scratch tenant, each step timed.
async fn drill(admin: &AdminApi) -> Item {
    let mut item = Item::new(
        "incident_drill",
        "Incident playbook tested",
        "a scratch tenant made through POST /v1/admin/tenants, contained and restored through POST /v1/admin/incidents, its key tried at the edge (GET /v1/crm/customers), then deleted (DELETE /v1/admin/tenants/{id})",
    );
    let started = Instant::now();
    let name = format!("Checklist drill {}", Utc::now().format("%Y%m%d%H%M%S"));
    let created = admin
        .send(
            Method::POST,
            "/v1/admin/tenants",
            Some(json!({ "name": name, "office_domains": ["example.com"] })),
        )
        .await;
    let (tenant_id, key) = match created {
        Ok(tenant) => match (tenant["tenant_id"].as_str(), tenant["api_key"].as_str()) {
            (Some(id), Some(key)) => (id.to_owned(), SecretString::from(key.to_owned())),
            _ => {
                item.fail("create the scratch tenant: the answer has no tenant id or key");
                return item;
            }
        },
        Err(error) => {
            item.fail(format!("create the scratch tenant: {error:#}"));
            return item;
        }
    };
    item.pass(format!(
        "scratch tenant {tenant_id} with a key created in {} ms",
        started.elapsed().as_millis()
    ));
    if let Err(error) = contain_and_restore(admin, &tenant_id, &key, &mut item).await {
        item.fail(format!("{error:#}"));
    }
    let started = Instant::now();
    match admin
        .send(
            Method::DELETE,
            &format!("/v1/admin/tenants/{tenant_id}"),
            None,
        )
        .await
    {
        Ok(_) => item.pass(format!(
            "scratch tenant deleted in {} ms",
            started.elapsed().as_millis()
        )),
        Err(error) => item.fail(format!(
            "delete the scratch tenant {tenant_id}: {error:#}; delete it by hand"
        )),
    }
    item
}

async fn contain_and_restore(
    admin: &AdminApi,
    tenant_id: &str,
    key: &SecretString,
    item: &mut Item,
) -> anyhow::Result<()> {
    let probe = "/v1/crm/customers";
    let status = admin
        .status_with_api_key(probe, key.expose_secret())
        .await?;
    if status != StatusCode::OK {
        bail!("the scratch tenant's new key answered {status} at the edge, not 200 OK");
    }
    item.pass("the new key is accepted at the edge (200)");

    let started = Instant::now();
    let incident = admin
        .send(
            Method::POST,
            "/v1/admin/incidents",
            Some(json!({ "target_kind": "tenant", "target_id": tenant_id, "reason": "rampart checklist drill" })),
        )
        .await
        .context("contain the scratch tenant")?;
    let incident_id = incident["incident_id"]
        .as_str()
        .context("the containment answered no incident id")?
        .to_owned();
    item.pass(format!(
        "contained as incident {incident_id} in {} ms (API keys revoked: {})",
        started.elapsed().as_millis(),
        incident["credentials_revoked"]
    ));

    // Every gateway refuses within a second; this one is asked for up to
    // five before the step fails.
    let started = Instant::now();
    loop {
        let status = admin
            .status_with_api_key(probe, key.expose_secret())
            .await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            item.pass(format!(
                "the key is refused at the edge ({status}) {} ms after containment",
                started.elapsed().as_millis()
            ));
            break;
        }
        if started.elapsed() > Duration::from_secs(5) {
            bail!(
                "the contained tenant's key still answered {status} five seconds after containment"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let started = Instant::now();
    let restored = admin
        .send(
            Method::POST,
            &format!("/v1/admin/incidents/{incident_id}/restore"),
            None,
        )
        .await
        .context("restore the scratch tenant")?;
    if !restored["restored_at"].is_string() {
        bail!("the restore answered no restored_at");
    }
    item.pass(format!(
        "restored in {} ms (the revoked key stays revoked)",
        started.elapsed().as_millis()
    ));
    Ok(())
}
