//! What people do to a handoff (claim, resolve, hand back): who may do
//! what in which state, and the conditional UPDATE that makes one of two
//! racing agents the winner.

use chrono::{DateTime, Utc};
use rampart_kit::ids::{HandoffId, UserId};
use rampart_kit::outbox::{AuditRecord, Change};
use rampart_kit::principal::Principal;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};

use super::entity::handoff;
use super::store::{CLAIMED, HANDED_BACK, OPEN, RESOLVED, find, now};
use crate::scope::DataScope;

/// What a person does to a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Claim,
    Resolve,
    HandBack,
}

impl Step {
    fn target_status(self) -> &'static str {
        match self {
            Self::Claim => CLAIMED,
            Self::Resolve => RESOLVED,
            Self::HandBack => HANDED_BACK,
        }
    }

    pub(crate) fn audit_action(self) -> &'static str {
        match self {
            Self::Claim => "handoff.claimed",
            Self::Resolve => "handoff.resolved",
            Self::HandBack => "handoff.handed_back",
        }
    }
}

/// Why a step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Closed,
    ClaimedBySomeoneElse,
    NotClaimed,
}

/// What a step did.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The row changed (`took_over`: from another user's claim).
    Done {
        row: handoff::Model,
        took_over: bool,
    },
    /// The same user repeated the step: nothing changed.
    AsItIs(handoff::Model),
    Refused(Refusal),
}

/// What a step on a row in a given state comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Change the row (`took_over`: from another user's claim).
    Proceed {
        took_over: bool,
    },
    AsItIs,
    Refuse(Refusal),
}

/// Decides `step` on `row` for `user` (`senior`: manager or owner, who may
/// take over another user's claim).
fn decide(step: Step, row: &handoff::Model, user: &UserId, senior: bool) -> Decision {
    let mine = row.assignee.as_deref() == Some(user.as_str());
    if row.status == step.target_status() && mine {
        return Decision::AsItIs;
    }
    match (row.status.as_str(), step) {
        (OPEN, Step::Claim | Step::Resolve) => Decision::Proceed { took_over: false },
        (OPEN, Step::HandBack) => Decision::Refuse(Refusal::NotClaimed),
        (CLAIMED, _) if mine => Decision::Proceed { took_over: false },
        (CLAIMED, _) if senior => Decision::Proceed { took_over: true },
        (CLAIMED, _) => Decision::Refuse(Refusal::ClaimedBySomeoneElse),
        _ => Decision::Refuse(Refusal::Closed),
    }
}

/// Applies `step` by `user` to the handoff `id` of `scope` in `change`,
/// with its audit record. `None`: no such handoff in the tenant's mode.
pub(crate) async fn apply_step(
    change: &mut Change<'_>,
    scope: &DataScope,
    id: &HandoffId,
    step: Step,
    user: &UserId,
    senior: bool,
    principal: &Principal,
) -> Result<Option<Outcome>, DbErr> {
    // A lost race re-reads once: the winner's state decides the answer.
    for _ in 0..2 {
        let Some(row) = find(change.tx(), scope, id).await? else {
            return Ok(None);
        };
        let took_over = match decide(step, &row, user, senior) {
            Decision::Proceed { took_over } => took_over,
            Decision::AsItIs => return Ok(Some(Outcome::AsItIs(row))),
            Decision::Refuse(refusal) => return Ok(Some(Outcome::Refused(refusal))),
        };
        let now = now();
        let mut update = handoff::Entity::update_many()
            .col_expr(handoff::Column::Status, Expr::value(step.target_status()))
            .col_expr(handoff::Column::Assignee, Expr::value(user.as_str()))
            .col_expr(
                handoff::Column::NextEscalationAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(handoff::Column::UpdatedAt, Expr::value(now));
        if step != Step::Claim {
            update = update
                .col_expr(handoff::Column::ClosedAt, Expr::value(Some(now)))
                .col_expr(
                    handoff::Column::OpenKey,
                    Expr::value(Option::<String>::None),
                );
        }
        let assignee_was = match &row.assignee {
            Some(assignee) => handoff::Column::Assignee.eq(assignee.as_str()),
            None => handoff::Column::Assignee.is_null(),
        };
        let result = update
            .filter(handoff::Column::Id.eq(row.id.as_str()))
            .filter(handoff::Column::TenantId.eq(scope.tenant_id.as_str()))
            .filter(handoff::Column::Mode.eq(scope.mode_column()))
            .filter(handoff::Column::Status.eq(row.status.as_str()))
            .filter(assignee_was)
            .exec(change.tx())
            .await?;
        if result.rows_affected != 1 {
            continue;
        }
        let mut record = AuditRecord::success(
            principal,
            Some(scope.tenant_id.as_str()),
            step.audit_action(),
            format!("handoff:{}", row.id),
        )
        .with_detail("conversation_id", row.conversation_id.clone());
        if step == Step::Claim {
            record = record.with_detail("assignee", user.as_str());
        }
        if took_over {
            record = record.with_detail("reason", "taken over from another user");
        }
        change.audit(record);
        let changed = find(change.tx(), scope, id)
            .await?
            .ok_or_else(|| DbErr::Custom("the handoff vanished".to_owned()))?;
        return Ok(Some(Outcome::Done {
            row: changed,
            took_over,
        }));
    }
    Err(DbErr::Custom(
        "the handoff kept changing under a step".to_owned(),
    ))
}
