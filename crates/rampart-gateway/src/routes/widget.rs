//! The website widget: the routes a public widget key may call (start a
//! conversation, post in it, read it), and the CORS answers that let a
//! browser call them.
//!
//! CORS is granted per origin, never with `*`: a preflight (which carries no
//! key) is answered for origins that some active widget key lists, and the
//! request itself must come from an origin of the very key it presents.
//! Every other route sends no CORS headers, so browsers keep other sites'
//! pages away from them.
//!
//! Posting and reading need the conversation's visitor token as well as the
//! key: the key is public (any page can copy it), the token is held by the
//! one browser that started the conversation. Another visitor's token, or
//! none, reads nothing (404, like an unknown conversation).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use rampart_proto::auth::v1::IsWidgetOriginRequest;
use rampart_proto::crm::v1::{
    ListVisitorMessagesRequest, PostMessageRequest, StartConversationRequest,
};
use rampart_proto::escalation::v1::Action;
use serde::{Deserialize, Serialize};

use super::page::non_empty;
use crate::Gateway;
use crate::authn::WidgetCaller;
use crate::backends::{call, send};
use crate::json_body::JsonBody;
use crate::problem::ApiError;
use crate::routes::query;

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "600";
/// How long this gateway remembers auth's answer about an origin.
const ORIGIN_TTL: Duration = Duration::from_secs(30);

/// A conversation a website visitor starts.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    /// The visitor's first message, if any: at most 2000 characters, no
    /// control characters other than line breaks and tabs.
    #[serde(default)]
    text: Option<String>,
    /// The visitor agreed that a transcript be kept after the
    /// conversation closes.
    #[serde(default)]
    transcript_consent: bool,
}

/// A started conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StartedConversation {
    conversation_id: String,
    /// RFC 3339.
    started_at: String,
    /// `ai_active`, or `handed_off` when the first message goes to a
    /// person.
    #[schema(example = "ai_active")]
    status: String,
    /// The secret this browser sends as `X-Visitor-Token` to post further
    /// messages; shown once.
    visitor_token: String,
    /// When the first message went to a person: when one will have
    /// answered at the latest (RFC 3339), from the business's response
    /// targets. Absent otherwise, or when the time is not known yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "2026-03-02T09:15:00Z")]
    expected_response_by: Option<String>,
}

/// A visitor's message in a started conversation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorMessage {
    /// At most 2000 characters, no control characters other than line
    /// breaks and tabs.
    text: String,
}

/// A visitor's message, as the widget sees it: no decision details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PostedMessage {
    message_id: String,
    /// `ai_active`, or `handed_off` when a person will answer.
    #[schema(example = "handed_off")]
    status: String,
    /// RFC 3339.
    created_at: String,
    /// When the message went to a person: when one will have answered at
    /// the latest (RFC 3339), from the business's response targets. Absent
    /// otherwise, or when the time is not known yet (the message waits for
    /// its decision).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "2026-03-02T09:15:00Z")]
    expected_response_by: Option<String>,
}

/// `POST /v1/widget/conversations`, with `X-Widget-Key` from an allowed
/// origin. The browser's CORS preflight (`OPTIONS`) is not in the document.
#[utoipa::path(
    post,
    path = "/v1/widget/conversations",
    tag = "widget",
    params(("Origin" = String, Header, description = "The page's web origin, as the browser sends it; one of the widget key's allowed origins")),
    request_body(content = Option<NewConversation>, description = "Optional: the visitor's first message"),
    responses(
        (status = 201, description = "The conversation, started; when the first message went to a person, when one will have answered (`expected_response_by`); the answer allows the caller's origin (CORS)", body = StartedConversation),
        (status = 400, description = "The first message is too long or holds control characters"),
        (status = 401, description = "The widget key is missing, malformed, unknown, revoked or expired, or a secret key was sent (a secret key must never be put in a web page)"),
        (status = 403, description = "No Origin, or an origin the widget key does not allow"),
    ),
    security(("widget_key" = [])),
)]
pub async fn start_conversation(
    State(gateway): State<Arc<Gateway>>,
    caller: WidgetCaller,
    body: Option<JsonBody<NewConversation>>,
) -> Result<Response, ApiError> {
    let body = body.map(|JsonBody(body)| body).unwrap_or_default();
    let conversation = call(
        &caller.principal,
        &gateway.backends.crm,
        StartConversationRequest {
            channel: "widget".to_owned(),
            origin: caller.origin.clone(),
            first_message: body.text.unwrap_or_default(),
            transcript_consent: body.transcript_consent,
            ..Default::default()
        },
        async |mut crm, request| crm.start_conversation(request).await,
    )
    .await?;
    // Only the due time leaves: the receipt and the handoff stay internal.
    let expected_response_by = conversation
        .messages
        .first()
        .and_then(|first| non_empty(first.handoff_due_at.clone()));
    let mut response = (
        StatusCode::CREATED,
        Json(StartedConversation {
            conversation_id: conversation.id,
            started_at: conversation.started_at,
            status: conversation.status,
            visitor_token: conversation.visitor_token,
            expected_response_by,
        }),
    )
        .into_response();
    allow_origin(response.headers_mut(), &caller.origin);
    Ok(response)
}

