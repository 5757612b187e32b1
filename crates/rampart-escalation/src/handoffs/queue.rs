//! The `HandoffService` handlers: the queue as agents see it.
//!
//! Reading (List, Get) needs a tenant: a signed-in user of any role, or an
//! API key with the `read` scope. The steps (Claim, Resolve, HandBack) are
//! for people: a signed-in agent or higher; API keys are refused. Claiming
//! acknowledges the handoff, as in PagerDuty: escalation stops, it has an
//! owner. A manager or owner may take over another user's claim (audited
//! with a reason); an agent may not.
//!
//! Every handler works in the caller's [`DataScope`]: a test key sees only
//! the handoffs its test conversations opened, and live credentials
//! (sessions are always live) never see those; the other mode's handoff
//! id answers NOT_FOUND, as another tenant's does.
//!
//! A step on a closed handoff is FAILED_PRECONDITION, except the same user
//! repeating the step that closed it, which answers the handoff as it is.

use rampart_kit::error::{ErrorCode, internal};
use rampart_kit::ids::{ConversationId, HandoffId, UserId};
use rampart_kit::outbox::Outbox;
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_proto::escalation::v1 as proto;
use rampart_proto::escalation::v1::handoff_service_server::HandoffService;
use sea_orm::{DatabaseConnection, DbErr};
use tonic::{Request, Response, Status};

use super::listing::{self, Cursor, ListQuery};
use super::steps::{self, Outcome, Refusal, Step};
use super::store;
use crate::scope::DataScope;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 100;

/// The failures a queue caller can act on, and the unexpected.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{0}")]
    InvalidArgument(&'static str),
    #[error("handoff not found")]
    NotFound,
    #[error("the handoff is closed")]
    Closed,
    #[error("claimed by someone else")]
    ClaimedBySomeoneElse,
    #[error("the handoff is not claimed")]
    NotClaimed,
    #[error(transparent)]
    Internal(#[from] DbErr),
}

impl From<QueueError> for Status {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::InvalidArgument(_) => ErrorCode::InvalidArgument.status(error.to_string()),
            QueueError::NotFound => ErrorCode::NotFound.status(error.to_string()),
            QueueError::Closed | QueueError::ClaimedBySomeoneElse | QueueError::NotClaimed => {
                Status::failed_precondition(error.to_string())
            }
            QueueError::Internal(error) => internal(format!("{error:#}")),
        }
    }
}

impl From<Refusal> for QueueError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Closed => Self::Closed,
            Refusal::ClaimedBySomeoneElse => Self::ClaimedBySomeoneElse,
            Refusal::NotClaimed => Self::NotClaimed,
        }
    }
}

/// The HandoffService implementation.
#[derive(Debug, Clone)]
pub struct HandoffApi {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl HandoffApi {
    #[must_use]
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }

    /// One of Claim, Resolve, HandBack, for the signed-in user.
    async fn step(
        &self,
        request: Request<proto::HandoffRequest>,
        step: Step,
    ) -> Result<Response<proto::Handoff>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        let user = principal.require_role(Role::Agent)?;
        let user_id = UserId::parse(&user.id)
            .map_err(|_| Status::permission_denied("the signed-in user's id is malformed"))?;
        let senior = user.role.at_least(Role::Manager);
        let id = parse_handoff_id(&request.get_ref().handoff_id)?;

        let mut change = self
            .outbox
            .begin(&self.db)
            .await
            .map_err(QueueError::from)?;
        let outcome =
            steps::apply_step(&mut change, &scope, &id, step, &user_id, senior, &principal)
                .await
                .map_err(QueueError::from)?
                .ok_or(QueueError::NotFound)?;
        let row = match outcome {
            Outcome::Done { row, took_over } => {
                change.commit().await.map_err(QueueError::from)?;
                tracing::info!(
                    tenant_id = %scope.tenant_id,
                    mode = scope.mode_column(),
                    handoff_id = %row.id,
                    status = %row.status,
                    user_id = %user_id,
                    took_over,
                    request_id = %principal.request_id,
                    "handoff step taken"
                );
                row
            }
            Outcome::AsItIs(row) => row,
            Outcome::Refused(refusal) => return Err(QueueError::from(refusal).into()),
        };
        Ok(Response::new(store::to_proto(row)))
    }
}

/// Reading the queue: a signed-in user of the tenant, or a key with `read`,
/// in its data mode.
fn require_reader(principal: &Principal) -> Result<DataScope, Status> {
    let scope = DataScope::of(principal)?;
    if principal.user.is_none() {
        principal.require_scope(Scope::Read)?;
    }
    Ok(scope)
}

/// Malformed, unknown, another tenant's and the other mode's ids all
/// answer NOT_FOUND, so a caller learns nothing about ids outside its
/// scope.
fn parse_handoff_id(text: &str) -> Result<HandoffId, QueueError> {
    HandoffId::parse(text).map_err(|_| QueueError::NotFound)
}

