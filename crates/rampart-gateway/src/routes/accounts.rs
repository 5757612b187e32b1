//! Signing in and out, the signed-in user's sessions, password and second
//! factor.
//!
//! The sign-in steps run before anyone is authenticated: they are rate
//! limited per client address here, and auth throttles each account and
//! address and audits every attempt. Revocations made through these routes
//! also void this gateway's cached verdicts before the answer leaves, so the
//! very next request sees them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, header};
use rampart_kit::secret::{OneTimeCode, Password, RecoveryCode, SessionToken};
use rampart_proto::auth::v1::{
    BeginTotpEnrolmentRequest, ChangePasswordRequest, CompleteSecondFactorRequest,
    ConfirmTotpRequest, EnrolForChallengeRequest, GetMeRequest, ListSessionsRequest,
    RevokeSessionRequest, RevokeUserSessionsRequest, RevokedSessions, SignInRequest,
    SignInResponse, SignInRoute, SignOutRequest, TotpEnrolment, User,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::Gateway;
use crate::authn::{Anonymous, SessionCaller, cookie};
use crate::backends::{call, send};
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// A user's email and password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The user's tenant (ten_...); required on the public route.
    #[serde(default)]
    #[schema(required = true, pattern = "^ten_[0-9a-f]{32}$")]
    tenant_id: String,
    email: String,
    #[schema(value_type = String)]
    password: Password,
}

/// The answer to a sign-in step: a session, or a second-factor challenge.
// It shows its secrets once, to the client; its `Debug` hides them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    /// The bearer token (rs_...), shown once; with a session only.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<String>,
    /// With a session only.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    /// With a session only.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    /// RFC 3339: when the session, or the challenge, ends.
    expires_at: String,
    /// True when a second factor must be sent to
    /// `POST /v1/auth/second-factor` with `challenge`.
    second_factor_required: bool,
    /// The challenge token; with `second_factor_required` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge: Option<String>,
    /// Present (true) when the account has no second factor yet: enrol with
    /// `POST /v1/auth/second-factor/enrol`, then complete with the first code.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enrolment_required: bool,
    /// One-time recovery codes, shown once: present only when this sign-in
    /// confirmed a new second factor.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recovery_codes: Vec<String>,
    /// With a session delivered as the console's cookie
    /// (`X-Session-Transport: cookie`) instead of `session_token`: send it
    /// as `X-CSRF-Token` on every request that changes something.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

impl SignedIn {
    fn from_wire(response: SignInResponse) -> Result<Self, ApiError> {
        if let Some(session) = response.session {
            return Ok(Self {
                session_token: Some(session.token),
                session_id: Some(session.session_id),
                user_id: Some(session.user_id),
                expires_at: session.expires_at,
                second_factor_required: false,
                challenge: None,
                enrolment_required: false,
                recovery_codes: response.recovery_codes,
                csrf_token: None,
            });
        }
        let challenge = response
            .challenge
            .ok_or_else(|| ApiError::internal("auth answered neither session nor challenge"))?;
        Ok(Self {
            session_token: None,
            session_id: None,
            user_id: None,
            expires_at: challenge.expires_at,
            second_factor_required: true,
            challenge: Some(challenge.challenge),
            enrolment_required: challenge.enrolment_required,
            recovery_codes: Vec::new(),
            csrf_token: None,
        })
    }

    /// The answer, with a session moved into the console's cookie when the
    /// request asked for it (read with [`cookie::wants_cookie`] before
    /// anything is asked of auth, so a bad header creates no session).
    fn deliver(mut self, in_cookie: bool) -> Response {
        let token = match self.session_token.take() {
            Some(token) if in_cookie => token,
            token => {
                self.session_token = token;
                return Json(self).into_response();
            }
        };
        self.csrf_token = Some(cookie::csrf_token(&token));
        let mut response = Json(self).into_response();
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie::set_session(&token));
        response
    }
}

/// How the sign-in steps document the cookie transport.
const TRANSPORT_DOC: &str = "\"cookie\" (the console): the session goes into an HttpOnly, Secure, SameSite=Strict cookie and the answer carries csrf_token instead of session_token; \"bearer\" or absent: session_token";

