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
//! - [`retention_job`]: the scheduled deletion of what tenants' retention
//!   periods say has expired.
//! - [`grpc`]: the `CrmService` handlers: principal, authorisation, parsing,
//!   store call, in that order.
//! - [`certify`]: deletion certificates, signed by the audit service for
//!   each erasure.
//! - [`vault`]: envelope encryption of personal data (master key, tenant
//!   keys, data keys) and the blind indexes exact lookups use.
//! - [`error`]: the failures callers can act on, and their gRPC status.
//! - [`migration`] and [`entity`]: the schema (`crm_` tables, history in
//!   `crm_migrations`) and its sea-orm entities.
//!
//! [`run`] is the whole service: it opens the database, migrates it, starts
//! the audit relay, the gate retry, the retention job and the SMS sender, and serves gRPC over mutual TLS,
//! answering only the gateway, until its shutdown token is cancelled.

pub mod calendar;
pub mod certify;
pub mod domain;
pub mod entity;
pub mod error;
pub mod gate;
pub mod grpc;
pub mod migration;
pub mod retention_job;
pub mod sms;
pub mod store;
pub mod telephony;
pub mod vault;

use std::sync::Arc;

use anyhow::Context;
use rampart_kit::CancellationToken;
use rampart_kit::grpc::{AllowPeers, health_for, serve, server};
use rampart_kit::local::LocalServices;
use rampart_kit::outbox::Outbox;
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_proto::crm::v1::billing_service_server::BillingServiceServer;
use rampart_proto::crm::v1::calendar_service_server::CalendarServiceServer;
use rampart_proto::crm::v1::crm_service_server::CrmServiceServer;
use rampart_proto::crm::v1::owner_service_server::OwnerServiceServer;
use rampart_proto::crm::v1::schedule_service_server::ScheduleServiceServer;
use rampart_proto::crm::v1::telephony_service_server::TelephonyServiceServer;
use rampart_proto::crm::v1::{
    billing_service_handle, calendar_service_handle, crm_service_handle, owner_service_handle,
    schedule_service_handle, telephony_service_handle,
};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

use crate::certify::Certifier;
use crate::gate::{Escalation, GateRetry, spawn_gate_retry};
use crate::grpc::{BillingApi, CrmApi};
use crate::retention_job::{RetentionSchedule, spawn_retention};
use crate::vault::{MasterKey, Vault};

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
    /// The master key that wraps every tenant's key (see [`vault`]): keys
    /// from configuration ([`vault::LocalMasterKeys`]) or a cloud KMS.
    pub master_key: Arc<dyn MasterKey>,
    /// The outside providers the CRM talks to (SMS, calendars).
    pub integrations: Integrations,
}

/// Where the CRM reaches the providers it integrates with. Every endpoint
/// is configuration, so tests and `rampart dev` point them at local
/// servers.
#[derive(Debug, Clone, Default)]
pub struct Integrations {
    pub sms: sms::SmsSettings,
    pub calendar: calendar::CalendarSettings,
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
            .field("master_key", &self.master_key)
            .field("integrations", &self.integrations)
            .finish()
    }
}

/// Applies the CRM's pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None)
        .await
        .context("crm migrations failed")
}

/// The crm migrations this binary knows that `db` has not applied, in
/// order; an error naming any migration `db` has applied that this binary
/// does not know (`rampart incident verify`).
pub async fn pending_migrations(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    Ok(migration::Migrator::get_pending_migrations(db)
        .await
        .context("reading the crm migrations")?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect())
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
    run_with_schedules(
        config,
        listener,
        tls,
        shutdown,
        gate_retry,
        RetentionSchedule::default(),
    )
    .await
}

/// [`run_with`], with the retention job's schedule chosen by the caller
/// too (tests run it often, or never and call
/// [`retention_job::run_retention`] themselves).
pub async fn run_with_schedules(
    config: Config,
    listener: TcpListener,
    tls: ServiceTls,
    shutdown: CancellationToken,
    gate_retry: GateRetry,
    retention: RetentionSchedule,
) -> anyhow::Result<()> {
    let vault = Vault::new(config.master_key.clone());
    let local = LocalServices::new();
    serve_with_vault(
        config, listener, tls, shutdown, gate_retry, retention, vault, &local,
    )
    .await
}

/// [`run`], also registering the CRM in `local` for callers in this
/// process (see [`rampart_kit::local`]).
pub async fn run_co_located(
    config: Config,
    listener: TcpListener,
    tls: ServiceTls,
    local: LocalServices,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let vault = Vault::new(config.master_key.clone());
    serve_with_vault(
        config,
        listener,
        tls,
        shutdown,
        GateRetry::default(),
        RetentionSchedule::default(),
        vault,
        &local,
    )
    .await
}

