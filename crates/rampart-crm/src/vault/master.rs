//! The top of the key hierarchy: the master key that wraps each tenant's key.
//!
//! [`MasterKey`] is the seam a cloud KMS plugs into; [`LocalMasterKeys`] is
//! the implementation for keys from configuration. Master keys are versioned
//! so they can be rotated online: new wraps use the current (highest)
//! version, and older versions stay in the keyring only until
//! [`super::Vault::rotate_master`] has re-wrapped every tenant key.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroize;

use super::VaultError;

/// Length of every symmetric key in the hierarchy (AES-256).
pub const KEY_LEN: usize = 32;

/// Secret key bytes, zeroed when dropped and never printed.
///
/// ring builds its own key schedule from these bytes for each operation;
/// that copy is ring's to manage, ours is wiped here.
pub struct KeyMaterial(Vec<u8>);

impl KeyMaterial {
    /// Takes ownership of `bytes` (which are zeroed with this value).
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// A fresh random key of [`KEY_LEN`] bytes.
    pub fn generate() -> Result<Self, VaultError> {
        let mut bytes = vec![0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| VaultError::Random)?;
        Ok(Self(bytes))
    }

    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(..)")
    }
}

/// Wraps and unwraps tenant keys: the configured master key, or a cloud KMS.
///
/// `context` is bound to the wrap (AES-GCM associated data, or the KMS's
/// encryption context), so a wrapped key copied to another tenant's row
/// does not unwrap.
#[tonic::async_trait]
pub trait MasterKey: Send + Sync + std::fmt::Debug + 'static {
    /// The version new wraps are made under.
    fn current_version(&self) -> u32;
    /// Wraps `key` under the current version; answers that version.
    async fn wrap(&self, context: &[u8], key: &[u8]) -> Result<(u32, Vec<u8>), VaultError>;
    /// Unwraps a key wrapped under `version` with the same `context`.
    async fn unwrap(
        &self,
        version: u32,
        context: &[u8],
        wrapped: &[u8],
    ) -> Result<KeyMaterial, VaultError>;
}

/// Master keys from configuration: versioned 32-byte keys, newest current
/// (AES-256-GCM key wrapping through ring).
///
/// The text form is `v2:<base64>,v1:<base64>` (any order), or one bare
/// base64 key, which is version 1. Keeping the old version beside the new
/// one is what lets a rotation re-wrap online; once it has run, the old
/// version can be removed.
pub struct LocalMasterKeys {
    keys: BTreeMap<u32, KeyMaterial>,
}

impl LocalMasterKeys {
    /// Parses the keyring's text form (see the type's documentation).
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(VaultError::BadMasterKey("the master key is empty".into()));
        }
        let mut keys = BTreeMap::new();
        if !text.contains(':') {
            keys.insert(1, decode_key(text)?);
            return Ok(Self { keys });
        }
        for entry in text.split(',') {
            let (version, key) = entry.trim().split_once(':').ok_or_else(|| {
                VaultError::BadMasterKey("each entry must read v<version>:<base64>".into())
            })?;
            let version = version
                .strip_prefix('v')
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    VaultError::BadMasterKey("a version must read v1, v2, ... (from 1)".into())
                })?;
            if keys.insert(version, decode_key(key)?).is_some() {
                return Err(VaultError::BadMasterKey(format!(
                    "version v{version} appears twice"
                )));
            }
        }
        Ok(Self { keys })
    }

    /// A new keyring's text form: one random version-1 key, for `rampart
    /// dev` to write into its data folder.
    pub fn generate() -> Result<String, VaultError> {
        let key = KeyMaterial::generate()?;
        Ok(format!("v1:{}", STANDARD.encode(key.expose())))
    }

    /// The versions this keyring holds, oldest first.
    #[must_use]
    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    fn key(&self, version: u32) -> Result<&KeyMaterial, VaultError> {
        self.keys
            .get(&version)
            .ok_or(VaultError::UnknownMasterVersion(version))
    }
}

fn decode_key(text: &str) -> Result<KeyMaterial, VaultError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| VaultError::BadMasterKey("a master key must be base64".into()))?;
    let key = KeyMaterial::new(bytes);
    if key.expose().len() != KEY_LEN {
        return Err(VaultError::BadMasterKey(format!(
            "a master key must be {KEY_LEN} bytes"
        )));
    }
    Ok(key)
}

/// Shows the versions only.
impl fmt::Debug for LocalMasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalMasterKeys")
            .field("versions", &self.versions())
            .finish()
    }
}

#[tonic::async_trait]
impl MasterKey for LocalMasterKeys {
    fn current_version(&self) -> u32 {
        // `parse` never builds an empty keyring.
        self.keys.keys().next_back().copied().unwrap_or(1)
    }

