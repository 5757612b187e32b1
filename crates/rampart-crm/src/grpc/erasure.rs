//! The erasure request handlers of `OwnerService`, called by its thin
//! trait methods in `owner`.
//!
//! The owner's work only: an owner session or a key with the `owner` scope.
//! Malformed, unknown and another tenant's (or mode's) ids answer alike:
//! not found.

use chrono::SecondsFormat;
use rampart_kit::ids::{CustomerId, ErasureRequestId};
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_proto::crm::v1 as proto;
use tonic::{Request, Status};

use super::CrmApi;
use super::owner::authorise;
use crate::Error;
use crate::domain::{ErasureReason, ErasureSource, ErasureStatus, PageRequest};
use crate::store::{DataScope, ErasureStore, ErasureView, Purged};

impl CrmApi {
    fn erasures(&self, scope: DataScope) -> ErasureStore<'_> {
        ErasureStore::for_tenant(&self.db, &self.outbox, &self.vault, scope)
    }

    pub(super) async fn open_erasure(
        &self,
        request: Request<proto::CreateErasureRequestRequest>,
    ) -> Result<proto::ErasureRequest, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let request = request.into_inner();
        let customer_id =
            CustomerId::parse(&request.customer_id).map_err(|_| Error::CustomerNotFound)?;
        let reason = ErasureReason::parse(&request.reason)?;
        let view = self
            .erasures(scope)
            .open(&principal, &customer_id, &reason, &ErasureSource::Owner)
            .await?;
        if !view.already_open {
            tracing::info!(
                erasure_request_id = %view.request.id,
                customer_id = %customer_id,
                request_id = %principal.request_id,
                "erasure requested"
            );
        }
        Ok(erasure_to_proto(view))
    }

    pub(super) async fn get_erasure(
        &self,
        request: Request<proto::GetErasureRequestRequest>,
    ) -> Result<proto::ErasureRequest, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let id = parse_id(&request.get_ref().erasure_request_id)?;
        let view = self.erasures(scope).get(&id).await?;
        Ok(erasure_to_proto(view))
    }

    pub(super) async fn list_erasures(
        &self,
        request: Request<proto::ListErasureRequestsRequest>,
    ) -> Result<proto::ListErasureRequestsResponse, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let request = request.get_ref();
        let status = ErasureStatus::parse_filter(&request.status)?;
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            ErasureRequestId::parse,
        )?;
        let page = self.erasures(scope).list(status, &page).await?;
        Ok(proto::ListErasureRequestsResponse {
            erasure_requests: page.items.into_iter().map(erasure_to_proto).collect(),
            next_page_token: page.next_cursor.unwrap_or_default(),
        })
    }

    pub(super) async fn execute_erasure(
        &self,
        request: Request<proto::ExecuteErasureRequestRequest>,
    ) -> Result<proto::ErasureRequest, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let id = parse_id(&request.get_ref().erasure_request_id)?;
        let view = self
            .erasures(scope)
            .execute(&principal, &id, &self.certifier)
            .await?;
        tracing::info!(
            erasure_request_id = %id,
            customer_id = %view.request.customer_id,
            data_keys = view.counts.data_keys,
            request_id = %principal.request_id,
            "customer erased"
        );
        Ok(erasure_to_proto(view))
    }
}

/// Malformed ids name no request: the same answer as an unknown one.
fn parse_id(raw: &str) -> Result<ErasureRequestId, Error> {
    ErasureRequestId::parse(raw).map_err(|_| Error::ErasureRequestNotFound)
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn counts_to_proto(counts: Purged) -> proto::ErasureCounts {
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    proto::ErasureCounts {
        customers: count(counts.customers),
        conversations: count(counts.conversations),
        messages: count(counts.messages),
        appointments: count(counts.appointments),
        job_notes: count(counts.job_notes),
        data_keys: count(counts.data_keys),
    }
}

fn erasure_to_proto(view: ErasureView) -> proto::ErasureRequest {
    let request = view.request;
    proto::ErasureRequest {
        id: request.id,
        customer_id: request.customer_id,
        status: request.status,
        source: request.source,
        reason: request.reason,
        requested_by: request.requested_by,
        created_at: timestamp(request.created_at),
        counts: Some(counts_to_proto(view.counts)),
        held: view.held,
        executed_at: request.executed_at.map(timestamp).unwrap_or_default(),
        certificate_json: request.certificate_json.unwrap_or_default(),
        already_open: view.already_open,
    }
}
