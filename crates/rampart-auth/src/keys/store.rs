//! Storage of issued API keys and of tenants' request rates.
//!
//! Verification happens before anyone knows the tenant, so
//! [`KeyStore::find_active`] looks keys up by hash, across tenants; that is
//! safe because a hash names exactly one key, and the row found says which
//! tenant the caller belongs to. Everything else is scoped by the key's
//! [`KeyOwner`], so one tenant can never name another tenant's key.

use chrono::{DateTime, Utc};
use rampart_kit::api_key::{HashedApiKey, KeyKind};
use rampart_kit::ids::{ApiKeyId, TenantId};
use rampart_kit::networks::AllowedNetworks;
use rampart_kit::origins::{AllowedOrigins, Origin};
use rampart_kit::outbox::{Change, Outbox};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use crate::domain::keys::{Environment, KeyName, KeyOwner};
use crate::entity::{api_key, tenant_rate_limit};
use crate::error::Error;

/// The `tenant_id` column of a key: the tenant's id, or empty for the
/// platform.
fn owner_column(owner: &KeyOwner) -> &str {
    match owner {
        KeyOwner::Platform => "",
        KeyOwner::Tenant(tenant) => tenant.as_str(),
    }
}

fn owner_from_column(text: &str) -> Result<KeyOwner, Error> {
    if text.is_empty() {
        return Ok(KeyOwner::Platform);
    }
    TenantId::parse(text)
        .map(KeyOwner::Tenant)
        .map_err(|e| anyhow::anyhow!("stored api key has a bad tenant id: {e}").into())
}

/// A key about to be stored: everything but the key itself.
#[derive(Debug)]
pub(crate) struct NewApiKey {
    pub id: ApiKeyId,
    pub owner: KeyOwner,
    pub name: KeyName,
    pub display_prefix: String,
    pub key_hash: HashedApiKey,
    pub environment: Environment,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub networks: AllowedNetworks,
    pub origins: AllowedOrigins,
}

/// A stored key that verifies now: not revoked, not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActiveKey {
    pub id: ApiKeyId,
    pub owner: KeyOwner,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub networks: AllowedNetworks,
    pub origins: AllowedOrigins,
    /// Which kind of key the row is, to match the presented key's prefix.
    pub kind: KeyKind,
    /// The tenant's own request rate, if it has one.
    pub rate_limit_per_minute: Option<u32>,
}

/// A stored key as its owner may see it.
pub(crate) type KeyRow = api_key::Model;

#[derive(Debug, Clone)]
pub(crate) struct KeyStore {
    db: DatabaseConnection,
}