fn parse_list(request: &proto::ListHandoffsRequest) -> Result<ListQuery, QueueError> {
    let statuses = if request.status.is_empty() {
        Vec::new()
    } else {
        let status = store::STATUSES
            .into_iter()
            .find(|status| *status == request.status)
            .ok_or(QueueError::InvalidArgument(
                "status must be one of open, claimed, resolved or handed_back",
            ))?;
        vec![status]
    };
    let min_severity = match proto::Severity::try_from(request.min_severity) {
        Ok(proto::Severity::Unspecified | proto::Severity::None) => None,
        Ok(proto::Severity::Low) => Some(1),
        Ok(proto::Severity::Medium) => Some(2),
        Ok(proto::Severity::High) => Some(3),
        Ok(proto::Severity::Critical) => Some(4),
        Err(_) => return Err(QueueError::InvalidArgument("min_severity is unknown")),
    };
    let conversation_id = match request.conversation_id.as_str() {
        "" => None,
        text => Some(
            ConversationId::parse(text)
                .map_err(|_| QueueError::InvalidArgument("conversation_id is malformed"))?,
        ),
    };
    let assignee = match request.assignee.as_str() {
        "" => None,
        text => Some(
            UserId::parse(text)
                .map_err(|_| QueueError::InvalidArgument("assignee is malformed"))?,
        ),
    };
    let page_size = match request.page_size {
        0 => DEFAULT_PAGE,
        size if size > MAX_PAGE => {
            return Err(QueueError::InvalidArgument("page_size must be at most 100"));
        }
        size => size,
    };
    let after = match request.cursor.as_str() {
        "" => None,
        text => {
            Some(Cursor::decode(text).ok_or(QueueError::InvalidArgument("cursor is malformed"))?)
        }
    };
    Ok(ListQuery {
        statuses,
        min_severity,
        conversation_id,
        assignee,
        page_size,
        after,
    })
}

#[tonic::async_trait]
impl HandoffService for HandoffApi {
    async fn list_handoffs(
        &self,
        request: Request<proto::ListHandoffsRequest>,
    ) -> Result<Response<proto::ListHandoffsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = require_reader(&principal)?;
        let query = parse_list(request.get_ref())?;
        let (rows, next) = listing::list(&self.db, &scope, &query)
            .await
            .map_err(QueueError::from)?;
        Ok(Response::new(proto::ListHandoffsResponse {
            handoffs: rows.into_iter().map(store::to_proto).collect(),
            next_cursor: next.map(|cursor| cursor.encode()).unwrap_or_default(),
        }))
    }

    async fn get_handoff(
        &self,
        request: Request<proto::HandoffRequest>,
    ) -> Result<Response<proto::Handoff>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = require_reader(&principal)?;
        let id = parse_handoff_id(&request.get_ref().handoff_id)?;
        let row = store::find(&self.db, &scope, &id)
            .await
            .map_err(QueueError::from)?
            .ok_or(QueueError::NotFound)?;
        Ok(Response::new(store::to_proto(row)))
    }

    async fn claim_handoff(
        &self,
        request: Request<proto::HandoffRequest>,
    ) -> Result<Response<proto::Handoff>, Status> {
        self.step(request, Step::Claim).await
    }

    async fn resolve_handoff(
        &self,
        request: Request<proto::HandoffRequest>,
    ) -> Result<Response<proto::Handoff>, Status> {
        self.step(request, Step::Resolve).await
    }

    async fn hand_back(
        &self,
        request: Request<proto::HandoffRequest>,
    ) -> Result<Response<proto::Handoff>, Status> {
        self.step(request, Step::HandBack).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_requests_are_parsed_or_refused_naming_the_field() {
        let ok = parse_list(&proto::ListHandoffsRequest::default()).unwrap();
        assert_eq!(ok.page_size, 50);
        assert!(ok.statuses.is_empty() && ok.after.is_none());
        for (request, field) in [
            (
                proto::ListHandoffsRequest {
                    status: "closed".to_owned(),
                    ..Default::default()
                },
                "status",
            ),
            (
                proto::ListHandoffsRequest {
                    page_size: 101,
                    ..Default::default()
                },
                "page_size",
            ),
            (
                proto::ListHandoffsRequest {
                    cursor: "not-a-cursor".to_owned(),
                    ..Default::default()
                },
                "cursor",
            ),
            (
                proto::ListHandoffsRequest {
                    assignee: "bob".to_owned(),
                    ..Default::default()
                },
                "assignee",
            ),
            (
                proto::ListHandoffsRequest {
                    min_severity: 42,
                    ..Default::default()
                },
                "min_severity",
            ),
        ] {
            let status = Status::from(parse_list(&request).unwrap_err());
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with(field), "{status:?}");
        }
    }
}
