//! Tenants' policy versions (`esc_policy`), and the compiled form a
//! decision uses.
//!
//! Every write is a new version, the previous one plus one, inserted with
//! its `policy.changed` audit record in one transaction; the primary key
//! (tenant, version) makes the second of two concurrent writes fail rather
//! than overwrite the first. Until a tenant writes one, its policy is the
//! built-in version 0, [`TenantPolicy::default`], which is never stored.
//!
//! The webhook secret lives in its own column: the stored document is
//! exactly what `GetPolicy` returns. [`StoredPolicy::policy`] carries the
//! secret again in memory, for the notifications that sign with it.
//!
//! [`Policies::current`] costs one indexed query per decision (the newest
//! version number); the compiled detector and guardrail patterns are cached
//! per (tenant, version), and versions are never changed, so a write on any
//! instance is seen by the next decision on every instance.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use quick_cache::sync::Cache;
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, SqlErr,
};

use crate::detector::Detector;
use crate::entity::policy;
use crate::error::Error;
use crate::patterns::Pattern;
use crate::tenant_policy::TenantPolicy;

/// How many compiled policies one instance keeps.
const CACHE_CAPACITY: usize = 1000;
/// How long this instance trusts the newest version number it read for a
/// tenant. A write on this instance is seen by the next decision at once;
/// one on another instance, within this long.
const VERSION_TTL: Duration = Duration::from_secs(1);

/// One version of a tenant's policy, as stored.
#[derive(Debug, Clone)]
pub struct StoredPolicy {
    pub version: u32,
    /// With the webhook secret, when one is set.
    pub policy: TenantPolicy,
    /// `None` for the built-in version 0.
    pub created_at: Option<DateTime<Utc>>,
    /// The writer's actor (`user:usr_...`); empty for version 0.
    pub created_by: String,
}

impl StoredPolicy {
    fn built_in() -> Self {
        Self {
            version: 0,
            policy: TenantPolicy::default(),
            created_at: None,
            created_by: String::new(),
        }
    }

    fn from_row(row: policy::Model) -> Result<Self, Error> {
        let mut policy: TenantPolicy = serde_json::from_str(&row.document).map_err(|error| {
            Error::Internal(anyhow::anyhow!("stored policy unreadable: {error}"))
        })?;
        if let Some(webhook) = &mut policy.webhook {
            webhook.secret = row.webhook_secret;
        }
        Ok(Self {
            version: u32::try_from(row.version).unwrap_or_default(),
            policy,
            created_at: Some(row.created_at),
            created_by: row.created_by,
        })
    }
}

/// A policy ready for decisions: its detector and its forbidden phrases
/// compiled once.
#[derive(Debug)]
pub struct CompiledPolicy {
    pub version: u32,
    pub policy: TenantPolicy,
    pub detector: Detector,
    pub(crate) forbidden_phrases: Vec<Pattern>,
}

impl CompiledPolicy {
    /// Compiles a policy that passed [`TenantPolicy::check`].
    pub fn compile(version: u32, policy: TenantPolicy) -> Result<Self, Error> {
        let unexpected = |error: crate::policy::PolicyError| {
            Error::Internal(anyhow::anyhow!("a stored policy does not compile: {error}"))
        };
        let detector = Detector::new(&policy.detection).map_err(unexpected)?;
        let forbidden_phrases = policy
            .guardrails
            .forbidden_phrases
            .iter()
            .map(|phrase| crate::policy::compile_phrase(phrase))
            .collect::<Result<_, _>>()
            .map_err(unexpected)?;
        Ok(Self {
            version,
            policy,
            detector,
            forbidden_phrases,
        })
    }
}

static BUILT_IN: LazyLock<Arc<CompiledPolicy>> = LazyLock::new(|| {
    Arc::new(
        CompiledPolicy::compile(0, TenantPolicy::default()).expect("the default policy compiles"),
    )
});

/// The policy versions of every tenant. Each method takes the tenant from
/// the caller's principal and filters by it.
#[derive(Clone)]
pub struct Policies {
    db: DatabaseConnection,
    outbox: Outbox,
    compiled: Arc<Cache<(TenantId, u32), Arc<CompiledPolicy>>>,
    /// Each tenant's newest version (0: none written) and when it was read.
    newest: Arc<Cache<TenantId, (u32, Instant)>>,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policies")
            .field("compiled", &self.compiled.len())
            .finish_non_exhaustive()
    }
}

