//! Envelope encryption of personal data, per tenant.
//!
//! Three levels of keys, each wrapped by the one above:
//!
//! - the **master key** ([`MasterKey`]: configuration or a cloud KMS),
//!   versioned, never stored in the database;
//! - one **tenant key** per tenant (`crm_tenant_key`), wrapped by the master
//!   key; it also derives the tenant's blind-index keys;
//! - one **data key** per owner of personal data (`crm_data_key`: a
//!   customer, a conversation, the tenant itself), wrapped by the tenant
//!   key. Destroying it shreds everything sealed under it, backups included.
//!
//! A value is sealed with AES-256-GCM under its owner's data key; the
//! associated data binds the tenant, table, column and row ([`Field`]), so a
//! ciphertext copied anywhere else does not open. A sealed value reads
//! `[format 1][data key id: 16 bytes][nonce: 12 bytes][ciphertext + tag]`.
//! Exact lookups go through blind indexes ([`TenantKeys::blind_index`]).
//!
//! Unwrapped keys are cached in memory for [`CACHE_TTL`], bounded, so a read
//! costs no extra query; destroying a data key evicts it. Keys are created
//! on first use, possibly inside the caller's transaction. Only keys *read*
//! from the database are cached, never one this call created, so a rolled
//! back creation leaves nothing behind; a data key's creation also checks
//! that the tenant key it wraps under is still the stored one.

mod data_key;
mod master;
mod tenant_key;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use rampart_kit::ids::TenantId;
use ring::aead::NONCE_LEN;
use ring::{hkdf, hmac};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

pub use master::{KEY_LEN, KeyMaterial, LocalMasterKeys, MasterKey};

use crate::Error;

/// How long an unwrapped key stays in memory after it was read.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Most tenant keys and data keys held in memory, each.
const CACHE_CAPACITY: usize = 10_000;
/// Tenant keys re-wrapped per query during a rotation.
const ROTATION_BATCH: u64 = 100;

/// The first byte of every sealed value.
const FORMAT_SEALED: u8 = 1;
/// The first byte of a benchmark baseline's "sealed" value: the plaintext
/// follows. A real vault refuses it.
const FORMAT_BASELINE: u8 = 0;
const DATA_KEY_ID_LEN: usize = 16;
const HEADER_LEN: usize = 1 + DATA_KEY_ID_LEN;

/// What can go wrong with keys and ciphertexts. To callers of the store
/// these are internal errors: the data or the configuration is broken.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("bad master key: {0}")]
    BadMasterKey(String),
    #[error("master key version {0} is not in the keyring")]
    UnknownMasterVersion(u32),
    #[error("no randomness available")]
    Random,
    /// A wrong key, wrong associated data, or a changed byte.
    #[error("decryption failed")]
    Crypto,
    #[error("malformed ciphertext")]
    Malformed,
    /// A ciphertext of the unencrypted benchmark baseline met a real vault,
    /// or the other way round.
    #[error("ciphertext format {0} refused")]
    FormatRefused(u8),
    /// The ciphertext was sealed under another data key (for instance one
    /// destroyed since).
    #[error("ciphertext made under another data key")]
    OtherDataKey,
    /// The cached tenant key is not the stored one (its creation was rolled
    /// back); evicted, a retry reads the stored one.
    #[error("tenant key changed; retry")]
    TenantKeyChanged,
    #[error("the cloud KMS failed: {0}")]
    Kms(String),
}

impl From<VaultError> for Error {
    fn from(error: VaultError) -> Self {
        Self::Internal(error.into())
    }
}

/// Where a value lives; with the tenant, this is the AEAD's associated data,
/// so a ciphertext moved to another row, field or tenant does not open.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

/// What a master key rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// Tenant keys re-wrapped under the current master version.
    pub rewrapped: u64,
    /// Tenant keys that were already under it.
    pub already_current: u64,
}

/// The key hierarchy, shared by every request of the CRM.
#[derive(Clone)]
pub struct Vault {
    mode: Mode,
}

#[derive(Clone)]
enum Mode {
    Sealed(Arc<Keyring>),
    /// See [`Vault::unencrypted_baseline`].
    Baseline,
}

/// The master key and the caches of unwrapped keys.
struct Keyring {
    master: Arc<dyn MasterKey>,
    tenants: quick_cache::sync::Cache<String, Cached<TenantKey>>,
    data_keys: quick_cache::sync::Cache<(String, String), Cached<DataKeyMaterial>>,
}