async fn sign_in(
    gateway: &Gateway,
    anonymous: &Anonymous,
    route: SignInRoute,
    body: SignIn,
) -> Result<SignedIn, ApiError> {
    let request = anonymous.request(SignInRequest {
        route: route.into(),
        tenant_id: body.tenant_id,
        email: body.email,
        password: body.password.expose().to_owned(),
        client_address: anonymous.client.clone(),
    });
    let response = send(
        &gateway.backends.accounts,
        request,
        async |mut accounts, request| accounts.sign_in(request).await,
    )
    .await?;
    SignedIn::from_wire(response)
}

/// `POST /v1/auth/sign-in`: a tenant's user signs in with
/// `{"tenant_id", "email", "password"}`. A platform admin's account is
/// refused here exactly like a wrong password.
#[utoipa::path(
    post,
    path = "/v1/auth/sign-in",
    tag = "accounts",
    request_body = SignIn,
    params(("X-Session-Transport" = Option<String>, Header, description = TRANSPORT_DOC)),
    responses(
        (status = 200, description = "A session, or a challenge when a second factor is required", body = SignedIn),
        (status = 400, description = "tenant_id is missing or not a valid tenant id"),
        (status = 401, description = "Invalid email or password (also for a disabled account, or a platform admin on this route)"),
        (status = 429, description = "Too many requests from this address, too many failed attempts, or too many sign-ins in progress (not evaluated, not counted); see Retry-After when rate limited"),
        (status = 503, description = "The auth service (or the rate limiter) is unavailable; retry later"),
    ),
)]
pub async fn sign_in_public(
    State(gateway): State<Arc<Gateway>>,
    anonymous: Anonymous,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let in_cookie = cookie::wants_cookie(&headers)?;
    if body.tenant_id.is_empty() {
        return Err(ApiError::invalid("tenant_id is required"));
    }
    Ok(sign_in(&gateway, &anonymous, SignInRoute::Public, body)
        .await?
        .deliver(in_cookie))
}

/// `POST /v1/auth/{admin_path}/sign-in`: platform admins only, where the
/// segment is the secret `admin_sign_in_path`. The route is mounted as a
/// template (see `routes::ADMIN_SIGN_IN`) so that metrics and logs never
/// carry the secret. Another segment, or none configured, answers exactly
/// like an unknown path, whatever the method, before anything else is read
/// or counted; the segment is compared in constant time.
pub async fn sign_in_admin(
    State(gateway): State<Arc<Gateway>>,
    request: Request,
) -> Result<Response, ApiError> {
    let segment = request
        .uri()
        .path()
        .strip_prefix("/v1/auth/")
        .and_then(|rest| rest.strip_suffix("/sign-in"))
        .unwrap_or_default();
    let secret = gateway.config.admin_sign_in_path.as_deref();
    if !secret.is_some_and(|secret| bool::from(segment.as_bytes().ct_eq(secret.as_bytes()))) {
        return Err(ApiError::not_found());
    }
    if request.method() != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let (mut parts, body) = request.into_parts();
    let in_cookie = cookie::wants_cookie(&parts.headers)?;
    let anonymous = Anonymous::from_request_parts(&mut parts, &gateway).await?;
    let JsonBody(body) =
        JsonBody::<SignIn>::from_request(Request::from_parts(parts, body), &gateway).await?;
    if !body.tenant_id.is_empty() {
        return Err(ApiError::invalid(
            "platform admins sign in without a tenant_id",
        ));
    }
    Ok(sign_in(&gateway, &anonymous, SignInRoute::Admin, body)
        .await?
        .deliver(in_cookie))
}

/// The second sign-in step: exactly one of `code` and `recovery_code`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactor {
    /// The challenge from the sign-in answer.
    #[schema(value_type = String)]
    challenge: SessionToken,
    /// The authenticator app's current code.
    #[serde(default)]
    #[schema(value_type = String)]
    code: Option<OneTimeCode>,
    /// One of the account's unused recovery codes.
    #[serde(default)]
    #[schema(value_type = String)]
    recovery_code: Option<RecoveryCode>,
}

