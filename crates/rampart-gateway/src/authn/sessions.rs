//! Signed-in people at the edge: `Authorization: Bearer <session token>`,
//! or the console's `HttpOnly` session cookie with its CSRF token
//! ([`cookie`]).
//!
//! [`SessionCache`] remembers what auth said about a token for a few
//! seconds in a [`VerdictCache`], keyed by an HMAC of the token and the
//! client address under a secret that lives only in this process (so the
//! cache never holds a usable token, and a token from a new address asks
//! auth again, which applies the new-client policy). Revocations from the
//! bus remove a session's entries (`Credential`) or all of a user's
//! (`Subject`: a role change, a disabled user, a password change), so they
//! take effect on the very next request; while the bus is down nothing
//! positive is served from the cache. The routes that change a user also
//! revoke locally before answering, so this gateway never waits for the
//! bus for its own changes. An entry never outlives the session's own end.
//!
//! A session whose tenant billing suspended is refused with a 403 naming
//! the suspension (after its verdict, which is cached like any other and
//! dropped by the tenant's revocation when its access changes).
//!
//! The extractors: [`SessionCaller`] (anyone signed in), [`OwnerCaller`]
//! (a tenant owner); `TenantCaller` and `AdminCaller` also accept a session
//! of the right kind through [`tenant_session`] and [`admin_session`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use http::request::Parts;
use rampart_kit::ids::TenantId;
use rampart_kit::principal::{Principal, PrincipalKind, Role, SignedInUser};
use rampart_kit::revocation::{BusEvent, Revocation};
use rampart_proto::auth::v1::{PrincipalKind as WireKind, VerifySessionRequest};
use ring::hmac;
use tonic::Code;

use super::cache::{Lookup, Revocable, Ticket, VerdictCache};
use super::cookie;
use super::request::{client_ip, header, limit, limit_address, request_id};
use crate::Gateway;
use crate::problem::ApiError;

const SESSION_PREFIX: &str = "rs_";

/// Who a session belongs to, as auth said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdentity {
    pub session_id: String,
    pub user_id: String,
    pub kind: PrincipalKind,
    pub role: Role,
    /// When the session ends (absolute or idle), as auth computed it.
    pub ends: Instant,
    /// The user's tenant is suspended by billing: refused with a 403.
    pub tenant_suspended: bool,
    /// The user's tenant is isolated by an open incident: refused with a
    /// 403 naming the isolation.
    pub tenant_isolated: bool,
}

impl Revocable for SessionIdentity {
    fn credential_id(&self) -> &str {
        &self.session_id
    }

    fn subject(&self) -> Option<&str> {
        Some(&self.user_id)
    }

    fn tenant(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::Tenant(tenant) => Some(tenant.as_str()),
            PrincipalKind::PlatformAdmin => None,
        }
    }
}

/// Session verdicts, voided by revocations.
pub struct SessionCache {
    key: hmac::Key,
    verdicts: VerdictCache<SessionIdentity>,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("trusted", &self.verdicts.is_trusted())
            .finish_non_exhaustive()
    }
}

/// What the cache knows about a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Cached {
    Valid(SessionIdentity),
    Refused,
    /// Ask auth, then [`SessionCache::insert`] with the ticket.
    Miss(Ticket),
}

