//! A stand-in for the escalation service, served over mutual TLS with the
//! escalation certificate of the CRM's own test PKI, answering only the CRM.
//!
//! Its gate hands off texts containing "sue", "gas" or "personal data" (a
//! privacy request) and lets the AI answer the rest; like the real one it decides each message id once (a repeat
//! answers the stored receipt) and keeps one open handoff per conversation.
//! Its review blocks texts containing "guarantee" (and opens a handoff),
//! redacts "rk_live_" keys, and says a person has the conversations a test
//! marks. It records every call, with the tenant of the principal it came
//! with, and can be switched down (every call UNAVAILABLE) and up again.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rampart_kit::CancellationToken;
use rampart_kit::grpc::{AllowPeers, serve, server};
use rampart_kit::ids::HandoffId;
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_proto::escalation::v1 as proto;
use rampart_proto::escalation::v1::escalation_service_server::{
    EscalationService, EscalationServiceServer,
};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

/// One Gate call as the stub received it.
#[derive(Debug, Clone)]
pub struct GateCall {
    /// From the principal metadata the CRM sent.
    pub tenant_id: String,
    pub request: proto::GateRequest,
}

#[derive(Default)]
struct State {
    down: AtomicBool,
    gate_calls: Mutex<Vec<GateCall>>,
    review_calls: Mutex<Vec<proto::ReviewReplyRequest>>,
    /// Decisions by message id.
    decided: Mutex<HashMap<String, proto::GateResponse>>,
    /// The open handoff of each conversation.
    handoffs: Mutex<HashMap<String, proto::Handoff>>,
    with_a_person: Mutex<HashSet<String>>,
}

/// The running stub; stops serving when dropped.
#[derive(Clone)]
pub struct StubEscalation {
    state: Arc<State>,
    stop: CancellationToken,
}

impl StubEscalation {
    /// Serves the stub on `listener` with `pki`'s escalation certificate,
    /// until the guard is dropped.
    pub fn serve(listener: TcpListener, pki: &PkiDir) -> (Self, StubGuard) {
        let tls = pki.load_service(ServiceName::Escalation).unwrap();
        let stub = Self {
            state: Arc::default(),
            stop: CancellationToken::new(),
        };
        let router = server(&tls)
            .unwrap()
            .add_service(EscalationServiceServer::with_interceptor(
                Service(stub.state.clone()),
                AllowPeers(&[ServiceName::Crm]),
            ));
        tokio::spawn(serve(router, listener, stub.stop.clone()));
        let guard = StubGuard(stub.stop.clone());
        (stub, guard)
    }

    /// Every call fails with UNAVAILABLE until [`up`](Self::up).
    pub fn down(&self) {
        self.state.down.store(true, Ordering::SeqCst);
    }

    pub fn up(&self) {
        self.state.down.store(false, Ordering::SeqCst);
    }

    /// The review then says a person has `conversation_id`.
    pub fn mark_with_a_person(&self, conversation_id: &str) {
        self.state
            .with_a_person
            .lock()
            .unwrap()
            .insert(conversation_id.to_owned());
    }

    pub fn gate_calls(&self) -> Vec<GateCall> {
        self.state.gate_calls.lock().unwrap().clone()
    }

    pub fn review_calls(&self) -> Vec<proto::ReviewReplyRequest> {
        self.state.review_calls.lock().unwrap().clone()
    }

    /// The Gate calls that asked for a forced handoff.
    pub fn forced_gate_calls(&self) -> Vec<GateCall> {
        self.gate_calls()
            .into_iter()
            .filter(|call| call.request.force_handoff)
            .collect()
    }
}

/// Stops the stub's server when dropped.
pub struct StubGuard(CancellationToken);

impl Drop for StubGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

struct Service(Arc<State>);

impl Service {
    fn check_up(&self) -> Result<(), Status> {
        if self.0.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("escalation is down (stub)"));
        }
        Ok(())
    }

    /// The one open handoff of a conversation, opened on first need.
    fn handoff_for(&self, request: &proto::GateRequest) -> proto::Handoff {
        self.0
            .handoffs
            .lock()
            .unwrap()
            .entry(request.conversation_id.clone())
            .or_insert_with(|| proto::Handoff {
                id: HandoffId::generate().into_string(),
                conversation_id: request.conversation_id.clone(),
                message_id: request.message_id.clone(),
                status: "open".into(),
                severity: proto::Severity::High.into(),
                level: 1,
                ..Default::default()
            })
            .clone()
    }
}

