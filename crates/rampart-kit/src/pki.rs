//! Certificates: the internal CA that gives every service an mTLS identity,
//! and the edge certificate the gateway presents to the outside.
//!
//! Each service's certificate names it (`auth.rampart.internal`, ...). A
//! server requires a client certificate from the internal CA and learns the
//! caller's service from it with [`peer_service`]; that is what lets a
//! service trust principal metadata from the gateway and from nobody else.
//!
//! The edge has its own CA, separate from the internal one: a client that
//! trusts the edge CA (`curl --cacert`) gains nothing inside the mesh.
//!
//! All material lives in one folder with a fixed layout ([`PkiDir`]).
//! `rampart dev` generates it on first start; in production an operator
//! provides the same files (or runs `rampart pki init`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::{read_secret_file, write_secret_file};
use crate::secret::{ExposeSecret, SecretString};

/// The services of the mesh, each with its own certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceName {
    Gateway,
    Auth,
    Crm,
    Escalation,
    Audit,
}

impl ServiceName {
    pub const ALL: [Self; 5] = [
        Self::Gateway,
        Self::Auth,
        Self::Crm,
        Self::Escalation,
        Self::Audit,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Auth => "auth",
            Self::Crm => "crm",
            Self::Escalation => "escalation",
            Self::Audit => "audit",
        }
    }

    /// The DNS name in the service's certificate, and the name its clients
    /// verify when they connect.
    #[must_use]
    pub fn dns_name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway.rampart.internal",
            Self::Auth => "auth.rampart.internal",
            Self::Crm => "crm.rampart.internal",
            Self::Escalation => "escalation.rampart.internal",
            Self::Audit => "audit.rampart.internal",
        }
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .with_context(|| {
                format!(
                    "unknown service {text:?}: expected gateway, auth, crm, escalation or audit"
                )
            })
    }
}

impl std::fmt::Display for ServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The folder holding all certificates and keys, with a fixed layout.
#[derive(Debug, Clone)]
pub struct PkiDir(PathBuf);

