//! API keys from issue to revocation: verifying presented keys, issuing,
//! listing, rotating with a grace period, revoking, and recording use.
//!
//! [`Credentials`] holds everything this needs: the keyed hasher, the hash
//! of the bootstrap admin key (the key itself is dropped once hashed), the
//! key store, the outbox every change is audited through, and the bus that
//! tells the gateways to forget a revoked or rotated key at once. Stored
//! keys (tenants' and platform admins') are looked up by hash; the bootstrap
//! admin key is never stored and is compared in constant time instead.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rampart_kit::api_key::{HashedApiKey, KeyHasher, KeyKind, PlaintextApiKey};
use rampart_kit::ids::{ApiKeyId, TenantId};
use rampart_kit::outbox::{AuditRecord, Change, Outbox};
use rampart_kit::principal::{Principal, PrincipalKind};
use rampart_kit::revocation::Revocation;
use rampart_kit::secret::{ExposeSecret, SecretString};
use sea_orm::{ActiveValue::Set, DatabaseTransaction};

use super::store::{ActiveKey, KeyRow, KeyStore, NewApiKey};
use crate::domain::keys::{Environment, KEYS_SCOPE, KeyName, KeyOwner, KeySpec};
use crate::error::Error;

/// The longest a rotated key may keep working beside its successor.
pub(crate) const MAX_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The credential id reported for the configured admin key, which has no row.
pub(crate) const BOOTSTRAP_CREDENTIAL_ID: &str = "bootstrap";

/// Who a verified key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verified {
    /// The configured bootstrap admin key.
    BootstrapAdmin,
    /// A stored key: a tenant's, or a platform admin's.
    Stored(ActiveKey),
}

/// A freshly issued key; the only place its plaintext ever exists.
#[derive(Debug)]
pub(crate) struct IssuedKey {
    pub key: PlaintextApiKey,
    pub row: KeyRow,
}

/// Whose keys `principal` may manage when it names `tenant_id` (empty for
/// the platform's). Platform admins manage every tenant's keys and the
/// platform's; a tenant credential only its own tenant's, and only when it
/// holds the `keys` scope. Another tenant answers NotFound, as if it did
/// not exist.
pub(crate) fn managed_owner(principal: &Principal, tenant_id: &str) -> Result<KeyOwner, Error> {
    match &principal.kind {
        PrincipalKind::PlatformAdmin => {
            if tenant_id.is_empty() {
                return Ok(KeyOwner::Platform);
            }
            TenantId::parse(tenant_id)
                .map(KeyOwner::Tenant)
                .map_err(|_| {
                    Error::InvalidArgument("tenant_id is not a valid tenant id".to_owned())
                })
        }
        PrincipalKind::Tenant(own) => {
            if !principal.scopes.iter().any(|scope| scope == KEYS_SCOPE) {
                return Err(Error::Forbidden(
                    "managing API keys needs a key with the \"keys\" scope".to_owned(),
                ));
            }
            if !tenant_id.is_empty() && tenant_id != own.as_str() {
                return Err(Error::NotFound("tenant"));
            }
            Ok(KeyOwner::Tenant(own.clone()))
        }
    }
}

/// The first of `scopes` that a tenant credential does not hold itself;
/// `None` for a platform admin, who may grant any.
fn scope_not_held<'a>(principal: &Principal, scopes: &'a [String]) -> Option<&'a String> {
    principal.tenant_id()?;
    scopes
        .iter()
        .find(|scope| !principal.scopes.contains(scope))
}

/// Forbidden unless `principal` could have issued `row`: a tenant
/// credential rotates (which hands over a successor with the same scopes)
/// and revokes only keys within its own scopes.
fn require_could_have_issued(
    principal: &Principal,
    row: &KeyRow,
    action: &str,
) -> Result<(), Error> {
    let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_owned).collect();
    match scope_not_held(principal, &scopes) {
        Some(scope) => Err(Error::Forbidden(format!(
            "a key cannot {action} a key with the {scope:?} scope, which it does not hold itself"
        ))),
        None => Ok(()),
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    hasher: KeyHasher,
    bootstrap_admin: Option<HashedApiKey>,
    store: KeyStore,
    outbox: Outbox,
}

impl Credentials {
    pub(crate) fn new(
        hasher: KeyHasher,
        bootstrap_admin: Option<HashedApiKey>,
        store: KeyStore,
        outbox: Outbox,
    ) -> Self {
        Self {
            hasher,
            bootstrap_admin,
            store,
            outbox,
        }
    }

