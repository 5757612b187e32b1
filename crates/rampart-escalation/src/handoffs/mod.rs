//! The handoff queue: open, list, claim, resolve and hand back; the
//! deadline worker that escalates missed due times; the notifications it
//! sends to contacts.
//!
//! - [`open_or_join`] and [`active_for`]: what the gate and the reply
//!   review call, inside their own change.
//! - `store`: the only code that reads or writes `esc_handoff`, scoped by
//!   tenant and data mode ([`DataScope`]), every state change a conditional
//!   UPDATE. A test key's conversations open test-mode handoffs: only test
//!   credentials see them, and they notify nobody.
//! - `listing`: one page of the queue, its filters and cursor.
//! - `steps`: claim, resolve and hand back, and who may take them.
//! - `queue`: the [`HandoffApi`] gRPC handlers.
//! - [`deadlines`]: [`deadlines::fire_due_deadlines`], one chain step per
//!   missed deadline, exactly once across instances.
//! - [`notify`]: the `esc_notification` outbox, the signed webhook and the
//!   e-mail, [`notify::deliver_due_notifications`].
//! - `entity`: the tables' sea-orm models.
//!
//! [`spawn_workers`] runs the deadline worker and the notification sender
//! beside the server.

pub mod deadlines;
mod entity;
mod listing;
pub mod notify;
mod queue;
mod steps;
mod store;

use std::time::Duration;

use rampart_kit::CancellationToken;
use rampart_kit::ids::{ConversationId, MessageId};
use rampart_kit::outbox::{Change, Outbox};
use rampart_kit::principal::Principal;
use rampart_proto::escalation::v1 as proto;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

pub use deadlines::fire_due_deadlines;
pub use notify::{WebhookTargets, deliver_due_notifications, verify_signature};
pub use queue::{HandoffApi, QueueError};

use crate::Config;
use crate::intents::Severity;
use crate::scope::DataScope;
use crate::tenant_policy::TenantPolicy;

/// Why a handoff is being opened.
#[derive(Debug, Clone)]
pub struct OpenRequest<'a> {
    /// The tenant and data mode of the caller's principal: the handoff
    /// lives there.
    pub scope: &'a DataScope,
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
///
/// Two instances opening at once: the unique index on the open key lets
/// one insert, and the other joins the winner's handoff.
pub async fn open_or_join(
    change: &mut Change<'_>,
    request: OpenRequest<'_>,
) -> Result<proto::Handoff, DbErr> {
    store::open_or_join(change, &request)
        .await
        .map(store::to_proto)
}

/// The conversation's open or claimed handoff in `scope`, if any.
pub async fn active_for(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    conversation_id: &ConversationId,
) -> Result<Option<proto::Handoff>, DbErr> {
    Ok(store::find_active(db, scope, conversation_id)
        .await?
        .map(store::to_proto))
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

/// Starts the deadline worker and the notification sender, each passing
/// every `config.deadline_tick` until `shutdown`. A failed pass is logged
/// and tried again at the next tick.
#[must_use]
pub fn spawn_workers(
    db: &DatabaseConnection,
    outbox: &Outbox,
    config: &Config,
    shutdown: &CancellationToken,
) -> Workers {
    let tick = config.deadline_tick.max(Duration::from_millis(10));
    let deadlines = {
        let (db, outbox, shutdown) = (db.clone(), outbox.clone(), shutdown.clone());
        tokio::spawn(async move {
            while wait(tick, &shutdown).await {
                if let Err(error) = fire_due_deadlines(&db, &outbox, store::now()).await {
                    tracing::error!(error = %error, "deadline pass failed");
                }
            }
        })
    };
    let sender = {
        let (db, outbox, shutdown) = (db.clone(), outbox.clone(), shutdown.clone());
        let smtp = config.smtp.clone();
        let targets = config.webhook_targets;
        tokio::spawn(async move {
            while wait(tick, &shutdown).await {
                let pass =
                    deliver_due_notifications(&db, &outbox, smtp.as_ref(), targets, store::now());
                // A slow receiver must not hold shutdown beyond its timeout.
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    result = pass => {
                        if let Err(error) = result {
                            tracing::error!(error = %error, "notification pass failed");
                        }
                    }
                }
            }
        })
    };
    Workers {
        tasks: vec![deadlines, sender],
    }
}

/// Waits one tick; `false` once shutdown is asked for.
async fn wait(tick: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(tick) => true,
    }
}