impl PkiDir {
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }

    #[must_use]
    pub fn internal_ca_cert(&self) -> PathBuf {
        self.0.join("internal-ca.pem")
    }

    fn internal_ca_key(&self) -> PathBuf {
        self.0.join("internal-ca.key")
    }

    #[must_use]
    pub fn service_cert(&self, service: ServiceName) -> PathBuf {
        self.0.join(format!("{}.pem", service.as_str()))
    }

    #[must_use]
    pub fn service_key(&self, service: ServiceName) -> PathBuf {
        self.0.join(format!("{}.key", service.as_str()))
    }

    /// The CA certificate that clients of the edge should trust.
    #[must_use]
    pub fn edge_ca_cert(&self) -> PathBuf {
        self.0.join("edge-ca.pem")
    }

    fn edge_ca_key(&self) -> PathBuf {
        self.0.join("edge-ca.key")
    }

    #[must_use]
    pub fn edge_cert(&self) -> PathBuf {
        self.0.join("edge.pem")
    }

    #[must_use]
    pub fn edge_key(&self) -> PathBuf {
        self.0.join("edge.key")
    }

    /// Generates every certificate and key unless the folder already holds
    /// them. Returns whether anything was generated. A half-populated folder is
    /// an error, not something to paper over: it means files went missing.
    pub fn ensure_generated(&self, edge_names: &[String]) -> anyhow::Result<bool> {
        let expected = self.all_files();
        let present = expected.iter().filter(|p| p.exists()).count();
        if present == expected.len() {
            return Ok(false);
        }
        if present > 0 {
            bail!(
                "{} holds only some of its certificates and keys; move it away to have a new set generated",
                self.0.display()
            );
        }
        std::fs::create_dir_all(&self.0)
            .with_context(|| format!("cannot create {}", self.0.display()))?;
        self.generate(edge_names)?;
        Ok(true)
    }

    fn all_files(&self) -> Vec<PathBuf> {
        let mut files = vec![
            self.internal_ca_cert(),
            self.internal_ca_key(),
            self.edge_ca_cert(),
            self.edge_ca_key(),
            self.edge_cert(),
            self.edge_key(),
        ];
        for service in ServiceName::ALL {
            files.push(self.service_cert(service));
            files.push(self.service_key(service));
        }
        files
    }

    fn generate(&self, edge_names: &[String]) -> anyhow::Result<()> {
        let internal_ca = generate_ca("Rampart internal CA")?;
        std::fs::write(self.internal_ca_cert(), &internal_ca.cert_pem)?;
        write_secret_file(&self.internal_ca_key(), &internal_ca.key.serialize_pem())?;
        let internal_issuer = Issuer::new(internal_ca.params, internal_ca.key);
        for service in ServiceName::ALL {
            let leaf = generate_leaf(
                &[service.dns_name().to_owned()],
                service.as_str(),
                &internal_issuer,
                &[
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ],
            )?;
            std::fs::write(self.service_cert(service), leaf.cert_pem)?;
            write_secret_file(&self.service_key(service), leaf.key_pem.expose_secret())?;
        }

        let edge_ca = generate_ca("Rampart edge CA")?;
        std::fs::write(self.edge_ca_cert(), &edge_ca.cert_pem)?;
        write_secret_file(&self.edge_ca_key(), &edge_ca.key.serialize_pem())?;
        let edge_issuer = Issuer::new(edge_ca.params, edge_ca.key);
        let edge = generate_leaf(
            edge_names,
            "rampart edge",
            &edge_issuer,
            &[ExtendedKeyUsagePurpose::ServerAuth],
        )?;
        std::fs::write(self.edge_cert(), edge.cert_pem)?;
        write_secret_file(&self.edge_key(), edge.key_pem.expose_secret())?;
        Ok(())
    }

    /// The gateway's edge certificate chain and key, for a rustls server.
    pub fn load_edge(
        &self,
    ) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let chain = CertificateDer::pem_file_iter(self.edge_cert())
            .with_context(|| format!("cannot read {}", self.edge_cert().display()))?
            .collect::<Result<Vec<_>, _>>()
            .context("edge certificate is not valid PEM")?;
        if chain.is_empty() {
            bail!("{} holds no certificate", self.edge_cert().display());
        }
        let key = PrivateKeyDer::from_pem_file(self.edge_key()).with_context(|| {
            format!(
                "cannot read a private key from {}",
                self.edge_key().display()
            )
        })?;
        Ok((chain, key))
    }

    /// One service's mTLS identity.
    pub fn load_service(&self, service: ServiceName) -> anyhow::Result<ServiceTls> {
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))
        };
        Ok(ServiceTls {
            service,
            cert_pem: read(self.service_cert(service))?,
            key_pem: read_secret_file(&self.service_key(service))?,
            ca_pem: read(self.internal_ca_cert())?,
        })
    }
}

struct GeneratedCa {
    params: CertificateParams,
    key: KeyPair,
    cert_pem: String,
}

struct GeneratedLeaf {
    cert_pem: String,
    key_pem: SecretString,
}

fn generate_ca(common_name: &str) -> anyhow::Result<GeneratedCa> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = distinguished_name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(3650);
    let key = KeyPair::generate()?;
    let cert_pem = params.self_signed(&key)?.pem();
    Ok(GeneratedCa {
        params,
        key,
        cert_pem,
    })
}

fn generate_leaf(
    names: &[String],
    common_name: &str,
    issuer: &Issuer<'_, KeyPair>,
    usages: &[ExtendedKeyUsagePurpose],
) -> anyhow::Result<GeneratedLeaf> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.subject_alt_names = names
        .iter()
        .map(|name| match name.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(name.clone().try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    params.distinguished_name = distinguished_name(common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = usages.to_vec();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    // Browsers refuse leaf certificates valid for more than 398 days.
    params.not_after = now + time::Duration::days(397);
    let key = KeyPair::generate()?;
    let cert_pem = params.signed_by(&key, issuer)?.pem();
    Ok(GeneratedLeaf {
        cert_pem,
        key_pem: SecretString::from(key.serialize_pem()),
    })
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Rampart");
    name.push(DnType::CommonName, common_name);
    name
}

/// A service's mTLS identity: its certificate and key, and the internal CA
/// that every peer must be signed by.
pub struct ServiceTls {
    service: ServiceName,
    cert_pem: String,
    key_pem: SecretString,
    ca_pem: String,
}

impl std::fmt::Debug for ServiceTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTls")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl ServiceTls {
    #[must_use]
    pub fn service(&self) -> ServiceName {
        self.service
    }

    fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert_pem, self.key_pem.expose_secret())
    }

    /// Server settings: present this identity, require a client certificate
    /// from the internal CA.
    #[must_use]
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity())
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
    }

    /// Client settings for calling `peer`: verify its certificate names it,
    /// and present this identity.
    #[must_use]
    pub fn client(&self, peer: ServiceName) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(self.identity())
            .domain_name(peer.dns_name())
    }
}

