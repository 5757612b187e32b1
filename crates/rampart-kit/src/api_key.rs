//! API key format and hashing.
//!
//! A key reads `rk_<kind>_<43 base62 characters><6 checksum characters>`:
//! `rk_live_`, `rk_test_`, `rk_admin_` or `rk_pub_` (a public widget key), then 256 bits of randomness, then a
//! checksum over everything before it. The prefix lets secret scanners
//! recognise a leaked key; the checksum lets the gateway refuse a mistyped or
//! made-up key without asking anyone.
//!
//! [`PlaintextApiKey`] and [`HashedApiKey`] are different types, so a
//! plaintext key cannot be stored by mistake. Keys are hashed with
//! HMAC-SHA256 under a server secret, not with Argon2: a key carries 256 bits
//! of randomness, so a slow hash adds nothing against guessing, while it
//! would cost milliseconds on every request. The server secret means a stolen
//! table of hashes cannot even be checked against candidate keys.

use ring::{digest, hmac};
use subtle::ConstantTimeEq;

use crate::secret::{ExposeSecret, SecretString};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 characters carry 256 bits (62^43 > 2^256).
const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;

/// What a key grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A tenant's production key.
    Live,
    /// A tenant's key for testing integrations.
    Test,
    /// A platform admin key.
    Admin,
    /// A tenant's public widget key: it sits in a web page, may only start
    /// conversations, and only from the tenant's allowed origins.
    Widget,
}

impl KeyKind {
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Live => "rk_live_",
            Self::Test => "rk_test_",
            Self::Admin => "rk_admin_",
            Self::Widget => "rk_pub_",
        }
    }
}

/// A key that is not of Rampart's shape: wrong prefix, length, characters or
/// checksum. Deliberately says no more than that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed API key")]
pub struct MalformedKey;

/// A well-formed key as a client presented it or as it was just generated.
/// Never stored, never logged.
pub struct PlaintextApiKey {
    kind: KeyKind,
    text: SecretString,
}

impl std::fmt::Debug for PlaintextApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlaintextApiKey({}...)", self.display_prefix())
    }
}

impl PlaintextApiKey {
    /// A new random key.
    #[must_use]
    pub fn generate(kind: KeyKind) -> Self {
        let mut body = String::with_capacity(BODY_LEN);
        // Rejection sampling keeps every character uniform: bytes at or above
        // 248 (= 4 * 62) would favour the first characters and are skipped.
        while body.len() < BODY_LEN {
            for byte in crate::secret::random_bytes::<64>() {
                if byte < 248 && body.len() < BODY_LEN {
                    body.push(char::from(ALPHABET[usize::from(byte % 62)]));
                }
            }
        }
        let mut text = format!("{}{body}", kind.prefix());
        let checksum = checksum(&text);
        text.push_str(&checksum);
        Self {
            kind,
            text: SecretString::from(text),
        }
    }

    /// Checks a presented key's shape and checksum; no lookup is involved.
    pub fn parse(text: &str) -> Result<Self, MalformedKey> {
        let kind = [
            KeyKind::Live,
            KeyKind::Test,
            KeyKind::Admin,
            KeyKind::Widget,
        ]
        .into_iter()
        .find(|kind| text.starts_with(kind.prefix()))
        .ok_or(MalformedKey)?;
        let rest = &text[kind.prefix().len()..];
        if rest.len() != BODY_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(MalformedKey);
        }
        let (signed, sum) = text.split_at(text.len() - CHECKSUM_LEN);
        if checksum(signed) != sum {
            return Err(MalformedKey);
        }
        Ok(Self {
            kind,
            text: SecretString::from(text.to_owned()),
        })
    }

    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The prefix and first characters, enough for a person to tell keys
    /// apart in a list, far too few to guess the rest.
    #[must_use]
    pub fn display_prefix(&self) -> String {
        let text = self.text.expose_secret();
        text[..self.kind.prefix().len() + 6].to_owned()
    }

    /// The full key, for showing once at creation.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.text.expose_secret()
    }
}

