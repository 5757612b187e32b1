//! The admin REST API of a running stack, as the operator commands
//! (`rampart incident`, `rampart checklist`) call it: HTTPS to the edge
//! with a platform admin key from `RAMPART_ADMIN_API_KEY` (or `_FILE`),
//! trusting `--ca-file` or the platform's roots.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::config::secret_from_env;
use rampart_kit::secret::{ExposeSecret, SecretString};
use serde_json::Value;

/// The admin REST API of a running stack.
pub struct AdminApi {
    base: String,
    client: reqwest::Client,
    key: SecretString,
}

impl AdminApi {
    pub(crate) fn new(url: &str, ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let key = secret_from_env("RAMPART_ADMIN_API_KEY")?.context(
            "set RAMPART_ADMIN_API_KEY (or RAMPART_ADMIN_API_KEY_FILE) to a platform admin key",
        )?;
        match PlaintextApiKey::parse(key.expose_secret()) {
            Ok(parsed) if parsed.kind() == KeyKind::Admin => {}
            _ => bail!("RAMPART_ADMIN_API_KEY is not a Rampart admin key (rk_admin_...)"),
        }
        let base = url.trim_end_matches('/').to_owned();
        if !base.starts_with("https://") {
            bail!("--url must be an https:// address (the edge speaks HTTPS only), not {base:?}");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS settings")?;
        let tls = match ca_file {
            Some(path) => {
                use rustls::pki_types::CertificateDer;
                use rustls::pki_types::pem::PemObject;
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(path)
                    .with_context(|| format!("cannot read --ca-file {}", path.display()))?
                {
                    let cert = cert.with_context(|| format!("--ca-file {}", path.display()))?;
                    roots
                        .add(cert)
                        .with_context(|| format!("--ca-file {}", path.display()))?;
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            None => {
                use rustls_platform_verifier::BuilderVerifierExt;
                builder
                    .with_platform_verifier()
                    .context("the platform's certificate roots")?
                    .with_no_client_auth()
            }
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(30))
            .build()
            .context("HTTP client")?;
        Ok(Self { base, client, key })
    }

    /// The raw answer to one call; a problem answer is an error naming it.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<String> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("X-Admin-API-Key", self.key.expose_secret());
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.answer(&method, path, request).await
    }

    /// Sends `request` and answers its body, or an error with the problem's
    /// detail when the status is not a success.
    async fn answer(
        &self,
        method: &reqwest::Method,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<String> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let text = response.text().await.context("reading the answer")?;
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|problem| problem["detail"].as_str().map(str::to_owned))
                .unwrap_or(text);
            bail!("{method} {path} answered {status}: {detail}");
        }
        Ok(text)
    }

    /// One call's JSON answer.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let text = self.call(method, path, body).await?;
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{path} answered something not JSON"))
    }
}

impl AdminApi {
    /// The status the edge answers a GET of `path` made with a tenant's
    /// API key (not the admin key): how `rampart checklist` sees whether
    /// a key is accepted or refused.
    pub(crate) async fn status_with_api_key(
        &self,
        path: &str,
        api_key: &str,
    ) -> anyhow::Result<reqwest::StatusCode> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("X-API-Key", api_key)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        Ok(response.status())
    }

    /// POSTs `json` exactly as given (not re-serialised, so a digest of
    /// the text the caller wrote is a digest of what the server stored),
    /// answering the JSON answer.
    pub(crate) async fn post_json_text(&self, path: &str, json: String) -> anyhow::Result<Value> {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("X-Admin-API-Key", self.key.expose_secret())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json);
        let text = self.answer(&reqwest::Method::POST, path, request).await?;
        serde_json::from_str(&text).with_context(|| format!("{path} answered something not JSON"))
    }
}
