//! Conversations and their messages: what customers write, what the AI
//! proposes, what agents answer. Every customer message is decided by
//! escalation's gate inside the CRM before the AI may answer; the answer
//! carries the decision receipt.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use http::StatusCode;
use http::request::Parts;
use rampart_kit::principal::Principal;
use rampart_proto::crm::v1::{
    Conversation, GetConversationRequest, ListConversationsRequest, Message, PostMessageRequest,
    SetSummaryRequest, StartConversationRequest,
};
use rampart_proto::escalation::v1::{Action, Finding, Receipt};
use serde::{Deserialize, Serialize};

use super::escalation::severity_name;
use super::page::{next_cursor, non_empty, page_size};
use crate::Gateway;
use crate::authn::{TenantCaller, TenantUserCaller};
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// The `Idempotency-Key` header: a retried create with the same key answers
/// the first one's result instead of creating twice.
#[derive(Debug, Default)]
pub struct IdempotencyKey(pub String);

/// Longest idempotency key accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;

impl FromRequestParts<Arc<Gateway>> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<Gateway>) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self::default());
        };
        let key = value
            .to_str()
            .ok()
            .filter(|key| {
                (1..=MAX_IDEMPOTENCY_KEY).contains(&key.len())
                    && key.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                ApiError::invalid("Idempotency-Key must be 1 to 255 visible ASCII characters")
            })?;
        Ok(Self(key.to_owned()))
    }
}

/// A conversation to start.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    /// `web`, `widget`, `sms`, `phone` or `email`.
    #[schema(example = "web")]
    channel: String,
    /// The tenant's customer, when known (`cus_...`).
    #[serde(default)]
    customer_id: Option<String>,
    /// The customer's first message, decided by the gate like every other.
    #[serde(default)]
    text: Option<String>,
    /// The customer agreed that a transcript be kept after the
    /// conversation closes.
    #[serde(default)]
    transcript_consent: bool,
}

/// What the gate decided about a customer message, and on what grounds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceiptView {
    /// `ai_answer` or `handoff`.
    #[schema(value_type = String, example = "handoff")]
    action: &'static str,
    intents: Vec<String>,
    #[schema(value_type = String, example = "critical")]
    severity: &'static str,
    reasons: Vec<String>,
    /// The rules and model signals that fired.
    signals: Vec<String>,
    /// The policy version the decision was made under (0: built in).
    policy_version: u32,
    /// The detected language.
    language: String,
    decided_at: String,
}

impl From<Receipt> for ReceiptView {
    fn from(receipt: Receipt) -> Self {
        Self {
            action: match receipt.action() {
                Action::AiAnswer => "ai_answer",
                Action::Handoff | Action::Unspecified => "handoff",
            },
            severity: severity_name(receipt.severity()),
            intents: receipt.intents,
            reasons: receipt.reasons,
            signals: receipt.signals,
            policy_version: receipt.policy_version,
            language: receipt.language,
            decided_at: receipt.decided_at,
        }
    }
}

/// What the guardrails found in an AI reply.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FindingView {
    /// `secret`, `card_number`, `other_customer_contact`,
    /// `forbidden_phrase`, `link`, `legal_advice`, `medical_advice`.
    kind: String,
    reason: String,
}

impl From<Finding> for FindingView {
    fn from(finding: Finding) -> Self {
        Self {
            kind: finding.kind,
            reason: finding.reason,
        }
    }
}

/// One message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    id: String,
    conversation_id: String,
    /// `customer`, `ai`, `agent` or `system`.
    author: String,
    /// The agent's user id, for agent messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    author_id: Option<String>,
    /// As delivered: masked when redacted, empty when blocked or when the
    /// transcript was not kept.
    text: String,
    /// `received` (customer), `sent`, `redacted` (sent masked) or `blocked`.
    delivery: String,
    /// Customer messages: `decided`, or `pending` while escalation could
    /// not be reached (a person has the conversation meanwhile).
    #[serde(skip_serializing_if = "Option::is_none")]
    gate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<ReceiptView>,
    /// AI replies: what the guardrails found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<FindingView>,
    created_at: String,
}

impl From<Message> for MessageView {
    fn from(message: Message) -> Self {
        Self {
            id: message.id,
            conversation_id: message.conversation_id,
            author: message.author,
            author_id: non_empty(message.author_id),
            text: message.text,
            delivery: message.delivery,
            gate: non_empty(message.gate),
            receipt: message.receipt.map(Into::into),
            findings: message.findings.into_iter().map(Into::into).collect(),
            created_at: message.created_at,
        }
    }
}

/// One conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    id: String,
    channel: String,
    /// `ai_active`, `handed_off`, `assigned`, `resolved` or `closed`.
    #[schema(example = "ai_active")]
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<String>,
    /// The agent who has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<String>,
    summary: String,
    transcript_consent: bool,
    /// The open handoff, when a person has the conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    handoff_id: Option<String>,
    started_at: String,
    updated_at: String,
    /// Oldest first; on reads of one conversation and on its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<MessageView>>,
    /// Widget conversations, on start only: the secret the visitor's
    /// browser sends (`X-Visitor-Token`) to post further messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor_token: Option<String>,
}

