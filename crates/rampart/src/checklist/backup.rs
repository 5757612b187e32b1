//! Item 5, backup and restore, done for real rather than asked about.
//!
//! - PostgreSQL: a repeatable-read transaction exports its snapshot and
//!   counts every table's rows in it; `pg_dump --snapshot` dumps exactly
//!   that snapshot; `pg_restore` loads the dump into a scratch database
//!   with a unique name, whose counts must be equal; the scratch database
//!   is dropped afterwards whatever happened.
//! - The embedded default: each service's SQLite file is copied with
//!   `VACUUM INTO` (a consistent copy of a live database), the copy is
//!   opened, `PRAGMA integrity_check` must answer `ok`, and its counts
//!   must equal the source's (taken before and after the copy; a write in
//!   between is retried).
//!
//! The password of a database URL goes to `pg_dump` and `pg_restore`
//! through `PGPASSWORD`, never on their command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use rampart_kit::db::redact_url;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, IsolationLevel, Statement, TransactionTrait,
};

use super::report::Item;

/// Which databases the stack keeps, from the same settings `rampart
/// serve` and `rampart migrate` read.
#[derive(Debug, Clone)]
pub enum Databases {
    /// One PostgreSQL database shared by the services (`DATABASE_URL`).
    Postgres(String),
    /// The embedded default's data folder with one SQLite file a service.
    Embedded(PathBuf),
    /// One SQLite file shared by the services (`DATABASE_URL=sqlite:...`).
    SqliteFile(PathBuf),
}

/// Rows per table (schema-qualified on PostgreSQL).
type Counts = BTreeMap<String, i64>;

/// The services with a database, as `rampart migrate` lists them.
const SERVICES: [&str; 4] = ["auth", "crm", "escalation", "audit"];

/// Item 5.
pub async fn check(databases: &Databases) -> Item {
    match databases {
        Databases::Postgres(url) => {
            let mut item = Item::new(
                "backup",
                "Backup and restore",
                format!(
                    "pg_dump of {} at an exported snapshot, restored with pg_restore into a scratch database, row counts compared",
                    redact_url(url)
                ),
            );
            if let Err(error) = postgres(url, &mut item).await {
                item.fail(format!("{error:#}"));
            }
            item
        }
        Databases::Embedded(dir) => {
            let mut item = Item::new(
                "backup",
                "Backup and restore",
                format!(
                    "VACUUM INTO of each SQLite database in {}, the copy opened, PRAGMA integrity_check, row counts compared",
                    dir.display()
                ),
            );
            let files: Vec<(String, PathBuf)> = SERVICES
                .iter()
                .map(|service| (format!("{service}.db"), dir.join(format!("{service}.db"))))
                .filter(|(_, path)| path.exists())
                .collect();
            if files.is_empty() {
                item.fail(format!(
                    "no service database (auth.db, crm.db, escalation.db, audit.db) in the data folder {}; set --data-dir (RAMPART_DATA_DIR) to the folder `rampart dev` uses, or DATABASE_URL",
                    dir.display()
                ));
            } else if let Err(error) = sqlite(&files, &mut item).await {
                item.fail(format!("{error:#}"));
            }
            item
        }
        Databases::SqliteFile(path) => {
            let mut item = Item::new(
                "backup",
                "Backup and restore",
                format!(
                    "VACUUM INTO of {}, the copy opened, PRAGMA integrity_check, row counts compared",
                    path.display()
                ),
            );
            if !path.exists() {
                item.fail(format!(
                    "DATABASE_URL names {}, which does not exist",
                    path.display()
                ));
            } else if let Err(error) =
                sqlite(&[("database".to_owned(), path.clone())], &mut item).await
            {
                item.fail(format!("{error:#}"));
            }
            item
        }
    }
}

fn unique_suffix() -> anyhow::Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 6];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness for a scratch name"))?;
    Ok(format!(
        "{}_{}",
        chrono::Utc::now().timestamp(),
        rampart_kit::secret::hex(&bytes)
    ))
}