/// `POST /v1/widget/conversations/{conversation_id}/messages`, with
/// `X-Widget-Key` from an allowed origin and the conversation's
/// `X-Visitor-Token`.
#[utoipa::path(
    post,
    path = "/v1/widget/conversations/{conversation_id}/messages",
    tag = "widget",
    params(
        ("conversation_id" = String, Path, description = "The conversation the widget started (cnv_...)"),
        ("Origin" = String, Header, description = "The page's web origin; one of the widget key's allowed origins"),
        ("X-Visitor-Token" = String, Header, description = "The visitor token the start answered"),
    ),
    request_body = VisitorMessage,
    responses(
        (status = 201, description = "The message, received and decided; the status says whether a person will answer, and `expected_response_by` by when", body = PostedMessage),
        (status = 400, description = "The text is empty, too long or holds control characters"),
        (status = 401, description = "The widget key is missing, malformed, unknown, revoked or expired, or a secret key was sent"),
        (status = 403, description = "No Origin, or an origin the widget key does not allow"),
        (status = 404, description = "No such conversation for this visitor (a wrong or missing visitor token answers the same)"),
        (status = 409, description = "The conversation is closed"),
    ),
    security(("widget_key" = [])),
)]
pub async fn post_message(
    State(gateway): State<Arc<Gateway>>,
    caller: WidgetCaller,
    Path(conversation_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<VisitorMessage>,
) -> Result<Response, ApiError> {
    let visitor_token = headers
        .get("x-visitor-token")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let message = call(
        &caller.principal,
        &gateway.backends.crm,
        PostMessageRequest {
            conversation_id: conversation_id.clone(),
            text: body.text,
            idempotency_key: String::new(),
            visitor_token,
        },
        async |mut crm, request| crm.post_customer_message(request).await,
    )
    .await?;
    // A decided handoff, or a gate that could not decide: a person answers.
    let handed_off = message.gate == "pending"
        || message
            .receipt
            .as_ref()
            .is_some_and(|receipt| receipt.action() == Action::Handoff);
    let mut response = (
        StatusCode::CREATED,
        Json(PostedMessage {
            message_id: message.id,
            status: if handed_off {
                "handed_off"
            } else {
                "ai_active"
            }
            .to_owned(),
            created_at: message.created_at,
            expected_response_by: non_empty(message.handoff_due_at),
        }),
    )
        .into_response();
    allow_origin(response.headers_mut(), &caller.origin);
    Ok(response)
}

/// Which messages the widget asks for.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// The last message id the widget shows: only newer ones are answered.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    after: Option<String>,
}

/// A message as the visitor sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VisibleMessage {
    message_id: String,
    /// `customer` (the visitor), `ai` or `agent`.
    #[schema(example = "agent")]
    author: String,
    /// As delivered (masked where the guardrails redacted it).
    text: String,
    /// RFC 3339.
    created_at: String,
}

/// The visitor's conversation, as the widget polls it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VisitorMessages {
    /// `ai_active`, `handed_off` (a person will answer), `assigned` (a
    /// person has it), `resolved` or `closed`.
    #[schema(example = "assigned")]
    status: String,
    /// Oldest first; replies the guardrails blocked are left out.
    messages: Vec<VisibleMessage>,
}

