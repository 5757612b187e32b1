//! Deleting a tenant for good: keys first, then every row of the tenant in
//! every CRM table, both data modes, in one transaction.
//!
//! The tenant key and every data key it wrapped are destroyed before any
//! row goes, so whatever copy of the tenant's sealed data survives (a
//! backup, a replica, free pages of a database file) can no longer be
//! opened. The audit log is kept: it lives in the audit service and holds
//! no personal data.

use rampart_kit::ids::TenantId;
use rampart_kit::outbox::AuditRecord;
use rampart_kit::principal::Principal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::TenantStore;
use crate::Error;
use crate::entity::{
    appointment, billing_event, business_settings, calendar_connection, calendar_event,
    calendar_pending, calendar_sync, channel, conversation, customer, erasure_request, job_note,
    legal_hold, message, retention, tenant,
};
use crate::vault::Vault;

/// Deletes every row of `tenant` in `E`, whichever its mode.
async fn delete_all<E: EntityTrait>(
    db: &impl ConnectionTrait,
    tenant_id: E::Column,
    tenant: &TenantId,
) -> Result<(), Error> {
    E::delete_many()
        .filter(tenant_id.eq(tenant.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

impl TenantStore<'_> {
    /// Deletes `id` and everything it holds, on behalf of `actor` (a
    /// platform admin), audited `tenant.deleted` with the count of data
    /// keys destroyed, in the tenant's own log. [`Error::TenantNotFound`]
    /// for an unknown tenant, with nothing changed.
    pub async fn delete(
        &self,
        actor: &Principal,
        vault: &Vault,
        id: &TenantId,
    ) -> Result<u64, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let tx = change.tx();
        tenant::Entity::find_by_id(id.as_str())
            .one(tx)
            .await?
            .ok_or(Error::TenantNotFound)?;

        let data_keys = vault.destroy_tenant(tx, id).await?;

        // Children before what they point at, though no foreign key
        // forces the order.
        delete_all::<message::Entity>(tx, message::Column::TenantId, id).await?;
        delete_all::<conversation::Entity>(tx, conversation::Column::TenantId, id).await?;
        delete_all::<job_note::Entity>(tx, job_note::Column::TenantId, id).await?;
        delete_all::<appointment::Entity>(tx, appointment::Column::TenantId, id).await?;
        delete_all::<legal_hold::Entity>(tx, legal_hold::Column::TenantId, id).await?;
        delete_all::<erasure_request::Entity>(tx, erasure_request::Column::TenantId, id).await?;
        delete_all::<customer::Entity>(tx, customer::Column::TenantId, id).await?;
        delete_all::<business_settings::Entity>(tx, business_settings::Column::TenantId, id)
            .await?;
        delete_all::<channel::Entity>(tx, channel::Column::TenantId, id).await?;
        delete_all::<retention::Entity>(tx, retention::Column::TenantId, id).await?;
        delete_all::<billing_event::Entity>(tx, billing_event::Column::TenantId, id).await?;
        super::purge_tenant_telephony(tx, id).await?;
        // The calendar's tokens, pending authorisations, event map and
        // queued syncs: nothing is pushed for a tenant that no longer
        // exists. The grant itself is not revoked at the provider (that is
        // an outside call the deletion's transaction must not wait on); the
        // tokens are gone with the rows and the owner can remove the grant
        // from their Google account.
        delete_all::<calendar_connection::Entity>(tx, calendar_connection::Column::TenantId, id)
            .await?;
        delete_all::<calendar_pending::Entity>(tx, calendar_pending::Column::TenantId, id).await?;
        delete_all::<calendar_event::Entity>(tx, calendar_event::Column::TenantId, id).await?;
        delete_all::<calendar_sync::Entity>(tx, calendar_sync::Column::TenantId, id).await?;
        tenant::Entity::delete_by_id(id.as_str()).exec(tx).await?;

        change.audit(
            AuditRecord::success(
                actor,
                Some(id.as_str()),
                "tenant.deleted",
                format!("tenant:{id}"),
            )
            .with_detail("shredded", data_keys.to_string()),
        );
        change.commit().await?;
        Ok(data_keys)
    }
}
