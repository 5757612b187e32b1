//! Notifications: an e-mail received by a real (tiny) SMTP server, a
//! signed webhook received and verified, a failing receiver retried with
//! backoff and then given up on (audited), no SMTP relay, and signatures a
//! receiver must refuse.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use rampart_escalation::OUTBOX_TABLE;
use rampart_escalation::handoffs::notify::{SignatureError, SmtpConfig, webhook};
use rampart_escalation::handoffs::{
    WebhookTargets, deliver_due_notifications, fire_due_deadlines, verify_signature,
};
use rampart_escalation::intents::Severity;
use rampart_kit::ids::TenantId;
use rampart_kit::on_both_databases;
use rampart_kit::outbox::Outbox;
use rampart_kit::testing::TestDatabase;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

use crate::queue_helpers::{
    assert_nobody_is_forgotten, audit_events, connect, insert_policy, notifications, open,
};

on_both_databases!(
    an_email_reaches_the_relay,
    a_webhook_arrives_signed,
    a_failing_webhook_is_retried_then_given_up,
    without_a_relay_emails_fail_at_once,
);

pub(crate) const SECRET: &str = "whsec-0123456789abcdef0123456789abcdef";

pub(crate) fn policy_with(webhook_url: Option<&str>) -> serde_json::Value {
    let mut policy = json!({
        "response_targets": {"critical_secs": 1},
        "contacts": [
            {"name": "sec", "kind": "security", "email": "sec@example.com"},
            {"name": "phone-only", "kind": "general", "phone": "+14155550100"}
        ],
        "chain": {
            "levels": [
                {"contacts": ["sec", "phone-only"], "roles": ["manager"], "delay_secs": 60},
                {"contacts": ["sec"], "delay_secs": 60}
            ]
        }
    });
    if let Some(url) = webhook_url {
        policy["webhook"] = json!({"url": url});
    }
    policy
}

/// What the SMTP server received: the envelope and the message.
#[derive(Debug, Default, Clone)]
pub(crate) struct Mail {
    from: String,
    to: Vec<String>,
    pub(crate) data: String,
}

/// An SMTP server speaking just enough of the protocol, on a free port;
/// each message received comes out of the channel.
pub(crate) async fn smtp_server() -> (String, mpsc::UnboundedReceiver<Mail>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (sent, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sent = sent.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut mail = Mail::default();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            sent.send(std::mem::take(&mut mail)).unwrap();
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            mail.data.push_str(&line);
                            mail.data.push('\n');
                        }
                        continue;
                    }
                    let command = line.to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO")
                    {
                        b"250 test\r\n"
                    } else if command.starts_with("MAIL FROM:") {
                        mail.from = line[10..].to_owned();
                        b"250 ok\r\n"
                    } else if command.starts_with("RCPT TO:") {
                        mail.to.push(line[8..].to_owned());
                        b"250 ok\r\n"
                    } else if command == "DATA" {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if command == "QUIT" {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (address, received)
}

/// One HTTP request as a webhook receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A webhook receiver answering every request with `status`, recording
/// what it received.
pub(crate) async fn webhook_receiver(status: u16) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/rampart", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut headers = Vec::new();
                let mut request_line = String::new();
                reader.read_line(&mut request_line).await.unwrap();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).await.unwrap();
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let (key, value) = line.split_once(':').unwrap();
                    headers.push((key.trim().to_owned(), value.trim().to_owned()));
                }
                let length: usize = headers
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, value)| value.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).await.unwrap();
                log.lock().await.push(Received { headers, body });
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
            });
        }
    });
    (url, received)
}

