//! The audit event kinds: one versioned schema per action, shared by the
//! services that produce events and the audit service that stores them.
//!
//! A schema says which outcomes an action may have and which detail keys it
//! may carry. Detail values are short, non-secret strings; the allow-list of
//! keys is what keeps passwords, codes, tokens and keys out of the log (there
//! is no key for them), and the audit service also redacts anything shaped
//! like a Rampart API key. Kinds whose services come later are defined here
//! already, so the log's vocabulary is fixed before they are written.
//!
//! Changing what an action's event means or carries adds a new version; the
//! audit service accepts every version up to the current one, and the
//! version is part of each stored event's leaf hash.

/// Which log an action's events go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogScope {
    /// The acting tenant's log.
    Tenant,
    /// The platform's log.
    Platform,
    /// Either: a tenant's when the action concerns one, else the platform's.
    Either,
}

/// One event kind's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind {
    pub action: &'static str,
    /// The current version of this kind's schema, from 1.
    pub version: u32,
    /// The service that owns the action and produces its events.
    pub producer: &'static str,
    pub log: LogScope,
    /// The kind of thing `target` names (`"user:<id>"`, ...).
    pub target: &'static str,
    pub outcomes: &'static [&'static str],
    /// The detail keys it may carry, beyond [`COMMON_DETAILS`].
    pub details: &'static [&'static str],
    pub description: &'static str,
}

/// Detail keys every kind may carry.
pub const COMMON_DETAILS: &[&str] = &["reason"];

const SUCCESS: &[&str] = &["success"];
const SUCCESS_OR_FAILURE: &[&str] = &["success", "failure"];