struct Cached<T> {
    read_at: Instant,
    value: Arc<T>,
}

/// By hand: the derive would ask `T: Clone`, and keys are not cloned.
impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        Self {
            read_at: self.read_at,
            value: self.value.clone(),
        }
    }
}

impl<T> Cached<T> {
    fn fresh(&self) -> Option<Arc<T>> {
        (self.read_at.elapsed() < CACHE_TTL).then(|| self.value.clone())
    }
}

/// A tenant key and the creation time that identifies its row.
struct TenantKey {
    key: KeyMaterial,
    created_at: chrono::DateTime<Utc>,
}

struct DataKeyMaterial {
    id: [u8; DATA_KEY_ID_LEN],
    key: KeyMaterial,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.mode {
            Mode::Sealed(keyring) => f
                .debug_struct("Vault")
                .field("master", &keyring.master)
                .finish_non_exhaustive(),
            Mode::Baseline => f.write_str("Vault(unencrypted baseline)"),
        }
    }
}

impl Vault {
    /// A vault whose tenant keys are wrapped by `master`.
    #[must_use]
    pub fn new(master: Arc<dyn MasterKey>) -> Self {
        Self {
            mode: Mode::Sealed(Arc::new(Keyring {
                master,
                tenants: quick_cache::sync::Cache::new(CACHE_CAPACITY),
                data_keys: quick_cache::sync::Cache::new(CACHE_CAPACITY),
            })),
        }
    }

    /// **A benchmark peer only**, reachable from no configuration: the same
    /// call shapes with no encryption, so a benchmark can run the same
    /// routes with and without it in one process. Its `seal` stores the
    /// plaintext behind a format byte that a real vault refuses to open,
    /// and it touches no key table.
    #[doc(hidden)]
    #[must_use]
    pub fn unencrypted_baseline() -> Self {
        Self {
            mode: Mode::Baseline,
        }
    }

    /// The master key version new wraps are made under (0 for the
    /// baseline, which wraps nothing).
    #[must_use]
    pub fn current_master_version(&self) -> u32 {
        match &self.mode {
            Mode::Sealed(keyring) => keyring.master.current_version(),
            Mode::Baseline => 0,
        }
    }

    /// `tenant`'s keys, its tenant key created (wrapped by the master key)
    /// on first use through `db`.
    pub async fn tenant(
        &self,
        db: &impl ConnectionTrait,
        tenant: &TenantId,
    ) -> Result<TenantKeys, Error> {
        let Mode::Sealed(keyring) = &self.mode else {
            return Ok(TenantKeys {
                tenant: tenant.clone(),
                sealed: None,
            });
        };
        let key = match keyring.tenants.get(tenant.as_str()).and_then(|c| c.fresh()) {
            Some(key) => key,
            None => keyring.load_tenant_key(db, tenant).await?,
        };
        Ok(TenantKeys {
            tenant: tenant.clone(),
            sealed: Some((keyring.clone(), key)),
        })
    }

    /// Re-wraps every tenant key not under the current master version;
    /// counts. Online: each key is re-wrapped by one conditional update, so
    /// a concurrent rotation or read never sees a half-done row, and the
    /// key itself (hence every data key and ciphertext) is unchanged.
    pub async fn rotate_master(&self, db: &DatabaseConnection) -> Result<Rotation, Error> {
        let Mode::Sealed(keyring) = &self.mode else {
            return Ok(Rotation::default());
        };
        let current = i64::from(keyring.master.current_version());
        let already_current = tenant_key::Entity::find()
            .filter(tenant_key::Column::MasterVersion.eq(current))
            .count(db)
            .await?;
        let mut rewrapped = 0;
        let mut after = String::new();
        loop {
            let batch = tenant_key::Entity::find()
                .filter(tenant_key::Column::MasterVersion.ne(current))
                .filter(tenant_key::Column::TenantId.gt(after.clone()))
                .order_by_asc(tenant_key::Column::TenantId)
                .limit(ROTATION_BATCH)
                .all(db)
                .await?;
            let Some(last) = batch.last() else { break };
            after = last.tenant_id.clone();
            for row in batch {
                if keyring.rewrap(db, row).await? {
                    rewrapped += 1;
                }
            }
        }
        Ok(Rotation {
            rewrapped,
            already_current,
        })
    }

