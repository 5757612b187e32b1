//! The checklist's pure parts: an item's status and evidence, the report
//! rendered as Markdown and JSON, and the judgements made on what was
//! read (key ages, the users diff, sign-in tallies). Nothing here reads
//! the network or a database, so all of it is unit-tested.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How an item came out. Ordered: the worst of several is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// One checklist item: its status, and each fact it was judged on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// A stable name (`credentials`, `backup`, ...).
    pub id: String,
    pub title: String,
    pub status: Status,
    /// One line per fact, each with its own status.
    pub evidence: Vec<Evidence>,
    /// Where the facts came from.
    pub source: String,
}

/// One fact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    pub status: Status,
    pub text: String,
}

impl Item {
    #[must_use]
    pub fn new(id: &str, title: &str, source: impl Into<String>) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            status: Status::Pass,
            evidence: Vec::new(),
            source: source.into(),
        }
    }

    /// Adds a fact; the item's status is the worst of its facts.
    pub fn add(&mut self, status: Status, text: impl Into<String>) {
        self.status = self.status.max(status);
        self.evidence.push(Evidence {
            status,
            text: text.into(),
        });
    }

    pub fn pass(&mut self, text: impl Into<String>) {
        self.add(Status::Pass, text);
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.add(Status::Warn, text);
    }

    pub fn fail(&mut self, text: impl Into<String>) {
        self.add(Status::Fail, text);
    }
}

/// How many items came out each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

/// A user as reviewed: platform admins and tenants' users alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedUser {
    pub user_id: String,
    /// Empty for a platform admin.
    #[serde(default)]
    pub tenant_id: String,
    pub email: String,
    pub role: String,
    pub disabled: bool,
    pub second_factor: bool,
}

/// The whole run, as written to `--json` and read back as the next run's
/// `--previous`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// RFC 3339.
    pub generated_at: String,
    pub rampart_version: String,
    /// The edge the run was made against.
    pub url: String,
    pub summary: Summary,
    pub items: Vec<Item>,
    /// The users reviewed, sorted by user id: what the next run diffs
    /// against.
    pub users: Vec<ReviewedUser>,
}

impl Report {
    #[must_use]
    pub fn new(url: &str, now: DateTime<Utc>, items: Vec<Item>, users: Vec<ReviewedUser>) -> Self {
        let mut summary = Summary::default();
        for item in &items {
            match item.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
            }
        }
        Self {
            generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rampart_version: env!("CARGO_PKG_VERSION").to_owned(),
            url: url.to_owned(),
            summary,
            items,
            users,
        }
    }

    #[must_use]
    pub fn failed(&self) -> bool {
        self.summary.fail > 0
    }

    /// The report in Markdown: a summary table, then each item's evidence.
    #[must_use]
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# Rampart monthly security checklist\n\n");
        out.push_str(&format!(
            "- Generated: {}\n- Against: {}\n- rampart {}\n- Result: {} pass, {} warn, {} fail\n\n",
            self.generated_at,
            self.url,
            self.rampart_version,
            self.summary.pass,
            self.summary.warn,
            self.summary.fail
        ));
        out.push_str("| # | item | status |\n|---|---|---|\n");
        for (n, item) in self.items.iter().enumerate() {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                n + 1,
                cell(&item.title),
                item.status.label()
            ));
        }
        for (n, item) in self.items.iter().enumerate() {
            out.push_str(&format!(
                "\n## {}. {} ({})\n\n",
                n + 1,
                item.title,
                item.status.label()
            ));
            for evidence in &item.evidence {
                out.push_str(&format!(
                    "- {} {}\n",
                    match evidence.status {
                        Status::Pass => "[pass]",
                        Status::Warn => "[WARN]",
                        Status::Fail => "[FAIL]",
                    },
                    evidence.text
                ));
            }
            out.push_str(&format!("\n_Source: {}_\n", item.source));
        }
        out
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The age of something created at `created` (RFC 3339) as of `now`,
/// judged against `max_days`: older fails, unknown or unreadable warns.
#[must_use]
pub fn judge_age(created: Option<&str>, now: DateTime<Utc>, max_days: u32) -> (Status, String) {
    let Some(created) = created.filter(|c| !c.is_empty()) else {
        return (Status::Warn, "age unknown".to_owned());
    };
    let Ok(at) = DateTime::parse_from_rfc3339(created) else {
        return (Status::Warn, format!("unreadable time {created:?}"));
    };
    let age = now.signed_duration_since(at.with_timezone(&Utc));
    let days = age.num_days();
    let text = format!("{days} days old (since {created})");
    if age > chrono::Duration::days(i64::from(max_days)) {
        (
            Status::Fail,
            format!("{text}, over the {max_days}-day rotation age"),
        )
    } else {
        (Status::Pass, text)
    }
}

