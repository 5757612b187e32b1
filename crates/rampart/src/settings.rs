//! Settings: flags, then environment, then an optional TOML file, then
//! defaults. Everything is parsed and checked before any service starts, and
//! each bad value gets a message naming it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use rampart_kit::environment::Environment;
use rampart_kit::local::Transport;
use rampart_kit::pki::ServiceName;
use rampart_kit::rate_limit::Quota;
use serde::Deserialize;

/// The optional settings file (`--config`, `RAMPART_CONFIG`).
///
/// ```toml
/// env = "production"
/// data_dir = ".rampart"
/// listen = "127.0.0.1:8443"
/// database_url = "postgres://rampart@db/rampart"
/// redis_url = "redis://cache:6379"
/// pki_dir = "/etc/rampart/pki"
/// log_format = "json"
/// admin_listen = "127.0.0.1:9464"
/// public_url = "https://api.example.com"
/// transport = "in-process"
///
/// [security_txt]
/// contact = ["mailto:security@example.com"]
/// expires = "2027-06-30T00:00:00Z"
/// policy = "https://example.com/security-policy"
///
/// [edge]
/// idle_timeout_secs = 75
///
/// [services.auth]
/// listen = "0.0.0.0:7001"
/// url = "https://auth.rampart.svc:7001"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// `development`, `staging` or `production` (`RAMPART_ENV` and `--env`
    /// override it).
    pub env: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub pki_dir: Option<PathBuf>,
    pub log_format: Option<String>,
    /// The gateway's internal admin listener (metrics, health).
    pub admin_listen: Option<String>,
    /// `/.well-known/security.txt`; absent means that path answers 404.
    pub security_txt: Option<SecurityTxtSettings>,
    /// The gateway's default rate limits; each field absent keeps its
    /// default.
    pub rate_limits: Option<RateLimitSettings>,
    /// The gateway's connection limits; each field absent keeps its default.
    pub edge: Option<EdgeSettings>,
    /// The edge's public URL (`RAMPART_PUBLIC_URL` overrides it): what
    /// Twilio's webhook signatures cover. Absent: the telephony webhooks
    /// refuse every call.
    pub public_url: Option<String>,
    /// How the gateway reaches services in its own process: `in-process`
    /// (the default) or `grpc` (`RAMPART_TRANSPORT` overrides it).
    pub transport: Option<String>,
    #[serde(default)]
    pub services: HashMap<String, ServiceFileSettings>,
}

/// `[rate_limits]`: the gateway's defaults, which a tenant's own rate
/// (set by a platform admin) overrides for its keys.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Requests a minute from one client address, before authentication.
    pub per_address_per_minute: Option<u32>,
    /// Requests a minute with one credential.
    pub per_credential_per_minute: Option<u32>,
    /// The longest a refused request is held before its 429, in
    /// milliseconds (0 answers at once).
    pub refusal_hold_ms: Option<u64>,
}

/// The gateway's rate limits from `[rate_limits]`, over `base`; a rate of
/// zero is refused, since it would refuse every request.
pub fn rate_limits(
    file: &FileSettings,
    base: rampart_gateway::Config,
) -> anyhow::Result<rampart_gateway::Config> {
    let Some(limits) = &file.rate_limits else {
        return Ok(base);
    };
    let per_minute = |value: Option<u32>, name: &str, default: Quota| match value {
        None => Ok(default),
        Some(0) => {
            bail!("[rate_limits] {name} must be at least 1; a zero rate would refuse every request")
        }
        Some(rate) => Ok(Quota::per_minute(rate)),
    };
    Ok(rampart_gateway::Config {
        per_address: per_minute(
            limits.per_address_per_minute,
            "per_address_per_minute",
            base.per_address,
        )?,
        per_credential: per_minute(
            limits.per_credential_per_minute,
            "per_credential_per_minute",
            base.per_credential,
        )?,
        refusal_hold: limits
            .refusal_hold_ms
            .map_or(base.refusal_hold, Duration::from_millis),
        ..base
    })
}

/// `[edge]`: the gateway's connection limits.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSettings {
    /// How long an HTTP/1 keep-alive connection may stay idle between
    /// requests, in seconds (at least 1).
    pub idle_timeout_secs: Option<u64>,
}

