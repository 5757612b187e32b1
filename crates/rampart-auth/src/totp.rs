//! The TOTP second factor (RFC 6238) and its secrets at rest.
//!
//! Codes are HMAC-SHA1 over the 30-second step, six digits, as every
//! authenticator app expects; ring provides the HMAC, so no extra crate is
//! needed for a dozen lines of arithmetic. [`matching_step`] accepts the
//! current step and one step either side (clock drift) and says which step
//! matched, so the caller can refuse any step at or before the last one
//! accepted: a code works once.
//!
//! Secrets are sealed with AES-256-GCM ([`SecretSealer`]) under a key from
//! configuration, with the user id as associated data, so a sealed secret
//! copied onto another user's row does not open. Recovery codes are random
//! (50 bits each) and stored only as keyed hashes.

use rampart_kit::secret::{ExposeSecret, SecretString, hex, random_bytes, unhex};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use subtle::ConstantTimeEq;

/// Seconds per step (RFC 6238's default, and every app's).
pub const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
/// Bytes of a new secret: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
#[must_use]
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32, ignoring case, spaces and padding; `None` when invalid.
#[must_use]
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.chars().filter(|c| *c != ' ' && *c != '=') {
        let value = BASE32
            .iter()
            .position(|b| char::from(*b) == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The TOTP key in the clear (the shared secret's bytes); only ever held
/// briefly. People see it once, in base32, as a
/// [`rampart_kit::secret::TotpSecret`].
pub struct TotpKey(Vec<u8>);

impl std::fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpKey(..)")
    }
}

impl TotpKey {
    #[must_use]
    pub fn generate() -> Self {
        Self(random_bytes::<SECRET_BYTES>().to_vec())
    }

    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    #[must_use]
    pub fn base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The `otpauth://` URI authenticator apps read from a QR code.
    #[must_use]
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            issuer = percent_encode(issuer),
            account = percent_encode(account),
            secret = self.base32(),
        )
    }

    /// The code for `step` (RFC 6238 with HMAC-SHA1, 6 digits).
    #[must_use]
    pub fn code_at_step(&self, step: i64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &step.to_be_bytes());
        let digest = tag.as_ref();
        // Dynamic truncation (RFC 4226 section 5.3).
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        format!(
            "{:0width$}",
            binary % 10u32.pow(DIGITS),
            width = DIGITS as usize
        )
    }
}

/// The step a Unix time falls in.
#[must_use]
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The step `code` is valid for at `unix_secs`, allowing one step of drift
/// either way; `None` when it matches none. The comparison is constant-time.
#[must_use]
pub fn matching_step(secret: &TotpKey, code: &str, unix_secs: i64) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_secs);
    // Check every candidate, so the time taken does not say which matched.
    let mut matched = None;
    for step in [now - 1, now, now + 1] {
        let expected = secret.code_at_step(step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    matched
}

/// Seals and opens TOTP secrets with AES-256-GCM.
#[derive(Clone)]
pub struct SecretSealer {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSealer(..)")
    }
}

impl SecretSealer {
    /// `key_hex`: 32 random bytes in hex (64 characters).
    pub fn from_hex(key_hex: &SecretString) -> anyhow::Result<Self> {
        let bytes = unhex(key_hex.expose_secret().trim())
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| {
                anyhow::anyhow!("the TOTP encryption key must be 32 bytes in hex (64 characters)")
            })?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| anyhow::anyhow!("cannot use the TOTP encryption key"))?;
        Ok(Self {
            key: std::sync::Arc::new(LessSafeKey::new(key)),
        })
    }

    /// `nonce || ciphertext || tag` in hex, bound to `user_id`.
    pub fn seal(&self, secret: &TotpKey, user_id: &str) -> anyhow::Result<String> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut in_out = secret.0.clone();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(user_id.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| anyhow::anyhow!("cannot seal a TOTP secret"))?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(hex(&sealed))
    }

    /// Opens what [`Self::seal`] made for the same user.
    pub fn open(&self, sealed_hex: &str, user_id: &str) -> anyhow::Result<TotpKey> {
        let sealed = unhex(sealed_hex)
            .filter(|bytes| bytes.len() > NONCE_LEN)
            .ok_or_else(|| anyhow::anyhow!("a stored TOTP secret is malformed"))?;
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| anyhow::anyhow!("a stored TOTP secret is malformed"))?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(user_id.as_bytes()), &mut in_out)
            .map_err(|_| {
                anyhow::anyhow!("a stored TOTP secret does not open (wrong key or wrong user)")
            })?;
        Ok(TotpKey(plain.to_vec()))
    }
}

/// New recovery codes, `xxxxx-xxxxx` in base32 (50 random bits each).
#[must_use]
pub fn generate_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let text = base32_encode(&random_bytes::<7>()).to_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect()
}

/// A recovery code as typed, folded to the generated form: case and the
/// dash do not matter.
#[must_use]
pub fn fold_recovery_code(code: &str) -> String {
    let plain: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    if plain.len() == 10 {
        format!("{}-{}", &plain[..5], &plain[5..])
    } else {
        plain
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: the 20-byte ASCII secret
    /// "12345678901234567890", 8-digit codes. We use 6 digits, which are the
    /// last six of the eight.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = TotpKey(b"12345678901234567890".to_vec());
        for (time, eight_digits) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(
                secret.code_at_step(step_at(time)),
                eight_digits[2..],
                "T = {time}"
            );
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let secret = TotpKey::generate();
        let now = 1_700_000_000;
        let step = step_at(now);
        for drift in [-1, 0, 1] {
            let code = secret.code_at_step(step + drift);
            assert_eq!(matching_step(&secret, &code, now), Some(step + drift));
        }
        for drift in [-3, -2, 2, 3] {
            let code = secret.code_at_step(step + drift);
            // A code of a far step may by chance equal a near one's.
            let near = [-1, 0, 1].map(|d| secret.code_at_step(step + d));
            if !near.contains(&code) {
                assert_eq!(matching_step(&secret, &code, now), None, "drift {drift}");
            }
        }
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(matching_step(&secret, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert!(base32_decode("MZ1").is_none());
        let secret = TotpKey::generate();
        assert_eq!(base32_decode(&secret.base32()).unwrap(), secret.0);
    }

    #[test]
    fn sealed_secrets_open_only_for_their_user_and_key() {
        let key = SecretString::from(hex(&random_bytes::<32>()));
        let sealer = SecretSealer::from_hex(&key).unwrap();
        let secret = TotpKey::generate();
        let sealed = sealer.seal(&secret, "usr_a").unwrap();
        assert!(!sealed.contains(&hex(&secret.0)));
        assert_eq!(sealer.open(&sealed, "usr_a").unwrap().0, secret.0);
        assert!(sealer.open(&sealed, "usr_b").is_err());
        let other =
            SecretSealer::from_hex(&SecretString::from(hex(&random_bytes::<32>()))).unwrap();
        assert!(other.open(&sealed, "usr_a").is_err());
        assert!(SecretSealer::from_hex(&SecretString::from("abcd")).is_err());
    }

    #[test]
    fn provisioning_uri_carries_the_secret() {
        let secret = TotpKey::generate();
        let uri = secret.provisioning_uri("Rampart", "jane@acme.example");
        assert!(uri.starts_with("otpauth://totp/Rampart:jane@acme.example?secret="));
        assert!(uri.contains(&secret.base32()));
        assert!(uri.contains("period=30"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_fold() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert_eq!(fold_recovery_code(&codes[0].to_uppercase()), codes[0]);
        assert_eq!(fold_recovery_code(&codes[0].replace('-', " ")), codes[0]);
    }
}