    /// Says who holds `presented`. A malformed key is refused before any
    /// lookup, so garbage costs no database round trip.
    pub(crate) async fn verify(&self, presented: &str) -> Result<Verified, Error> {
        let key = PlaintextApiKey::parse(presented).map_err(|_| Error::MalformedKey)?;
        let hash = self.hasher.hash(&key);
        if key.kind() == KeyKind::Admin
            && self
                .bootstrap_admin
                .as_ref()
                .is_some_and(|admin| admin.matches(&hash))
        {
            return Ok(Verified::BootstrapAdmin);
        }
        let active = self
            .store
            .find_active(&hash)
            .await?
            .ok_or(Error::InvalidKey)?;
        // A hash names one key, but its prefix must agree with its row: an
        // admin key never passes as a tenant's, nor the reverse.
        let is_admin_row = active.owner == KeyOwner::Platform;
        if is_admin_row != (key.kind() == KeyKind::Admin) {
            return Err(Error::InvalidKey);
        }
        Ok(Verified::Stored(active))
    }

    /// Issues a key for `owner` and records the audit event in the same
    /// transaction, so there is never a key without its event. A tenant
    /// credential cannot grant scopes it does not hold itself.
    pub(crate) async fn issue(
        &self,
        principal: &Principal,
        owner: KeyOwner,
        spec: KeySpec,
    ) -> Result<IssuedKey, Error> {
        if let Some(scope) = scope_not_held(principal, &spec.scopes) {
            return Err(Error::Forbidden(format!(
                "a key cannot grant the {scope:?} scope, which it does not hold itself"
            )));
        }
        let mut change = self.store.begin(&self.outbox).await?;
        let issued = self.insert_key(&mut change, principal, owner, spec).await?;
        change.commit().await?;
        Ok(issued)
    }

    async fn insert_key(
        &self,
        change: &mut Change<'_>,
        principal: &Principal,
        owner: KeyOwner,
        spec: KeySpec,
    ) -> Result<IssuedKey, Error> {
        let key = PlaintextApiKey::generate(spec.environment.key_kind());
        let new = NewApiKey {
            id: ApiKeyId::generate(),
            owner,
            name: spec.name,
            display_prefix: key.display_prefix(),
            key_hash: self.hasher.hash(&key),
            environment: spec.environment,
            scopes: spec.scopes,
            expires_at: spec.expires_at,
            networks: spec.networks,
            origins: spec.origins,
        };
        let record = AuditRecord::success(
            principal,
            new.owner.tenant().map(TenantId::as_str),
            "api_key.issued",
            format!("api_key:{}", new.id),
        )
        .with_detail("display_prefix", new.display_prefix.clone())
        .with_detail("scopes", new.scopes.join(" "));
        let record = match new.expires_at {
            Some(at) => record.with_detail("expires_at", at.to_rfc3339()),
            None => record,
        };
        let row = self.store.insert(change.tx(), &new).await?;
        change.audit(record);
        tracing::info!(
            key_id = %new.id,
            tenant_id = new.owner.tenant().map(TenantId::as_str),
            environment = new.environment.as_str(),
            "api key issued"
        );
        Ok(IssuedKey { key, row })
    }

    /// Whether an active widget key allows `origin`.
    pub(crate) async fn is_widget_origin(
        &self,
        origin: &rampart_kit::origins::Origin,
    ) -> Result<bool, Error> {
        Ok(self.store.is_widget_origin(origin).await?)
    }

    /// The keys of `owner`; never the keys themselves.
    pub(crate) async fn list(
        &self,
        owner: &KeyOwner,
        include_inactive: bool,
    ) -> Result<Vec<KeyRow>, Error> {
        Ok(self.store.list(owner, include_inactive).await?)
    }

