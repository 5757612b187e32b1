//! Rampart's auth service: answers "who holds this API key, and for which
//! tenant", manages API keys through their whole life (issue, list, rotate
//! with a grace period, revoke, expiry, usage), and keeps people's accounts:
//! users and roles, passwords, the TOTP second factor, sessions and login
//! throttling.
//!
//! - [`Config`], [`migrate`] and [`run`]: the entry points.
//! - `accounts`: users, signing in, the second factor, sessions and their
//!   revocation (`AccountService`), built from `passwords` (NIST policy,
//!   Argon2id on a bounded pool), `totp` (RFC 6238, sealed secrets,
//!   recovery codes), `tokens` (opaque session and challenge tokens and
//!   their keyed hashes) and `throttle` (atomic attempt reservation).
//! - `keys`: verification and the key lifecycle (`rules`), the
//!   `auth_api_key` table (`store`) and the `AuthService` (`grpc`).
//! - `incidents`: containing a tenant, user or key in one step and
//!   restoring it (`auth_incident`).
//! - `checklist_reports`: the monthly checklist's reports, stored with
//!   one `checklist.completed` audit event (`auth_checklist_report`).
//! - `access`: each tenant's access state (suspended by billing or not),
//!   answered with every verdict (`auth_tenant_access`).
//! - `domain`: the parsed inputs (key owners, names, environments and
//!   scopes; emails, account scopes and roles).
//! - `error`: the service's failures and their gRPC statuses.
//! - `migration` and `entity`: the schema.
//!
//! Keys are stored only as HMAC-SHA256 hashes under `key_hash_secret`
//! (in staging and production, a secret derived from it for the
//! environment, see `rampart_kit::environment`); the
//! bootstrap admin key is never stored at all, only its hash is kept in
//! memory. Issuing a key writes its audit event to the `auth_audit_outbox`
//! in the same transaction, and a relay delivers it to the audit service.

mod access;
mod accounts;
mod checklist_reports;
mod domain;
mod entity;
mod error;
mod incidents;
mod keys;
mod migration;
mod passwords;
mod throttle;
mod tokens;
mod totp;

pub use accounts::{AccountSettings, NewClientPolicy};
pub use passwords::{ARGON2_ITERATIONS, ARGON2_LANES, ARGON2_MEMORY_KIB};
pub use throttle::ThrottlePolicy;

use std::sync::Arc;

use anyhow::Context;
use rampart_kit::CancellationToken;
use rampart_kit::api_key::KeyHasher;
use rampart_kit::grpc::{AllowPeers, health_for, serve, server};
use rampart_kit::local::LocalServices;
use rampart_kit::outbox::Outbox;
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_kit::revocation::RevocationBus;
use rampart_kit::secret::{ExposeSecret, Password, SecretString};
use rampart_proto::auth::v1::account_service_server::AccountServiceServer;
use rampart_proto::auth::v1::auth_service_server::AuthServiceServer;
use rampart_proto::auth::v1::{account_service_handle, auth_service_handle};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

use crate::access::TenantAccess;
use crate::accounts::{Accounts, AccountsGrpc};
use crate::keys::{AuthGrpc, Credentials, KeyStore};
use crate::migration::{Migrator, OUTBOX_TABLE};

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
    /// The AES-256-GCM key TOTP secrets are sealed under: 32 bytes in hex.
    pub totp_encryption_key: SecretString,
    /// Sessions, admin domains, the new-client policy, hashing concurrency.
    pub accounts: AccountSettings,
}

/// Applies the auth service's migrations.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("cannot apply the auth service's migrations")
}

/// The auth migrations this binary knows that `db` has not applied, in
/// order; an error naming any migration `db` has applied that this binary
/// does not know (`rampart incident verify`).
pub async fn pending_migrations(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    Ok(Migrator::get_pending_migrations(db)
        .await
        .context("reading the auth migrations")?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect())
}

/// A platform admin created by the operator, with the TOTP secret to add
/// to an authenticator app (shown once; the first code at sign-in
/// confirms it).
#[derive(Debug)]
pub struct CreatedAdmin {
    pub user_id: String,
    pub email: String,
    pub totp_secret: SecretString,
    pub provisioning_uri: SecretString,
}

