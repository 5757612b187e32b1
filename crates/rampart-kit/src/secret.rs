//! Secrets as types.
//!
//! [`SecretString`] (from the `secrecy` crate) has no `Display`, a redacted
//! `Debug` and no `Serialize`, and wipes its memory on drop: a secret held in
//! one cannot end up in a log line or a response by accident. Reading it takes
//! an explicit `expose_secret()`, which is easy to find in review.

pub use secrecy::{ExposeSecret, SecretBox, SecretString};

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

/// Fills `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// When the operating system cannot provide randomness, which leaves no safe
/// way to go on.
#[must_use]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source failed");
    bytes
}

/// Encodes bytes as lowercase hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes lowercase or uppercase hex; `None` for anything else.
#[must_use]
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Declares a secret that people type or carry: a newtype over
/// [`SecretString`] that deserialises from a JSON string (so request bodies
/// can hold it), has a redacted `Debug`, and has neither `Display` nor
/// `Serialize`. Reading it takes `expose()`, as with `expose_secret()`.
macro_rules! typed_secret {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            #[must_use]
            pub fn new(text: impl Into<String>) -> Self {
                Self(SecretString::from(text.into()))
            }

            /// The secret itself; every call is a place to review.
            #[must_use]
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self::new(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self::new(text)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

typed_secret!(
    /// A password, as a person types it.
    Password
);
typed_secret!(
    /// A one-time code from an authenticator app (TOTP).
    OneTimeCode
);
typed_secret!(
    /// A single-use recovery code, kept by a person for when their
    /// authenticator is lost.
    RecoveryCode
);
typed_secret!(
    /// A TOTP shared secret (base32), shown once at enrolment.
    TotpSecret
);
typed_secret!(
    /// An opaque session token (`rs_...`) or a sign-in challenge token.
    SessionToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(hex(&bytes), "00017f80ff");
        assert_eq!(unhex("00017f80ff").unwrap(), bytes);
        assert_eq!(unhex("00017F80FF").unwrap(), bytes);
    }

    #[test]
    fn unhex_rejects_bad_input() {
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(random_bytes::<32>(), random_bytes::<32>());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = SecretString::from("hunter2-hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn typed_secrets_are_redacted_and_read_from_json() {
        let password: Password = serde_json::from_str("\"correct horse battery\"").unwrap();
        assert_eq!(password.expose(), "correct horse battery");
        assert_eq!(format!("{password:?}"), "Password([redacted])");
        let code = OneTimeCode::from("123456");
        assert!(!format!("{code:?}").contains("123456"));
        let token = SessionToken::new("rs_abc");
        assert!(!format!("{:?}", Some(token)).contains("rs_abc"));
    }
}
