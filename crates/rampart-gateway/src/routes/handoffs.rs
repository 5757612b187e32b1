//! The handoff queue: conversations a person must answer, by severity and
//! due time.
//!
//! A step (claim, resolve, hand back) is taken by escalation's queue first,
//! then followed by the conversation in the CRM. The order matters: if the
//! second call fails, the conversation is still with a person (escalation's
//! answer is what keeps the AI silent), never with the AI by mistake; both
//! steps are idempotent, so the client retries the same request.
//!
//! `GET /v1/handoffs/stream` is the queue as server-sent events, for the
//! console: new handoffs appear without a reload ([`stream`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use http::Uri;
use http::request::Parts;
use rampart_kit::principal::Principal;
use rampart_proto::crm::v1::SetConversationStatusRequest;
use rampart_proto::escalation::v1::{Handoff, HandoffRequest, ListHandoffsRequest, Severity};
use serde::{Deserialize, Serialize};

use super::escalation::severity_name;
use super::page::{next_cursor, non_empty, page_size};
use super::query;
use crate::Gateway;
use crate::authn::{TenantCaller, TenantUserCaller};
use crate::backends::call;
use crate::problem::ApiError;

/// One handoff.
#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HandoffView {
    id: String,
    conversation_id: String,
    /// The message that opened it.
    message_id: String,
    /// `open`, `claimed`, `resolved` or `handed_back`.
    #[schema(example = "open")]
    status: String,
    #[schema(value_type = String, example = "critical")]
    severity: &'static str,
    intents: Vec<String>,
    reasons: Vec<String>,
    /// The escalation level reached, from 1.
    level: u32,
    /// The claiming agent's user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<String>,
    opened_at: String,
    /// When a person must have answered.
    due_at: String,
    /// Open past its due time.
    overdue: bool,
    /// When the next escalation step fires, if one is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_escalation_at: Option<String>,
    /// The policy version it started with.
    policy_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_at: Option<String>,
}

impl From<Handoff> for HandoffView {
    fn from(handoff: Handoff) -> Self {
        Self {
            severity: severity_name(handoff.severity()),
            id: handoff.id,
            conversation_id: handoff.conversation_id,
            message_id: handoff.message_id,
            status: handoff.status,
            intents: handoff.intents,
            reasons: handoff.reasons,
            level: handoff.level,
            assignee: non_empty(handoff.assignee),
            opened_at: handoff.opened_at,
            due_at: handoff.due_at,
            overdue: handoff.overdue,
            next_escalation_at: non_empty(handoff.next_escalation_at),
            policy_version: handoff.policy_version,
            closed_at: non_empty(handoff.closed_at),
        }
    }
}

/// Filters and page of the queue; unknown parameters are refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HandoffQuery {
    /// `open`, `claimed`, `resolved` or `handed_back`; default: open and
    /// claimed.
    status: Option<String>,
    /// Only this severity or higher: `low`, `medium`, `high`, `critical`.
    min_severity: Option<String>,
    /// `cnv_...`
    conversation_id: Option<String>,
    /// Only handoffs claimed by this user id.
    assignee: Option<String>,
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
}

#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HandoffList {
    /// Highest severity first, then soonest due.
    handoffs: Vec<HandoffView>,
    next_cursor: Option<String>,
}