impl SessionCache {
    /// A cache that trusts nothing until the revocation channel is up.
    #[must_use]
    pub fn new(ttl: Duration, negative_ttl: Duration) -> Self {
        let secret = rampart_kit::secret::random_bytes::<32>();
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            verdicts: VerdictCache::new(ttl, negative_ttl),
        }
    }

    /// The cache key of `token` presented from `client`.
    #[must_use]
    pub fn key_of(&self, token: &str, client: &str) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(token.as_bytes());
        context.update(&[0]);
        context.update(client.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(context.sign().as_ref());
        key
    }

    /// The remembered verdict for a token from `client`: the request
    /// path's cost when the cache is hot (see the `session_cache` bench).
    #[must_use]
    pub fn get(&self, token: &str, client: &str) -> Cached {
        match self.verdicts.get(&self.key_of(token, client)) {
            // Not renewed ahead: a session's verdict is renewed on its
            // miss, as auth's check is also what keeps its idle clock.
            Lookup::Known(identity) | Lookup::Renew(identity, _)
                if identity.ends > Instant::now() =>
            {
                Cached::Valid(identity)
            }
            Lookup::Known(_) | Lookup::Renew(..) => Cached::Refused,
            Lookup::Unknown => Cached::Refused,
            Lookup::Miss(ticket) => Cached::Miss(ticket),
        }
    }

    /// Remembers auth's verdict, unless a revocation came in between.
    pub fn insert(
        &self,
        token: &str,
        client: &str,
        identity: Option<SessionIdentity>,
        ticket: Ticket,
    ) {
        self.verdicts
            .insert(self.key_of(token, client), identity, ticket);
    }

    /// Applies what the revocation watcher reports.
    pub fn apply(&self, event: &BusEvent) {
        self.verdicts.apply(event);
    }

    /// Forgets every cached verdict of `user_id`, here and now.
    pub fn revoke_subject(&self, user_id: &str) {
        self.verdicts
            .revoke(&Revocation::Subject(user_id.to_owned()));
    }

    /// Forgets the cached verdicts of one session, here and now.
    pub fn revoke_session(&self, session_id: &str) {
        self.verdicts
            .revoke(&Revocation::Credential(session_id.to_owned()));
    }
}

fn invalid_session() -> ApiError {
    ApiError::unauthenticated("invalid or expired session")
}

/// The session token of the request: its bearer token, or else the
/// console's session cookie, whose unsafe requests must also pass the CSRF
/// check ([`cookie`]). A malformed token is refused without asking anyone.
fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let token = match header(parts, http::header::AUTHORIZATION.as_str())? {
        Some(value) => value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "the Authorization header must be \"Bearer <session token>\"",
                )
            })?
            .trim(),
        None => match cookie::session_from_cookies(&parts.headers) {
            Some(token) => {
                well_formed(token)?;
                cookie::check_csrf(parts, token)?;
                return Ok(Some(token));
            }
            None => return Ok(None),
        },
    };
    well_formed(token)?;
    Ok(Some(token))
}

