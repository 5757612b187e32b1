//! The audit log at the edge.
//!
//! Tenant routes (`/v1/owner/audit...`, a tenant credential) read only the
//! caller's tenant's log. Admin routes (`/v1/admin/audit...`, the admin key)
//! read the platform log, or a tenant's with `?log=ten_...` (incident
//! response). The public key is published without authentication: it is
//! what lets anyone check a checkpoint.
//!
//! | route | what |
//! |---|---|
//! | `GET .../audit` | events, filtered by `actor`, `action`, `target`, `since`, `until`; `limit`, `cursor` |
//! | `GET .../audit/checkpoint` | the latest signed checkpoint; `?fresh=true` signs one now if the log grew |
//! | `GET .../audit/proofs/inclusion?event_id=&tree_size=` | an inclusion proof |
//! | `GET .../audit/proofs/consistency?from_size=&to_size=` | a consistency proof |
//! | `GET .../audit/export?from=&to=&previous_size=` | JSON lines, for `rampart audit verify` |
//! | `GET /v1/audit/public-key` | the checkpoint signing key |

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{Uri, header};
use rampart_kit::principal::Principal;
use rampart_proto::audit::v1::{
    self as proto, ConsistencyProofRequest, ExportRequest, GetCheckpointRequest,
    GetPublicKeyRequest, InclusionProofRequest, ListEventsRequest, LogSelector, StoredEvent,
};
use serde::{Deserialize, Serialize};

use super::page::{next_cursor, page_size};
use super::query;
use crate::Gateway;
use crate::authn::{AdminCaller, TenantCaller};
use crate::backends::{call, send};
use crate::problem::ApiError;

/// One audit event, with its place in the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// The event's index in its log, from 0.
    sequence: u64,
    /// A UUID.
    event_id: String,
    /// Who acted, e.g. `user:usr_...`, `api_key:key_...`.
    actor: String,
    /// The key or session used.
    credential_id: String,
    /// What happened, e.g. `api_key.issued`.
    action: String,
    /// What it happened to, e.g. `api_key:key_...`.
    target: String,
    /// RFC 3339.
    occurred_at: String,
    /// The service that recorded it.
    service: String,
    request_id: String,
    /// `success` or `failure`.
    outcome: String,
    client_addr: String,
    /// Further facts, by name.
    details: std::collections::BTreeMap<String, String>,
    schema_version: u32,
    /// Hex: the event's Merkle leaf hash.
    leaf_hash: String,
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
            client_addr: event.client_addr,
            details: event.details.into_iter().collect(),
            schema_version: event.schema_version,
            leaf_hash: stored.leaf_hash,
        })
    }
}

/// One page of events, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventList {
    events: Vec<EventView>,
    /// The `cursor` of the next page; null on the last page.
    next_cursor: Option<String>,
}

/// A signed statement of the log's size and Merkle root.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    /// `platform` or a tenant's id.
    log_id: String,
    /// How many events the log held.
    size: u64,
    /// Hex.
    root_hash: String,
    /// RFC 3339.
    timestamp: String,
    /// The signing key's id (see `GET /v1/audit/public-key`).
    key_id: String,
    /// Base64, as in exports.
    signature: String,
}

impl From<proto::Checkpoint> for CheckpointView {
    fn from(checkpoint: proto::Checkpoint) -> Self {
        use base64::Engine;
        Self {
            signature: base64::engine::general_purpose::STANDARD.encode(&checkpoint.signature),
            log_id: checkpoint.log_id,
            size: checkpoint.size,
            root_hash: checkpoint.root_hash,
            timestamp: checkpoint.timestamp,
            key_id: checkpoint.key_id,
        }
    }
}

/// A proof that an event is in the log at a given size (RFC 9162).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InclusionView {
    log_id: String,
    /// The event's index in the log.
    index: u64,
    tree_size: u64,
    /// Hex.
    leaf_hash: String,
    /// Hex hashes, leaf to root.
    proof: Vec<String>,
    /// The checkpoint at `tree_size`, when one was signed at that size.
    checkpoint: Option<CheckpointView>,
}

