//! Reading one tenant's whole data mode out, page by page, for the owner's
//! bulk export: customers opened, appointments, job notes opened,
//! conversations with their summaries opened, and messages opened.
//!
//! Each read is one page of [`EXPORT_PAGE`] rows after a cursor (the last
//! id of the previous page, in id order), filtered by the scope's tenant
//! and mode like every other query of the store, so an export never holds
//! the whole tenant in memory and never sees another tenant's or the other
//! mode's rows. Channels are not read at all: their credentials are never
//! exported.
//!
//! [`record_export`] writes the `data.exported` audit record; the caller
//! sends no data unless it succeeded.

use std::collections::HashMap;

use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::sealed::{
    conversation_owner, customer_owner, open_conversation, open_customer, open_message,
};
use super::{DataScope, JobNote};
use crate::Error;
use crate::entity::{appointment, conversation, customer, job_note, message};
use crate::vault::{DataKey, Field, TenantKeys, Vault};

/// Rows per page: large enough that a big tenant's export is a few
/// hundred queries, small enough that a page of messages stays a few
/// megabytes.
pub const EXPORT_PAGE: u64 = 500;

/// How many of each thing an export holds (or held when it started).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExportCounts {
    pub customers: u64,
    pub appointments: u64,
    pub job_notes: u64,
    pub conversations: u64,
    pub messages: u64,
}

/// One tenant's data in one data mode, read for an export.
#[derive(Debug)]
pub struct ExportReader<'a> {
    db: &'a DatabaseConnection,
    vault: &'a Vault,
    scope: DataScope,
}

/// Data keys met while opening one page, by owner: the messages of one
/// conversation share one key, fetched once.
struct PageKeys {
    tenant: TenantKeys,
    by_owner: HashMap<String, DataKey>,
}

impl PageKeys {
    async fn key(&mut self, db: &DatabaseConnection, owner: String) -> Result<&DataKey, Error> {
        if !self.by_owner.contains_key(&owner) {
            let key = self.tenant.data_key(db, &owner).await?;
            self.by_owner.insert(owner.clone(), key);
        }
        Ok(&self.by_owner[&owner])
    }
}

/// Filters `$select` of `$entity` to the reader's scope, after `$after` in
/// id order, one page.
macro_rules! page_of {
    ($reader:expr, $entity:ident, $after:expr) => {{
        let mut query = $entity::Entity::find()
            .filter($entity::Column::TenantId.eq($reader.scope.tenant_id.as_str()))
            .filter($entity::Column::Mode.eq($reader.scope.mode.as_str()));
        if let Some(after) = $after {
            query = query.filter($entity::Column::Id.gt(after));
        }
        query
            .order_by_asc($entity::Column::Id)
            .limit(EXPORT_PAGE)
            .all($reader.db)
            .await?
    }};
}

impl<'a> ExportReader<'a> {
    /// The scope comes from the caller's principal, never the request.
    #[must_use]
    pub fn for_tenant(db: &'a DatabaseConnection, vault: &'a Vault, scope: DataScope) -> Self {
        Self { db, vault, scope }
    }

    async fn page_keys(&self) -> Result<PageKeys, Error> {
        Ok(PageKeys {
            tenant: self.vault.tenant(self.db, &self.scope.tenant_id).await?,
            by_owner: HashMap::new(),
        })
    }

    /// How many rows of each kind the scope holds now (`COUNT(*)` each).
    pub async fn count(&self) -> Result<ExportCounts, Error> {
        let (tenant, mode) = (self.scope.tenant_id.as_str(), self.scope.mode.as_str());
        macro_rules! count {
            ($entity:ident) => {
                $entity::Entity::find()
                    .filter($entity::Column::TenantId.eq(tenant))
                    .filter($entity::Column::Mode.eq(mode))
                    .count(self.db)
                    .await?
            };
        }
        Ok(ExportCounts {
            customers: count!(customer),
            appointments: count!(appointment),
            job_notes: count!(job_note),
            conversations: count!(conversation),
            messages: count!(message),
        })
    }

