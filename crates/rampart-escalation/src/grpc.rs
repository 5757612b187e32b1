//! The escalation service's gRPC handlers.
//!
//! - `Evaluate`: advisory, under the built-in policy; nothing is stored.
//! - `Gate`: the CRM's call for every inbound customer message. A message
//!   id decided before answers its stored receipt (`replayed`); otherwise
//!   the tenant's current policy decides, and the receipt and (for a
//!   handoff, or `force_handoff`) the conversation's handoff are written in
//!   one transaction, in the data mode of the relayed principal (a test
//!   key's conversation gets a test-mode receipt and handoff, which live
//!   credentials never see). A message id stored for another tenant, or
//!   in the other mode, answers NOT_FOUND: the CRM makes ids, so that is
//!   only ever an attack, and it must neither learn the other receipt nor
//!   get a decision stored.
//! - `ReviewReply`: the guardrails on an AI reply, whether a person has
//!   the conversation, and a handoff when a blocked reply asks for one.
//! - `GetPolicy`, `PutPolicy`: the tenant's policy versions, for managers
//!   and owners.
//!
//! Every handler reads the principal, requires a tenant, and logs what was
//! decided, never a message's or reply's text.

use chrono::SecondsFormat;
use rampart_kit::grpc::Caller;
use rampart_kit::ids::{ConversationId, MessageId};
use rampart_kit::outbox::Outbox;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Principal, Role};
use rampart_proto::escalation::v1 as proto;
use rampart_proto::escalation::v1::escalation_service_server::EscalationService;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::decisions::{self, DecisionStore, Inserted, StoredDecision};
use crate::error::Error;
use crate::guardrails::{self, Outcome};
use crate::handoffs::{self, OpenRequest};
use crate::intents::{self, Action, Assessment, Severity};
use crate::message::{Channel, MessageText};
use crate::policies::{Policies, StoredPolicy};
use crate::scope::DataScope;
use crate::tenant_policy::OnBlock;

/// The EscalationService implementation: a database pool, the audit
/// outbox, and the tenants' policies with their compiled cache.
#[derive(Debug, Clone)]
pub struct EscalationApi {
    db: DatabaseConnection,
    outbox: Outbox,
    policies: Policies,
}

impl EscalationApi {
    #[must_use]
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        let policies = Policies::new(db.clone(), outbox.clone());
        Self {
            db,
            outbox,
            policies,
        }
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

    async fn gate(
        &self,
        request: Request<proto::GateRequest>,
    ) -> Result<Response<proto::GateResponse>, Status> {
        let principal = principal_of_crm_call(&request)?;
        let scope = DataScope::of(&principal)?;
        let tenant_id = &scope.tenant_id;
        let request = request.into_inner();
        let conversation_id = ConversationId::parse(&request.conversation_id)
            .map_err(|_| Error::MalformedId("conversation_id"))?;
        let message_id =
            MessageId::parse(&request.message_id).map_err(|_| Error::MalformedId("message_id"))?;
        let channel = gate_channel(&request.channel)?;
        let text = MessageText::parse(request.text)?;

        // No look-up first: a message asked about again (the CRM's retry)
        // meets the stored decision as a duplicate insert below, and the
        // common case, a new message, saves a round trip.
        let decisions = DecisionStore::for_tenant(&self.db, &scope);
        // The policy is the tenant's, the same in both modes.
        let compiled = self.policies.current_compiled(tenant_id).await?;
        let receipt = decisions::decide(&compiled, text.as_str());

        // An incident's freeze sends every message to a person, whatever
        // the detector says (see [`crate::freeze`]).
        let forced = request.force_handoff
            || crate::freeze::is_frozen(&self.db, tenant_id.as_str())
                .await
                .map_err(Error::from)?;
        let opens_handoff = receipt.is_handoff() || forced;
        // A decision that opens nothing is one row: a single statement, no
        // transaction. One that opens a handoff commits with it.
        let mut change = if opens_handoff {
            Some(self.outbox.begin(&self.db).await.map_err(Error::from)?)
        } else {
            None
        };
        let inserted = match &change {
            Some(change) => {
                decisions
                    .insert(change.tx(), &message_id, &conversation_id, &receipt)
                    .await?
            }
            None => {
                decisions
                    .insert(&self.db, &message_id, &conversation_id, &receipt)
                    .await?
            }
        };
        if let Inserted::Duplicate = inserted {
            // Decided before (a retry, or a concurrent call that won):
            // answer the stored receipt. None in this scope: the id is
            // another tenant's, or the other mode's.
            drop(change);
            let stored = decisions
                .find(&message_id)
                .await?
                .ok_or(Error::MessageNotFound)?;
            // A forced retry of a message decided for the AI (the CRM never
            // got the answer, and gave the conversation to a person) must
            // still find a handoff: a conversation with a person and no
            // handoff would be with nobody.
            if forced
                && handoffs::active_for(&self.db, &scope, &stored.conversation_id)
                    .await
                    .map_err(Error::from)?
                    .is_none()
            {
                let mut change = self.outbox.begin(&self.db).await.map_err(Error::from)?;
                let open = open_request(
                    &scope,
                    &stored.conversation_id,
                    &message_id,
                    &stored.receipt,
                    &compiled,
                    &principal,
                );
                handoffs::open_or_join(&mut change, open)
                    .await
                    .map_err(Error::from)?;
                change.commit().await.map_err(Error::from)?;
            }
            return Ok(Response::new(self.replay(&scope, stored).await?));
        }
        let handoff = if let Some(change) = change.as_mut() {
            let open = open_request(
                &scope,
                &conversation_id,
                &message_id,
                &receipt,
                &compiled,
                &principal,
            );
            Some(
                handoffs::open_or_join(change, open)
                    .await
                    .map_err(Error::from)?,
            )
        } else {
            None
        };
        if let Some(change) = change {
            change.commit().await.map_err(Error::from)?;
        }

        tracing::info!(
            %tenant_id,
            mode = scope.mode_column(),
            %message_id,
            %conversation_id,
            channel,
            action = %receipt.action,
            severity = %receipt.severity,
            intents = ?receipt.intents,
            policy_version = receipt.policy_version,
            language = %receipt.language,
            forced,
            handoff = handoff.as_ref().map(|h| h.id.as_str()),
            request_id = %principal.request_id,
            "message gated"
        );
        Ok(Response::new(proto::GateResponse {
            receipt: Some(receipt.to_proto(false)),
            handoff,
        }))
    }