/// Every known kind.
pub const KINDS: &[EventKind] = &[
    EventKind {
        action: "user.sign_in",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: &["success", "failure", "locked", "refused"],
        details: &["method"],
        description: "a sign-in attempt; failure: wrong credentials, locked: throttled, locked out, or not evaluated because too many sign-ins were in progress (reason \"busy\"), refused: not allowed on this route",
    },
    EventKind {
        action: "user.sign_out",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS,
        details: &[],
        description: "a user ended a session",
    },
    EventKind {
        action: "user.second_factor",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS_OR_FAILURE,
        details: &["method"],
        description: "a second-factor check during sign-in",
    },
    EventKind {
        action: "user.created",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS,
        details: &["role"],
        description: "a user account was created",
    },
    EventKind {
        action: "user.role_changed",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS,
        details: &["from_role", "to_role"],
        description: "a user's role changed",
    },
    EventKind {
        action: "user.disabled",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS,
        details: &[],
        description: "a user account was disabled",
    },
    EventKind {
        action: "user.enabled",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS,
        details: &[],
        description: "a user account was enabled again",
    },
    EventKind {
        action: "user.password_changed",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS_OR_FAILURE,
        details: &[],
        description: "a password change (never the password)",
    },
    EventKind {
        action: "user.totp_enrolled",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS,
        details: &[],
        description: "a TOTP second factor was enrolled (never its secret)",
    },
    EventKind {
        action: "user.recovery_code_used",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS_OR_FAILURE,
        details: &["remaining"],
        description: "a recovery code was tried (never the code)",
    },
    EventKind {
        action: "session.revoked",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "session",
        outcomes: SUCCESS,
        details: &[],
        description: "one session was revoked",
    },
    EventKind {
        action: "session.revoked_all",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "user",
        outcomes: SUCCESS,
        details: &["count"],
        description: "every session of a user was revoked",
    },
    EventKind {
        action: "session.suspicious_activity",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "session",
        outcomes: SUCCESS,
        details: &["signal"],
        description: "a session showed suspicious activity and was acted on",
    },
    EventKind {
        action: "tenant.settings_changed",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "tenant",
        outcomes: SUCCESS,
        details: &["setting"],
        description: "a tenant's business settings changed (names of settings, not values)",
    },
    EventKind {
        action: "api_key.issued",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "api_key",
        outcomes: SUCCESS,
        details: &["scopes", "expires_at", "display_prefix"],
        description: "an API key was issued (its id and display prefix, never the key)",
    },
    EventKind {
        action: "api_key.rotated",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "api_key",
        outcomes: SUCCESS,
        details: &["replaced_by", "grace_until"],
        description: "an API key was replaced by a new one",
    },
    EventKind {
        action: "api_key.revoked",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "api_key",
        outcomes: SUCCESS,
        details: &[],
        description: "an API key was revoked",
    },
    EventKind {
        action: "api_key.used",
        version: 1,
        producer: "auth",
        log: LogScope::Either,
        target: "api_key",
        outcomes: SUCCESS_OR_FAILURE,
        details: &["count", "window_start"],
        description: "an API key was used; one event per key per minute with the count",
    },
    EventKind {
        action: "tenant.created",
        version: 1,
        producer: "crm",
        log: LogScope::Either,
        target: "tenant",
        outcomes: SUCCESS,
        details: &[],
        description: "a tenant (business) was created",
    },
    EventKind {
        action: "customer.created",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "customer",
        outcomes: SUCCESS,
        details: &[],
        description: "a tenant's customer record was created (its id, no personal data)",
    },
    EventKind {
        action: "appointment.created",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "appointment",
        outcomes: SUCCESS,
        details: &["customer_id"],
        description: "an appointment was booked for a customer (ids only)",
    },
    EventKind {
        action: "appointment.updated",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "appointment",
        outcomes: SUCCESS,
        details: &["changed", "from", "to"],
        description: "an appointment was rescheduled, reassigned or moved a status step (the names of the changed fields, and the status from/to)",
    },
    EventKind {
        action: "job_note.created",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "job_note",
        outcomes: SUCCESS,
        details: &["customer_id", "appointment_id"],
        description: "a job note was written on a customer or an appointment (ids only, never its text or equipment)",
    },
    EventKind {
        action: "customer.updated",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "customer",
        outcomes: SUCCESS,
        details: &["fields"],
        description: "a tenant's customer record was changed (the changed field names, never their values)",
    },
    EventKind {
        action: "master_key.rotated",
        version: 1,
        producer: "crm",
        log: LogScope::Platform,
        target: "master_key",
        outcomes: SUCCESS,
        details: &["version", "rewrapped", "already_current"],
        description: "every tenant key was re-wrapped under the current master key version (counts)",
    },
    EventKind {
        action: "conversation.started",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "conversation",
        outcomes: SUCCESS,
        details: &["channel"],
        description: "a conversation was started (from the website widget or another channel; its id, never its text)",
    },
    EventKind {
        action: "conversation.handed_off",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "conversation",
        outcomes: SUCCESS,
        details: &["handoff_id", "severity"],
        description: "a conversation went to a person: the gate decided so (reason \"gate\"), or escalation could not be reached (reason \"escalation_unavailable\", fail closed)",
    },
    EventKind {
        action: "conversation.status_changed",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "conversation",
        outcomes: SUCCESS,
        details: &["from", "to", "handoff_id"],
        description: "a conversation followed a handoff's step (assigned, back to the AI, resolved, closed)",
    },
    EventKind {
        action: "ai_reply.reviewed",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "conversation",
        outcomes: &["redacted", "blocked"],
        details: &["findings", "policy_version"],
        description: "the guardrails masked or stopped an AI reply (the kinds of finding, never the text)",
    },
    EventKind {
        action: "policy.changed",
        version: 1,
        producer: "escalation",
        log: LogScope::Tenant,
        target: "policy",
        outcomes: SUCCESS,
        details: &["version", "changed"],
        description: "a tenant's escalation policy got a new version (the top-level sections that changed)",
    },
    EventKind {
        action: "handoff.opened",
        version: 1,
        producer: "escalation",
        log: LogScope::Tenant,
        target: "handoff",
        outcomes: SUCCESS,
        details: &["conversation_id", "severity", "intents", "policy_version"],
        description: "a conversation was handed to a person (reason: the gate's decision, a blocked AI reply, or escalation having been unreachable)",
    },
    EventKind {
        action: "handoff.claimed",
        version: 1,
        producer: "escalation",
        log: LogScope::Tenant,
        target: "handoff",
        outcomes: SUCCESS,
        details: &["conversation_id", "assignee"],
        description: "an agent took a handoff",
    },
    EventKind {
        action: "handoff.escalated",
        version: 1,
        producer: "escalation",
        log: LogScope::Tenant,
        target: "handoff",
        outcomes: SUCCESS,
        details: &["conversation_id", "level", "round", "contacts"],
        description: "a handoff's due time passed: its next escalation level (or a repeat) was notified",
    },
    EventKind {
        action: "handoff.resolved",
        version: 1,
        producer: "escalation",
        log: LogScope::Tenant,
        target: "handoff",
        outcomes: SUCCESS,
        details: &["conversation_id"],
        description: "a person settled the handoff",
    },
    EventKind {
        action: "handoff.handed_back",
        version: 1,
        producer: "escalation",
        log: LogScope::Tenant,
        target: "handoff",
        outcomes: SUCCESS,
        details: &["conversation_id"],
        description: "a person gave the conversation back to the AI",
    },
    EventKind {
        action: "notification.failed",
        version: 1,
        producer: "escalation",
        log: LogScope::Tenant,
        target: "handoff",
        outcomes: &["failure"],
        details: &["channel", "attempts"],
        description: "an escalation notification (webhook or e-mail) could not be delivered after its retries",
    },
    EventKind {
        action: "channel.connected",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "channel",
        outcomes: SUCCESS_OR_FAILURE,
        details: &["channel_type"],
        description: "a channel (phone, SMS, chat, widget) was connected",
    },
    EventKind {
        action: "channel.disconnected",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "channel",
        outcomes: SUCCESS,
        details: &["channel_type"],
        description: "a channel was disconnected",
    },
    EventKind {
        action: "sms.opted_out",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "sms_number",
        outcomes: SUCCESS,
        details: &["command", "channel_id"],
        description: "a number opted out of the tenant's text messages (target: the number's blind index, never the number)",
    },
    EventKind {
        action: "sms.opted_in",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "sms_number",
        outcomes: SUCCESS,
        details: &["command", "channel_id"],
        description: "a number opted back in to the tenant's text messages",
    },
    EventKind {
        action: "sms.suppressed",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "sms_message",
        outcomes: SUCCESS,
        details: &["channel_id", "conversation_id", "message_id", "attempts"],
        description: "an outbound text was not sent because its number is opted out (reason \"opted_out\": the tenant's ledger, read as the message was claimed; \"provider_opt_out\": the provider refused an unsubscribed recipient)",
    },
    EventKind {
        action: "sms.failed",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "sms_message",
        outcomes: &["failure"],
        details: &[
            "channel_id",
            "conversation_id",
            "message_id",
            "attempts",
            "http_status",
            "provider_error",
        ],
        description: "an outbound text will not be sent: the provider refused it (reason \"refused\", with its HTTP status and error number), every retry failed (\"retries_exhausted\"), or its channel or conversation is gone (\"channel_unusable\")",
    },
    EventKind {
        action: "sms.unknown",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "sms_message",
        outcomes: &["unknown"],
        details: &["channel_id", "conversation_id", "message_id", "attempts"],
        description: "an outbound text may or may not have been sent (the request went out and its answer was lost, reason \"no_answer\", or the worker sending it stopped, \"lease_expired\"); it is not sent again, so it is never sent twice",
    },
    EventKind {
        action: "config.changed",
        // v2 adds `changed`, `before` and `after` (the CRM's business
        // settings and retention periods).
        version: 2,
        producer: "gateway",
        log: LogScope::Either,
        target: "config",
        outcomes: SUCCESS,
        details: &["setting", "changed", "before", "after"],
        description: "a platform or tenant configuration changed: `setting` names the document, `changed` its changed fields; `before`/`after` hold the changed values only where they are short and never personal (retention periods), else the document's versions (settings text and phone numbers stay out of the log)",
    },
    EventKind {
        action: "legal_hold.set",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "customer",
        outcomes: SUCCESS,
        details: &[],
        description: "a legal hold was placed on a customer (its id; the stated reason stays with the hold, not in the log)",
    },
    EventKind {
        action: "legal_hold.released",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "customer",
        outcomes: SUCCESS,
        details: &[],
        description: "a customer's legal hold was released",
    },
    EventKind {
        action: "erasure.requested",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "customer",
        outcomes: SUCCESS,
        details: &["erasure_request_id", "source"],
        description: "an erasure of a customer's data was requested: `source` is `owner`, or `handoff:<id>` when a privacy handoff opened it",
    },
    EventKind {
        action: "customer.erased",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "customer",
        outcomes: SUCCESS,
        details: &[
            "erasure_request_id",
            "certificate_sha256",
            "customers",
            "conversations",
            "messages",
            "appointments",
            "job_notes",
            "shredded",
        ],
        description: "a customer's data was erased (data keys destroyed, rows deleted) under an erasure request: the counts of what went (`shredded`: data keys destroyed), and the SHA-256 of the deletion certificate issued for it",
    },
    EventKind {
        action: "retention.purged",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "tenant",
        outcomes: SUCCESS,
        details: &[
            "mode",
            "conversations",
            "messages",
            "job_notes",
            "customers",
            "held_skipped",
        ],
        description: "the scheduled retention job deleted what had expired in one tenant's data mode: the counts of each class, and how many held customers it left alone",
    },
    EventKind {
        action: "tenant.deleted",
        version: 1,
        producer: "crm",
        log: LogScope::Either,
        target: "tenant",
        outcomes: SUCCESS,
        details: &["shredded"],
        description: "a tenant was deleted: its tenant key and every data key it wrapped were destroyed, so its sealed data can no longer be read anywhere, backups included (`shredded`: how many data keys)",
    },
    EventKind {
        action: "billing.state_changed",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "tenant",
        outcomes: SUCCESS,
        details: &["from_state", "to_state", "source", "event_id"],
        description: "a tenant's billing state moved (trial, active, past_due, suspended, canceled); source: admin or webhook, event_id: the billing provider's event for a webhook, reason: a short code",
    },
    EventKind {
        action: "data.exported",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "tenant",
        outcomes: SUCCESS,
        details: &[
            "mode",
            "customers",
            "appointments",
            "job_notes",
            "conversations",
            "messages",
        ],
        description: "the owner started a bulk export of one data mode of the tenant's data (customers decrypted): recorded before the first line leaves, with the counts of each class at that moment",
    },
    EventKind {
        action: "incident.contained",
        version: 1,
        producer: "auth",
        log: LogScope::Platform,
        target: "incident",
        outcomes: SUCCESS,
        details: &[
            "target_kind",
            "target_id",
            "credentials_revoked",
            "sessions_revoked",
        ],
        description: "an operator contained an incident (`rampart incident contain`): the target's credentials and sessions revoked and its access path refused until restored; `target_kind` is tenant, user, key or admin_key",
    },
    EventKind {
        action: "incident.restored",
        version: 1,
        producer: "auth",
        log: LogScope::Platform,
        target: "incident",
        outcomes: SUCCESS,
        details: &["target_kind", "target_id"],
        description: "an operator lifted an incident's isolation (`rampart incident restore`); revoked credentials stay revoked",
    },
    EventKind {
        action: "incident.ai_frozen",
        version: 1,
        producer: "escalation",
        log: LogScope::Platform,
        target: "incident",
        outcomes: SUCCESS,
        details: &["tenant_id"],
        description: "an incident froze the AI for a tenant (`rampart incident contain`): every customer message goes to a person and AI replies are refused until restored",
    },
    EventKind {
        action: "incident.ai_unfrozen",
        version: 1,
        producer: "escalation",
        log: LogScope::Platform,
        target: "incident",
        outcomes: SUCCESS,
        details: &["tenant_id"],
        description: "an incident's freeze of the AI for a tenant was lifted (`rampart incident restore`)",
    },
    EventKind {
        action: "checklist.completed",
        version: 1,
        producer: "auth",
        log: LogScope::Platform,
        target: "checklist_report",
        outcomes: SUCCESS,
        details: &["generated_at", "pass", "warn", "fail", "sha256"],
        description: "the monthly security checklist ran and its report was stored (`rampart checklist`): `pass`, `warn` and `fail` count its items, `sha256` is the stored report's SHA-256",
    },
    EventKind {
        action: "call.consent_given",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "call",
        outcomes: SUCCESS,
        details: &["channel_id"],
        description: "a caller agreed (pressed 1) to the call being recorded, after the announcement (target: the call's Twilio CallSid)",
    },
    EventKind {
        action: "call.recording_stored",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "call",
        outcomes: SUCCESS,
        details: &["what", "consent_rule"],
        description: "a call's recording or transcript (`what`) was stored, sealed, because recording was on and the consent rule (`consent_rule`) was met",
    },
    EventKind {
        action: "calendar.connected",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "calendar",
        outcomes: SUCCESS,
        details: &["provider", "mode"],
        description: "the owner connected a calendar (OAuth 2.0 with PKCE, the events scope only); recorded as the owner who started the authorisation",
    },
    EventKind {
        action: "calendar.connect_failed",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "calendar",
        outcomes: &["failure"],
        details: &["provider", "mode"],
        description: "a calendar authorisation came back and was refused (code exchange failed, a scope other than exactly the events scope, no refresh token); whatever was granted was revoked and nothing stored",
    },
    EventKind {
        action: "calendar.disconnected",
        version: 1,
        producer: "crm",
        log: LogScope::Tenant,
        target: "calendar",
        outcomes: SUCCESS,
        details: &["provider", "mode"],
        description: "the owner disconnected the calendar: its tokens were revoked at the provider, then deleted",
    },
];