impl ConversationView {
    pub(crate) fn new(conversation: Conversation, with_messages: bool) -> Self {
        Self {
            id: conversation.id,
            channel: conversation.channel,
            status: conversation.status,
            customer_id: non_empty(conversation.customer_id),
            assignee: non_empty(conversation.assignee),
            summary: conversation.summary,
            transcript_consent: conversation.transcript_consent,
            handoff_id: non_empty(conversation.handoff_id),
            started_at: conversation.started_at,
            updated_at: conversation.updated_at,
            messages: with_messages
                .then(|| conversation.messages.into_iter().map(Into::into).collect()),
            visitor_token: non_empty(conversation.visitor_token),
        }
    }
}

/// `POST /v1/crm/conversations`
#[utoipa::path(
    post,
    path = "/v1/crm/conversations",
    tag = "conversations",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create answer the first one's conversation")),
    request_body = NewConversation,
    responses(
        (status = 201, description = "The conversation, with its first message and that message's decision receipt", body = ConversationView),
        (status = 400, description = "A field is missing or invalid"),
        (status = 404, description = "No such customer in the caller's tenant"),
        (status = 409, description = "The Idempotency-Key was used for a different request"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn start(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(body): JsonBody<NewConversation>,
) -> Result<(StatusCode, Json<ConversationView>), ApiError> {
    let conversation = call(
        &caller.principal,
        &gateway.backends.crm,
        StartConversationRequest {
            channel: body.channel,
            origin: String::new(),
            first_message: body.text.unwrap_or_default(),
            customer_id: body.customer_id.unwrap_or_default(),
            transcript_consent: body.transcript_consent,
            idempotency_key,
        },
        async |mut crm, request| crm.start_conversation(request).await,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ConversationView::new(conversation, true)),
    ))
}

/// Filters and page of the conversation list; unknown parameters are
/// refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// `ai_active`, `handed_off`, `assigned`, `resolved` or `closed`.
    status: Option<String>,
    /// `web`, `widget`, `sms`, `phone` or `email`.
    channel: Option<String>,
    /// `cus_...`
    customer_id: Option<String>,
    /// The assigned agent's user id.
    assignee: Option<String>,
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationList {
    /// Without their messages.
    conversations: Vec<ConversationView>,
    next_cursor: Option<String>,
}

