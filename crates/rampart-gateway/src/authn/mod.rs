//! Authentication at the edge: who is calling, for which tenant, within
//! which limits.
//!
//! Handlers declare the caller they accept as an extractor
//! ([`TenantCaller`], [`AdminCaller`]); the extractor refuses the request
//! before the handler runs. The steps, in order:
//!
//! 1. the client address's rate limit, so floods of bad keys are throttled;
//! 2. the key's shape and checksum, refused without any lookup when wrong;
//! 3. the key's verdict from the cache, or from the auth service, then its
//!    expiry, its tenant's access (a tenant suspended by billing is refused
//!    with a 403 naming the suspension) and allowed networks checked
//!    against this request, and the request counted towards the key's
//!    usage ([`usage`]);
//! 4. the principal's kind checked against the route;
//! 5. `X-Business-ID`, when sent, matched against the key's tenant;
//! 6. the credential's rate limit.
//!
//! The cache is keyed by an HMAC of the key under a secret that lives only in
//! this process, so the cache never holds a usable key. Verdicts expire
//! quickly, revocations from the bus remove them at once, and while the
//! revocation channel is down only refusals are served from it ([`cache`]).
//! When auth cannot be reached nothing is waved through.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use http::request::Parts;
use rampart_kit::api_key::{KeyHasher, KeyKind, PlaintextApiKey};
use rampart_kit::grpc::TracedChannel;
use rampart_kit::ids::{ApiKeyId, TenantId};
use rampart_kit::networks::AllowedNetworks;
use rampart_kit::origins::AllowedOrigins;
use rampart_kit::principal::{DataMode, Principal, PrincipalKind};
use rampart_kit::rate_limit::Quota;
use rampart_kit::revocation::BusEvent;
use rampart_proto::auth::v1::auth_service_handle::AuthServiceHandle;
use rampart_proto::auth::v1::{PrincipalKind as WireKind, VerifyApiKeyRequest};
use tonic::Code;

use crate::Gateway;
use crate::metrics::Metrics;
use crate::pipeline::ClientAddr;
use crate::problem::ApiError;

const API_KEY: &str = "x-api-key";
const ADMIN_API_KEY: &str = "x-admin-api-key";
const BUSINESS_ID: &str = "x-business-id";
pub(crate) const WIDGET_KEY: &str = "x-widget-key";

mod anonymous;
pub mod cache;
pub mod cookie;
mod request;
pub mod sessions;
pub mod usage;

pub use anonymous::Anonymous;
use cache::{Lookup, Revocable, Ticket, VerdictCache};
use request::{header, limit, limit_address, principal_addr, request_id};
pub use sessions::{OwnerCaller, SessionCaller, TenantUserCaller};

/// What the auth service said about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    kind: PrincipalKind,
    credential_id: String,
    scopes: Vec<String>,
    /// When the key stops working, checked on every request so a cached
    /// verdict never outlives the key.
    expires: Option<SystemTime>,
    networks: AllowedNetworks,
    /// For a widget key: the web origins it may be used from.
    origins: AllowedOrigins,
    /// The tenant's own rate, where it differs from the default.
    quota: Option<Quota>,
    /// Whether the key has a row whose use is counted (the bootstrap admin
    /// key has none).
    counted: bool,
    /// The key's tenant is suspended by billing: refused with a 403.
    suspended: bool,
    /// The key's tenant is isolated by an open incident: refused with a
    /// 403 naming the isolation.
    isolated: bool,
}

impl Revocable for VerifiedKey {
    fn credential_id(&self) -> &str {
        &self.credential_id
    }

    fn subject(&self) -> Option<&str> {
        None
    }

    fn tenant(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::Tenant(tenant) => Some(tenant.as_str()),
            PrincipalKind::PlatformAdmin => None,
        }
    }
}

