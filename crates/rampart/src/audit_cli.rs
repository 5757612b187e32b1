//! `rampart audit ...`: checking an audit export offline.
//!
//! `rampart audit verify <export> [--public-key FILE] [--previous-checkpoint FILE]`
//! needs nothing but the file and the public key: no database, no network.
//! It prints what it checked ("N/N events valid"), names each failure, and
//! exits non-zero when anything is wrong.
//!
//! `rampart audit verify-certificate <certificate> --public-key FILE`
//! checks a deletion certificate the same way: offline, against the
//! trusted audit public key.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rampart_audit::certificate::Certificate;
use rampart_audit::checkpoint::{Checkpoint, PublicKey};
use rampart_audit::export::{self, Header};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify an export (from `GET /v1/owner/audit/export`): the checkpoint
    /// signature, every event against the signed root, and optionally that
    /// the log extends an older checkpoint.
    Verify(VerifyArgs),
    /// Verify a deletion certificate (from
    /// `POST /v1/owner/erasure-requests/{id}/execute`) against the audit
    /// public key.
    VerifyCertificate(VerifyCertificateArgs),
}

#[derive(Debug, Args)]
pub struct VerifyCertificateArgs {
    /// The certificate, JSON.
    pub certificate: PathBuf,
    /// The trusted public key: the JSON of `GET /v1/audit/public-key`, a
    /// PEM public key, or 64 hex digits.
    #[arg(long)]
    pub public_key: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The export, JSON lines.
    pub export: PathBuf,
    /// The trusted public key: the JSON of `GET /v1/audit/public-key`, a
    /// PEM public key, or 64 hex digits. Without it the signature is
    /// checked with the key the export carries, which proves integrity but
    /// not who signed.
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// An older checkpoint of the same log (the JSON of
    /// `GET .../audit/checkpoint`, or an older export) that the log must
    /// extend.
    #[arg(long)]
    pub previous_checkpoint: Option<PathBuf>,
}

/// Runs the command; a failed verification is an error (exit status 1)
/// after the report is printed.
pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify(args) => {
            let report = verify(&args)?;
            print!("{}", report.render());
            if report.ok() {
                Ok(())
            } else {
                bail!("the audit export did not verify")
            }
        }
        AuditCommand::VerifyCertificate(args) => {
            println!("{}", verify_certificate(&args)?);
            Ok(())
        }
    }
}

/// Verifies a deletion certificate as the command does: a line saying what
/// it certifies, or the reason it does not verify.
pub fn verify_certificate(args: &VerifyCertificateArgs) -> anyhow::Result<String> {
    let key = PublicKey::parse(&read_text(&args.public_key, "public key")?)
        .with_context(|| format!("in {}", args.public_key.display()))?;
    let certificate = Certificate::parse(&read_text(&args.certificate, "certificate")?)
        .with_context(|| format!("in {}", args.certificate.display()))?;
    certificate
        .verify(&key)
        .context("the deletion certificate did not verify")?;
    let field = |name: &str| {
        certificate
            .statement
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    Ok(format!(
        "valid: deletion certificate {} for {} (executed {}), signed by audit key {}",
        field("certificate_id"),
        field("subject"),
        field("executed_at"),
        certificate.signature.key_id
    ))
}

/// Verifies as the command does, returning the report.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<export::Report> {
    let key = args
        .public_key
        .as_deref()
        .map(|path| {
            let text = read_text(path, "public key")?;
            PublicKey::parse(&text).with_context(|| format!("in {}", path.display()))
        })
        .transpose()?;
    let previous = args
        .previous_checkpoint
        .as_deref()
        .map(read_checkpoint)
        .transpose()?;
    let file = std::fs::File::open(&args.export)
        .with_context(|| format!("cannot open the export {}", args.export.display()))?;
    Ok(export::verify(
        BufReader::new(file),
        key.as_ref(),
        previous.as_ref(),
    ))
}

fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))
}

/// A checkpoint file: a checkpoint's JSON, or an export whose header
/// carries one.
fn read_checkpoint(path: &Path) -> anyhow::Result<Checkpoint> {
    let text = read_text(path, "previous checkpoint")?;
    let first = text.lines().next().unwrap_or_default();
    if let Ok(header) = serde_json::from_str::<Header>(first) {
        return Ok(header.checkpoint);
    }
    serde_json::from_str(text.trim())
        .with_context(|| format!("{} is neither a checkpoint nor an export", path.display()))
}
