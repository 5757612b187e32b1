//! What the accounts' operations take and answer: sign-in attempts and
//! their outcomes, sessions, users as shown, new users and changes.
//!
//! Every secret a person types or holds travels here as one of
//! `rampart_kit::secret`'s types, whose `Debug` is redacted: these structs
//! derive `Debug` only because of that.

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::ids::{SessionId, UserId};
use rampart_kit::principal::Role;
use rampart_kit::secret::{
    OneTimeCode, Password, RecoveryCode, SecretString, SessionToken, TotpSecret,
};

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
    pub password: &'a Password,
    pub client_address: &'a str,
    pub request_id: &'a str,
}

/// A new session's token and facts.
#[derive(Debug)]
pub struct SessionGrant {
    pub token: SessionToken,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub expires_at: DateTime<Utc>,
}

/// What a successful first step leads to.
#[derive(Debug)]
pub enum SignInOutcome {
    Session(SessionGrant),
    SecondFactor {
        challenge: SessionToken,
        enrolment_required: bool,
        expires_at: DateTime<Utc>,
    },
}

/// A completed second step; `recovery_codes` when it also confirmed a new
/// enrolment.
#[derive(Debug)]
pub struct SecondFactorOutcome {
    pub session: SessionGrant,
    pub recovery_codes: Vec<RecoveryCode>,
}

/// A second-factor answer.
#[derive(Debug)]
pub enum SecondFactorProof<'a> {
    Code(&'a OneTimeCode),
    RecoveryCode(&'a RecoveryCode),
}

/// A new TOTP secret, shown once: the secret itself and the `otpauth://`
/// URI (which carries it) for a QR code.
#[derive(Debug)]
pub struct TotpEnrolment {
    pub secret: TotpSecret,
    pub provisioning_uri: SecretString,
}

/// A verified session, as the gateway turns it into a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionVerdict {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub tenant_id: Option<String>,
    pub role: Role,
    /// The absolute end, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A user as shown to owners and admins.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: UserId,
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
    pub id: SessionId,
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
    pub password: &'a Password,
    pub role: &'a str,
    pub context_words: &'a [String],
}

/// A change to a user.
#[derive(Debug, Default)]
pub struct UserChange<'a> {
    pub role: &'a str,
    pub disabled: Option<bool>,
}

/// A password change by the signed-in user.
#[derive(Debug)]
pub struct PasswordChange<'a> {
    pub current: &'a Password,
    pub new: &'a Password,
    pub context_words: &'a [String],
}

/// Whose sessions to end: the caller's own, or another user's (for an
/// owner of their tenant or a platform admin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Myself,
    User(UserId),
}

/// RFC 3339 with microseconds, as the other services write times.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}
