//! One page of a tenant's queue in one data mode: filters, the queue's order (severity
//! first, then the soonest due, then the id) and the opaque cursor that
//! continues it.

use chrono::{DateTime, Utc};
use rampart_kit::ids::{ConversationId, HandoffId, UserId};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::entity::handoff;
use super::store::{CLAIMED, OPEN, rfc3339};
use crate::scope::DataScope;

/// Filters and position of one page of the queue, already parsed.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    /// Empty: open and claimed.
    pub statuses: Vec<&'static str>,
    pub min_severity: Option<i16>,
    pub conversation_id: Option<ConversationId>,
    pub assignee: Option<UserId>,
    pub page_size: u32,
    pub after: Option<Cursor>,
}

/// Where a page ends, in the queue's order: severity (desc), due time,
/// id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub severity: i16,
    pub due_at: DateTime<Utc>,
    pub id: String,
}

impl Cursor {
    /// Hex of `severity|due_at|id`: opaque to callers, who only pass it
    /// back.
    pub(crate) fn encode(&self) -> String {
        let text = format!("{}|{}|{}", self.severity, rfc3339(self.due_at), self.id);
        super::notify::hex(text.as_bytes())
    }

    pub(crate) fn decode(cursor: &str) -> Option<Self> {
        let bytes = super::notify::unhex(cursor, 256)?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '|');
        let severity: i16 = parts.next()?.parse().ok()?;
        let due_at = DateTime::parse_from_rfc3339(parts.next()?)
            .ok()?
            .with_timezone(&Utc);
        let id = HandoffId::parse(parts.next()?).ok()?;
        if !(1..=4).contains(&severity) {
            return None;
        }
        Some(Self {
            severity,
            due_at,
            id: id.into_string(),
        })
    }
}

/// One page of the queue in `scope` and the cursor of the next.
pub(crate) async fn list(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    query: &ListQuery,
) -> Result<(Vec<handoff::Model>, Option<Cursor>), DbErr> {
    let statuses: Vec<&str> = if query.statuses.is_empty() {
        vec![OPEN, CLAIMED]
    } else {
        query.statuses.clone()
    };
    let mut select = handoff::Entity::find()
        .filter(handoff::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(handoff::Column::Mode.eq(scope.mode_column()))
        .filter(handoff::Column::Status.is_in(statuses));
    if let Some(min) = query.min_severity {
        select = select.filter(handoff::Column::Severity.gte(min));
    }
    if let Some(conversation) = &query.conversation_id {
        select = select.filter(handoff::Column::ConversationId.eq(conversation.as_str()));
    }
    if let Some(assignee) = &query.assignee {
        select = select.filter(handoff::Column::Assignee.eq(assignee.as_str()));
    }
    if let Some(after) = &query.after {
        select = select.filter(
            Condition::any()
                .add(handoff::Column::Severity.lt(after.severity))
                .add(
                    Condition::all()
                        .add(handoff::Column::Severity.eq(after.severity))
                        .add(handoff::Column::DueAt.gt(after.due_at)),
                )
                .add(
                    Condition::all()
                        .add(handoff::Column::Severity.eq(after.severity))
                        .add(handoff::Column::DueAt.eq(after.due_at))
                        .add(handoff::Column::Id.gt(after.id.as_str())),
                ),
        );
    }
    let mut rows = select
        .order_by_desc(handoff::Column::Severity)
        .order_by_asc(handoff::Column::DueAt)
        .order_by_asc(handoff::Column::Id)
        .limit(u64::from(query.page_size) + 1)
        .all(db)
        .await?;
    let size = query.page_size as usize;
    let next = if rows.len() > size {
        rows.truncate(size);
        rows.last().map(|row| Cursor {
            severity: row.severity,
            due_at: row.due_at,
            id: row.id.clone(),
        })
    } else {
        None
    };
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoffs::store::now;

    #[test]
    fn a_cursor_survives_its_round_trip_and_junk_is_refused() {
        let cursor = Cursor {
            severity: 3,
            due_at: now(),
            id: HandoffId::generate().into_string(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        let out_of_range = super::super::notify::hex(b"9|x|y");
        for junk in ["", "zz", "abc", &"00".repeat(300), &out_of_range] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
    }
}
