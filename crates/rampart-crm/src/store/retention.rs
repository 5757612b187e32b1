//! A tenant's retention periods, per data mode. Only stored and served
//! here: the scheduled deletion job reads them elsewhere.

use chrono::{DateTime, Utc};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter,
};

use super::{DataScope, now};
use crate::Error;
use crate::domain::{RetentionDays, RetentionPeriods};
use crate::entity::retention;

/// The periods in force, and who last set them (`None` until first set:
/// everything is kept).
#[derive(Debug, Clone)]
pub struct StoredRetention {
    pub periods: RetentionPeriods,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: String,
}

/// The retention periods of one tenant in one data mode.
#[derive(Debug)]
pub struct RetentionStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    scope: DataScope,
}

impl<'a> RetentionStore<'a> {
    /// The scope must come from the caller's principal.
    #[must_use]
    pub fn for_tenant(db: &'a DatabaseConnection, outbox: &'a Outbox, scope: DataScope) -> Self {
        Self { db, outbox, scope }
    }

    async fn row(&self, db: &impl ConnectionTrait) -> Result<Option<retention::Model>, Error> {
        Ok(retention::Entity::find()
            .filter(retention::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(retention::Column::Mode.eq(self.scope.mode.as_str()))
            .one(db)
            .await?)
    }

    pub async fn get(&self) -> Result<StoredRetention, Error> {
        self.row(self.db).await?.map_or_else(
            || {
                Ok(StoredRetention {
                    periods: RetentionPeriods::default(),
                    updated_at: None,
                    updated_by: String::new(),
                })
            },
            from_row,
        )
    }

    /// Replaces the periods, with a `config.changed` event naming the
    /// changed fields and their values before and after (day counts are
    /// neither personal nor secret), in the same transaction. Unchanged
    /// periods write nothing.
    pub async fn put(
        &self,
        actor: &Principal,
        periods: RetentionPeriods,
    ) -> Result<StoredRetention, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let existing = self.row(change.tx()).await?;
        let before = existing
            .clone()
            .map(from_row)
            .transpose()?
            .map_or_else(RetentionPeriods::default, |stored| stored.periods);
        let changed: Vec<_> = before
            .fields()
            .into_iter()
            .zip(periods.fields())
            .filter(|(old, new)| old.1 != new.1)
            .collect();
        if changed.is_empty()
            && let Some(row) = existing.clone()
        {
            return from_row(row);
        }

        let row = retention::Model {
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            conversations_days: to_column(periods.conversations),
            job_notes_days: to_column(periods.job_notes),
            inactive_customers_days: to_column(periods.inactive_customers),
            updated_at: now(),
            updated_by: actor.actor(),
        };
        if existing.is_some() {
            // A model's active form marks every column unchanged, which
            // would update nothing: mark them all set, then keep the key
            // columns as the row's selector.
            let mut active = row.clone().into_active_model().reset_all();
            active.tenant_id = ActiveValue::Unchanged(row.tenant_id.clone());
            active.mode = ActiveValue::Unchanged(row.mode.clone());
            retention::Entity::update(active).exec(change.tx()).await?;
        } else {
            retention::Entity::insert(row.clone().into_active_model())
                .exec_without_returning(change.tx())
                .await?;
        }
        let join = |parts: Vec<String>| parts.join(",");
        let names = join(changed.iter().map(|(old, _)| old.0.to_owned()).collect());
        let before_values = join(
            changed
                .iter()
                .map(|(old, _)| format!("{}={}", old.0, old.1))
                .collect(),
        );
        let after_values = join(
            changed
                .iter()
                .map(|(_, new)| format!("{}={}", new.0, new.1))
                .collect(),
        );
        change.audit(
            AuditRecord::success(
                actor,
                Some(self.scope.tenant_id.as_str()),
                "config.changed",
                "config:retention".to_owned(),
            )
            .with_detail("setting", "retention")
            .with_detail("changed", names)
            .with_detail("before", before_values)
            .with_detail("after", after_values),
        );
        change.commit().await?;
        from_row(row)
    }
}

fn to_column(days: Option<RetentionDays>) -> Option<i32> {
    days.and_then(|days| i32::try_from(days.get()).ok())
}

/// A stored row as periods; a value outside the bounds is a fault of ours.
fn from_row(row: retention::Model) -> Result<StoredRetention, Error> {
    let days = |field: &'static str, value: Option<i32>| {
        value
            .map(|days| {
                u32::try_from(days)
                    .ok()
                    .and_then(|days| RetentionDays::parse(field, days).ok())
                    .ok_or_else(|| {
                        Error::Internal(anyhow::anyhow!("stored {field} is out of bounds"))
                    })
            })
            .transpose()
    };
    Ok(StoredRetention {
        periods: RetentionPeriods {
            conversations: days("conversations_days", row.conversations_days)?,
            job_notes: days("job_notes_days", row.job_notes_days)?,
            inactive_customers: days("inactive_customers_days", row.inactive_customers_days)?,
        },
        updated_at: Some(row.updated_at),
        updated_by: row.updated_by,
    })
}
