//! `Debug` for the messages that carry a secret (a password, a one-time or
//! recovery code, a session or challenge token, a TOTP secret, an API key).
//! The build skips prost's derived `Debug` for exactly these (`build.rs`'s
//! `SECRET_MESSAGES`); here every other field prints as usual and each
//! secret as `[redacted]`, or as a count for a list of them. A request or an
//! answer that reaches a log line or a panic message shows no secret.

use std::fmt;

use crate::auth::v1::{
    ChangePasswordRequest, CompleteSecondFactorRequest, ConfirmTotpRequest, ConfirmTotpResponse,
    CreateUserRequest, EnrolForChallengeRequest, IssueApiKeyResponse, SecondFactorChallenge,
    SessionGrant, SignInRequest, SignInResponse, TotpEnrolment, VerifyApiKeyRequest,
    VerifySessionRequest,
};
use crate::crm::v1::{BeginConnectResponse, CompleteConnectRequest, CreateChannelRequest};

/// A secret's place in a message: whether it was set, never its value.
struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "[redacted]"
        })
    }
}

/// A list of secrets: how many, never which.
struct RedactedList<'a>(&'a [String]);

impl fmt::Debug for RedactedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} redacted]", self.0.len())
    }
}

/// `Debug` for `$message`: the plain fields as they are, the secrets
/// redacted, the secret lists counted.
macro_rules! redacted_debug {
    ($message:ident { plain: [$($plain:ident),*], secret: [$($secret:ident),*], lists: [$($list:ident),*] }) => {
        impl fmt::Debug for $message {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($message))
                    $(.field(stringify!($plain), &self.$plain))*
                    $(.field(stringify!($secret), &Redacted(&self.$secret)))*
                    $(.field(stringify!($list), &RedactedList(&self.$list)))*
                    .finish()
            }
        }
    };
}

