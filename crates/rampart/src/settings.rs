//! Settings: flags, then environment, then an optional TOML file, then
//! defaults. Everything is parsed and checked before any service starts, and
//! each bad value gets a message naming it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rampart_kit::pki::ServiceName;
use serde::Deserialize;

/// The optional settings file (`--config`, `RAMPART_CONFIG`).
///
/// ```toml
/// data_dir = ".rampart"
/// listen = "127.0.0.1:8443"
/// database_url = "postgres://rampart@db/rampart"
/// redis_url = "redis://cache:6379"
/// pki_dir = "/etc/rampart/pki"
/// log_format = "json"
///
/// [services.auth]
/// listen = "0.0.0.0:7001"
/// url = "https://auth.rampart.svc:7001"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub pki_dir: Option<PathBuf>,
    pub log_format: Option<String>,
    #[serde(default)]
    pub services: HashMap<String, ServiceFileSettings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFileSettings {
    pub listen: Option<String>,
    pub url: Option<String>,
}

impl FileSettings {
    /// Reads the file, or the defaults when no file is named.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the settings file {}", path.display()))?;
        let settings: Self = toml::from_str(&text)
            .with_context(|| format!("the settings file {} is not valid", path.display()))?;
        for name in settings.services.keys() {
            ServiceName::parse(name)
                .with_context(|| format!("in [services.{name}] of {}", path.display()))?;
        }
        Ok(settings)
    }

    fn service(&self, service: ServiceName) -> Option<&ServiceFileSettings> {
        self.services.get(service.as_str())
    }
}

/// Parses a listen address with a message naming where it came from.
pub fn parse_listen(value: &str, what: &str) -> anyhow::Result<SocketAddr> {
    value.parse().with_context(|| {
        format!("{what} must be an address and port such as 127.0.0.1:8443, not {value:?}")
    })
}

fn default_port(service: ServiceName) -> u16 {
    match service {
        ServiceName::Gateway => 8443,
        ServiceName::Auth => 7001,
        ServiceName::Crm => 7002,
        ServiceName::Escalation => 7003,
        ServiceName::Audit => 7004,
    }
}

fn env_name(service: ServiceName, suffix: &str) -> String {
    format!("RAMPART_{}_{suffix}", service.as_str().to_ascii_uppercase())
}

/// Where `service` listens under `rampart serve`: `RAMPART_<SERVICE>_LISTEN`,
/// then the file, then all interfaces on the default port.
pub fn serve_listen(file: &FileSettings, service: ServiceName) -> anyhow::Result<SocketAddr> {
    let name = env_name(service, "LISTEN");
    if let Ok(value) = std::env::var(&name) {
        return parse_listen(&value, &name);
    }
    if let Some(value) = file.service(service).and_then(|s| s.listen.as_deref()) {
        return parse_listen(value, &format!("services.{service}.listen"));
    }
    Ok(SocketAddr::from(([0, 0, 0, 0], default_port(service))))
}

/// Where `service` is reached by its peers: `RAMPART_<SERVICE>_URL`, then the
/// file, then loopback on the default port.
pub fn peer_url(file: &FileSettings, service: ServiceName) -> anyhow::Result<String> {
    let name = env_name(service, "URL");
    let (value, what) = match std::env::var(&name) {
        Ok(value) => (value, name),
        Err(_) => match file.service(service).and_then(|s| s.url.clone()) {
            Some(value) => (value, format!("services.{service}.url")),
            None => return Ok(format!("https://127.0.0.1:{}", default_port(service))),
        },
    };
    if !value.starts_with("https://") {
        bail!("{what} must be an https:// URL (services talk mutual TLS), not {value:?}");
    }
    Ok(value)
}

/// How often audit signs checkpoints: `RAMPART_AUDIT_CHECKPOINT_INTERVAL`
/// in whole seconds (1 to 86400), default 60.
pub fn audit_checkpoint_interval() -> anyhow::Result<std::time::Duration> {
    const NAME: &str = "RAMPART_AUDIT_CHECKPOINT_INTERVAL";
    let Ok(value) = std::env::var(NAME) else {
        return Ok(rampart_audit::DEFAULT_CHECKPOINT_INTERVAL);
    };
    match value.trim().parse::<u64>() {
        Ok(secs) if (1..=86_400).contains(&secs) => Ok(std::time::Duration::from_secs(secs)),
        _ => bail!("{NAME} must be a whole number of seconds from 1 to 86400, not {value:?}"),
    }
}

/// Checks a database URL's scheme.
pub fn check_database_url(url: &str, what: &str) -> anyhow::Result<()> {
    if url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url.starts_with("sqlite:")
    {
        Ok(())
    } else {
        bail!("{what} must start with postgres:// (or sqlite: for a single machine)")
    }
}

/// Checks a Redis URL's scheme.
pub fn check_redis_url(url: &str, what: &str) -> anyhow::Result<()> {
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        Ok(())
    } else {
        bail!("{what} must start with redis:// or rediss://")
    }
}

