//! The widget's browser side, from outside: the pages the gateway serves
//! (`/widget.js`, the console shell) with their security headers, and the
//! visitor's read of their own conversation, which no other visitor's
//! token, no other origin and no token at all can read, and the expected
//! response time the visitor is told when a person takes over.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::accounts::{post, session, tenant_with_owner};
use crate::harness::{Backend, Tenant, TestStack, expect_problem, read};
use rampart_e2e::on_both_backends;

const SHOP: &str = "https://widget-pages.example.com";
const AGENT_PASSWORD: &str = "purple lantern hums at noon";
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'; object-src 'none'";

on_both_backends!(a_visitor_reads_only_their_own_conversation);
on_both_backends!(a_visitor_is_told_when_a_person_will_answer);

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    read(request.send().await.unwrap()).await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn pages_carry_the_page_headers_and_unknown_assets_are_404() {
    let stack = TestStack::start(Backend::Embedded)
        .await
        .expect("embedded always runs");
    for (path, content_type, corp) in [
        ("/widget.js", "text/javascript", "cross-origin"),
        ("/console/", "text/html", "same-origin"),
        ("/console/index.html", "text/html", "same-origin"),
        ("/console/console.js", "text/javascript", "same-origin"),
        ("/console/console.css", "text/css", "same-origin"),
    ] {
        let response = stack.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            header(&response, "content-type").starts_with(content_type),
            "{path}"
        );
        assert_eq!(header(&response, "content-security-policy"), PAGE_CSP);
        assert!(!header(&response, "content-security-policy").contains("unsafe"));
        assert_eq!(header(&response, "x-frame-options"), "DENY", "{path}");
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(
            header(&response, "referrer-policy"),
            "no-referrer",
            "{path}"
        );
        assert_eq!(
            header(&response, "cross-origin-resource-policy"),
            corp,
            "{path}"
        );
        assert_ne!(header(&response, "cache-control"), "no-store", "{path}");
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-credentials"),
            "{path}"
        );
        assert!(!response.headers().contains_key("set-cookie"), "{path}");
        // The same version again: 304, with the same headers.
        let etag = header(&response, "etag").to_owned();
        let again = stack
            .request(Method::GET, path)
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header(&again, "etag"), etag, "{path}");
        assert_eq!(header(&again, "content-security-policy"), PAGE_CSP);
    }
    let response = stack
        .request(Method::GET, "/widget.js")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "cache-control"), "public, max-age=300");
    let body = response.text().await.unwrap();
    assert!(body.contains("attachShadow"), "the widget's script");

    // Unknown assets: a problem, not cached, with the page policy.
    for path in [
        "/console/missing.js",
        "/console/..%2fwidget.js",
        "/console/index.html.bak",
    ] {
        let response = stack.request(Method::GET, path).send().await.unwrap();
        assert_eq!(header(&response, "content-security-policy"), PAGE_CSP);
        assert_eq!(header(&response, "cache-control"), "no-store", "{path}");
        expect_problem(response, StatusCode::NOT_FOUND).await;
    }
    // The pages take GET (and HEAD) only.
    let response = stack
        .request(Method::POST, "/console/")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    stack.stop().await;
}

fn visitor_read(
    stack: &TestStack,
    key: &str,
    origin: &str,
    conversation_id: &str,
    token: Option<&str>,
    after: Option<&str>,
) -> reqwest::RequestBuilder {
    let query = after.map(|id| format!("?after={id}")).unwrap_or_default();
    let mut request = stack
        .request(
            Method::GET,
            &format!("/v1/widget/conversations/{conversation_id}/messages{query}"),
        )
        .header("X-Widget-Key", key)
        .header("Origin", origin);
    if let Some(token) = token {
        request = request.header("X-Visitor-Token", token);
    }
    request
}