/// The gateway's connection limits from `[edge]`, over `base`.
pub fn edge_limits(
    file: &FileSettings,
    base: rampart_gateway::Config,
) -> anyhow::Result<rampart_gateway::Config> {
    let Some(edge) = &file.edge else {
        return Ok(base);
    };
    let idle_timeout = match edge.idle_timeout_secs {
        None => base.edge.idle_timeout,
        Some(0) => bail!("[edge] idle_timeout_secs must be at least 1"),
        Some(secs) => Duration::from_secs(secs),
    };
    Ok(rampart_gateway::Config {
        edge: rampart_gateway::edge::EdgeLimits {
            idle_timeout,
            ..base.edge
        },
        ..base
    })
}

/// The fields of `/.well-known/security.txt` (RFC 9116).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityTxtSettings {
    /// Where to report: `mailto:`, `https://` or `tel:` URIs, at least one.
    #[serde(default)]
    pub contact: Vec<String>,
    /// When the file stops being valid (RFC 3339), required and in the
    /// future; RFC 9116 advises less than a year ahead.
    pub expires: Option<String>,
    /// A key for encrypted reports: `https://`, `openpgp4fpr:` or `dns:`.
    #[serde(default)]
    pub encryption: Vec<String>,
    /// The disclosure policy (`https://`).
    pub policy: Option<String>,
    /// Language tags reports may be written in, such as `en` or `de-CH`.
    #[serde(default)]
    pub preferred_languages: Vec<String>,
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

/// The deployment environment: `--env` or `RAMPART_ENV` (`flag`), then
/// `env` in the file, then development. Anything but the three names is
/// refused, naming RAMPART_ENV, rather than falling back to development.
pub fn environment(flag: Option<&str>, file: &FileSettings) -> anyhow::Result<Environment> {
    let (value, what) = match (flag, file.env.as_deref()) {
        (Some(value), _) => (value, "RAMPART_ENV (or --env)"),
        (None, Some(value)) => (value, "env in the settings file (RAMPART_ENV)"),
        (None, None) => return Ok(Environment::Development),
    };
    Environment::parse(value).map_err(|_| {
        anyhow::anyhow!("{what} must be development, staging or production, not {value:?}")
    })
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

/// The gateway's admin listener: the flag or `RAMPART_ADMIN_LISTEN`
/// (`flag`), then the file, then loopback port 9464, which only this
/// machine reaches.
pub fn admin_listen(flag: Option<&str>, file: &FileSettings) -> anyhow::Result<SocketAddr> {
    Ok(configured_admin_listen(flag, file)?.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9464))))
}

/// The admin listener of a process without a gateway: the flag or
/// `RAMPART_ADMIN_LISTEN` (`flag`), then the file; `None` when neither
/// sets one.
pub fn configured_admin_listen(
    flag: Option<&str>,
    file: &FileSettings,
) -> anyhow::Result<Option<SocketAddr>> {
    if let Some(value) = flag {
        return parse_listen(value, "--admin-listen").map(Some);
    }
    file.admin_listen
        .as_deref()
        .map(|value| parse_listen(value, "admin_listen"))
        .transpose()
}