/// A scratch folder, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("rampart-checklist-{}", unique_suffix()?));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create the scratch folder {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

async fn count_tables<C: ConnectionTrait>(db: &C, tables: &[String]) -> anyhow::Result<Counts> {
    let mut counts = Counts::new();
    for table in tables {
        let quoted = match table.split_once('.') {
            Some((schema, name)) => format!("{}.{}", quote(schema), quote(name)),
            None => quote(table),
        };
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT count(*) AS n FROM {quoted}"),
            ))
            .await
            .with_context(|| format!("counting the rows of {table}"))?
            .with_context(|| format!("no count for {table}"))?;
        counts.insert(table.clone(), row.try_get::<i64>("", "n")?);
    }
    Ok(counts)
}

async fn names<C: ConnectionTrait>(db: &C, sql: &str) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .context("listing the tables")?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String>("", "name")?))
        .collect()
}

/// The tables that differ between `source` and `copy`, named with both
/// counts.
fn compare(source: &Counts, copy: &Counts) -> Vec<String> {
    let mut differences = Vec::new();
    for (table, rows) in source {
        match copy.get(table) {
            Some(copied) if copied == rows => {}
            Some(copied) => differences.push(format!("{table}: {rows} rows, {copied} restored")),
            None => differences.push(format!("{table}: {rows} rows, table missing after restore")),
        }
    }
    for table in copy.keys() {
        if !source.contains_key(table) {
            differences.push(format!("{table}: restored but not in the source"));
        }
    }
    differences
}

fn judge(item: &mut Item, what: &str, source: &Counts, copy: &Counts) {
    let differences = compare(source, copy);
    let rows: i64 = source.values().sum();
    if differences.is_empty() {
        item.pass(format!(
            "{what}: {} tables, {rows} rows, every count equal after restore",
            source.len()
        ));
    } else {
        item.fail(format!(
            "{what}: counts differ after restore: {}",
            differences.join("; ")
        ));
    }
}

// --- PostgreSQL -----------------------------------------------------------

/// A PostgreSQL URL split for libpq: the URL without its password, the
/// password (percent-decoded), and the same URL naming another database.
#[derive(Debug, PartialEq, Eq)]
struct PgUrl {
    /// `scheme://user@host:port` without the password.
    base: String,
    password: Option<String>,
    database: String,
    /// `?...` or empty.
    query: String,
}