    async fn review_reply(
        &self,
        request: Request<proto::ReviewReplyRequest>,
    ) -> Result<Response<proto::ReviewReplyResponse>, Status> {
        let principal = principal_of_crm_call(&request)?;
        let scope = DataScope::of(&principal)?;
        let tenant_id = &scope.tenant_id;
        let request = request.into_inner();
        let conversation_id = ConversationId::parse(&request.conversation_id)
            .map_err(|_| Error::MalformedId("conversation_id"))?;
        let text = MessageText::parse(request.text)?;
        let contacts = request.customer_contacts;
        if contacts.len() > MAX_CUSTOMER_CONTACTS
            || contacts
                .iter()
                .any(|c| c.chars().count() > MAX_CONTACT_CHARS)
        {
            return Err(Error::TooManyContacts.into());
        }

        crate::freeze::refuse_if_frozen(&self.db, tenant_id.as_str()).await?;
        let compiled = self.policies.current_compiled(tenant_id).await?;
        let guardrails = &compiled.policy.guardrails;
        let review = guardrails::review(text.as_str(), &contacts, &compiled);
        let active = handoffs::active_for(&self.db, &scope, &conversation_id)
            .await
            .map_err(Error::from)?;

        let mut handoff = None;
        // A person who has the conversation already needs no new handoff:
        // the CRM refuses the reply on `human_has_conversation`.
        if active.is_none()
            && review.outcome == Outcome::Block
            && guardrails.on_block == OnBlock::Handoff
        {
            // The reply has no message id of its own (it never left): the
            // handoff names a fresh one.
            let reply_id = MessageId::generate();
            let mut change = self.outbox.begin(&self.db).await.map_err(Error::from)?;
            let open = OpenRequest {
                scope: &scope,
                conversation_id: &conversation_id,
                message_id: &reply_id,
                severity: Severity::Medium,
                intents: Vec::new(),
                reasons: vec![format!("ai reply blocked: {}", review.kinds())],
                policy: &compiled.policy,
                policy_version: compiled.version,
                principal: &principal,
            };
            let opened = handoffs::open_or_join(&mut change, open)
                .await
                .map_err(Error::from)?;
            change.commit().await.map_err(Error::from)?;
            handoff = Some(opened);
        }

        tracing::info!(
            %tenant_id,
            mode = scope.mode_column(),
            %conversation_id,
            outcome = ?review.outcome,
            findings = %review.kinds(),
            policy_version = compiled.version,
            human_has_conversation = active.is_some(),
            handoff = handoff.as_ref().map(|h| h.id.as_str()),
            request_id = %principal.request_id,
            "ai reply reviewed"
        );
        let outcome = match review.outcome {
            Outcome::Allow => proto::Outcome::Allow,
            Outcome::Redact => proto::Outcome::Redact,
            Outcome::Block => proto::Outcome::Block,
        };
        Ok(Response::new(proto::ReviewReplyResponse {
            outcome: outcome.into(),
            text: review.text,
            findings: review
                .findings
                .into_iter()
                .map(|finding| proto::Finding {
                    kind: finding.kind.as_str().to_owned(),
                    reason: finding.reason,
                })
                .collect(),
            // Whether a person had it before this reply: a handoff the
            // reply itself opened is reported in `handoff`, and the CRM
            // stores the blocked reply with it.
            human_has_conversation: active.is_some(),
            handoff,
            policy_version: compiled.version,
        }))
    }