/// `POST /v1/auth/second-factor`: `{"challenge", "code"}` or
/// `{"challenge", "recovery_code"}`.
#[utoipa::path(
    post,
    path = "/v1/auth/second-factor",
    tag = "accounts",
    request_body = SecondFactor,
    params(("X-Session-Transport" = Option<String>, Header, description = TRANSPORT_DOC)),
    responses(
        (status = 200, description = "The session; with recovery codes when this confirmed a new second factor", body = SignedIn),
        (status = 400, description = "Neither or both of code and recovery_code"),
        (status = 401, description = "The challenge is unknown, expired or used, or the code is wrong (five wrong codes in a row end all of the user's sessions)"),
        (status = 429, description = "Too many requests from this address, or too many failed attempts; see Retry-After when rate limited"),
        (status = 503, description = "The auth service (or the rate limiter) is unavailable; retry later"),
    ),
)]
pub async fn second_factor(
    State(gateway): State<Arc<Gateway>>,
    anonymous: Anonymous,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SecondFactor>,
) -> Result<Response, ApiError> {
    let in_cookie = cookie::wants_cookie(&headers)?;
    let request = anonymous.request(CompleteSecondFactorRequest {
        challenge: body.challenge.expose().to_owned(),
        code: body
            .code
            .as_ref()
            .map(|code| code.expose().to_owned())
            .unwrap_or_default(),
        recovery_code: body
            .recovery_code
            .as_ref()
            .map(|code| code.expose().to_owned())
            .unwrap_or_default(),
        client_address: anonymous.client.clone(),
    });
    let response = send(
        &gateway.backends.accounts,
        request,
        async |mut accounts, request| accounts.complete_second_factor(request).await,
    )
    .await?;
    Ok(SignedIn::from_wire(response)?.deliver(in_cookie))
}

/// A new TOTP secret, shown once.
// Its `Debug` hides it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// Base32, to type into an authenticator app.
    secret: String,
    /// An `otpauth://` URI, for a QR code.
    provisioning_uri: String,
}

impl From<TotpEnrolment> for Enrolment {
    fn from(enrolment: TotpEnrolment) -> Self {
        Self {
            secret: enrolment.secret,
            provisioning_uri: enrolment.provisioning_uri,
        }
    }
}

/// A sign-in challenge.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeOnly {
    /// The challenge from the sign-in answer.
    #[schema(value_type = String)]
    challenge: SessionToken,
}

/// `POST /v1/auth/second-factor/enrol`: for an account that must have a
/// second factor and has none yet; complete with the first code.
#[utoipa::path(
    post,
    path = "/v1/auth/second-factor/enrol",
    tag = "accounts",
    request_body = ChallengeOnly,
    responses(
        (status = 200, description = "A new TOTP secret; send its first code to POST /v1/auth/second-factor", body = Enrolment),
        (status = 401, description = "The challenge is unknown, expired or used"),
        (status = 409, description = "The account already has a second factor"),
        (status = 429, description = "Too many requests from this address, or too many failed attempts; see Retry-After when rate limited"),
        (status = 503, description = "The auth service (or the rate limiter) is unavailable; retry later"),
    ),
)]
pub async fn enrol_for_challenge(
    State(gateway): State<Arc<Gateway>>,
    anonymous: Anonymous,
    JsonBody(body): JsonBody<ChallengeOnly>,
) -> Result<Json<Enrolment>, ApiError> {
    let request = anonymous.request(EnrolForChallengeRequest {
        challenge: body.challenge.expose().to_owned(),
    });
    let enrolment = send(
        &gateway.backends.accounts,
        request,
        async |mut accounts, request| accounts.enrol_second_factor_for_challenge(request).await,
    )
    .await?;
    Ok(Json(enrolment.into()))
}

/// Voids this gateway's cached verdicts for what auth just revoked.
pub(crate) fn forget(gateway: &Gateway, revoked: &RevokedSessions, whole_subject: bool) {
    for session_id in &revoked.session_ids {
        gateway.sessions.revoke_session(session_id);
    }
    if whole_subject && !revoked.user_id.is_empty() {
        gateway.sessions.revoke_subject(&revoked.user_id);
    }
}

/// `POST /v1/auth/sign-out`: ends the current session.
#[utoipa::path(
    post,
    path = "/v1/auth/sign-out",
    tag = "accounts",
    responses(
        (status = 204, description = "The session has ended"),
    ),
    security(("session" = [])),
)]
pub async fn sign_out(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let revoked = call(
        &caller.principal,
        &gateway.backends.accounts,
        SignOutRequest {},
        async |mut accounts, request| accounts.sign_out(request).await,
    )
    .await?;
    forget(&gateway, &revoked, false);
    let mut response = StatusCode::NO_CONTENT.into_response();
    if cookie::session_from_cookies(&headers).is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie::clear_session());
    }
    Ok(response)
}

