//! The escalation service's gRPC handlers.
//!
//! `Evaluate` reads the principal (trusted only from the gateway), requires a
//! tenant, parses the channel and text, and maps the rules' verdict to the
//! wire types. It logs the verdict, never the text.

use rampart_kit::outbox::Outbox;
use rampart_kit::principal::Principal;
use rampart_proto::escalation::v1 as proto;
use rampart_proto::escalation::v1::escalation_service_server::EscalationService;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::intents::{self, Action, Assessment, Severity};
use crate::message::{Channel, MessageText};

/// The EscalationService implementation: a database pool and the audit
/// outbox.
#[derive(Debug, Clone)]
pub struct EscalationApi {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl EscalationApi {
    #[must_use]
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }
}

#[tonic::async_trait]
impl EscalationService for EscalationApi {
    async fn evaluate(
        &self,
        request: Request<proto::EvaluateRequest>,
    ) -> Result<Response<proto::EvaluateResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let tenant_id = principal.require_tenant()?.clone();
        let request = request.into_inner();
        let channel = Channel::parse(&request.channel)?;
        let text = MessageText::parse(request.text)?;

        let assessment = intents::assess(text.as_str());
        let intents: Vec<&str> = assessment.intents().map(intents::Intent::as_str).collect();
        tracing::info!(
            %tenant_id,
            channel = channel.as_str(),
            action = ?assessment.action,
            severity = ?assessment.severity,
            ?intents,
            language = %assessment.language,
            request_id = %principal.request_id,
            "message evaluated"
        );
        Ok(Response::new(to_proto(assessment)))
    }

    // SKELETON: the gate, guardrails and policy work fills these in.
    async fn gate(
        &self,
        _request: Request<proto::GateRequest>,
    ) -> Result<Response<proto::GateResponse>, Status> {
        let _ = (&self.db, &self.outbox);
        Err(Status::unimplemented("gate"))
    }

    async fn review_reply(
        &self,
        _request: Request<proto::ReviewReplyRequest>,
    ) -> Result<Response<proto::ReviewReplyResponse>, Status> {
        Err(Status::unimplemented("review_reply"))
    }

    async fn get_policy(
        &self,
        _request: Request<proto::GetPolicyRequest>,
    ) -> Result<Response<proto::PolicyVersion>, Status> {
        Err(Status::unimplemented("get_policy"))
    }

    async fn put_policy(
        &self,
        _request: Request<proto::PutPolicyRequest>,
    ) -> Result<Response<proto::PolicyVersion>, Status> {
        Err(Status::unimplemented("put_policy"))
    }
}

fn to_proto(assessment: Assessment) -> proto::EvaluateResponse {
    let action = match assessment.action {
        Action::AiAnswer => proto::Action::AiAnswer,
        Action::Handoff => proto::Action::Handoff,
    };
    let severity = match assessment.severity {
        Severity::None => proto::Severity::None,
        Severity::Low => proto::Severity::Low,
        Severity::Medium => proto::Severity::Medium,
        Severity::High => proto::Severity::High,
        Severity::Critical => proto::Severity::Critical,
    };
    let (intents, reasons) = assessment
        .findings
        .into_iter()
        .map(|finding| (finding.intent.as_str().to_owned(), finding.reason))
        .unzip();
    proto::EvaluateResponse {
        action: action.into(),
        intents,
        severity: severity.into(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handoff_maps_to_the_wire_types() {
        let response = to_proto(intents::assess("I smell gas and want to talk to a human"));
        assert_eq!(response.action(), proto::Action::Handoff);
        assert_eq!(response.severity(), proto::Severity::Critical);
        assert_eq!(response.intents, ["emergency", "human_requested"]);
        assert_eq!(response.reasons.len(), 2);
    }

    #[test]
    fn an_ai_answer_maps_to_the_wire_types() {
        let response = to_proto(intents::assess("what time do you open"));
        assert_eq!(response.action(), proto::Action::AiAnswer);
        assert_eq!(response.severity(), proto::Severity::None);
        assert!(response.intents.is_empty() && response.reasons.is_empty());
    }
}
