//! The gRPC face of [`Accounts`]: people, sign-in and sessions. Only the
//! gateway may call it (`AllowPeers` in [`crate::run`]). The sign-in steps
//! and `VerifySession` run before anyone is authenticated and read no
//! principal; every other call reads the gateway's principal first, and the
//! role checks live in [`Accounts`] next to the rules they guard.

use rampart_kit::ids::{SessionId, UserId};
use rampart_kit::principal::{Principal, REQUEST_ID};
use rampart_kit::secret::{ExposeSecret, OneTimeCode, Password, RecoveryCode, SessionToken};
use rampart_proto::auth::v1::account_service_server::AccountService;
use rampart_proto::auth::v1::{
    BeginTotpEnrolmentRequest, ChangePasswordRequest, CompleteSecondFactorRequest,
    ConfirmTotpRequest, ConfirmTotpResponse, CreateUserRequest, EnrolForChallengeRequest,
    GetMeRequest, GetTenantSecurityRequest, ListSessionsRequest, ListSessionsResponse,
    ListUsersRequest, ListUsersResponse, PrincipalKind, RevokeSessionRequest,
    RevokeUserSessionsRequest, RevokedSessions, SecondFactorChallenge, Session, SessionGrant,
    SetTenantSecurityRequest, SignInRequest, SignInResponse, SignInRoute, SignOutRequest,
    TenantSecurity, TotpEnrolment, UpdateUserRequest, UpdateUserResponse, User,
    VerifySessionRequest, VerifySessionResponse,
};
use tonic::{Request, Response, Status};

use super::model::{
    self, NewUser, PasswordChange, Route, SecondFactorProof, SignInAttempt, SignInOutcome, Subject,
    UserChange, UserView, rfc3339,
};
use super::service::Accounts;
use crate::access::{AccessState, TenantAccess};
use crate::domain::sessions::RevokeReason;
use crate::error::Error;

#[derive(Debug)]
pub(crate) struct AccountsGrpc {
    accounts: Accounts,
    /// Tenants' access states, answered with each session's verdict.
    access: TenantAccess,
}

impl AccountsGrpc {
    pub(crate) fn new(accounts: Accounts, access: TenantAccess) -> Self {
        Self { accounts, access }
    }
}

/// The request id the gateway sent, for audit events of anonymous steps.
fn request_id<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn user_message(user: UserView) -> User {
    User {
        user_id: user.id.into_string(),
        tenant_id: user.tenant_id.unwrap_or_default(),
        email: user.email,
        role: user.role.as_str().to_owned(),
        disabled: user.disabled,
        second_factor: user.second_factor,
        created_at: rfc3339(user.created_at),
    }
}

fn grant_message(grant: super::model::SessionGrant) -> SessionGrant {
    SessionGrant {
        token: grant.token.expose().to_owned(),
        session_id: grant.session_id.into_string(),
        user_id: grant.user_id.into_string(),
        expires_at: rfc3339(grant.expires_at),
    }
}

/// Secrets leave the service here, into the response the gateway relays
/// to the one person they belong to.
fn exposed(codes: Vec<RecoveryCode>) -> Vec<String> {
    codes.iter().map(|code| code.expose().to_owned()).collect()
}

fn enrolment_message(enrolment: model::TotpEnrolment) -> TotpEnrolment {
    TotpEnrolment {
        secret: enrolment.secret.expose().to_owned(),
        provisioning_uri: enrolment.provisioning_uri.expose_secret().to_owned(),
    }
}

fn ids(sessions: Vec<SessionId>) -> Vec<String> {
    sessions.into_iter().map(SessionId::into_string).collect()
}

impl AccountsGrpc {
    /// The user a manager names, checked after who may manage users at
    /// all: a malformed id is refused as not found, like another tenant's.
    fn managed_user_id(&self, principal: &Principal, text: &str) -> Result<UserId, Error> {
        self.accounts.users_for(principal)?;
        UserId::parse(text).map_err(|_| Error::NotFound("user"))
    }
}

#[tonic::async_trait]
impl AccountService for AccountsGrpc {
    async fn sign_in(
        &self,
        request: Request<SignInRequest>,
    ) -> Result<Response<SignInResponse>, Status> {
        let request_id = request_id(&request);
        let mut request = request.into_inner();
        let password = Password::from(std::mem::take(&mut request.password));
        let route = match request.route() {
            SignInRoute::Public => Route::Public,
            SignInRoute::Admin => Route::Admin,
            SignInRoute::Unspecified => {
                return Err(Error::InvalidArgument("route is required".to_owned()).into());
            }
        };
        let outcome = self
            .accounts
            .sign_in(SignInAttempt {
                route,
                tenant_id: &request.tenant_id,
                email: &request.email,
                password: &password,
                client_address: &request.client_address,
                request_id: &request_id,
            })
            .await?;
        let response = match outcome {
            SignInOutcome::Session(grant) => SignInResponse {
                session: Some(grant_message(grant)),
                challenge: None,
                recovery_codes: Vec::new(),
            },
            SignInOutcome::SecondFactor {
                challenge,
                enrolment_required,
                expires_at,
            } => SignInResponse {
                session: None,
                challenge: Some(SecondFactorChallenge {
                    challenge: challenge.expose().to_owned(),
                    enrolment_required,
                    expires_at: rfc3339(expires_at),
                }),
                recovery_codes: Vec::new(),
            },
        };
        Ok(Response::new(response))
    }

