//! Storage of issued API keys.
//!
//! Verification happens before anyone knows the tenant, so lookups here are
//! by key hash, across tenants; that is safe because a hash names exactly one
//! key, and the row found says which tenant the caller belongs to.

use rampart_kit::api_key::HashedApiKey;
use rampart_kit::ids::{ApiKeyId, TenantId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, TransactionTrait,
};

use crate::entity::api_key;
use crate::error::Error;
use crate::keys::{Environment, KeyName};

/// A key about to be stored: everything but the key itself.
#[derive(Debug)]
pub(crate) struct NewApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: KeyName,
    pub display_prefix: String,
    pub key_hash: HashedApiKey,
    pub environment: Environment,
    pub scopes: Vec<String>,
}

/// A stored key that has not been revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActiveKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct KeyStore {
    db: DatabaseConnection,
}

impl KeyStore {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Opens a transaction, so a key and its audit event commit together.
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.db.begin().await
    }

    /// Stores `key` in the caller's transaction.
    pub(crate) async fn insert(
        &self,
        tx: &impl ConnectionTrait,
        key: &NewApiKey,
    ) -> Result<(), DbErr> {
        api_key::ActiveModel {
            id: Set(key.id.to_string()),
            tenant_id: Set(key.tenant_id.to_string()),
            name: Set(key.name.as_str().to_owned()),
            display_prefix: Set(key.display_prefix.clone()),
            key_hash: Set(key.key_hash.to_hex()),
            environment: Set(key.environment.as_str().to_owned()),
            scopes: Set(key.scopes.join(" ")),
            created_at: Set(chrono::Utc::now()),
            revoked_at: Set(None),
        }
        .insert(tx)
        .await?;
        Ok(())
    }

    /// The unrevoked key with this hash, if there is one.
    pub(crate) async fn find_active(
        &self,
        hash: &HashedApiKey,
    ) -> Result<Option<ActiveKey>, Error> {
        let Some(row) = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(hash.to_hex()))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        // The row was written by this service from parsed ids; failing to
        // parse it back means the table was edited by hand.
        let id = ApiKeyId::parse(&row.id)
            .map_err(|e| anyhow::anyhow!("stored api key {:?} has a bad id: {e}", row.id))?;
        let tenant_id = TenantId::parse(&row.tenant_id)
            .map_err(|e| anyhow::anyhow!("stored api key {id} has a bad tenant id: {e}"))?;
        Ok(Some(ActiveKey {
            id,
            tenant_id,
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        }))
    }
}
