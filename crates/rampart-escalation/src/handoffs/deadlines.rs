//! The deadline worker: escalates open handoffs whose
//! `next_escalation_at` has passed, one chain step at a time.
//!
//! Deadlines are data, so they fire after a restart, and any number of
//! escalation instances may share the database: each step is a conditional
//! UPDATE naming the level, round and deadline it was decided on, and only
//! the instance whose UPDATE matched writes the step's audit record and
//! notifications, in the same transaction. A step fires exactly once.
//!
//! A test-mode handoff climbs its chain on the queue like a live one (its
//! level and deadlines are what a developer testing an integration looks
//! at), but notifies nobody: its `handoff.escalated` record names no
//! contacts and says why.
//!
//! The chain is the policy version the handoff started with (see
//! [`crate::tenant_policy`]): the next level, then the whole chain again
//! `repeats` times, then nothing more: the handoff stays with the last
//! level, which always names someone.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use rampart_kit::outbox::Outbox;
use sea_orm::{DatabaseConnection, DbErr};

use super::entity::handoff;
use super::notify::{self, Event};
use super::store;
use crate::tenant_policy::{Level, TenantPolicy};

/// How many due handoffs one pass takes at most.
const BATCH: u64 = 100;

/// Why a test-mode handoff's escalation notified nobody, in its audit
/// record.
pub const TEST_MODE_REASON: &str = "test mode: nobody notified";

/// Where a missed deadline leads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NextStep {
    level: i32,
    round: i32,
    /// `None`: the chain is spent.
    next_escalation_at: Option<DateTime<Utc>>,
}

fn delay(level: &Level) -> Duration {
    Duration::seconds(i64::from(level.delay_secs))
}

/// The step after `row` missed its deadline at `now`.
fn next_step(policy: &TenantPolicy, row: &handoff::Model, now: DateTime<Utc>) -> NextStep {
    let levels = &policy.chain.levels;
    let count = i32::try_from(levels.len()).unwrap_or(i32::MAX);
    let repeats = i32::try_from(policy.chain.repeats).unwrap_or(i32::MAX);
    if row.level < count {
        let level = row.level + 1;
        let index = usize::try_from(row.level).unwrap_or(0);
        return NextStep {
            level,
            round: row.round,
            next_escalation_at: levels.get(index).map(|level| now + delay(level)),
        };
    }
    if row.round < repeats
        && let Some(first) = levels.first()
    {
        return NextStep {
            level: 1,
            round: row.round + 1,
            next_escalation_at: Some(now + delay(first)),
        };
    }
    NextStep {
        level: row.level,
        round: row.round,
        next_escalation_at: None,
    }
}

/// Fires the escalation steps due at `now`; returns how many this caller
/// fired (a step another instance fired first is not counted). A step that
/// fails is logged and left due, for the next pass; only failing to read
/// the due handoffs at all is an error.
pub async fn fire_due_deadlines(
    db: &DatabaseConnection,
    outbox: &Outbox,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    // At the precision PostgreSQL keeps, so both backends store the same.
    let now = now.trunc_subsecs(6);
    let due = store::due_for_escalation(db, now, BATCH).await?;
    let mut policies: HashMap<(String, i32), TenantPolicy> = HashMap::new();
    let mut fired = 0;
    for row in due {
        let key = (row.tenant_id.clone(), row.policy_version);
        if !policies.contains_key(&key) {
            match store::policy_at(db, &row.tenant_id, row.policy_version).await {
                Ok(policy) => {
                    policies.insert(key.clone(), policy);
                }
                // One unreadable policy must not hold up every other
                // tenant's deadlines behind it.
                Err(error) => {
                    tracing::error!(
                        tenant_id = %row.tenant_id,
                        handoff_id = %row.id,
                        policy_version = row.policy_version,
                        %error,
                        "handoff policy unreadable, escalation skipped"
                    );
                    continue;
                }
            }
        }
        let Some(policy) = policies.get(&key) else {
            continue;
        };
        match fire(db, outbox, policy, &row, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            Err(error) => tracing::error!(
                tenant_id = %row.tenant_id,
                handoff_id = %row.id,
                %error,
                "handoff escalation failed, retried next tick"
            ),
        }
    }
    Ok(fired)
}

