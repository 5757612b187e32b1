//! A tenant's access state: whether its API keys and sessions are accepted.
//!
//! The CRM keeps the tenant's billing state and its rules; auth keeps only
//! what verification needs, a suspended flag per tenant
//! (`auth_tenant_access`), set by the gateway after the CRM moved the
//! billing state. Both verify paths (keys and sessions) answer it with the
//! verdict, and the gateway refuses a suspended tenant's credentials with a
//! 403 naming the suspension; nothing of the tenant is revoked or deleted,
//! so restoring access is one flag.
//!
//! An incident's isolation is a second flag on the same row
//! (`isolated_by`, the incident's id), written only by
//! [`crate::incidents`]: billing reactivating a contained tenant does not
//! let it back in, and the gateway's 403 names the isolation, not billing.
//!
//! Setting the flag is idempotent and always announces
//! [`Revocation::Tenant`] after the commit, even when nothing changed: a
//! caller retrying after a lost answer, or after a lost announcement, makes
//! every gateway drop the tenant's cached verdicts again. A change (and only
//! a change) is audited as `tenant.settings_changed` (setting `access`).

use chrono::Utc;
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use rampart_kit::revocation::Revocation;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};
use sea_orm_migration::prelude::*;

use crate::entity::tenant_access;
use crate::error::Error;

/// A tenant's access, as verification answers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AccessState {
    /// Suspended by billing.
    pub(crate) suspended: bool,
    /// Isolated by an open incident.
    pub(crate) isolated: bool,
}

/// Tenants' access states.
#[derive(Debug, Clone)]
pub(crate) struct TenantAccess {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl TenantAccess {
    pub(crate) fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }

    /// Why `tenant`'s credentials are refused, if they are.
    pub(crate) async fn state(&self, tenant: &str) -> Result<AccessState, DbErr> {
        Ok(tenant_access::Entity::find_by_id(tenant)
            .one(&self.db)
            .await?
            .map_or_else(AccessState::default, |row| AccessState {
                suspended: row.suspended,
                isolated: row.isolated_by.is_some(),
            }))
    }

    /// Suspends or restores `tenant`'s access on behalf of `principal`;
    /// whether this changed it.
    pub(crate) async fn set(
        &self,
        principal: &Principal,
        tenant: &TenantId,
        suspended: bool,
        billing_state: &str,
    ) -> Result<bool, Error> {
        let mut change = self.outbox.begin(&self.db).await?;
        let before = tenant_access::Entity::find_by_id(tenant.as_str())
            .one(change.tx())
            .await?
            .is_some_and(|row| row.suspended);
        write_access(change.tx(), tenant, suspended, billing_state, Utc::now()).await?;
        let changed = before != suspended;
        if changed {
            change.audit(
                AuditRecord::success(
                    principal,
                    Some(tenant.as_str()),
                    "tenant.settings_changed",
                    format!("tenant:{tenant}"),
                )
                .with_detail("setting", "access"),
            );
        }
        change.announce(Revocation::Tenant(tenant.to_string()));
        change.commit().await?;
        Ok(changed)
    }
}

/// The longest billing state name the CRM writes is `suspended`; a bound
/// on what the column takes.
pub(crate) const MAX_BILLING_STATE_LEN: usize = 16;

/// The `auth_tenant_access` table.
pub(crate) struct CreateTenantAccess;

impl MigrationName for CreateTenantAccess {
    fn name(&self) -> &str {
        "m0005_tenant_access"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTenantAccess {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("auth_tenant_access")
                    .col(
                        ColumnDef::new("tenant_id")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("suspended").boolean().not_null())
                    .col(ColumnDef::new("billing_state").string_len(16).not_null())
                    .col(
                        ColumnDef::new("updated_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }
}

/// Stores `tenant`'s billing access state (the row made on first use);
/// never touches the incident isolation.
pub(crate) async fn write_access(
    db: &impl sea_orm::ConnectionTrait,
    tenant: &TenantId,
    suspended: bool,
    state: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    tenant_access::Entity::insert(tenant_access::ActiveModel {
        tenant_id: Set(tenant.to_string()),
        suspended: Set(suspended),
        billing_state: Set(state.to_owned()),
        updated_at: Set(now),
        isolated_by: sea_orm::ActiveValue::NotSet,
    })
    .on_conflict(
        OnConflict::column(tenant_access::Column::TenantId)
            .update_columns([
                tenant_access::Column::Suspended,
                tenant_access::Column::BillingState,
                tenant_access::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Sets or clears `tenant`'s incident isolation (the row made on first use,
/// not suspended by billing); never touches the billing state.
pub(crate) async fn write_isolation(
    db: &impl sea_orm::ConnectionTrait,
    tenant: &str,
    isolated_by: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    tenant_access::Entity::insert(tenant_access::ActiveModel {
        tenant_id: Set(tenant.to_owned()),
        suspended: Set(false),
        // No billing decision yet: the state a new tenant starts in.
        billing_state: Set("trial".to_owned()),
        updated_at: Set(now),
        isolated_by: Set(isolated_by.map(str::to_owned)),
    })
    .on_conflict(
        OnConflict::column(tenant_access::Column::TenantId)
            .update_columns([
                tenant_access::Column::IsolatedBy,
                tenant_access::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Adds `auth_tenant_access.isolated_by`: an incident's isolation, apart
/// from billing's suspension.
pub(crate) struct AddTenantIsolation;

impl MigrationName for AddTenantIsolation {
    fn name(&self) -> &str {
        "m0007_tenant_isolation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddTenantIsolation {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("auth_tenant_access")
                    .add_column(ColumnDef::new("isolated_by").string_len(64).null())
                    .to_owned(),
            )
            .await?;
        // Incidents contained before this migration suspended the tenant
        // through billing (state `incident`): move them to the isolation,
        // so restoring them and billing no longer interfere.
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE auth_tenant_access SET isolated_by = (\
               SELECT i.id FROM auth_incident i \
               WHERE i.target_kind = 'tenant' AND i.target_id = auth_tenant_access.tenant_id \
                 AND i.restored_at IS NULL ORDER BY i.contained_at LIMIT 1) \
             WHERE billing_state = 'incident'",
        )
        .await?;
        Ok(())
    }
}
