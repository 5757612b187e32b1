//! The gate no customer message skips, and the CRM's client of escalation.
//!
//! - [`Escalation`]: the escalation service's client. Every call carries the
//!   caller's principal (escalation decides under that tenant's policy) and
//!   a short timeout: a slow escalation is an unavailable one.
//! - [`decide`]: the live path. The message is already stored `pending`;
//!   escalation's decision is stored with it, and a handoff takes the
//!   conversation to a person. When escalation fails in any way the
//!   conversation goes to a person anyway (fail closed) and the message
//!   stays `pending`.
//! - [`retry_pending_gates`] and [`spawn_gate_retry`]: every pending message
//!   (left by an outage, or by a crash between storing and asking) is sent
//!   again with `force_handoff`, since the conversation already went to a
//!   person on its account. Gate is idempotent per message id on
//!   escalation's side, so a retry never decides twice nor opens a second
//!   handoff.

use std::time::Duration;

use rampart_kit::CancellationToken;
use rampart_kit::grpc::{TracedChannel, connect_lazy, traced};
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::Outbox;
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_kit::principal::{DataMode, Principal};
use rampart_proto::escalation::v1 as escalation;
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;
use tonic::Status;
use tonic::transport::Channel;

use crate::Error;
use crate::domain::Receipt;
use crate::domain::decision::severity_name;
use crate::entity::{conversation, message};
use crate::store::{ConversationStore, DataScope, GateVerdict, OpenedHandoff, pending_gates};
use crate::vault::Vault;

/// How long one call to escalation may take before the CRM treats it as
/// unavailable; a customer's post waits this long at most.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// How many pending messages one retry pass takes on.
const RETRY_BATCH: u64 = 100;

/// The escalation service, as the CRM calls it.
#[derive(Debug, Clone)]
pub struct Escalation {
    client: EscalationServiceClient<TracedChannel>,
    timeout: Duration,
}

impl Escalation {
    /// A client of escalation at `url`, connected on first use: the CRM
    /// starts, and fails closed, while escalation is down.
    pub fn connect(url: &str, tls: &ServiceTls) -> anyhow::Result<Self> {
        Ok(Self::from_channel(connect_lazy(
            url,
            tls,
            ServiceName::Escalation,
        )?))
    }

    /// A client over an existing channel (tests connect their own).
    #[must_use]
    pub fn from_channel(channel: Channel) -> Self {
        Self {
            client: EscalationServiceClient::new(traced(channel)),
            timeout: CALL_TIMEOUT,
        }
    }

    /// Decides one customer message, on behalf of `principal`.
    pub async fn gate(
        &self,
        principal: &Principal,
        message: escalation::GateRequest,
    ) -> Result<escalation::GateResponse, Status> {
        let request = self.request(principal, message)?;
        let mut client = self.client.clone();
        self.bounded(async move { client.gate(request).await })
            .await
    }

    /// Reviews a reply the AI proposes, on behalf of `principal`.
    pub async fn review_reply(
        &self,
        principal: &Principal,
        message: escalation::ReviewReplyRequest,
    ) -> Result<escalation::ReviewReplyResponse, Status> {
        let request = self.request(principal, message)?;
        let mut client = self.client.clone();
        self.bounded(async move { client.review_reply(request).await })
            .await
    }

    fn request<T>(&self, principal: &Principal, message: T) -> Result<tonic::Request<T>, Status> {
        let mut request = tonic::Request::new(message);
        principal.write_to(request.metadata_mut())?;
        request.set_timeout(self.timeout);
        Ok(request)
    }

    /// Runs a call under the timeout, whatever the transport does.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Status> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(answer) => answer.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(
                "escalation did not answer in time",
            )),
        }
    }
}