/// `GET /v1/crm/conversations`
#[utoipa::path(
    get,
    path = "/v1/crm/conversations",
    tag = "conversations",
    params(ConversationQuery),
    responses(
        (status = 200, description = "One page of the tenant's conversations", body = ConversationList),
        (status = 400, description = "An unknown or malformed filter"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn list(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    uri: http::Uri,
) -> Result<Json<ConversationList>, ApiError> {
    let query: ConversationQuery = super::query(&uri)?;
    let page_size = page_size(query.limit)?;
    let list = call(
        &caller.principal,
        &gateway.backends.crm,
        ListConversationsRequest {
            status: query.status.unwrap_or_default(),
            channel: query.channel.unwrap_or_default(),
            customer_id: query.customer_id.unwrap_or_default(),
            assignee: query.assignee.unwrap_or_default(),
            page_size,
            cursor: query.cursor.unwrap_or_default(),
        },
        async |mut crm, request| crm.list_conversations(request).await,
    )
    .await?;
    Ok(Json(ConversationList {
        conversations: list
            .conversations
            .into_iter()
            .map(|conversation| ConversationView::new(conversation, false))
            .collect(),
        next_cursor: next_cursor(list.next_cursor),
    }))
}

/// `GET /v1/crm/conversations/{conversation_id}`
#[utoipa::path(
    get,
    path = "/v1/crm/conversations/{conversation_id}",
    tag = "conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id (cnv_...)")),
    responses(
        (status = 200, description = "The conversation with its messages, oldest first, each with its decision receipt or guardrail findings", body = ConversationView),
        (status = 404, description = "No such conversation in the caller's tenant"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn get(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(conversation_id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let conversation = call(
        &caller.principal,
        &gateway.backends.crm,
        GetConversationRequest { conversation_id },
        async |mut crm, request| crm.get_conversation(request).await,
    )
    .await?;
    Ok(Json(ConversationView::new(conversation, true)))
}

/// A message's text.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// At most 2000 characters for a customer, 4000 for a reply.
    text: String,
}

/// Who writes a message, and so which CRM call stores it.
#[derive(Debug, Clone, Copy)]
enum Author {
    Customer,
    Ai,
    Agent,
}

async fn post(
    gateway: &Gateway,
    principal: &Principal,
    author: Author,
    message: PostMessageRequest,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let crm = &gateway.backends.crm;
    let message = match author {
        Author::Customer => {
            call(principal, crm, message, async |mut crm, r| {
                crm.post_customer_message(r).await
            })
            .await?
        }
        Author::Ai => call(principal, crm, message, async |mut crm, r| {
            crm.post_ai_reply(r).await
        })
        .await
        .map_err(crate::problem::ai_frozen_or)?,
        Author::Agent => {
            call(principal, crm, message, async |mut crm, r| {
                crm.post_agent_reply(r).await
            })
            .await?
        }
    };
    Ok((StatusCode::CREATED, Json(message.into())))
}

/// `POST /v1/crm/conversations/{conversation_id}/messages`: a customer's
/// message, from an integration.
#[utoipa::path(
    post,
    path = "/v1/crm/conversations/{conversation_id}/messages",
    tag = "conversations",
    params(
        ("conversation_id" = String, Path, description = "The conversation's id (cnv_...)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried post answer the first one's message"),
    ),
    request_body = NewMessage,
    responses(
        (status = 201, description = "The message, stored and decided (its receipt); when escalation could not be reached, stored with gate `pending` and the conversation gone to a person", body = MessageView),
        (status = 400, description = "The text is empty, too long or holds control characters"),
        (status = 404, description = "No such conversation in the caller's tenant"),
        (status = 409, description = "The conversation is closed, or the Idempotency-Key was used for a different request"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn post_customer_message(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(conversation_id): Path<String>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(body): JsonBody<NewMessage>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    post(
        &gateway,
        &caller.principal,
        Author::Customer,
        PostMessageRequest {
            conversation_id,
            text: body.text,
            idempotency_key,
            visitor_token: String::new(),
        },
    )
    .await
}

/// `POST /v1/crm/conversations/{conversation_id}/ai-replies`: a reply the
/// AI proposes.
#[utoipa::path(
    post,
    path = "/v1/crm/conversations/{conversation_id}/ai-replies",
    tag = "conversations",
    params(
        ("conversation_id" = String, Path, description = "The conversation's id (cnv_...)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried post answer the first one's message"),
    ),
    request_body = NewMessage,
    responses(
        (status = 201, description = "The reply as the guardrails let it leave: `sent`, `redacted` (masked) or `blocked` (not sent), with the findings", body = MessageView),
        (status = 400, description = "The text is empty, too long or holds control characters"),
        (status = 404, description = "No such conversation in the caller's tenant"),
        (status = 409, description = "A person has this conversation (or a customer message waits for its decision): the AI stays silent until an agent hands it back; or a security incident froze the AI for the tenant (type ai-frozen) until it is restored"),
        (status = 503, description = "The guardrails could not be reached: no AI reply leaves unchecked"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn post_ai_reply(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(conversation_id): Path<String>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(body): JsonBody<NewMessage>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    post(
        &gateway,
        &caller.principal,
        Author::Ai,
        PostMessageRequest {
            conversation_id,
            text: body.text,
            idempotency_key,
            visitor_token: String::new(),
        },
    )
    .await
}

/// `POST /v1/crm/conversations/{conversation_id}/agent-replies`: a
/// signed-in agent answers.
#[utoipa::path(
    post,
    path = "/v1/crm/conversations/{conversation_id}/agent-replies",
    tag = "conversations",
    params(
        ("conversation_id" = String, Path, description = "The conversation's id (cnv_...)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried post answer the first one's message"),
    ),
    request_body = NewMessage,
    responses(
        (status = 201, description = "The agent's reply, sent", body = MessageView),
        (status = 400, description = "The text is empty, too long or holds control characters"),
        (status = 403, description = "Not a tenant's agent, manager or owner"),
        (status = 404, description = "No such conversation in the caller's tenant"),
        (status = 409, description = "The conversation is closed"),
    ),
    security(("session" = [])),
)]
pub async fn post_agent_reply(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantUserCaller,
    Path(conversation_id): Path<String>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(body): JsonBody<NewMessage>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    post(
        &gateway,
        &caller.principal,
        Author::Agent,
        PostMessageRequest {
            conversation_id,
            text: body.text,
            idempotency_key,
            visitor_token: String::new(),
        },
    )
    .await
}

/// A conversation's summary.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// At most 4000 characters.
    summary: String,
}

/// `PUT /v1/crm/conversations/{conversation_id}/summary`
#[utoipa::path(
    put,
    path = "/v1/crm/conversations/{conversation_id}/summary",
    tag = "conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id (cnv_...)")),
    request_body = Summary,
    responses(
        (status = 200, description = "The conversation, with its new summary", body = ConversationView),
        (status = 400, description = "The summary is too long or holds control characters"),
        (status = 404, description = "No such conversation in the caller's tenant"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn set_summary(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(conversation_id): Path<String>,
    JsonBody(body): JsonBody<Summary>,
) -> Result<Json<ConversationView>, ApiError> {
    let conversation = call(
        &caller.principal,
        &gateway.backends.crm,
        SetSummaryRequest {
            conversation_id,
            summary: body.summary,
        },
        async |mut crm, request| crm.set_summary(request).await,
    )
    .await?;
    Ok(Json(ConversationView::new(conversation, false)))
}
