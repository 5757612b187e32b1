//! The gRPC face of the audit service. Every service may append (the
//! caller's certificate names the producer). Reads need a principal, which
//! only the gateway can pass: a tenant reads its own log and no other (a
//! named foreign log is NotFound, as if it did not exist); a platform admin
//! reads the platform log, or names a tenant's log for incident response.
//! Within a tenant the trail is for whoever answers for the tenant: an
//! owner's session or a key with the `audit` scope; agents, managers and
//! other keys are refused, since the trail records everything done there.

use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::grpc::Caller;
use rampart_kit::ids::TenantId;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Principal, PrincipalKind, Role, Scope};
use rampart_proto::audit::v1 as proto;
use rampart_proto::audit::v1::audit_service_server::AuditService;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::certificate;
use crate::checkpoint::{Checkpoint, SigningKey};
use crate::error::Error;
use crate::events::{LogId, parse_batch};
use crate::export::{ConsistencyBundle, FORMAT, Header, Line};
use crate::leaf::Event;
use crate::store::{EventStore, Filter, StoredEvent};
use crate::{PLATFORM_LOG_ID, hex};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 100;
/// Events read per query while exporting.
const EXPORT_PAGE: u64 = 2000;

#[derive(Debug)]
pub(crate) struct AuditGrpc {
    store: EventStore,
    key: Arc<SigningKey>,
}

impl AuditGrpc {
    pub(crate) fn new(store: EventStore, key: Arc<SigningKey>) -> Self {
        Self { store, key }
    }
}

type ExportStream = Pin<Box<dyn Stream<Item = Result<proto::ExportChunk, Status>> + Send>>;

#[tonic::async_trait]
impl AuditService for AuditGrpc {
    async fn append(
        &self,
        request: Request<proto::AppendRequest>,
    ) -> Result<Response<proto::AppendResponse>, Status> {
        let service = Caller::of(&request)?;
        let events = parse_batch(request.into_inner().events)?;
        let appended = self.store.append(events, service).await?;
        if appended.stored > 0
            && crate::failpoints::is_enabled(crate::failpoints::AFTER_COMMIT_EXIT)
        {
            tracing::warn!(
                stored = appended.stored,
                "failpoint audit_after_commit_exit: exiting after the commit, before the answer"
            );
            std::process::exit(86);
        }
        tracing::debug!(
            service = service.as_str(),
            appended = appended.stored,
            duplicates = appended.duplicates,
            "audit events appended"
        );
        Ok(Response::new(proto::AppendResponse {
            appended: appended.stored,
            duplicates: appended.duplicates,
        }))
    }

    async fn list_events(
        &self,
        request: Request<proto::ListEventsRequest>,
    ) -> Result<Response<proto::ListEventsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let log = readable_log(&principal, request.log.as_ref())?;
        let page_size = page_size(request.page_size)?;
        let from = cursor(&request.cursor)?;
        let filter = Filter {
            actor: non_empty(request.actor),
            action: non_empty(request.action),
            target: non_empty(request.target),
            since: time_bound("since", &request.since)?,
            until: time_bound("until", &request.until)?,
        };
        // One more than asked for says whether there is a next page.
        let mut events = self
            .store
            .list(log.as_str(), &filter, from, u64::from(page_size) + 1)
            .await?;
        let next_cursor = if events.len() > page_size as usize {
            events.truncate(page_size as usize);
            events
                .last()
                .map(|last| (last.index + 1).to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(proto::ListEventsResponse {
            events: events.into_iter().map(stored_event).collect(),
            next_cursor,
        }))
    }