    /// Destroys `tenant`'s key and every data key wrapped under it, through
    /// `db` (the caller's transaction); how many data keys there were.
    /// Everything the tenant ever sealed, in the database or any backup,
    /// can then no longer be opened. The keys leave this process's caches
    /// at once, and again after the deletes, in case a concurrent read
    /// cached one in between; if the transaction rolls back, a later read
    /// simply loads them again.
    pub async fn destroy_tenant(
        &self,
        db: &impl ConnectionTrait,
        tenant: &TenantId,
    ) -> Result<u64, Error> {
        self.evict_tenant(tenant);
        let data_keys = data_key::Entity::delete_many()
            .filter(data_key::Column::TenantId.eq(tenant.as_str()))
            .exec(db)
            .await?
            .rows_affected;
        tenant_key::Entity::delete_many()
            .filter(tenant_key::Column::TenantId.eq(tenant.as_str()))
            .exec(db)
            .await?;
        self.evict_tenant(tenant);
        Ok(data_keys)
    }

    fn evict_tenant(&self, tenant: &TenantId) {
        if let Mode::Sealed(keyring) = &self.mode {
            keyring.tenants.remove(tenant.as_str());
            keyring
                .data_keys
                .retain(|(owner_tenant, _), _| owner_tenant != tenant.as_str());
        }
    }
}

impl Keyring {
    async fn load_tenant_key(
        &self,
        db: &impl ConnectionTrait,
        tenant: &TenantId,
    ) -> Result<Arc<TenantKey>, Error> {
        if let Some(row) = tenant_key::Entity::find_by_id(tenant.as_str())
            .one(db)
            .await?
        {
            let key = Arc::new(self.unwrap_tenant_key(&row).await?);
            self.tenants.insert(
                tenant.as_str().to_owned(),
                Cached {
                    read_at: Instant::now(),
                    value: key.clone(),
                },
            );
            return Ok(key);
        }
        // First use: create it. A concurrent first use may win the insert;
        // then its key is the tenant's, read back (and not cached: it may
        // still be uncommitted in this connection's view).
        let key = KeyMaterial::generate()?;
        let (version, wrapped) = self
            .master
            .wrap(&tenant_context(tenant), key.expose())
            .await?;
        let created_at = Utc::now().trunc_subsecs(6);
        tenant_key::Entity::insert(tenant_key::ActiveModel {
            tenant_id: Set(tenant.as_str().to_owned()),
            master_version: Set(i64::from(version)),
            wrapped_key: Set(wrapped),
            created_at: Set(created_at),
            rotated_at: Set(None),
        })
        .on_conflict_do_nothing_on([tenant_key::Column::TenantId])
        .exec_without_returning(db)
        .await?;
        let row = tenant_key::Entity::find_by_id(tenant.as_str())
            .one(db)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("tenant key vanished")))?;
        Ok(Arc::new(self.unwrap_tenant_key(&row).await?))
    }

    async fn unwrap_tenant_key(&self, row: &tenant_key::Model) -> Result<TenantKey, Error> {
        let tenant = TenantId::parse(&row.tenant_id)
            .map_err(|e| Error::Internal(anyhow::anyhow!("crm_tenant_key: {e}")))?;
        let version = u32::try_from(row.master_version)
            .map_err(|_| Error::Internal(anyhow::anyhow!("crm_tenant_key: bad version")))?;
        let key = self
            .master
            .unwrap(version, &tenant_context(&tenant), &row.wrapped_key)
            .await?;
        Ok(TenantKey {
            key,
            created_at: row.created_at,
        })
    }

    /// Re-wraps one row under the current master version; false when a
    /// concurrent rotation got there first.
    async fn rewrap(&self, db: &DatabaseConnection, row: tenant_key::Model) -> Result<bool, Error> {
        let key = self.unwrap_tenant_key(&row).await?;
        let tenant = TenantId::parse(&row.tenant_id)
            .map_err(|e| Error::Internal(anyhow::anyhow!("crm_tenant_key: {e}")))?;
        let (version, wrapped) = self
            .master
            .wrap(&tenant_context(&tenant), key.key.expose())
            .await?;
        let updated = tenant_key::Entity::update_many()
            .col_expr(
                tenant_key::Column::MasterVersion,
                sea_orm::sea_query::Expr::value(i64::from(version)),
            )
            .col_expr(
                tenant_key::Column::WrappedKey,
                sea_orm::sea_query::Expr::value(wrapped),
            )
            .col_expr(
                tenant_key::Column::RotatedAt,
                sea_orm::sea_query::Expr::value(Some(Utc::now().trunc_subsecs(6))),
            )
            .filter(tenant_key::Column::TenantId.eq(row.tenant_id.as_str()))
            .filter(tenant_key::Column::MasterVersion.eq(row.master_version))
            .exec(db)
            .await?;
        Ok(updated.rows_affected == 1)
    }
}