/// A user account; never its password or second factor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// usr_...
    user_id: String,
    /// Absent for a platform admin.
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
    email: String,
    /// `owner`, `manager`, `agent`, or `admin` for a platform admin.
    #[schema(example = "agent")]
    role: String,
    disabled: bool,
    /// Whether a second factor is set up.
    second_factor: bool,
    /// RFC 3339.
    created_at: String,
    /// On `GET /v1/auth/me` by the console's session cookie only: the
    /// session's CSRF token again, for a page that was reloaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            user_id: user.user_id,
            tenant_id: Some(user.tenant_id).filter(|t| !t.is_empty()),
            email: user.email,
            role: user.role,
            disabled: user.disabled,
            second_factor: user.second_factor,
            created_at: user.created_at,
            csrf_token: None,
        }
    }
}

/// `GET /v1/auth/me`
#[utoipa::path(
    get,
    path = "/v1/auth/me",
    tag = "accounts",
    responses(
        (status = 200, description = "The signed-in user", body = UserView),
    ),
    security(("session" = [])),
)]
pub async fn me(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
    headers: HeaderMap,
) -> Result<Json<UserView>, ApiError> {
    let user = call(
        &caller.principal,
        &gateway.backends.accounts,
        GetMeRequest {},
        async |mut accounts, request| accounts.get_me(request).await,
    )
    .await?;
    let mut view = UserView::from(user);
    // The session came from the cookie exactly when no bearer token was
    // sent (the extractor has checked whichever it was).
    if !headers.contains_key(header::AUTHORIZATION) {
        view.csrf_token = cookie::session_from_cookies(&headers).map(cookie::csrf_token);
    }
    Ok(Json(view))
}

/// One of the user's live sessions; never its token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// ses_...
    session_id: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339, updated at most every 30 seconds.
    last_seen_at: String,
    /// RFC 3339: the absolute end; an idle session ends sooner.
    expires_at: String,
    /// The address the session was started from.
    client_address: String,
    /// Whether this is the session making the request.
    current: bool,
}

/// The caller's live sessions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionList {
    sessions: Vec<SessionView>,
}

/// `GET /v1/auth/sessions`: the caller's live sessions.
#[utoipa::path(
    get,
    path = "/v1/auth/sessions",
    tag = "accounts",
    responses(
        (status = 200, description = "The caller's live sessions", body = SessionList),
    ),
    security(("session" = [])),
)]
pub async fn list_sessions(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
) -> Result<Json<SessionList>, ApiError> {
    let list = call(
        &caller.principal,
        &gateway.backends.accounts,
        ListSessionsRequest {},
        async |mut accounts, request| accounts.list_sessions(request).await,
    )
    .await?;
    Ok(Json(SessionList {
        sessions: list
            .sessions
            .into_iter()
            .map(|s| SessionView {
                session_id: s.session_id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                client_address: s.client_address,
                current: s.current,
            })
            .collect(),
    }))
}

/// `DELETE /v1/auth/sessions/{session_id}`: ends one of the caller's
/// sessions; another user's is not found.
#[utoipa::path(
    delete,
    path = "/v1/auth/sessions/{session_id}",
    tag = "accounts",
    params(("session_id" = String, Path, description = "The session's id (ses_...)", pattern = "^ses_[0-9a-f]{32}$")),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 404, description = "No such live session of the caller"),
    ),
    security(("session" = [])),
)]
pub async fn revoke_session(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
    Path(session_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let revoked = call(
        &caller.principal,
        &gateway.backends.accounts,
        RevokeSessionRequest { session_id },
        async |mut accounts, request| accounts.revoke_session(request).await,
    )
    .await?;
    forget(&gateway, &revoked, false);
    Ok(StatusCode::NO_CONTENT)
}

/// How many sessions were ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    pub(crate) revoked_sessions: usize,
}