    async fn wrap(&self, context: &[u8], key: &[u8]) -> Result<(u32, Vec<u8>), VaultError> {
        let version = self.current_version();
        let aad = wrap_aad(version, context);
        Ok((version, seal_raw(self.key(version)?, &aad, key)?))
    }

    async fn unwrap(
        &self,
        version: u32,
        context: &[u8],
        wrapped: &[u8],
    ) -> Result<KeyMaterial, VaultError> {
        let aad = wrap_aad(version, context);
        open_raw(self.key(version)?, &aad, wrapped).map(KeyMaterial::new)
    }
}

/// The version is bound too, so a wrap cannot be relabelled.
fn wrap_aad(version: u32, context: &[u8]) -> Vec<u8> {
    let mut aad = version.to_be_bytes().to_vec();
    aad.extend_from_slice(context);
    aad
}

/// AES-256-GCM: `nonce || ciphertext || tag`, under a random 96-bit nonce.
pub(super) fn seal_raw(
    key: &KeyMaterial,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.extend_from_slice(&[0u8; NONCE_LEN]);
    seal_into(key, aad, plaintext, &mut out)?;
    Ok(out)
}

/// Appends `nonce || ciphertext || tag` to `out`, writing the nonce over
/// the `NONCE_LEN` bytes that must already end `out`.
pub(super) fn seal_into(
    key: &KeyMaterial,
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), VaultError> {
    let nonce_at = out.len() - NONCE_LEN;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| VaultError::Random)?;
    out[nonce_at..].copy_from_slice(&nonce);
    let body_at = out.len();
    out.extend_from_slice(plaintext);
    let mut body = out.split_off(body_at);
    aead_key(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| VaultError::Crypto)?;
    out.extend_from_slice(&body);
    body.zeroize();
    Ok(())
}

/// Opens what [`seal_raw`] made; any change to key, data or bytes fails.
pub(super) fn open_raw(
    key: &KeyMaterial,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, VaultError> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(VaultError::Malformed);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Malformed)?;
    let mut body = body.to_vec();
    let length = aead_key(key)?
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .map_err(|_| VaultError::Crypto)?
        .len();
    body.truncate(length);
    Ok(body)
}

fn aead_key(key: &KeyMaterial) -> Result<LessSafeKey, VaultError> {
    UnboundKey::new(&AES_256_GCM, key.expose())
        .map(LessSafeKey::new)
        .map_err(|_| VaultError::Crypto)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_text() -> String {
        STANDARD.encode([7u8; KEY_LEN])
    }

    #[test]
    fn a_bare_key_is_version_one() {
        let keys = LocalMasterKeys::parse(&key_text()).unwrap();
        assert_eq!(keys.versions(), vec![1]);
        assert_eq!(keys.current_version(), 1);
    }

    #[test]
    fn the_highest_version_is_current() {
        let other = STANDARD.encode([8u8; KEY_LEN]);
        let keys = LocalMasterKeys::parse(&format!("v1:{},v3:{other}", key_text())).unwrap();
        assert_eq!(keys.versions(), vec![1, 3]);
        assert_eq!(keys.current_version(), 3);
    }

    #[test]
    fn bad_keyrings_are_refused() {
        for text in [
            "",
            "not base64!",
            &STANDARD.encode([1u8; 16]),
            &format!("v0:{}", key_text()),
            &format!("x1:{}", key_text()),
            &format!("v1:{},v1:{}", key_text(), key_text()),
        ] {
            assert!(LocalMasterKeys::parse(text).is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn debug_shows_no_key() {
        let keys = LocalMasterKeys::parse(&key_text()).unwrap();
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&key_text()));
        assert!(shown.contains("versions"));
    }

    #[test]
    fn generated_keyrings_parse() {
        let text = LocalMasterKeys::generate().unwrap();
        assert_eq!(LocalMasterKeys::parse(&text).unwrap().versions(), vec![1]);
        assert_ne!(text, LocalMasterKeys::generate().unwrap());
    }

    #[tokio::test]
    async fn wraps_open_only_with_their_context_and_version() {
        let other = STANDARD.encode([8u8; KEY_LEN]);
        let keys = LocalMasterKeys::parse(&format!("v1:{},v2:{other}", key_text())).unwrap();
        let (version, wrapped) = keys.wrap(b"tenant a", &[5u8; 32]).await.unwrap();
        assert_eq!(version, 2);
        let key = keys.unwrap(2, b"tenant a", &wrapped).await.unwrap();
        assert_eq!(key.expose(), &[5u8; 32]);
        assert!(keys.unwrap(2, b"tenant b", &wrapped).await.is_err());
        assert!(keys.unwrap(1, b"tenant a", &wrapped).await.is_err());
        assert!(keys.unwrap(9, b"tenant a", &wrapped).await.is_err());
        let mut tampered = wrapped.clone();
        tampered[20] ^= 1;
        assert!(keys.unwrap(2, b"tenant a", &tampered).await.is_err());
    }
}
