//! The support flow end to end, as a business and its customers meet it:
//! a widget message that must go to a person, the queue, an agent's claim,
//! reply and hand-back; the AI kept silent while a person has the
//! conversation; guardrails that mask or stop a reply; escalation down
//! (fail closed, then the handoff opens exactly once); a deadline that
//! escalates after a restart, fired once with two escalation instances on
//! one database; another tenant seeing none of it; every step audited.

use std::time::Duration;

use rampart::dev_data::DataDir;
use rampart_e2e::on_both_backends;
use rampart_kit::CancellationToken;
use rampart_kit::pki::ServiceName;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::accounts::{audit_events, post, session, tenant_with_owner};
use crate::harness::{Tenant, TestStack, read};

const SHOP: &str = "https://plumbing.example.com";
const AGENT_PASSWORD: &str = "orange kettle whistles at dawn";

on_both_backends!(
    widget_message_to_handoff_claim_reply_and_hand_back,
    escalation_down_fails_closed_and_opens_the_handoff_once,
    a_deadline_escalates_once_across_a_restart_and_two_instances,
);

/// A tenant with a signed-in owner and a signed-in agent.
struct Business {
    tenant: Tenant,
    owner: String,
    agent: String,
    agent_id: String,
}

async fn business(stack: &TestStack, name: &str) -> Business {
    let (tenant, _, owner) = tenant_with_owner(stack, name).await;
    let email = format!("agent@{}.example", name.to_lowercase().replace(' ', ""));
    let (status, user) = post(
        stack,
        "/v1/users",
        Some(&owner),
        json!({ "email": email, "password": AGENT_PASSWORD, "role": "agent" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let agent = session(stack, &tenant, &email, AGENT_PASSWORD).await;
    Business {
        tenant,
        owner,
        agent,
        agent_id: user["user_id"].as_str().unwrap().to_owned(),
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    read(request.send().await.unwrap()).await
}

async fn put_policy(stack: &TestStack, owner: &str, policy: Value) -> Value {
    let (status, body) = send(
        stack
            .request(Method::PUT, "/v1/escalation/policy")
            .bearer_auth(owner)
            .json(&json!({ "policy": policy })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn conversation_path(id: &str) -> String {
    format!("/v1/crm/conversations/{id}")
}

async fn conversation(stack: &TestStack, tenant: &Tenant, id: &str) -> Value {
    let (status, body) = send(stack.as_tenant(tenant, Method::GET, &conversation_path(id))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn ai_reply(stack: &TestStack, tenant: &Tenant, id: &str, text: &str) -> (StatusCode, Value) {
    send(
        stack
            .as_tenant(
                tenant,
                Method::POST,
                &format!("{}/ai-replies", conversation_path(id)),
            )
            .json(&json!({ "text": text })),
    )
    .await
}

async fn handoffs_of(stack: &TestStack, tenant: &Tenant, conversation_id: &str) -> Vec<Value> {
    let (status, body) = send(stack.as_tenant(
        tenant,
        Method::GET,
        &format!("/v1/handoffs?conversation_id={conversation_id}&status=open"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut handoffs = body["handoffs"].as_array().unwrap().clone();
    let (status, claimed) = send(stack.as_tenant(
        tenant,
        Method::GET,
        &format!("/v1/handoffs?conversation_id={conversation_id}&status=claimed"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    handoffs.extend(claimed["handoffs"].as_array().unwrap().iter().cloned());
    handoffs
}

/// Polls until `check` holds, failing after `within`.
async fn eventually<T>(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(events: &[Value], action: &str, target: &str) -> usize {
    events
        .iter()
        .filter(|event| event["action"] == action && event["target"].as_str() == Some(target))
        .count()
}

async fn widget_message_to_handoff_claim_reply_and_hand_back(stack: &TestStack) {
    let shop = business(stack, "Acme Heating").await;
    let other = business(stack, "Other Trade").await;
    let policy = put_policy(
        stack,
        &shop.owner,
        json!({
            "guardrails": { "forbidden_phrases": ["full refund"] },
        }),
    )
    .await;
    assert_eq!(policy["version"], 1, "{policy}");

    // The widget's very first message is gated: a gas smell goes to a
    // person before the AI can say anything.
    let (status, key) = send(
        stack
            .as_admin(
                Method::POST,
                &format!("/v1/admin/tenants/{}/api-keys", shop.tenant.id),
            )
            .json(&json!({ "environment": "widget", "allowed_origins": [SHOP] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let widget_key = key["api_key"].as_str().unwrap().to_owned();
    let (status, started) = send(
        stack
            .request(Method::POST, "/v1/widget/conversations")
            .header("X-Widget-Key", &widget_key)
            .header("Origin", SHOP)
            .json(
                &json!({ "text": "i can smell gas near the boiler and the alarm keeps beeping" }),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "handed_off", "{started}");
    let conversation_id = started["conversation_id"].as_str().unwrap().to_owned();
    let visitor_token = started["visitor_token"].as_str().unwrap().to_owned();

    let view = conversation(stack, &shop.tenant, &conversation_id).await;
    assert_eq!(view["status"], "handed_off", "{view}");
    let receipt = &view["messages"][0]["receipt"];
    assert_eq!(receipt["action"], "handoff", "{view}");
    assert_eq!(receipt["severity"], "critical", "{view}");
    assert!(
        receipt["intents"]
            .as_array()
            .unwrap()
            .contains(&json!("emergency")),
        "{view}"
    );
    assert_eq!(receipt["policy_version"], 1, "{view}");
    assert!(!receipt["signals"].as_array().unwrap().is_empty(), "{view}");

    // The queue shows it; another tenant sees nothing of it.
    let handoffs = handoffs_of(stack, &shop.tenant, &conversation_id).await;
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    let handoff = handoffs[0].clone();
    let handoff_id = handoff["id"].as_str().unwrap().to_owned();
    assert_eq!(handoff["severity"], "critical");
    assert_eq!(handoff["status"], "open");
    assert_eq!(handoff["policy_version"], 1);
    for path in [
        conversation_path(&conversation_id),
        format!("/v1/handoffs/{handoff_id}"),
    ] {
        let (status, body) = send(stack.as_tenant(&other.tenant, Method::GET, &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, body) = send(
        stack
            .request(Method::POST, &format!("/v1/handoffs/{handoff_id}/claim"))
            .bearer_auth(&other.agent),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = ai_reply(stack, &other.tenant, &conversation_id, "hello").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // The visitor writes again; the AI may not answer while a person has it.
    let (status, body) = send(
        stack
            .request(
                Method::POST,
                &format!("/v1/widget/conversations/{conversation_id}/messages"),
            )
            .header("X-Widget-Key", &widget_key)
            .header("Origin", SHOP)
            .header("X-Visitor-Token", &visitor_token)
            .json(&json!({ "text": "hello? is anyone there" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = send(
        stack
            .request(
                Method::POST,
                &format!("/v1/widget/conversations/{conversation_id}/messages"),
            )
            .header("X-Widget-Key", &widget_key)
            .header("Origin", SHOP)
            .header("X-Visitor-Token", "not-the-token")
            .json(&json!({ "text": "let me in" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) =
        ai_reply(stack, &shop.tenant, &conversation_id, "Our hours are 9-5.").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The integration's key cannot claim; the agent can, once.
    let (status, body) = send(stack.as_tenant(
        &shop.tenant,
        Method::POST,
        &format!("/v1/handoffs/{handoff_id}/claim"),
    ))
    .await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
        "{status}: {body}"
    );
    let (status, claimed) = send(
        stack
            .request(Method::POST, &format!("/v1/handoffs/{handoff_id}/claim"))
            .bearer_auth(&shop.agent),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["status"], "claimed");
    assert_eq!(claimed["assignee"], shop.agent_id.as_str());
    let view = conversation(stack, &shop.tenant, &conversation_id).await;
    assert_eq!(view["status"], "assigned", "{view}");
    assert_eq!(view["assignee"], shop.agent_id.as_str(), "{view}");

    // The agent answers, then hands the conversation back to the AI.
    let (status, reply) = send(
        stack
            .request(
                Method::POST,
                &format!("{}/agent-replies", conversation_path(&conversation_id)),
            )
            .bearer_auth(&shop.agent)
            .json(&json!({ "text": "Please leave the house now and call the gas line; we are on our way." })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["author"], "agent");
    let (status, reply) = send(
        stack
            .as_tenant(
                &shop.tenant,
                Method::POST,
                &format!("{}/agent-replies", conversation_path(&conversation_id)),
            )
            .json(&json!({ "text": "a key is not an agent" })),
    )
    .await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
        "{status}: {reply}"
    );
    let (status, back) = send(
        stack
            .request(
                Method::POST,
                &format!("/v1/handoffs/{handoff_id}/hand-back"),
            )
            .bearer_auth(&shop.agent),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["status"], "handed_back");
    let view = conversation(stack, &shop.tenant, &conversation_id).await;
    assert_eq!(view["status"], "ai_active", "{view}");

    // The AI speaks again, through the guardrails.
    let (status, sent) = ai_reply(
        stack,
        &shop.tenant,
        &conversation_id,
        "Glad you are safe. Anything else?",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["delivery"], "sent", "{sent}");
    let leaked_key = format!("rk_live_{}", "a".repeat(40));
    let (status, masked) = ai_reply(
        stack,
        &shop.tenant,
        &conversation_id,
        &format!(
            "Your booking for Thursday morning is confirmed and the engineer will call ahead. \
             Someone pasted {leaked_key} in an earlier note; please ignore it and sign in as usual."
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{masked}");
    assert_eq!(masked["delivery"], "redacted", "{masked}");
    assert!(
        !masked["text"].as_str().unwrap().contains("rk_live_"),
        "{masked}"
    );
    let (status, blocked) = ai_reply(
        stack,
        &shop.tenant,
        &conversation_id,
        "Don't worry, you will get a full refund for the visit.",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{blocked}");
    assert_eq!(blocked["delivery"], "blocked", "{blocked}");
    assert_eq!(blocked["text"], "", "{blocked}");
    assert!(
        blocked["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|finding| finding["kind"] == "forbidden_phrase"),
        "{blocked}"
    );
    // The policy hands a blocked reply's conversation to a person.
    let view = conversation(stack, &shop.tenant, &conversation_id).await;
    assert_eq!(view["status"], "handed_off", "{view}");
    let (status, body) = ai_reply(stack, &shop.tenant, &conversation_id, "Hello again").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Every step is in the tenant's audit log.
    let handoff_target = format!("handoff:{handoff_id}");
    let conversation_target = format!("conversation:{conversation_id}");
    let events = eventually(
        "the support flow's audit events",
        Duration::from_secs(30),
        async || {
            let events = audit_events(stack, &shop.tenant).await;
            let complete = count(&events, "handoff.opened", &handoff_target) == 1
                && count(&events, "handoff.claimed", &handoff_target) == 1
                && count(&events, "handoff.handed_back", &handoff_target) == 1
                && count(&events, "conversation.handed_off", &conversation_target) >= 1
                && events
                    .iter()
                    .filter(|event| event["action"] == "ai_reply.reviewed")
                    .count()
                    == 2
                && events
                    .iter()
                    .any(|event| event["action"] == "policy.changed");
            complete.then_some(events)
        },
    )
    .await;
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("boiler"), "message text in the audit log");
    assert!(!text.contains(&leaked_key), "a secret in the audit log");
    assert!(
        audit_events(stack, &other.tenant)
            .await
            .iter()
            .all(|event| !event["action"].as_str().unwrap().starts_with("handoff.")),
        "another tenant's log shows the handoff"
    );
}

/// Starts escalation again on its own port (just released), on the stack's
/// database, as a restart would.
async fn start_escalation(stack: &TestStack, listener: Option<TcpListener>) -> EscalationInstance {
    let listener = match listener {
        Some(listener) => listener,
        None => {
            let address = stack.stack.internal[&ServiceName::Escalation];
            let mut tries = 0;
            loop {
                match TcpListener::bind(address).await {
                    Ok(listener) => break listener,
                    Err(error) => {
                        tries += 1;
                        assert!(tries < 100, "cannot rebind {address}: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
    };
    let database_url = stack.database_url.clone().unwrap_or_else(|| {
        rampart_kit::db::sqlite_url(
            &DataDir::open(&stack.data_dir)
                .unwrap()
                .database("escalation"),
        )
    });
    let config = rampart_escalation::Config {
        database_url,
        audit_url: format!("https://{}", stack.stack.internal[&ServiceName::Audit]),
        deadline_tick: Duration::from_millis(100),
        smtp: None,
        webhook_targets: rampart_escalation::handoffs::WebhookTargets::AnyAddress,
    };
    let tls = stack
        .stack
        .pki
        .load_service(ServiceName::Escalation)
        .unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(rampart_escalation::run_co_located(
        config,
        listener,
        tls,
        stack.stack.running.local_services().clone(),
        stop.clone(),
    ));
    // Up once the gateway sees it: over gRPC a call would wait in the
    // listener's backlog, but in process there is nothing to call until
    // the service has registered.
    stack.wait_ready().await;
    EscalationInstance { stop, task }
}

struct EscalationInstance {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl EscalationInstance {
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// Stops the stack's own escalation service and waits until its port is
/// free again.
async fn stop_stack_escalation(stack: &TestStack) {
    stack.stack.running.stop_service(ServiceName::Escalation);
    let address = stack.stack.internal[&ServiceName::Escalation];
    eventually("escalation stops", Duration::from_secs(10), async || {
        TcpListener::bind(address).await.ok().map(drop)
    })
    .await;
}

async fn escalation_down_fails_closed_and_opens_the_handoff_once(stack: &TestStack) {
    let shop = business(stack, "Calm Boilers").await;
    let (status, started) = send(
        stack
            .as_tenant(&shop.tenant, Method::POST, "/v1/crm/conversations")
            .json(&json!({ "channel": "web" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let conversation_id = started["id"].as_str().unwrap().to_owned();
    assert_eq!(started["status"], "ai_active");

    stop_stack_escalation(stack).await;
    // A harmless message while escalation is down: kept, and the
    // conversation goes to a person rather than to an unchecked AI.
    let (status, message) = send(
        stack
            .as_tenant(
                &shop.tenant,
                Method::POST,
                &format!("{}/messages", conversation_path(&conversation_id)),
            )
            .header("Idempotency-Key", "down-1")
            .json(&json!({ "text": "what time do you open on saturday" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["gate"], "pending", "{message}");
    let view = conversation(stack, &shop.tenant, &conversation_id).await;
    assert_eq!(view["status"], "handed_off", "{view}");
    let (status, body) = ai_reply(stack, &shop.tenant, &conversation_id, "We open at 9.").await;
    assert!(
        status == StatusCode::CONFLICT || status == StatusCode::SERVICE_UNAVAILABLE,
        "{status}: {body}"
    );
    // The same post retried with its key is the same message, not a second.
    let (status, again) = send(
        stack
            .as_tenant(
                &shop.tenant,
                Method::POST,
                &format!("{}/messages", conversation_path(&conversation_id)),
            )
            .header("Idempotency-Key", "down-1")
            .json(&json!({ "text": "what time do you open on saturday" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["id"], message["id"], "{again}");

    // Escalation comes back: the handoff opens, once, and the message gets
    // its receipt.
    let instance = start_escalation(stack, None).await;
    let handoffs = eventually("the handoff opens", Duration::from_secs(30), async || {
        let handoffs = handoffs_of(stack, &shop.tenant, &conversation_id).await;
        (!handoffs.is_empty()).then_some(handoffs)
    })
    .await;
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    let view = eventually(
        "the message is decided",
        Duration::from_secs(30),
        async || {
            let view = conversation(stack, &shop.tenant, &conversation_id).await;
            (view["messages"][0]["gate"] == "decided").then_some(view)
        },
    )
    .await;
    assert!(view["messages"][0]["receipt"].is_object(), "{view}");
    assert_eq!(view["status"], "handed_off", "{view}");
    assert_eq!(view["messages"].as_array().unwrap().len(), 1, "{view}");
    // A while later there is still exactly one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        handoffs_of(stack, &shop.tenant, &conversation_id)
            .await
            .len(),
        1
    );
    let handoff_target = format!("handoff:{}", handoffs[0]["id"].as_str().unwrap());
    eventually("handoff.opened once", Duration::from_secs(30), async || {
        let events = audit_events(stack, &shop.tenant).await;
        (count(&events, "handoff.opened", &handoff_target) == 1).then_some(())
    })
    .await;
    instance.stop().await;
}

async fn a_deadline_escalates_once_across_a_restart_and_two_instances(stack: &TestStack) {
    let shop = business(stack, "Quick Fix").await;
    put_policy(
        stack,
        &shop.owner,
        json!({
            "response_targets": { "critical_secs": 1, "high_secs": 1, "medium_secs": 1, "low_secs": 1 },
            "contacts": [
                { "name": "on-call", "kind": "technical_incident", "email": "oncall@quickfix.example" },
                { "name": "boss", "kind": "general", "email": "boss@quickfix.example" }
            ],
            "chain": {
                "levels": [
                    { "contacts": ["on-call"], "delay_secs": 1 },
                    { "contacts": ["boss"], "roles": ["owner"], "delay_secs": 3600 }
                ],
                "repeats": 0
            }
        }),
    )
    .await;
    let (status, started) = send(
        stack
            .as_tenant(&shop.tenant, Method::POST, "/v1/crm/conversations")
            .json(&json!({ "channel": "sms", "text": "I am going to sue you for this" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let conversation_id = started["id"].as_str().unwrap().to_owned();
    let handoffs = handoffs_of(stack, &shop.tenant, &conversation_id).await;
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    let handoff_id = handoffs[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(handoffs[0]["level"], 1);

    // Escalation stops before the due time and is down when it passes.
    stop_stack_escalation(stack).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // It comes back, with a second instance on the same database.
    let first = start_escalation(stack, None).await;
    let second =
        start_escalation(stack, Some(TcpListener::bind("127.0.0.1:0").await.unwrap())).await;
    let handoff = eventually("the deadline fires", Duration::from_secs(30), async || {
        let (status, handoff) = send(stack.as_tenant(
            &shop.tenant,
            Method::GET,
            &format!("/v1/handoffs/{handoff_id}"),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{handoff}");
        (handoff["level"] == 2).then_some(handoff)
    })
    .await;
    assert!(handoff["overdue"].as_bool().unwrap(), "{handoff}");
    // Level 2 is the last, with no repeats: it has its own delay before the
    // chain is spent, an hour from now, not another step at once.
    assert!(handoff["next_escalation_at"].is_string(), "{handoff}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let target = format!("handoff:{handoff_id}");
    let events = eventually(
        "handoff.escalated arrives",
        Duration::from_secs(30),
        async || {
            let events = audit_events(stack, &shop.tenant).await;
            (count(&events, "handoff.escalated", &target) >= 1).then_some(events)
        },
    )
    .await;
    assert_eq!(
        count(&events, "handoff.escalated", &target),
        1,
        "{events:?}"
    );
    // Owners read the queue with their session, as agents do.
    let (status, body) = send(
        stack
            .request(Method::GET, "/v1/handoffs")
            .bearer_auth(&shop.owner),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handoffs"][0]["id"], handoff_id.as_str(), "{body}");
    second.stop().await;
    first.stop().await;
}
