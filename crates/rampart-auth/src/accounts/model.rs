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

#[cfg(test)]
mod tests {
    use super::*;

    /// Values no redacted form would contain, one per kind of secret.
    const PASSWORD: &str = "PASSWORD-correct-horse-battery";
    const NEW_PASSWORD: &str = "NEWPASSWORD-staple-orbit-lantern";
    const CODE: &str = "493817";
    const RECOVERY: &str = "rcvry-abcde";
    const TOKEN: &str = "rs_0123456789abcdef0123456789abcdef";
    const CHALLENGE: &str = "rc_fedcba9876543210fedcba9876543210";
    const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DP";

    fn assert_redacted(what: &str, printed: &str) {
        for secret in [
            PASSWORD,
            NEW_PASSWORD,
            CODE,
            RECOVERY,
            TOKEN,
            CHALLENGE,
            TOTP_SECRET,
        ] {
            assert!(
                !printed.contains(secret),
                "{what} shows a secret in Debug: {printed}"
            );
        }
    }

    fn grant() -> SessionGrant {
        SessionGrant {
            token: SessionToken::from(TOKEN),
            session_id: SessionId::generate(),
            user_id: UserId::generate(),
            expires_at: Utc::now(),
        }
    }

    #[test]
    fn no_request_or_answer_shows_a_secret() {
        let password = Password::from(PASSWORD);
        let new_password = Password::from(NEW_PASSWORD);
        let code = OneTimeCode::from(CODE);
        let recovery = RecoveryCode::from(RECOVERY);
        let context_words = ["acme".to_owned()];

        let attempt = SignInAttempt {
            route: Route::Public,
            tenant_id: "ten_1",
            email: "jane@acme.example",
            password: &password,
            client_address: "192.0.2.1",
            request_id: "req-1",
        };
        assert_redacted("SignInAttempt", &format!("{attempt:?}"));
        assert_redacted(
            "SecondFactorProof::Code",
            &format!("{:?}", SecondFactorProof::Code(&code)),
        );
        assert_redacted(
            "SecondFactorProof::RecoveryCode",
            &format!("{:?}", SecondFactorProof::RecoveryCode(&recovery)),
        );
        let new_user = NewUser {
            tenant_id: "ten_1",
            email: "jane@acme.example",
            password: &password,
            role: "agent",
            context_words: &context_words,
        };
        assert_redacted("NewUser", &format!("{new_user:?}"));
        let change = PasswordChange {
            current: &password,
            new: &new_password,
            context_words: &context_words,
        };
        assert_redacted("PasswordChange", &format!("{change:?}"));
        assert_redacted("SessionGrant", &format!("{:?}", grant()));
        assert_redacted(
            "SignInOutcome::Session",
            &format!("{:?}", SignInOutcome::Session(grant())),
        );
        let challenge = SignInOutcome::SecondFactor {
            challenge: SessionToken::from(CHALLENGE),
            enrolment_required: true,
            expires_at: Utc::now(),
        };
        assert_redacted("SignInOutcome::SecondFactor", &format!("{challenge:?}"));
        let completed = SecondFactorOutcome {
            session: grant(),
            recovery_codes: vec![RecoveryCode::from(RECOVERY)],
        };
        assert_redacted("SecondFactorOutcome", &format!("{completed:?}"));
        let enrolment = TotpEnrolment {
            secret: TotpSecret::from(TOTP_SECRET),
            provisioning_uri: SecretString::from(format!(
                "otpauth://totp/Rampart:jane?secret={TOTP_SECRET}"
            )),
        };
        assert_redacted("TotpEnrolment", &format!("{enrolment:?}"));
    }

    /// The check above must be able to fail: the same values in plain
    /// strings are found.
    #[test]
    fn the_redaction_check_finds_plain_secrets() {
        let plain = format!("{:?}", (PASSWORD, TOKEN));
        assert!(plain.contains(PASSWORD) && plain.contains(TOKEN));
        let caught = std::panic::catch_unwind(|| assert_redacted("plain", &plain));
        assert!(caught.is_err());
    }
}