impl KeyStore {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Opens an audited change in `outbox`, so a change and its audit
    /// event commit together.
    pub(crate) async fn begin<'o>(&self, outbox: &'o Outbox) -> Result<Change<'o>, DbErr> {
        outbox.begin(&self.db).await
    }

    /// Stores `key` in the caller's transaction.
    pub(crate) async fn insert(
        &self,
        tx: &impl ConnectionTrait,
        key: &NewApiKey,
    ) -> Result<KeyRow, DbErr> {
        api_key::ActiveModel {
            id: Set(key.id.to_string()),
            tenant_id: Set(owner_column(&key.owner).to_owned()),
            name: Set(key.name.as_str().to_owned()),
            display_prefix: Set(key.display_prefix.clone()),
            key_hash: Set(key.key_hash.to_hex()),
            environment: Set(key.environment.as_str().to_owned()),
            scopes: Set(key.scopes.join(" ")),
            created_at: Set(Utc::now()),
            revoked_at: Set(None),
            expires_at: Set(key.expires_at),
            allowed_networks: Set(key.networks.to_string()),
            last_used_at: Set(None),
            replaced_by: Set(None),
            allowed_origins: Set(if key.origins.is_empty() {
                String::new()
            } else {
                format!(" {} ", key.origins)
            }),
        }
        .insert(tx)
        .await
    }

    /// The key with this hash, if it verifies now.
    pub(crate) async fn find_active(
        &self,
        hash: &HashedApiKey,
    ) -> Result<Option<ActiveKey>, Error> {
        let Some(row) = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(hash.to_hex()))
            .filter(api_key::Column::RevokedAt.is_null())
            .filter(unexpired())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let active = active_key(&row)?;
        let rate_limit_per_minute = match active.owner.tenant() {
            Some(tenant) => self.rate_limit(tenant).await?,
            None => None,
        };
        Ok(Some(ActiveKey {
            rate_limit_per_minute,
            ..active
        }))
    }

    /// The keys of `owner`, newest first; revoked and expired ones only
    /// when asked for.
    pub(crate) async fn list(
        &self,
        owner: &KeyOwner,
        include_inactive: bool,
    ) -> Result<Vec<KeyRow>, DbErr> {
        let mut query = api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(owner_column(owner)))
            .order_by_desc(api_key::Column::CreatedAt)
            .order_by_desc(api_key::Column::Id);
        if !include_inactive {
            query = query
                .filter(api_key::Column::RevokedAt.is_null())
                .filter(unexpired());
        }
        query.all(&self.db).await
    }

    /// The key `id` of `owner`, in the caller's transaction. Another owner's
    /// key is simply not found.
    pub(crate) async fn find(
        &self,
        tx: &impl ConnectionTrait,
        owner: &KeyOwner,
        id: &ApiKeyId,
    ) -> Result<Option<KeyRow>, DbErr> {
        api_key::Entity::find_by_id(id.as_str())
            .filter(api_key::Column::TenantId.eq(owner_column(owner)))
            .one(tx)
            .await
    }

    /// Saves a changed row in the caller's transaction.
    pub(crate) async fn update(
        &self,
        tx: &impl ConnectionTrait,
        row: KeyRow,
        change: impl FnOnce(&mut api_key::ActiveModel),
    ) -> Result<KeyRow, DbErr> {
        let mut active = row.into_active_model();
        change(&mut active);
        active.update(tx).await
    }

    /// Moves `last_used_at` forward to `at`; returns the key's owner, or
    /// `None` for a key that does not exist.
    pub(crate) async fn touch(
        &self,
        tx: &impl ConnectionTrait,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<KeyRow>, DbErr> {
        let Some(row) = api_key::Entity::find_by_id(id).one(tx).await? else {
            return Ok(None);
        };
        if row.last_used_at.is_some_and(|last| last >= at) {
            return Ok(Some(row));
        }
        self.update(tx, row, |active| active.last_used_at = Set(Some(at)))
            .await
            .map(Some)
    }

    /// Whether an active widget key lists `origin`. Origins are stored in
    /// their canonical form between spaces, so a search for the origin
    /// between spaces matches it exactly and never a longer one.
    pub(crate) async fn is_widget_origin(&self, origin: &Origin) -> Result<bool, DbErr> {
        let pattern = format!(" {} ", origin.as_str());
        let found = api_key::Entity::find()
            .filter(api_key::Column::Environment.eq("widget"))
            .filter(api_key::Column::RevokedAt.is_null())
            .filter(unexpired())
            .filter(api_key::Column::AllowedOrigins.contains(pattern))
            .one(&self.db)
            .await?;
        Ok(found.is_some())
    }

    /// The tenant's own request rate, if it has one.
    pub(crate) async fn rate_limit(&self, tenant: &TenantId) -> Result<Option<u32>, DbErr> {
        Ok(tenant_rate_limit::Entity::find_by_id(tenant.as_str())
            .one(&self.db)
            .await?
            .and_then(|row| u32::try_from(row.requests_per_minute).ok()))
    }

    /// Sets the tenant's request rate, or with `None` restores the default.
    pub(crate) async fn set_rate_limit(
        &self,
        tx: &impl ConnectionTrait,
        tenant: &TenantId,
        per_minute: Option<u32>,
    ) -> Result<(), Error> {
        let Some(per_minute) = per_minute else {
            tenant_rate_limit::Entity::delete_by_id(tenant.as_str())
                .exec(tx)
                .await?;
            return Ok(());
        };
        let per_minute = i32::try_from(per_minute)
            .map_err(|_| Error::InvalidArgument("requests_per_minute is too large".to_owned()))?;
        tenant_rate_limit::Entity::insert(tenant_rate_limit::ActiveModel {
            tenant_id: Set(tenant.to_string()),
            requests_per_minute: Set(per_minute),
        })
        .on_conflict(
            OnConflict::column(tenant_rate_limit::Column::TenantId)
                .update_column(tenant_rate_limit::Column::RequestsPerMinute)
                .to_owned(),
        )
        .exec(tx)
        .await?;
        Ok(())
    }
}

/// Keys that have no expiry or whose expiry is still ahead.
fn unexpired() -> Condition {
    Condition::any()
        .add(api_key::Column::ExpiresAt.is_null())
        .add(api_key::Column::ExpiresAt.gt(Utc::now()))
}

/// Reads a stored row back into parsed types. The rows were written by this
/// service from parsed values; a failure means the table was edited by hand.
pub(crate) fn active_key(row: &KeyRow) -> Result<ActiveKey, Error> {
    let id = ApiKeyId::parse(&row.id)
        .map_err(|e| anyhow::anyhow!("stored api key {:?} has a bad id: {e}", row.id))?;
    let owner = owner_from_column(&row.tenant_id)?;
    let networks: Vec<&str> = row.allowed_networks.split_whitespace().collect();
    let networks = AllowedNetworks::parse(&networks)
        .map_err(|e| anyhow::anyhow!("stored api key {id} has bad networks: {e}"))?;
    let origins: Vec<&str> = row.allowed_origins.split_whitespace().collect();
    let origins = AllowedOrigins::parse(&origins)
        .map_err(|e| anyhow::anyhow!("stored api key {id} has bad origins: {e}"))?;
    let kind = Environment::parse_stored(&row.environment)?.key_kind();
    Ok(ActiveKey {
        id,
        owner,
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        expires_at: row.expires_at,
        networks,
        origins,
        kind,
        rate_limit_per_minute: None,
    })
}
