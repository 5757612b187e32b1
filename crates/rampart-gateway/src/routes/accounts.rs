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
use axum::extract::{Path, State};
use http::StatusCode;
use http::request::Parts;
use rampart_proto::auth::v1::{
    BeginTotpEnrolmentRequest, ChangePasswordRequest, CompleteSecondFactorRequest,
    ConfirmTotpRequest, EnrolForChallengeRequest, GetMeRequest, ListSessionsRequest,
    RevokeSessionRequest, RevokeUserSessionsRequest, RevokedSessions, SignInRequest,
    SignInResponse, SignInRoute, SignOutRequest, TotpEnrolment, User,
};
use serde::{Deserialize, Serialize};

use super::{BackendAnswer, JsonBody, with_principal};
use crate::Gateway;
use crate::authn::{address_bucket, limit};
use crate::problem::{ApiError, RequestId};
use crate::sessions::{SessionCaller, client_ip};

/// The connection facts an anonymous step passes on to auth.
pub struct Anonymous {
    client: String,
    request_id: String,
}

impl axum::extract::FromRequestParts<Arc<Gateway>> for Anonymous {
    type Rejection = ApiError;

    /// The address's rate limit comes first, as for any credential.
    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, ApiError> {
        limit(
            gateway,
            &address_bucket(parts),
            gateway.config.per_address,
            "address",
        )
        .await?;
        Ok(Self {
            client: client_ip(parts),
            request_id: parts
                .extensions
                .get::<RequestId>()
                .map(|id| id.0.clone())
                .unwrap_or_default(),
        })
    }
}

impl Anonymous {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = self.request_id.parse() {
            request
                .metadata_mut()
                .insert(rampart_kit::principal::REQUEST_ID, value);
        }
        request
    }
}

/// A user's email and password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The user's tenant (ten_...); required on the public route.
    #[serde(default)]
    #[schema(required = true, pattern = "^ten_[0-9a-f]{32}$")]
    tenant_id: String,
    email: String,
    password: String,
}

/// The answer to a sign-in step: a session, or a second-factor challenge.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
        })
    }
}

async fn sign_in(
    gateway: &Gateway,
    anonymous: &Anonymous,
    route: SignInRoute,
    body: SignIn,
) -> Result<Json<SignedIn>, ApiError> {
    let request = anonymous.request(SignInRequest {
        route: route.into(),
        tenant_id: body.tenant_id,
        email: body.email,
        password: body.password,
        client_address: anonymous.client.clone(),
    });
    let response = gateway
        .backends
        .accounts
        .clone()
        .sign_in(request)
        .await
        .answer("auth")?;
    SignedIn::from_wire(response).map(Json)
}