/// Asks the gate about a customer message not yet stored. Escalation keys
/// the decision by `message_id`, so the retry of a message stored pending
/// gets this very decision back, never a second one. Any failure is an
/// answer too: the message goes to a person.
pub async fn ask(
    escalation: &Escalation,
    actor: &Principal,
    conversation: &conversation::Model,
    message_id: &str,
    text: &str,
) -> Option<escalation::GateResponse> {
    let request = escalation::GateRequest {
        conversation_id: conversation.id.clone(),
        message_id: message_id.to_owned(),
        channel: conversation.channel.clone(),
        text: text.to_owned(),
        force_handoff: false,
    };
    match escalation.gate(actor, request).await {
        Ok(response) if response.receipt.is_some() => Some(response),
        Ok(_) => {
            tracing::warn!(
                %message_id,
                "escalation answered the gate without a receipt; failing closed"
            );
            None
        }
        Err(status) => {
            tracing::warn!(
                %message_id,
                conversation_id = %conversation.id,
                code = ?status.code(),
                "gate call failed; failing closed"
            );
            None
        }
    }
}

/// What a gate answer means for the message about to be stored.
#[must_use]
pub fn verdict(response: Option<&escalation::GateResponse>) -> GateVerdict<'_> {
    let Some((response, receipt)) =
        response.and_then(|response| Some((response, response.receipt.as_ref()?)))
    else {
        return GateVerdict::Unavailable;
    };
    let handoff = response.handoff.as_ref().map(|handoff| OpenedHandoff {
        id: &handoff.id,
        severity: severity_name(handoff.severity()),
    });
    GateVerdict::Decided(Box::new(Receipt::from_proto(receipt)), handoff)
}

/// Runs a freshly stored customer message through the gate and answers it
/// as it now stands: decided with its receipt, or still pending (the
/// conversation then went to a person), with the due time of the handoff
/// the gate opened or joined, if any (told to the customer, not stored).
/// Only a database failure is an error: an escalation failure is the
/// customer's answer "a person will reply", not a refusal of their message.
pub async fn decide(
    store: &ConversationStore<'_>,
    escalation: &Escalation,
    actor: &Principal,
    conversation: &conversation::Model,
    message: message::Model,
) -> Result<(message::Model, Option<String>), Error> {
    let request = escalation::GateRequest {
        conversation_id: conversation.id.clone(),
        message_id: message.id.clone(),
        channel: conversation.channel.clone(),
        text: message.text.clone(),
        force_handoff: false,
    };
    match escalation.gate(actor, request).await {
        Ok(response) => {
            if let Some(decided) = store_decision(store, actor, &message, &response, "gate").await?
            {
                let due_at = response.handoff.map(|handoff| handoff.due_at);
                return Ok((decided, due_at));
            }
            tracing::warn!(
                message_id = %message.id,
                "escalation answered the gate without a receipt; failing closed"
            );
        }
        // INVALID_ARGUMENT (a text the gate refuses) included: whatever
        // the reason, an undecided message goes to a person.
        Err(status) => tracing::warn!(
            message_id = %message.id,
            conversation_id = %conversation.id,
            code = ?status.code(),
            "gate call failed; failing closed"
        ),
    }
    store.fail_closed(actor, &conversation.id).await?;
    Ok((message, None))
}

/// Stores a gate answer; `None` when it holds no receipt (a broken answer,
/// treated as no answer).
async fn store_decision(
    store: &ConversationStore<'_>,
    actor: &Principal,
    message: &message::Model,
    response: &escalation::GateResponse,
    reason: &'static str,
) -> Result<Option<message::Model>, Error> {
    let Some(receipt) = &response.receipt else {
        return Ok(None);
    };
    let handoff = response.handoff.as_ref().map(|handoff| OpenedHandoff {
        id: &handoff.id,
        severity: severity_name(handoff.severity()),
    });
    let decided = store
        .record_gate_decision(
            actor,
            &message.id,
            &Receipt::from_proto(receipt),
            handoff,
            reason,
        )
        .await?;
    Ok(Some(decided))
}

