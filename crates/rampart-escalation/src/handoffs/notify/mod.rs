//! Notifications to escalation contacts: a signed webhook and e-mail over
//! SMTP, delivered from the `esc_notification` table.
//!
//! A step of a handoff (opened, escalated) writes one row per contact of
//! the level it reached that has an e-mail address, and one for the
//! policy's webhook, in the step's own transaction ([`enqueue`]): the
//! notification exists if and only if the step does. The payload carries
//! ids, severity, intents and the level, never a message's text or a
//! customer's data. Roles named by the level are not e-mailed (their users
//! see the queue); they are listed in the payload. A test-mode handoff (a
//! `rk_test_` key's conversation) writes no rows at all: testing an
//! integration must never page the business's real contacts or call its
//! webhook ([`notifies`]).
//!
//! [`deliver_due_notifications`] sends due rows. Each row is claimed with a
//! conditional UPDATE that counts the attempt and moves its next attempt
//! away by a backoff *before* sending, so two instances never send one row
//! at once; a crash after sending means at most one resend, which webhook
//! receivers de-duplicate by `Rampart-Event-Id`. After [`MAX_ATTEMPTS`] the
//! row is failed and `notification.failed` audited.
//!
//! - [`webhook`]: the POST, its signature, and [`verify_signature`] for
//!   receivers.
//! - [`email`]: the SMTP message and transport.

pub mod email;
pub mod webhook;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::DataMode;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;

pub use webhook::{SignatureError, WebhookTargets, verify_signature};

use super::entity::{handoff, notification};
use super::store::{self, json_list, rfc3339, severity_from_column, severity_name};
use crate::tenant_policy::TenantPolicy;

/// Where e-mail notifications are sent.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `host:port` of the SMTP relay. Plain SMTP to a loopback relay;
    /// any other relay must offer STARTTLS.
    pub relay: String,
    /// The From address.
    pub from: String,
}

/// How many times a notification is tried before it is failed.
pub const MAX_ATTEMPTS: i32 = 8;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 10 * 60;
/// How many due rows one pass sends at most.
const BATCH: u64 = 50;

pub(crate) const EMAIL: &str = "email";
pub(crate) const WEBHOOK: &str = "webhook";

/// What happened to the handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Opened,
    Escalated,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "handoff.opened",
            Self::Escalated => "handoff.escalated",
        }
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The bytes of lowercase or uppercase hex, at most `max` of them.
pub(crate) fn unhex(text: &str, max: usize) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > max * 2 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `row`'s steps may reach anyone outside Rampart: only a live
/// handoff's. A test-mode one, or one of a mode this code does not know,
/// notifies nobody.
pub(crate) fn notifies(row: &handoff::Model) -> bool {
    DataMode::parse(&row.mode) == Some(DataMode::Live)
}

/// Writes the notifications of `row`'s current level (and the webhook's)
/// in `tx`. Returns the names of the contacts notified: none for a
/// handoff that [`notifies`] nobody.
pub(crate) async fn enqueue(
    tx: &impl ConnectionTrait,
    policy: &TenantPolicy,
    row: &handoff::Model,
    event: Event,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    if !notifies(row) {
        tracing::info!(
            tenant_id = %row.tenant_id,
            mode = %row.mode,
            handoff_id = %row.id,
            event = event.as_str(),
            "test-mode handoff, notifications skipped"
        );
        return Ok(Vec::new());
    }
    let index = usize::try_from(row.level.saturating_sub(1)).unwrap_or(0);
    let Some(level) = policy.chain.levels.get(index) else {
        return Ok(Vec::new());
    };
    let payload = json!({
        "event": event.as_str(),
        "tenant_id": row.tenant_id,
        "handoff_id": row.id,
        "conversation_id": row.conversation_id,
        "severity": severity_name(severity_from_column(row.severity)),
        "intents": json_list(&row.intents),
        "level": row.level,
        "round": row.round,
        "roles": level.roles,
        "due_at": rfc3339(row.due_at),
        "occurred_at": rfc3339(now),
    })
    .to_string();

    let mut targets = Vec::new();
    let mut notified = Vec::new();
    for name in &level.contacts {
        let contact = policy.contacts.iter().find(|contact| &contact.name == name);
        // A contact with only a phone number waits for the telephony work.
        if let Some(email) = contact.and_then(|contact| contact.email.as_ref()) {
            targets.push((EMAIL, email.clone()));
            notified.push(name.clone());
        }
    }
    if let Some(webhook) = &policy.webhook {
        targets.push((WEBHOOK, webhook.url.clone()));
    }
    for (channel, target) in targets {
        let row = notification::Model {
            id: format!("ntf_{}", uuid::Uuid::now_v7().simple()),
            tenant_id: row.tenant_id.clone(),
            handoff_id: row.id.clone(),
            channel: channel.to_owned(),
            target,
            payload: payload.clone(),
            attempts: 0,
            next_attempt_at: now,
            delivered_at: None,
            failed_at: None,
            last_error: None,
            created_at: now,
        };
        notification::Entity::insert(notification::ActiveModel::from(row))
            .exec_without_returning(tx)
            .await?;
    }
    Ok(notified)
}

/// The wait after attempt number `attempts`: 2^attempts seconds, at most
/// ten minutes.
fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 20)).unwrap_or(0);
    Duration::seconds(2_i64.pow(exponent).min(MAX_BACKOFF_SECS))
}

