//! Verifying presented API keys and issuing new ones.
//!
//! [`Credentials`] holds everything a verification needs: the keyed hasher,
//! the hash of the bootstrap admin key (the key itself is dropped once
//! hashed), and the key store. Tenant keys are looked up by hash; the admin
//! key is never stored and is compared in constant time instead.

use anyhow::Context;
use rampart_kit::api_key::{HashedApiKey, KeyHasher, KeyKind, PlaintextApiKey};
use rampart_kit::ids::{ApiKeyId, TenantId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use rampart_kit::secret::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::store::{ActiveKey, KeyStore, NewApiKey};

/// What this version grants every tenant key. Finer scopes come with key
/// management; the column is there so keys issued now keep their grant.
pub(crate) const TENANT_KEY_SCOPES: [&str; 2] = ["read", "write"];

/// The credential id reported for the configured admin key, which has no row.
pub(crate) const BOOTSTRAP_CREDENTIAL_ID: &str = "bootstrap";

const MAX_NAME_CHARS: usize = 100;
const DEFAULT_NAME: &str = "default";

/// A key's human label: trimmed, at most 100 characters, no control
/// characters (they would let a label forge lines in logs and listings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyName(String);

impl KeyName {
    /// Parses a requested name; an empty one becomes "default".
    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Self(DEFAULT_NAME.to_owned()));
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(Error::InvalidArgument(format!(
                "name must be at most {MAX_NAME_CHARS} characters"
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Error::InvalidArgument(
                "name must not contain control characters".to_owned(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which kind of tenant key: production or for testing integrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Environment {
    Live,
    Test,
}

impl Environment {
    /// Parses a requested environment; empty means live.
    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "" | "live" => Ok(Self::Live),
            "test" => Ok(Self::Test),
            _ => Err(Error::InvalidArgument(
                "environment must be \"live\" or \"test\"".to_owned(),
            )),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    fn key_kind(self) -> KeyKind {
        match self {
            Self::Live => KeyKind::Live,
            Self::Test => KeyKind::Test,
        }
    }
}

/// Who a verified key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verified {
    /// The configured bootstrap admin key.
    PlatformAdmin,
    /// A tenant's stored key.
    Tenant(ActiveKey),
}

/// A freshly issued key; the only place its plaintext ever exists.
#[derive(Debug)]
pub(crate) struct IssuedKey {
    pub id: ApiKeyId,
    pub key: PlaintextApiKey,
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
        match key.kind() {
            KeyKind::Admin => {
                let is_bootstrap = self
                    .bootstrap_admin
                    .as_ref()
                    .is_some_and(|admin| admin.matches(&hash));
                if is_bootstrap {
                    Ok(Verified::PlatformAdmin)
                } else {
                    Err(Error::InvalidKey)
                }
            }
            KeyKind::Live | KeyKind::Test => self
                .store
                .find_active(&hash)
                .await?
                .map(Verified::Tenant)
                .ok_or(Error::InvalidKey),
        }
    }

    /// Issues a key for `tenant_id` and records the audit event in the same
    /// transaction, so there is never a key without its event.
    pub(crate) async fn issue(
        &self,
        principal: &Principal,
        tenant_id: TenantId,
        name: KeyName,
        environment: Environment,
    ) -> Result<IssuedKey, Error> {
        let key = PlaintextApiKey::generate(environment.key_kind());
        let new = NewApiKey {
            id: ApiKeyId::generate(),
            tenant_id,
            name,
            display_prefix: key.display_prefix(),
            key_hash: self.hasher.hash(&key),
            environment,
            scopes: TENANT_KEY_SCOPES.map(str::to_owned).to_vec(),
        };
        let record = AuditRecord::success(
            principal,
            Some(new.tenant_id.as_str()),
            "api_key.issued",
            format!("api_key:{}", new.id),
        );
        let tx = self.store.begin().await?;
        self.store.insert(&tx, &new).await?;
        self.outbox.enqueue(&tx, &record).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(
            key_id = %new.id,
            tenant_id = %new.tenant_id,
            environment = new.environment.as_str(),
            "api key issued"
        );
        Ok(IssuedKey { id: new.id, key })
    }
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
    use sea_orm::{ConnectionTrait, DatabaseConnection};

    use super::*;
    use crate::migration::OUTBOX_TABLE;

    fn hasher() -> KeyHasher {
        KeyHasher::new(&[7; 32]).unwrap()
    }

    fn admin_principal() -> Principal {
        Principal {
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
        crate::migrate(&db).await.unwrap();
        let hasher = hasher();
        let admin = admin.map(|key| hasher.hash(key));
        let credentials = Credentials::new(
            hasher,
            admin,
            KeyStore::new(db.clone()),
            Outbox::new(OUTBOX_TABLE),
        );
        (credentials, db, dir)
    }

    /// Credentials whose database is unusable: any lookup fails loudly.
    fn credentials_without_database(admin: Option<&PlaintextApiKey>) -> Credentials {
        let hasher = hasher();
        let admin = admin.map(|key| hasher.hash(key));
        Credentials::new(
            hasher,
            admin,
            KeyStore::new(DatabaseConnection::default()),
            Outbox::new(OUTBOX_TABLE),
        )
    }

    #[tokio::test]
    async fn malformed_keys_are_refused_without_a_lookup() {
        // The database is disconnected: a lookup would answer Internal.
        let credentials = credentials_without_database(None);
        let live = PlaintextApiKey::generate(KeyKind::Live);
        let mistyped = format!("{}x", &live.expose()[..live.expose().len() - 1]);
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
        assert_eq!(verified, Verified::PlatformAdmin);
    }

    #[tokio::test]
    async fn other_admin_keys_are_invalid() {
        let admin = PlaintextApiKey::generate(KeyKind::Admin);
        let other = PlaintextApiKey::generate(KeyKind::Admin);
        let configured = credentials_without_database(Some(&admin));
        assert!(matches!(
            configured.verify(other.expose()).await.unwrap_err(),
            Error::InvalidKey
        ));
        // With no bootstrap key configured, no admin key verifies at all.
        let unconfigured = credentials_without_database(None);
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
            let issued = credentials
                .issue(
                    &admin_principal(),
                    tenant.clone(),
                    KeyName::parse("website").unwrap(),
                    environment,
                )
                .await
                .unwrap();
            assert_eq!(issued.key.kind(), environment.key_kind());
            let verified = credentials.verify(issued.key.expose()).await.unwrap();
            assert_eq!(
                verified,
                Verified::Tenant(ActiveKey {
                    id: issued.id,
                    tenant_id: tenant.clone(),
                    scopes: vec!["read".to_owned(), "write".to_owned()],
                })
            );
        }
    }

    #[tokio::test]
    async fn unknown_and_revoked_keys_are_invalid_alike() {
        let (credentials, db, _dir) = credentials_on_sqlite(None).await;
        let unknown = PlaintextApiKey::generate(KeyKind::Live);
        assert!(matches!(
            credentials.verify(unknown.expose()).await.unwrap_err(),
            Error::InvalidKey
        ));

        let issued = credentials
            .issue(
                &admin_principal(),
                TenantId::generate(),
                KeyName::parse("").unwrap(),
                Environment::Live,
            )
            .await
            .unwrap();
        db.execute_unprepared("UPDATE auth_api_key SET revoked_at = CURRENT_TIMESTAMP")
            .await
            .unwrap();
        assert!(matches!(
            credentials.verify(issued.key.expose()).await.unwrap_err(),
            Error::InvalidKey
        ));
    }

    #[tokio::test]
    async fn a_key_hashed_under_another_secret_is_invalid() {
        let (credentials, _db, _dir) = credentials_on_sqlite(None).await;
        let issued = credentials
            .issue(
                &admin_principal(),
                TenantId::generate(),
                KeyName::parse("x").unwrap(),
                Environment::Live,
            )
            .await
            .unwrap();
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
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(KeyName::parse("  zapier ").unwrap().as_str(), "zapier");
        assert_eq!(KeyName::parse("   ").unwrap().as_str(), "default");
        assert_eq!(KeyName::parse("").unwrap().as_str(), "default");
        assert!(KeyName::parse(&"é".repeat(100)).is_ok());
        assert!(KeyName::parse(&"é".repeat(101)).is_err());
        assert!(KeyName::parse("web\nsite").is_err());
        assert!(KeyName::parse("web\u{1b}[31m").is_err());
    }

    #[test]
    fn environments_parse() {
        assert_eq!(Environment::parse("").unwrap(), Environment::Live);
        assert_eq!(Environment::parse("live").unwrap(), Environment::Live);
        assert_eq!(Environment::parse("test").unwrap(), Environment::Test);
        for bad in ["LIVE", "prod", " test"] {
            assert!(Environment::parse(bad).is_err(), "{bad:?}");
        }
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
