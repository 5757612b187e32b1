//! The `BillingService`: a tenant's billing state, read and moved by
//! platform admins (and by the gateway for a billing webhook it verified,
//! with a platform principal of its own). The same steps as every CRM
//! handler: principal, authorisation, parsing, store, mapping.
//!
//! Only the billing state lives here. Whether the tenant's credentials are
//! accepted is auth's ("tenant access state"); the gateway tells auth after
//! this service answered, from [`proto::BillingState::access_suspended`].

use chrono::SecondsFormat;
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::Outbox;
use rampart_kit::principal::Principal;
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::billing_service_server::BillingService;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::Error;
use crate::domain::billing::{BillingReason, BillingSource, BillingState};
use crate::store::{BillingRecord, BillingStore, TransitionRequest};

/// The BillingService implementation.
#[derive(Debug, Clone)]
pub struct BillingApi {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl BillingApi {
    #[must_use]
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }

    fn billing(&self) -> BillingStore<'_> {
        BillingStore::new(&self.db, &self.outbox)
    }
}

#[tonic::async_trait]
impl BillingService for BillingApi {
    async fn get_billing_state(
        &self,
        request: Request<proto::GetBillingStateRequest>,
    ) -> Result<Response<proto::BillingState>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let tenant_id = tenant_id(&request.get_ref().tenant_id)?;
        let billing = self.billing().get(&tenant_id).await?;
        Ok(Response::new(billing_to_proto(billing)))
    }

    async fn transition_billing(
        &self,
        request: Request<proto::TransitionBillingRequest>,
    ) -> Result<Response<proto::BillingTransition>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let parsed = parse_transition(request.get_ref())?;
        let transition = self.billing().transition(&principal, &parsed).await?;
        if transition.changed {
            tracing::info!(
                tenant_id = %parsed.tenant_id,
                from = %transition.from,
                to = %transition.billing.state,
                source = parsed.source.as_str(),
                request_id = %principal.request_id,
                "billing state changed"
            );
        }
        Ok(Response::new(proto::BillingTransition {
            from_state: transition.from.as_str().to_owned(),
            changed: transition.changed,
            replayed: transition.replayed,
            billing: Some(billing_to_proto(transition.billing)),
        }))
    }
}

/// An id that does not parse names no tenant: the same answer as an
/// unknown one.
fn tenant_id(text: &str) -> Result<TenantId, Error> {
    TenantId::parse(text).map_err(|_| Error::TenantNotFound)
}

fn parse_transition(request: &proto::TransitionBillingRequest) -> Result<TransitionRequest, Error> {
    let tenant_id = tenant_id(&request.tenant_id)?;
    Ok(TransitionRequest {
        tenant_id,
        to: BillingState::parse(&request.state)?,
        reason: BillingReason::parse(&request.reason)?,
        source: BillingSource::parse(
            &request.source,
            &request.event_id,
            &request.event_fingerprint,
        )?,
    })
}

fn billing_to_proto(billing: BillingRecord) -> proto::BillingState {
    proto::BillingState {
        tenant_id: billing.tenant_id.into_string(),
        state: billing.state.as_str().to_owned(),
        access_suspended: billing.state.suspends_access(),
        changed_at: billing
            .changed_at
            .to_rfc3339_opts(SecondsFormat::Micros, true),
    }
}
