//! Twilio's webhooks from outside, as Twilio and as an attacker sends them:
//! numbers connected as `twilio` channels (the credentials never shown, a
//! number taken by another tenant refused without saying whose); SMS
//! signed with each tenant's own generated token, resolved to the called
//! number's tenant, matched to the customer by phone, stored as a customer
//! message and decided by the gate (a risky text opens a handoff); STOP,
//! START and HELP against the ledger and the audit log; replays refused
//! with nothing duplicated; one identical refusal for an unknown number, a
//! bad or missing signature, another tenant's token and a foreign account;
//! malformed, oversized and wrongly typed bodies; and calls, whose
//! recording is stored only with the consent the tenant's rule needs.
//!
//! The signed URL is the edge's public URL, which `rampart dev` sets to the
//! address it listens on.

use std::time::Duration;

use rampart_telephony::twilio_signature::{body_sha256_hex, sign};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::accounts::{audit_events, tenant_with_owner};
use crate::harness::{Tenant, TestStack, expect_problem, read};

rampart_e2e::on_both_backends!(sms_webhooks, voice_webhooks);

const SMS: &str = "/v1/telephony/twilio/sms";
const VOICE: &str = "/v1/telephony/twilio/voice";

/// A tenant's connected Twilio number, with its generated credentials.
struct Number {
    number: String,
    account_sid: String,
    auth_token: String,
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A form body, percent-encoded as Twilio sends it.
fn encode(params: &[(&str, &str)]) -> String {
    fn component(text: &str) -> String {
        let mut out = String::new();
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(byte as char);
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    }
    params
        .iter()
        .map(|(name, value)| format!("{}={}", component(name), component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The public URL `rampart dev` gives the edge.
fn public_url(stack: &TestStack, path_and_query: &str) -> String {
    format!("https://{}{path_and_query}", stack.stack.edge_addr)
}

async fn connect(stack: &TestStack, owner: &str, number: &str) -> Number {
    let account_sid = format!("AC{}", random_hex());
    let auth_token = random_hex();
    let (status, body) = read(
        stack
            .request(Method::POST, "/v1/owner/channels")
            .bearer_auth(owner)
            .json(&json!({
                "kind": "twilio",
                "display_name": "Front desk line",
                "phone_number": number,
                "credentials": { "account_sid": account_sid, "auth_token": auth_token },
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "twilio");
    assert_eq!(body["phone_number"], number);
    assert_eq!(
        body["credential_names"],
        json!(["account_sid", "auth_token"])
    );
    assert!(!body.to_string().contains(&auth_token), "{body}");
    Number {
        number: number.to_owned(),
        account_sid,
        auth_token,
    }
}

/// Posts `params` to `path_and_query`, signed with `token` (or unsigned).
async fn deliver(
    stack: &TestStack,
    path_and_query: &str,
    params: &[(&str, &str)],
    token: Option<&str>,
) -> reqwest::Response {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let mut request = stack
        .request(Method::POST, path_and_query)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(params));
    if let Some(token) = token {
        let signature = sign(token.as_bytes(), &public_url(stack, path_and_query), &owned);
        request = request.header("X-Twilio-Signature", signature);
    }
    request.send().await.unwrap()
}

async fn twiml(response: reqwest::Response) -> String {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    text
}

fn sms<'a>(to: &'a Number, from: &'a str, sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", to.account_sid.as_str()),
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("From", from),
        ("To", to.number.as_str()),
        ("Body", body),
        ("NumMedia", "0"),
    ]
}

/// A refusal's problem without its request id: what must be identical.
async fn refusal(response: reqwest::Response) -> (StatusCode, Value) {
    let (status, mut body) = read(response).await;
    body.as_object_mut().unwrap().remove("request_id");
    (status, body)
}

async fn conversations(stack: &TestStack, tenant: &Tenant) -> Vec<Value> {
    let (status, body) = read(
        stack
            .as_tenant(tenant, Method::GET, "/v1/crm/conversations?channel=sms")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["conversations"].as_array().unwrap().clone()
}

async fn conversation(stack: &TestStack, tenant: &Tenant, id: &str) -> Value {
    let (status, body) = read(
        stack
            .as_tenant(tenant, Method::GET, &format!("/v1/crm/conversations/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The CRM's database, as the stack runs it.
async fn crm_db(stack: &TestStack) -> DatabaseConnection {
    let url = stack.database_url.clone().unwrap_or_else(|| {
        let data = rampart::dev_data::DataDir::open(&stack.data_dir).expect("data dir");
        rampart_kit::db::sqlite_url(&data.database("crm"))
    });
    rampart_kit::db::connect(&url).await.expect("crm database")
}

/// The rows of `sql` (parameters `$1`...), every column read as text
/// (`CAST(... AS TEXT)` in the query where needed).
async fn query(db: &DatabaseConnection, sql: &str, values: &[&str]) -> Vec<Vec<Option<String>>> {
    let backend = db.get_database_backend();
    let mut sql = sql.to_owned();
    if backend == DatabaseBackend::Sqlite {
        for n in (1..=values.len()).rev() {
            sql = sql.replace(&format!("${n}"), "?");
        }
    }
    let statement =
        Statement::from_sql_and_values(backend, sql, values.iter().map(|v| (*v).into()));
    db.query_all_raw(statement)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            (0..)
                .map_while(|index| row.try_get_by_index::<Option<String>>(index).ok())
                .collect()
        })
        .collect()
}

/// The tenant's opt-out ledger: `opted_out` of each row, as text.
async fn ledger(db: &DatabaseConnection, tenant: &Tenant) -> Vec<bool> {
    let sql = "SELECT CASE WHEN opted_out THEN 'yes' ELSE 'no' END FROM crm_sms_opt_out WHERE tenant_id = $1";
    query(db, sql, &[&tenant.id])
        .await
        .into_iter()
        .map(|row| row[0].as_deref() == Some("yes"))
        .collect()
}

async fn events_named(
    stack: &TestStack,
    tenant: &Tenant,
    action: &str,
    at_least: usize,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<Value> = audit_events(stack, tenant)
            .await
            .into_iter()
            .filter(|event| event["action"] == action)
            .collect();
        if found.len() >= at_least {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{action}: {} of {at_least} events arrived",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sms_webhooks(stack: &TestStack) {
    let (a, _, owner_a) = tenant_with_owner(stack, "Acme Plumbing").await;
    let (b, _, owner_b) = tenant_with_owner(stack, "Bravo Heating").await;
    let line_a = connect(stack, &owner_a, "+14155550101").await;
    let line_b = connect(stack, &owner_b, "+14155550102").await;

    // Channel set-up: a taken number, a twilio channel without its number
    // or account, and a number on another kind are refused.
    let (status, taken) = read(
        stack
            .request(Method::POST, "/v1/owner/channels")
            .bearer_auth(&owner_b)
            .json(&json!({
                "kind": "twilio", "display_name": "Stolen", "phone_number": line_a.number,
                "credentials": { "account_sid": format!("AC{}", random_hex()), "auth_token": random_hex() },
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");
    let detail = taken["detail"].as_str().unwrap();
    assert!(detail.contains("already connected"), "{detail}");
    assert!(
        !detail.contains(&a.id) && !detail.contains("Acme"),
        "{detail}"
    );
    for bad in [
        json!({ "kind": "twilio", "display_name": "x", "credentials": { "account_sid": format!("AC{}", random_hex()), "auth_token": random_hex() } }),
        json!({ "kind": "twilio", "display_name": "x", "phone_number": "+14155550199" }),
        json!({ "kind": "twilio", "display_name": "x", "phone_number": "+14155550199", "credentials": { "account_sid": "AC12", "auth_token": random_hex() } }),
        json!({ "kind": "twilio", "display_name": "x", "phone_number": "4155550199", "credentials": { "account_sid": format!("AC{}", random_hex()), "auth_token": random_hex() } }),
        json!({ "kind": "sms", "display_name": "x", "phone_number": "+14155550199" }),
    ] {
        let response = stack
            .request(Method::POST, "/v1/owner/channels")
            .bearer_auth(&owner_b)
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST).await;
    }
    let (status, listed) = read(
        stack
            .request(Method::GET, "/v1/owner/channels")
            .bearer_auth(&owner_b)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["channels"].as_array().unwrap().len(), 1, "{listed}");
    assert!(!listed.to_string().contains(&line_b.auth_token), "{listed}");

    // A known customer of A texts A's number.
    let (status, customer) = read(
        stack
            .as_tenant(&a, Method::POST, "/v1/crm/customers")
            .json(&json!({ "name": "Jane Doe", "phone": "+1 (415) 555-0177" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let jane = "+14155550177";
    let first = sms(
        &line_a,
        jane,
        "SM00000000000000000000000000000001",
        "Is the boiler covered?",
    );
    let answer = twiml(deliver(stack, SMS, &first, Some(&line_a.auth_token)).await).await;
    assert!(answer.ends_with("<Response></Response>"), "{answer}");
    let listed = conversations(stack, &a).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["customer_id"], customer["id"]);
    let conversation_id = listed[0]["id"].as_str().unwrap().to_owned();
    let read_back = conversation(stack, &a, &conversation_id).await;
    let messages = read_back["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{read_back}");
    assert_eq!(messages[0]["author"], "customer");
    assert_eq!(messages[0]["text"], "Is the boiler covered?");

    // The same delivery again: refused, nothing duplicated.
    let replay = deliver(stack, SMS, &first, Some(&line_a.auth_token)).await;
    let problem = expect_problem(replay, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "urn:rampart:problem:replayed", "{problem}");
    assert_eq!(conversations(stack, &a).await.len(), 1);
    let read_back = conversation(stack, &a, &conversation_id).await;
    assert_eq!(read_back["messages"].as_array().unwrap().len(), 1);

    // The next text from the number joins its open conversation.
    let second = sms(
        &line_a,
        jane,
        "SM00000000000000000000000000000002",
        "Thanks, and Tuesday?",
    );
    twiml(deliver(stack, SMS, &second, Some(&line_a.auth_token)).await).await;
    assert_eq!(conversations(stack, &a).await.len(), 1);
    let read_back = conversation(stack, &a, &conversation_id).await;
    let messages = read_back["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{read_back}");
    assert_eq!(messages[1]["text"], "Thanks, and Tuesday?");

    // Refusals: all one answer, nothing stored anywhere.
    let stranger = "+14155550188";
    let sid = "SM00000000000000000000000000000003";
    let bad_signature = refusal(
        deliver(
            stack,
            SMS,
            &sms(&line_b, stranger, sid, "hi"),
            Some(&line_a.auth_token),
        )
        .await,
    )
    .await;
    assert_eq!(
        bad_signature.0,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        bad_signature.1
    );
    let unknown = Number {
        number: "+14155550999".to_owned(),
        account_sid: line_a.account_sid.clone(),
        auth_token: line_a.auth_token.clone(),
    };
    let unknown_number = refusal(
        deliver(
            stack,
            SMS,
            &sms(&unknown, stranger, sid, "hi"),
            Some(&line_a.auth_token),
        )
        .await,
    )
    .await;
    let unsigned =
        refusal(deliver(stack, SMS, &sms(&line_b, stranger, sid, "hi"), None).await).await;
    let foreign_account = Number {
        number: line_b.number.clone(),
        account_sid: line_a.account_sid.clone(),
        auth_token: line_b.auth_token.clone(),
    };
    let wrong_account = refusal(
        deliver(
            stack,
            SMS,
            &sms(&foreign_account, stranger, sid, "hi"),
            Some(&line_b.auth_token),
        )
        .await,
    )
    .await;
    // Signed over another URL (a forged Host would make it so).
    let params = sms(&line_b, stranger, sid, "hi");
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let other_url = refusal(
        stack
            .request(Method::POST, SMS)
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "X-Twilio-Signature",
                sign(
                    line_b.auth_token.as_bytes(),
                    "https://evil.example/v1/telephony/twilio/sms",
                    &owned,
                ),
            )
            .body(encode(&params))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for (what, other) in [
        ("unknown number", &unknown_number),
        ("unsigned", &unsigned),
        ("foreign account", &wrong_account),
        ("other url", &other_url),
    ] {
        assert_eq!(other.0, bad_signature.0, "{what}");
        assert_eq!(
            serde_json::to_string(&other.1).unwrap(),
            serde_json::to_string(&bad_signature.1).unwrap(),
            "{what}"
        );
    }
    assert!(conversations(stack, &b).await.is_empty());
    assert_eq!(conversations(stack, &a).await.len(), 1);

    // Malformed, wrongly typed and oversized bodies.
    let malformed = stack
        .request(Method::POST, SMS)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        .body("To=%2B14155550101&Body=%ff%fe")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(malformed, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("UTF-8"),
        "{problem}"
    );
    let typed = stack
        .request(Method::POST, SMS)
        .header("content-type", "text/plain")
        .body(encode(&first))
        .send()
        .await
        .unwrap();
    expect_problem(typed, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let huge = format!("{}&Pad={}", encode(&first), "x".repeat(70 * 1024));
    let oversized = stack
        .request(Method::POST, SMS)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    expect_problem(oversized, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(conversations(stack, &a).await.len(), 1);

    // Risky texts from unknown numbers: new conversations, handed off.
    for (from, sid, text) in [
        (
            "+14155550131",
            "SM00000000000000000000000000000011",
            "I'm going to sue you",
        ),
        (
            "+14155550132",
            "SM00000000000000000000000000000012",
            "I want to dispute this charge",
        ),
    ] {
        twiml(
            deliver(
                stack,
                SMS,
                &sms(&line_a, from, sid, text),
                Some(&line_a.auth_token),
            )
            .await,
        )
        .await;
    }
    let listed = conversations(stack, &a).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    for entry in listed
        .iter()
        .filter(|entry| entry["id"] != conversation_id.as_str())
    {
        let id = entry["id"].as_str().unwrap();
        let read_back = conversation(stack, &a, id).await;
        assert_eq!(read_back["status"], "handed_off", "{read_back}");
        assert!(read_back["customer_id"].is_null(), "{read_back}");
        assert_eq!(read_back["messages"][0]["author"], "customer");
    }

    // STOP: one confirmation, the ledger, the audit event; START back.
    let db = crm_db(stack).await;
    assert!(ledger(&db, &a).await.is_empty());
    let stop = sms(
        &line_a,
        jane,
        "SM00000000000000000000000000000021",
        " Stop ",
    );
    let answer = twiml(deliver(stack, SMS, &stop, Some(&line_a.auth_token)).await).await;
    assert!(
        answer.contains("<Message>You have been unsubscribed"),
        "{answer}"
    );
    assert_eq!(ledger(&db, &a).await, vec![true]);
    assert!(ledger(&db, &b).await.is_empty(), "B's ledger is B's");
    let again = sms(
        &line_a,
        jane,
        "SM00000000000000000000000000000022",
        "UNSUBSCRIBE",
    );
    let answer = twiml(deliver(stack, SMS, &again, Some(&line_a.auth_token)).await).await;
    assert!(
        !answer.contains("<Message>"),
        "one confirmation only: {answer}"
    );
    let opted_out = events_named(stack, &a, "sms.opted_out", 1).await;
    assert_eq!(opted_out.len(), 1, "{opted_out:?}");
    assert!(
        opted_out[0]["target"]
            .as_str()
            .unwrap()
            .starts_with("sms_number:")
    );
    assert!(
        !opted_out[0].to_string().contains("5550177"),
        "{}",
        opted_out[0]
    );
    let start = sms(&line_a, jane, "SM00000000000000000000000000000023", "start");
    let answer = twiml(deliver(stack, SMS, &start, Some(&line_a.auth_token)).await).await;
    assert!(
        answer.contains("<Message>You have been resubscribed"),
        "{answer}"
    );
    assert_eq!(ledger(&db, &a).await, vec![false]);
    events_named(stack, &a, "sms.opted_in", 1).await;
    let help = sms(&line_a, jane, "SM00000000000000000000000000000024", "HELP");
    let answer = twiml(deliver(stack, SMS, &help, Some(&line_a.auth_token)).await).await;
    assert!(answer.contains("<Message>Reply STOP"), "{answer}");
    // Keywords never became messages.
    let read_back = conversation(stack, &a, &conversation_id).await;
    assert_eq!(
        read_back["messages"].as_array().unwrap().len(),
        2,
        "{read_back}"
    );

    // B's own number works with B's own token, here in Twilio's JSON
    // variant: the body's SHA-256 in the signed URL's query.
    let body = json!({
        "AccountSid": line_b.account_sid, "MessageSid": "SM00000000000000000000000000000031",
        "From": jane, "To": line_b.number, "Body": "Hello B",
    })
    .to_string();
    let path = format!("{SMS}?bodySHA256={}", body_sha256_hex(body.as_bytes()));
    let signature = sign(line_b.auth_token.as_bytes(), &public_url(stack, &path), &[]);
    let json_delivery = |body: String| {
        stack
            .request(Method::POST, &path)
            .header("content-type", "application/json")
            .header("X-Twilio-Signature", signature.clone())
            .body(body)
            .send()
    };
    // The same signature over a changed body: refused, nothing stored.
    let tampered = json_delivery(body.replace("Hello B", "Hello C"))
        .await
        .unwrap();
    expect_problem(tampered, StatusCode::UNAUTHORIZED).await;
    assert!(conversations(stack, &b).await.is_empty());
    twiml(json_delivery(body).await.unwrap()).await;
    let listed = conversations(stack, &b).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let read_back = conversation(stack, &b, listed[0]["id"].as_str().unwrap()).await;
    assert_eq!(read_back["messages"][0]["text"], "Hello B");

    // Erasing Jane takes her conversation's thread (the number it talks
    // to); the other texters' threads stay.
    assert_eq!(telephony_rows(&db, &a).await[0], 3);
    erase(stack, &owner_a, customer["id"].as_str().unwrap()).await;
    assert_eq!(telephony_rows(&db, &a).await[0], 2);

    // Deleting A takes its threads, ledger and receipts; B keeps its own.
    let before_b = telephony_rows(&db, &b).await;
    assert_eq!(before_b, [1, 0, 1, 0]);
    let before_a = telephony_rows(&db, &a).await;
    assert!(before_a[..3].iter().all(|count| *count > 0), "{before_a:?}");
    delete_tenant(stack, &a).await;
    assert_eq!(telephony_rows(&db, &a).await, [0, 0, 0, 0]);
    assert_eq!(telephony_rows(&db, &b).await, before_b);
}

/// How many SMS threads, ledger rows, receipts and calls a tenant has.
async fn telephony_rows(db: &DatabaseConnection, tenant: &Tenant) -> [u64; 4] {
    let mut counts = [0; 4];
    for (index, table) in [
        "crm_sms_thread",
        "crm_sms_opt_out",
        "crm_telephony_receipt",
        "crm_call",
    ]
    .into_iter()
    .enumerate()
    {
        let rows = query(
            db,
            &format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table} WHERE tenant_id = $1"),
            &[&tenant.id],
        )
        .await;
        counts[index] = rows[0][0].as_deref().unwrap().parse().unwrap();
    }
    counts
}

/// Erases a customer through the owner's erasure request.
async fn erase(stack: &TestStack, owner: &str, customer_id: &str) {
    let (status, opened) = read(
        stack
            .request(Method::POST, "/v1/owner/erasure-requests")
            .bearer_auth(owner)
            .json(&json!({ "customer_id": customer_id, "reason": "asked by phone" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    let id = opened["id"].as_str().unwrap();
    let (status, executed) = read(
        stack
            .request(
                Method::POST,
                &format!("/v1/owner/erasure-requests/{id}/execute"),
            )
            .bearer_auth(owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{executed}");
}

async fn delete_tenant(stack: &TestStack, tenant: &Tenant) {
    let (status, body) = read(
        stack
            .as_admin(Method::DELETE, &format!("/v1/admin/tenants/{}", tenant.id))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Writes the tenant's telephony settings over its current ones.
async fn set_telephony(stack: &TestStack, owner: &str, telephony: Value) {
    let (status, current) = read(
        stack
            .request(Method::GET, "/v1/owner/settings")
            .bearer_auth(owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{current}");
    let mut settings = current["settings"].clone();
    settings["telephony"] = telephony;
    let (status, written) = read(
        stack
            .request(Method::PUT, "/v1/owner/settings")
            .bearer_auth(owner)
            .json(&json!({ "settings": settings }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{written}");
}

fn call<'a>(to: &'a Number, sid: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", to.account_sid.as_str()),
        ("CallSid", sid),
        ("From", "+14155550177"),
        ("To", to.number.as_str()),
        ("CallStatus", "ringing"),
    ]
}

/// What a call's row holds: (announced, consented, recording stored,
/// transcript stored, summary stored).
async fn call_row(db: &DatabaseConnection, tenant: &Tenant, sid: &str) -> [bool; 5] {
    let rows = query(
        db,
        "SELECT CASE WHEN announced THEN 'yes' ELSE 'no' END, \
                CASE WHEN caller_consented THEN 'yes' ELSE 'no' END, \
                CASE WHEN recording_url_sealed IS NULL THEN 'no' ELSE 'yes' END, \
                CASE WHEN transcript_sealed IS NULL THEN 'no' ELSE 'yes' END, \
                CASE WHEN summary_sealed IS NULL THEN 'no' ELSE 'yes' END \
         FROM crm_call WHERE tenant_id = $1 AND call_sid = $2",
        &[&tenant.id, sid],
    )
    .await;
    assert_eq!(rows.len(), 1, "call {sid}");
    let flag = |index: usize| rows[0][index].as_deref() == Some("yes");
    [flag(0), flag(1), flag(2), flag(3), flag(4)]
}

/// The recording and transcription callbacks of a call.
async fn record_callbacks(stack: &TestStack, line: &Number, sid: &str) {
    let path = format!("{VOICE}?step=recording");
    let recording_sid = format!("RE{}", &sid[2..]);
    let mut params = call(line, sid);
    params.push(("RecordingSid", &recording_sid));
    params.push((
        "RecordingUrl",
        "https://api.twilio.com/2010-04-01/Recordings/RE1",
    ));
    params.push(("RecordingDuration", "42"));
    twiml(deliver(stack, &path, &params, Some(&line.auth_token)).await).await;
    let transcription_sid = format!("TR{}", &sid[2..]);
    let mut params = call(line, sid);
    params.push(("TranscriptionSid", &transcription_sid));
    params.push(("TranscriptionText", "My boiler is leaking at 12 Elm Street"));
    twiml(deliver(stack, &path, &params, Some(&line.auth_token)).await).await;
}

async fn voice_webhooks(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Calls Plumbing").await;
    let line = connect(stack, &owner, "+14155550111").await;
    let db = crm_db(stack).await;

    // Recording off (the default): a greeting, nothing recorded or kept.
    let off = "CA00000000000000000000000000000001";
    let answer =
        twiml(deliver(stack, VOICE, &call(&line, off), Some(&line.auth_token)).await).await;
    assert!(answer.contains("<Say>"), "{answer}");
    assert!(
        !answer.contains("<Record") && !answer.contains("<Gather"),
        "{answer}"
    );
    record_callbacks(stack, &line, off).await;
    assert_eq!(
        call_row(&db, &tenant, off).await,
        [false, false, false, false, true]
    );
    let replay = deliver(stack, VOICE, &call(&line, off), Some(&line.auth_token)).await;
    let problem = expect_problem(replay, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "urn:rampart:problem:replayed");

    // All-party: the announcement and the question; no 1, no recording.
    set_telephony(
        stack,
        &owner,
        json!({ "recording_enabled": true, "consent_rule": "all_party",
                "recording_announcement": "Calls to Calls Plumbing are recorded." }),
    )
    .await;
    let silent = "CA00000000000000000000000000000002";
    let answer =
        twiml(deliver(stack, VOICE, &call(&line, silent), Some(&line.auth_token)).await).await;
    assert!(
        answer.contains("<Say>Calls to Calls Plumbing are recorded.</Say>"),
        "{answer}"
    );
    let action = format!(
        "action=\"{}\"",
        public_url(stack, &format!("{VOICE}?step=consent"))
    );
    assert!(answer.contains(&action), "{answer}");
    assert!(!answer.contains("<Record"), "{answer}");
    record_callbacks(stack, &line, silent).await;
    assert_eq!(
        call_row(&db, &tenant, silent).await,
        [true, false, false, false, true]
    );

    // Pressing 2: still nothing kept.
    let declined = "CA00000000000000000000000000000003";
    twiml(deliver(stack, VOICE, &call(&line, declined), Some(&line.auth_token)).await).await;
    let consent_path = format!("{VOICE}?step=consent");
    let mut params = call(&line, declined);
    params.push(("Digits", "2"));
    let answer = twiml(deliver(stack, &consent_path, &params, Some(&line.auth_token)).await).await;
    assert!(!answer.contains("<Record"), "{answer}");
    record_callbacks(stack, &line, declined).await;
    assert_eq!(
        call_row(&db, &tenant, declined).await,
        [true, false, false, false, true]
    );

    // Pressing 1: consent recorded and audited, the recording kept.
    let agreed = "CA00000000000000000000000000000004";
    twiml(deliver(stack, VOICE, &call(&line, agreed), Some(&line.auth_token)).await).await;
    let mut params = call(&line, agreed);
    params.push(("Digits", "1"));
    let answer = twiml(deliver(stack, &consent_path, &params, Some(&line.auth_token)).await).await;
    assert!(answer.contains("<Record"), "{answer}");
    let replay = deliver(stack, &consent_path, &params, Some(&line.auth_token)).await;
    expect_problem(replay, StatusCode::CONFLICT).await;
    record_callbacks(stack, &line, agreed).await;
    assert_eq!(
        call_row(&db, &tenant, agreed).await,
        [true, true, true, true, false]
    );
    let consents = events_named(stack, &tenant, "call.consent_given", 1).await;
    assert_eq!(consents.len(), 1, "{consents:?}");
    assert_eq!(consents[0]["target"], format!("call:{agreed}"));
    let stored = events_named(stack, &tenant, "call.recording_stored", 2).await;
    assert_eq!(
        stored.len(),
        2,
        "recording and transcript of one call: {stored:?}"
    );

    // A forged consent step for a call that was never asked: refused by
    // signature without the token, and with it, a 1 for a call whose
    // question was never asked records nothing.
    let mut params = call(&line, off);
    params.push(("Digits", "1"));
    let unsigned = deliver(stack, &consent_path, &params, None).await;
    expect_problem(unsigned, StatusCode::UNAUTHORIZED).await;
    twiml(deliver(stack, &consent_path, &params, Some(&line.auth_token)).await).await;
    assert!(!call_row(&db, &tenant, off).await[1]);

    // One-party: the announcement, then the recording, kept.
    set_telephony(
        stack,
        &owner,
        json!({ "recording_enabled": true, "consent_rule": "one_party" }),
    )
    .await;
    let one_party = "CA00000000000000000000000000000005";
    let answer = twiml(
        deliver(
            stack,
            VOICE,
            &call(&line, one_party),
            Some(&line.auth_token),
        )
        .await,
    )
    .await;
    assert!(
        answer.contains("<Say>This call may be recorded"),
        "{answer}"
    );
    assert!(answer.contains("<Record"), "{answer}");
    assert!(!answer.contains("<Gather"), "{answer}");
    record_callbacks(stack, &line, one_party).await;
    assert_eq!(
        call_row(&db, &tenant, one_party).await,
        [true, false, true, true, false]
    );

    // Erasing the caller (a customer with the calling number) takes their
    // calls.
    assert_eq!(telephony_rows(&db, &tenant).await[3], 5);
    let (status, caller) = read(
        stack
            .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
            .json(&json!({ "name": "Jane Doe", "phone": "+14155550177" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{caller}");
    erase(stack, &owner, caller["id"].as_str().unwrap()).await;
    assert_eq!(telephony_rows(&db, &tenant).await[3], 0);

    // Deleting the tenant takes its receipts too.
    assert!(telephony_rows(&db, &tenant).await[2] > 0);
    delete_tenant(stack, &tenant).await;
    assert_eq!(telephony_rows(&db, &tenant).await, [0, 0, 0, 0]);
}

/// The whole loop through two gateways behind one public URL: a text in
/// through one, the AI's answer out as a text, STOP in through the other,
/// and the next answer never leaves; START, and answers flow again. The
/// texts go to the loopback provider `rampart dev` runs.
#[tokio::test]
async fn texts_round_trip_and_stop_holds_across_two_gateways() {
    let Some(stack) = TestStack::start(crate::harness::Backend::PostgresRedis).await else {
        return;
    };
    let second = stack
        .second_gateway(rampart_gateway::Config {
            public_url: Some(public_url(&stack, "")),
            ..rampart_gateway::Config::default()
        })
        .await;
    let (tenant, _, owner) = tenant_with_owner(&stack, "Loop Locksmiths").await;
    let line = connect(&stack, &owner, "+14155550131").await;
    let customer = "+14155550177";
    let provider = &stack.stack.sms_provider;
    let delivered_to_customer = || {
        provider
            .accepted()
            .into_iter()
            .filter(|message| message.to == customer && message.from == line.number)
            .map(|message| message.body)
            .collect::<Vec<_>>()
    };

    // A text in through the first gateway, answered by the AI.
    let first = sms(
        &line,
        customer,
        "SMloop00000000000000000000000001",
        "Are you open on Saturday?",
    );
    twiml(deliver(&stack, SMS, &first, Some(&line.auth_token)).await).await;
    let conversations = conversations(&stack, &tenant).await;
    assert_eq!(conversations.len(), 1, "{conversations:?}");
    let id = conversations[0]["id"].as_str().unwrap().to_owned();
    let reply = |text: &'static str| {
        let stack = &stack;
        let tenant = &tenant;
        let id = id.clone();
        async move {
            let (status, body) = read(
                stack
                    .as_tenant(
                        tenant,
                        Method::POST,
                        &format!("/v1/crm/conversations/{id}/ai-replies"),
                    )
                    .json(&json!({ "text": text }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    };
    reply("Yes, from 9 to 1 on Saturdays.").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while delivered_to_customer().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the answer never left"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered_to_customer(), ["Yes, from 9 to 1 on Saturdays."]);

    // STOP through the second gateway, signed over the shared public URL.
    let stop = sms(&line, customer, "SMloop00000000000000000000000002", "stop");
    let response = stack
        .client
        .request(Method::POST, second.url(SMS))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "X-Twilio-Signature",
            sign(
                line.auth_token.as_bytes(),
                &public_url(&stack, SMS),
                &stop
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                    .collect::<Vec<_>>(),
            ),
        )
        .body(encode(&stop))
        .send()
        .await
        .unwrap();
    assert!(twiml(response).await.contains("<Message>"));

    // The next answer is suppressed, never texted.
    reply("We also open on Sunday mornings.").await;
    let db = crm_db(&stack).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let states = query(
            &db,
            "SELECT state FROM crm_sms_outbox WHERE conversation_id = $1 ORDER BY created_at",
            &[&id],
        )
        .await;
        let states: Vec<String> = states
            .into_iter()
            .map(|row| row[0].clone().unwrap())
            .collect();
        if states.last().map(String::as_str) == Some("suppressed") {
            assert_eq!(states, ["sent", "suppressed"]);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never decided: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        delivered_to_customer().len(),
        1,
        "an opted-out number was texted"
    );

    // START through the first gateway: answers flow again.
    let start = sms(&line, customer, "SMloop00000000000000000000000003", "START");
    twiml(deliver(&stack, SMS, &start, Some(&line.auth_token)).await).await;
    reply("See you Saturday.").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while delivered_to_customer().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the answer after START never left"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        delivered_to_customer(),
        ["Yes, from 9 to 1 on Saturdays.", "See you Saturday."]
    );
    stack.stop().await;
}
