//! The floor under `cargo xtask bench-edge`: the least any server can do for
//! the bench's request over the transport the design fixes, with nothing of
//! Rampart's own.
//!
//! Three listeners serve `POST /v1/escalation/evaluate`:
//!
//! - `hop` (plain HTTP/1.1): parses the JSON body, makes one gRPC call over
//!   mutual TLS (the same internal certificates as the stack, tonic's
//!   defaults plus TCP_NODELAY, as the gateway's channels) to a backend
//!   that checks the text is there and answers a fixed decision, and
//!   answers JSON. No pipeline, no key check, no rate limit, no deadline,
//!   no tracing.
//! - `hop_tls`: the same route behind the gateway's own TLS listener
//!   (`rampart_gateway::edge`), for the TLS case.
//! - `no_hop`: parses the JSON body and answers JSON at once.
//!
//! Whatever the gateway runs slower than `hop` is Rampart's own cost;
//! whatever `hop` runs slower than nginx is the cost of the hop itself, which
//! no gateway on this transport can avoid.
//!
//! Prints one JSON line
//! (`{"hop": "127.0.0.1:port", "hop_tls": ..., "no_hop": ...}`), then runs
//! until stdin closes.

use anyhow::Context;
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use rampart_kit::pki::{PkiDir, ServiceName};
use rampart_proto::escalation::v1::escalation_service_client::EscalationServiceClient;
use rampart_proto::escalation::v1::escalation_service_server::{
    EscalationService, EscalationServiceServer,
};
use rampart_proto::escalation::v1::{
    Action, EvaluateRequest, EvaluateResponse, GateRequest, GateResponse, GetPolicyRequest,
    PolicyVersion, PutPolicyRequest, ReviewReplyRequest, ReviewReplyResponse, Severity,
};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};

// The same allocator as the bench stack (mimalloc, set by the library).
use rampart as _;

/// The backend: no I/O, no rules, a fixed answer.
struct Fixed;

#[tonic::async_trait]
impl EscalationService for Fixed {
    async fn evaluate(
        &self,
        request: tonic::Request<EvaluateRequest>,
    ) -> Result<tonic::Response<EvaluateResponse>, tonic::Status> {
        if request.get_ref().text.is_empty() {
            return Err(tonic::Status::invalid_argument("text is empty"));
        }
        Ok(tonic::Response::new(EvaluateResponse {
            action: Action::AiAnswer.into(),
            intents: Vec::new(),
            severity: Severity::None.into(),
            reasons: Vec::new(),
        }))
    }

    // The floor measures `Evaluate` only.
    async fn gate(
        &self,
        _request: tonic::Request<GateRequest>,
    ) -> Result<tonic::Response<GateResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not part of the floor"))
    }

    async fn review_reply(
        &self,
        _request: tonic::Request<ReviewReplyRequest>,
    ) -> Result<tonic::Response<ReviewReplyResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not part of the floor"))
    }

    async fn get_policy(
        &self,
        _request: tonic::Request<GetPolicyRequest>,
    ) -> Result<tonic::Response<PolicyVersion>, tonic::Status> {
        Err(tonic::Status::unimplemented("not part of the floor"))
    }

    async fn put_policy(
        &self,
        _request: tonic::Request<PutPolicyRequest>,
    ) -> Result<tonic::Response<PolicyVersion>, tonic::Status> {
        Err(tonic::Status::unimplemented("not part of the floor"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Evaluate {
    channel: String,
    text: String,
}

#[derive(Serialize)]
struct Decision {
    action: &'static str,
    intents: Vec<String>,
    severity: &'static str,
    reasons: Vec<String>,
}

impl Decision {
    fn from_backend(answer: EvaluateResponse) -> Self {
        Self {
            action: if answer.action() == Action::AiAnswer {
                "ai_answer"
            } else {
                "handoff"
            },
            severity: match answer.severity() {
                Severity::None => "none",
                Severity::Low => "low",
                Severity::Medium => "medium",
                Severity::High => "high",
                Severity::Critical => "critical",
                Severity::Unspecified => "unknown",
            },
            intents: answer.intents,
            reasons: answer.reasons,
        }
    }
}

async fn with_hop(
    State(client): State<EscalationServiceClient<Channel>>,
    Json(body): Json<Evaluate>,
) -> Result<Json<Decision>, (http::StatusCode, String)> {
    let answer = client
        .clone()
        .evaluate(EvaluateRequest {
            channel: body.channel,
            text: body.text,
        })
        .await
        .map_err(|status| (http::StatusCode::BAD_GATEWAY, status.message().to_owned()))?;
    Ok(Json(Decision::from_backend(answer.into_inner())))
}

async fn without_hop(Json(body): Json<Evaluate>) -> Result<Json<Decision>, http::StatusCode> {
    if body.text.is_empty() || body.channel.is_empty() {
        return Err(http::StatusCode::BAD_REQUEST);
    }
    Ok(Json(Decision {
        action: "ai_answer",
        intents: Vec::new(),
        severity: "none",
        reasons: Vec::new(),
    }))
}

/// Serves `app` over plain HTTP on a loopback port, TCP_NODELAY on every
/// connection as on the gateway's edge.
async fn serve_plain(app: axum::Router) -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scratch = std::env::args()
        .nth(1)
        .context("usage: bench_floor <scratch folder>")?;
    let pki = PkiDir::new(scratch);
    pki.ensure_generated(&["localhost".to_owned()])?;

    let backend = TcpListener::bind("127.0.0.1:0").await?;
    let backend_addr = backend.local_addr()?;
    let server = Server::builder()
        .tls_config(pki.load_service(ServiceName::Escalation)?.server())?
        .add_service(EscalationServiceServer::new(Fixed));
    tokio::spawn(server.serve_with_incoming(TcpIncoming::from(backend).with_nodelay(Some(true))));
    let channel = Endpoint::from_shared(format!("https://{backend_addr}"))?
        .tls_config(
            pki.load_service(ServiceName::Gateway)?
                .client(ServiceName::Escalation),
        )?
        .tcp_nodelay(true)
        .connect_lazy();

    let with_hop_app = axum::Router::new()
        .route("/v1/escalation/evaluate", post(with_hop))
        .with_state(EscalationServiceClient::new(channel));
    let hop = serve_plain(with_hop_app.clone()).await?;
    // The same route behind the gateway's own TLS listener, for the TLS case.
    let tls_listener = TcpListener::bind("127.0.0.1:0").await?;
    let hop_tls = tls_listener.local_addr()?;
    let (chain, key) = pki.load_edge()?;
    let tls = rampart_gateway::edge::tls_config(chain, key)?;
    tokio::spawn(async move {
        rampart_gateway::edge::serve(
            with_hop_app,
            tls_listener,
            tls,
            &rampart_gateway::edge::EdgeLimits::default(),
            rampart_kit::CancellationToken::new(),
        )
        .await
    });
    let no_hop =
        serve_plain(axum::Router::new().route("/v1/escalation/evaluate", post(without_hop)))
            .await?;
    println!(
        "{}",
        serde_json::json!({
            "hop": hop.to_string(),
            "hop_tls": hop_tls.to_string(),
            "no_hop": no_hop.to_string(),
        })
    );

    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    Ok(())
}
