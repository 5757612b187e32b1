//! Rampart's escalation policy: decides whether the AI may answer a
//! customer's message or a human must take over.
//!
//! - [`intents`]: the verdict's types (intent, severity, action, findings)
//!   and [`intents::assess`], the built-in decision.
//! - [`detector`]: the decision itself, step by step: [`normalise`],
//!   [`language`], the rule tables (`rules/`, one file per language, in the
//!   pattern language of [`patterns`]), [`context`] (negation and reported
//!   speech) and the trained [`model`], which may only add a handoff.
//! - [`policy`]: what a tenant adds: intents with phrases per language, and
//!   languages of its own.
//! - [`eval`]: precision and recall on the labelled corpus in `corpus/`
//!   (`rampart escalation eval`, and the CI test).
//! - [`message`]: the parsed request, channel and text.
//! - [`grpc`]: the `EscalationService` handler.
//! - [`freeze`]: an incident's freeze of the AI for a tenant, honoured by
//!   the gate and the guardrails (`IncidentFreezeService`).
//! - [`error`]: the failures callers can act on, and their gRPC status.
//!
//! - [`tenant_policy`]: a tenant's policy document (detection additions,
//!   severities, response targets, contacts, chain, guardrails), parsed and
//!   checked; [`policies`] stores its versions and compiles them for
//!   decisions.
//! - [`decisions`]: the gate's decision receipts, one per customer message.
//! - [`scope`]: [`scope::DataScope`], the tenant and data mode (live or a
//!   test key's) that every decision and handoff query is confined to;
//!   policies are per tenant, shared by both modes.
//! - [`guardrails`]: the checks on every AI reply (secrets, card numbers,
//!   other customers' contacts, links, advice, forbidden phrases).
//! - [`entity`]: the policy and decision tables as sea-orm entities.
//! - [`handoffs`]: the handoff queue, its deadlines and the notifications
//!   they send.
//! - [`migration`]: the schema (policies, decisions, handoffs,
//!   notifications, the audit outbox, the data modes).
//!
//! [`run`] serves gRPC over mutual TLS, answering the gateway and the CRM,
//! until its shutdown token is cancelled; beside it run the audit relay, the
//! deadline worker and the notification sender.

pub mod context;
pub mod decisions;
pub mod detector;
pub mod entity;
pub mod error;
pub mod eval;
pub mod freeze;
pub mod grpc;
pub mod guardrails;
pub mod handoffs;
pub mod intents;
pub mod language;
pub mod message;
pub mod migration;
pub mod model;
pub mod normalise;
pub mod patterns;
pub mod policies;
pub mod policy;
mod rules;
pub mod scope;
pub mod tenant_policy;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rampart_kit::CancellationToken;
use rampart_kit::grpc::{AllowPeers, health_for, serve, server};
use rampart_kit::local::LocalServices;
use rampart_kit::outbox::Outbox;
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_proto::escalation::v1::escalation_service_server::EscalationServiceServer;
use rampart_proto::escalation::v1::handoff_service_server::HandoffServiceServer;
use rampart_proto::escalation::v1::incident_freeze_service_server::IncidentFreezeServiceServer;
use rampart_proto::escalation::v1::{
    escalation_service_handle, handoff_service_handle, incident_freeze_service_handle,
};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

pub use detector::Detector;
pub use error::Error;

use crate::grpc::EscalationApi;
use crate::handoffs::HandoffApi;

/// The table holding audit events not yet delivered to the audit service.
pub const OUTBOX_TABLE: &str = "esc_audit_outbox";

/// The only services that may call escalation: the gateway (policies, the
/// queue) and the CRM (the gate and the guardrails).
const ALLOWED_PEERS: &[ServiceName] = &[ServiceName::Gateway, ServiceName::Crm];

/// What escalation needs besides its listener and certificate.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// The audit service, `https://host:port`.
    pub audit_url: String,
    /// How often the deadline worker looks for missed deadlines.
    pub deadline_tick: Duration,
    /// Where e-mail notifications go; none: e-mail contacts are skipped
    /// (and the skip is logged).
    pub smtp: Option<handoffs::notify::SmtpConfig>,
    /// Where handoff webhooks may go: public addresses only outside
    /// development.
    pub webhook_targets: handoffs::WebhookTargets,
}

/// Escalation's settings that come from configuration rather than from
/// where the stack runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub deadline_tick: Duration,
    pub smtp: Option<handoffs::notify::SmtpConfig>,
    /// Public addresses only unless set otherwise; the stack allows any
    /// address in development (`RAMPART_ENV=development`).
    pub webhook_targets: handoffs::WebhookTargets,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            deadline_tick: Duration::from_secs(1),
            smtp: None,
            webhook_targets: handoffs::WebhookTargets::PublicOnly,
        }
    }
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
            .field("deadline_tick", &self.deadline_tick)
            .field("smtp", &self.smtp)
            .field("webhook_targets", &self.webhook_targets)
            .finish()
    }
}

/// Applies escalation's pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None)
        .await
        .context("escalation migrations failed")
}

/// The escalation migrations this binary knows that `db` has not applied, in
/// order; an error naming any migration `db` has applied that this binary
/// does not know (`rampart incident verify`).
pub async fn pending_migrations(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    Ok(migration::Migrator::get_pending_migrations(db)
        .await
        .context("reading the escalation migrations")?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect())
}

/// Runs the escalation service on `listener` until `shutdown` is cancelled.
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

    let outbox = Outbox::new(OUTBOX_TABLE);
    let relay = outbox.spawn_relay(db.clone(), &config.audit_url, &tls, &shutdown)?;
    let workers = handoffs::spawn_workers(&db, &outbox, &config, &shutdown);

    let api = Arc::new(EscalationApi::new(db.clone(), outbox.clone()));
    let freeze = Arc::new(freeze::FreezeApi::new(db.clone(), outbox.clone()));
    let queue = Arc::new(HandoffApi::new(db.clone(), outbox));
    let name = ServiceName::Escalation;
    let allow = AllowPeers(ALLOWED_PEERS);
    local
        .register::<dyn escalation_service_handle::Dispatch>(name, api.clone(), allow)
        .and(local.register::<dyn handoff_service_handle::Dispatch>(name, queue.clone(), allow))
        .and(
            local.register::<dyn incident_freeze_service_handle::Dispatch>(
                name,
                freeze.clone(),
                allow,
            ),
        )
        .withdraw_on(&shutdown);
    let router = server(&tls)?
        .add_service(health_for::<EscalationServiceServer<EscalationApi>>().await)
        .add_service(InterceptedService::new(
            EscalationServiceServer::from_arc(api),
            allow,
        ))
        .add_service(InterceptedService::new(
            HandoffServiceServer::from_arc(queue),
            allow,
        ))
        .add_service(InterceptedService::new(
            IncidentFreezeServiceServer::from_arc(freeze),
            allow,
        ));
    tracing::info!(address = %listener.local_addr()?, "escalation listening");
    let served = serve(router, listener, shutdown).await;

    workers.stop().await;
    relay.stop().await;
    rampart_kit::db::close(db).await;
    tracing::info!("escalation stopped");
    served
}