/// A proof that the log at `to_size` extends the log at `from_size`
/// (RFC 9162).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsistencyView {
    log_id: String,
    from_size: u64,
    to_size: u64,
    /// Hex hashes.
    proof: Vec<String>,
    /// The checkpoint at `to_size`, when one was signed at that size.
    checkpoint: Option<CheckpointView>,
}

/// The key checkpoints are signed with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicKeyView {
    /// `Ed25519`.
    algorithm: String,
    key_id: String,
    /// Hex.
    public_key: String,
    /// The same key as PEM.
    pem: String,
}

/// Query parameters of each route: unknown ones are refused, so a typo is
/// an error rather than a silently ignored filter.
///
/// `log` (platform admins only) is documented on the admin routes alone: a
/// tenant naming it is refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(ignore)]
    log: Option<String>,
    /// Page size, 1 to 100; default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]*$")]
    cursor: Option<String>,
    /// Only events by this actor.
    actor: Option<String>,
    /// Only events with this action.
    action: Option<String>,
    /// Only events with this target.
    target: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[param(format = DateTime)]
    until: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    #[param(ignore)]
    log: Option<String>,
    /// True signs a new checkpoint now if the log grew since the latest.
    fresh: Option<bool>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    #[param(ignore)]
    log: Option<String>,
    /// The event's id (a UUID).
    #[param(format = "uuid")]
    event_id: String,
    /// The log size to prove against, at most the log's size; default: a
    /// checkpoint signed now.
    tree_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    #[param(ignore)]
    log: Option<String>,
    /// The older size, at most `to_size`.
    from_size: u64,
    /// The newer size, at most the log's size; default: a checkpoint
    /// signed now.
    to_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    #[param(ignore)]
    log: Option<String>,
    /// The first index to export; default 0.
    from: Option<u64>,
    /// The index to stop before, at most the checkpoint's size; default the
    /// checkpoint's size.
    to: Option<u64>,
    /// A size the verifier saw before: the export then carries a
    /// consistency proof from it.
    previous_size: Option<u64>,
}

/// The caller and the log it asks for: a tenant may not name one (its own
/// log is the only one it has); an admin may.
struct Reader {
    principal: Principal,
    log: Option<LogSelector>,
}

impl Reader {
    fn tenant(caller: TenantCaller, log: Option<String>) -> Result<Self, ApiError> {
        if log.is_some() {
            return Err(ApiError::invalid(
                "log may be named only by platform admins; a tenant reads its own log",
            ));
        }
        Ok(Self {
            principal: caller.principal,
            log: None,
        })
    }

    fn admin(caller: AdminCaller, log: Option<String>) -> Self {
        Self {
            principal: caller.principal,
            log: log.map(|log_id| LogSelector { log_id }),
        }
    }
}

