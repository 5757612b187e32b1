//! The handoff queue's storage: opening and joining, finding, the
//! deadline queries, the policy reads, and the row's wire form. With
//! `listing` and `steps`, the only code that touches `esc_handoff`.
//!
//! Every query a caller reaches takes the [`DataScope`] (tenant and data
//! mode), so another tenant's handoff, and the other mode's, is simply not
//! found. Every change of state is a conditional
//! UPDATE naming the state it was decided on (`WHERE id = ? AND status = ?
//! ...`): when two agents, or two escalation instances, act on the same row
//! at once, exactly one UPDATE matches and the other sees what happened.

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use rampart_kit::ids::{ConversationId, HandoffId};
use rampart_kit::outbox::{AuditRecord, Change};
use rampart_proto::escalation::v1 as proto;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr, TransactionTrait,
};

use super::OpenRequest;
use super::entity::{handoff, policy};
use super::notify::{self, Event};
use crate::intents::Severity;
use crate::scope::DataScope;
use crate::tenant_policy::TenantPolicy;

pub(crate) const OPEN: &str = "open";
pub(crate) const CLAIMED: &str = "claimed";
pub(crate) const RESOLVED: &str = "resolved";
pub(crate) const HANDED_BACK: &str = "handed_back";
pub(crate) const STATUSES: [&str; 4] = [OPEN, CLAIMED, RESOLVED, HANDED_BACK];