impl PgUrl {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(scheme, _)| *scheme == "postgres" || *scheme == "postgresql")
            .context("DATABASE_URL must start with postgres://")?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, format!("?{query}")),
            None => (rest, String::new()),
        };
        let (authority, database) = rest
            .split_once('/')
            .filter(|(_, db)| !db.is_empty())
            .context("DATABASE_URL names no database (postgres://user@host:port/database)")?;
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (Some(user), Some(percent_decode(password))),
                None => (Some(info), None),
            },
            None => (None, None),
        };
        let base = match user {
            Some(user) => format!("{scheme}://{user}@{host}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(Self {
            base,
            password,
            database: database.to_owned(),
            query,
        })
    }

    /// The URL without its password, for `database`.
    fn for_database(&self, database: &str) -> String {
        format!("{}/{database}{}", self.base, self.query)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs a PostgreSQL client tool off the async runtime; its error output
/// is the error.
async fn run_tool(
    tool: &'static str,
    args: Vec<String>,
    password: Option<String>,
) -> anyhow::Result<()> {
    let output = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(tool);
        command.args(&args).stdin(std::process::Stdio::null());
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        command.output()
    })
    .await
    .context("the client tool's task")?
    .with_context(|| format!("cannot run {tool}: is the PostgreSQL client installed?"))?;
    if !output.status.success() {
        bail!(
            "{tool} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

const PG_TABLES: &str = "SELECT schemaname || '.' || tablename AS name FROM pg_tables \
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

async fn postgres(url: &str, item: &mut Item) -> anyhow::Result<()> {
    let parsed = PgUrl::parse(url)?;
    let db = rampart_kit::db::connect(url)
        .await
        .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
    let scratch_dir = ScratchDir::new()?;
    let dump = scratch_dir.0.join("rampart.dump");

    // The counts and the dump see the same snapshot.
    let started = Instant::now();
    let transaction = db
        .begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await
        .context("starting the snapshot transaction")?;
    let snapshot = transaction
        .query_one_raw(Statement::from_string(
            transaction.get_database_backend(),
            "SELECT pg_export_snapshot() AS name",
        ))
        .await
        .context("exporting the snapshot")?
        .context("no snapshot")?
        .try_get::<String>("", "name")?;
    let tables = names(&transaction, PG_TABLES).await?;
    let source = count_tables(&transaction, &tables).await?;
    let dumped = run_tool(
        "pg_dump",
        vec![
            format!("--snapshot={snapshot}"),
            "--format=custom".to_owned(),
            "--no-owner".to_owned(),
            "--no-privileges".to_owned(),
            format!("--file={}", dump.display()),
            format!("--dbname={}", parsed.for_database(&parsed.database)),
        ],
        parsed.password.clone(),
    )
    .await;
    let _ = transaction.rollback().await;
    dumped?;
    let size = std::fs::metadata(&dump).map(|m| m.len()).unwrap_or(0);
    item.pass(format!(
        "pg_dump of database {} at snapshot {snapshot}: {size} bytes in {} ms",
        parsed.database,
        started.elapsed().as_millis()
    ));

    let scratch = format!("rampart_checklist_{}", unique_suffix()?);
    db.execute_unprepared(&format!("CREATE DATABASE {}", quote(&scratch)))
        .await
        .with_context(|| {
            format!("cannot create the scratch database {scratch} (the role needs CREATEDB)")
        })?;
    let restored = restore_and_count(&parsed, &scratch, &dump, &tables).await;
    let dropped = db
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote(&scratch)
        ))
        .await;
    rampart_kit::db::close(db).await;
    let (copy, took) = restored?;
    item.pass(format!(
        "restored into scratch database {scratch} with pg_restore in {took} ms"
    ));
    judge(
        item,
        &format!("database {}", parsed.database),
        &source,
        &copy,
    );
    match dropped {
        Ok(_) => item.pass(format!("scratch database {scratch} dropped")),
        Err(error) => item.warn(format!(
            "scratch database {scratch} could not be dropped: {error}; drop it by hand"
        )),
    }
    Ok(())
}

async fn restore_and_count(
    url: &PgUrl,
    scratch: &str,
    dump: &Path,
    tables: &[String],
) -> anyhow::Result<(Counts, u128)> {
    let started = Instant::now();
    run_tool(
        "pg_restore",
        vec![
            "--no-owner".to_owned(),
            "--no-privileges".to_owned(),
            "--exit-on-error".to_owned(),
            format!("--dbname={}", url.for_database(scratch)),
            dump.display().to_string(),
        ],
        url.password.clone(),
    )
    .await?;
    let took = started.elapsed().as_millis();
    let mut scratch_url = url.for_database(scratch);
    if let Some(password) = &url.password {
        // sea-orm wants the password in the URL; it stays in this process.
        let encoded: String = password
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        scratch_url = scratch_url.replacen('@', &format!(":{encoded}@"), 1);
    }
    let copy_db = rampart_kit::db::connect(&scratch_url).await?;
    let restored_tables = names(&copy_db, PG_TABLES).await?;
    let mut all = tables.to_vec();
    for table in restored_tables {
        if !all.contains(&table) {
            all.push(table);
        }
    }
    let counts = count_tables(&copy_db, &all).await;
    rampart_kit::db::close(copy_db).await;
    Ok((counts?, took))
}

