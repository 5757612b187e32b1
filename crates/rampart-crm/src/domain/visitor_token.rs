//! The secret a widget visitor's browser holds for its conversation.
//!
//! A widget key is public (it sits in the tenant's web page), so it cannot
//! tell one visitor from another. When a widget starts a conversation the
//! CRM hands out a random token, shown once; further messages must present
//! it. Only its SHA-256 is stored: the token is 32 random bytes, so a fast
//! unkeyed hash is enough (there is nothing to guess), and a database leak
//! does not let anyone post as the visitor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_kit::secret::{ExposeSecret, SecretString, hex, random_bytes};
use subtle::ConstantTimeEq;

/// A freshly made token, to show the visitor once.
pub struct VisitorToken(SecretString);

impl VisitorToken {
    #[must_use]
    pub fn generate() -> Self {
        Self(SecretString::from(
            URL_SAFE_NO_PAD.encode(random_bytes::<32>()),
        ))
    }

    /// The token as the visitor receives it.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// What is stored in its place.
    #[must_use]
    pub fn hash(&self) -> VisitorTokenHash {
        VisitorTokenHash::of(self.expose())
    }
}

impl std::fmt::Debug for VisitorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitorToken([redacted])")
    }
}

/// The stored form of a visitor token: SHA-256, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorTokenHash(String);

impl VisitorTokenHash {
    /// The hash of whatever a caller presents, token-shaped or not.
    #[must_use]
    pub fn of(presented: &str) -> Self {
        Self(hex(ring::digest::digest(
            &ring::digest::SHA256,
            presented.as_bytes(),
        )
        .as_ref()))
    }

    /// A hash read back from the database.
    #[must_use]
    pub fn stored(hex: String) -> Self {
        Self(hex)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so the time an answer takes does not tell
    /// how much of a guess was right.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_its_hash_and_nothing_else() {
        let token = VisitorToken::generate();
        assert_eq!(token.expose().len(), 43);
        let stored = VisitorTokenHash::stored(token.hash().as_str().to_owned());
        assert!(stored.matches(&VisitorTokenHash::of(token.expose())));
        assert!(!stored.matches(&VisitorTokenHash::of("")));
        let other = VisitorToken::generate();
        assert_ne!(token.expose(), other.expose());
        assert!(!stored.matches(&other.hash()));
        assert_eq!(format!("{token:?}"), "VisitorToken([redacted])");
    }
}