/// One step for one handoff, in one transaction; `false` when another
/// instance (or a person claiming it) got there first.
async fn fire(
    db: &DatabaseConnection,
    outbox: &Outbox,
    policy: &TenantPolicy,
    row: &handoff::Model,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let step = next_step(policy, row, now);
    let mut change = outbox.begin(db).await?;
    if !store::advance(
        change.tx(),
        row,
        step.level,
        step.round,
        step.next_escalation_at,
        now,
    )
    .await?
    {
        return Ok(false);
    }
    let Some(_) = step.next_escalation_at else {
        change.commit().await?;
        tracing::info!(
            tenant_id = %row.tenant_id,
            handoff_id = %row.id,
            level = row.level,
            round = row.round,
            "handoff escalation chain spent, the last level keeps it"
        );
        return Ok(true);
    };
    let escalated = handoff::Model {
        level: step.level,
        round: step.round,
        next_escalation_at: step.next_escalation_at,
        updated_at: now,
        ..row.clone()
    };
    let contacts = notify::enqueue(change.tx(), policy, &escalated, Event::Escalated, now).await?;
    let mut record = notify::system_record(
        &row.tenant_id,
        "handoff.escalated",
        format!("handoff:{}", row.id),
    )
    .with_detail("conversation_id", row.conversation_id.clone())
    .with_detail("level", step.level.to_string())
    .with_detail("round", step.round.to_string())
    .with_detail("contacts", contacts.join(","));
    if !notify::notifies(&escalated) {
        record = record.with_detail("reason", TEST_MODE_REASON);
    }
    change.audit(record);
    change.commit().await?;
    tracing::info!(
        tenant_id = %row.tenant_id,
        mode = %row.mode,
        handoff_id = %row.id,
        level = step.level,
        round = step.round,
        "handoff escalated"
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant_policy::Chain;

    fn level(delay_secs: u32) -> Level {
        Level {
            contacts: Vec::new(),
            roles: vec!["manager".to_owned()],
            delay_secs,
        }
    }

    fn row(level: i32, round: i32) -> handoff::Model {
        let now = Utc::now();
        handoff::Model {
            id: "hof_x".to_owned(),
            tenant_id: "ten_x".to_owned(),
            mode: "live".to_owned(),
            conversation_id: "cnv_x".to_owned(),
            message_id: "msg_x".to_owned(),
            open_key: Some("cnv_x".to_owned()),
            status: "open".to_owned(),
            severity: 3,
            intents: "[]".to_owned(),
            reasons: "[]".to_owned(),
            policy_version: 1,
            level,
            round,
            assignee: None,
            opened_at: now,
            due_at: now,
            next_escalation_at: Some(now),
            closed_at: None,
            updated_at: now,
        }
    }

    #[test]
    fn the_chain_climbs_repeats_and_then_rests_on_its_last_level() {
        let policy = TenantPolicy {
            chain: Chain {
                levels: vec![level(10), level(20)],
                repeats: 1,
            },
            ..TenantPolicy::default()
        };
        let now = Utc::now();
        let at = |secs| Some(now + Duration::seconds(secs));
        let steps = [
            ((1, 0), (2, 0, at(20))),
            ((2, 0), (1, 1, at(10))),
            ((1, 1), (2, 1, at(20))),
            ((2, 1), (2, 1, None)),
        ];
        for ((level, round), (to_level, to_round, next)) in steps {
            assert_eq!(
                next_step(&policy, &row(level, round), now),
                NextStep {
                    level: to_level,
                    round: to_round,
                    next_escalation_at: next
                },
                "from level {level} round {round}"
            );
        }
    }
}
