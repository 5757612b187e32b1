//! The data folder of the embedded default (`rampart dev`).
//!
//! ```text
//! <data-dir>/
//!   auth.db crm.db audit.db       SQLite databases, one per service
//!   pki/                          internal CA, service certificates, edge CA and certificate
//!   secrets/key-hash-secret       HMAC secret for API key hashes (0600)
//!   secrets/admin-api-key         the generated platform admin key (0600)
//!   secrets/audit-signing-key.pem Ed25519 key audit signs checkpoints with (0600)
//!   secrets/totp-encryption-key   AES-256-GCM key for TOTP secrets (0600)
//!   secrets/admin-sign-in-path    the secret path of the admins' sign-in route (0600)
//!   office-domains                the platform admins' office domains, one a line
//!                                 (written by `admin create-user --data-dir`)
//!   lock                          held by the `rampart dev` using the folder
//! ```
//!
//! Secrets are generated on first start, owner-readable only, and never
//! overwritten: replacing the key-hash secret would invalidate every key.
//!
//! One `rampart dev` at a time: two would each run their own services on the
//! same SQLite files and split the folder's state (revocations, rate limits
//! and audit delivery live in each process), so the first holds an exclusive
//! lock on `lock` and a second refuses to start. The operating system drops
//! the lock when the process ends, however it ends.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::config::{read_secret_file, write_secret_file};
use rampart_kit::pki::PkiDir;
use rampart_kit::secret::{SecretString, hex, random_bytes};