/// The schema of `action`, if it is a known kind.
#[must_use]
pub fn kind(action: &str) -> Option<&'static EventKind> {
    KINDS.iter().find(|kind| kind.action == action)
}

/// The current schema version of `action`; 0 for an unknown action.
#[must_use]
pub fn current_version(action: &str) -> u32 {
    kind(action).map_or(0, |kind| kind.version)
}

/// Why an event does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown action {0:?}: every action needs a schema in rampart_kit::audit_schema")]
    UnknownAction(String),
    #[error("schema version {version} of {action} is newer than the known {current}")]
    FutureVersion {
        action: &'static str,
        version: u32,
        current: u32,
    },
    #[error("outcome {outcome:?} is not one of {allowed:?} for {action}")]
    Outcome {
        action: &'static str,
        outcome: String,
        allowed: &'static [&'static str],
    },
    #[error("detail {key:?} is not part of the {action} schema")]
    Detail { action: &'static str, key: String },
}

/// Checks an event's action, version, outcome and detail keys against its
/// schema, returning the schema.
pub fn check<'a>(
    action: &str,
    version: u32,
    outcome: &str,
    detail_keys: impl IntoIterator<Item = &'a str>,
) -> Result<&'static EventKind, SchemaError> {
    let kind = kind(action).ok_or_else(|| SchemaError::UnknownAction(action.to_owned()))?;
    if version > kind.version {
        return Err(SchemaError::FutureVersion {
            action: kind.action,
            version,
            current: kind.version,
        });
    }
    if !kind.outcomes.contains(&outcome) {
        return Err(SchemaError::Outcome {
            action: kind.action,
            outcome: outcome.to_owned(),
            allowed: kind.outcomes,
        });
    }
    for key in detail_keys {
        if !kind.details.contains(&key) && !COMMON_DETAILS.contains(&key) {
            return Err(SchemaError::Detail {
                action: kind.action,
                key: key.to_owned(),
            });
        }
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_well_formed_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in KINDS {
            assert!(seen.insert(kind.action), "{} twice", kind.action);
            assert!(kind.version >= 1);
            assert!(!kind.outcomes.is_empty());
            assert!(
                kind.action
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'),
                "{}",
                kind.action
            );
            for key in kind.details.iter().chain(COMMON_DETAILS) {
                for secret in ["password", "secret", "token", "otp", "code", "key"] {
                    // A detail named for a secret would invite one.
                    assert!(
                        !key.contains(secret) || *key == "display_prefix",
                        "{}: {key}",
                        kind.action
                    );
                }
            }
        }
    }

    #[test]
    fn the_agreed_action_names_are_all_defined() {
        for action in [
            "user.sign_in",
            "user.sign_out",
            "user.second_factor",
            "user.created",
            "user.role_changed",
            "user.disabled",
            "user.enabled",
            "user.password_changed",
            "user.totp_enrolled",
            "user.recovery_code_used",
            "session.revoked",
            "session.revoked_all",
            "session.suspicious_activity",
            "tenant.settings_changed",
            "api_key.issued",
            "api_key.rotated",
            "api_key.revoked",
            "api_key.used",
            "tenant.created",
            "customer.created",
            "conversation.started",
            "channel.connected",
            "channel.disconnected",
            "config.changed",
            "billing.state_changed",
            "legal_hold.set",
            "legal_hold.released",
            "erasure.requested",
            "customer.erased",
            "retention.purged",
            "tenant.deleted",
            "data.exported",
        ] {
            assert!(kind(action).is_some(), "{action}");
        }
    }

    #[test]
    fn checks_name_what_is_wrong() {
        assert!(check("user.sign_in", 1, "locked", ["method", "reason"]).is_ok());
        assert!(check("user.sign_in", 0, "refused", []).is_ok());
        assert!(matches!(
            check("user.sign_in", 2, "success", []),
            Err(SchemaError::FutureVersion { .. })
        ));
        assert!(matches!(
            check("user.sign_out", 1, "locked", []),
            Err(SchemaError::Outcome { .. })
        ));
        assert!(matches!(
            check("user.password_changed", 1, "success", ["password"]),
            Err(SchemaError::Detail { .. })
        ));
        assert!(matches!(
            check("user.teleported", 1, "success", []),
            Err(SchemaError::UnknownAction(_))
        ));
    }
}
