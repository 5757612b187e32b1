//! The production profile: what `rampart serve` refuses to start with when
//! `RAMPART_ENV=production`.
//!
//! Each check looks at one setting and, when it is fit only for a laptop,
//! says so naming the setting. All of them run before the process refuses,
//! so an operator fixes a deployment in one round rather than one setting a
//! restart (`docs/environments.md` lists them).

use std::net::SocketAddr;
use std::path::Path;

use rampart_kit::secret::{ExposeSecret, SecretString};

/// The settings a production start is checked against, as `serve` read
/// them.
#[derive(Default)]
pub struct ProductionSettings<'a> {
    /// `DATABASE_URL`, when a service that has a database runs here.
    pub database_url: Option<&'a str>,
    /// Whether a service that has a database runs here.
    pub needs_database: bool,
    /// `REDIS_URL`.
    pub redis_url: Option<&'a str>,
    /// Whether a service that shares state through Redis (the gateway's
    /// rate limits and revocation cache, auth's revocation fan-out) runs
    /// here.
    pub needs_redis: bool,
    /// This process's admin listener (metrics and health), when it has
    /// one: the gateway's, or the services-only one of `rampart serve`.
    pub admin_listen: Option<SocketAddr>,
    /// Whether `RAMPART_ADMIN_TOKEN_FILE` protects that listener's metrics.
    pub admin_token: bool,
    /// Each secret read from the environment or a `*_FILE`, by setting
    /// name (without `_FILE`), with the shortest length it may have.
    pub secrets: Vec<(&'a str, &'a SecretString, usize)>,
}

/// The shortest a random secret may be: 32 characters, which in hex or
/// base64 is at least 128 bits.
pub const MIN_SECRET_LEN: usize = 32;

/// Every reason the settings are unfit for production; empty when fit.
#[must_use]
pub fn refusals(settings: &ProductionSettings<'_>) -> Vec<String> {
    let mut refusals = Vec::new();
    if settings.needs_database
        && let Some(url) = settings.database_url
    {
        refusals.extend(database_refusal(url));
    }
    if settings.needs_redis {
        match settings.redis_url {
            None => refusals.push(
                "REDIS_URL is not set: production does not run on the in-process cache and rate limiter (single process only); set REDIS_URL to a rediss:// URL".to_owned(),
            ),
            Some(url) => refusals.extend(redis_refusal(url)),
        }
    } else if let Some(url) = settings.redis_url {
        refusals.extend(redis_refusal(url));
    }
    if let Some(addr) = settings.admin_listen
        && !addr.ip().is_loopback()
        && !settings.admin_token
    {
        refusals.push(format!(
            "RAMPART_ADMIN_LISTEN is {addr}, beyond loopback, and RAMPART_ADMIN_TOKEN_FILE is not set: anyone on that network could read the metrics; set RAMPART_ADMIN_TOKEN_FILE or listen on 127.0.0.1"
        ));
    }
    for (name, secret, min_len) in &settings.secrets {
        refusals.extend(secret_refusal(name, secret, *min_len));
    }
    refusals
}

/// Turns refusals into one error listing them all.
pub fn check(settings: &ProductionSettings<'_>) -> anyhow::Result<()> {
    let refusals = refusals(settings);
    if refusals.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "RAMPART_ENV=production refuses to start with {} unfit setting(s):",
        refusals.len()
    );
    for refusal in &refusals {
        message.push_str("\n  - ");
        message.push_str(refusal);
    }
    anyhow::bail!(message)
}