    async fn complete_second_factor(
        &self,
        request: Request<CompleteSecondFactorRequest>,
    ) -> Result<Response<SignInResponse>, Status> {
        let request_id = request_id(&request);
        let request = request.into_inner();
        let challenge = SessionToken::from(request.challenge);
        let code = OneTimeCode::from(request.code);
        let recovery_code = RecoveryCode::from(request.recovery_code);
        let proof = match (code.expose().is_empty(), recovery_code.expose().is_empty()) {
            (false, true) => SecondFactorProof::Code(&code),
            (true, false) => SecondFactorProof::RecoveryCode(&recovery_code),
            _ => {
                return Err(Error::InvalidArgument(
                    "send exactly one of code and recovery_code".to_owned(),
                )
                .into());
            }
        };
        let outcome = self
            .accounts
            .complete_second_factor(&challenge, proof, &request.client_address, &request_id)
            .await?;
        Ok(Response::new(SignInResponse {
            session: Some(grant_message(outcome.session)),
            challenge: None,
            recovery_codes: exposed(outcome.recovery_codes),
        }))
    }

    async fn enrol_second_factor_for_challenge(
        &self,
        request: Request<EnrolForChallengeRequest>,
    ) -> Result<Response<TotpEnrolment>, Status> {
        let challenge = SessionToken::from(request.into_inner().challenge);
        let enrolment = self.accounts.enrol_for_challenge(&challenge).await?;
        Ok(Response::new(enrolment_message(enrolment)))
    }

    /// Needs no principal: the gateway calls this to find out who the
    /// principal is. The token is never logged.
    async fn verify_session(
        &self,
        request: Request<VerifySessionRequest>,
    ) -> Result<Response<VerifySessionResponse>, Status> {
        let request_id = request_id(&request);
        let request = request.into_inner();
        let token = SessionToken::from(request.token);
        let verdict = self
            .accounts
            .verify_session(&token, &request.client_address, &request_id)
            .await?;
        let kind = if verdict.tenant_id.is_some() {
            PrincipalKind::Tenant
        } else {
            PrincipalKind::PlatformAdmin
        };
        // Platform admins have no tenant, so are never suspended.
        let access = match &verdict.tenant_id {
            Some(tenant) => self.access.state(tenant).await.map_err(Error::from)?,
            None => AccessState::default(),
        };
        Ok(Response::new(VerifySessionResponse {
            tenant_suspended: access.suspended,
            tenant_isolated: access.isolated,
            session_id: verdict.session_id.into_string(),
            user_id: verdict.user_id.into_string(),
            kind: kind.into(),
            tenant_id: verdict.tenant_id.unwrap_or_default(),
            role: verdict.role.as_str().to_owned(),
            expires_at_ms: verdict.expires_at_ms,
        }))
    }

    async fn sign_out(
        &self,
        request: Request<SignOutRequest>,
    ) -> Result<Response<RevokedSessions>, Status> {
        let principal = Principal::from_request(&request)?;
        // A session principal's credential is its session.
        let session_id =
            SessionId::parse(&principal.credential_id).map_err(|_| Error::NotFound("session"))?;
        let user_id = self
            .accounts
            .revoke_session(&principal, &session_id, RevokeReason::SignOut)
            .await?;
        Ok(Response::new(RevokedSessions {
            user_id: user_id.into_string(),
            session_ids: vec![session_id.into_string()],
        }))
    }

    async fn get_me(&self, request: Request<GetMeRequest>) -> Result<Response<User>, Status> {
        let principal = Principal::from_request(&request)?;
        Ok(Response::new(user_message(
            self.accounts.me(&principal).await?,
        )))
    }

