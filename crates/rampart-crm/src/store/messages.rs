//! What is said in a tenant's conversations: customer messages with the
//! gate's decision, AI replies with the guardrails' findings, agent
//! replies; and the conversation status changes each of these can cause.
//!
//! A customer message is written `pending` and committed before escalation
//! is asked (so a crash or an outage cannot lose it), then the decision is
//! written in a second transaction. [`pending_gates`] finds the messages
//! that never got one. A decision that hands a privacy request to a person
//! also opens an erasure request for the customer, in the same transaction.

use std::time::Duration;

use rampart_kit::ids::{ConversationId, CustomerId, HandoffId, MessageId, UserId};
use rampart_kit::outbox::AuditRecord;
use rampart_kit::principal::Principal;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::conversations::parse_status;
use super::{
    ConversationStore, SmsThreadStore, fingerprint, is_unique_violation, now, open_erasure_request,
    sealed,
};
use crate::Error;
use crate::domain::{
    ConversationStatus, ErasureReason, ErasureSource, Finding, IdempotencyKey, MessageText,
    Receipt, VisitorTokenHash,
};
use crate::entity::{conversation, message};

const GATE_PENDING: &str = "pending";
const GATE_DECIDED: &str = "decided";
/// The gate's intent for a customer asking about their personal data
/// (erasure, access): it opens an erasure request for the owner to review.
const PRIVACY_INTENT: &str = "privacy";

/// A customer message as stored, with its conversation as it stands after.
#[derive(Debug)]
pub struct Posted {
    pub message: message::Model,
    pub conversation: conversation::Model,
    /// The same idempotency key posted it earlier; nothing new was stored.
    pub replayed: bool,
}

/// A reply about to be stored, as it leaves: masked when redacted, empty
/// when blocked.
#[derive(Debug)]
pub struct NewReply {
    pub text: String,
    /// "sent", "redacted" or "blocked".
    pub delivery: &'static str,
    pub findings: Vec<Finding>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// Of the request as the client sent it (see [`post_fingerprint`]).
    pub fingerprint: String,
}

/// A handoff escalation opened (or had open) for a conversation.
#[derive(Debug, Clone, Copy)]
pub struct OpenedHandoff<'h> {
    pub id: &'h str,
    /// Its severity's name, for the audit record.
    pub severity: &'h str,
}

/// What the gate said about a customer message before it is stored.
#[derive(Debug, Clone)]
pub enum GateVerdict<'h> {
    /// Decided: the receipt, and the handoff it opened or joined, if any.
    Decided(Box<Receipt>, Option<OpenedHandoff<'h>>),
    /// Escalation could not decide it: stored pending, the conversation
    /// goes to a person (fail closed) and the retry asks again.
    Unavailable,
}

/// A customer message ready to be decided and stored, or the one an earlier
/// post with the same idempotency key stored.
#[derive(Debug)]
pub enum PreparedPost {
    Replayed(Box<message::Model>),
    New {
        conversation: Box<conversation::Model>,
        message_id: MessageId,
        fingerprint: String,
    },
}

/// The fingerprint of a post: who posts (customer, ai, agent), where, what.
#[must_use]
pub fn post_fingerprint(author: &str, conversation_id: &str, text: &str) -> String {
    fingerprint(&["post", author, conversation_id, text])
}

