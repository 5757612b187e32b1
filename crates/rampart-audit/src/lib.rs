//! Rampart's audit service: keeps every security-relevant event in a
//! tamper-evident log, one per tenant plus one for the platform.
//!
//! - [`Config`], [`migrate`] and [`run`]: the entry points.
//! - [`chain`]: the SHA-256 hash chain over each log and [`chain::verify_chain`],
//!   pure so that the same code checks a database and an export. A Merkle
//!   log with signed checkpoints replaces it in a later version.
//! - [`read_log`]: a whole log as stored, for verification.
//! - `events`: parsing appended events (whole batch or nothing).
//! - `store`: the `audit_event` table; appends are serialised so each log's
//!   sequence and chain stay consistent.
//! - `grpc`: the tonic service. Every service may append; the producing
//!   service is taken from its certificate, never from the request.
//! - `error`, `migration` and `entity`: failures and schema.

pub mod chain;
mod entity;
mod error;
mod events;
mod grpc;
mod migration;
mod store;

use anyhow::Context;
use rampart_kit::CancellationToken;
use rampart_kit::grpc::{AllowPeers, health_for, serve, server};
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_proto::audit::v1::audit_service_server::AuditServiceServer;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;

pub use crate::events::PLATFORM_LOG_ID;
use crate::grpc::AuditGrpc;
use crate::migration::Migrator;
use crate::store::EventStore;

/// How the audit service is set up.
#[derive(Debug)]
pub struct Config {
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
}

/// Applies the audit service's migrations.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("cannot apply the audit service's migrations")
}

/// Every stored entry of one log (a tenant id, or [`PLATFORM_LOG_ID`]), in
/// order, ready for [`chain::verify_chain`].
pub async fn read_log(
    db: &DatabaseConnection,
    log_id: &str,
) -> anyhow::Result<Vec<chain::ChainEntry>> {
    store::read_entries(db, log_id, 0, None)
        .await
        .map_err(|error| match error {
            error::Error::Internal(error) => error,
            other => anyhow::Error::new(other),
        })
        .with_context(|| format!("cannot read audit log {log_id}"))
}

/// Runs the audit service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    tls: ServiceTls,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let db = rampart_kit::db::connect(&config.database_url).await?;
    migrate(&db).await?;
    let health = health_for::<AuditServiceServer<AuditGrpc>>().await;
    let router =
        server(&tls)?
            .add_service(health)
            .add_service(AuditServiceServer::with_interceptor(
                AuditGrpc::new(EventStore::new(db)),
                // Every service records audit events; what each may read is
                // decided per call from the principal.
                AllowPeers(&ServiceName::ALL),
            ));
    tracing::info!(address = ?listener.local_addr().ok(), "audit service listening");
    serve(router, listener, shutdown).await
}