/// `GET /v1/handoffs`
#[utoipa::path(
    get,
    path = "/v1/handoffs",
    tag = "handoffs",
    params(HandoffQuery),
    responses(
        (status = 200, description = "One page of the queue, highest severity first, then soonest due", body = HandoffList),
        (status = 400, description = "An unknown or malformed filter"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn list(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    uri: Uri,
) -> Result<Json<HandoffList>, ApiError> {
    let query: HandoffQuery = query(&uri)?;
    queue(&gateway, &caller.principal, query).await.map(Json)
}

/// One page of the queue for `principal`.
async fn queue(
    gateway: &Gateway,
    principal: &Principal,
    query: HandoffQuery,
) -> Result<HandoffList, ApiError> {
    let page_size = page_size(query.limit)?;
    let min_severity = match query.min_severity.as_deref() {
        None => Severity::Unspecified,
        Some("low") => Severity::Low,
        Some("medium") => Severity::Medium,
        Some("high") => Severity::High,
        Some("critical") => Severity::Critical,
        Some(_) => {
            return Err(ApiError::invalid(
                "min_severity must be low, medium, high or critical",
            ));
        }
    };
    let list = call(
        principal,
        &gateway.backends.handoffs,
        ListHandoffsRequest {
            status: query.status.unwrap_or_default(),
            min_severity: min_severity.into(),
            conversation_id: query.conversation_id.unwrap_or_default(),
            assignee: query.assignee.unwrap_or_default(),
            page_size,
            cursor: query.cursor.unwrap_or_default(),
        },
        async |mut handoffs, request| handoffs.list_handoffs(request).await,
    )
    .await?;
    Ok(HandoffList {
        handoffs: list.handoffs.into_iter().map(Into::into).collect(),
        next_cursor: next_cursor(list.next_cursor),
    })
}

/// How often a stream looks at the queue again.
const STREAM_TICK: Duration = Duration::from_secs(2);
/// How long one stream lasts; the browser's `EventSource` reconnects by
/// itself, and so signs in again through the usual checks.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

/// `GET /v1/handoffs/stream`: the open and claimed queue (the first 100,
/// highest severity first, then soonest due) as server-sent events: a
/// `queue` event with the whole list at once and whenever it changes, a
/// comment every 15 s otherwise, and an `end` event when the stream stops:
/// `{"reason": "reconnect"}` after five minutes, or `{"reason": "refused",
/// "status", "detail"}` when the caller or the queue is refused.
///
/// Every look at the queue checks the caller again exactly as a new
/// request would (the credential, its revocation, the tenant's access,
/// the rate limits), so a revoked session or key, or a contained tenant,
/// stops receiving within one tick. Each tick counts against the
/// credential's and the address's limits like one request: about 30 a
/// minute for each open console.
#[utoipa::path(
    get,
    path = "/v1/handoffs/stream",
    tag = "handoffs",
    responses(
        (status = 200, description = "text/event-stream: `queue` events carrying a HandoffList, and an `end` event when the stream stops", body = HandoffList, content_type = "text/event-stream"),
    ),
    security(("session" = []), ("tenant_api_key" = [])),
)]
pub async fn stream(
    State(gateway): State<Arc<Gateway>>,
    request: Request,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (mut parts, _) = request.into_parts();
    let caller = TenantCaller::from_request_parts(&mut parts, &gateway).await?;
    let first = queue(&gateway, &caller.principal, HandoffQuery::default()).await?;
    let state = Watch {
        gateway,
        parts,
        last: None,
        pending: Some(first),
        ends: tokio::time::Instant::now() + STREAM_LIFETIME,
        done: false,
    };
    let events = futures::stream::unfold(state, |mut watch| async move {
        let event = watch.next().await?;
        Some((Ok(event), watch))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One stream's state: the request to check again, the last list sent.
struct Watch {
    gateway: Arc<Gateway>,
    parts: Parts,
    last: Option<HandoffList>,
    pending: Option<HandoffList>,
    ends: tokio::time::Instant,
    done: bool,
}

impl Watch {
    /// The next event, waiting as long as the queue does not change;
    /// `None` after the `end` event.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if self.done {
                return None;
            }
            if let Some(list) = self.pending.take() {
                let event = Event::default().event("queue").json_data(&list).ok();
                self.last = Some(list);
                if let Some(event) = event {
                    return Some(event);
                }
            }
            if tokio::time::Instant::now() + STREAM_TICK > self.ends {
                return Some(self.end(serde_json::json!({ "reason": "reconnect" })));
            }
            tokio::time::sleep(STREAM_TICK).await;
            let mut parts = self.parts.clone();
            let caller = match TenantCaller::from_request_parts(&mut parts, &self.gateway).await {
                Ok(caller) => caller,
                Err(error) => return Some(self.refused(&error)),
            };
            match queue(&self.gateway, &caller.principal, HandoffQuery::default()).await {
                Ok(list) if self.last.as_ref() != Some(&list) => self.pending = Some(list),
                Ok(_) => {}
                Err(error) => return Some(self.refused(&error)),
            }
        }
    }

    fn refused(&mut self, error: &ApiError) -> Event {
        self.end(serde_json::json!({
            "reason": "refused",
            "status": error.status.as_u16(),
            "detail": error.detail,
        }))
    }

    fn end(&mut self, why: serde_json::Value) -> Event {
        self.done = true;
        Event::default().event("end").data(why.to_string())
    }
}