    /// The page of customers after `after`, opened.
    pub async fn customers(&self, after: Option<&str>) -> Result<Vec<customer::Model>, Error> {
        let rows = page_of!(self, customer, after);
        let mut keys = self.page_keys().await?;
        let mut opened = Vec::with_capacity(rows.len());
        for row in rows {
            let key = keys.key(self.db, customer_owner(&row.id)).await?;
            opened.push(open_customer(key, row)?);
        }
        Ok(opened)
    }

    /// The page of appointments after `after` (nothing in them is sealed).
    pub async fn appointments(
        &self,
        after: Option<&str>,
    ) -> Result<Vec<appointment::Model>, Error> {
        Ok(page_of!(self, appointment, after))
    }

    /// The page of job notes after `after`, their text and equipment
    /// opened with their customer's key.
    pub async fn job_notes(&self, after: Option<&str>) -> Result<Vec<JobNote>, Error> {
        let rows = page_of!(self, job_note, after);
        let mut keys = self.page_keys().await?;
        let mut opened = Vec::with_capacity(rows.len());
        for row in rows {
            let key = keys.key(self.db, customer_owner(&row.customer_id)).await?;
            let at = |column| Field {
                table: "crm_job_note",
                column,
                row: &row.id,
            };
            let text = key.open(&at("text"), &row.text)?;
            let equipment = row
                .equipment
                .as_deref()
                .map(|sealed| key.open(&at("equipment"), sealed))
                .transpose()?;
            opened.push(JobNote {
                id: row.id,
                customer_id: row.customer_id,
                appointment_id: row.appointment_id,
                text,
                equipment,
                author: row.author,
                created_at: row.created_at,
            });
        }
        Ok(opened)
    }

    /// The page of conversations after `after`, summaries opened.
    pub async fn conversations(
        &self,
        after: Option<&str>,
    ) -> Result<Vec<conversation::Model>, Error> {
        let rows = page_of!(self, conversation, after);
        let mut keys = self.page_keys().await?;
        let mut opened = Vec::with_capacity(rows.len());
        for row in rows {
            // Only a sealed summary needs its key: asking for the key of a
            // conversation that never sealed anything would create one.
            if row.summary_sealed.is_none() {
                opened.push(row);
                continue;
            }
            let key = keys.key(self.db, conversation_owner(&row.id)).await?;
            opened.push(open_conversation(key, row)?);
        }
        Ok(opened)
    }

    /// The page of messages after `after` (across the scope's
    /// conversations, in id order), texts opened.
    pub async fn messages(&self, after: Option<&str>) -> Result<Vec<message::Model>, Error> {
        let rows = page_of!(self, message, after);
        let mut keys = self.page_keys().await?;
        let mut opened = Vec::with_capacity(rows.len());
        for row in rows {
            if row.text_sealed.is_none() {
                opened.push(row);
                continue;
            }
            let key = keys
                .key(self.db, conversation_owner(&row.conversation_id))
                .await?;
            opened.push(open_message(key, row)?);
        }
        Ok(opened)
    }
}

/// Records `data.exported` for `scope` with the counts the export starts
/// from, in its own transaction: when this fails, nothing may be sent.
pub async fn record_export(
    db: &DatabaseConnection,
    outbox: &Outbox,
    actor: &Principal,
    scope: &DataScope,
    counts: &ExportCounts,
) -> Result<(), Error> {
    let tenant = scope.tenant_id.as_str();
    let event = AuditRecord::success(
        actor,
        Some(tenant),
        "data.exported",
        format!("tenant:{tenant}"),
    )
    .with_detail("mode", scope.mode.as_str())
    .with_detail("customers", counts.customers.to_string())
    .with_detail("appointments", counts.appointments.to_string())
    .with_detail("job_notes", counts.job_notes.to_string())
    .with_detail("conversations", counts.conversations.to_string())
    .with_detail("messages", counts.messages.to_string());
    let mut change = outbox.begin(db).await?;
    change.audit(event);
    change.commit().await?;
    Ok(())
}
