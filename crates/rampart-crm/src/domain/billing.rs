//! A tenant's billing state and the only moves it may make.
//!
//! The table follows how Stripe-like billing runs a subscription: a trial
//! converts (`active`), lapses unpaid (`past_due`) or is dropped
//! (`canceled`); a failed invoice makes an active tenant `past_due`; dunning
//! either recovers (`active`) or ends in `suspended`; a suspended tenant
//! pays (`active`) or leaves (`canceled`). `canceled` may only be
//! reactivated (`active`): the tenant's data is kept, so coming back is a
//! state change, not a new tenant.
//!
//! | from        | to                               |
//! |-------------|----------------------------------|
//! | `trial`     | `active`, `past_due`, `canceled` |
//! | `active`    | `past_due`, `canceled`           |
//! | `past_due`  | `active`, `suspended`, `canceled`|
//! | `suspended` | `active`, `canceled`             |
//! | `canceled`  | `active`                         |
//!
//! Asking for the current state is not a transition (see
//! [`BillingState::step_to`]): it changes and records nothing, so a repeated
//! call converges. `suspended` and `canceled` lock the tenant out
//! ([`BillingState::suspends_access`]); its data stays.

use std::fmt;

use super::InvalidInput;

/// Where a tenant stands with its subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillingState {
    /// Every new tenant starts here.
    Trial,
    Active,
    /// An invoice is unpaid; access continues while dunning runs.
    PastDue,
    /// Access refused until paid; data kept.
    Suspended,
    /// The subscription ended; access refused, data kept.
    Canceled,
}

/// What asking for `to` from the current state means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Already there: nothing to change or record.
    Stay,
    /// An allowed transition.
    Move,
    /// Not in the table.
    Refused,
}

impl BillingState {
    pub const ALL: [Self; 5] = [
        Self::Trial,
        Self::Active,
        Self::PastDue,
        Self::Suspended,
        Self::Canceled,
    ];

    /// Parses a state as clients and the database write it.
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| {
                InvalidInput::new(
                    "state",
                    "must be one of trial, active, past_due, suspended, canceled",
                )
            })
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trial => "trial",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Suspended => "suspended",
            Self::Canceled => "canceled",
        }
    }

    /// The states this one may move to (the module's table).
    #[must_use]
    pub fn successors(self) -> &'static [Self] {
        match self {
            Self::Trial => &[Self::Active, Self::PastDue, Self::Canceled],
            Self::Active => &[Self::PastDue, Self::Canceled],
            Self::PastDue => &[Self::Active, Self::Suspended, Self::Canceled],
            Self::Suspended => &[Self::Active, Self::Canceled],
            Self::Canceled => &[Self::Active],
        }
    }

    /// Whether moving to `to` is allowed, a no-op, or refused.
    #[must_use]
    pub fn step_to(self, to: Self) -> Step {
        if self == to {
            Step::Stay
        } else if self.successors().contains(&to) {
            Step::Move
        } else {
            Step::Refused
        }
    }

    /// Whether the tenant's credentials are refused in this state.
    #[must_use]
    pub fn suspends_access(self) -> bool {
        matches!(self, Self::Suspended | Self::Canceled)
    }
}