/// `POST /v1/auth/sign-in`: a tenant's user signs in with
/// `{"tenant_id", "email", "password"}`. A platform admin's account is
/// refused here exactly like a wrong password.
#[utoipa::path(
    post,
    path = "/v1/auth/sign-in",
    tag = "accounts",
    request_body = SignIn,
    responses(
        (status = 200, description = "A session, or a challenge when a second factor is required", body = SignedIn),
        (status = 400, description = "tenant_id is missing or not a valid tenant id", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid email or password (also for a disabled account, or a platform admin on this route)", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address, too many failed attempts, or too many sign-ins in progress (not evaluated, not counted); see Retry-After when rate limited", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The auth service (or the rate limiter) is unavailable; retry later", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn sign_in_public(
    State(gateway): State<Arc<Gateway>>,
    anonymous: Anonymous,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Json<SignedIn>, ApiError> {
    if body.tenant_id.is_empty() {
        return Err(ApiError::invalid("tenant_id is required"));
    }
    sign_in(&gateway, &anonymous, SignInRoute::Public, body).await
}

/// `POST /v1/auth/<secret>/sign-in`: platform admins only, at the path
/// configured in `admin_sign_in_path`.
pub async fn sign_in_admin(
    State(gateway): State<Arc<Gateway>>,
    anonymous: Anonymous,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Json<SignedIn>, ApiError> {
    if !body.tenant_id.is_empty() {
        return Err(ApiError::invalid(
            "platform admins sign in without a tenant_id",
        ));
    }
    sign_in(&gateway, &anonymous, SignInRoute::Admin, body).await
}

/// The second sign-in step: exactly one of `code` and `recovery_code`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactor {
    /// The challenge from the sign-in answer.
    challenge: String,
    /// The authenticator app's current code.
    #[serde(default)]
    code: String,
    /// One of the account's unused recovery codes.
    #[serde(default)]
    recovery_code: String,
}

/// `POST /v1/auth/second-factor`: `{"challenge", "code"}` or
/// `{"challenge", "recovery_code"}`.
#[utoipa::path(
    post,
    path = "/v1/auth/second-factor",
    tag = "accounts",
    request_body = SecondFactor,
    responses(
        (status = 200, description = "The session; with recovery codes when this confirmed a new second factor", body = SignedIn),
        (status = 400, description = "Neither or both of code and recovery_code", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 401, description = "The challenge is unknown, expired or used, or the code is wrong (five wrong codes in a row end all of the user's sessions)", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address, or too many failed attempts; see Retry-After when rate limited", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The auth service (or the rate limiter) is unavailable; retry later", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn second_factor(
    State(gateway): State<Arc<Gateway>>,
    anonymous: Anonymous,
    JsonBody(body): JsonBody<SecondFactor>,
) -> Result<Json<SignedIn>, ApiError> {
    let request = anonymous.request(CompleteSecondFactorRequest {
        challenge: body.challenge,
        code: body.code,
        recovery_code: body.recovery_code,
        client_address: anonymous.client.clone(),
    });
    let response = gateway
        .backends
        .accounts
        .clone()
        .complete_second_factor(request)
        .await
        .answer("auth")?;
    SignedIn::from_wire(response).map(Json)
}

/// A new TOTP secret, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
    challenge: String,
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
        (status = 401, description = "The challenge is unknown, expired or used", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account already has a second factor", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address, or too many failed attempts; see Retry-After when rate limited", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The auth service (or the rate limiter) is unavailable; retry later", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn enrol_for_challenge(
    State(gateway): State<Arc<Gateway>>,
    anonymous: Anonymous,
    JsonBody(body): JsonBody<ChallengeOnly>,
) -> Result<Json<Enrolment>, ApiError> {
    let request = anonymous.request(EnrolForChallengeRequest {
        challenge: body.challenge,
    });
    let enrolment = gateway
        .backends
        .accounts
        .clone()
        .enrol_second_factor_for_challenge(request)
        .await
        .answer("auth")?;
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
) -> Result<StatusCode, ApiError> {
    let request = with_principal(&caller.principal, SignOutRequest {})?;
    let revoked = gateway
        .backends
        .accounts
        .clone()
        .sign_out(request)
        .await
        .answer("auth")?;
    forget(&gateway, &revoked, false);
    Ok(StatusCode::NO_CONTENT)
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
) -> Result<Json<UserView>, ApiError> {
    let request = with_principal(&caller.principal, GetMeRequest {})?;
    let user = gateway
        .backends
        .accounts
        .clone()
        .get_me(request)
        .await
        .answer("auth")?;
    Ok(Json(user.into()))
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
    let request = with_principal(&caller.principal, ListSessionsRequest {})?;
    let list = gateway
        .backends
        .accounts
        .clone()
        .list_sessions(request)
        .await
        .answer("auth")?;
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
        (status = 404, description = "No such live session of the caller", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
pub async fn revoke_session(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
    Path(session_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let request = with_principal(&caller.principal, RevokeSessionRequest { session_id })?;
    let revoked = gateway
        .backends
        .accounts
        .clone()
        .revoke_session(request)
        .await
        .answer("auth")?;
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
    let request = with_principal(
        &caller.principal,
        RevokeUserSessionsRequest {
            user_id: String::new(),
        },
    )?;
    let revoked = gateway
        .backends
        .accounts
        .clone()
        .revoke_user_sessions(request)
        .await
        .answer("auth")?;
    forget(&gateway, &revoked, true);
    Ok(Json(Revoked {
        revoked_sessions: revoked.session_ids.len(),
    }))
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    /// 15 to 256 characters (8 once a second factor is set up), not easy to
    /// guess, not built on the account's email.
    new_password: String,
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
        (status = 400, description = "The new password is refused by the policy (too short, too long, common or easy to guess, built on the email); the detail says why", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The current password is wrong", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this account, too many sign-ins in progress, or rate limit exceeded", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
pub async fn change_password(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<Json<Revoked>, ApiError> {
    let request = with_principal(
        &caller.principal,
        ChangePasswordRequest {
            current_password: body.current_password,
            new_password: body.new_password,
            context_words: password_context(&gateway, &caller.principal).await?,
        },
    )?;
    let revoked = gateway
        .backends
        .accounts
        .clone()
        .change_password(request)
        .await
        .answer("auth")?;
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
    let request = with_principal(
        principal,
        rampart_proto::crm::v1::GetTenantRequest {
            tenant_id: tenant.to_string(),
        },
    )?;
    let tenant = gateway
        .backends
        .crm
        .clone()
        .get_tenant(request)
        .await
        .answer("crm")?;
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
        (status = 409, description = "A second factor is already set up", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
pub async fn begin_totp(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
) -> Result<Json<Enrolment>, ApiError> {
    let request = with_principal(&caller.principal, BeginTotpEnrolmentRequest {})?;
    let enrolment = gateway
        .backends
        .accounts
        .clone()
        .begin_totp_enrolment(request)
        .await
        .answer("auth")?;
    Ok(Json(enrolment.into()))
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

/// One-time recovery codes, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
        (status = 400, description = "The code is wrong or already used (the detail names `code`), or enrolment was not started (POST /v1/auth/totp/enrol)", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 401, description = "The session is invalid", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A second factor is already set up", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed codes, or rate limit exceeded", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = [])),
)]
pub async fn confirm_totp(
    State(gateway): State<Arc<Gateway>>,
    caller: SessionCaller,
    JsonBody(body): JsonBody<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let request = with_principal(&caller.principal, ConfirmTotpRequest { code: body.code })?;
    let confirmed = gateway
        .backends
        .accounts
        .clone()
        .confirm_totp(request)
        .await
        .answer("auth")?;
    Ok(Json(RecoveryCodes {
        recovery_codes: confirmed.recovery_codes,
    }))
}
