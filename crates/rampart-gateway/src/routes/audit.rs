//! The tenant's own audit log.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use rampart_proto::audit::v1::{ListEventsRequest, StoredEvent};
use serde::Serialize;

use super::{BackendAnswer, Page, TenantCaller, next_cursor, with_principal};
use crate::Gateway;
use crate::problem::ApiError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    sequence: u64,
    event_id: String,
    actor: String,
    credential_id: String,
    action: String,
    target: String,
    occurred_at: String,
    service: String,
    request_id: String,
    outcome: String,
    chain_hash: String,
}

impl EventView {
    fn from_stored(stored: StoredEvent) -> Option<Self> {
        let event = stored.event?;
        Some(Self {
            sequence: stored.sequence,
            event_id: event.event_id,
            actor: event.actor,
            credential_id: event.credential_id,
            action: event.action,
            target: event.target,
            occurred_at: event.occurred_at,
            service: event.service,
            request_id: event.request_id,
            outcome: event.outcome,
            chain_hash: stored.chain_hash,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventList {
    events: Vec<EventView>,
    next_cursor: Option<String>,
}

/// `GET /v1/owner/audit?limit=&cursor=`: only the caller's tenant's log.
#[utoipa::path(
    get,
    path = "/v1/owner/audit",
    tag = "audit",
    params(super::Page),
    responses((status = 200, description = "One page of the tenant's audit events, oldest first", body = EventList)),
    security(("tenant_api_key" = [])),
)]
pub async fn list_events(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    page: Page,
) -> Result<Json<EventList>, ApiError> {
    let request = with_principal(
        &caller.principal,
        ListEventsRequest {
            page_size: page.size(),
            cursor: page.cursor(),
        },
    )?;
    let list = gateway
        .backends
        .audit
        .clone()
        .list_events(request)
        .await
        .answer("audit")?;
    Ok(Json(EventList {
        events: list
            .events
            .into_iter()
            .filter_map(EventView::from_stored)
            .collect(),
        next_cursor: next_cursor(list.next_cursor),
    }))
}