// --- The embedded default ------------------------------------------------

const SQLITE_TABLES: &str =
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1";

async fn sqlite(files: &[(String, PathBuf)], item: &mut Item) -> anyhow::Result<()> {
    let scratch = ScratchDir::new()?;
    for (service, path) in files {
        let copy = scratch.0.join(service);
        let started = Instant::now();
        let db = rampart_kit::db::connect(&rampart_kit::db::sqlite_url(path))
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        let result = sqlite_copy(&db, &copy).await;
        rampart_kit::db::close(db).await;
        let source = result.with_context(|| format!("backing up {}", path.display()))?;
        let took = started.elapsed().as_millis();

        let copy_db = rampart_kit::db::connect(&rampart_kit::db::sqlite_url(&copy)).await?;
        let checked = integrity_and_counts(&copy_db).await;
        rampart_kit::db::close(copy_db).await;
        let (integrity, counts) = checked?;
        let size = std::fs::metadata(&copy).map(|m| m.len()).unwrap_or(0);
        item.pass(format!(
            "{service}: copied with VACUUM INTO ({size} bytes) in {took} ms"
        ));
        if integrity == "ok" {
            item.pass(format!("{service} copy: PRAGMA integrity_check ok"));
        } else {
            item.fail(format!(
                "{service} copy: PRAGMA integrity_check says {integrity}"
            ));
        }
        judge(item, service, &source, &counts);
    }
    Ok(())
}

/// Copies the database into `copy`, and returns the source's counts,
/// unchanged across the copy (up to three tries while it is written).
async fn sqlite_copy(db: &DatabaseConnection, copy: &Path) -> anyhow::Result<Counts> {
    let into = copy.display().to_string().replace('\'', "''");
    for _ in 0..3 {
        let _ = std::fs::remove_file(copy);
        let tables = names(db, SQLITE_TABLES).await?;
        let before = count_tables(db, &tables).await?;
        db.execute_unprepared(&format!("VACUUM INTO '{into}'"))
            .await
            .context("VACUUM INTO")?;
        let after = count_tables(db, &tables).await?;
        if before == after {
            return Ok(before);
        }
    }
    bail!("the database changed during each of three copies; run again when it is quieter")
}

async fn integrity_and_counts(db: &DatabaseConnection) -> anyhow::Result<(String, Counts)> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .context("PRAGMA integrity_check")?;
    let integrity = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?
        .join("; ");
    let tables = names(db, SQLITE_TABLES).await?;
    Ok((integrity, count_tables(db, &tables).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_so_the_password_stays_off_the_command_line() {
        let url =
            PgUrl::parse("postgres://app:s%40cret@db:5432/rampart?sslmode=verify-full").unwrap();
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!(url.database, "rampart");
        assert_eq!(
            url.for_database("scratch"),
            "postgres://app@db:5432/scratch?sslmode=verify-full"
        );
        let plain = PgUrl::parse("postgresql://postgres@127.0.0.1/rampart").unwrap();
        assert_eq!(plain.password, None);
        assert_eq!(plain.for_database("x"), "postgresql://postgres@127.0.0.1/x");
        assert!(PgUrl::parse("postgres://db:5432").is_err());
        assert!(PgUrl::parse("mysql://db/rampart").is_err());
    }

    #[test]
    fn differing_counts_are_named() {
        let source: Counts = [("a".to_owned(), 2), ("b".to_owned(), 1)].into();
        assert!(compare(&source, &source).is_empty());
        let copy: Counts = [("a".to_owned(), 1), ("c".to_owned(), 0)].into();
        let differences = compare(&source, &copy);
        assert_eq!(differences.len(), 3, "{differences:?}");
        assert!(differences[0].contains("a: 2 rows, 1 restored"));
        assert!(differences[1].contains("b: 1 rows, table missing"));
        assert!(differences[2].contains("c: restored but not in the source"));
    }
}
