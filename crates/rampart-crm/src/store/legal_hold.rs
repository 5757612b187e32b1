//! Legal holds on customers. A hold lives in its own table beside
//! `crm_customer`, one row per customer (placed, or released with the
//! release's reason); [`is_held`] is what retention deletion and erasure
//! ask before touching a customer's data.

use chrono::{DateTime, Utc};
use rampart_kit::ids::CustomerId;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter,
};

use super::{DataScope, now};
use crate::Error;
use crate::domain::HoldReason;
use crate::entity::{customer, legal_hold};

/// A customer's hold as it now stands.
#[derive(Debug, Clone)]
pub struct Hold {
    pub customer_id: String,
    pub held: bool,
    /// Personal data possibly (a case name); never logged.
    pub reason: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

/// Whether `customer_id` (in `scope`) is under a legal hold. Erasure and
/// retention deletion must ask this, through `db` (their own transaction
/// when they have one), before deleting anything of the customer.
pub async fn is_held(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    customer_id: &CustomerId,
) -> Result<bool, Error> {
    let held = legal_hold::Entity::find()
        .filter(legal_hold::Column::CustomerId.eq(customer_id.as_str()))
        .filter(legal_hold::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(legal_hold::Column::Mode.eq(scope.mode.as_str()))
        .filter(legal_hold::Column::Held.eq(true))
        .count(db)
        .await?;
    Ok(held > 0)
}

/// The legal holds of one tenant's customers in one data mode.
#[derive(Debug)]
pub struct LegalHoldStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    scope: DataScope,
}

impl<'a> LegalHoldStore<'a> {
    /// The scope must come from the caller's principal.
    #[must_use]
    pub fn for_tenant(db: &'a DatabaseConnection, outbox: &'a Outbox, scope: DataScope) -> Self {
        Self { db, outbox, scope }
    }

    /// Places (`held`) or releases the hold on `customer_id`, with its
    /// `legal_hold.set` or `legal_hold.released` event in the same
    /// transaction. Another tenant's or mode's customer is not found.
    pub async fn set(
        &self,
        actor: &Principal,
        customer_id: &CustomerId,
        held: bool,
        reason: HoldReason,
    ) -> Result<Hold, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let customer = customer::Entity::find()
            .filter(customer::Column::Id.eq(customer_id.as_str()))
            .filter(customer::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(customer::Column::Mode.eq(self.scope.mode.as_str()))
            .count(change.tx())
            .await?;
        if customer == 0 {
            return Err(Error::CustomerNotFound);
        }
        // The customer is this scope's, so an existing row is too.
        let existing = legal_hold::Entity::find_by_id(customer_id.as_str())
            .one(change.tx())
            .await?;
        let row = legal_hold::Model {
            customer_id: customer_id.as_str().to_owned(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            held,
            reason: reason.into_string(),
            changed_by: actor.actor(),
            changed_at: now(),
        };
        if existing.is_some() {
            // Every column set (a model's active form marks them unchanged,
            // which would update nothing), the key kept as the selector.
            let mut active = row.clone().into_active_model().reset_all();
            active.customer_id = ActiveValue::Unchanged(row.customer_id.clone());
            legal_hold::Entity::update(active).exec(change.tx()).await?;
        } else {
            legal_hold::Entity::insert(row.clone().into_active_model())
                .exec_without_returning(change.tx())
                .await?;
        }
        let action = if held {
            "legal_hold.set"
        } else {
            "legal_hold.released"
        };
        change.audit(AuditRecord::success(
            actor,
            Some(self.scope.tenant_id.as_str()),
            action,
            format!("customer:{}", row.customer_id),
        ));
        change.commit().await?;
        Ok(Hold {
            customer_id: row.customer_id,
            held: row.held,
            reason: row.reason,
            changed_by: row.changed_by,
            changed_at: row.changed_at,
        })
    }
}
