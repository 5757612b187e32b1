//! The deployment environment: `development`, `staging` or `production`
//! (`RAMPART_ENV`).
//!
//! Two things hang on it. The binary refuses to start in production with
//! settings fit only for a laptop (see `docs/environments.md`). And the
//! environment is part of what a credential is checked against:
//! [`Environment::bind_key_hash_secret`] derives, for staging and
//! production, a key-hash secret of their own from the configured one, so a
//! key issued by a staging stack hashes to something else in a production
//! stack, even when both share a database and a secret, and is refused as
//! unknown. Development keeps the configured secret as it is, so the keys
//! of existing `rampart dev` data folders keep working.

use ring::hmac;

use crate::secret::{ExposeSecret, SecretString, hex};

/// The name of the setting, for messages.
pub const SETTING: &str = "RAMPART_ENV";

/// Where this process runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Environment {
    /// A developer's machine: generated secrets and the embedded default
    /// are fine.
    #[default]
    Development,
    /// A production-like deployment whose keys must not work in production.
    Staging,
    /// The real thing: the binary refuses to start on weak settings.
    Production,
}

/// A value of `RAMPART_ENV` that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{SETTING} must be development, staging or production, not {0:?}")]
pub struct UnknownEnvironment(pub String);

impl Environment {
    /// Parses `development`, `staging` or `production` (exactly; a typo
    /// must not fall back to development).
    pub fn parse(text: &str) -> Result<Self, UnknownEnvironment> {
        match text.trim() {
            "development" => Ok(Self::Development),
            "staging" => Ok(Self::Staging),
            "production" => Ok(Self::Production),
            other => Err(UnknownEnvironment(other.to_owned())),
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// The key-hash secret credentials are hashed under in this
    /// environment: the configured one in development, and for staging and
    /// production an HMAC-SHA256 of the environment's name under it (64 hex
    /// characters), so each environment's hashes are its own.
    #[must_use]
    pub fn bind_key_hash_secret(self, secret: &SecretString) -> SecretString {
        if self == Self::Development {
            return secret.clone();
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
        let derived = hmac::sign(
            &key,
            format!("rampart key-hash secret for environment {}", self.as_str()).as_bytes(),
        );
        SecretString::from(hex(derived.as_ref()))
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_names_parse() {
        assert_eq!(
            Environment::parse("production").unwrap(),
            Environment::Production
        );
        assert_eq!(Environment::parse("staging").unwrap(), Environment::Staging);
        assert_eq!(
            Environment::parse("development").unwrap(),
            Environment::Development
        );
        for bad in ["", "prod", "Production", "dev", "test"] {
            let error = Environment::parse(bad).unwrap_err();
            assert!(error.to_string().contains(SETTING), "{error}");
        }
    }

    #[test]
    fn each_environment_hashes_under_its_own_secret() {
        let secret = SecretString::from("a".repeat(64));
        let development = Environment::Development.bind_key_hash_secret(&secret);
        let staging = Environment::Staging.bind_key_hash_secret(&secret);
        let production = Environment::Production.bind_key_hash_secret(&secret);
        // Existing development data keeps its hashes.
        assert_eq!(development.expose_secret(), secret.expose_secret());
        assert_ne!(staging.expose_secret(), production.expose_secret());
        assert_ne!(staging.expose_secret(), secret.expose_secret());
        assert_eq!(production.expose_secret().len(), 64);
        // Stable: the same secret gives the same binding after a restart.
        assert_eq!(
            Environment::Production
                .bind_key_hash_secret(&secret)
                .expose_secret(),
            production.expose_secret()
        );
    }
}
