//! Signed checkpoints: the audit service's statement "log L had S events
//! with root hash R at time T", signed with Ed25519 (ring).
//!
//! The signed bytes are a short text shaped like a C2SP tlog-checkpoint
//! (origin, size, base64 root hash) with one extension line for the time:
//!
//! ```text
//! rampart-audit:<log id>
//! <size>
//! <root hash, base64>
//! time <RFC 3339 UTC>
//! ```
//!
//! Each line ends with `\n`. The signing key is a PKCS#8 Ed25519 key in PEM
//! (what `openssl genpkey -algorithm ed25519` writes); the public key is
//! published as hex and as a PEM SubjectPublicKeyInfo, and identified by the
//! first 8 bytes of its SHA-256 (`key_id`).

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use serde::{Deserialize, Serialize};

use crate::merkle::Hash;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw
/// 32-byte key follows it.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The key checkpoints are signed with.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.public_key().key_id())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a PKCS#8 PEM ("BEGIN PRIVATE KEY") Ed25519 key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .context("the audit signing key is not a PKCS#8 PEM private key")?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
            .map_err(|e| anyhow::anyhow!("the audit signing key is not an Ed25519 key: {e}"))?;
        Ok(Self { pair })
    }

    /// A new key, as PKCS#8 PEM.
    pub fn generate_pem() -> anyhow::Result<String> {
        let rng = ring::rand::SystemRandom::new();
        let der = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| anyhow::anyhow!("cannot generate an Ed25519 key"))?;
        Ok(pem("PRIVATE KEY", der.as_ref()))
    }

    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(key)
    }

    /// Signs the statement that `log_id` had `size` events with `root`.
    #[must_use]
    pub fn sign(&self, log_id: &str, size: u64, root: &Hash, timestamp: String) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            log_id: log_id.to_owned(),
            size,
            root_hash: crate::hex(root),
            timestamp,
            key_id: self.public_key().key_id(),
            signature: String::new(),
        };
        let signature = self.sign_bytes(checkpoint.signed_text().as_bytes());
        checkpoint.signature = BASE64.encode(signature);
        checkpoint
    }

    /// The Ed25519 signature of `bytes`. Callers frame what they sign so
    /// that one kind of statement cannot pass for another.
    pub(crate) fn sign_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        self.pair.sign(bytes).as_ref().to_vec()
    }
}

/// An Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Hex of the first 8 bytes of the key's SHA-256.
    #[must_use]
    pub fn key_id(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.0);
        crate::hex(&digest.as_ref()[..8])
    }

    #[must_use]
    pub fn hex(&self) -> String {
        crate::hex(&self.0)
    }

    /// As a PEM SubjectPublicKeyInfo ("BEGIN PUBLIC KEY").
    #[must_use]
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem("PUBLIC KEY", &der)
    }

    /// Reads a key in any form the service publishes it: a PEM
    /// SubjectPublicKeyInfo, 64 hex digits, or the JSON document of
    /// `GET /v1/audit/public-key`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        if text.starts_with('{') {
            #[derive(Deserialize)]
            struct Published {
                algorithm: String,
                public_key: String,
            }
            let published: Published =
                serde_json::from_str(text).context("the public key JSON is not valid")?;
            if published.algorithm != "Ed25519" {
                bail!("the public key is not an Ed25519 key");
            }
            return Self::parse(&published.public_key);
        }
        if text.starts_with("-----BEGIN") {
            let der = SubjectPublicKeyInfoDer::from_pem_slice(text.as_bytes())
                .context("the public key is not a PEM public key")?;
            let raw = der
                .as_ref()
                .strip_prefix(&SPKI_PREFIX[..])
                .filter(|raw| raw.len() == 32)
                .context("the public key is not an Ed25519 key")?;
            let mut key = [0u8; 32];
            key.copy_from_slice(raw);
            return Ok(Self(key));
        }
        let bytes = rampart_kit::secret::unhex(text)
            .filter(|bytes| bytes.len() == 32)
            .context("the public key is neither PEM, JSON nor 64 hex digits")?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(Self(key))
    }
}

