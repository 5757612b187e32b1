//! The SMS opt-out ledger: which numbers told a tenant to stop texting.
//!
//! A number is kept by its blind index (the customers' phone field, so a
//! ledger row and a customer with that number share the index), never in
//! the clear. A number with no row has never opted out. Every change is
//! written with its `sms.opted_out` or `sms.opted_in` audit event in one
//! transaction; saying the same thing twice changes nothing and records
//! nothing.
//!
//! Senders read the ledger from the database on every attempt, inside the
//! transaction that claims the message ([`opted_out_in`]), never from a
//! cache: an opt-out written by any instance holds for every other one,
//! for retries, and across restarts.

use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use super::sealed::phone_index;
use super::{DataScope, now};
use crate::Error;
use crate::domain::Phone;
use crate::entity::sms_opt_out;
use crate::vault::Vault;

/// What a keyword asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptChoice {
    OptOut,
    OptIn,
}

impl OptChoice {
    fn action(self) -> &'static str {
        match self {
            Self::OptOut => "sms.opted_out",
            Self::OptIn => "sms.opted_in",
        }
    }
}

/// One tenant's ledger in one data mode.
#[derive(Debug)]
pub struct OptOutLedger<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    vault: &'a Vault,
    scope: DataScope,
}

impl<'a> OptOutLedger<'a> {
    /// The scope must come from the channel the number wrote to (inbound)
    /// or from the caller's principal.
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

    /// The blind index the ledger keeps `phone` under, for this tenant.
    pub async fn index_of(
        &self,
        db: &impl ConnectionTrait,
        phone: &Phone,
    ) -> Result<String, Error> {
        phone_index(self.vault, db, &self.scope.tenant_id, phone.as_str()).await
    }

    /// Records `choice` for `phone`, with its audit event (`command`: the
    /// keyword as classified, such as `STOP`; `channel_id`: the channel it
    /// came in on). Answers whether anything changed.
    pub async fn record(
        &self,
        actor: &Principal,
        phone: &Phone,
        choice: OptChoice,
        keyword: &str,
        channel_id: &str,
    ) -> Result<bool, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let index = self.index_of(change.tx(), phone).await?;
        let opted_out = choice == OptChoice::OptOut;
        let existing = self.find(change.tx(), &index).await?;
        let was_opted_out = existing.as_ref().is_some_and(|row| row.opted_out);
        if was_opted_out == opted_out {
            return Ok(false);
        }
        let row = sms_opt_out::ActiveModel {
            tenant_id: ActiveValue::Set(self.scope.tenant_id.as_str().to_owned()),
            mode: ActiveValue::Set(self.scope.mode.as_str().to_owned()),
            phone_index: ActiveValue::Set(index.clone()),
            opted_out: ActiveValue::Set(opted_out),
            changed_at: ActiveValue::Set(now()),
            changed_by: ActiveValue::Set(actor.actor()),
        };
        if existing.is_some() {
            sms_opt_out::Entity::update(row).exec(change.tx()).await?;
        } else {
            sms_opt_out::Entity::insert(row)
                .exec_without_returning(change.tx())
                .await?;
        }
        change.audit(
            AuditRecord::success(
                actor,
                Some(self.scope.tenant_id.as_str()),
                choice.action(),
                format!("sms_number:{index}"),
            )
            .with_detail("command", keyword)
            .with_detail("channel_id", channel_id),
        );
        change.commit().await?;
        Ok(true)
    }

    /// Whether `phone` is opted out now.
    pub async fn is_opted_out(&self, phone: &Phone) -> Result<bool, Error> {
        let index = self.index_of(self.db, phone).await?;
        opted_out_in(self.db, &self.scope, &index).await
    }

    async fn find(
        &self,
        db: &impl ConnectionTrait,
        index: &str,
    ) -> Result<Option<sms_opt_out::Model>, Error> {
        Ok(sms_opt_out::Entity::find()
            .filter(sms_opt_out::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(sms_opt_out::Column::Mode.eq(self.scope.mode.as_str()))
            .filter(sms_opt_out::Column::PhoneIndex.eq(index))
            .one(db)
            .await?)
    }
}

/// Whether the number with blind index `phone_index` is opted out of
/// `scope`'s messages, read through `db` (a sender's claiming transaction,
/// so the answer is the database's now, whichever instance wrote it).
pub async fn opted_out_in(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    phone_index: &str,
) -> Result<bool, Error> {
    Ok(sms_opt_out::Entity::find()
        .filter(sms_opt_out::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(sms_opt_out::Column::Mode.eq(scope.mode.as_str()))
        .filter(sms_opt_out::Column::PhoneIndex.eq(phone_index))
        .filter(sms_opt_out::Column::OptedOut.eq(true))
        .one(db)
        .await?
        .is_some())
}
