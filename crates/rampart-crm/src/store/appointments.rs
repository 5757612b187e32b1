//! One tenant's appointments: booking one (idempotently, for a customer of
//! the same tenant and mode), reading and listing them, and changing them
//! (time, service type, assignee, status steps), each change audited by the
//! names of the fields it touched.

use chrono::{DateTime, Utc};
use rampart_kit::ids::{AppointmentId, CustomerId, UserId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use super::{CustomerStore, DataScope, Page, fingerprint, into_page, is_unique_violation, now};
use crate::Error;
use crate::domain::{
    AppointmentStatus, AppointmentWindow, IdempotencyKey, PageRequest, ServiceType,
};
use crate::entity::appointment;
use crate::vault::Vault;

/// An appointment to book, parsed.
#[derive(Debug)]
pub struct NewAppointment {
    pub customer_id: CustomerId,
    pub window: AppointmentWindow,
    pub service_type: ServiceType,
    pub assignee: Option<UserId>,
    pub idempotency_key: Option<IdempotencyKey>,
}

impl NewAppointment {
    fn fingerprint(&self) -> String {
        fingerprint(&[
            "appointment",
            self.customer_id.as_str(),
            &self.window.starts_at().to_rfc3339(),
            &self.window.ends_at().to_rfc3339(),
            self.service_type.as_str(),
            self.assignee.as_ref().map_or("", UserId::as_str),
        ])
    }
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct AppointmentChange {
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub service_type: Option<ServiceType>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<UserId>>,
    pub status: Option<AppointmentStatus>,
}

/// What an appointment list is narrowed to.
#[derive(Debug, Default)]
pub struct AppointmentFilter {
    pub customer_id: Option<CustomerId>,
    pub assignee: Option<UserId>,
    pub status: Option<AppointmentStatus>,
    /// Starting at or after this time.
    pub starts_from: Option<DateTime<Utc>>,
    /// Starting before this time.
    pub starts_before: Option<DateTime<Utc>>,
}

/// A tenant's appointments in one data mode.
#[derive(Debug)]
pub struct AppointmentStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    /// For the customer lookup only: an appointment holds no sealed field.
    vault: &'a Vault,
    scope: DataScope,
}

impl<'a> AppointmentStore<'a> {
    /// The scope comes from the caller's principal, never the request.
    #[must_use]
    pub fn for_tenant(
        db: &'a DatabaseConnection,
        outbox: &'a Outbox,
        vault: &'a Vault,
        scope: DataScope,
    ) -> Self {
        Self {
            db,
            outbox,
            vault,
            scope,
        }
    }

    /// Every appointment query starts here, filtered by tenant and mode.
    fn scoped(&self) -> sea_orm::Select<appointment::Entity> {
        appointment::Entity::find()
            .filter(appointment::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(appointment::Column::Mode.eq(self.scope.mode.as_str()))
    }

    /// The appointment `id` read through `db` (a transaction or the pool),
    /// if it is in this scope.
    pub(super) async fn find(
        &self,
        db: &impl ConnectionTrait,
        id: &str,
    ) -> Result<appointment::Model, Error> {
        self.scoped()
            .filter(appointment::Column::Id.eq(id))
            .one(db)
            .await?
            .ok_or(Error::AppointmentNotFound)
    }

    pub async fn get(&self, id: &AppointmentId) -> Result<appointment::Model, Error> {
        self.find(self.db, id.as_str()).await
    }

    /// Books an appointment (`scheduled`) and records
    /// `appointment.created`. A key seen before answers the appointment it
    /// booked if the request is the same, and a conflict otherwise.
    pub async fn create(
        &self,
        actor: &Principal,
        new: NewAppointment,
    ) -> Result<appointment::Model, Error> {
        let fingerprint = new.fingerprint();
        if let Some(key) = &new.idempotency_key
            && let Some(earlier) = self.replay(key, &fingerprint).await?
        {
            return Ok(earlier);
        }
        CustomerStore::for_tenant(self.db, self.outbox, self.vault, self.scope.clone())
            .get(&new.customer_id)
            .await?;

        let created_at = now();
        let row = appointment::Model {
            id: AppointmentId::generate().into_string(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            customer_id: new.customer_id.into_string(),
            starts_at: new.window.starts_at(),
            ends_at: new.window.ends_at(),
            service_type: new.service_type.into_string(),
            assignee: new.assignee.map(UserId::into_string),
            status: AppointmentStatus::Scheduled.as_str().to_owned(),
            created_at,
            updated_at: created_at,
            idempotency_key: new.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
            idempotency_fingerprint: new.idempotency_key.as_ref().map(|_| fingerprint.clone()),
        };
        let event = AuditRecord::success(
            actor,
            Some(self.scope.tenant_id.as_str()),
            "appointment.created",
            format!("appointment:{}", row.id),
        )
        .with_detail("customer_id", row.customer_id.clone());

        let mut change = self.outbox.begin(self.db).await?;
        let inserted = appointment::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(change.tx())
            .await;
        match inserted {
            Ok(_) => {}
            // Another request with the same key won the race: answer as
            // for any retry.
            Err(error) if is_unique_violation(&error) => {
                drop(change);
                if let Some(key) = &new.idempotency_key
                    && let Some(earlier) = self.replay(key, &fingerprint).await?
                {
                    return Ok(earlier);
                }
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        }
        crate::calendar::store::enqueue_sync(change.tx(), &self.scope, &row.id).await?;
        change.audit(event);
        change.commit().await?;
        Ok(row)
    }

    /// The appointment an earlier create with `key` booked, if any.
    async fn replay(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<appointment::Model>, Error> {
        let Some(existing) = self
            .scoped()
            .filter(appointment::Column::IdempotencyKey.eq(key.as_str()))
            .one(self.db)
            .await?
        else {
            return Ok(None);
        };
        if existing.idempotency_fingerprint.as_deref() != Some(fingerprint) {
            return Err(Error::IdempotencyConflict);
        }
        Ok(Some(existing))
    }

    /// One page of the scope's appointments, newest booking first.
    pub async fn list(
        &self,
        filter: &AppointmentFilter,
        page: &PageRequest<AppointmentId>,
    ) -> Result<Page<appointment::Model>, Error> {
        let mut query = self.scoped();
        if let Some(customer_id) = &filter.customer_id {
            query = query.filter(appointment::Column::CustomerId.eq(customer_id.as_str()));
        }
        if let Some(assignee) = &filter.assignee {
            query = query.filter(appointment::Column::Assignee.eq(assignee.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(appointment::Column::Status.eq(status.as_str()));
        }
        if let Some(from) = filter.starts_from {
            query = query.filter(appointment::Column::StartsAt.gte(from));
        }
        if let Some(before) = filter.starts_before {
            query = query.filter(appointment::Column::StartsAt.lt(before));
        }
        // Ids are UUIDv7: descending id order is newest first, and the
        // cursor is the last id of the previous page.
        if let Some(after) = page.after() {
            query = query.filter(appointment::Column::Id.lt(after.as_str()));
        }
        let rows = query
            .order_by_desc(appointment::Column::Id)
            .limit(u64::from(page.size()) + 1)
            .all(self.db)
            .await?;
        Ok(into_page(rows, page.size(), |row| &row.id))
    }

    /// Applies `change` and records `appointment.updated` with the names of
    /// the fields that changed (and the status step), in one transaction.
    /// The window is checked as it will be after the change; a status step
    /// outside [`AppointmentStatus::may_become`] is a state conflict, and so
    /// is any change to an ended (completed or cancelled) appointment. A
    /// change that changes nothing (the status it has included: a retried
    /// step) writes nothing and answers the appointment.
    pub async fn update(
        &self,
        actor: &Principal,
        id: &AppointmentId,
        change: AppointmentChange,
    ) -> Result<appointment::Model, Error> {
        let mut tx = self.outbox.begin(self.db).await?;
        let existing = self.find(tx.tx(), id.as_str()).await?;
        let from = parse_status(&existing.status)?;
        let window = AppointmentWindow::new(
            change.starts_at.unwrap_or(existing.starts_at),
            change.ends_at.unwrap_or(existing.ends_at),
        )?;
        if let Some(to) = change.status
            && to != from
            && !from.may_become(to)
        {
            return Err(Error::AppointmentStateConflict {
                from: from.as_str(),
                to: to.as_str(),
            });
        }

        let mut changed: Vec<&str> = Vec::new();
        let mut row = existing.clone().into_active_model();
        if window.starts_at() != existing.starts_at {
            changed.push("starts_at");
            row.starts_at = ActiveValue::Set(window.starts_at());
        }
        if window.ends_at() != existing.ends_at {
            changed.push("ends_at");
            row.ends_at = ActiveValue::Set(window.ends_at());
        }
        if let Some(service_type) = change.service_type
            && service_type.as_str() != existing.service_type
        {
            changed.push("service_type");
            row.service_type = ActiveValue::Set(service_type.into_string());
        }
        if let Some(assignee) = change.assignee {
            let assignee = assignee.map(UserId::into_string);
            if assignee != existing.assignee {
                changed.push("assignee");
                row.assignee = ActiveValue::Set(assignee);
            }
        }
        let step = change.status.filter(|to| *to != from);
        if let Some(to) = step {
            changed.push("status");
            row.status = ActiveValue::Set(to.as_str().to_owned());
        }
        if changed.is_empty() {
            return Ok(existing);
        }
        if matches!(
            from,
            AppointmentStatus::Completed | AppointmentStatus::Cancelled
        ) {
            // What happened is history: an ended appointment keeps its
            // time, work and assignee.
            return Err(Error::AppointmentStateConflict {
                from: from.as_str(),
                to: from.as_str(),
            });
        }
        row.updated_at = ActiveValue::Set(now());
        let updated = row.update(tx.tx()).await?;

        let mut event = AuditRecord::success(
            actor,
            Some(self.scope.tenant_id.as_str()),
            "appointment.updated",
            format!("appointment:{}", existing.id),
        )
        .with_detail("changed", changed.join(","));
        if let Some(to) = step {
            event = event
                .with_detail("from", from.as_str())
                .with_detail("to", to.as_str());
        }
        crate::calendar::store::enqueue_sync(tx.tx(), &self.scope, &updated.id).await?;
        tx.audit(event);
        tx.commit().await?;
        Ok(updated)
    }
}

/// A stored status; anything else is a corrupt row.
fn parse_status(text: &str) -> Result<AppointmentStatus, Error> {
    AppointmentStatus::parse("status", text)
        .map_err(|_| Error::Internal(anyhow::anyhow!("unknown appointment status {text:?}")))
}