    /// Issues a successor to `id` with the same settings; the old key works
    /// for `grace` more, then stops. Every gateway drops its cached verdict
    /// for the old key at once, so the shortened life holds everywhere.
    /// A tenant credential rotates only keys it could have issued: the
    /// successor must not grant more than the caller holds.
    pub(crate) async fn rotate(
        &self,
        principal: &Principal,
        owner: KeyOwner,
        id: &ApiKeyId,
        grace: Duration,
    ) -> Result<(IssuedKey, KeyRow), Error> {
        if grace > MAX_GRACE {
            return Err(Error::InvalidArgument(format!(
                "grace_seconds must be at most {}",
                MAX_GRACE.as_secs()
            )));
        }
        let mut change = self.store.begin(&self.outbox).await?;
        let old = self.usable_key(change.tx(), &owner, id).await?;
        // The successor gets the old key's scopes: the rule of issuing.
        require_could_have_issued(principal, &old, "rotate")?;
        let now = Utc::now();
        let stops_at = now
            + chrono::Duration::from_std(grace)
                .map_err(|_| Error::InvalidArgument("grace_seconds is too large".to_owned()))?;
        let spec = KeySpec {
            name: KeyName::parse(&old.name)?,
            environment: Environment::parse_stored(&old.environment)?,
            scopes: old.scopes.split_whitespace().map(str::to_owned).collect(),
            expires_at: old.expires_at,
            networks: super::store::active_key(&old)?.networks,
            origins: super::store::active_key(&old)?.origins,
        };
        let successor = self
            .insert_key(&mut change, principal, owner.clone(), spec)
            .await?;
        let successor_id = successor.row.id.clone();
        let new_expiry = old.expires_at.map_or(stops_at, |at| at.min(stops_at));
        let record = AuditRecord::success(
            principal,
            owner.tenant().map(TenantId::as_str),
            "api_key.rotated",
            format!("api_key:{}", old.id),
        )
        .with_detail("replaced_by", successor_id.clone())
        .with_detail("grace_until", new_expiry.to_rfc3339());
        let new_expiry = Some(new_expiry);
        let previous = self
            .store
            .update(change.tx(), old, |row| {
                row.expires_at = Set(new_expiry);
                row.replaced_by = Set(Some(successor_id));
            })
            .await?;
        change.audit(record);
        // Every gateway forgets the old key at once, so its shortened life
        // holds everywhere.
        change.announce(Revocation::Credential(previous.id.clone()));
        change.commit().await?;
        tracing::info!(key_id = %previous.id, grace_seconds = grace.as_secs(), "api key rotated");
        Ok((successor, previous))
    }

    /// Revokes `id` at once. Revoking a revoked key changes nothing. A
    /// tenant credential revokes only keys it could have issued.
    pub(crate) async fn revoke(
        &self,
        principal: &Principal,
        owner: KeyOwner,
        id: &ApiKeyId,
    ) -> Result<KeyRow, Error> {
        let mut change = self.store.begin(&self.outbox).await?;
        let row = self
            .store
            .find(change.tx(), &owner, id)
            .await?
            .ok_or_else(|| Error::NotFound("API key"))?;
        // Cutting off a key the caller could not have issued would let a
        // `keys`-only key stop the tenant's integrations.
        require_could_have_issued(principal, &row, "revoke")?;
        if row.revoked_at.is_some() {
            return Ok(row);
        }
        let record = AuditRecord::success(
            principal,
            owner.tenant().map(TenantId::as_str),
            "api_key.revoked",
            format!("api_key:{}", row.id),
        );
        let row = self
            .store
            .update(change.tx(), row, |row| {
                row.revoked_at = Set(Some(Utc::now()))
            })
            .await?;
        change.audit(record);
        change.announce(Revocation::Credential(row.id.clone()));
        change.commit().await?;
        tracing::info!(key_id = %row.id, "api key revoked");
        Ok(row)
    }

    /// Records a gateway's per-minute usage counts: `last_used_at` moves
    /// forward and one `api_key.used` event per key and minute is audited.
    /// The event id is derived from the key, the minute and the reporting
    /// gateway, so a report sent twice is audited once.
    pub(crate) async fn record_usage(
        &self,
        reporter: &str,
        usage: &[(ApiKeyId, DateTime<Utc>, u64)],
    ) -> Result<(), Error> {
        let mut change = self.store.begin(&self.outbox).await?;
        for (id, minute, requests) in usage {
            let used_at = (*minute + chrono::Duration::seconds(59)).min(Utc::now());
            let Some(row) = self.store.touch(change.tx(), id.as_str(), used_at).await? else {
                continue; // a key deleted by hand; nothing to record
            };
            let key = super::store::active_key(&row)?;
            let principal = Principal {
                mode: rampart_kit::principal::DataMode::Live,
                client_addr: String::new(),
                kind: key
                    .owner
                    .tenant()
                    .map_or(PrincipalKind::PlatformAdmin, |tenant| {
                        PrincipalKind::Tenant(tenant.clone())
                    }),
                credential_id: row.id.clone(),
                scopes: key.scopes.clone(),
                request_id: String::new(),
                user: None,
            };
            let mut record = AuditRecord::success(
                &principal,
                key.owner.tenant().map(TenantId::as_str),
                "api_key.used",
                format!("api_key:{}", row.id),
            )
            .with_detail("count", requests.to_string())
            .with_detail("window_start", minute.to_rfc3339());
            record.event_id = usage_event_id(reporter, &row.id, *minute);
            record.occurred_at = used_at;
            change.audit(record);
        }
        change.commit().await?;
        Ok(())
    }