async fn start(stack: &TestStack, key: &str, text: &str) -> (String, String) {
    let (status, started) = send(
        stack
            .request(Method::POST, "/v1/widget/conversations")
            .header("X-Widget-Key", key)
            .header("Origin", SHOP)
            .json(&json!({ "text": text })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    (
        started["conversation_id"].as_str().unwrap().to_owned(),
        started["visitor_token"].as_str().unwrap().to_owned(),
    )
}

async fn a_visitor_reads_only_their_own_conversation(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Widget Pages").await;
    let email = "agent@widgetpages.example";
    let (status, _) = post(
        stack,
        "/v1/users",
        Some(&owner),
        json!({ "email": email, "password": AGENT_PASSWORD, "role": "agent" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let agent = session(stack, &tenant, email, AGENT_PASSWORD).await;
    let (status, key) = send(
        stack
            .as_admin(
                Method::POST,
                &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
            )
            .json(&json!({ "environment": "widget", "allowed_origins": [SHOP] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let key = key["api_key"].as_str().unwrap().to_owned();

    // The availability probe: for the key's origin only.
    let response = stack
        .request(Method::GET, "/v1/widget/availability")
        .header("X-Widget-Key", &key)
        .header("Origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "access-control-allow-origin"), SHOP);
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = stack
        .request(Method::GET, "/v1/widget/availability")
        .header("X-Widget-Key", &key)
        .header("Origin", "https://elsewhere.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    expect_problem(response, StatusCode::FORBIDDEN).await;
    // The browser's preflight of a read.
    let response = stack
        .request(Method::OPTIONS, "/v1/widget/conversations/cnv_x/messages")
        .header("Origin", SHOP)
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "x-widget-key, x-visitor-token",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(&response, "access-control-allow-methods"),
        "GET, POST"
    );

    let (mine, my_token) = start(stack, &key, "I will sue you").await;
    let (theirs, their_token) = start(stack, &key, "what time do you open").await;

    let response = visitor_read(stack, &key, SHOP, &mine, Some(&my_token), None)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "access-control-allow-origin"), SHOP);
    let (status, read_back) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{read_back}");
    assert_eq!(read_back["status"], "handed_off", "{read_back}");
    let messages = read_back["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{read_back}");
    assert_eq!(messages[0]["author"], "customer");
    assert_eq!(messages[0]["text"], "I will sue you");
    assert!(messages[0].get("receipt").is_none(), "{read_back}");
    let first_id = messages[0]["message_id"].as_str().unwrap().to_owned();

    // Another visitor's token, a made-up one, or none: not found, exactly
    // like an unknown conversation; another origin: refused.
    for token in [Some(their_token.as_str()), Some("not-a-token"), None] {
        let (status, body) = send(visitor_read(stack, &key, SHOP, &mine, token, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (status, body) = send(visitor_read(
        stack,
        &key,
        SHOP,
        "cnv_0000000000000000000000000",
        Some(&my_token),
        None,
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = send(visitor_read(
        stack,
        &key,
        "https://elsewhere.example.com",
        &mine,
        Some(&my_token),
        None,
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The tenant's secret key is no widget key, on this route too.
    let (status, body) = send(visitor_read(
        stack,
        &tenant.key,
        SHOP,
        &mine,
        Some(&my_token),
        None,
    ))
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = send(visitor_read(
        stack,
        &key,
        SHOP,
        &theirs,
        Some(&their_token),
        Some("msg_unknown"),
    ))
    .await;
    // An id the visitor never got reads from the oldest message kept.
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["messages"].as_array().unwrap().len(), 1, "{body}");

    // The agent claims and answers; the visitor reads only what is new.
    let (status, handoffs) = send(stack.as_tenant(
        &tenant,
        Method::GET,
        &format!("/v1/handoffs?conversation_id={mine}&status=open"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{handoffs}");
    let handoff_id = handoffs["handoffs"][0]["id"].as_str().unwrap().to_owned();
    let (status, claimed) = send(
        stack
            .request(Method::POST, &format!("/v1/handoffs/{handoff_id}/claim"))
            .bearer_auth(&agent),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let (status, reply) = send(
        stack
            .request(
                Method::POST,
                &format!("/v1/crm/conversations/{mine}/agent-replies"),
            )
            .bearer_auth(&agent)
            .json(&json!({ "text": "I am sorry to hear that; I will look into it now." })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let (status, read_back) = send(visitor_read(
        stack,
        &key,
        SHOP,
        &mine,
        Some(&my_token),
        Some(&first_id),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{read_back}");
    assert_eq!(read_back["status"], "assigned", "{read_back}");
    let messages = read_back["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{read_back}");
    assert_eq!(messages[0]["author"], "agent");
    assert_eq!(
        messages[0]["text"],
        "I am sorry to hear that; I will look into it now."
    );
    assert!(messages[0].get("author_id").is_none(), "{read_back}");

    // The other visitor's conversation shows none of it.
    let (status, body) = send(visitor_read(
        stack,
        &key,
        SHOP,
        &theirs,
        Some(&their_token),
        None,
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let texts: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|message| message["text"].as_str())
        .collect();
    assert_eq!(texts, ["what time do you open"], "{body}");
}

/// The handoff of `conversation_id` as the business's queue shows it.
async fn handoff_of(stack: &TestStack, tenant: &Tenant, conversation_id: &str) -> Value {
    let (status, handoffs) = send(stack.as_tenant(
        tenant,
        Method::GET,
        &format!("/v1/handoffs?conversation_id={conversation_id}"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{handoffs}");
    let handoffs = handoffs["handoffs"].as_array().unwrap();
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    handoffs[0].clone()
}

fn keys(body: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

async fn a_visitor_is_told_when_a_person_will_answer(stack: &TestStack) {
    let (tenant, _, _) = tenant_with_owner(stack, "Widget Response Time").await;
    let (status, key) = send(
        stack
            .as_admin(
                Method::POST,
                &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
            )
            .json(&json!({ "environment": "widget", "allowed_origins": [SHOP] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let key = key["api_key"].as_str().unwrap().to_owned();
    let post_message = |conversation_id: &str, token: &str, text: &str| {
        stack
            .request(
                Method::POST,
                &format!("/v1/widget/conversations/{conversation_id}/messages"),
            )
            .header("X-Widget-Key", &key)
            .header("Origin", SHOP)
            .header("X-Visitor-Token", token)
            .json(&json!({ "text": text }))
    };

    // A question the AI answers: no person, so no time is promised.
    let (status, started) = send(
        stack
            .request(Method::POST, "/v1/widget/conversations")
            .header("X-Widget-Key", &key)
            .header("Origin", SHOP)
            .json(&json!({ "text": "what time do you open" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "ai_active", "{started}");
    assert!(started.get("expected_response_by").is_none(), "{started}");
    let calm = started["conversation_id"].as_str().unwrap().to_owned();
    let calm_token = started["visitor_token"].as_str().unwrap().to_owned();

    // The next message goes to a person: the post answers the due time of
    // the handoff it opened, exactly as the business's queue has it, and
    // nothing else of the decision.
    let (status, posted) = send(post_message(&calm, &calm_token, "I will sue you")).await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted["status"], "handed_off", "{posted}");
    assert_eq!(
        keys(&posted),
        ["created_at", "expected_response_by", "message_id", "status"],
        "{posted}"
    );
    let handoff = handoff_of(stack, &tenant, &calm).await;
    assert_eq!(
        posted["expected_response_by"], handoff["due_at"],
        "{posted}"
    );
    let due =
        chrono::DateTime::parse_from_rfc3339(posted["expected_response_by"].as_str().unwrap())
            .unwrap();
    let sent =
        chrono::DateTime::parse_from_rfc3339(posted["created_at"].as_str().unwrap()).unwrap();
    assert!(due > sent, "due {due} is not after the message {sent}");

    // A first message that goes to a person: the start answers it too.
    let (status, started) = send(
        stack
            .request(Method::POST, "/v1/widget/conversations")
            .header("X-Widget-Key", &key)
            .header("Origin", SHOP)
            .json(&json!({ "text": "I will sue you, this is a disgrace" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "handed_off", "{started}");
    assert_eq!(
        keys(&started),
        [
            "conversation_id",
            "expected_response_by",
            "started_at",
            "status",
            "visitor_token"
        ],
        "{started}"
    );
    let angry = started["conversation_id"].as_str().unwrap();
    let handoff = handoff_of(stack, &tenant, angry).await;
    assert_eq!(
        started["expected_response_by"], handoff["due_at"],
        "{started}"
    );

    // The wrong visitor token learns nothing, the due time included.
    let (status, body) = send(post_message(angry, &calm_token, "hello")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.get("expected_response_by").is_none(), "{body}");
}