/// Verifies credentials through the auth service, remembering verdicts
/// briefly in caches that revocations empty (see [`cache`]).
pub struct Authenticator {
    auth: AuthServiceHandle<TracedChannel>,
    /// Keys the cache by an HMAC under a secret of this process only, so the
    /// cache never holds a usable credential.
    hasher: KeyHasher,
    keys: Arc<VerdictCache<VerifiedKey>>,
}

impl Authenticator {
    #[must_use]
    pub fn new(
        auth: AuthServiceHandle<TracedChannel>,
        ttl: Duration,
        negative_ttl: Duration,
    ) -> Self {
        Self {
            auth,
            hasher: KeyHasher::ephemeral(),
            keys: Arc::new(VerdictCache::new(ttl, negative_ttl)),
        }
    }

    /// Applies what the revocation watcher reports to every cache.
    pub fn apply(&self, event: &BusEvent) {
        self.keys.apply(event);
    }

    /// The cached verdict for `key`, without asking auth: what the request
    /// path costs when the cache is hot (see the `key_cache` bench).
    #[must_use]
    pub fn cached_key(&self, key: &PlaintextApiKey) -> Option<VerifiedKey> {
        match self.keys.get(self.hasher.hash(key).as_bytes()) {
            Lookup::Known(verified) | Lookup::Renew(verified, _) => Some(verified),
            Lookup::Unknown | Lookup::Miss(_) => None,
        }
    }

    /// Remembers `verified` for `key` as if auth had just said so (for
    /// benches and tests that measure the cached path).
    pub fn remember(&self, key: &PlaintextApiKey, verified: VerifiedKey) {
        let cache_key = *self.hasher.hash(key).as_bytes();
        if let Lookup::Miss(ticket) = self.keys.get(&cache_key) {
            self.keys.insert(cache_key, Some(verified), ticket);
        }
    }

    /// Says who holds `key`: from the cache when it may be trusted, else
    /// from auth. Records the cache lookup and, for refusals, the outcome
    /// in `metrics`.
    pub async fn verify(
        &self,
        key: &PlaintextApiKey,
        metrics: &Metrics,
    ) -> Result<VerifiedKey, ApiError> {
        let cache_key = *self.hasher.hash(key).as_bytes();
        let lookup = self.keys.get(&cache_key);
        metrics.key_cache(!matches!(lookup, Lookup::Miss(_)));
        let ticket = match lookup {
            Lookup::Known(verified) => return Ok(verified),
            Lookup::Renew(verified, ticket) => {
                self.renew(key, cache_key, ticket);
                return Ok(verified);
            }
            Lookup::Unknown => {
                metrics.key_verification("unknown");
                return Err(invalid_key());
            }
            Lookup::Miss(ticket) => ticket,
        };
        match ask_auth(self.auth.clone(), &self.keys, key, cache_key, ticket).await {
            Ok(Some(verified)) => Ok(verified),
            Ok(None) => {
                metrics.key_verification("unknown");
                Err(invalid_key())
            }
            Err(AskError::Unreadable(error)) => Err(error),
            // Fail closed: an auth service we cannot reach vouches for nobody.
            Err(AskError::Unavailable(status)) => {
                metrics.key_verification("unavailable");
                Err(ApiError::from_backend("auth", &status))
            }
        }
    }

    /// Asks auth about `key` again in the background and stores the answer,
    /// while requests go on using the verdict it has. A key auth no longer
    /// knows is refused from then on; when auth cannot answer, the verdict
    /// simply expires on time and the next request asks.
    fn renew(&self, key: &PlaintextApiKey, cache_key: [u8; 32], ticket: Ticket) {
        let asked = ask_auth(self.auth.clone(), &self.keys, key, cache_key, ticket);
        tokio::spawn(async move {
            match asked.await {
                Ok(_) => {}
                Err(AskError::Unreadable(error)) => {
                    tracing::warn!(?error, "a key renewal's answer was unreadable");
                }
                Err(AskError::Unavailable(status)) => {
                    tracing::warn!(%status, "a key renewal failed; the verdict expires");
                }
            }
        });
    }
}