/// The exclusive hold of one process on a data folder; released on drop.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// The paths inside a data folder.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// Creates the folder (owner-only) if needed.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path.join("secrets"))
            .with_context(|| format!("cannot create the data folder {}", path.display()))?;
        // The folder holds tenants' data and every secret: owner only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for folder in [path.to_path_buf(), path.join("secrets")] {
                std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| {
                        format!("cannot restrict {} to its owner", folder.display())
                    })?;
            }
        }
        Ok(Self(path.to_path_buf()))
    }

    /// Takes the folder for this process alone, or says who holds it.
    pub fn lock(&self) -> anyhow::Result<DataDirLock> {
        let path = self.0.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(TryLockError::WouldBlock) => bail!(
                "another rampart dev is already using the data folder {}; stop it first, or give this one a folder of its own with --data-dir",
                self.0.display()
            ),
            Err(TryLockError::Error(error)) => {
                Err(error).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// The platform admins' office domains kept in the folder (none if
    /// `admin create-user --data-dir` never wrote any).
    pub fn office_domains(&self) -> anyhow::Result<Vec<String>> {
        let path = self.office_domains_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Adds `domains` to the folder's office domains, keeping those there.
    pub fn add_office_domains(&self, domains: &[String]) -> anyhow::Result<()> {
        let mut kept = self.office_domains()?;
        for domain in domains {
            if !kept.contains(domain) {
                kept.push(domain.clone());
            }
        }
        let path = self.office_domains_file();
        let mut text = kept.join("\n");
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    fn office_domains_file(&self) -> PathBuf {
        self.0.join("office-domains")
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }

    #[must_use]
    pub fn database(&self, service: &str) -> PathBuf {
        self.0.join(format!("{service}.db"))
    }

    #[must_use]
    pub fn pki(&self) -> PkiDir {
        PkiDir::new(self.0.join("pki"))
    }

    #[must_use]
    pub fn admin_key_file(&self) -> PathBuf {
        self.0.join("secrets").join("admin-api-key")
    }

    /// The key-hash secret, generated on first use.
    pub fn key_hash_secret(&self) -> anyhow::Result<SecretString> {
        let path = self.0.join("secrets").join("key-hash-secret");
        if !path.exists() {
            write_secret_file(&path, &hex(&random_bytes::<32>()))?;
        }
        read_secret_file(&path)
    }

    /// The audit checkpoint signing key (PKCS#8 PEM), generated on first
    /// use. Never replaced: checkpoints signed with it must stay checkable.
    pub fn audit_signing_key(&self) -> anyhow::Result<SecretString> {
        let path = self.0.join("secrets").join("audit-signing-key.pem");
        if !path.exists() {
            write_secret_file(&path, &rampart_audit::SigningKey::generate_pem()?)?;
        }
        read_secret_file(&path)
    }

    /// The key TOTP secrets are sealed under, generated on first use.
    /// Replacing it would make every enrolled second factor unusable.
    pub fn totp_encryption_key(&self) -> anyhow::Result<SecretString> {
        let path = self.0.join("secrets").join("totp-encryption-key");
        if !path.exists() {
            write_secret_file(&path, &hex(&random_bytes::<32>()))?;
        }
        read_secret_file(&path)
    }

    /// The crm's master keyring (`v1:<base64>`), generated on first use.
    /// Never replaced: every tenant key is wrapped under it.
    pub fn crm_master_key(&self) -> anyhow::Result<SecretString> {
        let path = self.0.join("secrets").join("crm-master-key");
        if !path.exists() {
            let text = rampart_crm::vault::LocalMasterKeys::generate()
                .map_err(|error| anyhow::anyhow!("cannot generate the crm master key: {error}"))?;
            write_secret_file(&path, &text)?;
        }
        read_secret_file(&path)
    }

    /// The shared secret billing webhooks are signed with, generated on
    /// first use (give it to the billing provider, or to a test sender).
    pub fn billing_webhook_secret(&self) -> anyhow::Result<SecretString> {
        let path = self.0.join("secrets").join("billing-webhook-secret");
        if !path.exists() {
            write_secret_file(&path, &format!("whsec_{}", hex(&random_bytes::<32>())))?;
        }
        read_secret_file(&path)
    }

    /// The secret path segment of the admins' sign-in route, generated on
    /// first use.
    pub fn admin_sign_in_path(&self) -> anyhow::Result<SecretString> {
        let path = self.0.join("secrets").join("admin-sign-in-path");
        if !path.exists() {
            write_secret_file(&path, &format!("admin-{}", hex(&random_bytes::<12>())))?;
        }
        read_secret_file(&path)
    }

    /// The stored admin key, or a new one; the flag says whether it is new.
    pub fn admin_api_key(&self) -> anyhow::Result<(SecretString, bool)> {
        let path = self.admin_key_file();
        if path.exists() {
            return Ok((read_secret_file(&path)?, false));
        }
        let key = PlaintextApiKey::generate(KeyKind::Admin);
        write_secret_file(&path, key.expose())?;
        Ok((SecretString::from(key.expose().to_owned()), true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_kit::secret::ExposeSecret;

    #[cfg(unix)]
    #[test]
    fn the_data_folder_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        DataDir::open(&path).unwrap();
        for folder in [path.clone(), path.join("secrets")] {
            let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", folder.display());
        }
    }

    #[test]
    fn a_folder_is_held_by_one_lock_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let held = data.lock().unwrap();
        let refused = DataDir::open(dir.path()).unwrap().lock().unwrap_err();
        assert!(
            format!("{refused:#}").contains("another rampart dev is already using"),
            "{refused:#}"
        );
        drop(held);
        data.lock().expect("free again once the holder is gone");
    }

    #[test]
    fn office_domains_accumulate_without_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        assert!(data.office_domains().unwrap().is_empty());
        data.add_office_domains(&["corp.example".to_owned()])
            .unwrap();
        data.add_office_domains(&["corp.example".to_owned(), "ops.example".to_owned()])
            .unwrap();
        assert_eq!(
            data.office_domains().unwrap(),
            ["corp.example", "ops.example"]
        );
    }

    #[test]
    fn secrets_are_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let first = data.key_hash_secret().unwrap();
        let second = data.key_hash_secret().unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), 64);

        let signing = data.audit_signing_key().unwrap();
        assert_eq!(
            signing.expose_secret(),
            data.audit_signing_key().unwrap().expose_secret()
        );
        assert!(rampart_audit::SigningKey::from_pem(signing.expose_secret()).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets/audit-signing-key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let (key, fresh) = data.admin_api_key().unwrap();
        assert!(fresh);
        assert!(PlaintextApiKey::parse(key.expose_secret()).is_ok());
        let (again, fresh) = data.admin_api_key().unwrap();
        assert!(!fresh);
        assert_eq!(key.expose_secret(), again.expose_secret());
    }
}
