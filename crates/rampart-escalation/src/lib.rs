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
//! - [`error`]: the failures callers can act on, and their gRPC status.
//!
//! This first version keeps no state: no database, no per-tenant policy yet.
//! [`run`] serves gRPC over mutual TLS, answering only the gateway, until
//! its shutdown token is cancelled.

pub mod context;
pub mod detector;
pub mod error;
pub mod eval;
pub mod grpc;
pub mod intents;
pub mod language;
pub mod message;
pub mod model;
pub mod normalise;
pub mod patterns;
pub mod policy;
mod rules;

use rampart_kit::CancellationToken;
use rampart_kit::grpc::{AllowPeers, health_for, serve, server};
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_proto::escalation::v1::escalation_service_server::EscalationServiceServer;
use tokio::net::TcpListener;

pub use detector::Detector;
pub use error::Error;

use crate::grpc::EscalationApi;

/// The only services that may call escalation.
const ALLOWED_PEERS: &[ServiceName] = &[ServiceName::Gateway];

/// Runs the escalation service on `listener` until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    tls: ServiceTls,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let router = server(&tls)?
        .add_service(health_for::<EscalationServiceServer<EscalationApi>>().await)
        .add_service(EscalationServiceServer::with_interceptor(
            EscalationApi,
            AllowPeers(ALLOWED_PEERS),
        ));
    tracing::info!(address = %listener.local_addr()?, "escalation listening");
    let served = serve(router, listener, shutdown).await;
    tracing::info!("escalation stopped");
    served
}