/// The current time at the precision PostgreSQL keeps (microseconds), so a
/// value written equals the value read back on either backend: the
/// conditional UPDATEs compare timestamps they read.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The `severity` column: low 1 .. critical 4. A handoff forced without a
/// finding (`Severity::None`) is stored as low: it still needs a person.
pub(crate) fn severity_column(severity: Severity) -> i16 {
    match severity {
        Severity::None | Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

pub(crate) fn severity_from_column(column: i16) -> Severity {
    match column {
        i16::MIN..=1 => Severity::Low,
        2 => Severity::Medium,
        3 => Severity::High,
        _ => Severity::Critical,
    }
}

pub(crate) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::None => "none",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

fn severity_to_proto(severity: Severity) -> proto::Severity {
    match severity {
        Severity::None => proto::Severity::None,
        Severity::Low => proto::Severity::Low,
        Severity::Medium => proto::Severity::Medium,
        Severity::High => proto::Severity::High,
        Severity::Critical => proto::Severity::Critical,
    }
}

/// How long a handoff of `severity` may wait for a person under `policy`.
fn response_target(policy: &TenantPolicy, severity: Severity) -> Duration {
    let targets = &policy.response_targets;
    let secs = match severity {
        Severity::Critical => targets.critical_secs,
        Severity::High => targets.high_secs,
        Severity::Medium => targets.medium_secs,
        Severity::None | Severity::Low => targets.low_secs,
    };
    Duration::seconds(i64::from(secs))
}

pub(crate) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

/// A row as the wire shows it.
pub(crate) fn to_proto(row: handoff::Model) -> proto::Handoff {
    let overdue = row.status == OPEN && row.due_at < Utc::now();
    proto::Handoff {
        id: row.id,
        conversation_id: row.conversation_id,
        message_id: row.message_id,
        status: row.status,
        severity: severity_to_proto(severity_from_column(row.severity)).into(),
        intents: json_list(&row.intents),
        reasons: json_list(&row.reasons),
        level: u32::try_from(row.level).unwrap_or(1),
        assignee: row.assignee.unwrap_or_default(),
        opened_at: rfc3339(row.opened_at),
        due_at: rfc3339(row.due_at),
        next_escalation_at: row.next_escalation_at.map(rfc3339).unwrap_or_default(),
        policy_version: u32::try_from(row.policy_version).unwrap_or(0),
        overdue,
        closed_at: row.closed_at.map(rfc3339).unwrap_or_default(),
    }
}

/// The conversation's open or claimed handoff in `scope`.
pub(crate) async fn find_active(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    conversation_id: &ConversationId,
) -> Result<Option<handoff::Model>, DbErr> {
    handoff::Entity::find()
        .filter(handoff::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(handoff::Column::Mode.eq(scope.mode_column()))
        .filter(handoff::Column::OpenKey.eq(conversation_id.as_str()))
        .one(db)
        .await
}

/// One of the handoffs in `scope`.
pub(crate) async fn find(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    id: &HandoffId,
) -> Result<Option<handoff::Model>, DbErr> {
    handoff::Entity::find_by_id(id.as_str())
        .filter(handoff::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(handoff::Column::Mode.eq(scope.mode_column()))
        .one(db)
        .await
}

/// Sorted union, without duplicates.
fn merged(old: &str, new: &[String]) -> Vec<String> {
    let mut all = json_list(old);
    all.extend(new.iter().cloned());
    all.sort();
    all.dedup();
    all
}

/// See [`super::open_or_join`].
pub(crate) async fn open_or_join(
    change: &mut Change<'_>,
    request: &OpenRequest<'_>,
) -> Result<handoff::Model, DbErr> {
    if let Some(active) = find_active(change.tx(), request.scope, request.conversation_id).await? {
        return join(change, active, request).await;
    }
    let now = now();
    let due_at = now + response_target(request.policy, request.severity);
    let id = HandoffId::generate();
    let row = handoff::Model {
        id: id.as_str().to_owned(),
        tenant_id: request.scope.tenant_id.as_str().to_owned(),
        mode: request.scope.mode_column().to_owned(),
        conversation_id: request.conversation_id.as_str().to_owned(),
        message_id: request.message_id.as_str().to_owned(),
        open_key: Some(request.conversation_id.as_str().to_owned()),
        status: OPEN.to_owned(),
        severity: severity_column(request.severity),
        intents: to_json(&sorted(&request.intents)),
        reasons: to_json(&request.reasons),
        policy_version: i32::try_from(request.policy_version).unwrap_or(i32::MAX),
        level: 1,
        round: 0,
        assignee: None,
        opened_at: now,
        due_at,
        next_escalation_at: Some(due_at),
        closed_at: None,
        updated_at: now,
    };
    // In a savepoint: on PostgreSQL a failed statement spoils the whole
    // transaction, and the caller's change must go on after a lost race.
    let savepoint = change.tx().begin().await?;
    let inserted = handoff::Entity::insert(handoff::ActiveModel::from(row.clone()))
        .exec_without_returning(&savepoint)
        .await;
    match inserted {
        Ok(_) => savepoint.commit().await?,
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            // Another instance opened it between our read and our insert.
            savepoint.rollback().await?;
            let active = find_active(change.tx(), request.scope, request.conversation_id)
                .await?
                .ok_or_else(|| DbErr::Custom("the open handoff vanished".to_owned()))?;
            return join(change, active, request).await;
        }
        Err(error) => return Err(error),
    }

    change.audit(
        AuditRecord::success(
            request.principal,
            Some(request.scope.tenant_id.as_str()),
            "handoff.opened",
            format!("handoff:{}", row.id),
        )
        .with_detail("conversation_id", row.conversation_id.clone())
        .with_detail("severity", severity_name(request.severity))
        .with_detail("intents", sorted(&request.intents).join(","))
        .with_detail("policy_version", request.policy_version.to_string())
        .with_detail("reason", request.reasons.join("; ")),
    );
    notify::enqueue(change.tx(), request.policy, &row, Event::Opened, now).await?;
    tracing::info!(
        tenant_id = %request.scope.tenant_id,
        mode = %row.mode,
        handoff_id = %row.id,
        conversation_id = %row.conversation_id,
        severity = severity_name(request.severity),
        "handoff opened"
    );
    Ok(row)
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list.dedup();
    list
}

/// Joins the open handoff: a more severe request raises its severity, adds
/// its intents and reasons, and brings the due time forward (never back).
async fn join(
    change: &Change<'_>,
    active: handoff::Model,
    request: &OpenRequest<'_>,
) -> Result<handoff::Model, DbErr> {
    let severity = severity_column(request.severity);
    if severity <= active.severity {
        return Ok(active);
    }
    let now = now();
    let due_at = active
        .due_at
        .min(active.opened_at + response_target(request.policy, request.severity));
    // A pending first deadline moves with the due time; a later level's
    // keeps its own delay.
    let next_escalation_at = match active.next_escalation_at {
        Some(next) if active.level == 1 && active.round == 0 => Some(next.min(due_at)),
        other => other,
    };
    let mut row = active;
    let mut update = handoff::ActiveModel {
        id: ActiveValue::Unchanged(row.id.clone()),
        ..Default::default()
    };
    update.severity = ActiveValue::Set(severity);
    update.intents = ActiveValue::Set(to_json(&merged(&row.intents, &request.intents)));
    update.reasons = ActiveValue::Set(to_json(&merged(&row.reasons, &request.reasons)));
    update.due_at = ActiveValue::Set(due_at);
    update.next_escalation_at = ActiveValue::Set(next_escalation_at);
    update.updated_at = ActiveValue::Set(now);
    handoff::Entity::update(update).exec(change.tx()).await?;
    row.severity = severity;
    row.intents = to_json(&merged(&row.intents, &request.intents));
    row.reasons = to_json(&merged(&row.reasons, &request.reasons));
    row.due_at = due_at;
    row.next_escalation_at = next_escalation_at;
    row.updated_at = now;
    tracing::info!(
        tenant_id = %request.scope.tenant_id,
        mode = %row.mode,
        handoff_id = %row.id,
        severity = severity_name(request.severity),
        "handoff severity raised"
    );
    Ok(row)
}

/// The policy a handoff started with: version 0 is the built-in one.
pub(crate) async fn policy_at(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    version: i32,
) -> Result<TenantPolicy, DbErr> {
    if version == 0 {
        return Ok(TenantPolicy::default());
    }
    let row = policy::Entity::find_by_id((tenant_id.to_owned(), version))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("policy version {version}")))?;
    serde_json::from_str(&row.document)
        .map_err(|error| DbErr::Custom(format!("policy version {version} unreadable: {error}")))
}

/// The newest webhook signing secret the tenant has set.
pub(crate) async fn webhook_secret(
    db: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Option<String>, DbErr> {
    let row = policy::Entity::find()
        .filter(policy::Column::TenantId.eq(tenant_id))
        .filter(policy::Column::WebhookSecret.is_not_null())
        .order_by_desc(policy::Column::Version)
        .one(db)
        .await?;
    Ok(row.and_then(|row| row.webhook_secret))
}

/// Open handoffs whose next escalation is due at `now`, soonest first, in
/// every tenant and both modes: the worker moves test-mode handoffs along
/// too, and [`notify::enqueue`] keeps them from notifying anyone.
pub(crate) async fn due_for_escalation(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<Vec<handoff::Model>, DbErr> {
    handoff::Entity::find()
        .filter(handoff::Column::Status.eq(OPEN))
        .filter(handoff::Column::NextEscalationAt.lte(now))
        .order_by_asc(handoff::Column::NextEscalationAt)
        .limit(batch)
        .all(db)
        .await
}

/// Moves `row` to `level`/`round` with its next deadline, if nobody moved
/// it first: `true` when this caller owns the step.
pub(crate) async fn advance(
    db: &impl ConnectionTrait,
    row: &handoff::Model,
    level: i32,
    round: i32,
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(was_next) = row.next_escalation_at else {
        return Ok(false);
    };
    let result = handoff::Entity::update_many()
        .col_expr(handoff::Column::Level, Expr::value(level))
        .col_expr(handoff::Column::Round, Expr::value(round))
        .col_expr(handoff::Column::NextEscalationAt, Expr::value(next))
        .col_expr(handoff::Column::UpdatedAt, Expr::value(now))
        .filter(handoff::Column::Id.eq(row.id.as_str()))
        .filter(handoff::Column::Status.eq(OPEN))
        .filter(handoff::Column::Level.eq(row.level))
        .filter(handoff::Column::Round.eq(row.round))
        .filter(handoff::Column::NextEscalationAt.eq(was_next))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_map_to_the_column_and_back() {
        for severity in [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            assert_eq!(severity_from_column(severity_column(severity)), severity);
        }
        assert_eq!(severity_column(Severity::None), 1);
    }
}
