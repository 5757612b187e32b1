//! Deletion certificates, as the CRM has them signed.
//!
//! The CRM writes the statement of an erasure (what was deleted, when,
//! under which request) and the audit service signs it with the key that
//! signs its checkpoints (`SignDeletionCertificate`, which only the CRM may
//! call). Signing happens inside the erasure's transaction, before the
//! commit: a certificate that cannot be had means the erasure is rolled
//! back, so no customer is erased without one.
//!
//! [`Certifier`] is what the erasure store asks; it holds a
//! [`SignsCertificates`], the audit service's client in production
//! ([`Certifier::connect`]) or whatever a test puts in its place.

use std::sync::Arc;
use std::time::Duration;

use rampart_kit::grpc::{TracedChannel, connect_lazy, traced};
use rampart_kit::pki::{ServiceName, ServiceTls};
use rampart_proto::audit::v1::SignDeletionCertificateRequest;
use rampart_proto::audit::v1::audit_service_client::AuditServiceClient;
use serde_json::Value;
use tonic::Status;
use tonic::transport::Channel;

use crate::Error;

/// The `format` of every statement, and the first line of the bytes the
/// audit service signs (its `certificate::FORMAT`; the CRM's tests check
/// the two agree).
pub const FORMAT: &str = "rampart-deletion-certificate/v1";

/// How long the audit service may take to sign; the erasure's transaction
/// stays open meanwhile.
const SIGN_TIMEOUT: Duration = Duration::from_secs(5);

/// Something that signs deletion statements: answers the certificate JSON
/// (`{"statement": ..., "signature": ...}`) exactly as signed.
#[tonic::async_trait]
pub trait SignsCertificates: Send + Sync + std::fmt::Debug {
    async fn sign(&self, statement_json: String) -> Result<String, Status>;
}

/// The audit service's client, connected on first use: the CRM starts
/// while audit is down, and erasures wait until it is back.
#[derive(Debug, Clone)]
struct AuditSigner {
    client: AuditServiceClient<TracedChannel>,
}

#[tonic::async_trait]
impl SignsCertificates for AuditSigner {
    async fn sign(&self, statement_json: String) -> Result<String, Status> {
        let mut request = tonic::Request::new(SignDeletionCertificateRequest { statement_json });
        request.set_timeout(SIGN_TIMEOUT);
        let mut client = self.client.clone();
        match tokio::time::timeout(SIGN_TIMEOUT, client.sign_deletion_certificate(request)).await {
            Ok(answer) => Ok(answer?.into_inner().certificate_json),
            Err(_) => Err(Status::deadline_exceeded("audit did not sign in time")),
        }
    }
}

/// A signed deletion certificate, as stored and handed out.
#[derive(Debug, Clone)]
pub struct SignedCertificate {
    /// Exactly the JSON the audit service answered.
    pub json: String,
    /// SHA-256 (hex) of [`json`](Self::json)'s bytes, for the audit record.
    pub sha256: String,
}

/// Has deletion statements signed.
#[derive(Debug, Clone)]
pub struct Certifier {
    signer: Arc<dyn SignsCertificates>,
}

impl Certifier {
    /// Signs through the audit service at `url`, with the CRM's identity.
    pub fn connect(url: &str, tls: &ServiceTls) -> anyhow::Result<Self> {
        Ok(Self::from_channel(connect_lazy(
            url,
            tls,
            ServiceName::Audit,
        )?))
    }

    /// Signs through the audit service over an existing channel.
    #[must_use]
    pub fn from_channel(channel: Channel) -> Self {
        Self::with_signer(Arc::new(AuditSigner {
            client: AuditServiceClient::new(traced(channel)),
        }))
    }

    /// Signs with `signer` (tests put a failing one here).
    #[must_use]
    pub fn with_signer(signer: Arc<dyn SignsCertificates>) -> Self {
        Self { signer }
    }

    /// The certificate for `statement`. Any failure (audit down, slow, or
    /// answering something that is not a certificate of this statement) is
    /// [`Error::CertificateUnavailable`]: the caller rolls back.
    pub async fn sign(&self, statement: &Value) -> Result<SignedCertificate, Error> {
        let json = match self.signer.sign(statement.to_string()).await {
            Ok(json) => json,
            Err(status) => {
                tracing::warn!(
                    code = ?status.code(),
                    message = status.message(),
                    "deletion certificate not signed"
                );
                return Err(Error::CertificateUnavailable);
            }
        };
        let signed: Value = serde_json::from_str(&json).map_err(|_| {
            tracing::error!("audit answered a deletion certificate that is not JSON");
            Error::CertificateUnavailable
        })?;
        if signed.get("statement") != Some(statement) || signed.get("signature").is_none() {
            tracing::error!("audit answered a deletion certificate of another statement");
            return Err(Error::CertificateUnavailable);
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, json.as_bytes());
        Ok(SignedCertificate {
            sha256: rampart_kit::secret::hex(digest.as_ref()),
            json,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug)]
    struct Answers(Result<String, Status>);

    #[tonic::async_trait]
    impl SignsCertificates for Answers {
        async fn sign(&self, _statement_json: String) -> Result<String, Status> {
            self.0.clone()
        }
    }

    fn certifier(answer: Result<String, Status>) -> Certifier {
        Certifier::with_signer(Arc::new(Answers(answer)))
    }

    fn statement() -> Value {
        json!({"format": FORMAT, "certificate_id": "era_1"})
    }

    #[tokio::test]
    async fn a_certificate_of_the_statement_is_kept_byte_for_byte_with_its_digest() {
        let json = format!(
            "{{\"statement\":{},\"signature\":{{\"value\":\"x\"}}}}",
            statement()
        );
        let signed = certifier(Ok(json.clone()))
            .sign(&statement())
            .await
            .unwrap();
        assert_eq!(signed.json, json);
        let expected = ring::digest::digest(&ring::digest::SHA256, json.as_bytes());
        assert_eq!(signed.sha256, rampart_kit::secret::hex(expected.as_ref()));
        assert_eq!(signed.sha256.len(), 64);
    }

    #[tokio::test]
    async fn a_failed_or_wrong_answer_is_unavailable() {
        let other =
            json!({"statement": {"format": FORMAT, "certificate_id": "era_2"}, "signature": {}});
        for answer in [
            Err(Status::unavailable("down")),
            Ok("not json".to_owned()),
            Ok(other.to_string()),
            Ok(json!({"statement": statement()}).to_string()),
        ] {
            let result = certifier(answer).sign(&statement()).await;
            assert!(
                matches!(result, Err(Error::CertificateUnavailable)),
                "{result:?}"
            );
        }
    }
}
