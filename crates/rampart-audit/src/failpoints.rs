//! Failpoints for fault drills (`cargo xtask faults`): named places where
//! the audit process fails on purpose, so that a drill can hit a window too
//! narrow to reach by killing the process from outside.
//!
//! `RAMPART_FAILPOINTS` is a comma-separated list of names. It is honoured
//! only when `RAMPART_ENV` is set, in the environment, to `development` or
//! `staging`; unset, production or anything else, it is ignored with an
//! error logged, so a stray variable cannot take a production audit
//! service down.
//!
//! - `audit_after_commit_exit`: the process exits right after an append
//!   has committed new events and before it answers the producer. The
//!   producer's relay sees a failed call, keeps its rows and sends them
//!   again to the restarted service, which must store them once.

use std::sync::OnceLock;

use rampart_kit::environment::{Environment, SETTING};

/// The setting that names the failpoints.
pub const FAILPOINTS: &str = "RAMPART_FAILPOINTS";

/// Exit after committing an append, before answering.
pub const AFTER_COMMIT_EXIT: &str = "audit_after_commit_exit";

/// The failpoints enabled in this process, read once.
fn enabled() -> &'static [String] {
    static ENABLED: OnceLock<Vec<String>> = OnceLock::new();
    ENABLED.get_or_init(|| {
        let Ok(list) = std::env::var(FAILPOINTS) else {
            return Vec::new();
        };
        let names: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        if names.is_empty() {
            return names;
        }
        let environment = std::env::var(SETTING)
            .ok()
            .and_then(|value| Environment::parse(&value).ok());
        match environment {
            Some(Environment::Development | Environment::Staging) => {
                tracing::warn!(failpoints = ?names, "audit failpoints enabled: this process will fail on purpose");
                names
            }
            _ => {
                tracing::error!(
                    "{FAILPOINTS} ignored: failpoints need {SETTING}=development or staging in the environment"
                );
                Vec::new()
            }
        }
    })
}

/// Whether the failpoint `name` is enabled.
pub(crate) fn is_enabled(name: &str) -> bool {
    enabled().iter().any(|enabled| enabled == name)
}