/// A key's HMAC-SHA256 under the server's key-hashing secret: what is stored
/// and looked up.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HashedApiKey([u8; 32]);

impl std::fmt::Debug for HashedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashedApiKey(..)")
    }
}

impl HashedApiKey {
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash as stored, in hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        crate::secret::hex(&self.0)
    }

    /// Compares in constant time.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

/// Hashes keys under one secret.
#[derive(Clone)]
pub struct KeyHasher(hmac::Key);

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(..)")
    }
}

impl KeyHasher {
    /// A hasher keyed by `secret` (at least 32 bytes).
    pub fn new(secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= 32,
            "the key-hashing secret must be at least 32 bytes"
        );
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// A hasher with a fresh random secret, for caches that live as long as
    /// the process.
    #[must_use]
    pub fn ephemeral() -> Self {
        Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            &crate::secret::random_bytes::<32>(),
        ))
    }

    #[must_use]
    pub fn hash(&self, key: &PlaintextApiKey) -> HashedApiKey {
        self.hash_str(key.expose())
    }

    fn hash_str(&self, text: &str) -> HashedApiKey {
        let tag = hmac::sign(&self.0, text.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        HashedApiKey(out)
    }
}

fn checksum(text: &str) -> String {
    let digest = digest::digest(&digest::SHA256, text.as_bytes());
    digest.as_ref()[..CHECKSUM_LEN]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % 62]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back() {
        for kind in [KeyKind::Live, KeyKind::Test, KeyKind::Admin] {
            let key = PlaintextApiKey::generate(kind);
            assert!(key.expose().starts_with(kind.prefix()));
            assert_eq!(
                key.expose().len(),
                kind.prefix().len() + BODY_LEN + CHECKSUM_LEN
            );
            let parsed = PlaintextApiKey::parse(key.expose()).unwrap();
            assert_eq!(parsed.kind(), kind);
        }
    }

    #[test]
    fn keys_are_unique() {
        let a = PlaintextApiKey::generate(KeyKind::Live);
        let b = PlaintextApiKey::generate(KeyKind::Live);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn any_single_character_change_is_caught() {
        let key = PlaintextApiKey::generate(KeyKind::Live);
        let text = key.expose().to_owned();
        let start = KeyKind::Live.prefix().len();
        let mut undetected = 0;
        for i in start..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            if PlaintextApiKey::parse(std::str::from_utf8(&bytes).unwrap()).is_ok() {
                undetected += 1;
            }
        }
        // A 6-character base62 checksum misses a random change with
        // probability about 62^-6; one miss in 49 tries would be a bug.
        assert_eq!(undetected, 0);
    }

    #[test]
    fn wrong_shapes_are_malformed() {
        let key = PlaintextApiKey::generate(KeyKind::Test);
        let text = key.expose();
        for bad in [
            String::new(),
            "rk_live_".to_owned(),
            text.replace("rk_test_", "rk_prod_"),
            text[..text.len() - 1].to_owned(),
            format!("{text}x"),
            format!("{}-{}", &text[..20], &text[21..]),
            format!(" {text}"),
        ] {
            assert_eq!(
                PlaintextApiKey::parse(&bad).unwrap_err(),
                MalformedKey,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hashes_depend_on_the_secret() {
        let key = PlaintextApiKey::generate(KeyKind::Live);
        let a = KeyHasher::new(&[1; 32]).unwrap();
        let b = KeyHasher::new(&[2; 32]).unwrap();
        assert!(a.hash(&key).matches(&a.hash(&key)));
        assert!(!a.hash(&key).matches(&b.hash(&key)));
        assert!(KeyHasher::new(&[1; 16]).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = PlaintextApiKey::generate(KeyKind::Live);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.expose()[20..]));
    }
}
