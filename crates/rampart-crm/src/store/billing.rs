//! Tenants' billing states: read, and moved along the table of
//! [`crate::domain::billing`], each move audited as `billing.state_changed`
//! in the same transaction.
//!
//! Platform-wide, like [`super::TenantStore`]: its callers are platform
//! admins and the gateway acting for a verified billing webhook.
//!
//! A webhook's event id is stored with the move it caused (or with the
//! no-op, when the tenant was already in the state), in the same
//! transaction: a redelivered event finds it and changes nothing, and a
//! different body under the same id is refused. A refused move writes
//! nothing, not even its event, so the provider may deliver it again once
//! the state allows it.

use chrono::{DateTime, Utc};
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
};

use super::{is_unique_violation, now};
use crate::Error;
use crate::domain::billing::{BillingReason, BillingSource, BillingState, Step};
use crate::entity::{billing_event, tenant_billing};

/// A tenant's billing state, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingRecord {
    pub tenant_id: TenantId,
    pub state: BillingState,
    /// When the state last changed; the tenant's creation for a trial.
    pub changed_at: DateTime<Utc>,
}

/// What a transition request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub billing: BillingRecord,
    pub from: BillingState,
    /// The state moved (and an audit event was recorded).
    pub changed: bool,
    /// The webhook event was applied before; nothing was done again.
    pub replayed: bool,
}

/// A move asked for, already parsed.
#[derive(Debug, Clone)]
pub struct TransitionRequest {
    pub tenant_id: TenantId,
    pub to: BillingState,
    pub reason: Option<BillingReason>,
    pub source: BillingSource,
}

/// Billing states across the platform.
#[derive(Debug)]
pub struct BillingStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
}

impl<'a> BillingStore<'a> {
    #[must_use]
    pub fn new(db: &'a DatabaseConnection, outbox: &'a Outbox) -> Self {
        Self { db, outbox }
    }

    /// The tenant's billing state; [`Error::TenantNotFound`] for an unknown
    /// tenant.
    pub async fn get(&self, tenant_id: &TenantId) -> Result<BillingRecord, Error> {
        read(self.db, tenant_id).await
    }

    /// Moves the tenant to `request.to` if the table allows it, on behalf of
    /// `actor`. Refusals ([`Error::BillingTransitionRefused`],
    /// [`Error::BillingEventConflict`], [`Error::TenantNotFound`]) change
    /// nothing.
    pub async fn transition(
        &self,
        actor: &Principal,
        request: &TransitionRequest,
    ) -> Result<Transition, Error> {
        match self.try_transition(actor, request).await {
            // Two deliveries of one event raced; the other one won.
            Err(Error::Internal(error))
                if error
                    .downcast_ref::<sea_orm::DbErr>()
                    .is_some_and(is_unique_violation) =>
            {
                let BillingSource::Webhook {
                    event_id,
                    fingerprint,
                } = &request.source
                else {
                    return Err(Error::Internal(error));
                };
                self.replay(event_id.as_str(), fingerprint, &request.tenant_id)
                    .await?
                    .ok_or(Error::Internal(error))
            }
            other => other,
        }
    }