/// The tenant route and the admin route of one read; the attributes before
/// each name (docs, `#[utoipa::path]`) go on that handler.
macro_rules! tenant_and_admin {
    (
        $(#[$tenant_meta:meta])* $tenant:ident,
        $(#[$admin_meta:meta])* $admin:ident,
        $query:ty, $inner:ident, $out:ty
    ) => {
        $(#[$tenant_meta])*
        pub async fn $tenant(
            State(gateway): State<Arc<Gateway>>,
            caller: TenantCaller,
            uri: Uri,
        ) -> Result<$out, ApiError> {
            let query: $query = query(&uri)?;
            let reader = Reader::tenant(caller, query.log.clone())?;
            $inner(&gateway, reader, query).await
        }

        $(#[$admin_meta])*
        pub async fn $admin(
            State(gateway): State<Arc<Gateway>>,
            caller: AdminCaller,
            uri: Uri,
        ) -> Result<$out, ApiError> {
            let query: $query = query(&uri)?;
            let reader = Reader::admin(caller, query.log.clone());
            $inner(&gateway, reader, query).await
        }
    };
}

tenant_and_admin!(
    /// `GET /v1/owner/audit`: the caller's tenant's events.
    #[utoipa::path(
        get,
        path = "/v1/owner/audit",
        tag = "audit",
        params(ListQuery),
        responses(
            (status = 200, description = "One page of events", body = EventList),
            (status = 400, description = "An unknown query parameter, or an invalid limit, cursor, since or until, or the log parameter, which only platform admins may send"),
        ),
        security(("tenant_api_key" = [])),
    )]
    list_events,
    /// `GET /v1/admin/audit`: the platform's events, or a tenant's.
    #[utoipa::path(
        get,
        path = "/v1/admin/audit",
        tag = "audit",
        params(("log" = Option<String>, Query, description = "The log to read: `platform` (the default) or a tenant's id (ten_...)"), ListQuery),
        responses(
            (status = 200, description = "One page of events", body = EventList),
            (status = 400, description = "An unknown query parameter, or an invalid limit, cursor, since or until, or a log that is neither platform nor a tenant id"),
        ),
        security(("admin_api_key" = [])),
    )]
    admin_list_events,
    ListQuery,
    list,
    Json<EventList>
);

tenant_and_admin!(
    /// `GET /v1/owner/audit/checkpoint`: the latest signed checkpoint of the caller's tenant's log.
    #[utoipa::path(
        get,
        path = "/v1/owner/audit/checkpoint",
        tag = "audit",
        params(CheckpointQuery),
        responses(
            (status = 200, description = "The latest checkpoint (signed now when there is none yet, or with fresh=true and the log grew)", body = CheckpointView),
            (status = 400, description = "An unknown query parameter, or fresh is not true or false, or the log parameter, which only platform admins may send"),
        ),
        security(("tenant_api_key" = [])),
    )]
    checkpoint,
    /// `GET /v1/admin/audit/checkpoint`: the latest signed checkpoint of a log.
    #[utoipa::path(
        get,
        path = "/v1/admin/audit/checkpoint",
        tag = "audit",
        params(("log" = Option<String>, Query, description = "The log to read: `platform` (the default) or a tenant's id (ten_...)"), CheckpointQuery),
        responses(
            (status = 200, description = "The latest checkpoint (signed now when there is none yet, or with fresh=true and the log grew)", body = CheckpointView),
            (status = 400, description = "An unknown query parameter, or fresh is not true or false, or a log that is neither platform nor a tenant id"),
        ),
        security(("admin_api_key" = [])),
    )]
    admin_checkpoint,
    CheckpointQuery,
    get_checkpoint,
    Json<CheckpointView>
);

tenant_and_admin!(
    /// `GET /v1/owner/audit/proofs/inclusion`: an inclusion proof.
    #[utoipa::path(
        get,
        path = "/v1/owner/audit/proofs/inclusion",
        tag = "audit",
        params(InclusionQuery),
        responses(
            (status = 200, description = "The proof", body = InclusionView),
            (status = 400, description = "An unknown or missing query parameter, an event_id that is not a UUID, or a tree_size beyond the log or not past the event, or the log parameter, which only platform admins may send"),
            (status = 404, description = "No such event in this log"),
        ),
        security(("tenant_api_key" = [])),
    )]
    inclusion_proof,
    /// `GET /v1/admin/audit/proofs/inclusion`: an inclusion proof.
    #[utoipa::path(
        get,
        path = "/v1/admin/audit/proofs/inclusion",
        tag = "audit",
        params(("log" = Option<String>, Query, description = "The log to read: `platform` (the default) or a tenant's id (ten_...)"), InclusionQuery),
        responses(
            (status = 200, description = "The proof", body = InclusionView),
            (status = 400, description = "An unknown or missing query parameter, an event_id that is not a UUID, or a tree_size beyond the log or not past the event, or a log that is neither platform nor a tenant id"),
            (status = 404, description = "No such event in this log"),
        ),
        security(("admin_api_key" = [])),
    )]
    admin_inclusion_proof,
    InclusionQuery,
    get_inclusion,
    Json<InclusionView>
);

