//! The gRPC face of the audit service. Every service may append (the
//! caller's certificate names the producer); listing needs a principal,
//! which only the gateway can pass, and shows the principal's own log.

use rampart_kit::grpc::Caller;
use rampart_kit::principal::{Principal, PrincipalKind};
use rampart_proto::audit::v1::audit_service_server::AuditService;
use rampart_proto::audit::v1::{
    AppendRequest, AppendResponse, AuditEvent, ListEventsRequest, ListEventsResponse, StoredEvent,
};
use tonic::{Request, Response, Status};

use crate::chain::ChainEntry;
use crate::error::Error;
use crate::events::{LogId, parse_batch};
use crate::store::EventStore;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug)]
pub(crate) struct AuditGrpc {
    store: EventStore,
}

impl AuditGrpc {
    pub(crate) fn new(store: EventStore) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl AuditService for AuditGrpc {
    async fn append(
        &self,
        request: Request<AppendRequest>,
    ) -> Result<Response<AppendResponse>, Status> {
        let service = Caller::of(&request)?;
        let events = parse_batch(request.into_inner().events)?;
        let appended = self.store.append(events, service).await?;
        tracing::debug!(
            service = service.as_str(),
            appended = appended.stored,
            duplicates = appended.duplicates,
            "audit events appended"
        );
        Ok(Response::new(AppendResponse {
            appended: appended.stored,
            duplicates: appended.duplicates,
        }))
    }

    async fn list_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let log = match principal.kind {
            PrincipalKind::Tenant(tenant) => LogId::Tenant(tenant),
            PrincipalKind::PlatformAdmin => LogId::Platform,
        };
        let request = request.into_inner();
        let page_size = page_size(request.page_size)?;
        let from = cursor(&request.cursor)?;
        // One more than asked for says whether there is a next page.
        let mut entries = self
            .store
            .list(&log, from, u64::from(page_size) + 1)
            .await?;
        let next_cursor = if entries.len() > page_size as usize {
            entries.truncate(page_size as usize);
            entries
                .last()
                .map(|last| (last.sequence + 1).to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListEventsResponse {
            events: entries.into_iter().map(stored_event).collect(),
            next_cursor,
        }))
    }
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

fn stored_event(entry: ChainEntry) -> StoredEvent {
    let event = entry.event;
    StoredEvent {
        event: Some(AuditEvent {
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
        }),
        sequence: entry.sequence,
        chain_hash: entry.chain_hash,
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
}
