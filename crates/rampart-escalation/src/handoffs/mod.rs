//! The handoff queue: open, list, claim, resolve and hand back; the
//! deadline worker that escalates missed due times; the notifications it
//! sends to contacts.
//!
//! SKELETON: the signatures below are the contract the gate
//! ([`crate::grpc`]) calls; the handoffs work fills them in.

pub mod notify;

use rampart_kit::CancellationToken;
use rampart_kit::ids::{ConversationId, MessageId, TenantId};
use rampart_kit::outbox::{Change, Outbox};
use rampart_kit::principal::Principal;
use rampart_proto::escalation::v1 as proto;
use rampart_proto::escalation::v1::handoff_service_server::HandoffService;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use tonic::{Request, Response, Status};

use crate::Config;
use crate::intents::Severity;
use crate::tenant_policy::TenantPolicy;

/// Why a handoff is being opened.
#[derive(Debug, Clone)]
pub struct OpenRequest<'a> {
    pub tenant_id: &'a TenantId,
    pub conversation_id: &'a ConversationId,
    /// The message (or, for a blocked AI reply, the reply) that opened it.
    pub message_id: &'a MessageId,
    pub severity: Severity,
    pub intents: Vec<String>,
    pub reasons: Vec<String>,
    /// The policy in force, and its version; the handoff keeps them.
    pub policy: &'a TenantPolicy,
    pub policy_version: u32,
    /// Who or what caused it (the CRM's call carries the customer's or the
    /// integration's principal).
    pub principal: &'a Principal,
}

/// Opens the conversation's handoff inside `change`, or joins the one
/// already open (raising its severity and adding intents when the new
/// request is more severe; never lowering them). Writes `handoff.opened`
/// and level 1's notifications in the same transaction.
pub async fn open_or_join(
    change: &mut Change<'_>,
    request: OpenRequest<'_>,
) -> Result<proto::Handoff, DbErr> {
    let _ = (change, request);
    Err(DbErr::Custom("handoffs are not built yet".to_owned()))
}

/// The conversation's open or claimed handoff, if any.
pub async fn active_for(
    db: &impl ConnectionTrait,
    tenant_id: &TenantId,
    conversation_id: &ConversationId,
) -> Result<Option<proto::Handoff>, DbErr> {
    let _ = (db, tenant_id, conversation_id);
    Ok(None)
}

/// The HandoffService implementation.
#[derive(Debug, Clone)]
pub struct HandoffApi {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl HandoffApi {
    #[must_use]
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }
}

#[tonic::async_trait]
impl HandoffService for HandoffApi {
    async fn list_handoffs(
        &self,
        _request: Request<proto::ListHandoffsRequest>,
    ) -> Result<Response<proto::ListHandoffsResponse>, Status> {
        let _ = (&self.db, &self.outbox);
        Err(Status::unimplemented("handoffs"))
    }

    async fn get_handoff(
        &self,
        _request: Request<proto::HandoffRequest>,
    ) -> Result<Response<proto::Handoff>, Status> {
        Err(Status::unimplemented("handoffs"))
    }

    async fn claim_handoff(
        &self,
        _request: Request<proto::HandoffRequest>,
    ) -> Result<Response<proto::Handoff>, Status> {
        Err(Status::unimplemented("handoffs"))
    }

    async fn resolve_handoff(
        &self,
        _request: Request<proto::HandoffRequest>,
    ) -> Result<Response<proto::Handoff>, Status> {
        Err(Status::unimplemented("handoffs"))
    }

    async fn hand_back(
        &self,
        _request: Request<proto::HandoffRequest>,
    ) -> Result<Response<proto::Handoff>, Status> {
        Err(Status::unimplemented("handoffs"))
    }
}

/// The deadline worker and the notification sender, running.
#[derive(Debug)]
pub struct Workers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Waits for the workers to finish (they stop on the shutdown token).
    pub async fn stop(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the deadline worker and the notification sender.
#[must_use]
pub fn spawn_workers(
    db: &DatabaseConnection,
    outbox: &Outbox,
    config: &Config,
    shutdown: &CancellationToken,
) -> Workers {
    let _ = (db, outbox, config, shutdown);
    Workers { tasks: Vec::new() }
}
