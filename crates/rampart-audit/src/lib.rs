//! Rampart's audit service: keeps every security-relevant event in a
//! tamper-evident Merkle log, one per tenant plus one for the platform, and
//! proves it: signed checkpoints, inclusion and consistency proofs, and
//! exports that anyone holding the public key can verify offline.
//!
//! - [`Config`], [`migrate`] and [`run`]: the entry points.
//! - [`merkle`]: RFC 6962 hashing, proofs and their verification (pure).
//! - [`leaf`]: an event as stored and the bytes its leaf hash covers, and
//!   the escaping that keeps callers' text from forging lines.
//! - [`checkpoint`]: Ed25519-signed checkpoints, the signing key and the
//!   public key in the forms it is published.
//! - [`certificate`]: deletion certificates, the signed statements the CRM
//!   hands a customer whose data it erased, and their offline check.
//! - [`export`]: the JSON lines export format and [`export::verify`], the
//!   offline check behind `rampart audit verify`.
//! - [`legacy_chain`]: the walking skeleton's hash chain, kept to check
//!   chain-era events before they are migrated into the Merkle log.
//! - `events`: parsing appended events against their schemas (whole batch
//!   or nothing).
//! - `store`: events, tree nodes, log heads and checkpoints; appends grow
//!   each tree incrementally.
//! - [`failpoints`]: deliberate failures for fault drills, never in
//!   production.
//! - `grpc`: the tonic service. Every service may append; the producing
//!   service is taken from its certificate, never from the request.
//! - `error`, `migration` and `entity`: failures and schema.

#[doc(hidden)]
pub mod bench;
pub mod certificate;
pub mod checkpoint;
mod entity;
mod error;
mod events;
pub mod export;
pub mod failpoints;
mod grpc;
pub mod leaf;
pub mod legacy_chain;
pub mod merkle;
mod migration;
mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rampart_kit::CancellationToken;
use rampart_kit::grpc::{AllowPeers, health_for, serve, server};
use rampart_kit::local::LocalServices;
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_proto::audit::v1::audit_service_handle;
use rampart_proto::audit::v1::audit_service_server::AuditServiceServer;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

pub use crate::checkpoint::SigningKey;
pub use crate::events::PLATFORM_LOG_ID;
use crate::grpc::AuditGrpc;
use crate::migration::Migrator;
use crate::store::EventStore;

/// How often logs that grew are checkpointed, unless configured.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// How the audit service is set up.
#[derive(Debug)]
pub struct Config {
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// The key checkpoints are signed with.
    pub signing_key: SigningKey,
    /// How often every log that grew since its last checkpoint gets a new
    /// one. Checkpoints are also signed on demand (a reader asking for a
    /// fresh one, a proof or an export).
    pub checkpoint_interval: Duration,
}

/// Applies the audit service's migrations.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("cannot apply the audit service's migrations")
}

/// The audit migrations this binary knows that `db` has not applied, in
/// order; an error naming any migration `db` has applied that this binary
/// does not know (`rampart incident verify`).
pub async fn pending_migrations(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    Ok(Migrator::get_pending_migrations(db)
        .await
        .context("reading the audit migrations")?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect())
}

/// Applies only the walking skeleton's schema (the hash-chain era), so that
/// tests and upgrade drills can build a database as that version left it.
#[doc(hidden)]
pub async fn migrate_to_chain_era(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, Some(1))
        .await
        .context("cannot apply the chain-era migration")
}

/// Runs the audit service on `listener` until `shutdown` is cancelled.
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
    let db = rampart_kit::db::connect(&config.database_url).await?;
    migrate(&db).await?;
    let store = EventStore::new(db.clone());
    let key = Arc::new(config.signing_key);
    tracing::info!(key_id = %key.public_key().key_id(), "audit checkpoints signed with this key");
    let signer = tokio::spawn(sign_periodically(
        store.clone(),
        key.clone(),
        config.checkpoint_interval,
        shutdown.clone(),
    ));
    let health = health_for::<AuditServiceServer<AuditGrpc>>().await;
    let api = Arc::new(AuditGrpc::new(store, key));
    // Every service records audit events; what each may read is decided per
    // call from the principal.
    let allow = AllowPeers(&ServiceName::ALL);
    local
        .register::<dyn audit_service_handle::Dispatch>(ServiceName::Audit, api.clone(), allow)
        .withdraw_on(&shutdown);
    let router = server(&tls)?
        .add_service(health)
        .add_service(InterceptedService::new(
            AuditServiceServer::from_arc(api),
            allow,
        ));
    tracing::info!(address = ?listener.local_addr().ok(), "audit service listening");
    let served = serve(router, listener, shutdown.clone()).await;
    shutdown.cancel();
    let _ = signer.await;
    rampart_kit::db::close(db).await;
    served
}

/// Signs a checkpoint of every log that grew, every `interval`.
async fn sign_periodically(
    store: EventStore,
    key: Arc<SigningKey>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let logs = match store.logs_to_checkpoint().await {
            Ok(logs) => logs,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot list logs to checkpoint");
                continue;
            }
        };
        for log_id in logs {
            if shutdown.is_cancelled() {
                return;
            }
            match store.sign_checkpoint(&log_id, &key).await {
                Ok(checkpoint) => {
                    tracing::debug!(log_id, size = checkpoint.size, "audit checkpoint signed");
                }
                Err(error) => {
                    tracing::error!(log_id, error = %format!("{error:#}"), "audit checkpoint not signed");
                }
            }
        }
    }
}

/// Lowercase hex, the form hashes take in APIs and exports.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    rampart_kit::secret::hex(bytes)
}
