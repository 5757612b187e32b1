//! The support flow's handlers: conversations, the messages customers, the
//! AI and agents post in them, and the status steps of a handoff.
//!
//! Who may do what:
//! - start: a key with `write`, or a widget key (scope `widget`), which gets
//!   the visitor token its browser must present afterwards;
//! - customer messages: a key with `write`, or a widget key with the
//!   conversation's visitor token; not a signed-in person (an agent speaks
//!   through agent replies);
//! - AI replies: a key with `write` (the AI integration) only;
//! - agent replies and status steps: a signed-in user, agent or above;
//! - reads: a key with `read`, or any signed-in user of the tenant;
//! - the summary: a key with `write`, or a signed-in agent or above.
//!
//! Another tenant's conversation, an unknown id and a malformed one answer
//! the same NOT_FOUND.
//!
//! Choices callers rely on:
//! - An idempotency key reused for a different request answers
//!   ALREADY_EXISTS; the same request answers the first one's result. A
//!   widget start repeated with its key also answers ALREADY_EXISTS: its
//!   visitor token was shown once and cannot be shown again, and a public
//!   key's repeated request must not hand the conversation to whoever sent
//!   it.
//! - A customer message is never refused for escalation's sake: when the
//!   gate cannot decide (unreachable, timing out, erroring, INVALID_ARGUMENT
//!   included) the message is stored `pending`, the conversation goes to a
//!   person, and the answer is the message. An AI reply whose guardrails
//!   cannot be reached is refused (UNAVAILABLE) and nothing is stored.
//! - A reply while a person has the conversation (handed off, assigned, a
//!   customer message pending, or escalation saying so) is
//!   FAILED_PRECONDITION, as are posts in closed conversations, replies in
//!   resolved ones and status steps the handoff flow does not allow.
//! - GetConversation returns the newest [`MAX_MESSAGES_READ`] messages,
//!   oldest first; ListConversations lists newest first, without messages.
//! - Transcripts: when a conversation is resolved or closed its message
//!   texts are blanked unless the tenant's `transcripts_enabled` is on (no
//!   route sets it yet) and the customer consented at the start.
//!
//! [`MAX_MESSAGES_READ`]: crate::store::MAX_MESSAGES_READ

use chrono::SecondsFormat;
use rampart_kit::ids::{ConversationId, CustomerId, HandoffId, UserId};
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_proto::crm::v1 as proto;
use rampart_proto::escalation::v1 as escalation;
use tonic::{Request, Status};

use super::CrmApi;
use crate::Error;
use crate::domain::decision::severity_name;
use crate::domain::{
    Channel, ConversationStatus, Finding, IdempotencyKey, InvalidInput, MessageText, PageRequest,
    Receipt, Summary, VisitorToken, VisitorTokenHash,
};
use crate::entity::{conversation, message};
use crate::gate;
use crate::store::{
    ConversationFilter, DataScope, NewConversation, NewReply, OpenedHandoff, PreparedPost,
    check_ai_may_reply, post_fingerprint,
};

const WIDGET_SCOPE: &str = "widget";

fn holds(principal: &Principal, scope: &str) -> bool {
    principal.scopes.iter().any(|held| held == scope)
}

/// A widget key: public, so it acts only on its visitor's conversation.
fn is_widget_caller(principal: &Principal) -> bool {
    principal.user.is_none()
        && holds(principal, WIDGET_SCOPE)
        && !holds(principal, Scope::Write.as_str())
}

/// Reads: a key with `read`, or any signed-in user of the tenant.
fn require_reader(principal: &Principal) -> Result<(), Status> {
    if principal.user.is_some() {
        return Ok(());
    }
    principal.require_scope(Scope::Read)
}

/// Posting as the customer or as the AI is for keys, never for a person.
fn refuse_people(principal: &Principal, what: &str) -> Result<(), Status> {
    if principal.user.is_some() {
        return Err(Status::permission_denied(format!(
            "{what} come from an integration key, not a signed-in user"
        )));
    }
    Ok(())
}

/// Ids that do not parse name no conversation.
fn conversation_id(text: &str) -> Result<ConversationId, Error> {
    ConversationId::parse(text).map_err(|_| Error::ConversationNotFound)
}

