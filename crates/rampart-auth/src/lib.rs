//! Rampart's auth service: answers "who holds this API key, and for which
//! tenant", and manages API keys through their whole life (issue, list,
//! rotate with a grace period, revoke, expiry, usage).
//!
//! - [`Config`], [`migrate`] and [`run`]: the entry points.
//! - `keys`: verification and the key lifecycle, and the parsed inputs they
//!   take (key names, environments, scopes, networks).
//! - `store`: the `auth_api_key` table, keyed by the keys' HMAC hashes, and
//!   the tenants' own request rates.
//! - `grpc`: the tonic service; the gateway is its only allowed caller.
//! - `error`: the service's failures and their gRPC statuses.
//! - `migration` and `entity`: the schema.
//!
//! Keys are stored only as HMAC-SHA256 hashes under `key_hash_secret`; the
//! bootstrap admin key is never stored at all, only its hash is kept in
//! memory. Issuing a key writes its audit event to the `auth_audit_outbox`
//! in the same transaction, and a relay delivers it to the audit service.

mod entity;
mod error;
mod grpc;
mod keys;
mod migration;
mod store;

use anyhow::Context;
use rampart_kit::CancellationToken;
use rampart_kit::api_key::KeyHasher;
use rampart_kit::grpc::{AllowPeers, health_for, serve, server};
use rampart_kit::outbox::Outbox;
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_kit::revocation::RevocationBus;
use rampart_kit::secret::{ExposeSecret, SecretString};
use rampart_proto::auth::v1::auth_service_server::AuthServiceServer;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;

use crate::grpc::AuthGrpc;
use crate::keys::Credentials;
use crate::migration::{Migrator, OUTBOX_TABLE};
use crate::store::KeyStore;

/// How the auth service is set up.
#[derive(Debug)]
pub struct Config {
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Where the audit service listens (`https://host:port`).
    pub audit_url: String,
    /// The HMAC secret keys are hashed under; at least 32 bytes. Changing it
    /// invalidates every issued key.
    pub key_hash_secret: SecretString,
    /// The platform admin key that works before any admin account exists.
    pub admin_api_key: Option<SecretString>,
    /// Where revocations are announced to the gateways.
    pub revocations: RevocationBus,
}

/// Applies the auth service's migrations.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("cannot apply the auth service's migrations")
}

/// Runs the auth service on `listener` until `shutdown` is cancelled.
///
/// The configuration is checked before anything is opened, so a bad secret
/// stops the service at start rather than at the first request.
pub async fn run(
    config: Config,
    listener: TcpListener,
    tls: ServiceTls,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let hasher = KeyHasher::new(config.key_hash_secret.expose_secret().as_bytes())
        .context("invalid key_hash_secret")?;
    let bootstrap_admin = config
        .admin_api_key
        .as_ref()
        .map(|key| keys::bootstrap_admin_hash(&hasher, key))
        .transpose()?;
    // Dropping the key here is the point: from now on only its hash exists.
    drop(config.admin_api_key);

    let db = rampart_kit::db::connect(&config.database_url).await?;
    migrate(&db).await?;

    let outbox = Outbox::new(OUTBOX_TABLE);
    let relay = outbox.spawn_relay(db.clone(), &config.audit_url, &tls, &shutdown)?;

    let credentials = Credentials::new(
        hasher,
        bootstrap_admin,
        KeyStore::new(db),
        outbox,
        config.revocations,
    );
    let health = health_for::<AuthServiceServer<AuthGrpc>>().await;
    let router =
        server(&tls)?
            .add_service(health)
            .add_service(AuthServiceServer::with_interceptor(
                AuthGrpc::new(credentials),
                AllowPeers(&[ServiceName::Gateway]),
            ));
    tracing::info!(address = ?listener.local_addr().ok(), "auth service listening");
    let served = serve(router, listener, shutdown).await;
    relay.stop().await;
    served
}