/// Sends the notifications due at `now`; returns how many were attempted
/// by this caller. A row another instance claimed first is left to it.
pub async fn deliver_due_notifications(
    db: &DatabaseConnection,
    outbox: &Outbox,
    smtp: Option<&SmtpConfig>,
    webhook_targets: WebhookTargets,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    // At the precision PostgreSQL keeps, so both backends store the same.
    let now = now.trunc_subsecs(6);
    let due = notification::Entity::find()
        .filter(notification::Column::DeliveredAt.is_null())
        .filter(notification::Column::FailedAt.is_null())
        .filter(notification::Column::NextAttemptAt.lte(now))
        .order_by_asc(notification::Column::NextAttemptAt)
        .limit(BATCH)
        .all(db)
        .await?;
    let mut attempted = 0;
    for row in due {
        let attempts = row.attempts + 1;
        let claimed = notification::Entity::update_many()
            .col_expr(notification::Column::Attempts, Expr::value(attempts))
            .col_expr(
                notification::Column::NextAttemptAt,
                Expr::value(now + backoff(attempts)),
            )
            .filter(notification::Column::Id.eq(row.id.as_str()))
            .filter(notification::Column::Attempts.eq(row.attempts))
            .filter(notification::Column::DeliveredAt.is_null())
            .filter(notification::Column::FailedAt.is_null())
            .exec(db)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        attempted += 1;
        let sent = send(db, smtp, webhook_targets, &row).await;
        match sent {
            Ok(()) => {
                notification::Entity::update_many()
                    .col_expr(notification::Column::DeliveredAt, Expr::value(Some(now)))
                    .col_expr(
                        notification::Column::LastError,
                        Expr::value(Option::<String>::None),
                    )
                    .filter(notification::Column::Id.eq(row.id.as_str()))
                    .exec(db)
                    .await?;
                tracing::info!(
                    notification_id = %row.id,
                    handoff_id = %row.handoff_id,
                    channel = %row.channel,
                    "notification delivered"
                );
            }
            Err(failure) => {
                let give_up = failure.permanent || attempts >= MAX_ATTEMPTS;
                tracing::warn!(
                    notification_id = %row.id,
                    handoff_id = %row.handoff_id,
                    channel = %row.channel,
                    attempts,
                    give_up,
                    error = %failure.message,
                    "notification not delivered"
                );
                record_failure(db, outbox, &row, attempts, &failure.message, give_up, now).await?;
            }
        }
    }
    Ok(attempted)
}

/// Why a delivery failed; `permanent`: retrying cannot help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub message: String,
    pub permanent: bool,
}

impl Failure {
    pub(crate) fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

async fn send(
    db: &DatabaseConnection,
    smtp: Option<&SmtpConfig>,
    webhook_targets: WebhookTargets,
    row: &notification::Model,
) -> Result<(), Failure> {
    match row.channel.as_str() {
        WEBHOOK => {
            let secret = store::webhook_secret(db, &row.tenant_id)
                .await
                .map_err(|error| Failure::retry(format!("reading the webhook secret: {error}")))?
                .ok_or_else(|| Failure::permanent("no webhook secret configured"))?;
            webhook::post(&row.target, webhook_targets, &secret, &row.id, &row.payload).await
        }
        EMAIL => {
            let smtp = smtp.ok_or_else(|| Failure::permanent("no SMTP relay configured"))?;
            email::send(smtp, &row.target, &row.payload).await
        }
        other => Err(Failure::permanent(format!("unknown channel {other}"))),
    }
}

/// Records a failed attempt, and when it was the last, fails the row and
/// audits it in one transaction.
async fn record_failure(
    db: &DatabaseConnection,
    outbox: &Outbox,
    row: &notification::Model,
    attempts: i32,
    error: &str,
    give_up: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut change = outbox.begin(db).await?;
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::LastError, Expr::value(Some(error)));
    if give_up {
        update = update.col_expr(notification::Column::FailedAt, Expr::value(Some(now)));
        change.audit(
            system_record(
                &row.tenant_id,
                "notification.failed",
                format!("handoff:{}", row.handoff_id),
            )
            .with_outcome("failure")
            .with_detail("channel", row.channel.clone())
            .with_detail("attempts", attempts.to_string()),
        );
    }
    update
        .filter(notification::Column::Id.eq(row.id.as_str()))
        .exec(change.tx())
        .await?;
    change.commit().await
}

/// An audit record for a step escalation takes by itself, not on anyone's
/// request.
pub(crate) fn system_record(tenant_id: &str, action: &str, target: String) -> AuditRecord {
    AuditRecord {
        event_id: uuid::Uuid::now_v7().to_string(),
        tenant_id: Some(tenant_id.to_owned()),
        actor: "system:escalation".to_owned(),
        credential_id: String::new(),
        action: action.to_owned(),
        target,
        occurred_at: Utc::now(),
        request_id: String::new(),
        outcome: "success".to_owned(),
        client_addr: String::new(),
        details: std::collections::BTreeMap::new(),
        schema_version: rampart_kit::audit_schema::current_version(action),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(3), Duration::seconds(8));
        assert_eq!(backoff(9), Duration::seconds(512));
        assert_eq!(backoff(10), Duration::seconds(600));
        assert_eq!(backoff(1000), Duration::seconds(600));
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