/// Customer messages escalation has not decided, oldest first, across all
/// tenants, at least `min_age` old (younger ones may still be in their
/// first gate call), at most `limit` of them.
pub async fn pending_gates(
    db: &DatabaseConnection,
    min_age: Duration,
    limit: u64,
) -> Result<Vec<message::Model>, Error> {
    let cutoff = now() - chrono::Duration::from_std(min_age).unwrap_or(chrono::Duration::MAX);
    Ok(message::Entity::find()
        .filter(message::Column::Gate.eq(GATE_PENDING))
        .filter(message::Column::CreatedAt.lte(cutoff))
        .order_by_asc(message::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?)
}

impl ConversationStore<'_> {
    /// The message an earlier post with `key` stored, if any; a conflict if
    /// that post was a different request.
    pub async fn replay_post(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<message::Model>, Error> {
        let Some(existing) = message::Entity::find()
            .filter(message::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(message::Column::Mode.eq(self.scope.mode.as_str()))
            .filter(message::Column::IdempotencyKey.eq(key.as_str()))
            .one(self.db)
            .await?
        else {
            return Ok(None);
        };
        if existing.idempotency_fingerprint.as_deref() != Some(fingerprint) {
            return Err(Error::IdempotencyConflict);
        }
        Ok(Some(self.opened_message(self.db, existing).await?))
    }

    /// Inserts a message, or, when its idempotency key lost a race to
    /// another request, answers that request's message.
    async fn insert_message(
        &self,
        tx: &DatabaseTransaction,
        row: &message::Model,
    ) -> Result<Option<message::Model>, Error> {
        let key = self.conversation_key(tx, &row.conversation_id).await?;
        let mut sealed_row = row.clone();
        sealed::seal_message(&key, &mut sealed_row);
        match message::Entity::insert(sealed_row.into_active_model())
            .exec_without_returning(tx)
            .await
        {
            Ok(_) => Ok(None),
            Err(error) if is_unique_violation(&error) => {
                let (Some(key), Some(fingerprint)) =
                    (&row.idempotency_key, &row.idempotency_fingerprint)
                else {
                    return Err(error.into());
                };
                let key = IdempotencyKey::parse_optional(key)?
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("empty idempotency key")))?;
                self.replay_post(&key, fingerprint)
                    .await?
                    .map(Some)
                    .ok_or_else(|| error.into())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Queues `reply` (inserted in `tx`) for its conversation's SMS
    /// thread, if it has one (see [`crate::sms::outbox`]).
    async fn enqueue_sms(
        &self,
        tx: &DatabaseTransaction,
        reply: &message::Model,
    ) -> Result<(), Error> {
        let threads = SmsThreadStore::for_tenant(self.db, self.vault, self.scope.clone());
        crate::sms::outbox::enqueue_reply(tx, &threads, self.vault, &self.scope, reply).await?;
        Ok(())
    }

    /// Checks a customer's message before the gate is asked: the
    /// conversation exists (for a widget caller, with that visitor token:
    /// without it, the conversation is not found, exactly like an unknown
    /// one), is not closed, and the idempotency key is new or a replay of
    /// the same post. Reads only.
    pub async fn prepare_customer_message(
        &self,
        id: &ConversationId,
        visitor: Option<&VisitorTokenHash>,
        text: &MessageText,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<PreparedPost, Error> {
        let existing = self.get(id).await?;
        if let Some(presented) = visitor {
            let matches = existing
                .visitor_token_hash
                .as_ref()
                .is_some_and(|stored| VisitorTokenHash::stored(stored.clone()).matches(presented));
            if !matches {
                return Err(Error::ConversationNotFound);
            }
        }
        let fingerprint = post_fingerprint("customer", id.as_str(), text.as_str());
        if let Some(key) = idempotency_key
            && let Some(message) = self.replay_post(key, &fingerprint).await?
        {
            return Ok(PreparedPost::Replayed(Box::new(message)));
        }
        if parse_status(&existing.status)? == ConversationStatus::Closed {
            return Err(Error::ConversationEnded("closed"));
        }
        Ok(PreparedPost::New {
            conversation: Box::new(existing),
            message_id: MessageId::generate(),
            fingerprint,
        })
    }

    /// Stores a customer's message with what the gate said, in one
    /// transaction: the message (decided with its receipt, or pending),
    /// and the conversation's move to a person when the gate opened a
    /// handoff or could not be reached. A message on a resolved
    /// conversation reopens it first (audited as
    /// `conversation.status_changed`); a closed one takes no more.
    #[allow(clippy::too_many_arguments)]
    pub async fn store_customer_message(
        &self,
        actor: &Principal,
        id: &ConversationId,
        message_id: MessageId,
        text: MessageText,
        idempotency_key: Option<IdempotencyKey>,
        fingerprint: String,
        verdict: GateVerdict<'_>,
    ) -> Result<Posted, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let current = self.find(change.tx(), id.as_str()).await?;
        let status = parse_status(&current.status)?;
        let conversation = match status {
            ConversationStatus::Closed => return Err(Error::ConversationEnded("closed")),
            ConversationStatus::Resolved => {
                let mut row = current.clone().into_active_model();
                row.status = ActiveValue::Set(ConversationStatus::AiActive.as_str().to_owned());
                row.updated_at = ActiveValue::Set(now());
                let reopened = row.update(change.tx()).await?;
                let reopened = self.opened(change.tx(), reopened).await?;
                change.audit(
                    AuditRecord::success(
                        actor,
                        Some(self.scope.tenant_id.as_str()),
                        "conversation.status_changed",
                        format!("conversation:{}", current.id),
                    )
                    .with_detail("from", ConversationStatus::Resolved.as_str())
                    .with_detail("to", ConversationStatus::AiActive.as_str())
                    .with_detail("reason", "customer_message"),
                );
                reopened
            }
            _ => current,
        };
        let (gate, receipt) = match &verdict {
            GateVerdict::Decided(receipt, _) => (
                GATE_DECIDED,
                Some(serde_json::to_string(receipt).map_err(|e| Error::Internal(e.into()))?),
            ),
            GateVerdict::Unavailable => (GATE_PENDING, None),
        };
        let row = message::Model {
            id: message_id.into_string(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            conversation_id: conversation.id.clone(),
            author: "customer".to_owned(),
            author_id: None,
            text: text.into_string(),
            delivery: "received".to_owned(),
            gate: Some(gate.to_owned()),
            receipt,
            findings: "[]".to_owned(),
            idempotency_key: idempotency_key.map(|key| key.as_str().to_owned()),
            idempotency_fingerprint: Some(fingerprint),
            created_at: now(),
            text_sealed: None,
        };
        if let Some(message) = self.insert_message(change.tx(), &row).await? {
            return Ok(Posted {
                message,
                conversation,
                replayed: true,
            });
        }
        let conversation = match verdict {
            GateVerdict::Decided(_, None) => conversation,
            GateVerdict::Decided(receipt, Some(handoff)) => {
                let handed = self
                    .hand_to_person(&mut change, actor, conversation, Some(handoff), "gate")
                    .await?;
                self.open_privacy_erasure(&mut change, actor, &handed, &receipt, handoff)
                    .await?;
                handed
            }
            GateVerdict::Unavailable => {
                self.hand_to_person(
                    &mut change,
                    actor,
                    conversation,
                    None,
                    "escalation_unavailable",
                )
                .await?
            }
        };
        change.commit().await?;
        Ok(Posted {
            message: row,
            conversation,
            replayed: false,
        })
    }

    /// Whether a customer message of the conversation waits for the gate.
    pub async fn has_pending_gate(&self, conversation_id: &str) -> Result<bool, Error> {
        let pending = message::Entity::find()
            .filter(message::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(message::Column::Mode.eq(self.scope.mode.as_str()))
            .filter(message::Column::ConversationId.eq(conversation_id))
            .filter(message::Column::Gate.eq(GATE_PENDING))
            .count(self.db)
            .await?;
        Ok(pending > 0)
    }

    /// Stores the gate's decision on a pending message. When a handoff came
    /// with it, the conversation goes to a person (unless one has claimed
    /// it already) and `conversation.handed_off` is recorded with `reason`.
    /// A message already decided (by a concurrent retry) is left as it is.
    pub async fn record_gate_decision(
        &self,
        actor: &Principal,
        message_id: &str,
        receipt: &Receipt,
        handoff: Option<OpenedHandoff<'_>>,
        reason: &'static str,
    ) -> Result<message::Model, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        // Locked until the commit (PostgreSQL; SQLite has one writer): two
        // CRM instances retrying the same pending message must not both
        // see it pending and both hand the conversation over.
        let message = message::Entity::find_by_id(message_id)
            .filter(message::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(message::Column::Mode.eq(self.scope.mode.as_str()))
            .lock_exclusive()
            .one(change.tx())
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("message {message_id} vanished")))?;
        if message.gate.as_deref() != Some(GATE_PENDING) {
            return self.opened_message(change.tx(), message).await;
        }
        let receipt_json = serde_json::to_string(receipt).map_err(|e| Error::Internal(e.into()))?;
        let mut row = message.into_active_model();
        row.gate = ActiveValue::Set(Some(GATE_DECIDED.to_owned()));
        row.receipt = ActiveValue::Set(Some(receipt_json));
        let decided = row.update(change.tx()).await?;
        let decided = self.opened_message(change.tx(), decided).await?;

        if let Some(handoff) = handoff {
            let current = self.find(change.tx(), &decided.conversation_id).await?;
            let handed = self
                .hand_to_person(&mut change, actor, current, Some(handoff), reason)
                .await?;
            self.open_privacy_erasure(&mut change, actor, &handed, receipt, handoff)
                .await?;
        }
        change.commit().await?;
        Ok(decided)
    }

    /// Escalation could not decide a message: the conversation goes to a
    /// person (fail closed) and `conversation.handed_off` is recorded with
    /// reason `escalation_unavailable`. The message stays pending for the
    /// retry, which opens the handoff once escalation is back.
    pub async fn fail_closed(&self, actor: &Principal, conversation_id: &str) -> Result<(), Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let current = self.find(change.tx(), conversation_id).await?;
        self.hand_to_person(&mut change, actor, current, None, "escalation_unavailable")
            .await?;
        change.commit().await?;
        Ok(())
    }

    /// When the gate read a customer's message as a privacy request
    /// ("delete my data") and opened a handoff, opens an erasure request
    /// for the conversation's customer within `change` (source
    /// `handoff:<id>`, requested by `actor`), or leaves their open one.
    /// Nothing is erased: the owner previews and executes it. A
    /// conversation without a customer has nobody to erase.
    async fn open_privacy_erasure(
        &self,
        change: &mut rampart_kit::outbox::Change<'_>,
        actor: &Principal,
        conversation: &conversation::Model,
        receipt: &Receipt,
        handoff: OpenedHandoff<'_>,
    ) -> Result<(), Error> {
        if !receipt
            .intents
            .iter()
            .any(|intent| intent == PRIVACY_INTENT)
        {
            return Ok(());
        }
        let Some(customer_id) = conversation.customer_id.as_deref() else {
            return Ok(());
        };
        let (Ok(customer_id), Ok(handoff_id)) =
            (CustomerId::parse(customer_id), HandoffId::parse(handoff.id))
        else {
            tracing::warn!(
                conversation_id = %conversation.id,
                "privacy handoff with a malformed customer or handoff id; no erasure request"
            );
            return Ok(());
        };
        let opened = open_erasure_request(
            change,
            &self.scope,
            actor,
            &customer_id,
            &ErasureReason::privacy_handoff(&handoff_id),
            &ErasureSource::Handoff(handoff_id.clone()),
        )
        .await;
        match opened {
            Ok((request, already_open)) => {
                if !already_open {
                    tracing::info!(
                        erasure_request_id = %request.id,
                        handoff_id = %handoff_id,
                        "erasure request opened from a privacy handoff"
                    );
                }
                Ok(())
            }
            // The customer went (erased meanwhile): nothing left to erase.
            Err(Error::CustomerNotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Gives an open conversation to a person within `change`: an AI-held
    /// one becomes `handed_off`; one a person has keeps its status. The
    /// handoff's id is kept when there is one. Audited only when something
    /// changed. Ended conversations are left alone.
    async fn hand_to_person(
        &self,
        change: &mut rampart_kit::outbox::Change<'_>,
        actor: &Principal,
        current: conversation::Model,
        handoff: Option<OpenedHandoff<'_>>,
        reason: &'static str,
    ) -> Result<conversation::Model, Error> {
        let status = parse_status(&current.status)?;
        if !status.is_open() {
            return Ok(current);
        }
        let new_status = if status == ConversationStatus::AiActive {
            ConversationStatus::HandedOff
        } else {
            status
        };
        let new_handoff = handoff
            .map(|handoff| handoff.id.to_owned())
            .or_else(|| current.handoff_id.clone());
        if new_status == status && new_handoff == current.handoff_id {
            return Ok(current);
        }
        // Only the columns that change are written, so a concurrent writer's
        // handoff id (the retry's, say) is not overwritten with the stale
        // one read here.
        let mut row = current.clone().into_active_model();
        if new_status != status {
            row.status = ActiveValue::Set(new_status.as_str().to_owned());
        }
        if handoff.is_some() {
            row.handoff_id = ActiveValue::Set(new_handoff);
        }
        row.updated_at = ActiveValue::Set(now());
        let updated = row.update(change.tx()).await?;
        let updated = self.opened(change.tx(), updated).await?;
        let mut event = AuditRecord::success(
            actor,
            Some(self.scope.tenant_id.as_str()),
            "conversation.handed_off",
            format!("conversation:{}", current.id),
        )
        .with_detail("reason", reason);
        if let Some(handoff) = handoff {
            event = event
                .with_detail("handoff_id", handoff.id)
                .with_detail("severity", handoff.severity);
        }
        change.audit(event);
        Ok(updated)
    }

    /// Stores an AI reply the guardrails reviewed, unless a person took the
    /// conversation meanwhile (checked again inside the transaction, so a
    /// customer message that handed it off while the review ran wins).
    /// Redacted and blocked replies are recorded as `ai_reply.reviewed`; a
    /// block that opened a handoff hands the conversation to a person.
    pub async fn store_ai_reply(
        &self,
        actor: &Principal,
        id: &ConversationId,
        reply: NewReply,
        handoff: Option<OpenedHandoff<'_>>,
        policy_version: u32,
    ) -> Result<message::Model, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let current = self.find(change.tx(), id.as_str()).await?;
        check_ai_may_reply(parse_status(&current.status)?)?;
        let pending = message::Entity::find()
            .filter(message::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(message::Column::Mode.eq(self.scope.mode.as_str()))
            .filter(message::Column::ConversationId.eq(id.as_str()))
            .filter(message::Column::Gate.eq(GATE_PENDING))
            .count(change.tx())
            .await?;
        if pending > 0 {
            return Err(Error::PersonHasConversation);
        }

        let kinds: Vec<&str> = reply.findings.iter().map(|f| f.kind.as_str()).collect();
        let findings_json =
            serde_json::to_string(&reply.findings).map_err(|e| Error::Internal(e.into()))?;
        let row = message::Model {
            id: MessageId::generate().into_string(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            conversation_id: current.id.clone(),
            author: "ai".to_owned(),
            author_id: None,
            text: reply.text,
            delivery: reply.delivery.to_owned(),
            gate: None,
            receipt: None,
            findings: findings_json,
            idempotency_key: reply.idempotency_key.map(|k| k.as_str().to_owned()),
            idempotency_fingerprint: Some(reply.fingerprint),
            created_at: now(),
            text_sealed: None,
        };
        if let Some(earlier) = self.insert_message(change.tx(), &row).await? {
            return Ok(earlier);
        }
        // An SMS conversation's reply leaves through the SMS outbox,
        // queued in this transaction: stored and queued, or neither.
        self.enqueue_sms(change.tx(), &row).await?;
        if reply.delivery != "sent" {
            change.audit(
                AuditRecord::success(
                    actor,
                    Some(self.scope.tenant_id.as_str()),
                    "ai_reply.reviewed",
                    format!("conversation:{}", current.id),
                )
                .with_outcome(reply.delivery)
                .with_detail("findings", kinds.join(","))
                .with_detail("policy_version", policy_version.to_string()),
            );
        }
        if reply.delivery == "blocked" && handoff.is_some() {
            self.hand_to_person(&mut change, actor, current, handoff, "guardrails")
                .await?;
        }
        change.commit().await?;
        Ok(row)
    }

    /// Stores a signed-in agent's reply, sent as written. An agent may step
    /// in at any time while the conversation is open.
    pub async fn store_agent_reply(
        &self,
        id: &ConversationId,
        agent: &UserId,
        text: MessageText,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<message::Model, Error> {
        let fingerprint = post_fingerprint("agent", id.as_str(), text.as_str());
        if let Some(key) = &idempotency_key
            && let Some(message) = self.replay_post(key, &fingerprint).await?
        {
            return Ok(message);
        }
        let change = self.outbox.begin(self.db).await?;
        let current = self.find(change.tx(), id.as_str()).await?;
        let status = parse_status(&current.status)?;
        if !status.is_open() {
            return Err(Error::ConversationEnded(status.as_str()));
        }
        let row = message::Model {
            id: MessageId::generate().into_string(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            conversation_id: current.id.clone(),
            author: "agent".to_owned(),
            author_id: Some(agent.as_str().to_owned()),
            text: text.into_string(),
            delivery: "sent".to_owned(),
            gate: None,
            receipt: None,
            findings: "[]".to_owned(),
            idempotency_key: idempotency_key.map(|k| k.as_str().to_owned()),
            idempotency_fingerprint: Some(fingerprint),
            created_at: now(),
            text_sealed: None,
        };
        if let Some(earlier) = self.insert_message(change.tx(), &row).await? {
            return Ok(earlier);
        }
        // As for AI replies: queued for the SMS thread in this transaction.
        self.enqueue_sms(change.tx(), &row).await?;
        let mut touched = current.into_active_model();
        touched.updated_at = ActiveValue::Set(now());
        touched.update(change.tx()).await?;
        change.commit().await?;
        Ok(row)
    }
}

/// The AI speaks only in a conversation it holds.
pub fn check_ai_may_reply(status: ConversationStatus) -> Result<(), Error> {
    if status.is_with_a_person() {
        return Err(Error::PersonHasConversation);
    }
    if !status.is_open() {
        return Err(Error::ConversationEnded(status.as_str()));
    }
    Ok(())
}
