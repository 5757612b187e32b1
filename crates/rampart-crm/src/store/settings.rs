//! A tenant's business settings, one document per tenant and data mode,
//! written whole with optimistic concurrency.
//!
//! `transcripts_enabled` is part of the document callers see, but it is
//! stored where the support flow reads it, on `crm_tenant`: it is one flag
//! per tenant, so it is written in live mode only (a test key sees the live
//! value and may not change it).

use chrono::{DateTime, Utc};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::{DataMode, Principal};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use super::{DataScope, is_unique_violation, now};
use crate::Error;
use crate::domain::{BusinessSettings, InvalidInput};
use crate::entity::{business_settings, tenant};

/// One version of the settings; version 0 is the defaults, never written.
#[derive(Debug, Clone)]
pub struct SettingsVersion {
    pub version: u32,
    pub settings: BusinessSettings,
    /// `None` for version 0.
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: String,
}

/// The settings of one tenant in one data mode.
#[derive(Debug)]
pub struct SettingsStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    scope: DataScope,
}

impl<'a> SettingsStore<'a> {
    /// The scope must come from the caller's principal.
    #[must_use]
    pub fn for_tenant(db: &'a DatabaseConnection, outbox: &'a Outbox, scope: DataScope) -> Self {
        Self { db, outbox, scope }
    }

    fn scoped(&self) -> sea_orm::Select<business_settings::Entity> {
        business_settings::Entity::find()
            .filter(business_settings::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(business_settings::Column::Mode.eq(self.scope.mode.as_str()))
    }

    /// The current version.
    pub async fn get(&self) -> Result<SettingsVersion, Error> {
        current(self, self.db).await
    }

    /// Writes `settings` as the next version, if the current one is still
    /// `expected` (when given), with its `config.changed` event in the same
    /// transaction. An unchanged document writes nothing and answers the
    /// current version.
    pub async fn put(
        &self,
        actor: &Principal,
        settings: BusinessSettings,
        expected: Option<u32>,
    ) -> Result<SettingsVersion, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let before = current(self, change.tx()).await?;
        if let Some(expected) = expected
            && expected != before.version
        {
            return Err(Error::VersionConflict { expected });
        }
        let changed = before.settings.changed_fields(&settings);
        if changed.is_empty() {
            return Ok(before);
        }
        let transcripts_changed =
            before.settings.transcripts_enabled() != settings.transcripts_enabled();
        if transcripts_changed && self.scope.mode != DataMode::Live {
            return Err(InvalidInput::new(
                "transcripts_enabled",
                "is a tenant-wide setting and can be changed in live mode only",
            )
            .into());
        }

        let row = business_settings::Model {
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            version: i32::try_from(before.version + 1).map_err(|e| Error::Internal(e.into()))?,
            document: stored_document(&settings),
            updated_at: now(),
            updated_by: actor.actor(),
        };
        write_version(&self.scope, change.tx(), &row, before.version).await?;
        if transcripts_changed {
            let updated = tenant::Entity::update_many()
                .col_expr(
                    tenant::Column::TranscriptsEnabled,
                    Expr::value(settings.transcripts_enabled()),
                )
                .filter(tenant::Column::Id.eq(self.scope.tenant_id.as_str()))
                .exec(change.tx())
                .await?;
            if updated.rows_affected == 0 {
                return Err(Error::TenantNotFound);
            }
        }
        change.audit(
            AuditRecord::success(
                actor,
                Some(self.scope.tenant_id.as_str()),
                "config.changed",
                "config:business_settings".to_owned(),
            )
            .with_detail("setting", "business_settings")
            .with_detail("changed", changed.join(","))
            // The values are free text and a phone number: the log names the
            // versions, and the versions' documents are the record.
            .with_detail("before", format!("version {}", before.version))
            .with_detail("after", format!("version {}", row.version)),
        );
        change.commit().await?;
        Ok(SettingsVersion {
            version: before.version + 1,
            settings,
            updated_at: Some(row.updated_at),
            updated_by: row.updated_by,
        })
    }
}