async fn an_email_reaches_the_relay(database: TestDatabase) {
    let db = connect(&database).await;
    let outbox = Outbox::new(OUTBOX_TABLE);
    let (relay, mut inbox) = smtp_server().await;
    let smtp = SmtpConfig {
        relay,
        from: "rampart@example.com".to_owned(),
    };
    let tenant = TenantId::generate();
    let policy = insert_policy(&db, &tenant, 1, &policy_with(None), None).await;
    let handoff = open(&db, &tenant, Severity::Critical, &policy, 1).await;

    // Level 1: the security contact by e-mail (the phone-only contact waits
    // for telephony; the managers see the queue).
    let rows = notifications(&db).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].channel, "email");
    assert_eq!(rows[0].target, "sec@example.com");
    assert_eq!(rows[0].payload["event"], "handoff.opened");
    assert_eq!(rows[0].payload["roles"], json!(["manager"]));
    assert_eq!(rows[0].payload["handoff_id"], handoff.id);
    assert_eq!(rows[0].handoff_id, handoff.id);

    let now = Utc::now();
    assert_eq!(
        deliver_due_notifications(&db, &outbox, Some(&smtp), WebhookTargets::AnyAddress, now)
            .await
            .unwrap(),
        1
    );
    let mail = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(mail.from.contains("rampart@example.com"), "{mail:?}");
    assert_eq!(mail.to.len(), 1);
    assert!(mail.to[0].contains("sec@example.com"));
    assert!(
        mail.data
            .contains("Subject: [Rampart] handoff opened: critical (level 1)"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains(&handoff.id));
    assert!(notifications(&db).await[0].delivered_at.is_some());

    // The escalation to level 2 e-mails again.
    assert_eq!(
        fire_due_deadlines(&db, &outbox, now + chrono::Duration::seconds(5))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        deliver_due_notifications(
            &db,
            &outbox,
            Some(&smtp),
            WebhookTargets::AnyAddress,
            now + chrono::Duration::seconds(5)
        )
        .await
        .unwrap(),
        1
    );
    let mail = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        mail.data
            .contains("Subject: [Rampart] handoff escalated: critical (level 2)"),
        "{}",
        mail.data
    );
    assert!(
        notifications(&db)
            .await
            .iter()
            .all(|row| row.delivered_at.is_some())
    );
    assert_nobody_is_forgotten(&db).await;
}

async fn a_webhook_arrives_signed(database: TestDatabase) {
    let db = connect(&database).await;
    let outbox = Outbox::new(OUTBOX_TABLE);
    let (url, received) = webhook_receiver(200).await;
    let tenant = TenantId::generate();
    let policy = insert_policy(&db, &tenant, 1, &policy_with(Some(&url)), Some(SECRET)).await;
    let handoff = open(&db, &tenant, Severity::Critical, &policy, 1).await;
    let webhook_row = notifications(&db)
        .await
        .into_iter()
        .find(|row| row.channel == "webhook")
        .expect("a webhook notification");
    assert_eq!(webhook_row.target, url);

    // No SMTP here: the e-mail row fails, the webhook is delivered.
    deliver_due_notifications(&db, &outbox, None, WebhookTargets::AnyAddress, Utc::now())
        .await
        .unwrap();
    let requests = received.lock().await.clone();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.header("Rampart-Event-Id"),
        Some(webhook_row.id.as_str())
    );
    let signature = request.header("Rampart-Signature").expect("signed");
    verify_signature(
        SECRET,
        signature,
        &request.body,
        Utc::now(),
        Duration::from_secs(300),
    )
    .expect("a valid signature");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["event"], "handoff.opened");
    assert_eq!(body["handoff_id"], handoff.id);
    assert_eq!(body["tenant_id"], tenant.as_str());
    assert_eq!(body["conversation_id"], handoff.conversation_id);
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["level"], 1);
    assert_eq!(body["round"], 0);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "conversation_id",
            "due_at",
            "event",
            "handoff_id",
            "intents",
            "level",
            "occurred_at",
            "roles",
            "round",
            "severity",
            "tenant_id"
        ],
        "ids and levels only, never message text"
    );

    // A receiver refuses a forged signature, a changed body and a replay.
    let now = Utc::now();
    let window = Duration::from_secs(300);
    assert_eq!(
        verify_signature("not-the-secret", signature, &request.body, now, window),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(SECRET, signature, b"{\"event\":\"x\"}", now, window),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(
            SECRET,
            signature,
            &request.body,
            now + chrono::Duration::minutes(10),
            window
        ),
        Err(SignatureError::Expired)
    );
    let body_text = std::str::from_utf8(&request.body).unwrap();
    let old = webhook::sign(SECRET, body_text, now - chrono::Duration::hours(1));
    assert_eq!(
        verify_signature(SECRET, &old, &request.body, now, window),
        Err(SignatureError::Expired)
    );
    let forged = format!("t={},v1={}", now.timestamp(), "ab".repeat(32));
    assert_eq!(
        verify_signature(SECRET, &forged, &request.body, now, window),
        Err(SignatureError::Mismatch)
    );

    let rows = notifications(&db).await;
    let delivered = rows.iter().find(|row| row.channel == "webhook").unwrap();
    assert!(delivered.delivered_at.is_some());
    assert_eq!(delivered.attempts, 1);
    assert_nobody_is_forgotten(&db).await;
}

