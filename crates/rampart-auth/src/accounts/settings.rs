//! The operator's settings for people's accounts.

use std::time::Duration;

use crate::throttle::ThrottlePolicy;

/// Hashes that may wait for a hashing thread by default: at the reference
/// machine's 45 to 120 sign-ins a second, about a second's worth.
const DEFAULT_WAITING_HASHES: usize = 64;
/// What a session presented from another client address than the one it
/// was created from means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewClientPolicy {
    /// Allowed (people move between networks).
    Allow,
    /// Suspicious: all of the user's sessions end.
    RevokeAll,
}

impl NewClientPolicy {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        match text {
            "allow" => Ok(Self::Allow),
            "revoke" => Ok(Self::RevokeAll),
            other => anyhow::bail!(
                "the new-client session policy must be \"allow\" or \"revoke\", not {other:?}"
            ),
        }
    }
}

/// The operator's settings for people's accounts.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Platform admins' emails must be in one of these domains.
    pub admin_email_domains: Vec<String>,
    /// A session unused this long ends (default 1 h).
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in whatever happens (default 24 h).
    pub session_absolute_timeout: Duration,
    pub new_client_policy: NewClientPolicy,
    /// How many Argon2id hashes may run at once.
    pub max_concurrent_hashes: usize,
    /// How many more may wait for one of those; past that, sign-ins and
    /// password changes are answered busy (429) without being evaluated.
    pub max_waiting_hashes: usize,
    /// Delays and the hard cap on consecutive failed sign-ins per account.
    pub account_throttle: ThrottlePolicy,
    /// The deployment environment. In staging and production every
    /// credential (API keys, admin keys, sessions, recovery codes) is
    /// hashed under a secret derived for that environment, so one issued in
    /// staging is unknown in production and the other way round, even on a
    /// shared database and secret.
    pub environment: rampart_kit::environment::Environment,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            admin_email_domains: Vec::new(),
            session_idle_timeout: Duration::from_secs(3600),
            session_absolute_timeout: Duration::from_secs(24 * 3600),
            new_client_policy: NewClientPolicy::Allow,
            max_concurrent_hashes: std::thread::available_parallelism()
                .map_or(2, std::num::NonZero::get),
            max_waiting_hashes: DEFAULT_WAITING_HASHES,
            account_throttle: ThrottlePolicy::ACCOUNT,
            environment: rampart_kit::environment::Environment::Development,
        }
    }
}