/// The current version as `db` (the pool, or a write's transaction) sees it.
async fn current(
    store: &SettingsStore<'_>,
    db: &impl ConnectionTrait,
) -> Result<SettingsVersion, Error> {
    let transcripts_enabled = tenant::Entity::find_by_id(store.scope.tenant_id.as_str())
        .one(db)
        .await?
        .is_some_and(|tenant| tenant.transcripts_enabled);
    let Some(row) = store.scoped().one(db).await? else {
        return Ok(SettingsVersion {
            version: 0,
            settings: BusinessSettings::default().with_transcripts_enabled(transcripts_enabled),
            updated_at: None,
            updated_by: String::new(),
        });
    };
    Ok(SettingsVersion {
        version: u32::try_from(row.version).map_err(|e| Error::Internal(e.into()))?,
        settings: read_document(&row.document, transcripts_enabled)?,
        updated_at: Some(row.updated_at),
        updated_by: row.updated_by,
    })
}

/// The canonical JSON stored: the document without `transcripts_enabled`,
/// which lives on the tenant.
fn stored_document(settings: &BusinessSettings) -> String {
    let mut json = settings.to_json();
    if let Some(object) = json.as_object_mut() {
        object.remove("transcripts_enabled");
    }
    json.to_string()
}

/// A stored document with the tenant's `transcripts_enabled` put back. A
/// document that no longer parses is a fault of ours, not the caller's.
fn read_document(stored: &str, transcripts_enabled: bool) -> Result<BusinessSettings, Error> {
    let corrupt = |what: &str| {
        Error::Internal(anyhow::anyhow!(
            "a stored business settings document {what}"
        ))
    };
    let mut json: serde_json::Value =
        serde_json::from_str(stored).map_err(|_| corrupt("is not JSON"))?;
    json.as_object_mut()
        .ok_or_else(|| corrupt("is not an object"))?
        .insert("transcripts_enabled".to_owned(), transcripts_enabled.into());
    BusinessSettings::parse(&json.to_string()).map_err(|error| {
        Error::Internal(anyhow::anyhow!(
            "a stored business settings document no longer parses at {}",
            error.field()
        ))
    })
}

/// Inserts version 1, or moves `previous` to `row.version`; either fails
/// with a conflict if another write got there first.
async fn write_version(
    scope: &DataScope,
    tx: &impl ConnectionTrait,
    row: &business_settings::Model,
    previous: u32,
) -> Result<(), Error> {
    let conflict = Error::VersionConflict { expected: previous };
    if previous == 0 {
        let active = business_settings::ActiveModel {
            tenant_id: ActiveValue::Set(row.tenant_id.clone()),
            mode: ActiveValue::Set(row.mode.clone()),
            version: ActiveValue::Set(row.version),
            document: ActiveValue::Set(row.document.clone()),
            updated_at: ActiveValue::Set(row.updated_at),
            updated_by: ActiveValue::Set(row.updated_by.clone()),
        };
        return match business_settings::Entity::insert(active)
            .exec_without_returning(tx)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_unique_violation(&error) => Err(conflict),
            Err(error) => Err(error.into()),
        };
    }
    let updated = business_settings::Entity::update_many()
        .col_expr(business_settings::Column::Version, Expr::value(row.version))
        .col_expr(
            business_settings::Column::Document,
            Expr::value(row.document.clone()),
        )
        .col_expr(
            business_settings::Column::UpdatedAt,
            Expr::value(row.updated_at),
        )
        .col_expr(
            business_settings::Column::UpdatedBy,
            Expr::value(row.updated_by.clone()),
        )
        .filter(business_settings::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(business_settings::Column::Mode.eq(scope.mode.as_str()))
        .filter(business_settings::Column::Version.eq(row.version - 1))
        .exec(tx)
        .await?;
    if updated.rows_affected == 0 {
        return Err(conflict);
    }
    Ok(())
}