/// The service a verified client certificate names, if any.
///
/// The chain has already been checked against the internal CA during the
/// handshake; this only reads which service the leaf was issued to.
///
/// Every call on an mTLS connection presents the same few certificates, so
/// the answer for each leaf is remembered, keyed by its bytes: reading the
/// names again costs a DER parse and a name check per service, a few per
/// cent of a small call's CPU.
#[must_use]
pub fn peer_service(certs: Option<Arc<Vec<CertificateDer<'static>>>>) -> Option<ServiceName> {
    /// More distinct leaves than any mesh has; past it the memo starts over.
    const REMEMBERED: usize = 64;
    static NAMED: OnceLock<RwLock<HashMap<CertificateDer<'static>, Option<ServiceName>>>> =
        OnceLock::new();

    let certs = certs?;
    let leaf = certs.first()?;
    let named = NAMED.get_or_init(RwLock::default);
    if let Some(service) = named
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(leaf)
    {
        return *service;
    }
    let service = read_service_name(leaf);
    let mut named = named.write().unwrap_or_else(PoisonError::into_inner);
    if named.len() >= REMEMBERED {
        named.clear();
    }
    named.insert(leaf.clone(), service);
    service
}

fn read_service_name(leaf: &CertificateDer<'_>) -> Option<ServiceName> {
    let cert = webpki::EndEntityCert::try_from(leaf).ok()?;
    ServiceName::ALL.into_iter().find(|service| {
        let name =
            ServerName::try_from(service.dns_name()).expect("service names are valid DNS names");
        cert.verify_is_valid_for_subject_name(&name).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let pki = PkiDir::new(dir.path().join("pki"));
        assert!(
            pki.ensure_generated(&["localhost".into(), "127.0.0.1".into()])
                .unwrap()
        );
        assert!(!pki.ensure_generated(&["localhost".into()]).unwrap());
        let (chain, _key) = pki.load_edge().unwrap();
        assert_eq!(chain.len(), 1);
        for service in ServiceName::ALL {
            let tls = pki.load_service(service).unwrap();
            assert_eq!(tls.service(), service);
        }
    }

    #[test]
    fn peer_service_reads_the_certificate_name() {
        let dir = tempfile::tempdir().unwrap();
        let pki = PkiDir::new(dir.path());
        pki.ensure_generated(&["localhost".into()]).unwrap();
        for service in ServiceName::ALL {
            let der = CertificateDer::from_pem_file(pki.service_cert(service)).unwrap();
            // Read, then remembered: both answers name the same service.
            assert_eq!(
                peer_service(Some(Arc::new(vec![der.clone()]))),
                Some(service)
            );
            assert_eq!(peer_service(Some(Arc::new(vec![der]))), Some(service));
        }
        let edge = CertificateDer::from_pem_file(pki.edge_cert()).unwrap();
        assert_eq!(peer_service(Some(Arc::new(vec![edge.clone()]))), None);
        assert_eq!(peer_service(Some(Arc::new(vec![edge]))), None);
        assert_eq!(peer_service(None), None);
    }

    #[test]
    fn partial_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pki = PkiDir::new(dir.path());
        pki.ensure_generated(&["localhost".into()]).unwrap();
        std::fs::remove_file(pki.edge_key()).unwrap();
        assert!(pki.ensure_generated(&["localhost".into()]).is_err());
    }
}