    async fn get_policy(
        &self,
        request: Request<proto::GetPolicyRequest>,
    ) -> Result<Response<proto::PolicyVersion>, Status> {
        let principal = Principal::from_request(&request)?;
        let tenant_id = principal.require_tenant()?.clone();
        principal.require_role(Role::Manager)?;
        let stored = self.policies.current(&tenant_id).await?;
        Ok(Response::new(policy_to_proto(&stored)))
    }

    async fn put_policy(
        &self,
        request: Request<proto::PutPolicyRequest>,
    ) -> Result<Response<proto::PolicyVersion>, Status> {
        let principal = Principal::from_request(&request)?;
        let tenant_id = principal.require_tenant()?.clone();
        principal.require_role(Role::Manager)?;
        let request = request.into_inner();
        let stored = self
            .policies
            .put(
                &principal,
                &tenant_id,
                &request.document,
                request.expected_version,
            )
            .await?;
        tracing::info!(
            %tenant_id,
            version = stored.version,
            actor = %stored.created_by,
            request_id = %principal.request_id,
            "policy changed"
        );
        Ok(Response::new(policy_to_proto(&stored)))
    }
}

impl EscalationApi {
    /// A stored receipt answered again, with the conversation's handoff as
    /// it is now: no new decision, no second handoff.
    async fn replay(
        &self,
        scope: &DataScope,
        stored: StoredDecision,
    ) -> Result<proto::GateResponse, Error> {
        let handoff = handoffs::active_for(&self.db, scope, &stored.conversation_id).await?;
        tracing::info!(
            tenant_id = %scope.tenant_id,
            mode = scope.mode_column(),
            conversation_id = %stored.conversation_id,
            action = %stored.receipt.action,
            "message gated again, stored receipt answered"
        );
        Ok(proto::GateResponse {
            receipt: Some(stored.receipt.to_proto(true)),
            handoff,
        })
    }
}

/// The handoff a gated message opens: the receipt's severity and intents;
/// one decided for the AI but forced (escalation was unreachable when it
/// arrived) opens at medium at least, saying why.
fn open_request<'a>(
    scope: &'a DataScope,
    conversation_id: &'a ConversationId,
    message_id: &'a MessageId,
    receipt: &crate::decisions::Receipt,
    compiled: &'a crate::policies::CompiledPolicy,
    principal: &'a Principal,
) -> OpenRequest<'a> {
    let mut severity = receipt.severity();
    let mut reasons = receipt.reasons.clone();
    if !receipt.is_handoff() {
        severity = severity.max(Severity::Medium);
        reasons.push(UNREACHABLE_REASON.to_owned());
    }
    OpenRequest {
        scope,
        conversation_id,
        message_id,
        severity,
        intents: receipt.intents.clone(),
        reasons,
        policy: &compiled.policy,
        policy_version: compiled.version,
        principal,
    }
}

/// The reason a handoff carries when the CRM forced it because escalation
/// could not be reached and the decision itself was for the AI.
pub const UNREACHABLE_REASON: &str = "escalation was unreachable when the message arrived";
/// Bounds on `customer_contacts`.
const MAX_CUSTOMER_CONTACTS: usize = 20;
const MAX_CONTACT_CHARS: usize = 320;

/// The principal of a call the CRM makes for a tenant: the gate and the
/// guardrails stand between a message and the AI, and the CRM is the only
/// way messages come in, so no other service (the gateway included) may
/// ask them. The CRM relays the principal the gateway gave it.
fn principal_of_crm_call<T>(request: &Request<T>) -> Result<Principal, Status> {
    if Caller::of(request)? != ServiceName::Crm {
        return Err(Status::permission_denied(
            "only the CRM asks the gate and the guardrails",
        ));
    }
    Principal::from_request_relayed_by(request, ServiceName::Crm)
}

/// The gate's channel: the advisory channels, and e-mail, which the CRM's
/// conversations have and `Evaluate` does not take.
fn gate_channel(raw: &str) -> Result<&'static str, Error> {
    if raw == "email" {
        return Ok("email");
    }
    Ok(Channel::parse(raw)?.as_str())
}

fn policy_to_proto(stored: &StoredPolicy) -> proto::PolicyVersion {
    proto::PolicyVersion {
        version: stored.version,
        document: stored.policy.to_document(),
        created_at: stored
            .created_at
            .map(|at| at.to_rfc3339_opts(SecondsFormat::Micros, true))
            .unwrap_or_default(),
        created_by: stored.created_by.clone(),
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