async fn a_failing_webhook_is_retried_then_given_up(database: TestDatabase) {
    let db = connect(&database).await;
    let outbox = Outbox::new(OUTBOX_TABLE);
    let (url, received) = webhook_receiver(500).await;
    let tenant = TenantId::generate();
    let mut document = policy_with(Some(&url));
    document["contacts"] = json!([]);
    document["chain"]["levels"] = json!([{"roles": ["manager"], "delay_secs": 60}]);
    let policy = insert_policy(&db, &tenant, 1, &document, Some(SECRET)).await;
    open(&db, &tenant, Severity::High, &policy, 1).await;

    let start = Utc::now().trunc_subsecs(6);
    assert_eq!(
        deliver_due_notifications(&db, &outbox, None, WebhookTargets::AnyAddress, start)
            .await
            .unwrap(),
        1
    );
    let row = notifications(&db).await.remove(0);
    assert_eq!(row.attempts, 1);
    assert!(row.delivered_at.is_none() && row.failed_at.is_none());
    assert_eq!(
        row.last_error.as_deref(),
        Some("webhook answered 500 Internal Server Error")
    );
    // Backoff: not again before 2 s have passed.
    assert_eq!(row.next_attempt_at, start + chrono::Duration::seconds(2));
    assert_eq!(
        deliver_due_notifications(
            &db,
            &outbox,
            None,
            WebhookTargets::AnyAddress,
            start + chrono::Duration::seconds(1)
        )
        .await
        .unwrap(),
        0
    );
    let mut now = start;
    for attempt in 2..=8 {
        now += chrono::Duration::hours(1);
        assert_eq!(
            deliver_due_notifications(&db, &outbox, None, WebhookTargets::AnyAddress, now)
                .await
                .unwrap(),
            1,
            "attempt {attempt}"
        );
    }
    let row = notifications(&db).await.remove(0);
    assert_eq!(row.attempts, 8);
    assert!(row.failed_at.is_some() && row.delivered_at.is_none());
    now += chrono::Duration::hours(1);
    assert_eq!(
        deliver_due_notifications(&db, &outbox, None, WebhookTargets::AnyAddress, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(received.lock().await.len(), 8);
    let failed = audit_events(&db, "notification.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["outcome"], "failure");
    assert_eq!(failed[0]["details"]["channel"], "webhook");
    assert_eq!(failed[0]["details"]["attempts"], "8");
    assert_eq!(failed[0]["actor"], "system:escalation");
    assert_nobody_is_forgotten(&db).await;
}

async fn without_a_relay_emails_fail_at_once(database: TestDatabase) {
    let db = connect(&database).await;
    let outbox = Outbox::new(OUTBOX_TABLE);
    let tenant = TenantId::generate();
    let policy = insert_policy(&db, &tenant, 1, &policy_with(None), None).await;
    open(&db, &tenant, Severity::Critical, &policy, 1).await;
    assert_eq!(
        deliver_due_notifications(&db, &outbox, None, WebhookTargets::AnyAddress, Utc::now())
            .await
            .unwrap(),
        1
    );
    let row = notifications(&db).await.remove(0);
    assert_eq!(row.attempts, 1);
    assert!(row.failed_at.is_some());
    assert_eq!(row.last_error.as_deref(), Some("no SMTP relay configured"));
    let failed = audit_events(&db, "notification.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["details"]["channel"], "email");
    assert_nobody_is_forgotten(&db).await;
}