redacted_debug!(SignInRequest {
    plain: [route, tenant_id, email, client_address],
    secret: [password],
    lists: []
});
redacted_debug!(SignInResponse {
    plain: [session, challenge],
    secret: [],
    lists: [recovery_codes]
});
redacted_debug!(SessionGrant {
    plain: [session_id, user_id, expires_at],
    secret: [token],
    lists: []
});
redacted_debug!(SecondFactorChallenge {
    plain: [enrolment_required, expires_at],
    secret: [challenge],
    lists: []
});
redacted_debug!(CompleteSecondFactorRequest {
    plain: [client_address],
    secret: [challenge, code, recovery_code],
    lists: []
});
redacted_debug!(EnrolForChallengeRequest {
    plain: [],
    secret: [challenge],
    lists: []
});
redacted_debug!(TotpEnrolment {
    plain: [],
    secret: [secret, provisioning_uri],
    lists: []
});
redacted_debug!(VerifySessionRequest {
    plain: [client_address],
    secret: [token],
    lists: []
});
redacted_debug!(ChangePasswordRequest {
    plain: [context_words],
    secret: [current_password, new_password],
    lists: []
});
redacted_debug!(ConfirmTotpRequest {
    plain: [],
    secret: [code],
    lists: []
});
redacted_debug!(ConfirmTotpResponse {
    plain: [],
    secret: [],
    lists: [recovery_codes]
});
redacted_debug!(CreateUserRequest {
    plain: [tenant_id, email, role, context_words],
    secret: [password],
    lists: []
});
redacted_debug!(VerifyApiKeyRequest {
    plain: [],
    secret: [api_key],
    lists: []
});
redacted_debug!(IssueApiKeyResponse {
    plain: [key_id, display_prefix, key],
    secret: [api_key],
    lists: []
});
redacted_debug!(CreateChannelRequest {
    plain: [kind, display_name, phone_number],
    secret: [credentials],
    lists: []
});
// The URL carries the state that completes the connection.
redacted_debug!(BeginConnectResponse {
    plain: [],
    secret: [authorization_url],
    lists: []
});
redacted_debug!(CompleteConnectRequest {
    plain: [],
    secret: [code, state],
    lists: []
});

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "SECRET-zq81-value";

    fn secret() -> String {
        SECRET.to_owned()
    }

    fn shows_no_secret(what: &str, debug: String) {
        assert!(!debug.contains(SECRET), "{what} shows its secret: {debug}");
        assert!(debug.contains("redacted"), "{what}: {debug}");
    }

    #[test]
    fn no_message_that_carries_a_secret_shows_it() {
        let grant = SessionGrant {
            token: secret(),
            session_id: "ses_1".into(),
            ..Default::default()
        };
        let challenge = SecondFactorChallenge {
            challenge: secret(),
            ..Default::default()
        };
        let cases: Vec<(&str, String)> = vec![
            (
                "SignInRequest",
                format!(
                    "{:?}",
                    SignInRequest {
                        password: secret(),
                        email: "a@b.example".into(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "SignInResponse",
                format!(
                    "{:?}",
                    SignInResponse {
                        session: Some(grant.clone()),
                        challenge: Some(challenge.clone()),
                        recovery_codes: vec![secret(), secret()]
                    }
                ),
            ),
            ("SessionGrant", format!("{grant:?}")),
            ("SecondFactorChallenge", format!("{challenge:?}")),
            (
                "CompleteSecondFactorRequest",
                format!(
                    "{:?}",
                    CompleteSecondFactorRequest {
                        challenge: secret(),
                        code: secret(),
                        recovery_code: secret(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "EnrolForChallengeRequest",
                format!(
                    "{:?}",
                    EnrolForChallengeRequest {
                        challenge: secret()
                    }
                ),
            ),
            (
                "TotpEnrolment",
                format!(
                    "{:?}",
                    TotpEnrolment {
                        secret: secret(),
                        provisioning_uri: format!("otpauth://totp/x?secret={SECRET}")
                    }
                ),
            ),
            (
                "VerifySessionRequest",
                format!(
                    "{:?}",
                    VerifySessionRequest {
                        token: secret(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "ChangePasswordRequest",
                format!(
                    "{:?}",
                    ChangePasswordRequest {
                        current_password: secret(),
                        new_password: secret(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "ConfirmTotpRequest",
                format!("{:?}", ConfirmTotpRequest { code: secret() }),
            ),
            (
                "ConfirmTotpResponse",
                format!(
                    "{:?}",
                    ConfirmTotpResponse {
                        recovery_codes: vec![secret()]
                    }
                ),
            ),
            (
                "CreateUserRequest",
                format!(
                    "{:?}",
                    CreateUserRequest {
                        password: secret(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "VerifyApiKeyRequest",
                format!("{:?}", VerifyApiKeyRequest { api_key: secret() }),
            ),
            (
                "IssueApiKeyResponse",
                format!(
                    "{:?}",
                    IssueApiKeyResponse {
                        api_key: secret(),
                        key_id: "key_1".into(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "CreateChannelRequest",
                format!(
                    "{:?}",
                    CreateChannelRequest {
                        kind: "sms".into(),
                        display_name: "Front desk".into(),
                        credentials: format!("{{\"auth_token\": \"{SECRET}\"}}"),
                        ..Default::default()
                    }
                ),
            ),
            (
                "BeginConnectResponse",
                format!(
                    "{:?}",
                    BeginConnectResponse {
                        authorization_url: format!("https://accounts.example/auth?state={SECRET}"),
                    }
                ),
            ),
            (
                "CompleteConnectRequest",
                format!(
                    "{:?}",
                    CompleteConnectRequest {
                        code: SECRET.into(),
                        state: SECRET.into(),
                    }
                ),
            ),
        ];
        assert_eq!(
            cases.len(),
            17,
            "one case per message in build.rs's SECRET_MESSAGES"
        );
        for (what, debug) in cases {
            shows_no_secret(what, debug);
        }
    }

    #[test]
    fn the_plain_fields_still_show() {
        let request = SignInRequest {
            email: "owner@acme.example".into(),
            password: secret(),
            ..Default::default()
        };
        let debug = format!("{request:?}");
        assert!(debug.contains("owner@acme.example"), "{debug}");
        assert!(
            format!(
                "{:?}",
                ConfirmTotpResponse {
                    recovery_codes: vec![secret(), secret()]
                }
            )
            .contains("[2 redacted]")
        );
    }

    #[test]
    fn an_empty_secret_reads_as_unset() {
        let debug = format!(
            "{:?}",
            CompleteSecondFactorRequest {
                code: "123456".into(),
                ..Default::default()
            }
        );
        assert!(debug.contains("recovery_code: \"\""), "{debug}");
        assert!(!debug.contains("123456"), "{debug}");
    }
}