/// `GET /v1/handoffs/{handoff_id}`
#[utoipa::path(
    get,
    path = "/v1/handoffs/{handoff_id}",
    tag = "handoffs",
    params(("handoff_id" = String, Path, description = "The handoff's id (hof_...)")),
    responses(
        (status = 200, description = "The handoff", body = HandoffView),
        (status = 404, description = "No such handoff in the caller's tenant"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn get(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(handoff_id): Path<String>,
) -> Result<Json<HandoffView>, ApiError> {
    let handoff = call(
        &caller.principal,
        &gateway.backends.handoffs,
        HandoffRequest { handoff_id },
        async |mut handoffs, request| handoffs.get_handoff(request).await,
    )
    .await?;
    Ok(Json(handoff.into()))
}

/// Which step, and what the conversation becomes after it.
#[derive(Debug, Clone, Copy)]
enum Step {
    Claim,
    Resolve,
    HandBack,
}

async fn take_step(
    gateway: &Gateway,
    principal: &Principal,
    handoff_id: String,
    step: Step,
) -> Result<Json<HandoffView>, ApiError> {
    let request = HandoffRequest { handoff_id };
    let client = &gateway.backends.handoffs;
    let handoff = match step {
        Step::Claim => {
            call(principal, client, request, async |mut h, r| {
                h.claim_handoff(r).await
            })
            .await?
        }
        Step::Resolve => {
            call(principal, client, request, async |mut h, r| {
                h.resolve_handoff(r).await
            })
            .await?
        }
        Step::HandBack => {
            call(principal, client, request, async |mut h, r| {
                h.hand_back(r).await
            })
            .await?
        }
    };
    let status = match step {
        Step::Claim => "assigned",
        Step::Resolve => "resolved",
        Step::HandBack => "ai_active",
    };
    call(
        principal,
        &gateway.backends.crm,
        SetConversationStatusRequest {
            conversation_id: handoff.conversation_id.clone(),
            status: status.to_owned(),
            assignee: handoff.assignee.clone(),
            handoff_id: handoff.id.clone(),
        },
        async |mut crm, request| crm.set_conversation_status(request).await,
    )
    .await?;
    Ok(Json(handoff.into()))
}

/// `POST /v1/handoffs/{handoff_id}/claim`: the signed-in agent takes it;
/// escalation stops, and the conversation is assigned to them.
#[utoipa::path(
    post,
    path = "/v1/handoffs/{handoff_id}/claim",
    tag = "handoffs",
    params(("handoff_id" = String, Path, description = "The handoff's id (hof_...)")),
    responses(
        (status = 200, description = "The handoff, claimed by the caller (claiming it again answers it as it is)", body = HandoffView),
        (status = 403, description = "Not a tenant's agent, manager or owner"),
        (status = 404, description = "No such handoff in the caller's tenant"),
        (status = 409, description = "Someone else claimed it (a manager or owner may take it over), or it is closed"),
    ),
    security(("session" = [])),
)]
pub async fn claim(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantUserCaller,
    Path(handoff_id): Path<String>,
) -> Result<Json<HandoffView>, ApiError> {
    take_step(&gateway, &caller.principal, handoff_id, Step::Claim).await
}

/// `POST /v1/handoffs/{handoff_id}/resolve`: a person settled it.
#[utoipa::path(
    post,
    path = "/v1/handoffs/{handoff_id}/resolve",
    tag = "handoffs",
    params(("handoff_id" = String, Path, description = "The handoff's id (hof_...)")),
    responses(
        (status = 200, description = "The handoff, resolved; the conversation too", body = HandoffView),
        (status = 403, description = "Not a tenant's agent, manager or owner"),
        (status = 404, description = "No such handoff in the caller's tenant"),
        (status = 409, description = "It is closed already"),
    ),
    security(("session" = [])),
)]
pub async fn resolve(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantUserCaller,
    Path(handoff_id): Path<String>,
) -> Result<Json<HandoffView>, ApiError> {
    take_step(&gateway, &caller.principal, handoff_id, Step::Resolve).await
}

/// `POST /v1/handoffs/{handoff_id}/hand-back`: the conversation goes back
/// to the AI.
#[utoipa::path(
    post,
    path = "/v1/handoffs/{handoff_id}/hand-back",
    tag = "handoffs",
    params(("handoff_id" = String, Path, description = "The handoff's id (hof_...)")),
    responses(
        (status = 200, description = "The handoff, closed; the AI may answer the conversation again", body = HandoffView),
        (status = 403, description = "Not a tenant's agent, manager or owner"),
        (status = 404, description = "No such handoff in the caller's tenant"),
        (status = 409, description = "Not claimed by the caller (a manager or owner may hand back any), or closed"),
    ),
    security(("session" = [])),
)]
pub async fn hand_back(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantUserCaller,
    Path(handoff_id): Path<String>,
) -> Result<Json<HandoffView>, ApiError> {
    take_step(&gateway, &caller.principal, handoff_id, Step::HandBack).await
}