impl CrmApi {
    pub(super) async fn start(
        &self,
        request: Request<proto::StartConversationRequest>,
    ) -> Result<proto::Conversation, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        let tenant_id = scope.tenant_id.clone();
        let widget = is_widget_caller(&principal);
        if !widget {
            principal.require_scope(Scope::Write)?;
        }
        let request = request.into_inner();
        if widget && request.channel != "widget" {
            return Err(Status::permission_denied(
                "a widget key starts widget conversations only",
            ));
        }
        if widget && !request.customer_id.is_empty() {
            // A widget key is public: it must not attach a conversation
            // (and the replies' checks on contacts) to a known customer.
            return Err(Status::permission_denied(
                "a widget key cannot link a conversation to a customer",
            ));
        }
        let customer_id = if request.customer_id.is_empty() {
            None
        } else {
            Some(CustomerId::parse(&request.customer_id).map_err(|_| Error::CustomerNotFound)?)
        };
        let first_message = if request.first_message.is_empty() {
            None
        } else {
            Some(MessageText::customer(
                "first_message",
                &request.first_message,
            )?)
        };
        let visitor_token = widget.then(VisitorToken::generate);
        let new = NewConversation {
            channel: Channel::parse("channel", &request.channel)?,
            origin: NewConversation::check_origin(&request.origin)?,
            customer_id,
            transcript_consent: request.transcript_consent,
            first_message,
            idempotency_key: IdempotencyKey::parse_optional(&request.idempotency_key)?,
            visitor_token: visitor_token.as_ref().map(VisitorToken::hash),
        };