/// `POST /v1/auth/sessions/revoke-all`: ends every session of the caller,
/// this one included.
#[utoipa::path(
    post,
    path = "/v1/auth/sessions/revoke-all",
    tag = "accounts",
    responses(
        (status = 200, description = "Every session of the caller has ended, this one included", body = Revoked),
    ),
    security(("session" = [])),
)]
pub async fn revoke_all_sessions(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
) -> Result<Json<Revoked>, ApiError> {
    let revoked = call(
        &caller.principal,
        &gateway.backends.accounts,
        RevokeUserSessionsRequest {
            user_id: String::new(),
        },
        async |mut accounts, request| accounts.revoke_user_sessions(request).await,
    )
    .await?;
    forget(&gateway, &revoked, true);
    Ok(Json(Revoked {
        revoked_sessions: revoked.session_ids.len(),
    }))
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(value_type = String)]
    current_password: Password,
    /// 15 to 256 characters (8 once a second factor is set up), not easy to
    /// guess, not built on the account's email.
    #[schema(value_type = String)]
    new_password: Password,
}

/// `POST /v1/auth/password`: needs the current password; the caller's
/// other sessions end.
#[utoipa::path(
    post,
    path = "/v1/auth/password",
    tag = "accounts",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "The password is changed; the caller's other sessions have ended", body = Revoked),
        (status = 400, description = "The new password is refused by the policy (too short, too long, common or easy to guess, built on the email); the detail says why"),
        (status = 403, description = "The current password is wrong"),
        (status = 429, description = "Too many failed attempts for this account, too many sign-ins in progress, or rate limit exceeded"),
    ),
    security(("session" = [])),
)]
pub async fn change_password(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<Json<Revoked>, ApiError> {
    let revoked = call(
        &caller.principal,
        &gateway.backends.accounts,
        ChangePasswordRequest {
            current_password: body.current_password.expose().to_owned(),
            new_password: body.new_password.expose().to_owned(),
            context_words: password_context(&gateway, &caller.principal).await?,
        },
        async |mut accounts, request| accounts.change_password(request).await,
    )
    .await?;
    forget(&gateway, &revoked, false);
    Ok(Json(Revoked {
        revoked_sessions: revoked.session_ids.len(),
    }))
}

/// The words a new password of `principal`'s tenant must not be built on:
/// the tenant's name, which only the CRM knows (auth adds the email and the
/// product's name). Empty for a platform admin.
pub(super) async fn password_context(
    gateway: &Gateway,
    principal: &rampart_kit::principal::Principal,
) -> Result<Vec<String>, ApiError> {
    let Some(tenant) = principal.tenant_id() else {
        return Ok(Vec::new());
    };
    let tenant = call(
        principal,
        &gateway.backends.crm,
        rampart_proto::crm::v1::GetTenantRequest {
            tenant_id: tenant.to_string(),
        },
        async |mut crm, request| crm.get_tenant(request).await,
    )
    .await?;
    Ok(vec![tenant.name])
}

/// `POST /v1/auth/totp/enrol`: a new TOTP secret to add to an
/// authenticator app; confirm with its first code.
#[utoipa::path(
    post,
    path = "/v1/auth/totp/enrol",
    tag = "accounts",
    responses(
        (status = 200, description = "A new TOTP secret; confirm it with POST /v1/auth/totp/confirm", body = Enrolment),
        (status = 409, description = "A second factor is already set up"),
    ),
    security(("session" = [])),
)]
pub async fn begin_totp(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
) -> Result<Json<Enrolment>, ApiError> {
    let enrolment = call(
        &caller.principal,
        &gateway.backends.accounts,
        BeginTotpEnrolmentRequest {},
        async |mut accounts, request| accounts.begin_totp_enrolment(request).await,
    )
    .await?;
    Ok(Json(enrolment.into()))
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    #[schema(value_type = String)]
    code: OneTimeCode,
}

