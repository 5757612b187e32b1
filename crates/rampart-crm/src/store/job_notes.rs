//! One tenant's job notes: what staff wrote about a customer or one of its
//! appointments, with equipment details. The text and the equipment are
//! personal data: they are sealed under the customer's data key before they
//! reach the database, and opened only on the way out.

use std::fmt;

use chrono::{DateTime, Utc};
use rampart_kit::ids::{AppointmentId, CustomerId, JobNoteId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::{
    AppointmentStore, CustomerStore, DataScope, Page, customer_owner, fingerprint, into_page,
    is_unique_violation, now,
};
use crate::Error;
use crate::domain::{Equipment, IdempotencyKey, NoteText, PageRequest};
use crate::entity::job_note;
use crate::vault::{DataKey, Field, TenantKeys, Vault};

/// The table whose columns the sealed values are bound to.
const TABLE: &str = "crm_job_note";

/// The blind-index field an idempotency fingerprint is keyed under: a plain
/// SHA-256 of a short note could be guessed back from the database, a
/// tenant-keyed HMAC cannot.
const FINGERPRINT_INDEX: &str = "crm_job_note.idempotency_fingerprint";

/// What a note is about: a customer, or one of its appointments.
#[derive(Debug, Clone)]
pub enum NoteSubject {
    Customer(CustomerId),
    Appointment(AppointmentId),
}

/// A job note to write, parsed.
#[derive(Debug)]
pub struct NewJobNote {
    pub subject: NoteSubject,
    pub text: NoteText,
    pub equipment: Option<Equipment>,
    pub idempotency_key: Option<IdempotencyKey>,
}

impl NewJobNote {
    fn fingerprint(&self) -> String {
        let (kind, id) = match &self.subject {
            NoteSubject::Customer(id) => ("customer", id.as_str()),
            NoteSubject::Appointment(id) => ("appointment", id.as_str()),
        };
        fingerprint(&[
            "job_note",
            kind,
            id,
            self.text.as_str(),
            self.equipment.as_ref().map_or("", Equipment::as_str),
        ])
    }
}

/// A job note as callers see it: opened.
#[derive(Clone, PartialEq, Eq)]
pub struct JobNote {
    pub id: String,
    pub customer_id: String,
    pub appointment_id: Option<String>,
    pub text: String,
    pub equipment: Option<String>,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

/// Shows only the ids: the rest is the customer's.
impl fmt::Debug for JobNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobNote")
            .field("id", &self.id)
            .field("customer_id", &self.customer_id)
            .field("appointment_id", &self.appointment_id)
            .finish_non_exhaustive()
    }
}

/// What a note list is narrowed to.
#[derive(Debug, Default)]
pub struct JobNoteFilter {
    /// The customer's notes, those on its appointments included.
    pub customer_id: Option<CustomerId>,
    pub appointment_id: Option<AppointmentId>,
}

/// A tenant's job notes in one data mode.
#[derive(Debug)]
pub struct JobNoteStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    vault: &'a Vault,
    scope: DataScope,
}

impl<'a> JobNoteStore<'a> {
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

    async fn keys(&self, db: &impl ConnectionTrait) -> Result<TenantKeys, Error> {
        self.vault.tenant(db, &self.scope.tenant_id).await
    }