/// [`run_with`], sealing personal data with `vault` instead of one built
/// from the configured master key. For benchmarks, which compare a real
/// vault with [`Vault::unencrypted_baseline`] on the same routes; no
/// configuration reaches it.
#[doc(hidden)]
#[expect(
    clippy::too_many_arguments,
    reason = "the one entry every run_* variant ends in; each argument is a separate choice"
)]
pub async fn serve_with_vault(
    config: Config,
    listener: TcpListener,
    tls: ServiceTls,
    shutdown: CancellationToken,
    gate_retry: GateRetry,
    retention: RetentionSchedule,
    vault: Vault,
    local: &LocalServices,
) -> anyhow::Result<()> {
    let db = rampart_kit::db::connect(&config.database_url).await?;
    migrate(&db).await?;
    // Migrations have no master key: rows written before the vault are
    // sealed here, before anything is served.
    let converted = store::seal_legacy_rows(&db, &vault)
        .await
        .map_err(|error| anyhow::anyhow!("sealing legacy rows failed: {error}"))?;
    if converted != store::LegacyConversion::default() {
        tracing::info!(
            customers = converted.customers,
            conversations = converted.conversations,
            messages = converted.messages,
            "legacy plaintext rows sealed"
        );
    }

    let outbox = Outbox::new(OUTBOX_TABLE);
    let relay = outbox.spawn_relay(db.clone(), &config.audit_url, &tls, &shutdown)?;
    let escalation = Escalation::connect(&config.escalation_url, &tls)?;
    let retry = spawn_gate_retry(
        db.clone(),
        outbox.clone(),
        vault.clone(),
        escalation.clone(),
        gate_retry,
        shutdown.clone(),
    );
    let retention = spawn_retention(
        db.clone(),
        outbox.clone(),
        vault.clone(),
        retention,
        shutdown.clone(),
    );

    let sms_sender = sms::spawn_sender(
        db.clone(),
        outbox.clone(),
        vault.clone(),
        config.integrations.sms.clone(),
        shutdown.clone(),
    )?;
    let calendar_sync = calendar::spawn_sync(
        db.clone(),
        outbox.clone(),
        vault.clone(),
        calendar::oauth::OAuth::new(config.integrations.calendar.clone()),
        calendar::SyncSchedule::default(),
        shutdown.clone(),
    );
    let calendar_api = calendar::CalendarApi::new(
        db.clone(),
        outbox.clone(),
        vault.clone(),
        config.integrations.calendar.clone(),
    );

    let billing = BillingApi::new(db.clone(), outbox.clone());
    let certifier = Certifier::connect(&config.audit_url, &tls)?;
    let telephony = telephony::TelephonyApi::new(
        db.clone(),
        outbox.clone(),
        vault.clone(),
        escalation.clone(),
    );
    let api = Arc::new(CrmApi::new(
        db.clone(),
        outbox,
        vault,
        escalation,
        certifier,
    ));
    let billing = Arc::new(billing);
    let telephony = Arc::new(telephony);
    let calendar_api = Arc::new(calendar_api);
    let (name, allow) = (ServiceName::Crm, AllowPeers(ALLOWED_PEERS));
    local
        .register::<dyn crm_service_handle::Dispatch>(name, api.clone(), allow)
        .and(local.register::<dyn schedule_service_handle::Dispatch>(name, api.clone(), allow))
        .and(local.register::<dyn owner_service_handle::Dispatch>(name, api.clone(), allow))
        .and(local.register::<dyn billing_service_handle::Dispatch>(name, billing.clone(), allow))
        .and(local.register::<dyn telephony_service_handle::Dispatch>(
            name,
            telephony.clone(),
            allow,
        ))
        .and(local.register::<dyn calendar_service_handle::Dispatch>(
            name,
            calendar_api.clone(),
            allow,
        ))
        .withdraw_on(&shutdown);
    let router = server(&tls)?
        .add_service(health_for::<CrmServiceServer<CrmApi>>().await)
        .add_service(InterceptedService::new(
            CrmServiceServer::from_arc(api.clone()),
            allow,
        ))
        .add_service(InterceptedService::new(
            ScheduleServiceServer::from_arc(api.clone()),
            allow,
        ))
        .add_service(InterceptedService::new(
            OwnerServiceServer::from_arc(api),
            allow,
        ))
        .add_service(InterceptedService::new(
            BillingServiceServer::from_arc(billing),
            allow,
        ))
        .add_service(InterceptedService::new(
            TelephonyServiceServer::from_arc(telephony),
            allow,
        ))
        .add_service(InterceptedService::new(
            CalendarServiceServer::from_arc(calendar_api),
            allow,
        ));
    tracing::info!(address = %listener.local_addr()?, "crm listening");
    let served = serve(router, listener, shutdown).await;

    relay.stop().await;
    if let Err(error) = retry.await {
        tracing::error!(error = %error, "gate retry task failed");
    }
    if let Err(error) = retention.await {
        tracing::error!(error = %error, "retention task failed");
    }
    if let Err(error) = sms_sender.await {
        tracing::error!(error = %error, "sms sender task failed");
    }
    if let Err(error) = calendar_sync.await {
        tracing::error!(error = %error, "calendar sync task failed");
    }
    rampart_kit::db::close(db).await;
    tracing::info!("crm stopped");
    served
}
