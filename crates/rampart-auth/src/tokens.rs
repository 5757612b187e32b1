//! Opaque bearer tokens for sessions and sign-in challenges.
//!
//! A token is 256 random bits in hex behind a short prefix (`rs_` for a
//! session, `rc_` for a challenge), so the gateway can refuse a malformed one
//! without asking anyone and a secret scanner can spot a leaked one. Only an
//! HMAC-SHA256 of the token under a key derived from the server secret is
//! stored: a copy of the table neither works as tokens nor lets anyone test
//! guesses offline. A fast keyed hash fits, as for API keys: 256 random bits
//! leave nothing for a slow hash to protect.

use rampart_kit::secret::{SessionToken, hex, random_bytes};
use ring::hmac;

/// The prefix of session tokens.
pub const SESSION_PREFIX: &str = "rs_";
/// The prefix of sign-in challenge tokens.
pub const CHALLENGE_PREFIX: &str = "rc_";
const BODY_HEX: usize = 64;

/// A fresh token behind `prefix`; the only place it exists in the clear.
#[must_use]
pub fn generate_token(prefix: &str) -> SessionToken {
    SessionToken::new(format!("{prefix}{}", hex(&random_bytes::<32>())))
}

/// Whether `text` has a token's shape: the prefix, then 64 lowercase hex.
#[must_use]
pub fn is_well_formed(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|body| {
        body.len() == BODY_HEX && body.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Hashes tokens and recovery codes under a key derived from the server
/// secret, one derived key per purpose.
#[derive(Clone)]
pub struct TokenHasher {
    key: hmac::Key,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHasher(..)")
    }
}

impl TokenHasher {
    /// A hasher for `purpose` (such as "session") under `secret`.
    #[must_use]
    pub fn derive(secret: &[u8], purpose: &str) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&root, format!("rampart auth {purpose}").as_bytes());
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    #[must_use]
    pub fn hash(&self, text: &str) -> String {
        hex(hmac::sign(&self.key, text.as_bytes()).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_well_formed() {
        let token = generate_token(SESSION_PREFIX);
        assert_eq!(token.expose().len(), SESSION_PREFIX.len() + 64);
        assert!(is_well_formed(token.expose(), SESSION_PREFIX));
        assert!(!is_well_formed(token.expose(), CHALLENGE_PREFIX));
        assert_ne!(token.expose(), generate_token(SESSION_PREFIX).expose());
        let upper = token.expose().to_uppercase().replacen("RS_", "rs_", 1);
        for bad in ["", "rs_", "rs_abc", upper.as_str()] {
            assert!(!is_well_formed(bad, SESSION_PREFIX), "{bad:?}");
        }
        assert!(!format!("{token:?}").contains(&token.expose()[3..]));
    }

    #[test]
    fn hashes_depend_on_secret_and_purpose() {
        let sessions = TokenHasher::derive(&[1; 32], "session");
        let again = TokenHasher::derive(&[1; 32], "session");
        let codes = TokenHasher::derive(&[1; 32], "recovery code");
        let other = TokenHasher::derive(&[2; 32], "session");
        assert_eq!(sessions.hash("x"), again.hash("x"));
        assert_ne!(sessions.hash("x"), codes.hash("x"));
        assert_ne!(sessions.hash("x"), other.hash("x"));
        assert_eq!(sessions.hash("x").len(), 64);
    }
}
