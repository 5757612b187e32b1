//! The gRPC face of [`Accounts`]: people, sign-in and sessions. Only the
//! gateway may call it (`AllowPeers` in [`crate::run`]). The sign-in steps
//! and `VerifySession` run before anyone is authenticated and read no
//! principal; every other call reads the gateway's principal first, and the
//! role checks live in [`Accounts`] next to the rules they guard.

use rampart_kit::principal::{Principal, REQUEST_ID};
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
    NewUser, Route, SecondFactorProof, SignInAttempt, SignInOutcome, UserChange, UserView, rfc3339,
};
use super::service::Accounts;
use crate::error::Error;

#[derive(Debug)]
pub(crate) struct AccountsGrpc {
    accounts: Accounts,
}

impl AccountsGrpc {
    pub(crate) fn new(accounts: Accounts) -> Self {
        Self { accounts }
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
        user_id: user.id,
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
        user_id: grant.user_id,
        expires_at: rfc3339(grant.expires_at),
    }
}

#[tonic::async_trait]
impl AccountService for AccountsGrpc {
    async fn sign_in(
        &self,
        request: Request<SignInRequest>,
    ) -> Result<Response<SignInResponse>, Status> {
        let request_id = request_id(&request);
        let request = request.into_inner();
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
                password: &request.password,
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
        let proof = match (request.code.is_empty(), request.recovery_code.is_empty()) {
            (false, true) => SecondFactorProof::Code(&request.code),
            (true, false) => SecondFactorProof::RecoveryCode(&request.recovery_code),
            _ => {
                return Err(Error::InvalidArgument(
                    "send exactly one of code and recovery_code".to_owned(),
                )
                .into());
            }
        };
        let outcome = self
            .accounts
            .complete_second_factor(
                &request.challenge,
                proof,
                &request.client_address,
                &request_id,
            )
            .await?;
        Ok(Response::new(SignInResponse {
            session: Some(grant_message(outcome.session)),
            challenge: None,
            recovery_codes: outcome.recovery_codes,
        }))
    }

    async fn enrol_second_factor_for_challenge(
        &self,
        request: Request<EnrolForChallengeRequest>,
    ) -> Result<Response<TotpEnrolment>, Status> {
        let (secret, provisioning_uri) = self
            .accounts
            .enrol_for_challenge(&request.into_inner().challenge)
            .await?;
        Ok(Response::new(TotpEnrolment {
            secret,
            provisioning_uri,
        }))
    }

    /// Needs no principal: the gateway calls this to find out who the
    /// principal is. The token is never logged.
    async fn verify_session(
        &self,
        request: Request<VerifySessionRequest>,
    ) -> Result<Response<VerifySessionResponse>, Status> {
        let request_id = request_id(&request);
        let request = request.into_inner();
        let verdict = self
            .accounts
            .verify_session(&request.token, &request.client_address, &request_id)
            .await?;
        let kind = if verdict.tenant_id.is_some() {
            PrincipalKind::Tenant
        } else {
            PrincipalKind::PlatformAdmin
        };
        Ok(Response::new(VerifySessionResponse {
            session_id: verdict.session_id,
            user_id: verdict.user_id,
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
        let session_id = principal.credential_id.clone();
        let user_id = self
            .accounts
            .revoke_session(&principal, &session_id, "user.sign_out")
            .await?;
        Ok(Response::new(RevokedSessions {
            user_id,
            session_ids: vec![session_id],
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
                    current: session.id == principal.credential_id,
                    session_id: session.id,
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
        let session_id = request.into_inner().session_id;
        let user_id = self
            .accounts
            .revoke_session(&principal, &session_id, "session.revoked")
            .await?;
        Ok(Response::new(RevokedSessions {
            user_id,
            session_ids: vec![session_id],
        }))
    }

    async fn revoke_user_sessions(
        &self,
        request: Request<RevokeUserSessionsRequest>,
    ) -> Result<Response<RevokedSessions>, Status> {
        let principal = Principal::from_request(&request)?;
        let (user_id, session_ids) = self
            .accounts
            .revoke_user_sessions(&principal, &request.into_inner().user_id)
            .await?;
        Ok(Response::new(RevokedSessions {
            user_id,
            session_ids,
        }))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<RevokedSessions>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let session_ids = self
            .accounts
            .change_password(
                &principal,
                &request.current_password,
                &request.new_password,
                &request.context_words,
            )
            .await?;
        Ok(Response::new(RevokedSessions {
            user_id: principal.user.map(|user| user.id).unwrap_or_default(),
            session_ids,
        }))
    }

    async fn begin_totp_enrolment(
        &self,
        request: Request<BeginTotpEnrolmentRequest>,
    ) -> Result<Response<TotpEnrolment>, Status> {
        let principal = Principal::from_request(&request)?;
        let (secret, provisioning_uri) = self.accounts.begin_totp(&principal).await?;
        Ok(Response::new(TotpEnrolment {
            secret,
            provisioning_uri,
        }))
    }

    async fn confirm_totp(
        &self,
        request: Request<ConfirmTotpRequest>,
    ) -> Result<Response<ConfirmTotpResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let recovery_codes = self
            .accounts
            .confirm_totp(&principal, &request.into_inner().code)
            .await?;
        Ok(Response::new(ConfirmTotpResponse { recovery_codes }))
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let user = self
            .accounts
            .create_user(
                &principal,
                NewUser {
                    tenant_id: &request.tenant_id,
                    email: &request.email,
                    password: &request.password,
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
        let (user, revoked) = self
            .accounts
            .update_user(
                &principal,
                &request.user_id,
                UserChange {
                    role: &request.role,
                    disabled: request.disabled,
                },
            )
            .await?;
        Ok(Response::new(UpdateUserResponse {
            revoked: Some(RevokedSessions {
                user_id: user.id.clone(),
                session_ids: revoked,
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