/// The master key's wrap context for a tenant key.
fn tenant_context(tenant: &TenantId) -> Vec<u8> {
    [
        b"rampart.crm.tenant_key\0".as_slice(),
        tenant.as_str().as_bytes(),
    ]
    .concat()
}

/// The tenant key's wrap context for a data key: tenant, owner and key id.
fn data_key_context(tenant: &TenantId, owner: &str, id: &[u8]) -> Vec<u8> {
    let mut aad = b"rampart.crm.data_key\0".to_vec();
    for part in [tenant.as_str().as_bytes(), owner.as_bytes(), id] {
        aad.extend_from_slice(part);
        aad.push(0);
    }
    aad
}

/// One tenant's keys: its blind indexes and its owners' data keys.
#[derive(Clone)]
pub struct TenantKeys {
    tenant: TenantId,
    /// `None` for the unencrypted baseline.
    sealed: Option<(Arc<Keyring>, Arc<TenantKey>)>,
}

impl std::fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKeys")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl TenantKeys {
    /// Blind index: HMAC-SHA256 (hex) of `value` under a key derived
    /// (HKDF-SHA256) from the tenant key for `field` (e.g.
    /// "crm_customer.phone"). Equal values give equal indexes within one
    /// tenant and field only; callers normalise `value` first.
    #[must_use]
    pub fn blind_index(&self, field: &str, value: &str) -> String {
        let tenant_key: &[u8] = match &self.sealed {
            Some((_, key)) => key.key.expose(),
            // The baseline still hashes, so both modes store the same shapes.
            None => &[0u8; KEY_LEN],
        };
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"rampart.crm.blind_index.v1");
        let info = [field.as_bytes()];
        let prk = salt.extract(tenant_key);
        let okm = prk
            .expand(&info, hmac::HMAC_SHA256)
            .expect("HKDF output of one HMAC key length is always valid");
        let key = hmac::Key::from(okm);
        let tag = hmac::sign(&key, value.as_bytes());
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The data key of `owner` ("customer:<id>", "conversation:<id>",
    /// "tenant"), created on first use through `db` (may be the caller's
    /// transaction).
    pub async fn data_key(&self, db: &impl ConnectionTrait, owner: &str) -> Result<DataKey, Error> {
        let Some((keyring, tenant_key)) = &self.sealed else {
            return Ok(DataKey {
                tenant: self.tenant.clone(),
                material: None,
            });
        };
        if let Some(key) = self.existing_data_key(db, owner).await? {
            return Ok(key);
        }
        let row = self.create_data_key(db, keyring, tenant_key, owner).await?;
        let material = Arc::new(self.unwrap_data_key(tenant_key, &row)?);
        Ok(self.sealed_key(material))
    }

    /// The data key of `owner` if it has one; never makes one. Readers of
    /// sealed rows use this: a row whose key is gone was erased (its key
    /// destroyed, the row perhaps brought back by restoring a backup of the
    /// data without the key tables) and must read as absent, not be given a
    /// new key that cannot open it. The baseline always answers a key.
    pub async fn existing_data_key(
        &self,
        db: &impl ConnectionTrait,
        owner: &str,
    ) -> Result<Option<DataKey>, Error> {
        let Some((keyring, tenant_key)) = &self.sealed else {
            return Ok(Some(DataKey {
                tenant: self.tenant.clone(),
                material: None,
            }));
        };
        let cache_key = (self.tenant.as_str().to_owned(), owner.to_owned());
        if let Some(material) = keyring.data_keys.get(&cache_key).and_then(|c| c.fresh()) {
            return Ok(Some(self.sealed_key(material)));
        }
        let Some(row) = self.find_data_key(db, owner).await? else {
            return Ok(None);
        };
        let material = Arc::new(self.unwrap_data_key(tenant_key, &row)?);
        keyring.data_keys.insert(
            cache_key,
            Cached {
                read_at: Instant::now(),
                value: material.clone(),
            },
        );
        Ok(Some(self.sealed_key(material)))
    }

    /// A data key for an owner that has none yet: a row being created in
    /// `db`'s transaction under an id just generated. One conditional
    /// insert, which writes only while the tenant key this process holds
    /// is still the stored one; [`Self::data_key`] instead looks first,
    /// checks the tenant key and reads the new row back (four statements
    /// where this takes one). An owner that has a key already fails on the
    /// unique index.
    pub async fn new_data_key(
        &self,
        db: &impl ConnectionTrait,
        owner: &str,
    ) -> Result<DataKey, Error> {
        let Some((keyring, tenant_key)) = &self.sealed else {
            return Ok(DataKey {
                tenant: self.tenant.clone(),
                material: None,
            });
        };
        let id = *uuid::Uuid::new_v4().as_bytes();
        let key = KeyMaterial::generate()?;
        let wrapped = master::seal_raw(
            &tenant_key.key,
            &data_key_context(&self.tenant, owner, &id),
            key.expose(),
        )?;
        let values = Query::select()
            .exprs([
                Expr::val(hex(&id)),
                Expr::val(self.tenant.as_str()),
                Expr::val(owner),
                Expr::val(wrapped),
                Expr::val(Utc::now().trunc_subsecs(6)),
            ])
            .from(tenant_key::Entity)
            .and_where(tenant_key::Column::TenantId.eq(self.tenant.as_str()))
            .and_where(tenant_key::Column::CreatedAt.eq(tenant_key.created_at))
            .to_owned();
        let insert = Query::insert()
            .into_table(data_key::Entity)
            .columns([
                data_key::Column::Id,
                data_key::Column::TenantId,
                data_key::Column::Owner,
                data_key::Column::WrappedKey,
                data_key::Column::CreatedAt,
            ])
            .select_from(values)
            .map_err(|error| Error::Internal(error.into()))?
            .to_owned();
        if db.execute(&insert).await?.rows_affected() != 1 {
            keyring.tenants.remove(self.tenant.as_str());
            return Err(VaultError::TenantKeyChanged.into());
        }
        let material = Arc::new(DataKeyMaterial { id, key });
        keyring.data_keys.insert(
            (self.tenant.as_str().to_owned(), owner.to_owned()),
            Cached {
                read_at: Instant::now(),
                value: material.clone(),
            },
        );
        Ok(self.sealed_key(material))
    }

    /// Destroys `owner`'s data key (crypto-shredding); whether one existed.
    /// It leaves this process's cache at once, whether or not `db`'s
    /// transaction commits (a later read simply loads it again).
    pub async fn destroy_data_key(
        &self,
        db: &impl ConnectionTrait,
        owner: &str,
    ) -> Result<bool, Error> {
        if let Some((keyring, _)) = &self.sealed {
            keyring
                .data_keys
                .remove(&(self.tenant.as_str().to_owned(), owner.to_owned()));
        }
        let deleted = data_key::Entity::delete_many()
            .filter(data_key::Column::TenantId.eq(self.tenant.as_str()))
            .filter(data_key::Column::Owner.eq(owner))
            .exec(db)
            .await?;
        if let Some((keyring, _)) = &self.sealed {
            // Again, in case a concurrent read cached it in between.
            keyring
                .data_keys
                .remove(&(self.tenant.as_str().to_owned(), owner.to_owned()));
        }
        Ok(deleted.rows_affected > 0)
    }

    fn sealed_key(&self, material: Arc<DataKeyMaterial>) -> DataKey {
        DataKey {
            tenant: self.tenant.clone(),
            material: Some(material),
        }
    }

    async fn find_data_key(
        &self,
        db: &impl ConnectionTrait,
        owner: &str,
    ) -> Result<Option<data_key::Model>, Error> {
        Ok(data_key::Entity::find()
            .filter(data_key::Column::TenantId.eq(self.tenant.as_str()))
            .filter(data_key::Column::Owner.eq(owner))
            .one(db)
            .await?)
    }

    /// Inserts a new data key for `owner` (or reads the one a concurrent
    /// first use inserted), after checking the tenant key is the stored one.
    async fn create_data_key(
        &self,
        db: &impl ConnectionTrait,
        keyring: &Keyring,
        tenant_key: &TenantKey,
        owner: &str,
    ) -> Result<data_key::Model, Error> {
        let stored = tenant_key::Entity::find_by_id(self.tenant.as_str())
            .one(db)
            .await?;
        if stored.is_none_or(|row| row.created_at != tenant_key.created_at) {
            keyring.tenants.remove(self.tenant.as_str());
            return Err(VaultError::TenantKeyChanged.into());
        }
        let id = *uuid::Uuid::new_v4().as_bytes();
        let key = KeyMaterial::generate()?;
        let wrapped = master::seal_raw(
            &tenant_key.key,
            &data_key_context(&self.tenant, owner, &id),
            key.expose(),
        )?;
        data_key::Entity::insert(data_key::ActiveModel {
            id: Set(hex(&id)),
            tenant_id: Set(self.tenant.as_str().to_owned()),
            owner: Set(owner.to_owned()),
            wrapped_key: Set(wrapped),
            created_at: Set(Utc::now().trunc_subsecs(6)),
        })
        .on_conflict_do_nothing_on([data_key::Column::TenantId, data_key::Column::Owner])
        .exec_without_returning(db)
        .await?;
        self.find_data_key(db, owner)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("data key vanished")))
    }

    fn unwrap_data_key(
        &self,
        tenant_key: &TenantKey,
        row: &data_key::Model,
    ) -> Result<DataKeyMaterial, Error> {
        let id = unhex(&row.id).ok_or(VaultError::Malformed)?;
        let key = master::open_raw(
            &tenant_key.key,
            &data_key_context(&self.tenant, &row.owner, &id),
            &row.wrapped_key,
        )?;
        Ok(DataKeyMaterial {
            id,
            key: KeyMaterial::new(key),
        })
    }
}