/// Sends every customer message still pending after `min_age` to the gate
/// again, with `force_handoff`, and stores the answers; returns how many
/// were decided. Stops when escalation is unavailable or slow (the next
/// pass tries again); a message escalation refuses stays pending, and the
/// others still go.
pub async fn retry_pending_gates(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    escalation: &Escalation,
    min_age: Duration,
) -> Result<usize, Error> {
    let mut decided = 0;
    for message in pending_gates(db, min_age, RETRY_BATCH).await? {
        let tenant_id = TenantId::parse(&message.tenant_id).map_err(|_| {
            Error::Internal(anyhow::anyhow!(
                "message {} has a malformed tenant",
                message.id
            ))
        })?;
        // A test conversation's message is retried in test mode.
        let mode = DataMode::parse(&message.mode).unwrap_or(DataMode::Live);
        let actor = gate_retry_principal(tenant_id.clone()).in_mode(mode);
        let scope = DataScope { tenant_id, mode };
        let store = ConversationStore::for_tenant(db, outbox, vault, scope);
        let conversation = match store.find_by_text_id(&message.conversation_id).await {
            Ok(conversation) => conversation,
            Err(Error::ConversationNotFound) => {
                tracing::error!(message_id = %message.id, "pending message without a conversation");
                continue;
            }
            Err(error) => return Err(error),
        };
        // The text is sealed; the gate reads it opened.
        let message = store.opened_message(db, message).await?;
        let request = escalation::GateRequest {
            conversation_id: conversation.id.clone(),
            message_id: message.id.clone(),
            channel: conversation.channel.clone(),
            text: message.text.clone(),
            force_handoff: true,
        };
        match escalation.gate(&actor, request).await {
            Ok(response) => {
                let stored = store_decision(
                    &store,
                    &actor,
                    &message,
                    &response,
                    "escalation_unavailable",
                )
                .await?;
                if stored.is_some() {
                    decided += 1;
                    tracing::info!(message_id = %message.id, "pending gate decided");
                } else {
                    tracing::warn!(message_id = %message.id, "gate retry answered without a receipt");
                    break;
                }
            }
            // Down or slow: the rest would fail the same way; next pass.
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                ) =>
            {
                tracing::info!(code = ?status.code(), "gate retry: escalation still unavailable");
                break;
            }
            // Refused for this message only: the others still go, so one
            // message cannot hold up every tenant's handoffs.
            Err(status) => tracing::warn!(
                message_id = %message.id,
                code = ?status.code(),
                "gate retry refused; kept pending"
            ),
        }
    }
    Ok(decided)
}

/// The caller the retry acts as: the CRM itself, for the message's tenant
/// (`system:crm` in audit records).
fn gate_retry_principal(tenant_id: TenantId) -> Principal {
    Principal::system(tenant_id, ServiceName::Crm)
}

/// When the gate retry runs.
#[derive(Debug, Clone, Copy)]
pub struct GateRetry {
    /// How often it looks for pending messages.
    pub tick: Duration,
    /// How old a pending message must be before the retry takes it: younger
    /// ones may still be in their first gate call.
    pub min_age: Duration,
}

impl Default for GateRetry {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            min_age: Duration::from_secs(5),
        }
    }
}

/// Runs [`retry_pending_gates`] every `settings.tick` until `shutdown`.
pub fn spawn_gate_retry(
    db: DatabaseConnection,
    outbox: Outbox,
    vault: Vault,
    escalation: Escalation,
    settings: GateRetry,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // The first pass one tick after start, not at once: the service
        // is still coming up, and tests that drive the retry themselves
        // set a tick long enough that the worker never runs.
        let mut ticks =
            tokio::time::interval_at(tokio::time::Instant::now() + settings.tick, settings.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let pass = retry_pending_gates(&db, &outbox, &vault, &escalation, settings.min_age);
            tokio::select! {
                () = shutdown.cancelled() => return,
                result = pass => {
                    if let Err(error) = result {
                        tracing::error!(error = %error, "gate retry failed");
                    }
                }
            }
        }
    })
}
