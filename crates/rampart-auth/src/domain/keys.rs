//! The parsed inputs of the key lifecycle: whose a key is, its name, its
//! environment and scopes, and a whole issue request. The rules
//! ([`crate::keys`]) and the store both take these; neither is imported
//! here, so the two never import each other.

use chrono::{DateTime, Utc};
use rampart_kit::api_key::KeyKind;
use rampart_kit::ids::TenantId;
use rampart_kit::networks::AllowedNetworks;
use rampart_kit::origins::AllowedOrigins;

use crate::error::Error;

/// What a tenant key grants unless asked otherwise.
pub(crate) const DEFAULT_TENANT_SCOPES: [&str; 2] = ["read", "write"];
/// Every scope a tenant key may hold: read, write tenant data, manage the
/// tenant's keys, read the tenant's audit trail, change its business
/// settings, and the owner's own work (channels, retention, legal holds,
/// erasure).
pub(crate) const TENANT_SCOPES: [&str; 6] = [
    "read",
    "write",
    KEYS_SCOPE,
    AUDIT_SCOPE,
    "settings",
    "owner",
];
pub(crate) const KEYS_SCOPE: &str = "keys";
/// Reading and exporting the tenant's audit trail (checked by audit).
pub(crate) const AUDIT_SCOPE: &str = "audit";
/// The one scope of a widget key: starting conversations.
pub(crate) const WIDGET_SCOPE: &str = "widget";
/// The one scope of a platform admin key.
pub(crate) const ADMIN_SCOPE: &str = "admin";

const MAX_NAME_CHARS: usize = 100;
const DEFAULT_NAME: &str = "default";

/// Whose a key is. Stored as the tenant id, or empty for the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyOwner {
    Platform,
    Tenant(TenantId),
}

impl KeyOwner {
    pub(crate) fn tenant(&self) -> Option<&TenantId> {
        match self {
            Self::Platform => None,
            Self::Tenant(tenant) => Some(tenant),
        }
    }
}

/// A key's human label: trimmed, at most 100 characters, no control
/// characters (they would let a label forge lines in logs and listings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyName(String);

impl KeyName {
    /// Parses a requested name; an empty one becomes "default".
    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Self(DEFAULT_NAME.to_owned()));
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(Error::InvalidArgument(format!(
                "name must be at most {MAX_NAME_CHARS} characters"
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Error::InvalidArgument(
                "name must not contain control characters".to_owned(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which kind of key: a tenant's production or testing key, or a platform
/// admin key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Environment {
    Live,
    Test,
    Admin,
    /// A public key for the website widget.
    Widget,
}

impl Environment {
    /// Parses a requested environment; empty means live.
    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "" | "live" => Ok(Self::Live),
            "test" => Ok(Self::Test),
            "widget" => Ok(Self::Widget),
            _ => Err(Error::InvalidArgument(
                "environment must be \"live\", \"test\" or \"widget\"".to_owned(),
            )),
        }
    }

    /// Reads the column back, admin keys included.
    pub(crate) fn parse_stored(text: &str) -> Result<Self, Error> {
        match text {
            "admin" => Ok(Self::Admin),
            _ => Self::parse(text),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
            Self::Admin => "admin",
            Self::Widget => "widget",
        }
    }

    pub(crate) fn key_kind(self) -> KeyKind {
        match self {
            Self::Live => KeyKind::Live,
            Self::Test => KeyKind::Test,
            Self::Admin => KeyKind::Admin,
            Self::Widget => KeyKind::Widget,
        }
    }
}

/// Everything a new key is issued with, parsed.
#[derive(Debug, Clone)]
pub(crate) struct KeySpec {
    pub name: KeyName,
    pub environment: Environment,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub networks: AllowedNetworks,
    pub origins: AllowedOrigins,
}

impl KeySpec {
    /// Parses a request for a key of `owner`. Empty scopes mean the default;
    /// platform admin keys always have the one `admin` scope.
    pub(crate) fn parse(
        owner: &KeyOwner,
        name: &str,
        environment: &str,
        scopes: &[String],
        expires_at: &str,
        networks: &[String],
        origins: &[String],
    ) -> Result<Self, Error> {
        let environment = match owner {
            KeyOwner::Platform => Environment::Admin,
            KeyOwner::Tenant(_) => Environment::parse(environment)?,
        };
        let scopes = match environment {
            Environment::Admin => vec![ADMIN_SCOPE.to_owned()],
            Environment::Widget if scopes.is_empty() => vec![WIDGET_SCOPE.to_owned()],
            Environment::Widget => {
                return Err(Error::InvalidArgument(
                    "a widget key has the one scope \"widget\"; leave scopes out".to_owned(),
                ));
            }
            Environment::Live | Environment::Test => parse_scopes(scopes)?,
        };
        let origins = match environment {
            Environment::Widget => AllowedOrigins::parse_required(origins),
            _ if origins.is_empty() => Ok(AllowedOrigins::default()),
            _ => {
                return Err(Error::InvalidArgument(
                    "allowed_origins is for widget keys only".to_owned(),
                ));
            }
        }
        .map_err(|e| Error::InvalidArgument(format!("allowed_origins: {e}")))?;
        let expires_at = if expires_at.is_empty() {
            None
        } else {
            let at = DateTime::parse_from_rfc3339(expires_at)
                .map_err(|_| {
                    Error::InvalidArgument("expires_at must be an RFC 3339 timestamp".to_owned())
                })?
                .with_timezone(&Utc);
            if at <= Utc::now() {
                return Err(Error::InvalidArgument(
                    "expires_at must be in the future".to_owned(),
                ));
            }
            Some(at)
        };
        let networks = AllowedNetworks::parse(networks)
            .map_err(|e| Error::InvalidArgument(format!("allowed_networks: {e}")))?;
        Ok(Self {
            name: KeyName::parse(name)?,
            environment,
            scopes,
            expires_at,
            networks,
            origins,
        })
    }
}

/// Parses requested tenant key scopes: known names, no repeats; empty means
/// [`DEFAULT_TENANT_SCOPES`].
fn parse_scopes(requested: &[String]) -> Result<Vec<String>, Error> {
    if requested.is_empty() {
        return Ok(DEFAULT_TENANT_SCOPES.map(str::to_owned).to_vec());
    }
    let mut scopes: Vec<String> = Vec::new();
    for scope in requested {
        if !TENANT_SCOPES.contains(&scope.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "unknown scope {scope:?}; scopes are {}",
                TENANT_SCOPES.join(", ")
            )));
        }
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(KeyName::parse("  zapier ").unwrap().as_str(), "zapier");
        assert_eq!(KeyName::parse("   ").unwrap().as_str(), "default");
        assert_eq!(KeyName::parse("").unwrap().as_str(), "default");
        assert!(KeyName::parse(&"é".repeat(100)).is_ok());
        assert!(KeyName::parse(&"é".repeat(101)).is_err());
        assert!(KeyName::parse("web\nsite").is_err());
        assert!(KeyName::parse("web\u{1b}[31m").is_err());
    }

    #[test]
    fn environments_parse() {
        assert_eq!(Environment::parse("").unwrap(), Environment::Live);
        assert_eq!(Environment::parse("live").unwrap(), Environment::Live);
        assert_eq!(Environment::parse("test").unwrap(), Environment::Test);
        for bad in ["LIVE", "prod", " test"] {
            assert!(Environment::parse(bad).is_err(), "{bad:?}");
        }
    }
}
