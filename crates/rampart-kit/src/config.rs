//! Reading settings and secrets from the process environment.
//!
//! A secret may be given directly (`NAME`) or as a path to a file holding it
//! (`NAME_FILE`), the convention of Docker and Kubernetes secrets, so that it
//! never has to sit in a shell history or a committed file. Both set at once
//! is an error rather than a silent preference.

use std::path::Path;

use anyhow::{Context, bail};

use crate::secret::SecretString;

/// Reads the secret `name` from the environment, or from the file named by
/// `name_FILE`. Surrounding whitespace (a trailing newline) is trimmed.
pub fn secret_from_env(name: &str) -> anyhow::Result<Option<SecretString>> {
    let file_var = format!("{name}_FILE");
    let direct = std::env::var(name).ok().filter(|v| !v.is_empty());
    let file = std::env::var(&file_var).ok().filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => bail!("set either {name} or {file_var}, not both"),
        (Some(value), None) => Ok(Some(SecretString::from(value.trim().to_owned()))),
        (None, Some(path)) => read_secret_file(Path::new(&path))
            .with_context(|| format!("{file_var} names a file that cannot be read"))
            .map(Some),
        (None, None) => Ok(None),
    }
}

/// Reads a secret from a file, trimming surrounding whitespace.
pub fn read_secret_file(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret file {}", path.display()))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        bail!("secret file {} is empty", path.display());
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// Writes a secret file readable by its owner only.
pub fn write_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    #[test]
    fn secret_files_are_trimmed_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        write_secret_file(&path, "s3cret\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap().expose_secret(), "s3cret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // An existing secret is never overwritten.
        assert!(write_secret_file(&path, "other").is_err());
    }

    #[test]
    fn empty_secret_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, "\n").unwrap();
        assert!(read_secret_file(&path).is_err());
    }
}