#[tonic::async_trait]
impl EscalationService for Service {
    async fn evaluate(
        &self,
        _request: Request<proto::EvaluateRequest>,
    ) -> Result<Response<proto::EvaluateResponse>, Status> {
        Err(Status::unimplemented("not stubbed"))
    }

    async fn gate(
        &self,
        request: Request<proto::GateRequest>,
    ) -> Result<Response<proto::GateResponse>, Status> {
        self.check_up()?;
        let tenant_id = request
            .metadata()
            .get("x-rampart-tenant-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let request = request.into_inner();
        self.0.gate_calls.lock().unwrap().push(GateCall {
            tenant_id,
            request: request.clone(),
        });
        if let Some(earlier) = self.0.decided.lock().unwrap().get(&request.message_id) {
            let mut replay = earlier.clone();
            if let Some(receipt) = &mut replay.receipt {
                receipt.replayed = true;
            }
            return Ok(Response::new(replay));
        }
        let text = request.text.to_lowercase();
        let risky = text.contains("sue") || text.contains("gas") || text.contains("personal data");
        let (action, intents, severity) = if risky {
            let intent = if text.contains("gas") {
                "emergency"
            } else if text.contains("sue") {
                "legal"
            } else {
                "privacy"
            };
            (
                proto::Action::Handoff,
                vec![intent.to_owned()],
                proto::Severity::High,
            )
        } else {
            (proto::Action::AiAnswer, Vec::new(), proto::Severity::None)
        };
        let receipt = proto::Receipt {
            action: action.into(),
            intents: intents.clone(),
            severity: severity.into(),
            reasons: intents.iter().map(|i| format!("{i} (stub)")).collect(),
            signals: intents
                .iter()
                .map(|i| format!("rule:en:{i}:stub"))
                .collect(),
            policy_version: 0,
            language: "en".into(),
            decided_at: "2026-01-01T00:00:00Z".into(),
            replayed: false,
        };
        let handoff = (risky || request.force_handoff).then(|| self.handoff_for(&request));
        let response = proto::GateResponse {
            receipt: Some(receipt),
            handoff,
        };
        self.0
            .decided
            .lock()
            .unwrap()
            .insert(request.message_id.clone(), response.clone());
        Ok(Response::new(response))
    }

    async fn review_reply(
        &self,
        request: Request<proto::ReviewReplyRequest>,
    ) -> Result<Response<proto::ReviewReplyResponse>, Status> {
        self.check_up()?;
        let request = request.into_inner();
        self.0.review_calls.lock().unwrap().push(request.clone());
        let with_a_person = self
            .0
            .with_a_person
            .lock()
            .unwrap()
            .contains(&request.conversation_id);
        let mut response = proto::ReviewReplyResponse {
            outcome: proto::Outcome::Allow.into(),
            text: request.text.clone(),
            findings: Vec::new(),
            human_has_conversation: with_a_person,
            handoff: None,
            policy_version: 4,
        };
        if request.text.contains("guarantee") {
            response.outcome = proto::Outcome::Block.into();
            response.text = String::new();
            response.findings.push(proto::Finding {
                kind: "forbidden_phrase".into(),
                reason: "promises a guarantee".into(),
            });
            let gate = proto::GateRequest {
                conversation_id: request.conversation_id.clone(),
                ..Default::default()
            };
            response.handoff = Some(self.handoff_for(&gate));
        } else if let Some(start) = request.text.find("rk_live_") {
            response.outcome = proto::Outcome::Redact.into();
            let end = request.text[start..]
                .find(char::is_whitespace)
                .map_or(request.text.len(), |n| start + n);
            response.text = format!(
                "{}[redacted]{}",
                &request.text[..start],
                &request.text[end..]
            );
            response.findings.push(proto::Finding {
                kind: "secret".into(),
                reason: "a Rampart live key".into(),
            });
        }
        Ok(Response::new(response))
    }

    async fn get_policy(
        &self,
        _request: Request<proto::GetPolicyRequest>,
    ) -> Result<Response<proto::PolicyVersion>, Status> {
        Err(Status::unimplemented("not stubbed"))
    }

    async fn put_policy(
        &self,
        _request: Request<proto::PutPolicyRequest>,
    ) -> Result<Response<proto::PolicyVersion>, Status> {
        Err(Status::unimplemented("not stubbed"))
    }
}

/// Binds a port for the stub before the CRM starts, so the CRM's
/// configuration can name it.
pub async fn reserve() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}