    async fn get_checkpoint(
        &self,
        request: Request<proto::GetCheckpointRequest>,
    ) -> Result<Response<proto::Checkpoint>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let log = readable_log(&principal, request.log.as_ref())?;
        let latest = if request.sign_now {
            None
        } else {
            self.store.latest_checkpoint(log.as_str()).await?
        };
        let checkpoint = match latest {
            Some(checkpoint) => checkpoint,
            None => self.store.sign_checkpoint(log.as_str(), &self.key).await?,
        };
        Ok(Response::new(checkpoint_proto(checkpoint)))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<proto::InclusionProofRequest>,
    ) -> Result<Response<proto::InclusionProof>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let log = readable_log(&principal, request.log.as_ref())?;
        let event_id = uuid::Uuid::try_parse(&request.event_id)
            .map_err(|_| Error::InvalidArgument("event_id must be a UUID".to_owned()))?
            .hyphenated()
            .to_string();
        let index = self
            .store
            .position(log.as_str(), &event_id)
            .await?
            .ok_or_else(|| Error::NotFound("no such event in this log".to_owned()))?;
        let (size, checkpoint) = if request.tree_size == 0 {
            let checkpoint = self.store.sign_checkpoint(log.as_str(), &self.key).await?;
            (checkpoint.size, Some(checkpoint))
        } else {
            let (head, _) = self.store.head(log.as_str()).await?;
            if request.tree_size > head {
                return Err(Error::InvalidArgument(format!(
                    "tree_size must be at most the log's size {head}"
                ))
                .into());
            }
            let checkpoint = self
                .store
                .checkpoint_at(log.as_str(), request.tree_size)
                .await?;
            (request.tree_size, checkpoint)
        };
        if index >= size {
            return Err(Error::InvalidArgument(format!(
                "the event is at index {index}, beyond tree_size {size}"
            ))
            .into());
        }
        let proof = self
            .store
            .inclusion_proof(log.as_str(), index, size)
            .await?;
        let leaf = self
            .store
            .range(log.as_str(), index, index + 1)
            .await?
            .pop()
            .and_then(|stored| stored.leaf_hash)
            .map(|hash| hex(&hash))
            .unwrap_or_default();
        Ok(Response::new(proto::InclusionProof {
            log_id: log.as_str().to_owned(),
            index,
            tree_size: size,
            leaf_hash: leaf,
            proof: proof.iter().map(|hash| hex(hash)).collect(),
            checkpoint: checkpoint.map(checkpoint_proto),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<proto::ConsistencyProofRequest>,
    ) -> Result<Response<proto::ConsistencyProof>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let log = readable_log(&principal, request.log.as_ref())?;
        let (to, checkpoint) = if request.to_size == 0 {
            let checkpoint = self.store.sign_checkpoint(log.as_str(), &self.key).await?;
            (checkpoint.size, Some(checkpoint))
        } else {
            let (head, _) = self.store.head(log.as_str()).await?;
            if request.to_size > head {
                return Err(Error::InvalidArgument(format!(
                    "to_size must be at most the log's size {head}"
                ))
                .into());
            }
            let checkpoint = self
                .store
                .checkpoint_at(log.as_str(), request.to_size)
                .await?;
            (request.to_size, checkpoint)
        };
        if request.from_size > to {
            return Err(
                Error::InvalidArgument(format!("from_size must be at most to_size {to}")).into(),
            );
        }
        let proof = self
            .store
            .consistency_proof(log.as_str(), request.from_size, to)
            .await?;
        Ok(Response::new(proto::ConsistencyProof {
            log_id: log.as_str().to_owned(),
            from_size: request.from_size,
            to_size: to,
            proof: proof.iter().map(|hash| hex(hash)).collect(),
            checkpoint: checkpoint.map(checkpoint_proto),
        }))
    }

    type ExportStream = ExportStream;

    async fn export(
        &self,
        request: Request<proto::ExportRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let log = readable_log(&principal, request.log.as_ref())?;
        let checkpoint = self.store.sign_checkpoint(log.as_str(), &self.key).await?;
        let size = checkpoint.size;
        let to = if request.to == 0 { size } else { request.to };
        if to > size || request.from > to {
            return Err(Error::InvalidArgument(format!(
                "the range must lie within 0..{size} (the checkpoint's size), with from ≤ to"
            ))
            .into());
        }
        if request.previous_size > size {
            return Err(
                Error::InvalidArgument(format!("previous_size must be at most {size}")).into(),
            );
        }
        let log_id = log.as_str().to_owned();
        let consistency = if request.previous_size > 0 {
            let proof = self
                .store
                .consistency_proof(&log_id, request.previous_size, size)
                .await?;
            Some(ConsistencyBundle {
                from_size: request.previous_size,
                proof: proof.iter().map(|hash| hex(hash)).collect(),
            })
        } else {
            None
        };
        let header = Header {
            format: FORMAT.to_owned(),
            log_id: log_id.clone(),
            from: request.from,
            to,
            left: hashes(&self.store.subtree_hashes(&log_id, 0, request.from).await?),
            right: hashes(&self.store.subtree_hashes(&log_id, to, size).await?),
            checkpoint,
            public_key: self.key.public_key().hex(),
            consistency,
        };
        let mut first = to_json_line(&header)?;
        let store = self.store.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let from = request.from;
        tokio::spawn(async move {
            let mut at = from;
            while at < to {
                let end = (at + EXPORT_PAGE).min(to);
                let page = match store.range(&log_id, at, end).await {
                    Ok(page) => page,
                    Err(error) => {
                        let _ = sender.send(Err(Status::from(error))).await;
                        return;
                    }
                };
                let mut data = std::mem::take(&mut first);
                for stored in page {
                    let line = Line {
                        index: stored.index,
                        leaf_hash: stored.leaf_hash.map(|hash| hex(&hash)),
                        event: stored.event,
                    };
                    match to_json_line(&line) {
                        Ok(text) => data.extend_from_slice(&text),
                        Err(error) => {
                            let _ = sender.send(Err(Status::from(error))).await;
                            return;
                        }
                    }
                }
                if sender.send(Ok(proto::ExportChunk { data })).await.is_err() {
                    // The reader went away.
                    return;
                }
                at = end;
            }
            if !first.is_empty() {
                let _ = sender.send(Ok(proto::ExportChunk { data: first })).await;
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_public_key(
        &self,
        _request: Request<proto::GetPublicKeyRequest>,
    ) -> Result<Response<proto::PublicKey>, Status> {
        let public = self.key.public_key();
        Ok(Response::new(proto::PublicKey {
            algorithm: "Ed25519".to_owned(),
            key_id: public.key_id(),
            public_key: public.hex(),
            pem: public.to_pem(),
        }))
    }

    async fn sign_deletion_certificate(
        &self,
        request: Request<proto::SignDeletionCertificateRequest>,
    ) -> Result<Response<proto::DeletionCertificate>, Status> {
        if Caller::of(&request)? != ServiceName::Crm {
            return Err(Status::permission_denied(
                "only the crm may have deletion certificates signed",
            ));
        }
        let text = &request.get_ref().statement_json;
        if text.len() > certificate::MAX_STATEMENT_BYTES {
            return Err(Status::invalid_argument(format!(
                "statement_json may be at most {} bytes",
                certificate::MAX_STATEMENT_BYTES
            )));
        }
        let statement: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Status::invalid_argument(format!("statement_json is not JSON: {e}")))?;
        let signed = self
            .key
            .sign_certificate(statement)
            .map_err(|e| Status::invalid_argument(format!("statement_json: {e}")))?;
        let certificate_json = serde_json::to_string(&signed)
            .map_err(|e| rampart_kit::error::internal(e.to_string()))?;
        Ok(Response::new(proto::DeletionCertificate {
            certificate_json,
        }))
    }
}

/// The log `principal` asks to read, if it may.
fn readable_log(
    principal: &Principal,
    selector: Option<&proto::LogSelector>,
) -> Result<LogId, Error> {
    let named = selector.map_or("", |selector| selector.log_id.as_str());
    match &principal.kind {
        PrincipalKind::Tenant(tenant) => {
            may_read_tenant_log(principal)?;
            if named.is_empty() || named == tenant.as_str() {
                Ok(LogId::Tenant(tenant.clone()))
            } else {
                // Another tenant's log does not exist for this caller.
                Err(Error::NotFound("no such log".to_owned()))
            }
        }
        PrincipalKind::PlatformAdmin => {
            if named.is_empty() || named == PLATFORM_LOG_ID {
                return Ok(LogId::Platform);
            }
            TenantId::parse(named).map(LogId::Tenant).map_err(|_| {
                Error::InvalidArgument("log must be \"platform\" or a tenant id".to_owned())
            })
        }
    }
}

/// Forbidden unless a tenant credential may read its tenant's trail: an
/// owner's session, or a key holding the `audit` scope.
fn may_read_tenant_log(principal: &Principal) -> Result<(), Error> {
    let allowed = match &principal.user {
        Some(_) => principal.require_role(Role::Owner).map(drop),
        None => principal.require_scope(Scope::Audit),
    };
    allowed.map_err(|_| {
        Error::Forbidden(
            "reading the audit trail needs an owner's session or an API key with the \"audit\" scope"
                .to_owned(),
        )
    })
}

fn page_size(requested: u32) -> Result<u32, Error> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n <= MAX_PAGE_SIZE => Ok(n),
        _ => Err(Error::InvalidArgument(format!(
            "page_size must be at most {MAX_PAGE_SIZE}"
        ))),
    }
}

/// The position to list from: empty for the start, else the decimal
/// sequence a previous page returned as its cursor.
fn cursor(text: &str) -> Result<u64, Error> {
    if text.is_empty() {
        return Ok(0);
    }
    let malformed = || Error::InvalidArgument("cursor is malformed".to_owned());
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let from: u64 = text.parse().map_err(|_| malformed())?;
    if i64::try_from(from).is_err() {
        return Err(malformed());
    }
    Ok(from)
}

fn non_empty(text: String) -> Option<String> {
    Some(text).filter(|text| !text.is_empty())
}

/// A time filter in the stored form (UTC, microseconds), so that text
/// comparison is time order.
fn time_bound(name: &str, text: &str) -> Result<Option<String>, Error> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > 64 {
        return Err(Error::InvalidArgument(format!(
            "{name} must be an RFC 3339 time"
        )));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| {
            Some(
                time.with_timezone(&Utc)
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
            )
        })
        .map_err(|_| Error::InvalidArgument(format!("{name} must be an RFC 3339 time")))
}