/// `GET /v1/widget/conversations/{conversation_id}/messages`, with
/// `X-Widget-Key` from an allowed origin and the conversation's
/// `X-Visitor-Token`: the replies the visitor has not seen yet (the
/// widget polls it).
#[utoipa::path(
    get,
    path = "/v1/widget/conversations/{conversation_id}/messages",
    tag = "widget",
    params(
        ("conversation_id" = String, Path, description = "The conversation the widget started (cnv_...)"),
        ("Origin" = String, Header, description = "The page's web origin; one of the widget key's allowed origins"),
        ("X-Visitor-Token" = String, Header, description = "The visitor token the start answered"),
        AfterQuery,
    ),
    responses(
        (status = 200, description = "The conversation's status and its messages after `after`; the answer allows the caller's origin (CORS)", body = VisitorMessages),
        (status = 400, description = "An unknown query parameter"),
        (status = 401, description = "The widget key is missing, malformed, unknown, revoked or expired, or a secret key was sent"),
        (status = 403, description = "No Origin, or an origin the widget key does not allow"),
        (status = 404, description = "No such conversation for this visitor (a wrong or missing visitor token answers the same)"),
    ),
    security(("widget_key" = [])),
)]
pub async fn list_messages(
    State(gateway): State<Arc<Gateway>>,
    caller: WidgetCaller,
    Path(conversation_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let after: AfterQuery = query(&uri)?;
    let visitor_token = headers
        .get("x-visitor-token")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let answer = call(
        &caller.principal,
        &gateway.backends.crm,
        ListVisitorMessagesRequest {
            conversation_id,
            visitor_token,
            after: after.after.unwrap_or_default(),
        },
        async |mut crm, request| crm.list_visitor_messages(request).await,
    )
    .await?;
    let mut response = Json(VisitorMessages {
        status: answer.status,
        messages: answer
            .messages
            .into_iter()
            .map(|message| VisibleMessage {
                message_id: message.id,
                author: message.author,
                text: message.text,
                created_at: message.created_at,
            })
            .collect(),
    })
    .into_response();
    allow_origin(response.headers_mut(), &caller.origin);
    Ok(response)
}

/// Whether the widget may run on the calling page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Availability {
    /// Always true in a 200 answer; a page the key does not allow gets 403
    /// with no CORS headers, which its browser reports as a failed fetch.
    available: bool,
}

/// `GET /v1/widget/availability`, with `X-Widget-Key` from an allowed
/// origin: lets the widget say "chat unavailable" before the visitor
/// writes, without starting a conversation.
#[utoipa::path(
    get,
    path = "/v1/widget/availability",
    tag = "widget",
    params(("Origin" = String, Header, description = "The page's web origin; one of the widget key's allowed origins")),
    responses(
        (status = 200, description = "The key works from this origin; the answer allows the caller's origin (CORS)", body = Availability),
        (status = 401, description = "The widget key is missing, malformed, unknown, revoked or expired, or a secret key was sent"),
        (status = 403, description = "No Origin, or an origin the widget key does not allow"),
    ),
    security(("widget_key" = [])),
)]
pub async fn availability(caller: WidgetCaller) -> Response {
    let mut response = Json(Availability { available: true }).into_response();
    allow_origin(response.headers_mut(), &caller.origin);
    response
}

/// `OPTIONS /v1/widget/conversations`: the browser's preflight.
pub async fn preflight(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let origin = text(header::ORIGIN)
        .ok_or_else(|| ApiError::forbidden("a CORS preflight must carry an Origin"))?;
    if !matches!(
        text(header::ACCESS_CONTROL_REQUEST_METHOD).as_deref(),
        Some("POST" | "GET")
    ) {
        return Err(ApiError::forbidden(
            "the widget routes take GET and POST only",
        ));
    }
    let requested = text(header::ACCESS_CONTROL_REQUEST_HEADERS).unwrap_or_default();
    let unexpected = requested
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .find(|name| {
            !name.is_empty()
                && name != "content-type"
                && name != "x-widget-key"
                && name != "x-visitor-token"
        });
    if let Some(name) = unexpected {
        return Err(ApiError::forbidden(format!(
            "the widget route does not accept the {name} header"
        )));
    }
    if !gateway.widget_origins.allows(&gateway, &origin).await? {
        return Err(ApiError::forbidden(
            "this origin is not an allowed widget origin",
        ));
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow_origin(headers, &origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-widget-key, x-visitor-token"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    Ok(response)
}

fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Auth's recent answers to "is this a widget origin?", so a burst of
/// preflights costs one lookup.
pub struct WidgetOrigins {
    answers: quick_cache::sync::Cache<String, (bool, Instant)>,
}

impl Default for WidgetOrigins {
    fn default() -> Self {
        Self {
            answers: quick_cache::sync::Cache::new(10_000),
        }
    }
}

impl WidgetOrigins {
    async fn allows(&self, gateway: &Gateway, origin: &str) -> Result<bool, ApiError> {
        if let Some((allowed, at)) = self.answers.get(origin)
            && at.elapsed() < ORIGIN_TTL
        {
            return Ok(allowed);
        }
        let answer = send(
            &gateway.backends.auth,
            tonic::Request::new(IsWidgetOriginRequest {
                origin: origin.to_owned(),
            }),
            async |mut auth, request| auth.is_widget_origin(request).await,
        )
        .await?;
        self.answers
            .insert(origin.to_owned(), (answer.allowed, Instant::now()));
        Ok(answer.allowed)
    }
}