        let store = self.conversations(&scope);
        let started = store.start(&principal, new).await?;
        if started.replayed && widget {
            // The visitor token was shown once, to the first request; a
            // replay cannot show it again, and must not hand the
            // conversation to whoever repeats a public key's request.
            return Err(Error::IdempotencyConflict.into());
        }
        let mut messages = Vec::new();
        let mut conversation = started.conversation;
        if let Some(first) = started.first_message {
            let (first, handoff_due_at) = if started.replayed {
                (first, None)
            } else {
                let (decided, due_at) =
                    gate::decide(&store, &self.escalation, &principal, &conversation, first)
                        .await?;
                // The gate may have handed the conversation to a person.
                conversation = store.get(&conversation_id(&conversation.id)?).await?;
                (decided, due_at)
            };
            let mut first_message = message_to_proto(first)?;
            first_message.handoff_due_at = handoff_due_at.unwrap_or_default();
            messages.push(first_message);
        }
        if !started.replayed {
            tracing::info!(
                %tenant_id,
                conversation_id = %conversation.id,
                channel = %conversation.channel,
                request_id = %principal.request_id,
                "conversation started"
            );
        }
        let mut answer = conversation_to_proto(conversation, messages);
        if let Some(token) = &visitor_token
            && !started.replayed
        {
            answer.visitor_token = token.expose().to_owned();
        }
        Ok(answer)
    }

    pub(super) async fn list(
        &self,
        request: Request<proto::ListConversationsRequest>,
    ) -> Result<proto::ListConversationsResponse, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        require_reader(&principal)?;
        let request = request.get_ref();
        let filter = parse_filter(request)?;
        let page = PageRequest::parse(request.page_size, &request.cursor, ConversationId::parse)?;
        let page = self.conversations(&scope).list(&filter, &page).await?;
        Ok(proto::ListConversationsResponse {
            conversations: page
                .items
                .into_iter()
                .map(|row| conversation_to_proto(row, Vec::new()))
                .collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        })
    }

    pub(super) async fn get(
        &self,
        request: Request<proto::GetConversationRequest>,
    ) -> Result<proto::Conversation, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        require_reader(&principal)?;
        let id = conversation_id(&request.get_ref().conversation_id)?;
        let store = self.conversations(&scope);
        // Messages first: a message and the conversation change it caused
        // commit together, so the conversation read after its messages is
        // at least as new as they are (a decided message never shows with
        // a conversation that does not have its handoff yet). The message
        // query is scoped by tenant too: another tenant's id reads none,
        // then is not found.
        let messages = store
            .messages(id.as_str())
            .await?
            .into_iter()
            .map(message_to_proto)
            .collect::<Result<_, _>>()?;
        let conversation = store.get(&id).await?;
        Ok(conversation_to_proto(conversation, messages))
    }

    pub(super) async fn post_customer(
        &self,
        request: Request<proto::PostMessageRequest>,
    ) -> Result<proto::Message, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        let tenant_id = scope.tenant_id.clone();
        refuse_people(&principal, "customer messages")?;
        let request = request.into_inner();
        let visitor = if is_widget_caller(&principal) {
            // Hashed whatever it is (empty included): an absent or wrong
            // token matches nothing and the conversation is not found.
            Some(VisitorTokenHash::of(&request.visitor_token))
        } else {
            principal.require_scope(Scope::Write)?;
            None
        };
        let text = MessageText::customer("text", &request.text)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let id = conversation_id(&request.conversation_id)?;

        // The gate first, then one write: the message with its decision
        // (or pending, when escalation cannot be reached) and the
        // conversation's move to a person.
        let store = self.conversations(&scope);
        let (conversation, message_id, fingerprint) = match store
            .prepare_customer_message(&id, visitor.as_ref(), &text, key.as_ref())
            .await?
        {
            PreparedPost::Replayed(message) => return Ok(message_to_proto(*message)?),
            PreparedPost::New {
                conversation,
                message_id,
                fingerprint,
            } => (conversation, message_id, fingerprint),
        };
        let answer = gate::ask(
            &self.escalation,
            &principal,
            &conversation,
            message_id.as_str(),
            text.as_str(),
        )
        .await;
        let handoff_due_at = answer
            .as_ref()
            .and_then(|answer| answer.handoff.as_ref())
            .map(|handoff| handoff.due_at.clone())
            .unwrap_or_default();
        let message = store
            .store_customer_message(
                &principal,
                &id,
                message_id,
                text,
                key,
                fingerprint,
                gate::verdict(answer.as_ref()),
            )
            .await?
            .message;
        tracing::info!(
            %tenant_id,
            conversation_id = %id,
            message_id = %message.id,
            gate = message.gate.as_deref().unwrap_or_default(),
            request_id = %principal.request_id,
            "customer message stored"
        );
        let mut answer = message_to_proto(message)?;
        answer.handoff_due_at = handoff_due_at;
        Ok(answer)
    }

    pub(super) async fn post_ai(
        &self,
        request: Request<proto::PostMessageRequest>,
    ) -> Result<proto::Message, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        let tenant_id = scope.tenant_id.clone();
        refuse_people(&principal, "AI replies")?;
        principal.require_scope(Scope::Write)?;
        let request = request.into_inner();
        let text = MessageText::reply("text", &request.text)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let id = conversation_id(&request.conversation_id)?;

        let store = self.conversations(&scope);
        let conversation = store.get(&id).await?;
        let fingerprint = post_fingerprint("ai", id.as_str(), text.as_str());
        if let Some(key) = &key
            && let Some(earlier) = store.replay_post(key, &fingerprint).await?
        {
            return Ok(message_to_proto(earlier)?);
        }
        check_ai_may_reply(ConversationStatus::parse("status", &conversation.status)?)?;
        if store.has_pending_gate(&conversation.id).await? {
            return Err(Error::PersonHasConversation.into());
        }

        let customer_contacts = match &conversation.customer_id {
            Some(customer_id) => store
                .customer(customer_id)
                .await?
                .map(|customer| customer.phone.into_iter().chain(customer.email).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let review = self
            .escalation
            .review_reply(
                &principal,
                escalation::ReviewReplyRequest {
                    conversation_id: conversation.id.clone(),
                    text: text.as_str().to_owned(),
                    customer_contacts,
                },
            )
            .await
            .map_err(|status| {
                // An incident's freeze of the AI is escalation's refusal,
                // passed on as it is (see `rampart_escalation::freeze`).
                if status.code() == tonic::Code::FailedPrecondition {
                    return status;
                }
                tracing::warn!(
                    conversation_id = %conversation.id,
                    code = ?status.code(),
                    "review call failed; the ai reply is not sent"
                );
                Error::GuardrailsUnavailable.into()
            })?;
        if review.human_has_conversation {
            return Err(Error::PersonHasConversation.into());
        }
        // An outcome this build does not know is treated as a block: no
        // reply leaves unchecked.
        let (delivery, sent_text) = match review.outcome() {
            escalation::Outcome::Allow => ("sent", text.into_string()),
            escalation::Outcome::Redact => ("redacted", review.text.clone()),
            escalation::Outcome::Block | escalation::Outcome::Unspecified => {
                ("blocked", String::new())
            }
        };
        let handoff = (delivery == "blocked")
            .then_some(review.handoff.as_ref())
            .flatten()
            .map(|handoff| OpenedHandoff {
                id: &handoff.id,
                severity: severity_name(handoff.severity()),
            });
        let reply = NewReply {
            text: sent_text,
            delivery,
            findings: review.findings.iter().map(Finding::from_proto).collect(),
            idempotency_key: key,
            fingerprint,
        };
        let message = store
            .store_ai_reply(&principal, &id, reply, handoff, review.policy_version)
            .await?;
        tracing::info!(
            %tenant_id,
            conversation_id = %id,
            message_id = %message.id,
            delivery,
            request_id = %principal.request_id,
            "ai reply stored"
        );
        Ok(message_to_proto(message)?)
    }

    pub(super) async fn post_agent(
        &self,
        request: Request<proto::PostMessageRequest>,
    ) -> Result<proto::Message, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        let user = principal.require_role(Role::Agent)?;
        let agent = UserId::parse(&user.id)
            .map_err(|_| Status::permission_denied("the signed-in user's id is malformed"))?;
        let request = request.into_inner();
        let text = MessageText::reply("text", &request.text)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let id = conversation_id(&request.conversation_id)?;
        let message = self
            .conversations(&scope)
            .store_agent_reply(&id, &agent, text, key)
            .await?;
        Ok(message_to_proto(message)?)
    }

    pub(super) async fn summarise(
        &self,
        request: Request<proto::SetSummaryRequest>,
    ) -> Result<proto::Conversation, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        if principal.user.is_some() {
            principal.require_role(Role::Agent)?;
        } else {
            principal.require_scope(Scope::Write)?;
        }
        let request = request.get_ref();
        let summary = Summary::parse(&request.summary)?;
        let id = conversation_id(&request.conversation_id)?;
        let conversation = self.conversations(&scope).set_summary(&id, summary).await?;
        Ok(conversation_to_proto(conversation, Vec::new()))
    }

    pub(super) async fn step(
        &self,
        request: Request<proto::SetConversationStatusRequest>,
    ) -> Result<proto::Conversation, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        let tenant_id = &scope.tenant_id;
        principal.require_role(Role::Agent)?;
        let request = request.get_ref();
        let to = ConversationStatus::parse("status", &request.status)?;
        let assignee = match (to, request.assignee.as_str()) {
            (ConversationStatus::Assigned, "") => {
                return Err(InvalidInput::new("assignee", "is required to assign").into());
            }
            (ConversationStatus::Assigned, text) => Some(
                UserId::parse(text).map_err(|_| InvalidInput::new("assignee", "is malformed"))?,
            ),
            _ => None,
        };
        let handoff_id = if request.handoff_id.is_empty() {
            None
        } else {
            Some(
                HandoffId::parse(&request.handoff_id)
                    .map_err(|_| InvalidInput::new("handoff_id", "is malformed"))?,
            )
        };
        let id = conversation_id(&request.conversation_id)?;
        let conversation = self
            .conversations(&scope)
            .set_status(&principal, &id, to, assignee, handoff_id)
            .await?;
        tracing::info!(
            %tenant_id,
            conversation_id = %id,
            status = to.as_str(),
            request_id = %principal.request_id,
            "conversation status changed"
        );
        Ok(conversation_to_proto(conversation, Vec::new()))
    }
}