/// Account settings from the environment, each checked:
///
/// - `RAMPART_ADMIN_EMAIL_DOMAINS`: comma-separated office domains platform
///   admins' emails must be in;
/// - `RAMPART_SESSION_IDLE_SECS` (default 3600) and
///   `RAMPART_SESSION_ABSOLUTE_SECS` (default 86400);
/// - `RAMPART_SESSION_NEW_CLIENT_POLICY`: `allow` (default) or `revoke`
///   (a session token seen from a new client address ends all of the
///   user's sessions);
/// - `RAMPART_MAX_CONCURRENT_HASHES` (default 4): Argon2id runs at once.
pub fn account_settings_from_env() -> anyhow::Result<rampart_auth::AccountSettings> {
    let mut settings = rampart_auth::AccountSettings::default();
    if let Ok(domains) = std::env::var("RAMPART_ADMIN_EMAIL_DOMAINS") {
        settings.admin_email_domains = parse_domains(&domains);
    }
    let seconds = |name: &str| -> anyhow::Result<Option<std::time::Duration>> {
        match std::env::var(name) {
            Ok(value) => {
                let secs: u64 = value
                    .parse()
                    .ok()
                    .filter(|secs| *secs > 0)
                    .with_context(|| format!("{name} must be a positive number of seconds"))?;
                Ok(Some(std::time::Duration::from_secs(secs)))
            }
            Err(_) => Ok(None),
        }
    };
    if let Some(idle) = seconds("RAMPART_SESSION_IDLE_SECS")? {
        settings.session_idle_timeout = idle;
    }
    if let Some(absolute) = seconds("RAMPART_SESSION_ABSOLUTE_SECS")? {
        settings.session_absolute_timeout = absolute;
    }
    if let Ok(policy) = std::env::var("RAMPART_SESSION_NEW_CLIENT_POLICY") {
        settings.new_client_policy = rampart_auth::NewClientPolicy::parse(&policy)?;
    }
    if let Ok(value) = std::env::var("RAMPART_MAX_CONCURRENT_HASHES") {
        settings.max_concurrent_hashes = value
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .context("RAMPART_MAX_CONCURRENT_HASHES must be a positive number")?;
    }
    Ok(settings)
}

/// Splits a comma-separated list of domains, dropping blanks.
#[must_use]
pub fn parse_domains(text: &str) -> Vec<String> {
    text.split(',')
        .map(|domain| domain.trim().to_lowercase())
        .filter(|domain| !domain.is_empty())
        .collect()
}

/// Checks the admins' secret sign-in path segment: long enough not to be
/// guessed, and safe in a URL.
pub fn check_admin_sign_in_path(segment: &str) -> anyhow::Result<()> {
    let safe = segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if segment.len() < 16 || !safe {
        bail!(
            "RAMPART_ADMIN_SIGN_IN_PATH must be at least 16 characters of letters, digits, '-' and '_'"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_settings_parse_and_reject_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "listen = \"127.0.0.1:9443\"\n[services.auth]\nurl = \"https://auth:7001\"\n",
        )
        .unwrap();
        let settings = FileSettings::load(Some(&good)).unwrap();
        assert_eq!(settings.listen.as_deref(), Some("127.0.0.1:9443"));

        let typo = dir.path().join("typo.toml");
        std::fs::write(&typo, "lisen = \"x\"\n").unwrap();
        assert!(FileSettings::load(Some(&typo)).is_err());

        let unknown_service = dir.path().join("svc.toml");
        std::fs::write(
            &unknown_service,
            "[services.billing]\nlisten = \"0.0.0.0:1\"\n",
        )
        .unwrap();
        let error = FileSettings::load(Some(&unknown_service)).unwrap_err();
        assert!(format!("{error:#}").contains("unknown service"));
    }

    #[test]
    fn values_are_checked() {
        assert!(parse_listen("127.0.0.1:8443", "x").is_ok());
        assert!(parse_listen("localhost", "x").is_err());
        assert!(check_database_url("mysql://x", "DATABASE_URL").is_err());
        assert!(check_redis_url("http://x", "REDIS_URL").is_err());
        let file = FileSettings {
            services: HashMap::from([(
                "crm".to_owned(),
                ServiceFileSettings {
                    listen: None,
                    url: Some("http://crm:7002".to_owned()),
                },
            )]),
            ..FileSettings::default()
        };
        assert!(peer_url(&file, ServiceName::Crm).is_err());
        assert_eq!(
            peer_url(&file, ServiceName::Audit).unwrap(),
            "https://127.0.0.1:7004"
        );
    }

    #[test]
    fn admin_settings_are_checked() {
        assert_eq!(
            parse_domains(" Corp.Example, ,ops.example "),
            vec!["corp.example".to_owned(), "ops.example".to_owned()]
        );
        assert!(check_admin_sign_in_path("admin-0123456789abcdef").is_ok());
        assert!(check_admin_sign_in_path("admin").is_err());
        assert!(check_admin_sign_in_path("admin/../0123456789abcdef").is_err());
    }
}