fn hashes(hashes: &[crate::merkle::Hash]) -> Vec<String> {
    hashes.iter().map(|hash| hex(hash)).collect()
}

fn to_json_line(value: &impl serde::Serialize) -> Result<Vec<u8>, Error> {
    let mut text = serde_json::to_vec(value).map_err(|e| Error::Internal(e.into()))?;
    text.push(b'\n');
    Ok(text)
}

pub(crate) fn event_proto(event: Event) -> proto::AuditEvent {
    proto::AuditEvent {
        event_id: event.event_id,
        tenant_id: event.tenant_id,
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
    }
}

fn stored_event(stored: StoredEvent) -> proto::StoredEvent {
    proto::StoredEvent {
        sequence: stored.index,
        leaf_hash: stored.leaf_hash.map(|hash| hex(&hash)).unwrap_or_default(),
        event: Some(event_proto(stored.event)),
    }
}

fn checkpoint_proto(checkpoint: Checkpoint) -> proto::Checkpoint {
    use base64::Engine;
    proto::Checkpoint {
        signature: base64::engine::general_purpose::STANDARD
            .decode(&checkpoint.signature)
            .unwrap_or_default(),
        log_id: checkpoint.log_id,
        size: checkpoint.size,
        root_hash: checkpoint.root_hash,
        timestamp: checkpoint.timestamp,
        key_id: checkpoint.key_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(0).unwrap(), 50);
        assert_eq!(page_size(1).unwrap(), 1);
        assert_eq!(page_size(100).unwrap(), 100);
        assert!(page_size(101).is_err());
    }

    #[test]
    fn cursors() {
        assert_eq!(cursor("").unwrap(), 0);
        assert_eq!(cursor("42").unwrap(), 42);
        for bad in [
            "-1",
            "+1",
            " 1",
            "1.0",
            "abc",
            "99999999999999999999",
            "9223372036854775808",
        ] {
            assert!(cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn time_bounds_are_normalised() {
        assert_eq!(
            time_bound("since", "2025-01-02T03:04:05+01:00").unwrap(),
            Some("2025-01-02T02:04:05.000000Z".to_owned())
        );
        assert_eq!(time_bound("since", "").unwrap(), None);
        assert!(time_bound("until", "yesterday").is_err());
    }

    #[test]
    fn tenants_read_only_their_own_log() {
        let tenant = TenantId::generate();
        let principal = rampart_kit::principal::Principal {
            mode: rampart_kit::principal::DataMode::Live,
            client_addr: String::new(),
            kind: PrincipalKind::Tenant(tenant.clone()),
            credential_id: "key_1".to_owned(),
            scopes: vec!["audit".to_owned()],
            request_id: "r".to_owned(),
            user: None,
        };
        let select = |log: &str| proto::LogSelector {
            log_id: log.to_owned(),
        };
        assert_eq!(
            readable_log(&principal, None).unwrap(),
            LogId::Tenant(tenant.clone())
        );
        assert_eq!(
            readable_log(&principal, Some(&select(tenant.as_str()))).unwrap(),
            LogId::Tenant(tenant.clone())
        );
        for other in [TenantId::generate().as_str(), "platform", "junk"] {
            assert!(matches!(
                readable_log(&principal, Some(&select(other))),
                Err(Error::NotFound(_))
            ));
        }
        let admin = rampart_kit::principal::Principal {
            mode: rampart_kit::principal::DataMode::Live,
            client_addr: String::new(),
            kind: PrincipalKind::PlatformAdmin,
            ..principal
        };
        assert_eq!(readable_log(&admin, None).unwrap(), LogId::Platform);
        assert_eq!(
            readable_log(&admin, Some(&select(tenant.as_str()))).unwrap(),
            LogId::Tenant(tenant)
        );
        assert!(readable_log(&admin, Some(&select("junk"))).is_err());
    }

    #[test]
    fn a_tenant_trail_is_read_by_owners_and_audit_keys_only() {
        use rampart_kit::principal::SignedInUser;
        let tenant = TenantId::generate();
        let key = |scopes: &[&str]| Principal {
            mode: rampart_kit::principal::DataMode::Live,
            client_addr: String::new(),
            kind: PrincipalKind::Tenant(tenant.clone()),
            credential_id: "key_1".to_owned(),
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            request_id: "r".to_owned(),
            user: None,
        };
        let session = |role| Principal {
            mode: rampart_kit::principal::DataMode::Live,
            user: Some(SignedInUser {
                id: "usr_1".to_owned(),
                role,
            }),
            ..key(&["read", "write"])
        };
        for allowed in [
            key(&["audit"]),
            key(&["read", "write", "audit"]),
            session(Role::Owner),
        ] {
            assert_eq!(
                readable_log(&allowed, None).unwrap(),
                LogId::Tenant(tenant.clone())
            );
        }
        for refused in [
            key(&["read"]),
            key(&["write"]),
            key(&["keys"]),
            key(&["read", "write", "keys"]),
            session(Role::Manager),
            session(Role::Agent),
        ] {
            assert!(
                matches!(readable_log(&refused, None), Err(Error::Forbidden(_))),
                "{refused:?}"
            );
        }
    }
}