/// What changed in the reviewed users since the previous run.
#[must_use]
pub fn diff_users(previous: &[ReviewedUser], current: &[ReviewedUser]) -> Vec<String> {
    let index = |users: &[ReviewedUser]| -> BTreeMap<String, ReviewedUser> {
        users
            .iter()
            .map(|user| (user.user_id.clone(), user.clone()))
            .collect()
    };
    let (before, now) = (index(previous), index(current));
    let mut changes = Vec::new();
    for (id, user) in &now {
        match before.get(id) {
            None => changes.push(format!("added {} {}", name(user), user.role)),
            Some(old) => {
                if old.role != user.role {
                    changes.push(format!(
                        "role changed {}: {} -> {}",
                        name(user),
                        old.role,
                        user.role
                    ));
                }
                if old.disabled != user.disabled {
                    changes.push(format!(
                        "{} {}",
                        if user.disabled { "disabled" } else { "enabled" },
                        name(user)
                    ));
                }
                if old.second_factor != user.second_factor {
                    changes.push(format!(
                        "second factor {} for {}",
                        if user.second_factor {
                            "added"
                        } else {
                            "removed"
                        },
                        name(user)
                    ));
                }
            }
        }
    }
    for (id, user) in &before {
        if !now.contains_key(id) {
            changes.push(format!("removed {} {}", name(user), user.role));
        }
    }
    changes
}

fn name(user: &ReviewedUser) -> String {
    if user.tenant_id.is_empty() {
        format!("{} ({}, platform)", user.email, user.user_id)
    } else {
        format!("{} ({}, {})", user.email, user.user_id, user.tenant_id)
    }
}

/// Sign-in failures and lockouts counted by account and by address.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SignInTally {
    /// Per account (the event's target, `user:...`): (failures, lockouts).
    pub by_account: BTreeMap<String, (u32, u32)>,
    /// Per client address: (failures, lockouts).
    pub by_address: BTreeMap<String, (u32, u32)>,
}

impl SignInTally {
    /// Counts the `user.sign_in` events among `events` (audit events as
    /// the admin audit route lists them) that failed or were locked out.
    #[must_use]
    pub fn count(events: &[Value]) -> Self {
        let mut tally = Self::default();
        for event in events {
            if event["action"].as_str() != Some("user.sign_in") {
                continue;
            }
            let (failed, locked) = match event["outcome"].as_str() {
                Some("failure") => (1, 0),
                Some("locked") => (0, 1),
                _ => continue,
            };
            let account = event["target"].as_str().unwrap_or("unknown").to_owned();
            let address = match event["client_addr"].as_str() {
                Some(addr) if !addr.is_empty() => addr.to_owned(),
                _ => "unknown".to_owned(),
            };
            for (map, key) in [
                (&mut tally.by_account, account),
                (&mut tally.by_address, address),
            ] {
                let entry = map.entry(key).or_default();
                entry.0 += failed;
                entry.1 += locked;
            }
        }
        tally
    }