/// Why auth gave no verdict on a key.
enum AskError {
    /// Auth answered with something this gateway cannot read.
    Unreadable(ApiError),
    /// Auth could not be asked, or failed to answer.
    Unavailable(tonic::Status),
}

/// Asks auth who holds `key` and stores the verdict in `keys` under
/// `ticket` (so a revocation since the ticket was drawn still wins): the
/// holder, or `None` for a key auth does not know. The returned future owns
/// what it needs, so it can run in the background.
fn ask_auth(
    mut auth: AuthServiceHandle<TracedChannel>,
    keys: &Arc<VerdictCache<VerifiedKey>>,
    key: &PlaintextApiKey,
    cache_key: [u8; 32],
    ticket: Ticket,
) -> impl Future<Output = Result<Option<VerifiedKey>, AskError>> + Send + 'static {
    let keys = keys.clone();
    let request = VerifyApiKeyRequest {
        api_key: key.expose().to_owned(),
    };
    async move {
        let verdict = match auth.verify_api_key(request).await {
            Ok(response) => Some(
                VerifiedKey::from_response(response.into_inner()).map_err(AskError::Unreadable)?,
            ),
            Err(status) if status.code() == Code::Unauthenticated => None,
            Err(status) => return Err(AskError::Unavailable(status)),
        };
        keys.insert(cache_key, verdict.clone(), ticket);
        Ok(verdict)
    }
}

fn invalid_key() -> ApiError {
    ApiError::unauthenticated("invalid API key")
}

/// The refusal of a credential whose tenant billing suspended (or
/// canceled): 403, not 401, since the credential itself is valid and
/// comes back with the tenant's access; its own type and title so clients
/// can tell it from a missing permission.
pub(crate) fn tenant_suspended() -> ApiError {
    ApiError {
        status: http::StatusCode::FORBIDDEN,
        slug: "tenant-suspended",
        title: "Tenant suspended",
        detail: "this tenant's access is suspended (billing); its data is kept and access returns once the account is active again".to_owned(),
        retry_after: None,
    }
}

/// The refusal of a credential whose tenant an open incident isolates
/// (`rampart incident contain --tenant`): 403, with a type of its own so
/// neither a client nor an operator mistakes it for billing; it lasts until
/// the incident is restored, whatever billing does.
pub(crate) fn tenant_isolated() -> ApiError {
    ApiError {
        status: http::StatusCode::FORBIDDEN,
        slug: "tenant-isolated",
        title: "Tenant isolated",
        detail: "this tenant's access is isolated by a security incident; its data is kept and access returns once the incident is restored".to_owned(),
        retry_after: None,
    }
}

impl VerifiedKey {
    /// Reads auth's answer.
    pub fn from_response(
        response: rampart_proto::auth::v1::VerifyApiKeyResponse,
    ) -> Result<Self, ApiError> {
        let kind = match response.kind() {
            WireKind::PlatformAdmin => PrincipalKind::PlatformAdmin,
            WireKind::Tenant => PrincipalKind::Tenant(
                TenantId::parse(&response.tenant_id)
                    .map_err(|_| ApiError::internal("auth returned a malformed tenant id"))?,
            ),
            WireKind::Unspecified => {
                return Err(ApiError::internal("auth returned no principal kind"));
            }
        };
        let expires = u64::try_from(response.expires_at_ms)
            .ok()
            .filter(|ms| *ms > 0)
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
        let networks = AllowedNetworks::parse(&response.allowed_networks)
            .map_err(|_| ApiError::internal("auth returned malformed networks"))?;
        let origins = AllowedOrigins::parse(&response.allowed_origins)
            .map_err(|_| ApiError::internal("auth returned malformed origins"))?;
        let quota = (response.rate_limit_per_minute > 0)
            .then(|| Quota::per_minute(response.rate_limit_per_minute));
        Ok(VerifiedKey {
            // Platform admin keys are never suspended.
            suspended: response.tenant_suspended && matches!(kind, PrincipalKind::Tenant(_)),
            isolated: response.tenant_isolated && matches!(kind, PrincipalKind::Tenant(_)),
            kind,
            counted: ApiKeyId::parse(&response.credential_id).is_ok(),
            credential_id: response.credential_id,
            scopes: response.scopes,
            expires,
            networks,
            origins,
            quota,
        })
    }
}