fn well_formed(token: &str) -> Result<(), ApiError> {
    let well_formed = token.strip_prefix(SESSION_PREFIX).is_some_and(|body| {
        body.len() == 64 && body.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if well_formed {
        Ok(())
    } else {
        Err(invalid_session())
    }
}

/// Who holds `token`: from the cache, or from auth (fail closed).
async fn verify(
    gateway: &Gateway,
    token: &str,
    client: &str,
    request_id: &str,
) -> Result<SessionIdentity, ApiError> {
    let ticket = match gateway.sessions.get(token, client) {
        Cached::Valid(identity) => return Ok(identity),
        Cached::Refused => return Err(invalid_session()),
        Cached::Miss(ticket) => ticket,
    };
    let mut request = tonic::Request::new(VerifySessionRequest {
        token: token.to_owned(),
        client_address: client.to_owned(),
    });
    if let Ok(value) = request_id.parse() {
        request
            .metadata_mut()
            .insert(rampart_kit::principal::REQUEST_ID, value);
    }
    match gateway
        .backends
        .accounts
        .clone()
        .verify_session(request)
        .await
    {
        Ok(response) => {
            let response = response.into_inner();
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
            let role = Role::parse(&response.role)
                .ok_or_else(|| ApiError::internal("auth returned an unknown role"))?;
            let remaining_ms = u64::try_from(response.expires_at_ms - unix_now_ms()).unwrap_or(0);
            // Auth never sets it for a platform admin, who has no tenant;
            // this side makes sure.
            let tenant_suspended =
                response.tenant_suspended && matches!(kind, PrincipalKind::Tenant(_));
            let tenant_isolated =
                response.tenant_isolated && matches!(kind, PrincipalKind::Tenant(_));
            let identity = SessionIdentity {
                session_id: response.session_id,
                user_id: response.user_id,
                kind,
                role,
                ends: Instant::now() + Duration::from_millis(remaining_ms),
                tenant_suspended,
                tenant_isolated,
            };
            gateway
                .sessions
                .insert(token, client, Some(identity.clone()), ticket);
            Ok(identity)
        }
        Err(status) if status.code() == Code::Unauthenticated => {
            gateway.sessions.insert(token, client, None, ticket);
            Err(invalid_session())
        }
        // Fail closed: an auth service we cannot reach vouches for nobody.
        Err(status) => Err(ApiError::from_backend("auth", &status)),
    }
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The principal of a session, after the address's and the session's rate
/// limits; `None` when the request carries no bearer token.
async fn session_principal(
    parts: &Parts,
    gateway: &Gateway,
) -> Result<Option<Principal>, ApiError> {
    let Some(token) = bearer(parts)? else {
        return Ok(None);
    };
    limit_address(parts, gateway).await?;
    let request_id = request_id(parts);
    let client = client_ip(parts);
    let identity = verify(gateway, token, &client, &request_id).await?;
    // The isolation first: an incident outranks billing in the answer.
    if identity.tenant_isolated {
        return Err(super::tenant_isolated());
    }
    if identity.tenant_suspended {
        return Err(super::tenant_suspended());
    }
    let bucket = format!("cred:{}", identity.session_id);
    limit(
        parts,
        gateway,
        &bucket,
        gateway.config.per_credential,
        "session",
    )
    .await?;
    Ok(Some(Principal {
        mode: rampart_kit::principal::DataMode::Live,
        // "unknown" is how the session code names a missing address; the
        // principal carries only a real one.
        client_addr: if client == "unknown" {
            String::new()
        } else {
            client
        },
        kind: identity.kind,
        credential_id: identity.session_id,
        scopes: vec!["read".to_owned(), "write".to_owned()],
        request_id,
        user: Some(SignedInUser {
            id: identity.user_id,
            role: identity.role,
        }),
    }))
}

/// For `TenantCaller`: a tenant user's session, when the request sent a
/// bearer token.
pub(crate) async fn tenant_session(
    parts: &Parts,
    gateway: &Gateway,
) -> Result<Option<(Principal, TenantId)>, ApiError> {
    let Some(principal) = session_principal(parts, gateway).await? else {
        return Ok(None);
    };
    let PrincipalKind::Tenant(tenant) = principal.kind.clone() else {
        return Err(ApiError::forbidden(
            "this route needs a tenant user's session or a tenant API key",
        ));
    };
    if let Some(business_id) = header(parts, "x-business-id")?
        && business_id != tenant.as_str()
    {
        return Err(ApiError::forbidden(
            "X-Business-ID does not match the session's tenant",
        ));
    }
    Ok(Some((principal, tenant)))
}

/// For `AdminCaller`: a platform admin's session, when the request sent a
/// bearer token.
pub(crate) async fn admin_session(
    parts: &Parts,
    gateway: &Gateway,
) -> Result<Option<Principal>, ApiError> {
    let Some(principal) = session_principal(parts, gateway).await? else {
        return Ok(None);
    };
    if principal.kind != PrincipalKind::PlatformAdmin {
        return Err(ApiError::forbidden("this route needs a platform admin"));
    }
    Ok(Some(principal))
}

/// Anyone signed in, tenant user or platform admin.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    pub principal: Principal,
}

impl SessionCaller {
    /// PermissionDenied as a problem response unless the role is at least
    /// `needed`.
    pub fn require_role(&self, needed: Role) -> Result<&SignedInUser, ApiError> {
        self.principal
            .require_role(needed)
            .map_err(|status| ApiError::forbidden(status.message()))
    }
}

impl FromRequestParts<Arc<Gateway>> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, ApiError> {
        let principal = session_principal(parts, gateway).await?.ok_or_else(|| {
            ApiError::unauthenticated("sign in and send Authorization: Bearer <session token>")
        })?;
        Ok(Self { principal })
    }
}

/// A tenant's user (owner, manager or agent), signed in: the people who
/// answer conversations and work the handoff queue. A platform admin's
/// session is refused at the edge; which role a step needs is the
/// backend's check.
#[derive(Debug, Clone)]
pub struct TenantUserCaller {
    pub principal: Principal,
}

impl FromRequestParts<Arc<Gateway>> for TenantUserCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, ApiError> {
        // A valid API key is a known caller of the wrong kind: 403, not the
        // 401 that tells a client to sign in again.
        if bearer(parts)?.is_none() && parts.headers.contains_key(super::API_KEY) {
            let key = super::presented_key(parts, gateway, super::API_KEY, "").await?;
            super::verified_key(parts, gateway, &key).await?;
            return Err(ApiError::forbidden(
                "this route is for a tenant's signed-in user; an API key cannot act as one",
            ));
        }
        let caller = SessionCaller::from_request_parts(parts, gateway).await?;
        if caller.principal.tenant_id().is_none() {
            return Err(ApiError::forbidden("this route needs a tenant's user"));
        }
        Ok(Self {
            principal: caller.principal,
        })
    }
}