    /// Every note query starts here, filtered by tenant and mode.
    fn scoped(&self) -> sea_orm::Select<job_note::Entity> {
        job_note::Entity::find()
            .filter(job_note::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(job_note::Column::Mode.eq(self.scope.mode.as_str()))
    }

    /// Writes a note, its text and equipment sealed under the customer's
    /// data key (`customer:<id>`, so erasing the customer shreds its notes
    /// too), and records `job_note.created` (ids only). The subject must be
    /// in this scope. A key seen before answers the note it wrote if the
    /// request is the same, and a conflict otherwise.
    pub async fn create(&self, actor: &Principal, new: NewJobNote) -> Result<JobNote, Error> {
        let fingerprint = self
            .keys(self.db)
            .await?
            .blind_index(FINGERPRINT_INDEX, &new.fingerprint());
        if let Some(key) = &new.idempotency_key
            && let Some(earlier) = self.replay(key, &fingerprint).await?
        {
            return Ok(earlier);
        }
        let (customer_id, appointment_id) = match &new.subject {
            NoteSubject::Customer(id) => {
                CustomerStore::for_tenant(self.db, self.outbox, self.vault, self.scope.clone())
                    .get(id)
                    .await?;
                (id.as_str().to_owned(), None)
            }
            NoteSubject::Appointment(id) => {
                let appointment = AppointmentStore::for_tenant(
                    self.db,
                    self.outbox,
                    self.vault,
                    self.scope.clone(),
                )
                .get(id)
                .await?;
                (appointment.customer_id, Some(appointment.id))
            }
        };

        let id = JobNoteId::generate().into_string();
        let mut change = self.outbox.begin(self.db).await?;
        let key = self
            .keys(change.tx())
            .await?
            .existing_data_key(change.tx(), &customer_owner(&customer_id))
            .await?
            .ok_or(Error::CustomerNotFound)?;
        let row = job_note::Model {
            id: id.clone(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            customer_id: customer_id.clone(),
            appointment_id: appointment_id.clone(),
            text: key.seal(&at("text", &id), new.text.as_str()),
            equipment: new
                .equipment
                .as_ref()
                .map(|equipment| key.seal(&at("equipment", &id), equipment.as_str())),
            author: actor.actor(),
            created_at: now(),
            idempotency_key: new.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
            idempotency_fingerprint: new.idempotency_key.as_ref().map(|_| fingerprint.clone()),
        };
        let inserted = job_note::Entity::insert(row.clone().into_active_model())
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
        let mut event = AuditRecord::success(
            actor,
            Some(self.scope.tenant_id.as_str()),
            "job_note.created",
            format!("job_note:{id}"),
        )
        .with_detail("customer_id", customer_id.clone());
        if let Some(appointment_id) = &appointment_id {
            event = event.with_detail("appointment_id", appointment_id.clone());
        }
        change.audit(event);
        change.commit().await?;
        Ok(JobNote {
            id,
            customer_id,
            appointment_id,
            text: new.text.as_str().to_owned(),
            equipment: new.equipment.map(|e| e.as_str().to_owned()),
            author: row.author,
            created_at: row.created_at,
        })
    }

    /// The note an earlier create with `key` wrote, if any.
    async fn replay(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<JobNote>, Error> {
        let Some(existing) = self
            .scoped()
            .filter(job_note::Column::IdempotencyKey.eq(key.as_str()))
            .one(self.db)
            .await?
        else {
            return Ok(None);
        };
        if existing.idempotency_fingerprint.as_deref() != Some(fingerprint) {
            return Err(Error::IdempotencyConflict);
        }
        // A replay after the customer was erased: the note is gone with it.
        self.open(existing)
            .await?
            .map(Some)
            .ok_or(Error::JobNoteNotFound)
    }

    pub async fn get(&self, id: &JobNoteId) -> Result<JobNote, Error> {
        let row = self
            .scoped()
            .filter(job_note::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?
            .ok_or(Error::JobNoteNotFound)?;
        self.open(row).await?.ok_or(Error::JobNoteNotFound)
    }

    /// One page of the scope's notes, newest first.
    pub async fn list(
        &self,
        filter: &JobNoteFilter,
        page: &PageRequest<JobNoteId>,
    ) -> Result<Page<JobNote>, Error> {
        let mut query = self.scoped();
        if let Some(customer_id) = &filter.customer_id {
            query = query.filter(job_note::Column::CustomerId.eq(customer_id.as_str()));
        }
        if let Some(appointment_id) = &filter.appointment_id {
            query = query.filter(job_note::Column::AppointmentId.eq(appointment_id.as_str()));
        }
        if let Some(after) = page.after() {
            query = query.filter(job_note::Column::Id.lt(after.as_str()));
        }
        let rows = query
            .order_by_desc(job_note::Column::Id)
            .limit(u64::from(page.size()) + 1)
            .all(self.db)
            .await?;
        let page = into_page(rows, page.size(), |row| &row.id);
        let mut opened = Vec::with_capacity(page.items.len());
        for row in page.items {
            // Notes of an erased customer's leftover rows are not listed.
            opened.extend(self.open(row).await?);
        }
        Ok(Page {
            items: opened,
            next_cursor: page.next_cursor,
        })
    }

    /// A stored note, its text and equipment opened with its customer's
    /// data key; `None` when that key is gone (the customer was erased).
    async fn open(&self, row: job_note::Model) -> Result<Option<JobNote>, Error> {
        let Some(key): Option<DataKey> = self
            .keys(self.db)
            .await?
            .existing_data_key(self.db, &customer_owner(&row.customer_id))
            .await?
        else {
            return Ok(None);
        };
        let text = key.open(&at("text", &row.id), &row.text)?;
        let equipment = row
            .equipment
            .as_deref()
            .map(|sealed| key.open(&at("equipment", &row.id), sealed))
            .transpose()?;
        Ok(Some(JobNote {
            id: row.id,
            customer_id: row.customer_id,
            appointment_id: row.appointment_id,
            text,
            equipment,
            author: row.author,
            created_at: row.created_at,
        }))
    }
}

/// Where a note's sealed value lives: the AEAD binds it to this table,
/// column and row (and the tenant), so it opens nowhere else.
fn at<'a>(column: &'a str, row: &'a str) -> Field<'a> {
    Field {
        table: TABLE,
        column,
        row,
    }
}
