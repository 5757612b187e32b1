//! What the accounts' operations take and answer: sign-in attempts and
//! their outcomes, sessions, users as shown, new users and changes.

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::ids::SessionId;
use rampart_kit::principal::Role;

use crate::sessions::Token;

/// Which door a sign-in came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Public,
    Admin,
}

/// A sign-in attempt as the gateway relays it.
#[derive(Debug)]
pub struct SignInAttempt<'a> {
    pub route: Route,
    pub tenant_id: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub client_address: &'a str,
    pub request_id: &'a str,
}

/// A new session's token and facts.
#[derive(Debug)]
pub struct SessionGrant {
    pub token: Token,
    pub session_id: SessionId,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
}

/// What a successful first step leads to.
#[derive(Debug)]
pub enum SignInOutcome {
    Session(SessionGrant),
    SecondFactor {
        challenge: Token,
        enrolment_required: bool,
        expires_at: DateTime<Utc>,
    },
}

/// A completed second step; `recovery_codes` when it also confirmed a new
/// enrolment.
#[derive(Debug)]
pub struct SecondFactorOutcome {
    pub session: SessionGrant,
    pub recovery_codes: Vec<String>,
}

/// A second-factor answer.
#[derive(Debug)]
pub enum SecondFactorProof<'a> {
    Code(&'a str),
    RecoveryCode(&'a str),
}

/// A verified session, as the gateway turns it into a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionVerdict {
    pub session_id: String,
    pub user_id: String,
    pub tenant_id: Option<String>,
    pub role: Role,
    /// The absolute end, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A user as shown to owners and admins.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    pub tenant_id: Option<String>,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub second_factor: bool,
    pub created_at: DateTime<Utc>,
}

/// A session as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: String,
}

/// A new user, as an owner or admin asked for it.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub tenant_id: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub role: &'a str,
    pub context_words: &'a [String],
}

/// A change to a user.
#[derive(Debug, Default)]
pub struct UserChange<'a> {
    pub role: &'a str,
    pub disabled: Option<bool>,
}

/// RFC 3339 with microseconds, as the other services write times.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}
