//! The OAuth 2.0 half of calendar sync: the authorisation URL (code flow,
//! PKCE S256, offline access, the events scope only), the code exchange,
//! the refresh and the revocation.
//!
//! The `oauth2` crate builds and parses the protocol messages; HTTP is the
//! workspace's `reqwest`, handed to it as a closure (its own `reqwest`
//! feature would pull in another major version). The client follows no
//! redirect: a token endpoint that redirects is misconfigured, and
//! following it would send the code or the client secret elsewhere.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    Scope, TokenResponse, TokenUrl,
};
use rampart_kit::secret::{ExposeSecret, SecretString};

use super::{CalendarSettings, EVENTS_SCOPE};

/// How long any one call to the provider may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// What went wrong talking to the provider. Never holds a token.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("calendar sync is not configured")]
    NotConfigured,
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("the provider could not be reached: {0}")]
    Transport(String),
    #[error("a configured endpoint is not a URL: {0}")]
    BadEndpoint(String),
}

/// Tokens the provider issued.
pub struct Tokens {
    pub access_token: SecretString,
    /// `None` when a refresh answered no new refresh token (keep the old).
    pub refresh_token: Option<SecretString>,
    pub expires_at: DateTime<Utc>,
    /// The granted scope, space-separated; `None` if the answer named none.
    pub scope: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// An authorisation to send the browser to, and what the callback needs.
pub struct Authorisation {
    pub url: String,
    pub state: SecretString,
    pub verifier: SecretString,
}

type Configured =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The provider's OAuth endpoints and this platform's client registration.
#[derive(Clone)]
pub struct OAuth {
    settings: CalendarSettings,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.settings.fmt(f)
    }
}

impl OAuth {
    #[must_use]
    pub fn new(settings: CalendarSettings) -> Self {
        Self { settings }
    }

    #[must_use]
    pub fn settings(&self) -> &CalendarSettings {
        &self.settings
    }

    fn client(&self, redirect_uri: &str) -> Result<Configured, OAuthError> {
        let client_id = self
            .settings
            .client_id
            .clone()
            .ok_or(OAuthError::NotConfigured)?;
        let bad = |error: oauth2::url::ParseError| OAuthError::BadEndpoint(error.to_string());
        let mut client = BasicClient::new(ClientId::new(client_id))
            .set_auth_uri(AuthUrl::new(self.settings.auth_url.clone()).map_err(bad)?)
            .set_token_uri(TokenUrl::new(self.settings.token_url.clone()).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(bad)?);
        if let Some(secret) = &self.settings.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        Ok(client)
    }

    /// A new authorisation: code flow, S256 challenge, the events scope
    /// only, offline access (a refresh token) and a fresh consent screen
    /// (so a refresh token is issued again after a disconnect).
    pub fn authorise(&self, redirect_uri: &str) -> Result<Authorisation, OAuthError> {
        let client = self.client(redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new(EVENTS_SCOPE.to_owned()))
            .set_pkce_challenge(challenge)
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .url();
        Ok(Authorisation {
            url: url.to_string(),
            state: SecretString::from(state.secret().clone()),
            verifier: SecretString::from(verifier.secret().clone()),
        })
    }

    /// Exchanges `code` with the PKCE `verifier`.
    pub async fn exchange(
        &self,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
    ) -> Result<Tokens, OAuthError> {
        let client = self.client(redirect_uri)?;
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&http_call)
            .await
            .map_err(token_error)?;
        Ok(tokens(&answer))
    }

    /// A new access token for `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, OAuthError> {
        // The redirect URI plays no part in a refresh.
        let client = self.client("https://localhost/")?;
        let answer = client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .request_async(&http_call)
            .await
            .map_err(token_error)?;
        Ok(tokens(&answer))
    }

    /// Revokes `token` (RFC 7009; Google revokes the whole grant when
    /// given the refresh token).
    pub async fn revoke(&self, token: &str) -> Result<(), OAuthError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        let response = http_client()?
            .post(&self.settings.revoke_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|error| OAuthError::Transport(error.without_url().to_string()))?;
        let status = response.status();
        // 400 `invalid_token`: already revoked or expired, which is the
        // outcome wanted.
        if status.is_success() || status == reqwest::StatusCode::BAD_REQUEST {
            Ok(())
        } else {
            Err(OAuthError::Refused(format!("revocation answered {status}")))
        }
    }
}

fn tokens(answer: &oauth2::basic::BasicTokenResponse) -> Tokens {
    let lifetime = answer
        .expires_in()
        .unwrap_or(Duration::from_secs(3600))
        .min(Duration::from_secs(86_400));
    Tokens {
        access_token: SecretString::from(answer.access_token().secret().clone()),
        refresh_token: answer
            .refresh_token()
            .map(|token| SecretString::from(token.secret().clone())),
        expires_at: Utc::now()
            + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1)),
        scope: answer.scopes().map(|scopes| {
            scopes
                .iter()
                .map(|scope| scope.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        }),
    }
}

fn token_error<E: std::error::Error + 'static>(
    error: oauth2::RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> OAuthError {
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => {
            OAuthError::Refused(response.error().as_ref().to_owned())
        }
        oauth2::RequestTokenError::Request(error) => OAuthError::Transport(error.to_string()),
        oauth2::RequestTokenError::Parse(error, _) => {
            OAuthError::Refused(format!("unreadable token response: {error}"))
        }
        oauth2::RequestTokenError::Other(text) => OAuthError::Refused(text),
    }
}

/// The one HTTP client for the provider: rustls on ring with the
/// platform's roots, a timeout, no redirects.
pub(crate) fn http_client() -> Result<&'static reqwest::Client, OAuthError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            use rustls_platform_verifier::BuilderVerifierExt;
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_platform_verifier()
            .map_err(|error| error.to_string())?
            .with_no_client_auth();
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| OAuthError::Transport(format!("building the HTTP client: {error}")))
}

/// The HTTP error the `oauth2` crate sees.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// `oauth2`'s HTTP client: one request through [`http_client`].
async fn http_call(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let client = http_client().map_err(|error| HttpError(error.to_string()))?;
    let request = reqwest::Request::try_from(request)
        .map_err(|error| HttpError(error.without_url().to_string()))?;
    let response = client
        .execute(request)
        .await
        .map_err(|error| HttpError(error.without_url().to_string()))?;
    let mut answer = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| HttpError(error.without_url().to_string()))?;
    answer
        .body(body.to_vec())
        .map_err(|error| HttpError(error.to_string()))
}
