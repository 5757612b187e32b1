//! Erasure requests: a customer's data erased on request, with a signed
//! deletion certificate as the proof.
//!
//! A request is opened (by the owner, or by a privacy handoff through
//! [`open_erasure_request`] inside the message's own transaction), read
//! with a fresh preview of what an execution would delete, and executed by
//! the owner. Execution is one transaction: legal hold checked, data keys
//! destroyed and rows deleted ([`super::purge_customer`]), the statement
//! signed by the audit service, the certificate stored and
//! `customer.erased` recorded, then the commit. A failure anywhere,
//! signing included, rolls everything back.
//!
//! A customer has at most one open request. Opening and executing first
//! write-lock a row (the customer's, the request's), so two concurrent
//! calls queue on either backend instead of both passing a check made
//! before the other's write.

use chrono::SecondsFormat;
use rampart_kit::ids::{CustomerId, ErasureRequestId};
use rampart_kit::outbox::{AuditRecord, Change, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::{DataScope, Page, Purged, count_customer_data, into_page, is_held, now};
use crate::Error;
use crate::certify::{self, Certifier};
use crate::domain::{ErasureReason, ErasureSource, ErasureStatus, PageRequest};
use crate::entity::{customer, erasure_request};

/// How the certificate says the data went.
pub const ERASURE_METHOD: &str =
    "crypto-shredding: the customer's AES-256-GCM data keys were destroyed, then the rows deleted";

/// A request as answered: its row, what it deletes (a fresh preview while
/// open, the stored counts once executed), and whether the customer is
/// held now.
#[derive(Debug, Clone)]
pub struct ErasureView {
    pub request: erasure_request::Model,
    pub counts: Purged,
    pub held: bool,
    /// Opening answered a request that was already open.
    pub already_open: bool,
}

/// Opens an erasure request for `customer_id` within `change`, or answers
/// the customer's open one (`true`) without a second event. The customer
/// must be in `scope`. Audited `erasure.requested` (request id and source;
/// the reason stays with the request).
pub async fn open_erasure_request(
    change: &mut Change<'_>,
    scope: &DataScope,
    actor: &Principal,
    customer_id: &CustomerId,
    reason: &ErasureReason,
    source: &ErasureSource,
) -> Result<(erasure_request::Model, bool), Error> {
    // A write to the customer's row first: it proves the customer is in
    // scope and holds its lock until the commit, so a concurrent opening
    // waits here and then sees this one's request.
    let locked = customer::Entity::update_many()
        .col_expr(customer::Column::Id, Expr::col(customer::Column::Id))
        .filter(customer::Column::Id.eq(customer_id.as_str()))
        .filter(customer::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(customer::Column::Mode.eq(scope.mode.as_str()))
        .exec(change.tx())
        .await?;
    if locked.rows_affected == 0 {
        return Err(Error::CustomerNotFound);
    }
    let open = scoped(scope)
        .filter(erasure_request::Column::CustomerId.eq(customer_id.as_str()))
        .filter(erasure_request::Column::Status.eq(ErasureStatus::Open.as_str()))
        .one(change.tx())
        .await?;
    if let Some(open) = open {
        return Ok((open, true));
    }
    let row = erasure_request::Model {
        id: ErasureRequestId::generate().into_string(),
        tenant_id: scope.tenant_id.as_str().to_owned(),
        mode: scope.mode.as_str().to_owned(),
        customer_id: customer_id.as_str().to_owned(),
        status: ErasureStatus::Open.as_str().to_owned(),
        source: source.to_text(),
        reason: reason.as_str().to_owned(),
        requested_by: actor.actor(),
        created_at: now(),
        customers: 0,
        conversations: 0,
        messages: 0,
        appointments: 0,
        job_notes: 0,
        data_keys: 0,
        executed_at: None,
        executed_by: None,
        certificate_json: None,
    };
    erasure_request::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(change.tx())
        .await?;
    change.audit(
        AuditRecord::success(
            actor,
            Some(scope.tenant_id.as_str()),
            "erasure.requested",
            format!("customer:{}", row.customer_id),
        )
        .with_detail("erasure_request_id", row.id.as_str())
        .with_detail("source", row.source.as_str()),
    );
    Ok((row, false))
}

/// Every query of erasure requests starts here, filtered by tenant and mode.
fn scoped(scope: &DataScope) -> sea_orm::Select<erasure_request::Entity> {
    erasure_request::Entity::find()
        .filter(erasure_request::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(erasure_request::Column::Mode.eq(scope.mode.as_str()))
}

/// The erasure requests of one tenant in one data mode.
#[derive(Debug)]
pub struct ErasureStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    vault: &'a crate::vault::Vault,
    scope: DataScope,
}

impl<'a> ErasureStore<'a> {
    /// The scope must come from the caller's principal.
    #[must_use]
    pub fn for_tenant(
        db: &'a DatabaseConnection,
        outbox: &'a Outbox,
        vault: &'a crate::vault::Vault,
        scope: DataScope,
    ) -> Self {
        Self {
            db,
            outbox,
            vault,
            scope,
        }
    }

    /// Opens a request for `customer_id` (another tenant's or mode's is
    /// not found), or answers the customer's open one; with its preview.
    pub async fn open(
        &self,
        actor: &Principal,
        customer_id: &CustomerId,
        reason: &ErasureReason,
        source: &ErasureSource,
    ) -> Result<ErasureView, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let (row, already_open) =
            open_erasure_request(&mut change, &self.scope, actor, customer_id, reason, source)
                .await?;
        let mut view = self.view(change.tx(), row).await?;
        view.already_open = already_open;
        change.commit().await?;
        Ok(view)
    }

    pub async fn get(&self, id: &ErasureRequestId) -> Result<ErasureView, Error> {
        let row = scoped(&self.scope)
            .filter(erasure_request::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?
            .ok_or(Error::ErasureRequestNotFound)?;
        self.view(self.db, row).await
    }

    /// One page of the tenant's requests, oldest first, of one status or
    /// both.
    pub async fn list(
        &self,
        status: Option<ErasureStatus>,
        page: &PageRequest<ErasureRequestId>,
    ) -> Result<Page<ErasureView>, Error> {
        let mut query = scoped(&self.scope);
        if let Some(status) = status {
            query = query.filter(erasure_request::Column::Status.eq(status.as_str()));
        }
        if let Some(after) = page.after() {
            query = query.filter(erasure_request::Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(erasure_request::Column::Id)
            .limit(u64::from(page.size()) + 1)
            .all(self.db)
            .await?;
        let page = into_page(rows, page.size(), |row| &row.id);
        let mut items = Vec::with_capacity(page.items.len());
        for row in page.items {
            items.push(self.view(self.db, row).await?);
        }
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// Erases the request's customer and answers the request with its
    /// certificate; an executed request answers its stored certificate
    /// again and deletes nothing. A held customer is refused
    /// ([`Error::CustomerHeld`]) and a certificate that cannot be signed
    /// rolls everything back ([`Error::CertificateUnavailable`]).
    pub async fn execute(
        &self,
        actor: &Principal,
        id: &ErasureRequestId,
        certifier: &Certifier,
    ) -> Result<ErasureView, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        // The request's row locked first: a concurrent execution waits here
        // and then finds it executed.
        let locked = erasure_request::Entity::update_many()
            .col_expr(
                erasure_request::Column::Status,
                Expr::col(erasure_request::Column::Status),
            )
            .filter(erasure_request::Column::Id.eq(id.as_str()))
            .filter(erasure_request::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(erasure_request::Column::Mode.eq(self.scope.mode.as_str()))
            .exec(change.tx())
            .await?;
        if locked.rows_affected == 0 {
            return Err(Error::ErasureRequestNotFound);
        }
        let request = scoped(&self.scope)
            .filter(erasure_request::Column::Id.eq(id.as_str()))
            .one(change.tx())
            .await?
            .ok_or(Error::ErasureRequestNotFound)?;
        if request.status == ErasureStatus::Executed.as_str() {
            // Dropping the change rolls back the lock's no-op write.
            return self.view(change.tx(), request).await;
        }
        let customer_id = CustomerId::parse(&request.customer_id).map_err(|_| {
            Error::Internal(anyhow::anyhow!(
                "erasure request {} names a malformed customer",
                request.id
            ))
        })?;
        if is_held(change.tx(), &self.scope, &customer_id).await? {
            return Err(Error::CustomerHeld);
        }

        let keys = self
            .vault
            .tenant(change.tx(), &self.scope.tenant_id)
            .await?;
        let purged = super::purge_customer(change.tx(), &self.scope, &keys, &customer_id).await?;
        let executed_at = now();
        let mut event = AuditRecord::success(
            actor,
            Some(self.scope.tenant_id.as_str()),
            "customer.erased",
            format!("customer:{}", request.customer_id),
        );
        let statement = json!({
            "format": certify::FORMAT,
            "certificate_id": request.id,
            "tenant_id": request.tenant_id,
            "mode": request.mode,
            "customer_id": request.customer_id,
            "requested_at": timestamp(request.created_at),
            "requested_by": request.requested_by,
            "source": request.source,
            "executed_at": timestamp(executed_at),
            "executed_by": actor.actor(),
            "deleted": {
                "customers": purged.customers,
                "conversations": purged.conversations,
                "messages": purged.messages,
                "appointments": purged.appointments,
                "job_notes": purged.job_notes,
                "data_keys": purged.data_keys,
            },
            "method": ERASURE_METHOD,
            "audit_event_id": event.event_id,
        });
        // Signed before the commit: without a certificate nothing is erased.
        let certificate = certifier.sign(&statement).await?;

        let mut row = request.into_active_model();
        row.status = ActiveValue::Set(ErasureStatus::Executed.as_str().to_owned());
        row.customers = ActiveValue::Set(to_column(purged.customers));
        row.conversations = ActiveValue::Set(to_column(purged.conversations));
        row.messages = ActiveValue::Set(to_column(purged.messages));
        row.appointments = ActiveValue::Set(to_column(purged.appointments));
        row.job_notes = ActiveValue::Set(to_column(purged.job_notes));
        row.data_keys = ActiveValue::Set(to_column(purged.data_keys));
        row.executed_at = ActiveValue::Set(Some(executed_at));
        row.executed_by = ActiveValue::Set(Some(actor.actor()));
        row.certificate_json = ActiveValue::Set(Some(certificate.json));
        let executed = row.update(change.tx()).await?;
        event = event
            .with_detail("erasure_request_id", executed.id.as_str())
            .with_detail("certificate_sha256", certificate.sha256)
            .with_detail("customers", purged.customers.to_string())
            .with_detail("conversations", purged.conversations.to_string())
            .with_detail("messages", purged.messages.to_string())
            .with_detail("appointments", purged.appointments.to_string())
            .with_detail("job_notes", purged.job_notes.to_string())
            .with_detail("shredded", purged.data_keys.to_string());
        change.audit(event);
        change.commit().await?;
        Ok(ErasureView {
            request: executed,
            counts: purged,
            held: false,
            already_open: false,
        })
    }

    /// A request with its counts: a fresh preview while open, the stored
    /// counts once executed.
    async fn view(
        &self,
        db: &impl ConnectionTrait,
        request: erasure_request::Model,
    ) -> Result<ErasureView, Error> {
        if request.status == ErasureStatus::Executed.as_str() {
            let counts = Purged {
                customers: from_column(request.customers),
                conversations: from_column(request.conversations),
                messages: from_column(request.messages),
                appointments: from_column(request.appointments),
                job_notes: from_column(request.job_notes),
                data_keys: from_column(request.data_keys),
            };
            return Ok(ErasureView {
                request,
                counts,
                held: false,
                already_open: false,
            });
        }
        let customer_id = CustomerId::parse(&request.customer_id).map_err(|_| {
            Error::Internal(anyhow::anyhow!(
                "erasure request {} names a malformed customer",
                request.id
            ))
        })?;
        let counts = count_customer_data(db, &self.scope, &customer_id).await?;
        let held = is_held(db, &self.scope, &customer_id).await?;
        Ok(ErasureView {
            request,
            counts,
            held,
            already_open: false,
        })
    }
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Counts fit a BIGINT for any table this side of the heat death.
fn to_column(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn from_column(count: i64) -> u64 {
    u64::try_from(count).unwrap_or_default()
}