/// A tenant's owner, signed in. Routes that change users, roles and the
/// tenant's security settings take this, so an agent or a manager is
/// refused at the edge before any backend is asked.
#[derive(Debug, Clone)]
pub struct OwnerCaller {
    pub principal: Principal,
}

impl FromRequestParts<Arc<Gateway>> for OwnerCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, ApiError> {
        let caller = SessionCaller::from_request_parts(parts, gateway).await?;
        caller.require_role(Role::Owner)?;
        Ok(Self {
            principal: caller.principal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(user: &str) -> SessionIdentity {
        SessionIdentity {
            session_id: format!("ses_{user}"),
            user_id: format!("usr_{user}"),
            kind: PrincipalKind::PlatformAdmin,
            role: Role::Admin,
            ends: Instant::now() + Duration::from_secs(3600),
            tenant_suspended: false,
            tenant_isolated: false,
        }
    }

    fn cache() -> SessionCache {
        let cache = SessionCache::new(Duration::from_secs(10), Duration::from_secs(2));
        cache.apply(&BusEvent::ChannelUp);
        cache
    }

    fn store(cache: &SessionCache, token: &str, client: &str, identity: Option<SessionIdentity>) {
        let Cached::Miss(ticket) = cache.get(token, client) else {
            panic!("expected a miss");
        };
        cache.insert(token, client, identity, ticket);
    }

    #[test]
    fn verdicts_are_remembered_per_token_and_address() {
        let cache = cache();
        store(&cache, "rs_a", "10.0.0.1", Some(identity("a")));
        store(&cache, "rs_b", "10.0.0.1", None);
        assert!(
            matches!(cache.get("rs_a", "10.0.0.1"), Cached::Valid(_)),
            "{:?}",
            cache.get("rs_a", "10.0.0.1")
        );
        assert_eq!(cache.get("rs_b", "10.0.0.1"), Cached::Refused);
        // Another address is another entry: auth is asked again.
        assert!(matches!(cache.get("rs_a", "10.0.0.2"), Cached::Miss(_)));
    }

    #[test]
    fn revocations_remove_a_session_or_a_user() {
        let cache = cache();
        store(&cache, "rs_a", "ip", Some(identity("a")));
        store(&cache, "rs_b", "ip", Some(identity("b")));
        cache.revoke_subject("usr_a");
        assert!(matches!(cache.get("rs_a", "ip"), Cached::Miss(_)));
        assert!(matches!(cache.get("rs_b", "ip"), Cached::Valid(_)));
        cache.revoke_session("ses_b");
        assert!(matches!(cache.get("rs_b", "ip"), Cached::Miss(_)));
        // Nothing positive is served while the bus is down.
        store(&cache, "rs_a", "ip", Some(identity("a")));
        cache.apply(&BusEvent::ChannelDown);
        assert!(matches!(cache.get("rs_a", "ip"), Cached::Miss(_)));
    }

    #[test]
    fn entries_end_with_the_session() {
        let cache = cache();
        let mut ended = identity("a");
        ended.ends = Instant::now();
        store(&cache, "rs_a", "ip", Some(ended));
        assert_eq!(cache.get("rs_a", "ip"), Cached::Refused);
    }
}