/// A caller holding a valid key of one tenant.
#[derive(Debug, Clone)]
pub struct TenantCaller {
    pub principal: Principal,
    pub tenant: TenantId,
}

/// A caller holding a valid platform admin key.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    pub principal: Principal,
}

impl FromRequestParts<Arc<Gateway>> for TenantCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, ApiError> {
        // A signed-in tenant user instead of a key ([`sessions`]).
        if let Some((principal, tenant)) = sessions::tenant_session(parts, gateway).await? {
            return Ok(Self { principal, tenant });
        }
        let key = presented_key(
            parts,
            gateway,
            API_KEY,
            "send a tenant API key in the X-API-Key header",
        )
        .await?;
        match key.kind() {
            KeyKind::Admin => {
                return Err(ApiError::forbidden(
                    "this route needs a tenant API key, not an admin key",
                ));
            }
            KeyKind::Widget => {
                return Err(ApiError::forbidden(
                    "a widget key may only start conversations and post their messages (/v1/widget/conversations)",
                ));
            }
            KeyKind::Live | KeyKind::Test => {}
        }
        let verified = verified_key(parts, gateway, &key).await?;
        let PrincipalKind::Tenant(tenant) = verified.kind.clone() else {
            return Err(ApiError::forbidden("this route needs a tenant API key"));
        };
        if let Some(business_id) = header(parts, BUSINESS_ID)?
            && business_id != tenant.as_str()
        {
            return Err(ApiError::forbidden(
                "X-Business-ID does not match the API key's tenant",
            ));
        }
        limit_credential(parts, gateway, &verified).await?;
        Ok(Self {
            principal: principal(parts, verified, key.kind()),
            tenant,
        })
    }
}

impl FromRequestParts<Arc<Gateway>> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, ApiError> {
        // A signed-in platform admin instead of a key ([`sessions`]).
        if let Some(principal) = sessions::admin_session(parts, gateway).await? {
            return Ok(Self { principal });
        }
        let key = presented_key(
            parts,
            gateway,
            ADMIN_API_KEY,
            "send a platform admin key in the X-Admin-API-Key header",
        )
        .await?;
        if key.kind() != KeyKind::Admin {
            return Err(invalid_key());
        }
        let verified = verified_key(parts, gateway, &key).await?;
        if verified.kind != PrincipalKind::PlatformAdmin {
            return Err(invalid_key());
        }
        limit_credential(parts, gateway, &verified).await?;
        Ok(Self {
            principal: principal(parts, verified, key.kind()),
        })
    }
}

/// A website widget: a public widget key, used from one of its web origins.
#[derive(Debug, Clone)]
pub struct WidgetCaller {
    pub principal: Principal,
    pub tenant: TenantId,
    /// The browser's `Origin`, one of the key's allowed origins.
    pub origin: String,
}

impl FromRequestParts<Arc<Gateway>> for WidgetCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, ApiError> {
        let key = presented_key(
            parts,
            gateway,
            WIDGET_KEY,
            "send the widget's public key in the X-Widget-Key header",
        )
        .await?;
        if key.kind() != KeyKind::Widget {
            return Err(ApiError::unauthenticated(
                "this route takes a widget key (rk_pub_...); never put a secret key in a web page",
            ));
        }
        let origin = header(parts, "origin")?
            .ok_or_else(|| ApiError::forbidden("widget requests must come from a browser origin"))?
            .to_owned();
        let verified = verified_key(parts, gateway, &key).await?;
        let PrincipalKind::Tenant(tenant) = verified.kind.clone() else {
            return Err(invalid_key());
        };
        if !verified.origins.allows(&origin) {
            return Err(ApiError::forbidden(
                "this widget key may not be used from this origin",
            ));
        }
        limit_credential(parts, gateway, &verified).await?;
        Ok(Self {
            principal: principal(parts, verified, key.kind()),
            tenant,
            origin,
        })
    }
}