    async fn try_transition(
        &self,
        actor: &Principal,
        request: &TransitionRequest,
    ) -> Result<Transition, Error> {
        if let BillingSource::Webhook {
            event_id,
            fingerprint,
        } = &request.source
            && let Some(replayed) = self
                .replay(event_id.as_str(), fingerprint, &request.tenant_id)
                .await?
        {
            return Ok(replayed);
        }

        let mut change = self.outbox.begin(self.db).await?;
        let current = read(change.tx(), &request.tenant_id).await?;
        let from = current.state;
        let to = request.to;
        let changed = match from.step_to(to) {
            Step::Refused => return Err(Error::BillingTransitionRefused { from, to }),
            Step::Stay => false,
            Step::Move => true,
        };
        let at = now();
        if changed {
            let updated = tenant_billing::Entity::update_many()
                .col_expr(
                    tenant_billing::Column::BillingState,
                    Expr::value(to.as_str()),
                )
                .col_expr(tenant_billing::Column::BillingChangedAt, Expr::value(at))
                .filter(tenant_billing::Column::Id.eq(request.tenant_id.as_str()))
                .filter(tenant_billing::Column::BillingState.eq(from.as_str()))
                .exec(change.tx())
                .await?;
            if updated.rows_affected != 1 {
                // Another move committed between the read and this write.
                return Err(Error::BillingTransitionRefused { from, to });
            }
            change.audit(state_changed(actor, request, from));
        }
        if let BillingSource::Webhook {
            event_id,
            fingerprint,
        } = &request.source
        {
            let event = billing_event::Model {
                event_id: event_id.as_str().to_owned(),
                tenant_id: request.tenant_id.as_str().to_owned(),
                fingerprint: fingerprint.clone(),
                from_state: from.as_str().to_owned(),
                to_state: to.as_str().to_owned(),
                received_at: at,
            };
            billing_event::Entity::insert(event.into_active_model())
                .exec_without_returning(change.tx())
                .await?;
        }
        change.commit().await?;
        Ok(Transition {
            billing: BillingRecord {
                changed_at: if changed { at } else { current.changed_at },
                state: to,
                tenant_id: request.tenant_id.clone(),
            },
            from,
            changed,
            replayed: false,
        })
    }

    /// For an event id seen before: the tenant's current state if the event
    /// is the same (same body, same tenant), [`Error::BillingEventConflict`]
    /// if not; `None` for an event not seen yet.
    async fn replay(
        &self,
        event_id: &str,
        fingerprint: &str,
        tenant_id: &TenantId,
    ) -> Result<Option<Transition>, Error> {
        let Some(seen) = billing_event::Entity::find_by_id(event_id)
            .one(self.db)
            .await?
        else {
            return Ok(None);
        };
        if seen.fingerprint != fingerprint || seen.tenant_id != tenant_id.as_str() {
            return Err(Error::BillingEventConflict);
        }
        let billing = read(self.db, tenant_id).await?;
        Ok(Some(Transition {
            from: billing.state,
            billing,
            changed: false,
            replayed: true,
        }))
    }
}

/// The `billing.state_changed` event of a move from `from`, in the
/// tenant's log. Details: both states, the source, the reason code and, for
/// a webhook, the provider's event id.
fn state_changed(
    actor: &Principal,
    request: &TransitionRequest,
    from: BillingState,
) -> AuditRecord {
    let tenant = request.tenant_id.as_str();
    let mut record = AuditRecord::success(
        actor,
        Some(tenant),
        "billing.state_changed",
        format!("tenant:{tenant}"),
    )
    .with_detail("from_state", from.as_str())
    .with_detail("to_state", request.to.as_str())
    .with_detail("source", request.source.as_str());
    if let Some(reason) = &request.reason {
        record = record.with_detail("reason", reason.as_str());
    }
    if let BillingSource::Webhook { event_id, .. } = &request.source {
        record = record.with_detail("event_id", event_id.as_str());
    }
    record
}

/// Reads the tenant's billing columns through `db` (a transaction or the
/// pool).
async fn read(db: &impl ConnectionTrait, tenant_id: &TenantId) -> Result<BillingRecord, Error> {
    let row = tenant_billing::Entity::find_by_id(tenant_id.as_str())
        .one(db)
        .await?
        .ok_or(Error::TenantNotFound)?;
    let state = BillingState::parse(&row.billing_state).map_err(|_| {
        Error::Internal(anyhow::anyhow!(
            "tenant {} has an unknown billing state",
            row.id
        ))
    })?;
    Ok(BillingRecord {
        tenant_id: tenant_id.clone(),
        state,
        changed_at: row.billing_changed_at.unwrap_or(row.created_at),
    })
}