/// PostgreSQL over TLS with the server's name and certificate checked
/// against a named CA; anything less lets a machine in the path read or
/// answer for the database.
fn database_refusal(url: &str) -> Option<String> {
    if url.starts_with("sqlite:") {
        return Some(
            "DATABASE_URL is SQLite, the single-machine default; production needs PostgreSQL with sslmode=verify-full".to_owned(),
        );
    }
    let parameter = |names: &[&str]| query_parameter(url, names);
    let mode = parameter(&["sslmode", "ssl-mode"]);
    if !mode.is_some_and(|mode| mode.eq_ignore_ascii_case("verify-full")) {
        return Some(format!(
            "DATABASE_URL has sslmode={}: production needs sslmode=verify-full (TLS with the server's certificate and name checked) and sslrootcert=<CA file>",
            mode.unwrap_or("prefer (the default)")
        ));
    }
    match parameter(&["sslrootcert", "ssl-root-cert"]) {
        None => Some(
            "DATABASE_URL has no sslrootcert: name the CA file the PostgreSQL server's certificate is checked against".to_owned(),
        ),
        Some(path) if !Path::new(path).is_file() => Some(format!(
            "DATABASE_URL names sslrootcert={path}, which is not a readable file"
        )),
        Some(_) => None,
    }
}

/// The value of the first of `names` in the URL's query.
fn query_parameter<'u>(url: &'u str, names: &[&str]) -> Option<&'u str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        names.contains(&key).then_some(value)
    })
}

fn redis_refusal(url: &str) -> Option<String> {
    if !url.starts_with("rediss://") {
        return Some(
            "REDIS_URL is redis://, plain text: production needs rediss:// (TLS; trust a private CA with RAMPART_REDIS_CA_FILE)".to_owned(),
        );
    }
    if url.ends_with("#insecure") {
        return Some(
            "REDIS_URL ends in #insecure, which skips the certificate check: remove it and trust the server's CA with RAMPART_REDIS_CA_FILE".to_owned(),
        );
    }
    None
}

/// Values people put in examples and development setups, never in a
/// production secret. Long enough that random text does not contain one.
const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "development",
    "insecure",
    "example",
    "password",
    "notsecret",
    "not-secret",
    "donotuse",
    "do-not-use",
    "0123456789abcdef",
];

fn secret_refusal(name: &str, secret: &SecretString, min_len: usize) -> Option<String> {
    let value = secret.expose_secret();
    if value.len() < min_len {
        return Some(format!(
            "{name} is too short ({} characters): production needs at least {min_len} characters of random",
            value.len()
        ));
    }
    let lowered = value.to_ascii_lowercase();
    if let Some(found) = PLACEHOLDERS.iter().find(|p| lowered.contains(*p)) {
        return Some(format!(
            "{name} contains {found:?}, a development or example value: generate a random one"
        ));
    }
    let mut seen = [false; 256];
    for byte in value.bytes() {
        seen[usize::from(byte)] = true;
    }
    if seen.iter().filter(|s| **s).count() < 8 {
        return Some(format!(
            "{name} repeats a few characters: it is not random; generate a random one"
        ));
    }
    if let Ok(path) = std::env::var(format!("{name}_FILE"))
        && in_dev_data_folder(Path::new(&path))
    {
        return Some(format!(
            "{name}_FILE is {path}, a secret `rampart dev` generated in its data folder: production needs secrets of its own"
        ));
    }
    None
}

