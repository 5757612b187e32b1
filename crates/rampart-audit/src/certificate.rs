//! Deletion certificates: the audit service's signed statement that a
//! tenant's customer data was erased, which the customer can keep and anyone
//! holding the audit public key can check offline
//! (`rampart audit verify-certificate`).
//!
//! The CRM writes the statement (what was deleted, when, under which
//! request, and the id of the audit event recording it) and asks the audit
//! service to sign it with the key that signs checkpoints; nobody else may
//! ask. The signed bytes are the format line, a newline, then the statement
//! as canonical JSON: object keys sorted, no insignificant whitespace. So
//! the certificate may be pretty-printed or re-indented and still verify,
//! while any changed value, added field or dropped field does not.
//!
//! ```json
//! {
//!   "statement": {"format": "rampart-deletion-certificate/v1", "certificate_id": "era_…", …},
//!   "signature": {"algorithm": "Ed25519", "key_id": "…", "value": "<base64>"}
//! }
//! ```

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::{PublicKey, SigningKey};

/// The `format` every statement carries, and the first line of the signed
/// bytes, so a certificate signature can never be taken for a checkpoint's.
pub const FORMAT: &str = "rampart-deletion-certificate/v1";

/// The largest statement the service signs.
pub const MAX_STATEMENT_BYTES: usize = 16 * 1024;

/// A signed statement, as handed to the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub statement: Value,
    pub signature: CertificateSignature,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSignature {
    /// Always "Ed25519".
    pub algorithm: String,
    /// The signing key's id, as `GET /v1/audit/public-key` names it.
    pub key_id: String,
    /// Base64 of the 64-byte signature.
    pub value: String,
}

/// The bytes a statement's signature covers; refuses anything that is not
/// an object of this format, or is too large.
pub fn signed_bytes(statement: &Value) -> anyhow::Result<Vec<u8>> {
    let Value::Object(fields) = statement else {
        bail!("a deletion statement must be a JSON object");
    };
    if fields.get("format").and_then(Value::as_str) != Some(FORMAT) {
        bail!("a deletion statement must have \"format\": \"{FORMAT}\"");
    }
    let mut bytes = format!("{FORMAT}\n").into_bytes();
    write_canonical(statement, &mut bytes);
    if bytes.len() > MAX_STATEMENT_BYTES {
        bail!("a deletion statement may be at most {MAX_STATEMENT_BYTES} bytes");
    }
    Ok(bytes)
}

/// Compact JSON with every object's keys sorted, whatever order the map
/// kept them in.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // A string always serialises.
                out.extend(serde_json::to_vec(key).unwrap_or_default());
                out.push(b':');
                write_canonical(&fields[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap_or_default()),
    }
}

impl SigningKey {
    /// Signs `statement` as a deletion certificate.
    pub fn sign_certificate(&self, statement: Value) -> anyhow::Result<Certificate> {
        let bytes = signed_bytes(&statement)?;
        Ok(Certificate {
            statement,
            signature: CertificateSignature {
                algorithm: "Ed25519".to_owned(),
                key_id: self.public_key().key_id(),
                value: BASE64.encode(self.sign_bytes(&bytes)),
            },
        })
    }
}

impl Certificate {
    /// Reads a certificate file's text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        serde_json::from_str(text.trim()).context("the certificate is not a deletion certificate")
    }

    /// Checks the signature with `key`: the trusted audit public key.
    pub fn verify(&self, key: &PublicKey) -> anyhow::Result<()> {
        if self.signature.algorithm != "Ed25519" {
            bail!("the certificate is not signed with Ed25519");
        }
        if self.signature.key_id != key.key_id() {
            bail!(
                "the certificate names signing key {}, not the trusted key {}",
                self.signature.key_id,
                key.key_id()
            );
        }
        let signature = BASE64
            .decode(&self.signature.value)
            .context("the certificate's signature is not base64")?;
        let bytes = signed_bytes(&self.statement)?;
        UnparsedPublicKey::new(&ED25519, key.0)
            .verify(&bytes, &signature)
            .map_err(|_| {
                anyhow::anyhow!("the certificate's signature does not match its statement")
            })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap()
    }

    fn statement() -> Value {
        json!({
            "format": FORMAT,
            "certificate_id": "era_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f",
            "subject": "customer:cus_0192f0c17e4a7b1d9c3e1a2b3c4d5e70",
            "deleted": {"customer": 1, "messages": 12},
        })
    }

    #[test]
    fn a_signed_certificate_verifies_and_survives_reformatting() {
        let key = key();
        let certificate = key.sign_certificate(statement()).unwrap();
        certificate.verify(&key.public_key()).unwrap();
        let pretty = serde_json::to_string_pretty(&certificate).unwrap();
        Certificate::parse(&pretty)
            .unwrap()
            .verify(&key.public_key())
            .unwrap();
    }

    #[test]
    fn a_changed_value_or_field_fails() {
        let key = key();
        let certificate = key.sign_certificate(statement()).unwrap();
        let text = serde_json::to_string(&certificate).unwrap();
        for (from, to) in [
            ("\"messages\":12", "\"messages\":11"),
            ("cus_0192", "cus_0193"),
            ("\"customer\":1,", ""),
        ] {
            assert!(text.contains(from), "{from}");
            let changed = Certificate::parse(&text.replacen(from, to, 1)).unwrap();
            assert!(changed.verify(&key.public_key()).is_err(), "{from} -> {to}");
        }
    }

    #[test]
    fn another_key_or_format_fails() {
        let certificate = key().sign_certificate(statement()).unwrap();
        let error = certificate.verify(&key().public_key()).unwrap_err();
        assert!(error.to_string().contains("not the trusted key"), "{error}");
        let mut other = statement();
        other["format"] = json!("rampart-checkpoint");
        assert!(key().sign_certificate(other).is_err());
        assert!(
            key()
                .sign_certificate(json!(["not", "an", "object"]))
                .is_err()
        );
    }

    #[test]
    fn canonical_bytes_sort_keys_at_every_depth() {
        let a = json!({"format": FORMAT, "b": {"y": 1, "x": [2, {"q": 1, "p": 2}]}, "a": "s"});
        let bytes = signed_bytes(&a).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            format!(
                "{FORMAT}\n{{\"a\":\"s\",\"b\":{{\"x\":[2,{{\"p\":2,\"q\":1}}],\"y\":1}},\"format\":\"{FORMAT}\"}}"
            )
        );
    }
}