    /// Adds the tally's evidence to `item`: every account and address
    /// listed, a warning for each at or over `warn_failures` failures and
    /// for each lockout.
    pub fn judge(&self, item: &mut Item, warn_failures: u32) {
        if self.by_account.is_empty() {
            item.pass("no failed sign-ins and no lockouts");
            return;
        }
        for (what, map) in [("account", &self.by_account), ("address", &self.by_address)] {
            for (key, (failures, lockouts)) in map {
                let text = format!("{what} {key}: {failures} failed, {lockouts} locked out");
                if *lockouts > 0 || *failures >= warn_failures {
                    item.warn(format!(
                        "{text} (threshold {warn_failures} failures or any lockout)"
                    ));
                } else {
                    item.pass(text);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(id: &str, role: &str) -> ReviewedUser {
        ReviewedUser {
            user_id: id.to_owned(),
            tenant_id: String::new(),
            email: format!("{id}@corp.example"),
            role: role.to_owned(),
            disabled: false,
            second_factor: true,
        }
    }

    #[test]
    fn the_users_diff_names_additions_removals_and_role_changes() {
        let before = vec![user("usr_a", "admin"), user("usr_b", "owner")];
        let mut after = vec![user("usr_b", "manager"), user("usr_c", "admin")];
        after[0].disabled = true;
        let changes = diff_users(&before, &after);
        assert_eq!(changes.len(), 4, "{changes:?}");
        assert!(
            changes
                .iter()
                .any(|c| c.starts_with("role changed usr_b@") && c.ends_with("owner -> manager"))
        );
        assert!(changes.iter().any(|c| c.starts_with("disabled usr_b@")));
        assert!(changes.iter().any(|c| c.starts_with("added usr_c@")));
        assert!(changes.iter().any(|c| c.starts_with("removed usr_a@")));
        assert!(diff_users(&after, &after).is_empty());
    }

    #[test]
    fn ages_over_the_rotation_age_fail_and_unknown_ones_warn() {
        let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            judge_age(Some("2026-05-01T00:00:00Z"), now, 90).0,
            Status::Pass
        );
        let (status, text) = judge_age(Some("2026-01-01T00:00:00Z"), now, 90);
        assert_eq!(status, Status::Fail);
        assert!(
            text.contains("151 days") && text.contains("90-day"),
            "{text}"
        );
        assert_eq!(
            judge_age(Some("2026-05-31T23:00:00Z"), now, 0).0,
            Status::Fail
        );
        assert_eq!(judge_age(None, now, 90).0, Status::Warn);
        assert_eq!(judge_age(Some("last week"), now, 90).0, Status::Warn);
    }

    #[test]
    fn sign_ins_are_counted_by_account_and_address_and_warn_at_the_threshold() {
        let event = |outcome: &str, target: &str, addr: &str| json!({"action": "user.sign_in", "outcome": outcome, "target": target, "client_addr": addr});
        let events = vec![
            event("failure", "user:usr_a", "10.0.0.1"),
            event("failure", "user:usr_a", "10.0.0.2"),
            event("locked", "user:usr_b", "10.0.0.1"),
            event("success", "user:usr_a", "10.0.0.1"),
            json!({"action": "user.sign_out", "outcome": "failure", "target": "user:usr_c"}),
        ];
        let tally = SignInTally::count(&events);
        assert_eq!(tally.by_account["user:usr_a"], (2, 0));
        assert_eq!(tally.by_account["user:usr_b"], (0, 1));
        assert_eq!(tally.by_address["10.0.0.1"], (1, 1));
        assert!(!tally.by_account.contains_key("user:usr_c"));

        let mut item = Item::new("sign_ins", "sign-ins", "test");
        tally.judge(&mut item, 3);
        // usr_b's and 10.0.0.1's lockout warn; two failures stay under 3.
        assert_eq!(item.status, Status::Warn);
        assert_eq!(
            item.evidence
                .iter()
                .filter(|e| e.status == Status::Warn)
                .count(),
            2
        );
        let mut strict = Item::new("sign_ins", "sign-ins", "test");
        tally.judge(&mut strict, 2);
        assert_eq!(
            strict
                .evidence
                .iter()
                .filter(|e| e.status == Status::Warn)
                .count(),
            3
        );
        let mut quiet = Item::new("sign_ins", "sign-ins", "test");
        SignInTally::count(&[]).judge(&mut quiet, 3);
        assert_eq!(quiet.status, Status::Pass);
    }

    #[test]
    fn the_report_renders_every_item_and_fails_when_one_fails() {
        let mut good = Item::new("a", "First | item", "here");
        good.pass("fine");
        let mut bad = Item::new("b", "Second", "there");
        bad.pass("fine");
        bad.fail("broken");
        let report = Report::new("https://edge", Utc::now(), vec![good, bad], Vec::new());
        assert!(report.failed());
        assert_eq!(
            report.summary,
            Summary {
                pass: 1,
                warn: 0,
                fail: 1
            }
        );
        let markdown = report.markdown();
        assert!(
            markdown.contains("| 1 | First \\| item | pass |"),
            "{markdown}"
        );
        assert!(markdown.contains("## 2. Second (FAIL)"), "{markdown}");
        assert!(markdown.contains("- [FAIL] broken"), "{markdown}");
        let json = serde_json::to_string(&report).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.items[1].status, Status::Fail);
        let fine = Report::new("https://edge", Utc::now(), Vec::new(), Vec::new());
        assert!(!fine.failed());
    }
}