/// Whether `path` is in the `secrets/` folder of a `rampart dev` data
/// folder (one that holds its lock file or SQLite databases).
fn in_dev_data_folder(path: &Path) -> bool {
    let Some(secrets) = path.parent() else {
        return false;
    };
    if secrets.file_name().is_none_or(|name| name != "secrets") {
        return false;
    }
    let Some(data) = secrets.parent() else {
        return false;
    };
    ["lock", "auth.db", "crm.db", "audit.db"]
        .iter()
        .any(|name| data.join(name).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_secret() -> SecretString {
        SecretString::from(rampart_kit::secret::hex(
            &rampart_kit::secret::random_bytes::<32>(),
        ))
    }

    #[test]
    fn a_sound_configuration_has_no_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "pem").unwrap();
        let url = format!(
            "postgres://rampart@db/rampart?sslmode=verify-full&sslrootcert={}",
            ca.display()
        );
        let secret = random_secret();
        let settings = ProductionSettings {
            database_url: Some(&url),
            needs_database: true,
            redis_url: Some("rediss://cache:6380"),
            needs_redis: true,
            admin_listen: Some(SocketAddr::from(([0, 0, 0, 0], 9464))),
            admin_token: true,
            secrets: vec![("RAMPART_KEY_HASH_SECRET", &secret, MIN_SECRET_LEN)],
        };
        assert_eq!(refusals(&settings), Vec::<String>::new());
    }

    #[test]
    fn every_refusal_names_its_setting_and_all_are_listed() {
        let short = SecretString::from("abc".to_owned());
        let placeholder = SecretString::from("changeme-changeme-changeme-changeme".to_owned());
        let repeated = SecretString::from("ab".repeat(32));
        let settings = ProductionSettings {
            database_url: Some("postgres://rampart@db/rampart?sslmode=require"),
            needs_database: true,
            redis_url: Some("redis://cache:6379"),
            needs_redis: true,
            admin_listen: Some(SocketAddr::from(([0, 0, 0, 0], 9464))),
            admin_token: false,
            secrets: vec![
                ("RAMPART_KEY_HASH_SECRET", &short, MIN_SECRET_LEN),
                ("RAMPART_TOTP_ENCRYPTION_KEY", &placeholder, MIN_SECRET_LEN),
                ("RAMPART_MASTER_KEY", &repeated, MIN_SECRET_LEN),
            ],
        };
        let found = refusals(&settings);
        for name in [
            "DATABASE_URL has sslmode=require",
            "REDIS_URL is redis://",
            "RAMPART_ADMIN_LISTEN",
            "RAMPART_KEY_HASH_SECRET is too short",
            "RAMPART_TOTP_ENCRYPTION_KEY contains \"changeme\"",
            "RAMPART_MASTER_KEY repeats",
        ] {
            assert!(found.iter().any(|r| r.contains(name)), "{name}: {found:#?}");
        }
        assert_eq!(found.len(), 6, "{found:#?}");
        let error = check(&settings).unwrap_err().to_string();
        assert!(error.contains("6 unfit setting(s)"), "{error}");
    }

    #[test]
    fn database_urls_need_verify_full_and_a_ca() {
        assert!(
            database_refusal("sqlite://x.db")
                .unwrap()
                .contains("SQLite")
        );
        assert!(
            database_refusal("postgres://db/r")
                .unwrap()
                .contains("sslmode=prefer")
        );
        assert!(
            database_refusal("postgres://db/r?sslmode=verify-ca&sslrootcert=/x")
                .unwrap()
                .contains("sslmode=verify-ca")
        );
        assert!(
            database_refusal("postgres://db/r?sslmode=verify-full")
                .unwrap()
                .contains("no sslrootcert")
        );
        assert!(
            database_refusal("postgres://db/r?sslmode=verify-full&sslrootcert=/no/such/ca.pem")
                .unwrap()
                .contains("not a readable file")
        );
    }

    #[test]
    fn redis_needs_tls_with_its_check() {
        assert!(redis_refusal("rediss://cache:6380/0").is_none());
        assert!(
            redis_refusal("rediss://cache:6380/#insecure")
                .unwrap()
                .contains("#insecure")
        );
        let missing = refusals(&ProductionSettings {
            needs_redis: true,
            ..ProductionSettings::default()
        });
        assert!(missing[0].contains("REDIS_URL is not set"), "{missing:?}");
        // Loopback needs no token.
        assert!(
            refusals(&ProductionSettings {
                admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
                ..ProductionSettings::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn secrets_of_a_dev_data_folder_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let data = crate::dev_data::DataDir::open(dir.path()).unwrap();
        let _lock = data.lock().unwrap();
        data.key_hash_secret().unwrap();
        assert!(in_dev_data_folder(
            &dir.path().join("secrets/key-hash-secret")
        ));
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir(elsewhere.path().join("secrets")).unwrap();
        assert!(!in_dev_data_folder(
            &elsewhere.path().join("secrets/key-hash-secret")
        ));
    }
}