/// The key that seals one owner's values.
#[derive(Clone)]
pub struct DataKey {
    tenant: TenantId,
    /// `None` for the unencrypted baseline.
    material: Option<Arc<DataKeyMaterial>>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl DataKey {
    /// Seals `plaintext` for the place `at`.
    ///
    /// # Panics
    /// If the system has no randomness for a nonce, which ring treats as
    /// unrecoverable too.
    #[must_use]
    pub fn seal(&self, at: &Field<'_>, plaintext: &str) -> Vec<u8> {
        let Some(material) = &self.material else {
            return [&[FORMAT_BASELINE], plaintext.as_bytes()].concat();
        };
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + 16);
        out.push(FORMAT_SEALED);
        out.extend_from_slice(&material.id);
        let aad = self.aad(&out, at);
        out.extend_from_slice(&[0u8; NONCE_LEN]);
        master::seal_into(&material.key, &aad, plaintext.as_bytes(), &mut out)
            .expect("sealing with a valid key fails only without randomness");
        out
    }

    /// Opens what [`DataKey::seal`] made for the same place, tenant and key.
    pub fn open(&self, at: &Field<'_>, sealed: &[u8]) -> Result<String, Error> {
        let (&format, rest) = sealed.split_first().ok_or(VaultError::Malformed)?;
        let plaintext = match (&self.material, format) {
            (None, FORMAT_BASELINE) => rest.to_vec(),
            (Some(material), FORMAT_SEALED) => {
                if rest.len() < DATA_KEY_ID_LEN {
                    return Err(VaultError::Malformed.into());
                }
                let (header, body) = sealed.split_at(HEADER_LEN);
                if header[1..] != material.id {
                    return Err(VaultError::OtherDataKey.into());
                }
                master::open_raw(&material.key, &self.aad(header, at), body)?
            }
            (_, format) => return Err(VaultError::FormatRefused(format).into()),
        };
        String::from_utf8(plaintext).map_err(|_| VaultError::Malformed.into())
    }

    /// The header, then tenant, table, column and row, each NUL-terminated
    /// (none of them contains a NUL).
    fn aad(&self, header: &[u8], at: &Field<'_>) -> Vec<u8> {
        let mut aad = header.to_vec();
        for part in [self.tenant.as_str(), at.table, at.column, at.row] {
            aad.extend_from_slice(part.as_bytes());
            aad.push(0);
        }
        aad
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; DATA_KEY_ID_LEN]> {
    let mut out = [0u8; DATA_KEY_ID_LEN];
    if text.len() != DATA_KEY_ID_LEN * 2 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