/// The text of `/.well-known/security.txt` from the file's `[security_txt]`
/// table, checked against RFC 9116 as of `now`; `None` when not configured.
pub fn security_txt(
    file: &FileSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<String>> {
    let Some(settings) = &file.security_txt else {
        return Ok(None);
    };
    render_security_txt(settings, now)
        .context("[security_txt] in the settings file is not valid")
        .map(Some)
}

fn render_security_txt(
    settings: &SecurityTxtSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    if settings.contact.is_empty() {
        bail!("contact is required: at least one mailto:, https:// or tel: URI");
    }
    let mut text = String::new();
    for contact in &settings.contact {
        let valid = contact
            .strip_prefix("mailto:")
            .is_some_and(|address| address.contains('@'))
            || is_https_uri(contact)
            || contact.strip_prefix("tel:").is_some_and(|n| n.len() > 1);
        if !valid || !is_field_value(contact) {
            bail!("contact {contact:?} must be a mailto:, https:// or tel: URI");
        }
        text.push_str(&format!("Contact: {contact}\n"));
    }
    let expires = settings
        .expires
        .as_deref()
        .context("expires is required (RFC 3339, such as 2027-06-30T00:00:00Z)")?;
    let expires = chrono::DateTime::parse_from_rfc3339(expires)
        .with_context(|| {
            format!("expires {expires:?} is not an RFC 3339 time such as 2027-06-30T00:00:00Z")
        })?
        .with_timezone(&chrono::Utc);
    if expires <= now {
        bail!("expires {expires} has passed; set a new date (at most a year ahead)");
    }
    if expires > now + chrono::Duration::days(366) {
        tracing::warn!(%expires, "security.txt expires more than a year ahead; RFC 9116 advises less");
    }
    text.push_str(&format!(
        "Expires: {}\n",
        expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ));
    for key in &settings.encryption {
        let valid = is_https_uri(key) || key.starts_with("openpgp4fpr:") || key.starts_with("dns:");
        if !valid || !is_field_value(key) {
            bail!("encryption {key:?} must be an https://, openpgp4fpr: or dns: URI");
        }
        text.push_str(&format!("Encryption: {key}\n"));
    }
    if let Some(policy) = &settings.policy {
        if !is_https_uri(policy) || !is_field_value(policy) {
            bail!("policy {policy:?} must be an https:// URI");
        }
        text.push_str(&format!("Policy: {policy}\n"));
    }
    if !settings.preferred_languages.is_empty() {
        for tag in &settings.preferred_languages {
            if !is_language_tag(tag) {
                bail!("preferred_languages: {tag:?} is not a language tag such as en or de-CH");
            }
        }
        text.push_str(&format!(
            "Preferred-Languages: {}\n",
            settings.preferred_languages.join(", ")
        ));
    }
    Ok(text)
}

fn is_https_uri(value: &str) -> bool {
    value
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty())
}

/// A field value stays on its line: visible ASCII, no spaces.
fn is_field_value(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_graphic())
}

/// An RFC 5646 tag in its common shape: letters, then subtags.
fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let primary = subtags.next().unwrap_or_default();
    (1..=8).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Checks a Redis URL's scheme.
pub fn check_redis_url(url: &str, what: &str) -> anyhow::Result<()> {
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        Ok(())
    } else {
        bail!("{what} must start with redis:// or rediss://")
    }
}

/// Escalation's settings from the environment: `RAMPART_SMTP_RELAY`
/// (`host:port` of the relay e-mail notifications go through) with
/// `RAMPART_SMTP_FROM` (their From address), and
/// `RAMPART_DEADLINE_TICK_MS` (how often missed deadlines are looked for,
/// default 1000).
pub fn escalation_settings_from_env() -> anyhow::Result<rampart_escalation::Settings> {
    let mut settings = rampart_escalation::Settings::default();
    match (
        std::env::var("RAMPART_SMTP_RELAY").ok(),
        std::env::var("RAMPART_SMTP_FROM").ok(),
    ) {
        (Some(relay), Some(from)) => {
            settings.smtp = Some(rampart_escalation::handoffs::notify::SmtpConfig { relay, from });
        }
        (None, None) => {}
        _ => anyhow::bail!("set both RAMPART_SMTP_RELAY and RAMPART_SMTP_FROM, or neither"),
    }
    if let Ok(value) = std::env::var("RAMPART_DEADLINE_TICK_MS") {
        let millis: u64 = value
            .parse()
            .ok()
            .filter(|millis| (10..=60_000).contains(millis))
            .context(
                "RAMPART_DEADLINE_TICK_MS must be a number of milliseconds from 10 to 60000",
            )?;
        settings.deadline_tick = std::time::Duration::from_millis(millis);
    }
    Ok(settings)
}

/// The crm's SMS settings from the environment: `RAMPART_TWILIO_API_URL`,
/// Twilio's REST API base (default `https://api.twilio.com`; `https://`,
/// or `http://` to a loopback address, such as a local stand-in).
pub fn sms_settings_from_env() -> anyhow::Result<rampart_crm::sms::SmsSettings> {
    let mut settings = rampart_crm::sms::SmsSettings::default();
    if let Ok(url) = std::env::var("RAMPART_TWILIO_API_URL") {
        rampart_crm::sms::twilio::TwilioRest::new(&url, settings.request_timeout)
            .context("RAMPART_TWILIO_API_URL")?;
        settings.twilio_api_url = url;
    }
    Ok(settings)
}

