//! Erasure through the whole stack: the owner previews what erasing a
//! customer deletes, is refused under a legal hold, executes, and gets a
//! deletion certificate that verifies with the key `GET
//! /v1/audit/public-key` publishes (and fails with a value changed). A
//! privacy request in a conversation opens a request through the real
//! gate. Another tenant finds nothing on any of the four routes.

use rampart_audit::certificate::Certificate;
use rampart_audit::checkpoint::PublicKey;
use rampart_e2e::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Tenant, TestStack, expect_problem, read};

on_both_backends!(erasure_with_a_signed_certificate);

const REQUESTS: &str = "/v1/owner/erasure-requests";

/// A key of `tenant` with exactly `scopes`.
async fn key_with(stack: &TestStack, tenant: &Tenant, scopes: &[&str]) -> Tenant {
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&json!({ "scopes": scopes }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Tenant {
        id: tenant.id.clone(),
        key: body["api_key"].as_str().unwrap().to_owned(),
    }
}

async fn send(
    stack: &TestStack,
    key: &Tenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = stack.as_tenant(key, method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn call(
    stack: &TestStack,
    key: &Tenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    read(send(stack, key, method, path, body).await).await
}

async fn erasure_with_a_signed_certificate(stack: &TestStack) {
    let tenant = stack.create_tenant("Erasure Plumbing").await;
    let owner = key_with(stack, &tenant, &["read", "write", "owner"]).await;
    let other = stack.create_tenant("Other Plumbing").await;
    let other_owner = key_with(stack, &other, &["read", "write", "owner"]).await;

    let (status, customer) = call(
        stack,
        &owner,
        Method::POST,
        "/v1/crm/customers",
        Some(json!({"name": "Quillon Zephyrine", "phone": "+15557319824"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let (status, conversation) = call(
        stack,
        &owner,
        Method::POST,
        "/v1/crm/conversations",
        Some(json!({"channel": "sms", "customer_id": customer_id,
            "text": "my boiler is leaking"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{conversation}");
    let conversation_id = conversation["id"].as_str().unwrap().to_owned();
    let (status, note) = call(
        stack,
        &owner,
        Method::POST,
        "/v1/crm/job-notes",
        Some(json!({"customer_id": customer_id, "text": "valve under the stairs"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");

    // A key without the owner scope is refused.
    let response = send(
        stack,
        &tenant,
        Method::POST,
        REQUESTS,
        Some(json!({"customer_id": customer_id, "reason": "asked by phone"})),
    )
    .await;
    expect_problem(response, StatusCode::FORBIDDEN).await;

    // Opened with its preview; asking again answers the same request.
    let (status, opened) = call(
        stack,
        &owner,
        Method::POST,
        REQUESTS,
        Some(json!({"customer_id": customer_id, "reason": "asked by phone"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    assert_eq!(opened["status"], "open");
    assert_eq!(opened["source"], "owner");
    assert_eq!(
        opened["counts"],
        json!({"customers": 1, "conversations": 1, "messages": 1,
            "appointments": 0, "job_notes": 1, "data_keys": 2})
    );
    assert!(opened.get("certificate").is_none(), "{opened}");
    let id = opened["id"].as_str().unwrap().to_owned();
    let (status, again) = call(
        stack,
        &owner,
        Method::POST,
        REQUESTS,
        Some(json!({"customer_id": customer_id, "reason": "asked again"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], id.as_str());
    let response = send(
        stack,
        &owner,
        Method::POST,
        REQUESTS,
        Some(json!({"customer_id": customer_id, "reason": ""})),
    )
    .await;
    let problem = expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("reason"),
        "{problem}"
    );

    // Another tenant finds nothing, on every route; nor do malformed ids.
    let item = format!("{REQUESTS}/{id}");
    let execute = format!("{item}/execute");
    for (method, path, body) in [
        (
            Method::POST,
            REQUESTS.to_owned(),
            Some(json!({"customer_id": customer_id, "reason": "mine now"})),
        ),
        (Method::GET, item.clone(), None),
        (Method::POST, execute.clone(), None),
        (Method::GET, format!("{REQUESTS}/era_nope"), None),
        (Method::POST, format!("{REQUESTS}/nope/execute"), None),
    ] {
        let response = send(stack, &other_owner, method.clone(), &path, body).await;
        expect_problem(response, StatusCode::NOT_FOUND).await;
    }
    let (status, listed) = call(stack, &other_owner, Method::GET, REQUESTS, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["erasure_requests"], json!([]));

    // Held: refused with its own problem type, nothing deleted.
    let hold = format!("/v1/crm/customers/{customer_id}/legal-hold");
    let (status, _) = call(
        stack,
        &owner,
        Method::PUT,
        &hold,
        Some(json!({"held": true, "reason": "Litigation 2026-14"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response = send(stack, &owner, Method::POST, &execute, None).await;
    let problem = expect_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(
        problem["type"], "urn:rampart:problem:legal-hold",
        "{problem}"
    );
    let customer_path = format!("/v1/crm/customers/{customer_id}");
    let (status, _) = call(stack, &owner, Method::GET, &customer_path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        stack,
        &owner,
        Method::PUT,
        &hold,
        Some(json!({"held": false, "reason": "settled"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Executed: the certificate verifies with the published key.
    let (status, executed) = call(stack, &owner, Method::POST, &execute, None).await;
    assert_eq!(status, StatusCode::OK, "{executed}");
    assert_eq!(executed["status"], "executed");
    assert_eq!(executed["counts"], opened["counts"]);
    let (status, published) = read(
        stack
            .request(Method::GET, "/v1/audit/public-key")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let key = PublicKey::parse(&published.to_string()).unwrap();
    let certificate: Certificate = serde_json::from_value(executed["certificate"].clone()).unwrap();
    certificate.verify(&key).unwrap();
    assert_eq!(certificate.statement["certificate_id"], id.as_str());
    assert_eq!(certificate.statement["customer_id"], customer_id.as_str());
    assert_eq!(certificate.statement["tenant_id"], tenant.id.as_str());
    assert_eq!(certificate.statement["deleted"]["messages"], 1);
    // As a customer would get it in a file: pretty-printed it verifies,
    // with one value changed it does not.
    let text = serde_json::to_string_pretty(&executed["certificate"]).unwrap();
    Certificate::parse(&text).unwrap().verify(&key).unwrap();
    let changed = text.replacen(&customer_id, &customer_id.replacen("cus_", "cus_0", 1), 1);
    assert_ne!(changed, text);
    assert!(Certificate::parse(&changed).unwrap().verify(&key).is_err());

    // Gone at the edge; executing again answers the same certificate.
    for path in [
        customer_path.clone(),
        format!("/v1/crm/conversations/{conversation_id}"),
    ] {
        let response = send(stack, &owner, Method::GET, &path, None).await;
        expect_problem(response, StatusCode::NOT_FOUND).await;
    }
    let (status, twice) = call(stack, &owner, Method::POST, &execute, None).await;
    assert_eq!(status, StatusCode::OK, "{twice}");
    assert_eq!(twice["certificate"], executed["certificate"]);
    let (status, fetched) = call(stack, &owner, Method::GET, &item, None).await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    assert_eq!(fetched["certificate"], executed["certificate"]);

    // A customer asking in a conversation to be erased opens a request
    // from the handoff the real gate opens; nothing is erased by it.
    let (status, asker) = call(
        stack,
        &owner,
        Method::POST,
        "/v1/crm/customers",
        Some(json!({"name": "Ada Lovelace"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{asker}");
    let asker_id = asker["id"].as_str().unwrap();
    let (status, conversation) = call(
        stack,
        &owner,
        Method::POST,
        "/v1/crm/conversations",
        Some(json!({"channel": "sms", "customer_id": asker_id,
            "text": "please delete all my personal data"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{conversation}");
    let (status, listed) = call(
        stack,
        &owner,
        Method::GET,
        &format!("{REQUESTS}?status=open"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let open = listed["erasure_requests"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{listed}");
    assert_eq!(open[0]["customer_id"], asker_id);
    assert!(
        open[0]["source"]
            .as_str()
            .unwrap()
            .starts_with("handoff:hof_"),
        "{listed}"
    );
    let (status, _) = call(
        stack,
        &owner,
        Method::GET,
        &format!("/v1/crm/customers/{asker_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response = send(
        stack,
        &owner,
        Method::GET,
        &format!("{REQUESTS}?status=closed"),
        None,
    )
    .await;
    expect_problem(response, StatusCode::BAD_REQUEST).await;
}
