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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    #[serde(default)]
    tenant_id: String,
    email: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub struct SignedIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    expires_at: String,
    second_factor_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enrolment_required: bool,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFactor {
    challenge: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
}

/// `POST /v1/auth/second-factor`: `{"challenge", "code"}` or
/// `{"challenge", "recovery_code"}`.
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

#[derive(Debug, Serialize)]
pub struct Enrolment {
    secret: String,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeOnly {
    challenge: String,
}

/// `POST /v1/auth/second-factor/enrol`: for an account that must have a
/// second factor and has none yet; complete with the first code.
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

#[derive(Debug, Serialize)]
pub struct UserView {
    user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
    email: String,
    role: String,
    disabled: bool,
    second_factor: bool,
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

#[derive(Debug, Serialize)]
pub struct SessionView {
    session_id: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    client_address: String,
    current: bool,
}

#[derive(Debug, Serialize)]
pub struct SessionList {
    sessions: Vec<SessionView>,
}

/// `GET /v1/auth/sessions`: the caller's live sessions.
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

#[derive(Debug, Serialize)]
pub struct Revoked {
    pub(crate) revoked_sessions: usize,
}

/// `POST /v1/auth/sessions/revoke-all`: ends every session of the caller,
/// this one included.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /v1/auth/password`: needs the current password; the caller's
/// other sessions end.
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
            context_words: Vec::new(),
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

/// `POST /v1/auth/totp/enrol`: a new TOTP secret to add to an
/// authenticator app; confirm with its first code.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

#[derive(Debug, Serialize)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// `POST /v1/auth/totp/confirm`: `{"code"}`; answers the one-time recovery
/// codes, shown once.
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
