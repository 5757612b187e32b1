//! Rampart's tenant CRM: the businesses on the platform, their customers,
//! and the conversations with those customers, always scoped by tenant.
//!
//! - [`domain`]: parsed request values (names, emails, phones, addresses,
//!   office domains, pages); nothing unchecked goes further.
//! - [`store`]: the storage layer; [`store::CustomerStore`] and
//!   [`store::ConversationStore`] are built for one tenant and filter every
//!   query by it.
//! - [`gate`]: escalation's client, the gate every customer message goes
//!   through before the AI may answer (failing closed to a person), and the
//!   retry that opens the handoff once escalation is back.
//! - [`grpc`]: the `CrmService` handlers: principal, authorisation, parsing,
//!   store call, in that order.
//! - [`error`]: the failures callers can act on, and their gRPC status.
//! - [`migration`] and [`entity`]: the schema (`crm_` tables, history in
//!   `crm_migrations`) and its sea-orm entities.
//!
//! [`run`] is the whole service: it opens the database, migrates it, starts
//! the audit relay and the gate retry, and serves gRPC over mutual TLS,
//! answering only the gateway, until its shutdown token is cancelled.

pub mod domain;
pub mod entity;
pub mod error;
pub mod gate;
pub mod grpc;
pub mod migration;
pub mod store;

use anyhow::Context;
use rampart_kit::CancellationToken;
use rampart_kit::grpc::{AllowPeers, health_for, serve, server};
use rampart_kit::outbox::Outbox;
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_proto::crm::v1::crm_service_server::CrmServiceServer;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;

use crate::gate::{Escalation, GateRetry, spawn_gate_retry};
use crate::grpc::BillingApi;
use crate::grpc::CrmApi;
use rampart_proto::crm::v1::billing_service_server::BillingServiceServer;

pub use error::Error;

/// The table holding audit events not yet delivered to the audit service.
pub const OUTBOX_TABLE: &str = "crm_audit_outbox";

/// The only services that may call the CRM.
const ALLOWED_PEERS: &[ServiceName] = &[ServiceName::Gateway];

/// What the CRM needs besides its listener and certificate.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// The audit service, `https://host:port`.
    pub audit_url: String,
    /// The escalation service, `https://host:port`: the gate every customer
    /// message goes through, and the guardrails on AI replies.
    pub escalation_url: String,
}

/// Hides any password in the database URL.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "database_url",
                &rampart_kit::db::redact_url(&self.database_url),
            )
            .field("audit_url", &self.audit_url)
            .field("escalation_url", &self.escalation_url)
            .finish()
    }
}

/// Applies the CRM's pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None)
        .await
        .context("crm migrations failed")
}

/// Runs the CRM on `listener` until `shutdown` is cancelled.
///
/// The audit and escalation services are connected lazily: the CRM starts,
/// keeps recording events in its outbox while audit is down, and hands
/// conversations to people while escalation is.
pub async fn run(
    config: Config,
    listener: TcpListener,
    tls: ServiceTls,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with(config, listener, tls, shutdown, GateRetry::default()).await
}

/// [`run`], with the gate retry's timing chosen by the caller (tests make
/// it fast, or slow enough to drive it themselves with
/// [`gate::retry_pending_gates`]).
pub async fn run_with(
    config: Config,
    listener: TcpListener,
    tls: ServiceTls,
    shutdown: CancellationToken,
    gate_retry: GateRetry,
) -> anyhow::Result<()> {
    let db = rampart_kit::db::connect(&config.database_url).await?;
    migrate(&db).await?;

    let outbox = Outbox::new(OUTBOX_TABLE);
    let relay = outbox.spawn_relay(db.clone(), &config.audit_url, &tls, &shutdown)?;
    let escalation = Escalation::connect(&config.escalation_url, &tls)?;
    let retry = spawn_gate_retry(
        db.clone(),
        outbox.clone(),
        escalation.clone(),
        gate_retry,
        shutdown.clone(),
    );

    let billing = BillingApi::new(db.clone(), outbox.clone());
    let api = CrmApi::new(db.clone(), outbox, escalation);
    let router = server(&tls)?
        .add_service(health_for::<CrmServiceServer<CrmApi>>().await)
        .add_service(CrmServiceServer::with_interceptor(
            api,
            AllowPeers(ALLOWED_PEERS),
        ))
        .add_service(BillingServiceServer::with_interceptor(
            billing,
            AllowPeers(ALLOWED_PEERS),
        ));
    tracing::info!(address = %listener.local_addr()?, "crm listening");
    let served = serve(router, listener, shutdown).await;

    relay.stop().await;
    if let Err(error) = retry.await {
        tracing::error!(error = %error, "gate retry task failed");
    }
    rampart_kit::db::close(db).await;
    tracing::info!("crm stopped");
    served
}
