//! The gRPC face of the auth service. Only the gateway may call it
//! (`AllowPeers` in [`crate::run`]); each handler parses its input, checks
//! who may do what, and hands over to [`Credentials`].

use rampart_kit::ids::TenantId;
use rampart_kit::principal::Principal;
use rampart_proto::auth::v1::auth_service_server::AuthService;
use rampart_proto::auth::v1::{
    IssueApiKeyRequest, IssueApiKeyResponse, PrincipalKind, VerifyApiKeyRequest,
    VerifyApiKeyResponse,
};
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::keys::{BOOTSTRAP_CREDENTIAL_ID, Credentials, Environment, KeyName, Verified};

#[derive(Debug)]
pub(crate) struct AuthGrpc {
    credentials: Credentials,
}

impl AuthGrpc {
    pub(crate) fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    /// Needs no principal: the gateway calls this to find out who the
    /// principal is. The key is moved out of the request and never logged.
    async fn verify_api_key(
        &self,
        request: Request<VerifyApiKeyRequest>,
    ) -> Result<Response<VerifyApiKeyResponse>, Status> {
        let presented = request.into_inner().api_key;
        let verified = match self.credentials.verify(&presented).await {
            Ok(verified) => verified,
            Err(error @ (Error::MalformedKey | Error::InvalidKey)) => {
                tracing::info!(reason = %error, "api key refused");
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        };
        let response = match verified {
            Verified::PlatformAdmin => VerifyApiKeyResponse {
                kind: PrincipalKind::PlatformAdmin.into(),
                tenant_id: String::new(),
                credential_id: BOOTSTRAP_CREDENTIAL_ID.to_owned(),
                scopes: vec!["admin".to_owned()],
            },
            Verified::Tenant(key) => VerifyApiKeyResponse {
                kind: PrincipalKind::Tenant.into(),
                tenant_id: key.tenant_id.into_string(),
                credential_id: key.id.into_string(),
                scopes: key.scopes,
            },
        };
        Ok(Response::new(response))
    }

    async fn issue_api_key(
        &self,
        request: Request<IssueApiKeyRequest>,
    ) -> Result<Response<IssueApiKeyResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let request = request.into_inner();
        let tenant_id = TenantId::parse(&request.tenant_id)
            .map_err(|_| Error::InvalidArgument("tenant_id is not a valid tenant id".to_owned()))?;
        let name = KeyName::parse(&request.name)?;
        let environment = Environment::parse(&request.environment)?;
        let issued = self
            .credentials
            .issue(&principal, tenant_id, name, environment)
            .await?;
        Ok(Response::new(IssueApiKeyResponse {
            key_id: issued.id.into_string(),
            display_prefix: issued.key.display_prefix(),
            api_key: issued.key.expose().to_owned(),
        }))
    }
}