/// Creates a platform admin directly in the database: how an operator makes
/// the first one (`rampart admin create-user`). The email must be in
/// `settings.admin_email_domains`; the password follows the policy.
pub async fn create_platform_admin(
    database_url: &str,
    key_hash_secret: &SecretString,
    totp_encryption_key: &SecretString,
    settings: AccountSettings,
    email: &str,
    password: &SecretString,
) -> anyhow::Result<CreatedAdmin> {
    let sealer =
        totp::SecretSealer::from_hex(totp_encryption_key).context("invalid TOTP encryption key")?;
    let key_hash_secret = settings.environment.bind_key_hash_secret(key_hash_secret);
    let db = rampart_kit::db::connect(database_url).await?;
    migrate(&db).await?;
    let accounts = Accounts::new(
        db.clone(),
        key_hash_secret.expose_secret().as_bytes(),
        sealer,
        // No gateway caches this new account yet.
        Outbox::new(OUTBOX_TABLE).announcing_on(RevocationBus::in_process()),
        settings,
    );
    let created = accounts
        .create_platform_admin(email, &Password::new(password.expose_secret()))
        .await;
    drop(accounts);
    rampart_kit::db::close(db).await;
    let (user, secret) = created.map_err(|error| match error {
        error::Error::Internal(error) => error,
        other => anyhow::anyhow!("{other}"),
    })?;
    Ok(CreatedAdmin {
        user_id: user.id.into_string(),
        provisioning_uri: SecretString::from(secret.provisioning_uri("Rampart", &user.email)),
        email: user.email,
        totp_secret: SecretString::from(secret.base32()),
    })
}

/// The RFC 6238 code of a base32 TOTP secret at a Unix time; what an
/// authenticator app shows. For clients and tests that act as one.
#[must_use]
pub fn totp_code(secret_base32: &str, unix_secs: i64) -> Option<String> {
    let secret = totp::TotpKey::from_bytes(totp::base32_decode(secret_base32)?);
    Some(secret.code_at_step(totp::step_at(unix_secs)))
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
    run_co_located(config, listener, tls, LocalServices::new(), shutdown).await
}

/// [`run`], also registering the service in `local` for callers in this
/// process (see [`rampart_kit::local`]).
pub async fn run_co_located(
    config: Config,
    listener: TcpListener,
    tls: ServiceTls,
    local: LocalServices,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Every credential is hashed under the environment's own secret, so
    // staging's keys and sessions are unknown to production (and back).
    let key_hash_secret = config
        .accounts
        .environment
        .bind_key_hash_secret(&config.key_hash_secret);
    let hasher = KeyHasher::new(key_hash_secret.expose_secret().as_bytes())
        .context("invalid key_hash_secret")?;
    let bootstrap_admin = config
        .admin_api_key
        .as_ref()
        .map(|key| keys::bootstrap_admin_hash(&hasher, key))
        .transpose()?;
    // Dropping the key here is the point: from now on only its hash exists.
    drop(config.admin_api_key);

    let sealer = totp::SecretSealer::from_hex(&config.totp_encryption_key)
        .context("invalid totp_encryption_key")?;
    let db = rampart_kit::db::connect(&config.database_url).await?;
    migrate(&db).await?;

    // One outbox for keys and accounts; it also tells the gateways about
    // revocations once they are committed.
    let outbox = Outbox::new(OUTBOX_TABLE).announcing_on(config.revocations);
    let relay = outbox.spawn_relay(db.clone(), &config.audit_url, &tls, &shutdown)?;

    let accounts = Accounts::new(
        db.clone(),
        key_hash_secret.expose_secret().as_bytes(),
        sealer,
        outbox.clone(),
        config.accounts,
    );
    let access = TenantAccess::new(db.clone(), outbox.clone());
    let outbox_for_incidents = outbox.clone();
    let credentials = Credentials::new(hasher, bootstrap_admin, KeyStore::new(db.clone()), outbox);
    let health = health_for::<AuthServiceServer<AuthGrpc>>().await;
    let keys = Arc::new(
        AuthGrpc::new(credentials, access.clone())
            .with_incidents(incidents::Incidents::new(
                db.clone(),
                outbox_for_incidents.clone(),
            ))
            .with_checklist_reports(checklist_reports::ChecklistReports::new(
                db.clone(),
                outbox_for_incidents,
            )),
    );
    let people = Arc::new(AccountsGrpc::new(accounts, access));
    let allow = AllowPeers(&[ServiceName::Gateway]);
    local
        .register::<dyn auth_service_handle::Dispatch>(ServiceName::Auth, keys.clone(), allow)
        .and(local.register::<dyn account_service_handle::Dispatch>(
            ServiceName::Auth,
            people.clone(),
            allow,
        ))
        .withdraw_on(&shutdown);
    let router = server(&tls)?
        .add_service(health)
        .add_service(InterceptedService::new(
            AuthServiceServer::from_arc(keys),
            allow,
        ))
        .add_service(InterceptedService::new(
            AccountServiceServer::from_arc(people),
            allow,
        ));
    tracing::info!(address = ?listener.local_addr().ok(), "auth service listening");
    let served = serve(router, listener, shutdown).await;
    relay.stop().await;
    rampart_kit::db::close(db).await;
    served
}