impl Policies {
    #[must_use]
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self {
            db,
            outbox,
            compiled: Arc::new(Cache::new(CACHE_CAPACITY)),
            newest: Arc::new(Cache::new(CACHE_CAPACITY)),
        }
    }

    /// The tenant's newest version, or the built-in version 0.
    pub async fn current(&self, tenant_id: &TenantId) -> Result<StoredPolicy, Error> {
        let row = policy::Entity::find()
            .filter(policy::Column::TenantId.eq(tenant_id.as_str()))
            .order_by_desc(policy::Column::Version)
            .one(&self.db)
            .await?;
        row.map_or_else(|| Ok(StoredPolicy::built_in()), StoredPolicy::from_row)
    }

    /// One version of the tenant's policy (a handoff keeps the version it
    /// started with); `None` when the tenant has no such version.
    pub async fn version(
        &self,
        tenant_id: &TenantId,
        version: u32,
    ) -> Result<Option<StoredPolicy>, Error> {
        load_version(&self.db, tenant_id, version).await
    }

    /// Remembers `version` as the tenant's newest, unless a newer one is
    /// known already (a read that started before this instance's own write
    /// must not bring the older version back); versions only grow.
    fn remember_newest(&self, tenant_id: &TenantId, version: u32) -> u32 {
        let newest = match self.newest.get(tenant_id) {
            Some((known, _)) => known.max(version),
            None => version,
        };
        self.newest
            .insert(tenant_id.clone(), (newest, Instant::now()));
        newest
    }

    /// The tenant's current policy, compiled: the version number (read
    /// at most once a second per tenant, see [`VERSION_TTL`]), and the
    /// document only when this instance has not compiled that version yet.
    pub async fn current_compiled(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Arc<CompiledPolicy>, Error> {
        let version = match self.newest.get(tenant_id) {
            Some((version, read)) if read.elapsed() < VERSION_TTL => version,
            _ => {
                let newest: Option<i32> = policy::Entity::find()
                    .select_only()
                    .column(policy::Column::Version)
                    .filter(policy::Column::TenantId.eq(tenant_id.as_str()))
                    .order_by_desc(policy::Column::Version)
                    .into_tuple()
                    .one(&self.db)
                    .await?;
                let read = newest.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
                self.remember_newest(tenant_id, read)
            }
        };
        if version == 0 {
            return Ok(BUILT_IN.clone());
        }
        let key = (tenant_id.clone(), version);
        if let Some(compiled) = self.compiled.get(&key) {
            return Ok(compiled);
        }
        let stored = load_version(&self.db, tenant_id, version)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("policy version vanished")))?;
        // Compiling a large policy takes milliseconds: off the async workers.
        let compiled = tokio::task::spawn_blocking(move || {
            CompiledPolicy::compile(stored.version, stored.policy)
        })
        .await
        .map_err(|error| Error::Internal(error.into()))??;
        let compiled = Arc::new(compiled);
        self.compiled.insert(key, compiled.clone());
        Ok(compiled)
    }

    /// Writes a new version of the tenant's policy from `document`, on
    /// behalf of `actor`, with its `policy.changed` audit record.
    pub async fn put(
        &self,
        actor: &Principal,
        tenant_id: &TenantId,
        document: &str,
        expected_version: Option<u32>,
    ) -> Result<StoredPolicy, Error> {
        let previous = self.current(tenant_id).await?;
        if let Some(expected) = expected_version
            && expected != previous.version
        {
            return Err(Error::VersionMismatch {
                expected,
                current: previous.version,
            });
        }
        let previous_secret = previous
            .policy
            .webhook
            .as_ref()
            .and_then(|webhook| webhook.secret.clone());
        let document = document.to_owned();
        let had_secret = previous_secret.is_some();
        // Checking compiles the detection rules: off the async workers.
        let mut policy =
            tokio::task::spawn_blocking(move || TenantPolicy::parse(&document, had_secret))
                .await
                .map_err(|error| Error::Internal(error.into()))??;
        if let Some(webhook) = &mut policy.webhook
            && webhook.secret.is_none()
        {
            webhook.secret = previous_secret;
        }
        let changed = policy.changed_sections(&previous.policy).join(",");

        let version = previous.version + 1;
        let row = policy::Model {
            tenant_id: tenant_id.as_str().to_owned(),
            version: i32::try_from(version).map_err(|error| Error::Internal(error.into()))?,
            document: policy.to_document(),
            webhook_secret: policy.webhook.as_ref().and_then(|w| w.secret.clone()),
            created_at: Utc::now().trunc_subsecs(6),
            created_by: actor.actor(),
        };
        let event = changed_record(actor, tenant_id, version, changed);

        let mut change = self.outbox.begin(&self.db).await?;
        policy::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(change.tx())
            .await
            .map_err(concurrent_write)?;
        change.audit(event);
        change.commit().await.map_err(concurrent_write)?;
        self.remember_newest(tenant_id, version);
        Ok(StoredPolicy {
            version,
            policy,
            created_at: Some(row.created_at),
            created_by: row.created_by,
        })
    }
}

/// `policy.changed`: the new version and the top-level sections that
/// differ from the previous one, comma-joined.
fn changed_record(
    actor: &Principal,
    tenant_id: &TenantId,
    version: u32,
    changed: String,
) -> AuditRecord {
    AuditRecord::success(
        actor,
        Some(tenant_id.as_str()),
        "policy.changed",
        format!("policy:{tenant_id}"),
    )
    .with_detail("version", version.to_string())
    .with_detail("changed", changed)
}

/// A duplicate (tenant, version) means another write took this version.
fn concurrent_write(error: sea_orm::DbErr) -> Error {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::ConcurrentPolicyWrite,
        _ => error.into(),
    }
}

/// One version of a tenant's policy, the secret included; version 0 is the
/// built-in policy.
pub async fn load_version(
    db: &impl ConnectionTrait,
    tenant_id: &TenantId,
    version: u32,
) -> Result<Option<StoredPolicy>, Error> {
    if version == 0 {
        return Ok(Some(StoredPolicy::built_in()));
    }
    let Ok(version) = i32::try_from(version) else {
        return Ok(None);
    };
    let row = policy::Entity::find()
        .filter(policy::Column::TenantId.eq(tenant_id.as_str()))
        .filter(policy::Column::Version.eq(version))
        .one(db)
        .await?;
    row.map(StoredPolicy::from_row).transpose()
}

#[cfg(test)]
mod tests {
    use rampart_kit::testing::tenant_principal;

    use super::*;

    #[test]
    fn the_audit_record_follows_its_schema() {
        let tenant = TenantId::generate();
        let record = changed_record(
            &tenant_principal(&tenant),
            &tenant,
            4,
            "chain,webhook".into(),
        );
        record.check_schema().unwrap();
        assert_eq!(record.details["version"], "4");
        assert_eq!(record.details["changed"], "chain,webhook");
    }
}