/// One-time recovery codes, shown once.
// Their `Debug` hides them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// `POST /v1/auth/totp/confirm`: `{"code"}`; answers the one-time recovery
/// codes, shown once.
#[utoipa::path(
    post,
    path = "/v1/auth/totp/confirm",
    tag = "accounts",
    request_body = Code,
    responses(
        (status = 200, description = "The second factor is set up; the recovery codes are shown once", body = RecoveryCodes),
        (status = 400, description = "The code is wrong or already used (the detail names `code`), or enrolment was not started (POST /v1/auth/totp/enrol)"),
        (status = 401, description = "The session is invalid"),
        (status = 409, description = "A second factor is already set up"),
        (status = 429, description = "Too many failed codes, or rate limit exceeded"),
    ),
    security(("session" = [])),
)]
pub async fn confirm_totp(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
    JsonBody(body): JsonBody<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let confirmed = call(
        &caller.principal,
        &gateway.backends.accounts,
        ConfirmTotpRequest {
            code: body.code.expose().to_owned(),
        },
        async |mut accounts, request| accounts.confirm_totp(request).await,
    )
    .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: confirmed.recovery_codes,
    }))
}

/// How a secret shown once reads in `Debug`: never the value.
const REDACTED: &str = "[redacted]";

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| REDACTED),
            )
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("second_factor_required", &self.second_factor_required)
            .field("challenge", &self.challenge.as_ref().map(|_| REDACTED))
            .field("enrolment_required", &self.enrolment_required)
            .field("recovery_codes", &self.recovery_codes.len())
            .finish()
    }
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The provisioning URI carries the secret too.
        f.debug_struct("Enrolment")
            .field("secret", &REDACTED)
            .field("provisioning_uri", &REDACTED)
            .finish()
    }
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryCodes")
            .field("recovery_codes", &self.recovery_codes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use rampart_proto::auth::v1::{SecondFactorChallenge, SessionGrant};

    use super::*;

    /// A value no field would hold by chance, so finding it means a leak.
    const SECRET: &str = "s3cr3t-VALUE-0123456789";

    fn assert_hidden(value: &impl std::fmt::Debug) {
        let printed = format!("{value:?}");
        assert!(!printed.contains(SECRET), "{printed}");
    }

    fn parse<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> T {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn request_bodies_do_not_show_their_secrets() {
        let sign_in: SignIn = parse(serde_json::json!({
            "tenant_id": "ten_1", "email": "a@example.com", "password": SECRET,
        }));
        assert_eq!(sign_in.password.expose(), SECRET);
        assert_hidden(&sign_in);
        let second: SecondFactor = parse(serde_json::json!({
            "challenge": SECRET, "code": SECRET, "recovery_code": SECRET,
        }));
        assert_hidden(&second);
        let challenge: ChallengeOnly = parse(serde_json::json!({ "challenge": SECRET }));
        assert_hidden(&challenge);
        let change: PasswordChange = parse(serde_json::json!({
            "current_password": SECRET, "new_password": SECRET,
        }));
        assert_hidden(&change);
        let code: Code = parse(serde_json::json!({ "code": SECRET }));
        assert_eq!(code.code.expose(), SECRET);
        assert_hidden(&code);
    }

    #[test]
    fn answers_show_their_secrets_once_but_not_in_debug() {
        let session = SignedIn::from_wire(SignInResponse {
            session: Some(SessionGrant {
                token: SECRET.to_owned(),
                session_id: "ses_1".to_owned(),
                user_id: "usr_1".to_owned(),
                expires_at: "2030-01-01T00:00:00Z".to_owned(),
            }),
            challenge: None,
            recovery_codes: vec![SECRET.to_owned()],
        })
        .unwrap();
        assert!(serde_json::to_string(&session).unwrap().contains(SECRET));
        assert_hidden(&session);
        let challenge = SignedIn::from_wire(SignInResponse {
            session: None,
            challenge: Some(SecondFactorChallenge {
                challenge: SECRET.to_owned(),
                expires_at: "2030-01-01T00:00:00Z".to_owned(),
                enrolment_required: true,
            }),
            recovery_codes: Vec::new(),
        })
        .unwrap();
        assert!(serde_json::to_string(&challenge).unwrap().contains(SECRET));
        assert_hidden(&challenge);
        let enrolment = Enrolment::from(TotpEnrolment {
            secret: SECRET.to_owned(),
            provisioning_uri: format!("otpauth://totp/x?secret={SECRET}"),
        });
        assert!(serde_json::to_string(&enrolment).unwrap().contains(SECRET));
        assert_hidden(&enrolment);
        let codes = RecoveryCodes {
            recovery_codes: vec![SECRET.to_owned()],
        };
        assert!(serde_json::to_string(&codes).unwrap().contains(SECRET));
        assert_hidden(&codes);
    }
}
