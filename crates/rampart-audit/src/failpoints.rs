//! Failpoints for fault drills (`cargo xtask faults`): named places where
//! the audit process fails on purpose, so that a drill can hit a window too
//! narrow to reach by killing the process from outside.
//!
//! `RAMPART_FAILPOINTS` is a comma-separated list of names. It is honoured
//! only in a process whose deployment environment, as the binary resolved
//! it (`--env`, `RAMPART_ENV`, then the settings file) and handed over with
//! [`set_environment`], is development or staging. Production, or a process
//! that was never told (the binary tells only an environment named
//! outright, not its development default), ignores it with an error
//! logged, so a stray variable cannot take a production audit service
//! down; `RAMPART_ENV` left in the environment does not override `--env
//! production`.
//!
//! - `audit_after_commit_exit`: the process exits right after an append
//!   has committed new events and before it answers the producer. The
//!   producer's relay sees a failed call, keeps its rows and sends them
//!   again to the restarted service, which must store them once.

use std::sync::OnceLock;

use rampart_kit::environment::Environment;

/// The setting that names the failpoints.
pub const FAILPOINTS: &str = "RAMPART_FAILPOINTS";

/// Exit after committing an append, before answering.
pub const AFTER_COMMIT_EXIT: &str = "audit_after_commit_exit";

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

/// Tells the failpoints the deployment environment of this process: the
/// binary calls it once it has resolved `--env`, before any service
/// starts. The first call decides; later ones are ignored.
pub fn set_environment(environment: Environment) {
    let _ = ENVIRONMENT.set(environment);
}

/// The failpoints enabled in this process, read once.
fn enabled() -> &'static [String] {
    static ENABLED: OnceLock<Vec<String>> = OnceLock::new();
    ENABLED.get_or_init(|| {
        let list = std::env::var(FAILPOINTS).ok();
        let names = honoured(list.as_deref(), ENVIRONMENT.get().copied());
        if !names.is_empty() {
            tracing::warn!(failpoints = ?names, "audit failpoints enabled: this process will fail on purpose");
        } else if list.is_some_and(|list| !list.trim().is_empty()) {
            tracing::error!(
                "{FAILPOINTS} ignored: failpoints need the development or staging environment (--env or RAMPART_ENV)"
            );
        }
        names
    })
}

/// The names in `list` that run in `environment`: all of them in
/// development or staging, none anywhere else or when it is unknown.
fn honoured(list: Option<&str>, environment: Option<Environment>) -> Vec<String> {
    let Some(Environment::Development | Environment::Staging) = environment else {
        return Vec::new();
    };
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether the failpoint `name` is enabled.
pub(crate) fn is_enabled(name: &str) -> bool {
    enabled().iter().any(|enabled| enabled == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failpoints_run_only_where_the_resolved_environment_allows() {
        let list = Some(" audit_after_commit_exit, ,other ");
        for environment in [Environment::Development, Environment::Staging] {
            assert_eq!(
                honoured(list, Some(environment)),
                ["audit_after_commit_exit", "other"]
            );
        }
        assert!(honoured(list, Some(Environment::Production)).is_empty());
        // A process never told its environment enables nothing.
        assert!(honoured(list, None).is_empty());
        assert!(honoured(None, Some(Environment::Staging)).is_empty());
        assert!(honoured(Some(" , "), Some(Environment::Staging)).is_empty());
    }
}