    /// Sets the tenant's request rate (`None`: the default) and audits it.
    pub(crate) async fn set_rate_limit(
        &self,
        principal: &Principal,
        tenant: &TenantId,
        per_minute: Option<u32>,
    ) -> Result<(), Error> {
        let record = AuditRecord::success(
            principal,
            Some(tenant.as_str()),
            "tenant.settings_changed",
            format!("tenant:{tenant}"),
        )
        .with_detail("setting", "rate_limit_per_minute");
        let mut change = self.store.begin(&self.outbox).await?;
        self.store
            .set_rate_limit(change.tx(), tenant, per_minute)
            .await?;
        change.audit(record);
        change.commit().await?;
        Ok(())
    }

    /// A key of `owner` that may still be rotated.
    async fn usable_key(
        &self,
        tx: &DatabaseTransaction,
        owner: &KeyOwner,
        id: &ApiKeyId,
    ) -> Result<KeyRow, Error> {
        let row = self
            .store
            .find(tx, owner, id)
            .await?
            .ok_or_else(|| Error::NotFound("API key"))?;
        if row.revoked_at.is_some() {
            return Err(Error::Conflict("the key is revoked".to_owned()));
        }
        if row.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(Error::Conflict("the key has expired".to_owned()));
        }
        if let Some(successor) = &row.replaced_by {
            return Err(Error::Conflict(format!(
                "the key was already rotated; rotate its successor {successor}"
            )));
        }
        Ok(row)
    }
}

/// A stable event id for one gateway's usage of one key in one minute.
fn usage_event_id(reporter: &str, key_id: &str, minute: DateTime<Utc>) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("api_key.used\n{reporter}\n{key_id}\n{}", minute.timestamp()).as_bytes(),
    );
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The hash of the configured bootstrap admin key, checking that it is one.
pub(crate) fn bootstrap_admin_hash(
    hasher: &KeyHasher,
    key: &SecretString,
) -> anyhow::Result<HashedApiKey> {
    let key = PlaintextApiKey::parse(key.expose_secret().trim())
        .ok()
        .filter(|key| key.kind() == KeyKind::Admin)
        .context(
            "the bootstrap admin API key is not a Rampart admin key (rk_admin_...); \
             generate one with `rampart admin generate-key`, or in code with \
             rampart_kit::api_key::PlaintextApiKey::generate(KeyKind::Admin)",
        )?;
    Ok(hasher.hash(&key))
}

#[cfg(test)]
mod tests {
    use rampart_kit::networks::AllowedNetworks;
    use rampart_kit::origins::AllowedOrigins;
    use sea_orm::{ConnectionTrait, DatabaseConnection};

    use rampart_kit::revocation::RevocationBus;

    use super::*;
    use crate::migration::OUTBOX_TABLE;

    fn hasher() -> KeyHasher {
        KeyHasher::new(&[7; 32]).unwrap()
    }

    fn admin_principal() -> Principal {
        Principal {
            mode: rampart_kit::principal::DataMode::Live,
            client_addr: String::new(),
            kind: rampart_kit::principal::PrincipalKind::PlatformAdmin,
            credential_id: BOOTSTRAP_CREDENTIAL_ID.to_owned(),
            scopes: vec!["admin".to_owned()],
            request_id: "req-test".to_owned(),
            user: None,
        }
    }

