//! Who is calling: the principal the gateway authenticated, carried to the
//! services as gRPC metadata.
//!
//! A service reads the principal only through [`Principal::from_request`],
//! which refuses the metadata unless the caller's mTLS certificate is the
//! gateway's: another service, even one holding a valid certificate, cannot
//! claim to act for a tenant. Handlers then authorise explicitly with
//! [`Principal::require_tenant`] or [`Principal::require_platform_admin`].

use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Status};

use crate::ids::TenantId;
use crate::pki::{ServiceName, peer_service};

const KIND: &str = "x-rampart-principal-kind";
const TENANT: &str = "x-rampart-tenant-id";
const CREDENTIAL: &str = "x-rampart-credential-id";
const SCOPES: &str = "x-rampart-scopes";
/// The request id, also sent on every response at the edge.
pub const REQUEST_ID: &str = "x-request-id";

/// Every metadata key that carries principal data. The gateway strips these
/// from anything a client sends before it sets its own.
pub const PRINCIPAL_HEADERS: [&str; 4] = [KIND, TENANT, CREDENTIAL, SCOPES];

/// What kind of credential the caller presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A platform operator, acting outside any tenant.
    PlatformAdmin,
    /// A credential of one tenant; every action is scoped to it.
    Tenant(TenantId),
}

/// What a credential may do with its tenant's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read the tenant's data.
    Read,
    /// Change the tenant's data.
    Write,
}

impl Scope {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// An authenticated caller, as established by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The id of the credential used (an API key id, "bootstrap" for the
    /// configured admin key), never the credential itself.
    pub credential_id: String,
    pub scopes: Vec<String>,
    pub request_id: String,
}

impl Principal {
    /// The actor recorded in audit events.
    #[must_use]
    pub fn actor(&self) -> String {
        match &self.kind {
            PrincipalKind::PlatformAdmin => format!("admin_key:{}", self.credential_id),
            PrincipalKind::Tenant(_) => format!("api_key:{}", self.credential_id),
        }
    }

    #[must_use]
    pub fn tenant_id(&self) -> Option<&TenantId> {
        match &self.kind {
            PrincipalKind::Tenant(tenant) => Some(tenant),
            PrincipalKind::PlatformAdmin => None,
        }
    }

    /// The tenant this principal acts for, or PermissionDenied.
    pub fn require_tenant(&self) -> Result<&TenantId, Status> {
        self.tenant_id()
            .ok_or_else(|| Status::permission_denied("this action needs a tenant credential"))
    }

    /// PermissionDenied unless the credential holds `scope`: a read-only key
    /// cannot change anything.
    pub fn require_scope(&self, scope: Scope) -> Result<(), Status> {
        if self.scopes.iter().any(|held| held == scope.as_str()) {
            return Ok(());
        }
        Err(Status::permission_denied(format!(
            "this action needs a credential with the \"{}\" scope",
            scope.as_str()
        )))
    }

    /// PermissionDenied unless this is a platform admin.
    pub fn require_platform_admin(&self) -> Result<(), Status> {
        match self.kind {
            PrincipalKind::PlatformAdmin => Ok(()),
            PrincipalKind::Tenant(_) => Err(Status::permission_denied(
                "this action needs a platform admin credential",
            )),
        }
    }

    /// Writes this principal into outgoing metadata.
    pub fn write_to(&self, metadata: &mut MetadataMap) -> Result<(), Status> {
        let value = |text: &str| {
            AsciiMetadataValue::try_from(text)
                .map_err(|_| Status::invalid_argument("principal fields must be ASCII"))
        };
        match &self.kind {
            PrincipalKind::PlatformAdmin => {
                metadata.insert(KIND, AsciiMetadataValue::from_static("platform_admin"));
            }
            PrincipalKind::Tenant(tenant) => {
                metadata.insert(KIND, AsciiMetadataValue::from_static("tenant"));
                metadata.insert(TENANT, value(tenant.as_str())?);
            }
        }
        metadata.insert(CREDENTIAL, value(&self.credential_id)?);
        metadata.insert(SCOPES, value(&self.scopes.join(" "))?);
        metadata.insert(REQUEST_ID, value(&self.request_id)?);
        Ok(())
    }

    /// Reads the principal of a request, trusting the metadata only when the
    /// caller's certificate is the gateway's.
    pub fn from_request<T>(request: &Request<T>) -> Result<Self, Status> {
        if peer_service(request.peer_certs()) != Some(ServiceName::Gateway) {
            return Err(Status::permission_denied(
                "principal metadata is accepted only from the gateway",
            ));
        }
        Self::from_metadata(request.metadata())
    }

    fn from_metadata(metadata: &MetadataMap) -> Result<Self, Status> {
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let missing = || Status::unauthenticated("request carries no principal");
        let kind = match text(KIND).as_deref() {
            Some("platform_admin") => PrincipalKind::PlatformAdmin,
            Some("tenant") => {
                let tenant = text(TENANT).ok_or_else(missing)?;
                let tenant = TenantId::parse(&tenant)
                    .map_err(|_| Status::unauthenticated("principal tenant is malformed"))?;
                PrincipalKind::Tenant(tenant)
            }
            _ => return Err(missing()),
        };
        Ok(Self {
            kind,
            credential_id: text(CREDENTIAL).ok_or_else(missing)?,
            scopes: text(SCOPES)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            request_id: text(REQUEST_ID).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_principal() -> Principal {
        Principal {
            kind: PrincipalKind::Tenant(TenantId::generate()),
            credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".into(),
            scopes: vec!["read".into(), "write".into()],
            request_id: "req-1".into(),
        }
    }

    #[test]
    fn metadata_round_trips() {
        let principal = tenant_principal();
        let mut metadata = MetadataMap::new();
        principal.write_to(&mut metadata).unwrap();
        assert_eq!(Principal::from_metadata(&metadata).unwrap(), principal);
    }

    #[test]
    fn metadata_without_a_trusted_peer_is_refused() {
        let principal = tenant_principal();
        let mut request = Request::new(());
        principal.write_to(request.metadata_mut()).unwrap();
        let status = Principal::from_request(&request).unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn malformed_tenant_is_refused() {
        let mut metadata = MetadataMap::new();
        metadata.insert(KIND, "tenant".parse().unwrap());
        metadata.insert(TENANT, "ten_nope".parse().unwrap());
        metadata.insert(CREDENTIAL, "x".parse().unwrap());
        assert!(Principal::from_metadata(&metadata).is_err());
    }

    #[test]
    fn authorisation_checks() {
        let tenant = tenant_principal();
        assert!(tenant.require_tenant().is_ok());
        assert!(tenant.require_platform_admin().is_err());
        let admin = Principal {
            kind: PrincipalKind::PlatformAdmin,
            ..tenant
        };
        assert!(admin.require_platform_admin().is_ok());
        assert!(admin.require_tenant().is_err());
    }
}