/// Calendar sync's settings from the environment:
///
/// - `RAMPART_GOOGLE_CLIENT_ID` and `RAMPART_GOOGLE_CLIENT_SECRET` (or
///   `RAMPART_GOOGLE_CLIENT_SECRET_FILE`): the OAuth client; without an id,
///   calendar sync is off (connecting answers 503);
/// - `RAMPART_GOOGLE_AUTH_URL`, `RAMPART_GOOGLE_TOKEN_URL`,
///   `RAMPART_GOOGLE_REVOKE_URL`, `RAMPART_GOOGLE_CALENDAR_API`: the
///   endpoints, Google's own by default (overridden for tests and local
///   development); each must be an http(s) URL.
pub fn calendar_settings_from_env() -> anyhow::Result<rampart_crm::calendar::CalendarSettings> {
    let mut settings = rampart_crm::calendar::CalendarSettings {
        client_id: std::env::var("RAMPART_GOOGLE_CLIENT_ID")
            .ok()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty()),
        client_secret: rampart_kit::config::secret_from_env("RAMPART_GOOGLE_CLIENT_SECRET")?,
        ..Default::default()
    };
    if settings.client_secret.is_some() && settings.client_id.is_none() {
        bail!("RAMPART_GOOGLE_CLIENT_SECRET is set without RAMPART_GOOGLE_CLIENT_ID");
    }
    for (name, field) in [
        ("RAMPART_GOOGLE_AUTH_URL", &mut settings.auth_url),
        ("RAMPART_GOOGLE_TOKEN_URL", &mut settings.token_url),
        ("RAMPART_GOOGLE_REVOKE_URL", &mut settings.revoke_url),
        ("RAMPART_GOOGLE_CALENDAR_API", &mut settings.api_base),
    ] {
        if let Ok(value) = std::env::var(name) {
            let value = value.trim().trim_end_matches('/').to_owned();
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                bail!("{name} must be an http(s) URL");
            }
            *field = value;
        }
    }
    Ok(settings)
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
/// - `RAMPART_MAX_CONCURRENT_HASHES` (default: one per core): Argon2id runs
///   at once, each on a low-priority thread of its own.
/// - `RAMPART_MAX_WAITING_HASHES` (default 64; 0 allowed): hashes that may
///   wait for one of those threads; past that, a sign-in or password change
///   is answered 429 without being evaluated.
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
    if let Ok(value) = std::env::var("RAMPART_MAX_WAITING_HASHES") {
        settings.max_waiting_hashes = value
            .parse()
            .ok()
            .context("RAMPART_MAX_WAITING_HASHES must be a number (0 or more)")?;
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

/// How the gateway reaches the services running in its own process, from
/// `RAMPART_TRANSPORT` or the file's `transport`: straight into them
/// (`in-process`, the default) or over gRPC with mutual TLS on loopback
/// (`grpc`). Services in other processes are always reached over gRPC.
pub fn transport(file: &FileSettings) -> anyhow::Result<Transport> {
    let (value, what) = match std::env::var("RAMPART_TRANSPORT") {
        Ok(value) if !value.trim().is_empty() => (value, "RAMPART_TRANSPORT"),
        _ => match &file.transport {
            Some(value) => (value.clone(), "transport"),
            None => return Ok(Transport::default()),
        },
    };
    Transport::parse(value.trim())
        .with_context(|| format!("{what} must be \"in-process\" or \"grpc\", not {value:?}"))
}

/// The edge's public URL, from `RAMPART_PUBLIC_URL` or the file's
/// `public_url` (checked by [`check_public_url`]); `None` when neither is
/// set.
pub fn public_url(file: &FileSettings, environment: Environment) -> anyhow::Result<Option<String>> {
    let (value, what) = match std::env::var("RAMPART_PUBLIC_URL") {
        Ok(value) if !value.trim().is_empty() => (value, "RAMPART_PUBLIC_URL"),
        _ => match &file.public_url {
            Some(value) => (value.clone(), "public_url"),
            None => return Ok(None),
        },
    };
    check_public_url(&value, what, environment).map(Some)
}

/// Checks a public URL: an absolute `https://` URL of a host and an
/// optional port, nothing else (no user, path, query or fragment: the
/// request's own path and query are appended to it); `http://` only
/// outside production. Answers it without a trailing `/`.
pub fn check_public_url(
    value: &str,
    what: &str,
    environment: Environment,
) -> anyhow::Result<String> {
    let value = value.trim();
    let rest = if let Some(rest) = value.strip_prefix("https://") {
        rest
    } else if let Some(rest) = value.strip_prefix("http://") {
        if environment == Environment::Production {
            bail!("{what} must be an https:// URL in production, not {value:?}");
        }
        rest
    } else {
        bail!(
            "{what} must be an absolute https:// URL such as https://api.example.com, not {value:?}"
        );
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        bail!(
            "{what} must have no path, query or fragment (the request's are added to it): {value:?}"
        );
    }
    if authority.contains('@') {
        bail!("{what} must not carry a user name or password");
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, _)) if !host.ends_with(']') && host.contains(':') => (authority, None),
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    if !host_ok {
        bail!("{what} must name a host: {value:?}");
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|port| port > 0)
    {
        bail!("{what} has an invalid port: {value:?}");
    }
    Ok(value.trim_end_matches('/').to_owned())
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
    fn public_urls_are_an_origin_only() {
        let dev = Environment::Development;
        let production = Environment::Production;
        assert_eq!(
            check_public_url("https://api.example.com/", "public_url", production).unwrap(),
            "https://api.example.com"
        );
        assert_eq!(
            check_public_url("https://api.example.com:8443", "public_url", production).unwrap(),
            "https://api.example.com:8443"
        );
        assert!(check_public_url("http://127.0.0.1:8443", "public_url", dev).is_ok());
        assert!(check_public_url("https://[::1]:8443", "public_url", dev).is_ok());
        let refused = check_public_url("http://api.example.com", "RAMPART_PUBLIC_URL", production)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("RAMPART_PUBLIC_URL"), "{refused}");
        for bad in [
            "",
            "api.example.com",
            "ftp://api.example.com",
            "https://",
            "https://api.example.com/hooks",
            "https://api.example.com?x=1",
            "https://api.example.com#top",
            "https://user:pass@api.example.com",
            "https://api.example.com:0",
            "https://api.example.com:99999",
            "https://api.example.com:https",
            "https://api example.com",
        ] {
            assert!(check_public_url(bad, "public_url", dev).is_err(), "{bad:?}");
        }
    }

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

    fn settings_from(text: &str) -> anyhow::Result<FileSettings> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rampart.toml");
        std::fs::write(&path, text).unwrap();
        FileSettings::load(Some(&path))
    }

    #[test]
    fn rate_limits_override_only_what_they_name() {
        let base = rampart_gateway::Config::default();
        let file =
            settings_from("[rate_limits]\nper_credential_per_minute = 6000\nrefusal_hold_ms = 0\n")
                .unwrap();
        let config = rate_limits(&file, base.clone()).unwrap();
        assert_eq!(config.per_credential, Quota::per_minute(6000));
        assert_eq!(config.refusal_hold, Duration::ZERO);
        assert_eq!(config.per_address, base.per_address);

        let none = rate_limits(&settings_from("").unwrap(), base.clone()).unwrap();
        assert_eq!(none.per_credential, base.per_credential);
        assert_eq!(none.refusal_hold, base.refusal_hold);
    }

    #[test]
    fn rate_limits_refuse_zero_and_unknown_fields() {
        let zero = settings_from("[rate_limits]\nper_address_per_minute = 0\n").unwrap();
        let error = rate_limits(&zero, rampart_gateway::Config::default()).unwrap_err();
        assert!(
            error.to_string().contains("per_address_per_minute"),
            "{error}"
        );
        assert!(settings_from("[rate_limits]\nper_minute = 5\n").is_err());
        assert!(settings_from("[rate_limits]\nrefusal_hold_ms = -1\n").is_err());
    }

    #[test]
    fn the_idle_timeout_is_set_in_edge() {
        let file = settings_from("[edge]\nidle_timeout_secs = 120\n").unwrap();
        let config = edge_limits(&file, rampart_gateway::Config::default()).unwrap();
        assert_eq!(config.edge.idle_timeout, Duration::from_secs(120));
        let none = edge_limits(
            &settings_from("").unwrap(),
            rampart_gateway::Config::default(),
        )
        .unwrap();
        assert_eq!(none.edge.idle_timeout, Duration::from_secs(75));
        let zero = settings_from("[edge]\nidle_timeout_secs = 0\n").unwrap();
        let error = edge_limits(&zero, rampart_gateway::Config::default()).unwrap_err();
        assert!(error.to_string().contains("idle_timeout_secs"), "{error}");
        assert!(settings_from("[edge]\nheader_timeout_secs = 5\n").is_err());
    }

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn security_txt_is_rendered_from_the_file() {
        let file: FileSettings = toml::from_str(
            r#"
[security_txt]
contact = ["mailto:security@example.com", "https://example.com/report"]
expires = "2027-06-30T12:00:00+02:00"
encryption = ["https://example.com/pgp.asc"]
policy = "https://example.com/policy"
preferred_languages = ["en", "de-CH"]
"#,
        )
        .unwrap();
        let text = security_txt(&file, at("2027-01-01T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!(
            text,
            "Contact: mailto:security@example.com\n\
             Contact: https://example.com/report\n\
             Expires: 2027-06-30T10:00:00Z\n\
             Encryption: https://example.com/pgp.asc\n\
             Policy: https://example.com/policy\n\
             Preferred-Languages: en, de-CH\n"
        );
        assert_eq!(
            security_txt(&FileSettings::default(), at("2027-01-01T00:00:00Z")).unwrap(),
            None
        );
    }

    #[test]
    fn security_txt_refuses_missing_expired_and_malformed_fields() {
        let now = at("2027-01-01T00:00:00Z");
        let check = |table: &str| {
            let file: FileSettings = toml::from_str(&format!("[security_txt]\n{table}")).unwrap();
            security_txt(&file, now).map_err(|e| format!("{e:#}"))
        };
        let contact = "contact = [\"mailto:s@example.com\"]\n";
        for (table, complaint) in [
            (
                "expires = \"2027-06-30T00:00:00Z\"".to_owned(),
                "contact is required",
            ),
            (contact.to_owned(), "expires is required"),
            (
                format!("{contact}expires = \"2026-12-31T23:59:59Z\""),
                "has passed",
            ),
            (format!("{contact}expires = \"next year\""), "RFC 3339"),
            (
                "contact = [\"http://example.com\"]\nexpires = \"2027-06-30T00:00:00Z\"".to_owned(),
                "must be a mailto:",
            ),
            (
                format!("{contact}expires = \"2027-06-30T00:00:00Z\"\npolicy = \"http://x\""),
                "policy",
            ),
            (
                format!(
                    "{contact}expires = \"2027-06-30T00:00:00Z\"\npreferred_languages = [\"en gb\"]"
                ),
                "language tag",
            ),
            (
                format!("{contact}expires = \"2027-06-30T00:00:00Z\"\nencryption = [\"ftp://x\"]"),
                "encryption",
            ),
        ] {
            let error = check(&table).unwrap_err();
            assert!(error.contains(complaint), "{table}: {error}");
        }
        assert!(check(&format!("{contact}expires = \"2027-06-30T00:00:00Z\"")).is_ok());
        assert!(toml::from_str::<FileSettings>("[security_txt]\ncontacts = []\n").is_err());
    }

    #[test]
    fn admin_listen_layers_flag_file_default() {
        let file = FileSettings {
            admin_listen: Some("127.0.0.1:9999".to_owned()),
            ..FileSettings::default()
        };
        assert_eq!(admin_listen(Some("127.0.0.1:1"), &file).unwrap().port(), 1);
        assert_eq!(admin_listen(None, &file).unwrap().port(), 9999);
        assert_eq!(
            admin_listen(None, &FileSettings::default()).unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 9464))
        );
        assert!(admin_listen(Some("nope"), &file).is_err());
        assert_eq!(
            configured_admin_listen(None, &FileSettings::default()).unwrap(),
            None
        );
        assert_eq!(
            configured_admin_listen(None, &file)
                .unwrap()
                .map(|a| a.port()),
            Some(9999)
        );
        assert!(configured_admin_listen(Some("nope"), &file).is_err());
    }

    #[test]
    fn the_environment_layers_flag_file_default_and_refuses_others() {
        let file = FileSettings {
            env: Some("staging".to_owned()),
            ..FileSettings::default()
        };
        assert_eq!(
            environment(Some("production"), &file).unwrap(),
            Environment::Production
        );
        assert_eq!(environment(None, &file).unwrap(), Environment::Staging);
        assert_eq!(
            environment(None, &FileSettings::default()).unwrap(),
            Environment::Development
        );
        let error = environment(Some("prod"), &file).unwrap_err().to_string();
        assert!(error.contains("RAMPART_ENV"), "{error}");
        let typo = FileSettings {
            env: Some("Production".to_owned()),
            ..FileSettings::default()
        };
        let error = environment(None, &typo).unwrap_err().to_string();
        assert!(error.contains("RAMPART_ENV"), "{error}");
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