    /// Credentials over a migrated SQLite file; the directory must outlive
    /// them.
    async fn credentials_on_sqlite(
        admin: Option<&PlaintextApiKey>,
    ) -> (Credentials, DatabaseConnection, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = rampart_kit::db::sqlite_url(&dir.path().join("auth.db"));
        let db = rampart_kit::db::connect(&url).await.unwrap();
        <crate::migration::Migrator as sea_orm_migration::MigratorTrait>::up(&db, None)
            .await
            .unwrap();
        let hasher = hasher();
        let admin = admin.map(|key| hasher.hash(key));
        let credentials = Credentials::new(
            hasher,
            admin,
            KeyStore::new(db.clone()),
            Outbox::new(OUTBOX_TABLE).announcing_on(RevocationBus::in_process()),
        );
        (credentials, db, dir)
    }

    async fn issue(
        credentials: &Credentials,
        tenant: &TenantId,
        environment: Environment,
    ) -> IssuedKey {
        let owner = KeyOwner::Tenant(tenant.clone());
        let spec =
            KeySpec::parse(&owner, "website", environment.as_str(), &[], "", &[], &[]).unwrap();
        credentials
            .issue(&admin_principal(), owner, spec)
            .await
            .unwrap()
    }

    /// Credentials whose database is unusable: any lookup fails loudly.
    fn credentials_without_database(admin: Option<&PlaintextApiKey>) -> Credentials {
        let hasher = hasher();
        let admin = admin.map(|key| hasher.hash(key));
        Credentials::new(
            hasher,
            admin,
            KeyStore::new(DatabaseConnection::default()),
            Outbox::new(OUTBOX_TABLE).announcing_on(RevocationBus::in_process()),
        )
    }

    #[tokio::test]
    async fn malformed_keys_are_refused_without_a_lookup() {
        // The database is disconnected: a lookup would answer Internal.
        let credentials = credentials_without_database(None);
        let live = PlaintextApiKey::generate(KeyKind::Live);
        // The last checksum character changed (to one it is not already).
        let typo = if live.expose().ends_with('x') {
            'y'
        } else {
            'x'
        };
        let mistyped = format!("{}{typo}", &live.expose()[..live.expose().len() - 1]);
        for bad in ["", "hello", "rk_live_short", mistyped.as_str()] {
            let error = credentials.verify(bad).await.unwrap_err();
            assert!(matches!(error, Error::MalformedKey), "{bad:?}: {error:?}");
        }
    }

    #[tokio::test]
    async fn bootstrap_admin_key_verifies_without_a_lookup() {
        let admin = PlaintextApiKey::generate(KeyKind::Admin);
        let credentials = credentials_without_database(Some(&admin));
        let verified = credentials.verify(admin.expose()).await.unwrap();
        assert_eq!(verified, Verified::BootstrapAdmin);
    }

    #[tokio::test]
    async fn other_admin_keys_are_invalid() {
        let admin = PlaintextApiKey::generate(KeyKind::Admin);
        let other = PlaintextApiKey::generate(KeyKind::Admin);
        let (configured, _db, _dir) = credentials_on_sqlite(Some(&admin)).await;
        assert!(matches!(
            configured.verify(other.expose()).await.unwrap_err(),
            Error::InvalidKey
        ));
        // With no bootstrap key configured, no admin key verifies at all.
        let (unconfigured, _db, _dir) = credentials_on_sqlite(None).await;
        assert!(matches!(
            unconfigured.verify(admin.expose()).await.unwrap_err(),
            Error::InvalidKey
        ));
    }

    #[tokio::test]
    async fn issued_keys_verify_as_their_tenant() {
        let (credentials, _db, _dir) = credentials_on_sqlite(None).await;
        let tenant = TenantId::generate();
        for environment in [Environment::Live, Environment::Test] {
            let issued = issue(&credentials, &tenant, environment).await;
            assert_eq!(issued.key.kind(), environment.key_kind());
            let verified = credentials.verify(issued.key.expose()).await.unwrap();
            assert_eq!(
                verified,
                Verified::Stored(ActiveKey {
                    id: ApiKeyId::parse(&issued.row.id).unwrap(),
                    owner: KeyOwner::Tenant(tenant.clone()),
                    scopes: vec!["read".to_owned(), "write".to_owned()],
                    expires_at: None,
                    networks: AllowedNetworks::default(),
                    origins: AllowedOrigins::default(),
                    kind: environment.key_kind(),
                    rate_limit_per_minute: None,
                })
            );
        }
    }