fn parse_filter(
    request: &proto::ListConversationsRequest,
) -> Result<ConversationFilter, InvalidInput> {
    let optional = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    Ok(ConversationFilter {
        status: optional(&request.status)
            .map(|text| ConversationStatus::parse("status", &text))
            .transpose()?,
        channel: optional(&request.channel)
            .map(|text| Channel::parse("channel", &text))
            .transpose()?,
        customer_id: optional(&request.customer_id)
            .map(|text| {
                CustomerId::parse(&text)
                    .map_err(|_| InvalidInput::new("customer_id", "is malformed"))
            })
            .transpose()?,
        assignee: optional(&request.assignee)
            .map(|text| {
                UserId::parse(&text).map_err(|_| InvalidInput::new("assignee", "is malformed"))
            })
            .transpose()?,
    })
}

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn conversation_to_proto(
    row: conversation::Model,
    messages: Vec<proto::Message>,
) -> proto::Conversation {
    proto::Conversation {
        id: row.id,
        channel: row.channel,
        started_at: rfc3339(row.started_at),
        status: row.status,
        customer_id: row.customer_id.unwrap_or_default(),
        assignee: row.assignee.unwrap_or_default(),
        summary: row.summary,
        transcript_consent: row.transcript_consent,
        handoff_id: row.handoff_id.unwrap_or_default(),
        messages,
        updated_at: rfc3339(row.updated_at),
        visitor_token: String::new(),
    }
}

fn message_to_proto(row: message::Model) -> Result<proto::Message, Error> {
    let corrupt = |what: &str, error: serde_json::Error| {
        Error::Internal(anyhow::Error::new(error).context(format!(
            "the {what} of message {} is not valid JSON",
            row.id
        )))
    };
    let receipt = row
        .receipt
        .as_deref()
        .map(serde_json::from_str::<Receipt>)
        .transpose()
        .map_err(|e| corrupt("receipt", e))?;
    let findings: Vec<Finding> =
        serde_json::from_str(&row.findings).map_err(|e| corrupt("findings", e))?;
    Ok(proto::Message {
        id: row.id,
        conversation_id: row.conversation_id,
        author: row.author,
        author_id: row.author_id.unwrap_or_default(),
        text: row.text,
        delivery: row.delivery,
        created_at: rfc3339(row.created_at),
        receipt: receipt.as_ref().map(Receipt::to_proto),
        gate: row.gate.unwrap_or_default(),
        findings: findings.iter().map(Finding::to_proto).collect(),
        handoff_due_at: String::new(),
    })
}
