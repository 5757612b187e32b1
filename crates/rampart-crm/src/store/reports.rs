//! Counts of one tenant's data in one data mode over a period: what a
//! manager's activity report shows. Every number is a `COUNT(*)` (grouped
//! where the report splits it) computed by the database; no row, and so no
//! personal data, is read into the service.

use std::collections::BTreeMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use super::DataScope;
use crate::Error;
use crate::domain::ReportPeriod;
use crate::entity::{appointment, conversation, customer, job_note};

/// The statuses and channels a report always names, at zero when nothing
/// is in them, so a client need not know which are missing. A value the
/// database holds beyond these is reported too.
const CONVERSATION_STATUSES: [&str; 5] =
    ["ai_active", "handed_off", "assigned", "resolved", "closed"];
const CHANNELS: [&str; 5] = ["widget", "web", "sms", "phone", "email"];
const APPOINTMENT_STATUSES: [&str; 4] = ["scheduled", "confirmed", "completed", "cancelled"];

/// One tenant's activity in one data mode over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityCounts {
    /// Every customer held now, whenever created.
    pub customers_total: u64,
    pub customers_created: u64,
    /// Conversations started in the period, then split by their current
    /// status and by channel.
    pub conversations_started: u64,
    pub conversations_by_status: BTreeMap<String, u64>,
    pub conversations_by_channel: BTreeMap<String, u64>,
    /// Appointments starting in the period, by their current status.
    pub appointments: u64,
    pub appointments_by_status: BTreeMap<String, u64>,
    /// Job notes written in the period.
    pub job_notes: u64,
}

/// Counts `scope`'s data over `period` (from inclusive, to exclusive).
pub async fn count_activity(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    period: &ReportPeriod,
) -> Result<ActivityCounts, Error> {
    let (tenant, mode) = (scope.tenant_id.as_str(), scope.mode.as_str());
    let customers = || {
        customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant))
            .filter(customer::Column::Mode.eq(mode))
    };
    let customers_total = customers().count(db).await?;
    let customers_created = customers()
        .filter(customer::Column::CreatedAt.gte(period.from()))
        .filter(customer::Column::CreatedAt.lt(period.to()))
        .count(db)
        .await?;

    let conversations = || {
        conversation::Entity::find()
            .filter(conversation::Column::TenantId.eq(tenant))
            .filter(conversation::Column::Mode.eq(mode))
            .filter(conversation::Column::StartedAt.gte(period.from()))
            .filter(conversation::Column::StartedAt.lt(period.to()))
            .select_only()
    };
    let conversations_by_status = grouped(
        conversations()
            .column(conversation::Column::Status)
            .column_as(conversation::Column::Id.count(), "count")
            .group_by(conversation::Column::Status)
            .into_tuple::<(String, i64)>()
            .all(db)
            .await?,
        &CONVERSATION_STATUSES,
    );
    let conversations_by_channel = grouped(
        conversations()
            .column(conversation::Column::Channel)
            .column_as(conversation::Column::Id.count(), "count")
            .group_by(conversation::Column::Channel)
            .into_tuple::<(String, i64)>()
            .all(db)
            .await?,
        &CHANNELS,
    );

    let appointments_by_status = grouped(
        appointment::Entity::find()
            .filter(appointment::Column::TenantId.eq(tenant))
            .filter(appointment::Column::Mode.eq(mode))
            .filter(appointment::Column::StartsAt.gte(period.from()))
            .filter(appointment::Column::StartsAt.lt(period.to()))
            .select_only()
            .column(appointment::Column::Status)
            .column_as(appointment::Column::Id.count(), "count")
            .group_by(appointment::Column::Status)
            .into_tuple::<(String, i64)>()
            .all(db)
            .await?,
        &APPOINTMENT_STATUSES,
    );

    let job_notes = job_note::Entity::find()
        .filter(job_note::Column::TenantId.eq(tenant))
        .filter(job_note::Column::Mode.eq(mode))
        .filter(job_note::Column::CreatedAt.gte(period.from()))
        .filter(job_note::Column::CreatedAt.lt(period.to()))
        .count(db)
        .await?;

    Ok(ActivityCounts {
        customers_total,
        customers_created,
        conversations_started: conversations_by_status.values().sum(),
        conversations_by_status,
        conversations_by_channel,
        appointments: appointments_by_status.values().sum(),
        appointments_by_status,
        job_notes,
    })
}

/// A `GROUP BY` answer as a map holding every `known` name (zero when
/// absent from the answer) and every name the answer holds.
fn grouped(rows: Vec<(String, i64)>, known: &[&str]) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> =
        known.iter().map(|name| ((*name).to_owned(), 0)).collect();
    for (name, count) in rows {
        *counts.entry(name).or_default() += u64::try_from(count).unwrap_or(0);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_zero_when_absent_and_others_are_kept() {
        let counts = grouped(
            vec![("closed".to_owned(), 3), ("archived".to_owned(), 1)],
            &CONVERSATION_STATUSES,
        );
        assert_eq!(counts["closed"], 3);
        assert_eq!(counts["ai_active"], 0);
        assert_eq!(counts["archived"], 1);
        assert_eq!(counts.len(), 6);
    }

    /// The names a report fills in are the ones the domain parses, so a
    /// renamed status cannot leave a stale zero behind unnoticed.
    #[test]
    fn the_known_names_are_the_domains() {
        use crate::domain::{AppointmentStatus, Channel, ConversationStatus};
        for name in CONVERSATION_STATUSES {
            ConversationStatus::parse("status", name).unwrap();
        }
        for name in CHANNELS {
            Channel::parse("channel", name).unwrap();
        }
        for name in APPOINTMENT_STATUSES {
            AppointmentStatus::parse("status", name).unwrap();
        }
    }
}
