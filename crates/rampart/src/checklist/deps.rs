//! Item 7, the dependencies: the exact versions this binary was built
//! from, read from the workspace's `Cargo.lock` compiled into it.
//!
//! There is no network here and no advisory or release-date data in the
//! build, so the age of each crate's release is not known. What is known
//! is the age of the build itself (this binary's modification time): the
//! dependencies are at least that old. Crates locked in more than one
//! major version are listed, since that is fact from the lock file; a
//! yanked-crate or advisory check needs `cargo audit` with its database.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::report::Item;

/// The workspace lock file, as it was when this binary was compiled.
const CARGO_LOCK: &str = include_str!("../../../../Cargo.lock");

#[derive(Debug, Deserialize)]
struct LockFile {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Debug, Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
}

/// The semver "major" the way Cargo treats compatibility: the first
/// non-zero component (0.4.x and 0.5.x are incompatible).
fn major(version: &str) -> String {
    let mut parts = version.split('.');
    let first = parts.next().unwrap_or_default();
    if first != "0" {
        return first.to_owned();
    }
    let second = parts.next().unwrap_or_default();
    if second != "0" {
        return format!("0.{second}");
    }
    format!("0.0.{}", parts.next().unwrap_or_default())
}

/// Crates from a registry, and those locked in several majors.
fn summarise(lock: &str) -> anyhow::Result<(usize, usize, Vec<String>)> {
    let lock: LockFile = toml::from_str(lock)?;
    let mut registry = 0;
    let mut local = 0;
    let mut majors: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for package in &lock.package {
        match &package.source {
            Some(source) if source.starts_with("registry+") => {
                registry += 1;
                majors
                    .entry(package.name.as_str())
                    .or_default()
                    .insert(major(&package.version));
            }
            Some(_) => registry += 1,
            None => local += 1,
        }
    }
    let duplicated = majors
        .into_iter()
        .filter(|(_, versions)| versions.len() > 1)
        .map(|(name, versions)| {
            format!(
                "{name} ({})",
                versions.into_iter().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    Ok((registry, local, duplicated))
}

/// Item 7: the locked versions, the build's age, and what is not known.
pub fn check(now: DateTime<Utc>, max_age_days: u32) -> Item {
    let mut item = Item::new(
        "dependencies",
        "Dependency versions and their age",
        "the workspace Cargo.lock compiled into this binary (include_str!), and this binary's modification time as its build date; no network, no advisory database",
    );
    match summarise(CARGO_LOCK) {
        Ok((registry, local, duplicated)) => {
            item.pass(format!(
                "{registry} third-party crates and {local} workspace crates at the exact versions in the compiled-in Cargo.lock"
            ));
            if duplicated.is_empty() {
                item.pass("no crate is locked in two major versions");
            } else {
                item.pass(format!(
                    "{} crates are locked in more than one major version (an older major kept by a dependency): {}",
                    duplicated.len(),
                    duplicated.join(", ")
                ));
            }
        }
        Err(error) => item.fail(format!(
            "the compiled-in Cargo.lock cannot be read: {error}"
        )),
    }
    let built = std::env::current_exe()
        .and_then(std::fs::metadata)
        .and_then(|meta| meta.modified());
    match built {
        Ok(modified) => {
            let built: DateTime<Utc> = modified.into();
            let days = now.signed_duration_since(built).num_days();
            let text = format!(
                "this binary was built {days} days ago ({}); its dependencies are at least that old",
                built.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            if days > i64::from(max_age_days) {
                item.warn(format!(
                    "{text}, over {max_age_days} days: rebuild with `cargo update` and run `cargo audit`"
                ));
            } else {
                item.pass(text);
            }
        }
        Err(error) => item.warn(format!("the build's date is unknown: {error}")),
    }
    item.pass(
        "not checked: the release date of each locked version and yanked or vulnerable versions are not known offline: run `cargo audit` and `cargo outdated` where the network is allowed",
    );
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_follow_cargo_compatibility() {
        assert_eq!(major("1.2.3"), "1");
        assert_eq!(major("0.4.9"), "0.4");
        assert_eq!(major("0.0.7"), "0.0.7");
    }

    #[test]
    fn the_lock_file_is_summarised() {
        let lock = r#"
version = 4
[[package]]
name = "rampart"
version = "0.1.0"

[[package]]
name = "rand"
version = "0.8.5"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "rand"
version = "0.9.1"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "serde"
version = "1.0.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;
        let (registry, local, duplicated) = summarise(lock).unwrap();
        assert_eq!((registry, local), (3, 1));
        assert_eq!(duplicated, vec!["rand (0.8, 0.9)".to_owned()]);
        assert!(summarise(CARGO_LOCK).is_ok());
    }
}
