//! Opening a Redis client, in plain text (`redis://`) or over TLS
//! (`rediss://`, rustls).
//!
//! A `rediss://` server is checked against the system's roots, or, when
//! `RAMPART_REDIS_CA_FILE` names a PEM file, against the CAs in that file
//! alone: a managed Redis behind a private CA is trusted without trusting
//! every public CA for it. A URL ending in `#insecure` (the redis crate's
//! switch that skips certificate checks) is refused outright: a TLS
//! connection that accepts any certificate is plain text with extra steps.

use std::path::Path;

use anyhow::{Context, bail};

/// The setting naming the PEM file of CAs a `rediss://` server is checked
/// against.
pub const CA_FILE_SETTING: &str = "RAMPART_REDIS_CA_FILE";

/// A client for `url`, trusting the CAs of `RAMPART_REDIS_CA_FILE` when set.
pub fn open(url: &str) -> anyhow::Result<redis::Client> {
    let ca = match std::env::var(CA_FILE_SETTING) {
        Ok(path) if !path.is_empty() => Some(read_ca_file(Path::new(&path))?),
        _ => None,
    };
    open_with_ca(url, ca.as_deref())
}

/// Reads a PEM bundle of CA certificates, refusing a file without one.
pub fn read_ca_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("{CA_FILE_SETTING}: cannot read {}", path.display()))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        bail!(
            "{CA_FILE_SETTING}: {} holds no PEM certificate",
            path.display()
        );
    }
    Ok(pem)
}

/// A client for `url`; over TLS, the server's certificate must chain to
/// `ca_pem` when given, or else to the system's roots.
pub fn open_with_ca(url: &str, ca_pem: Option<&[u8]>) -> anyhow::Result<redis::Client> {
    if url.contains('#') && url.rsplit('#').next() == Some("insecure") {
        bail!(
            "a Redis URL ending in #insecure skips certificate checks; remove it and trust the server's CA with {CA_FILE_SETTING}"
        );
    }
    if !url.starts_with("rediss://") {
        if ca_pem.is_some() {
            bail!(
                "{CA_FILE_SETTING} is set but the Redis URL is not rediss://; use rediss:// so the CA is used"
            );
        }
        return redis::Client::open(url).context("invalid Redis URL");
    }
    let Some(ca_pem) = ca_pem else {
        return redis::Client::open(url).context("invalid Redis URL");
    };
    redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca_pem.to_vec()),
        },
    )
    .context("invalid Redis URL or CA certificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_urls_and_a_ca_without_tls_are_refused() {
        let error = open_with_ca("rediss://cache:6380/#insecure", None).unwrap_err();
        assert!(error.to_string().contains("#insecure"), "{error}");
        let error = open_with_ca("redis://cache:6379", Some(b"pem")).unwrap_err();
        assert!(error.to_string().contains(CA_FILE_SETTING), "{error}");
        assert!(open_with_ca("redis://cache:6379", None).is_ok());
        assert!(open_with_ca("rediss://cache:6380", None).is_ok());
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let error = read_ca_file(&path).unwrap_err();
        assert!(error.to_string().contains(CA_FILE_SETTING), "{error}");
        assert!(read_ca_file(&dir.path().join("missing.pem")).is_err());
    }
}