tenant_and_admin!(
    /// `GET /v1/owner/audit/proofs/consistency`: a consistency proof.
    #[utoipa::path(
        get,
        path = "/v1/owner/audit/proofs/consistency",
        tag = "audit",
        params(ConsistencyQuery),
        responses(
            (status = 200, description = "The proof", body = ConsistencyView),
            (status = 400, description = "An unknown or missing query parameter, a to_size beyond the log, or a from_size beyond to_size, or the log parameter, which only platform admins may send"),
        ),
        security(("tenant_api_key" = [])),
    )]
    consistency_proof,
    /// `GET /v1/admin/audit/proofs/consistency`: a consistency proof.
    #[utoipa::path(
        get,
        path = "/v1/admin/audit/proofs/consistency",
        tag = "audit",
        params(("log" = Option<String>, Query, description = "The log to read: `platform` (the default) or a tenant's id (ten_...)"), ConsistencyQuery),
        responses(
            (status = 200, description = "The proof", body = ConsistencyView),
            (status = 400, description = "An unknown or missing query parameter, a to_size beyond the log, or a from_size beyond to_size, or a log that is neither platform nor a tenant id"),
        ),
        security(("admin_api_key" = [])),
    )]
    admin_consistency_proof,
    ConsistencyQuery,
    get_consistency,
    Json<ConsistencyView>
);

tenant_and_admin!(
    /// `GET /v1/owner/audit/export`: the caller's tenant's log as JSON lines, for `rampart audit verify`.
    #[utoipa::path(
        get,
        path = "/v1/owner/audit/export",
        tag = "audit",
        params(ExportQuery),
        responses(
            (status = 200, description = "A header line (a checkpoint signed now, the proofs the range needs), then one line per event; a body cut short means the export was interrupted", content_type = "application/x-ndjson", body = String),
            (status = 400, description = "An unknown query parameter, a range outside the checkpoint's size or with from after to, or a previous_size beyond it, or the log parameter, which only platform admins may send"),
        ),
        security(("tenant_api_key" = [])),
    )]
    export,
    /// `GET /v1/admin/audit/export`: a log as JSON lines, for `rampart audit verify`.
    #[utoipa::path(
        get,
        path = "/v1/admin/audit/export",
        tag = "audit",
        params(("log" = Option<String>, Query, description = "The log to read: `platform` (the default) or a tenant's id (ten_...)"), ExportQuery),
        responses(
            (status = 200, description = "A header line (a checkpoint signed now, the proofs the range needs), then one line per event; a body cut short means the export was interrupted", content_type = "application/x-ndjson", body = String),
            (status = 400, description = "An unknown query parameter, a range outside the checkpoint's size or with from after to, or a previous_size beyond it, or a log that is neither platform nor a tenant id"),
        ),
        security(("admin_api_key" = [])),
    )]
    admin_export,
    ExportQuery,
    get_export,
    Response
);

async fn list(
    gateway: &Gateway,
    reader: Reader,
    query: ListQuery,
) -> Result<Json<EventList>, ApiError> {
    page_size(query.limit)?;
    let list = call(
        &reader.principal,
        &gateway.backends.audit,
        ListEventsRequest {
            page_size: query.limit.unwrap_or(0),
            cursor: query.cursor.unwrap_or_default(),
            log: reader.log,
            actor: query.actor.unwrap_or_default(),
            action: query.action.unwrap_or_default(),
            target: query.target.unwrap_or_default(),
            since: query.since.unwrap_or_default(),
            until: query.until.unwrap_or_default(),
        },
        async |mut audit, request| audit.list_events(request).await,
    )
    .await?;
    Ok(Json(EventList {
        events: list
            .events
            .into_iter()
            .filter_map(EventView::from_stored)
            .collect(),
        next_cursor: next_cursor(list.next_cursor),
    }))
}