impl fmt::Display for BillingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a billing state moved: a short machine code (`payment_failed`,
/// `invoice.paid`), never free text, because it goes into the audit log and
/// free text invites personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingReason(String);

impl BillingReason {
    const MAX_LEN: usize = 64;

    /// `None` for an empty reason.
    pub fn parse(text: &str) -> Result<Option<Self>, InvalidInput> {
        if text.is_empty() {
            return Ok(None);
        }
        let well_formed = text.len() <= Self::MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !well_formed {
            return Err(InvalidInput::new(
                "reason",
                "must be a code of at most 64 letters, digits, '_', '-' or '.'",
            ));
        }
        Ok(Some(Self(text.to_owned())))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who asked for a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingSource {
    /// A platform admin, through the admin route.
    Admin,
    /// The billing provider's signed webhook: its event id and a
    /// fingerprint of the event's body.
    Webhook {
        event_id: EventId,
        fingerprint: String,
    },
}

impl BillingSource {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Webhook { .. } => "webhook",
        }
    }

    /// Parses the source fields of a transition request.
    pub fn parse(source: &str, event_id: &str, fingerprint: &str) -> Result<Self, InvalidInput> {
        match source {
            "admin" => Ok(Self::Admin),
            "webhook" => {
                let event_id = EventId::parse(event_id)?;
                let is_sha256_hex = fingerprint.len() == 64
                    && fingerprint
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if !is_sha256_hex {
                    return Err(InvalidInput::new(
                        "event_fingerprint",
                        "must be a lowercase hex SHA-256",
                    ));
                }
                Ok(Self::Webhook {
                    event_id,
                    fingerprint: fingerprint.to_owned(),
                })
            }
            _ => Err(InvalidInput::new("source", "must be admin or webhook")),
        }
    }
}

/// A billing provider's event id (`evt_...` at Stripe): printable ASCII
/// without spaces, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId(String);

impl EventId {
    const MAX_LEN: usize = 100;

    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let well_formed = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text.bytes().all(|b| b.is_ascii_graphic());
        if !well_formed {
            return Err(InvalidInput::new(
                "id",
                "must be 1 to 100 printable characters without spaces",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of states, against the table written out once more by
    /// hand: a change to one without the other fails here.
    #[test]
    fn every_pair_is_allowed_refused_or_a_no_op_as_documented() {
        let allowed = [
            ("trial", "active"),
            ("trial", "past_due"),
            ("trial", "canceled"),
            ("active", "past_due"),
            ("active", "canceled"),
            ("past_due", "active"),
            ("past_due", "suspended"),
            ("past_due", "canceled"),
            ("suspended", "active"),
            ("suspended", "canceled"),
            ("canceled", "active"),
        ];
        for from in BillingState::ALL {
            for to in BillingState::ALL {
                let expected = if from == to {
                    Step::Stay
                } else if allowed.contains(&(from.as_str(), to.as_str())) {
                    Step::Move
                } else {
                    Step::Refused
                };
                assert_eq!(from.step_to(to), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn states_round_trip_and_unknown_ones_name_the_field() {
        for state in BillingState::ALL {
            assert_eq!(BillingState::parse(state.as_str()).unwrap(), state);
        }
        for bad in ["", "Active", "paused", "past-due"] {
            assert_eq!(BillingState::parse(bad).unwrap_err().field(), "state");
        }
    }

    #[test]
    fn only_suspended_and_canceled_lock_the_tenant_out() {
        let locked: Vec<_> = BillingState::ALL
            .into_iter()
            .filter(|state| state.suspends_access())
            .collect();
        assert_eq!(locked, [BillingState::Suspended, BillingState::Canceled]);
    }

    #[test]
    fn reasons_are_short_codes() {
        assert_eq!(BillingReason::parse("").unwrap(), None);
        assert!(
            BillingReason::parse("invoice.payment_failed")
                .unwrap()
                .is_some()
        );
        for bad in ["card of Ann Smith", "a\nb", &"x".repeat(65)] {
            assert_eq!(BillingReason::parse(bad).unwrap_err().field(), "reason");
        }
    }

    #[test]
    fn a_webhook_source_needs_an_event_id_and_a_fingerprint() {
        let fingerprint = "ab".repeat(32);
        assert!(matches!(
            BillingSource::parse("webhook", "evt_1", &fingerprint),
            Ok(BillingSource::Webhook { .. })
        ));
        assert_eq!(
            BillingSource::parse("webhook", "", &fingerprint)
                .unwrap_err()
                .field(),
            "id"
        );
        assert_eq!(
            BillingSource::parse("webhook", "evt_1", "nothex")
                .unwrap_err()
                .field(),
            "event_fingerprint"
        );
        assert_eq!(
            BillingSource::parse("admin", "", "").unwrap(),
            BillingSource::Admin
        );
        assert_eq!(
            BillingSource::parse("cron", "", "").unwrap_err().field(),
            "source"
        );
    }
}