    async fn list_sessions(
        &self,
        request: Request<ListSessionsRequest>,
    ) -> Result<Response<ListSessionsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let sessions = self.accounts.list_sessions(&principal).await?;
        Ok(Response::new(ListSessionsResponse {
            sessions: sessions
                .into_iter()
                .map(|session| Session {
                    current: session.id.as_str() == principal.credential_id,
                    session_id: session.id.into_string(),
                    created_at: rfc3339(session.created_at),
                    last_seen_at: rfc3339(session.last_seen_at),
                    expires_at: rfc3339(session.expires_at),
                    client_address: session.client_address,
                })
                .collect(),
        }))
    }

    async fn revoke_session(
        &self,
        request: Request<RevokeSessionRequest>,
    ) -> Result<Response<RevokedSessions>, Status> {
        let principal = Principal::from_request(&request)?;
        // A malformed id names no session of the caller's, like an unknown one.
        let session_id = SessionId::parse(&request.into_inner().session_id)
            .map_err(|_| Error::NotFound("session"))?;
        let user_id = self
            .accounts
            .revoke_session(&principal, &session_id, RevokeReason::Revoked)
            .await?;
        Ok(Response::new(RevokedSessions {
            user_id: user_id.into_string(),
            session_ids: vec![session_id.into_string()],
        }))
    }

    async fn revoke_user_sessions(
        &self,
        request: Request<RevokeUserSessionsRequest>,
    ) -> Result<Response<RevokedSessions>, Status> {
        let principal = Principal::from_request(&request)?;
        let user_id = request.into_inner().user_id;
        let subject = if user_id.is_empty() {
            Subject::Myself
        } else {
            Subject::User(self.managed_user_id(&principal, &user_id)?)
        };
        let (user_id, session_ids) = self
            .accounts
            .revoke_user_sessions(&principal, subject)
            .await?;
        Ok(Response::new(RevokedSessions {
            user_id: user_id.into_string(),
            session_ids: ids(session_ids),
        }))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<RevokedSessions>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let current = Password::from(request.current_password);
        let new = Password::from(request.new_password);
        let session_ids = self
            .accounts
            .change_password(
                &principal,
                PasswordChange {
                    current: &current,
                    new: &new,
                    context_words: &request.context_words,
                },
            )
            .await?;
        Ok(Response::new(RevokedSessions {
            user_id: principal.user.map(|user| user.id).unwrap_or_default(),
            session_ids: ids(session_ids),
        }))
    }

    async fn begin_totp_enrolment(
        &self,
        request: Request<BeginTotpEnrolmentRequest>,
    ) -> Result<Response<TotpEnrolment>, Status> {
        let principal = Principal::from_request(&request)?;
        let enrolment = self.accounts.begin_totp(&principal).await?;
        Ok(Response::new(enrolment_message(enrolment)))
    }

    async fn confirm_totp(
        &self,
        request: Request<ConfirmTotpRequest>,
    ) -> Result<Response<ConfirmTotpResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let code = OneTimeCode::from(request.into_inner().code);
        let recovery_codes = self.accounts.confirm_totp(&principal, &code).await?;
        Ok(Response::new(ConfirmTotpResponse {
            recovery_codes: exposed(recovery_codes),
        }))
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let principal = Principal::from_request(&request)?;
        let mut request = request.into_inner();
        let password = Password::from(std::mem::take(&mut request.password));
        let user = self
            .accounts
            .create_user(
                &principal,
                NewUser {
                    tenant_id: &request.tenant_id,
                    email: &request.email,
                    password: &password,
                    role: &request.role,
                    context_words: &request.context_words,
                },
            )
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let users = self
            .accounts
            .list_users(&principal, &request.into_inner().tenant_id)
            .await?;
        Ok(Response::new(ListUsersResponse {
            users: users.into_iter().map(user_message).collect(),
        }))
    }

    async fn update_user(
        &self,
        request: Request<UpdateUserRequest>,
    ) -> Result<Response<UpdateUserResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let user_id = self.managed_user_id(&principal, &request.user_id)?;
        let (user, revoked) = self
            .accounts
            .update_user(
                &principal,
                &user_id,
                UserChange {
                    role: &request.role,
                    disabled: request.disabled,
                },
            )
            .await?;
        Ok(Response::new(UpdateUserResponse {
            revoked: Some(RevokedSessions {
                user_id: user.id.to_string(),
                session_ids: ids(revoked),
            }),
            user: Some(user_message(user)),
        }))
    }

    async fn get_tenant_security(
        &self,
        request: Request<GetTenantSecurityRequest>,
    ) -> Result<Response<TenantSecurity>, Status> {
        let principal = Principal::from_request(&request)?;
        let required = self.accounts.get_tenant_security(&principal).await?;
        Ok(Response::new(TenantSecurity {
            tenant_id: principal
                .tenant_id()
                .map(ToString::to_string)
                .unwrap_or_default(),
            require_second_factor_for_managers: required,
        }))
    }

    async fn set_tenant_security(
        &self,
        request: Request<SetTenantSecurityRequest>,
    ) -> Result<Response<TenantSecurity>, Status> {
        let principal = Principal::from_request(&request)?;
        let required = request.into_inner().require_second_factor_for_managers;
        self.accounts
            .set_tenant_security(&principal, required)
            .await?;
        Ok(Response::new(TenantSecurity {
            tenant_id: principal
                .tenant_id()
                .map(ToString::to_string)
                .unwrap_or_default(),
            require_second_factor_for_managers: required,
        }))
    }
}