/// A signed checkpoint, as stored, served and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub log_id: String,
    pub size: u64,
    /// Hex SHA-256 root hash.
    pub root_hash: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
    pub key_id: String,
    /// Base64 Ed25519 signature over [`Checkpoint::signed_text`].
    pub signature: String,
}

/// Why a checkpoint's signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("it was signed by key {found}, not by the trusted key {expected}")]
    OtherKey { expected: String, found: String },
    #[error("its signature is not valid")]
    Invalid,
    #[error("its root hash is not 64 hex digits")]
    MalformedRoot,
}

impl Checkpoint {
    /// The exact bytes the signature covers.
    #[must_use]
    pub fn signed_text(&self) -> String {
        let root = self
            .root()
            .map_or_else(|| self.root_hash.clone(), |root| BASE64.encode(root));
        format!(
            "rampart-audit:{}\n{}\n{}\ntime {}\n",
            self.log_id, self.size, root, self.timestamp
        )
    }

    /// The root hash as bytes, if well formed.
    #[must_use]
    pub fn root(&self) -> Option<Hash> {
        rampart_kit::secret::unhex(&self.root_hash).and_then(|bytes| bytes.try_into().ok())
    }

    /// Checks the signature with `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<(), SignatureError> {
        if self.key_id != key.key_id() {
            return Err(SignatureError::OtherKey {
                expected: key.key_id(),
                found: self.key_id.clone(),
            });
        }
        if self.root().is_none() {
            return Err(SignatureError::MalformedRoot);
        }
        let signature = BASE64
            .decode(&self.signature)
            .map_err(|_| SignatureError::Invalid)?;
        UnparsedPublicKey::new(&ED25519, key.0)
            .verify(self.signed_text().as_bytes(), &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap()
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_breaks_it() {
        let key = key();
        let root = crate::merkle::leaf_hash(b"x");
        let checkpoint = key.sign("platform", 7, &root, "2025-01-02T03:04:05Z".to_owned());
        checkpoint.verify(&key.public_key()).unwrap();
        assert_eq!(
            checkpoint.signed_text(),
            format!(
                "rampart-audit:platform\n7\n{}\ntime 2025-01-02T03:04:05Z\n",
                BASE64.encode(root)
            )
        );

        let changes: Vec<fn(&mut Checkpoint)> = vec![
            |c| c.size += 1,
            |c| c.log_id = "ten_x".to_owned(),
            |c| c.root_hash = crate::hex(&[0; 32]),
            |c| c.timestamp = "2025-01-02T03:04:06Z".to_owned(),
            |c| c.signature = BASE64.encode([0u8; 64]),
            |c| c.signature = "not base64".to_owned(),
        ];
        for change in changes {
            let mut forged = checkpoint.clone();
            change(&mut forged);
            assert_eq!(
                forged.verify(&key.public_key()),
                Err(SignatureError::Invalid)
            );
        }
        let other = self::key();
        assert!(matches!(
            checkpoint.verify(&other.public_key()),
            Err(SignatureError::OtherKey { .. })
        ));
    }

    #[test]
    fn public_keys_read_back_in_every_published_form() {
        let public = key().public_key();
        assert_eq!(PublicKey::parse(&public.to_pem()).unwrap(), public);
        assert_eq!(PublicKey::parse(&public.hex()).unwrap(), public);
        let json = serde_json::json!({
            "algorithm": "Ed25519",
            "key_id": public.key_id(),
            "public_key": public.hex(),
        });
        assert_eq!(PublicKey::parse(&json.to_string()).unwrap(), public);
        assert!(PublicKey::parse("abcd").is_err());
        assert!(
            PublicKey::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err()
        );
    }

    #[test]
    fn keys_in_openssl_form_are_read() {
        // `openssl genpkey -algorithm ed25519` writes PKCS#8 v1: this prefix,
        // then the 32-byte seed. Built here from a fresh seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&rampart_kit::secret::random_bytes::<32>());
        let key = SigningKey::from_pem(&pem("PRIVATE KEY", &der)).unwrap();
        assert_eq!(key.public_key().key_id().len(), 16);
        assert!(SigningKey::from_pem("not a key").is_err());
    }
}