/// Steps 1 and 2: the client address's limit, then the key in `header_name`
/// parsed offline. `missing` tells the client what to send.
async fn presented_key(
    parts: &Parts,
    gateway: &Gateway,
    header_name: &str,
    missing: &str,
) -> Result<PlaintextApiKey, ApiError> {
    limit_address(parts, gateway).await?;
    let text = header(parts, header_name)?.ok_or_else(|| ApiError::unauthenticated(missing))?;
    PlaintextApiKey::parse(text).map_err(|_| {
        gateway.metrics.key_verification("malformed");
        ApiError::unauthenticated("malformed API key")
    })
}

/// Step 3: the key's verdict, then what it says about this request: not
/// expired, used from an allowed network. A request that passes is counted
/// towards the key's usage.
async fn verified_key(
    parts: &Parts,
    gateway: &Gateway,
    key: &PlaintextApiKey,
) -> Result<VerifiedKey, ApiError> {
    let metrics = &gateway.metrics;
    let verified = gateway.authenticator.verify(key, metrics).await?;
    if verified
        .expires
        .is_some_and(|expires| expires <= SystemTime::now())
    {
        metrics.key_verification("expired");
        return Err(invalid_key());
    }
    if verified.isolated {
        metrics.key_verification("tenant_isolated");
        return Err(tenant_isolated());
    }
    if verified.suspended {
        metrics.key_verification("tenant_suspended");
        return Err(tenant_suspended());
    }
    if !verified.networks.is_empty() {
        let address = parts.extensions.get::<ClientAddr>().map(|addr| addr.0.ip());
        if !address.is_some_and(|address| verified.networks.allows(address)) {
            metrics.key_verification("network_refused");
            return Err(ApiError::forbidden(
                "this API key may not be used from this network",
            ));
        }
    }
    metrics.key_verification("valid");
    if verified.counted {
        gateway.usage.count(&verified.credential_id);
    }
    Ok(verified)
}

/// Step 6: the credential's own limit, the tenant's where it has one.
async fn limit_credential(
    parts: &Parts,
    gateway: &Gateway,
    verified: &VerifiedKey,
) -> Result<(), ApiError> {
    let bucket = format!("cred:{}", verified.credential_id);
    let quota = verified.quota.unwrap_or(gateway.config.per_credential);
    limit(parts, gateway, &bucket, quota, "credential").await
}

/// The principal the gateway acts as for a caller that holds no credential
/// but proved itself another way (the billing webhook's signature): a
/// platform principal whose audit actor is `system:<name>`. Only the
/// handler that checked that proof may build it.
pub(crate) fn system_principal(parts: &Parts, name: &str) -> Principal {
    Principal {
        mode: DataMode::Live,
        client_addr: principal_addr(parts),
        kind: PrincipalKind::PlatformAdmin,
        credential_id: format!("system:{name}"),
        scopes: Vec::new(),
        request_id: request_id(parts),
        user: None,
    }
}

/// The principal of a verified key. A `rk_test_` key works in its tenant's
/// test mode; every other key is live.
fn principal(parts: &Parts, verified: VerifiedKey, kind: KeyKind) -> Principal {
    Principal {
        mode: if kind == KeyKind::Test {
            DataMode::Test
        } else {
            DataMode::Live
        },
        client_addr: principal_addr(parts),
        kind: verified.kind,
        credential_id: verified.credential_id,
        scopes: verified.scopes,
        request_id: request_id(parts),
        user: None,
    }
}