async fn get_checkpoint(
    gateway: &Gateway,
    reader: Reader,
    query: CheckpointQuery,
) -> Result<Json<CheckpointView>, ApiError> {
    let checkpoint = call(
        &reader.principal,
        &gateway.backends.audit,
        GetCheckpointRequest {
            log: reader.log,
            sign_now: query.fresh.unwrap_or(false),
        },
        async |mut audit, request| audit.get_checkpoint(request).await,
    )
    .await?;
    Ok(Json(checkpoint.into()))
}

async fn get_inclusion(
    gateway: &Gateway,
    reader: Reader,
    query: InclusionQuery,
) -> Result<Json<InclusionView>, ApiError> {
    let proof = call(
        &reader.principal,
        &gateway.backends.audit,
        InclusionProofRequest {
            log: reader.log,
            event_id: query.event_id,
            tree_size: query.tree_size.unwrap_or(0),
        },
        async |mut audit, request| audit.get_inclusion_proof(request).await,
    )
    .await?;
    Ok(Json(InclusionView {
        log_id: proof.log_id,
        index: proof.index,
        tree_size: proof.tree_size,
        leaf_hash: proof.leaf_hash,
        proof: proof.proof,
        checkpoint: proof.checkpoint.map(Into::into),
    }))
}

async fn get_consistency(
    gateway: &Gateway,
    reader: Reader,
    query: ConsistencyQuery,
) -> Result<Json<ConsistencyView>, ApiError> {
    let proof = call(
        &reader.principal,
        &gateway.backends.audit,
        ConsistencyProofRequest {
            log: reader.log,
            from_size: query.from_size,
            to_size: query.to_size.unwrap_or(0),
        },
        async |mut audit, request| audit.get_consistency_proof(request).await,
    )
    .await?;
    Ok(Json(ConsistencyView {
        log_id: proof.log_id,
        from_size: proof.from_size,
        to_size: proof.to_size,
        proof: proof.proof,
        checkpoint: proof.checkpoint.map(Into::into),
    }))
}

async fn get_export(
    gateway: &Gateway,
    reader: Reader,
    query: ExportQuery,
) -> Result<Response, ApiError> {
    let stream = call(
        &reader.principal,
        &gateway.backends.audit,
        ExportRequest {
            log: reader.log,
            from: query.from.unwrap_or(0),
            to: query.to.unwrap_or(0),
            previous_size: query.previous_size.unwrap_or(0),
        },
        async |mut audit, request| audit.export(request).await,
    )
    .await?;
    // The header line and the first events arrive before the answer starts;
    // a failure later cuts the body short, which the verifier reports as
    // missing events.
    let body = Body::from_stream(stream.map(|chunk| {
        chunk
            .map(|chunk| bytes::Bytes::from(chunk.data))
            .map_err(|status| {
                tracing::warn!(%status, "audit export interrupted");
                std::io::Error::other("the audit export was interrupted")
            })
    }));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// `GET /v1/audit/public-key`: needs no credential.
#[utoipa::path(
    get,
    path = "/v1/audit/public-key",
    tag = "audit",
    responses(
        (status = 200, description = "The checkpoint signing key", body = PublicKeyView),
        (status = 503, description = "The audit service is unavailable; retry later"),
    ),
)]
pub async fn public_key(
    State(gateway): State<Arc<Gateway>>,
) -> Result<Json<PublicKeyView>, ApiError> {
    let key = send(
        &gateway.backends.audit,
        tonic::Request::new(GetPublicKeyRequest {}),
        async |mut audit, request| audit.get_public_key(request).await,
    )
    .await?;
    Ok(Json(PublicKeyView {
        algorithm: key.algorithm,
        key_id: key.key_id,
        public_key: key.public_key,
        pem: key.pem,
    }))
}
