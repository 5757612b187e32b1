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
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{Uri, header};
use rampart_kit::principal::Principal;
use rampart_proto::audit::v1::{
    self as proto, ConsistencyProofRequest, ExportRequest, GetCheckpointRequest,
    GetPublicKeyRequest, InclusionProofRequest, ListEventsRequest, LogSelector, StoredEvent,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{AdminCaller, BackendAnswer, TenantCaller, next_cursor, with_principal};
use crate::Gateway;
use crate::problem::ApiError;

#[derive(Debug, Serialize)]
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
    client_addr: String,
    details: std::collections::BTreeMap<String, String>,
    schema_version: u32,
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

#[derive(Debug, Serialize)]
pub struct EventList {
    events: Vec<EventView>,
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CheckpointView {
    log_id: String,
    size: u64,
    root_hash: String,
    timestamp: String,
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

#[derive(Debug, Serialize)]
pub struct InclusionView {
    log_id: String,
    index: u64,
    tree_size: u64,
    leaf_hash: String,
    proof: Vec<String>,
    checkpoint: Option<CheckpointView>,
}

#[derive(Debug, Serialize)]
pub struct ConsistencyView {
    log_id: String,
    from_size: u64,
    to_size: u64,
    proof: Vec<String>,
    checkpoint: Option<CheckpointView>,
}

#[derive(Debug, Serialize)]
pub struct PublicKeyView {
    algorithm: String,
    key_id: String,
    public_key: String,
    pem: String,
}

/// Query parameters of each route: unknown ones are refused, so a typo is
/// an error rather than a silently ignored filter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    log: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    log: Option<String>,
    fresh: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    log: Option<String>,
    event_id: String,
    tree_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    log: Option<String>,
    from_size: u64,
    to_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    log: Option<String>,
    from: Option<u64>,
    to: Option<u64>,
    previous_size: Option<u64>,
}

/// Reads the query string as `T`, with a problem response that says what
/// is wrong.
fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(value)| value)
        .map_err(|rejection| ApiError::invalid(rejection.body_text()))
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

macro_rules! tenant_and_admin {
    ($tenant:ident, $admin:ident, $query:ty, $inner:ident, $out:ty) => {
        pub async fn $tenant(
            State(gateway): State<Arc<Gateway>>,
            caller: TenantCaller,
            uri: Uri,
        ) -> Result<$out, ApiError> {
            let query: $query = query(&uri)?;
            let reader = Reader::tenant(caller, query.log.clone())?;
            $inner(&gateway, reader, query).await
        }

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
    list_events,
    admin_list_events,
    ListQuery,
    list,
    Json<EventList>
);
tenant_and_admin!(
    checkpoint,
    admin_checkpoint,
    CheckpointQuery,
    get_checkpoint,
    Json<CheckpointView>
);
tenant_and_admin!(
    inclusion_proof,
    admin_inclusion_proof,
    InclusionQuery,
    get_inclusion,
    Json<InclusionView>
);
tenant_and_admin!(
    consistency_proof,
    admin_consistency_proof,
    ConsistencyQuery,
    get_consistency,
    Json<ConsistencyView>
);
tenant_and_admin!(export, admin_export, ExportQuery, get_export, Response);

async fn list(
    gateway: &Gateway,
    reader: Reader,
    query: ListQuery,
) -> Result<Json<EventList>, ApiError> {
    if query.limit == Some(0) || query.limit.is_some_and(|l| l > 100) {
        return Err(ApiError::invalid(
            "limit must be a whole number from 1 to 100",
        ));
    }
    let request = with_principal(
        &reader.principal,
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

async fn get_checkpoint(
    gateway: &Gateway,
    reader: Reader,
    query: CheckpointQuery,
) -> Result<Json<CheckpointView>, ApiError> {
    let request = with_principal(
        &reader.principal,
        GetCheckpointRequest {
            log: reader.log,
            sign_now: query.fresh.unwrap_or(false),
        },
    )?;
    let checkpoint = gateway
        .backends
        .audit
        .clone()
        .get_checkpoint(request)
        .await
        .answer("audit")?;
    Ok(Json(checkpoint.into()))
}

async fn get_inclusion(
    gateway: &Gateway,
    reader: Reader,
    query: InclusionQuery,
) -> Result<Json<InclusionView>, ApiError> {
    let request = with_principal(
        &reader.principal,
        InclusionProofRequest {
            log: reader.log,
            event_id: query.event_id,
            tree_size: query.tree_size.unwrap_or(0),
        },
    )?;
    let proof = gateway
        .backends
        .audit
        .clone()
        .get_inclusion_proof(request)
        .await
        .answer("audit")?;
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
    let request = with_principal(
        &reader.principal,
        ConsistencyProofRequest {
            log: reader.log,
            from_size: query.from_size,
            to_size: query.to_size.unwrap_or(0),
        },
    )?;
    let proof = gateway
        .backends
        .audit
        .clone()
        .get_consistency_proof(request)
        .await
        .answer("audit")?;
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
    let request = with_principal(
        &reader.principal,
        ExportRequest {
            log: reader.log,
            from: query.from.unwrap_or(0),
            to: query.to.unwrap_or(0),
            previous_size: query.previous_size.unwrap_or(0),
        },
    )?;
    let stream = gateway
        .backends
        .audit
        .clone()
        .export(request)
        .await
        .answer("audit")?;
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
pub async fn public_key(
    State(gateway): State<Arc<Gateway>>,
) -> Result<Json<PublicKeyView>, ApiError> {
    let key = gateway
        .backends
        .audit
        .clone()
        .get_public_key(GetPublicKeyRequest {})
        .await
        .answer("audit")?;
    Ok(Json(PublicKeyView {
        algorithm: key.algorithm,
        key_id: key.key_id,
        public_key: key.public_key,
        pem: key.pem,
    }))
}