    #[tokio::test]
    async fn an_issued_key_does_not_show_itself_in_debug() {
        let (credentials, _db, _dir) = credentials_on_sqlite(None).await;
        let issued = issue(&credentials, &TenantId::generate(), Environment::Live).await;
        let hidden = &issued.key.expose()[issued.key.display_prefix().len()..];
        assert!(hidden.len() > 16, "{hidden:?}");
        assert!(!format!("{issued:?}").contains(hidden));
    }

    #[tokio::test]
    async fn unknown_and_revoked_keys_are_invalid_alike() {
        let (credentials, db, _dir) = credentials_on_sqlite(None).await;
        let unknown = PlaintextApiKey::generate(KeyKind::Live);
        assert!(matches!(
            credentials.verify(unknown.expose()).await.unwrap_err(),
            Error::InvalidKey
        ));

        let issued = issue(&credentials, &TenantId::generate(), Environment::Live).await;
        db.execute_unprepared("UPDATE auth_api_key SET revoked_at = CURRENT_TIMESTAMP")
            .await
            .unwrap();
        assert!(matches!(
            credentials.verify(issued.key.expose()).await.unwrap_err(),
            Error::InvalidKey
        ));
    }

    #[tokio::test]
    async fn a_keys_only_key_cannot_rotate_or_revoke_beyond_its_scopes() {
        let (credentials, _db, _dir) = credentials_on_sqlite(None).await;
        let tenant = TenantId::generate();
        let owner = KeyOwner::Tenant(tenant.clone());
        let read_write = issue(&credentials, &tenant, Environment::Live).await;
        let read_write_id = ApiKeyId::parse(&read_write.row.id).unwrap();
        let keys_only = Principal {
            mode: rampart_kit::principal::DataMode::Live,
            client_addr: String::new(),
            kind: PrincipalKind::Tenant(tenant.clone()),
            credential_id: "key_keys".to_owned(),
            scopes: vec![KEYS_SCOPE.to_owned()],
            request_id: "req-test".to_owned(),
            user: None,
        };
        for grace in [Duration::ZERO, Duration::from_secs(60)] {
            let error = credentials
                .rotate(&keys_only, owner.clone(), &read_write_id, grace)
                .await
                .unwrap_err();
            assert!(matches!(error, Error::Forbidden(_)), "{error:?}");
        }
        let error = credentials
            .revoke(&keys_only, owner.clone(), &read_write_id)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Forbidden(_)), "{error:?}");
        // Nothing changed: the key works, with no successor.
        assert!(credentials.verify(read_write.key.expose()).await.is_ok());
        let listed = credentials.list(&owner, true).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].replaced_by.is_none() && listed[0].revoked_at.is_none());

        // A key within its scopes it rotates and revokes.
        let spec = KeySpec::parse(&owner, "", "", &[KEYS_SCOPE.to_owned()], "", &[], &[]).unwrap();
        let own_kind = credentials
            .issue(&keys_only, owner.clone(), spec)
            .await
            .unwrap();
        let own_kind_id = ApiKeyId::parse(&own_kind.row.id).unwrap();
        let (successor, _) = credentials
            .rotate(&keys_only, owner.clone(), &own_kind_id, Duration::ZERO)
            .await
            .unwrap();
        let successor_id = ApiKeyId::parse(&successor.row.id).unwrap();
        credentials
            .revoke(&keys_only, owner, &successor_id)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_key_hashed_under_another_secret_is_invalid() {
        let (credentials, _db, _dir) = credentials_on_sqlite(None).await;
        let issued = issue(&credentials, &TenantId::generate(), Environment::Live).await;
        let rotated = Credentials {
            hasher: KeyHasher::new(&[8; 32]).unwrap(),
            ..credentials
        };
        assert!(matches!(
            rotated.verify(issued.key.expose()).await.unwrap_err(),
            Error::InvalidKey
        ));
    }

    #[test]
    fn bootstrap_key_must_be_an_admin_key() {
        let hasher = hasher();
        let admin = PlaintextApiKey::generate(KeyKind::Admin);
        let live = PlaintextApiKey::generate(KeyKind::Live);
        let hash = bootstrap_admin_hash(&hasher, &SecretString::from(admin.expose())).unwrap();
        assert!(hash.matches(&hasher.hash(&admin)));
        for bad in [live.expose(), "rk_admin_nope", ""] {
            let error = bootstrap_admin_hash(&hasher, &SecretString::from(bad)).unwrap_err();
            assert!(error.to_string().contains("generate"), "{error}");
        }
    }
}
