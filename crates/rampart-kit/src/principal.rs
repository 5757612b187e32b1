//! Who is calling: the principal the gateway authenticated, carried to the
//! services as gRPC metadata.
//!
//! A service reads the principal only through [`Principal::from_request`],
//! which refuses the metadata unless the caller's mTLS certificate is the
//! gateway's: another service, even one holding a valid certificate, cannot
//! claim to act for a tenant. In the gateway's own process the principal
//! travels instead as a typed [`VouchedPrincipal`], which only a holder of
//! the gateway's certificate can make ([`PrincipalMint`]) and which is
//! trusted by the same rule. Handlers then authorise explicitly with
//! [`Principal::require_tenant`] or [`Principal::require_platform_admin`],
//! and for signed-in people by role with [`Principal::require_role`].

use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Status};

use crate::grpc::Caller;
use crate::ids::TenantId;
use crate::pki::{ServiceName, peer_service};

const KIND: &str = "x-rampart-principal-kind";
const TENANT: &str = "x-rampart-tenant-id";
const CREDENTIAL: &str = "x-rampart-credential-id";
const SCOPES: &str = "x-rampart-scopes";
const SUBJECT: &str = "x-rampart-subject-id";
const ROLE: &str = "x-rampart-role";
/// The request id, also sent on every response at the edge.
pub const REQUEST_ID: &str = "x-request-id";
const CLIENT_ADDR: &str = "x-rampart-client-addr";
const MODE: &str = "x-rampart-data-mode";

/// Every metadata key that carries principal data. The gateway strips these
/// from anything a client sends before it sets its own.
pub const PRINCIPAL_HEADERS: [&str; 7] = [KIND, TENANT, CREDENTIAL, SCOPES, SUBJECT, ROLE, MODE];

/// Which of its tenant's data a credential sees. A `rk_test_` key works in
/// the tenant's test mode: what it writes is invisible to live credentials,
/// and live data is invisible to it (Stripe's test mode). Everything else,
/// sessions included, is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DataMode {
    #[default]
    Live,
    Test,
}

impl DataMode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    /// Parses the stored or wire name; `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "live" => Some(Self::Live),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

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
    /// Read and export the tenant's audit trail, which records everything
    /// done in the tenant: an integration's ordinary `read` does not grant it.
    Audit,
    /// Read and change the business settings (a manager's work).
    Settings,
    /// The owner's work: channels and their credentials, retention, legal
    /// holds, erasure and bulk export.
    Owner,
}

impl Scope {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Audit => "audit",
            Self::Settings => "settings",
            Self::Owner => "owner",
        }
    }
}

/// What a signed-in person may do. Platform admins run the platform; the
/// others belong to one tenant, ranked owner > manager > agent. A new user is
/// an agent: least privilege by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A platform operator (never a tenant's user).
    Admin,
    /// Runs a tenant: its users, roles, keys and settings.
    Owner,
    /// Runs a tenant's day-to-day work and its agents.
    Manager,
    /// Handles conversations and handoffs.
    Agent,
}

impl Role {
    /// Every tenant role, highest first.
    pub const TENANT_ROLES: [Self; 3] = [Self::Owner, Self::Manager, Self::Agent];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Owner => "owner",
            Self::Manager => "manager",
            Self::Agent => "agent",
        }
    }

    /// Parses the wire name; `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Admin, Self::Owner, Self::Manager, Self::Agent]
            .into_iter()
            .find(|role| role.as_str() == text)
    }

    /// The rank among tenant roles; `None` for the platform admin, who is
    /// outside every tenant's ranking.
    fn tenant_rank(self) -> Option<u8> {
        match self {
            Self::Admin => None,
            Self::Owner => Some(3),
            Self::Manager => Some(2),
            Self::Agent => Some(1),
        }
    }

    /// Whether this role grants at least what `needed` grants.
    #[must_use]
    pub fn at_least(self, needed: Self) -> bool {
        match (self.tenant_rank(), needed.tenant_rank()) {
            (Some(have), Some(need)) => have >= need,
            (None, None) => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The person behind a session, when the credential is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInUser {
    /// A `UserId` (`usr_...`).
    pub id: String,
    pub role: Role,
}

/// An authenticated caller, as established by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The id of the credential used (an API key id, "bootstrap" for the
    /// configured admin key, a session id), never the credential itself.
    pub credential_id: String,
    pub scopes: Vec<String>,
    pub request_id: String,
    /// The client's IP address as the gateway saw it (its own peer, never a
    /// client-supplied header), for audit records; empty when unknown.
    pub client_addr: String,
    /// The signed-in person, for a session; `None` for an API key.
    pub user: Option<SignedInUser>,
    /// Live or test data; test only for a `rk_test_` key.
    pub mode: DataMode,
}

/// A principal the gateway vouches for, handed to a service in its own
/// process as a value rather than as metadata (see [`crate::local`]). Its
/// field is private and its only maker is [`PrincipalMint::vouch`]: code
/// elsewhere cannot make one,
///
/// ```compile_fail,E0603
/// # use rampart_kit::principal::{Principal, VouchedPrincipal};
/// fn forge(principal: Principal) -> VouchedPrincipal {
///     VouchedPrincipal(std::sync::Arc::new(principal))
/// }
/// ```
///
/// and a service trusts one only from the gateway, as it trusts metadata.
#[derive(Debug, Clone)]
pub struct VouchedPrincipal(std::sync::Arc<Principal>);

/// The gateway's power to vouch for principals in its own process: held only
/// by whoever holds the gateway's certificate, as over the network only the
/// gateway's certificate makes a service trust principal metadata.
#[derive(Debug)]
pub struct PrincipalMint(());

impl PrincipalMint {
    /// The mint, for the gateway's certificate only; `None` for any other.
    #[must_use]
    pub fn for_gateway(tls: &crate::pki::ServiceTls) -> Option<Self> {
        (tls.service() == ServiceName::Gateway).then_some(Self(()))
    }

    #[must_use]
    pub fn vouch(&self, principal: Principal) -> VouchedPrincipal {
        VouchedPrincipal(std::sync::Arc::new(principal))
    }
}

/// The credential id of a service acting on its own (see
/// [`Principal::system`]); no key or session id has this shape.
const SYSTEM_CREDENTIAL: &str = "system:";

impl Principal {
    /// A service acting for `tenant` on its own, not for a caller (the CRM
    /// retrying a customer message's gate once escalation is back). Audit
    /// records name it `system:<service>`; it holds the `write` scope only.
    #[must_use]
    pub fn system(tenant: TenantId, service: crate::pki::ServiceName) -> Self {
        Self {
            kind: PrincipalKind::Tenant(tenant),
            credential_id: format!("{SYSTEM_CREDENTIAL}{service}"),
            scopes: vec!["write".to_owned()],
            request_id: uuid::Uuid::now_v7().to_string(),
            client_addr: String::new(),
            user: None,
            mode: DataMode::Live,
        }
    }

    /// The same service acting in `mode` (the gate retry works on test
    /// conversations in test mode).
    #[must_use]
    pub fn in_mode(mut self, mode: DataMode) -> Self {
        self.mode = mode;
        self
    }

    /// The actor recorded in audit events.
    #[must_use]
    pub fn actor(&self) -> String {
        if let Some(user) = &self.user {
            return format!("user:{}", user.id);
        }
        if self.credential_id.starts_with(SYSTEM_CREDENTIAL) {
            return self.credential_id.clone();
        }
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

    /// The signed-in user, when their role is at least `needed`; otherwise
    /// PermissionDenied. An API key has no role and is refused: actions
    /// guarded by a role are for people.
    pub fn require_role(&self, needed: Role) -> Result<&SignedInUser, Status> {
        match &self.user {
            Some(user) if user.role.at_least(needed) => Ok(user),
            Some(_) => Err(Status::permission_denied(format!(
                "this action needs the {needed} role"
            ))),
            None => Err(Status::permission_denied(format!(
                "this action needs a signed-in user with the {needed} role"
            ))),
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
        if let Some(user) = &self.user {
            metadata.insert(SUBJECT, value(&user.id)?);
            metadata.insert(ROLE, AsciiMetadataValue::from_static(user.role.as_str()));
        }
        metadata.insert(REQUEST_ID, value(&self.request_id)?);
        if !self.client_addr.is_empty() {
            metadata.insert(CLIENT_ADDR, value(&self.client_addr)?);
        }
        if self.mode == DataMode::Test {
            metadata.insert(MODE, AsciiMetadataValue::from_static("test"));
        }
        Ok(())
    }

    /// Reads the principal of a request, trusting the metadata only when the
    /// caller's certificate is the gateway's.
    pub fn from_request<T>(request: &Request<T>) -> Result<Self, Status> {
        // Behind `AllowPeers` the caller is already read from its
        // certificate; extensions are set by this server, never by the peer.
        let caller = request
            .extensions()
            .get::<Caller>()
            .map(|caller| caller.0)
            .or_else(|| peer_service(request.peer_certs()));
        if caller != Some(ServiceName::Gateway) {
            return Err(Status::permission_denied(
                "principal metadata is accepted only from the gateway",
            ));
        }
        Self::vouched_or_metadata(request)
    }

    /// The principal the gateway vouched for in this process, or else the
    /// one in the metadata; the caller is already checked.
    fn vouched_or_metadata<T>(request: &Request<T>) -> Result<Self, Status> {
        match request.extensions().get::<VouchedPrincipal>() {
            Some(vouched) => Ok(Principal::clone(&vouched.0)),
            None => Self::from_metadata(request.metadata()),
        }
    }

    /// Reads the principal of a request that the gateway, or `relay` on
    /// the gateway's caller's behalf, makes. The CRM relays its caller's
    /// principal to escalation's gate and guardrails: it holds every
    /// tenant's data already, so trusting it to name the tenant grants it
    /// nothing new. Any other peer is refused as in [`Self::from_request`].
    pub fn from_request_relayed_by<T>(
        request: &Request<T>,
        relay: ServiceName,
    ) -> Result<Self, Status> {
        let caller = request
            .extensions()
            .get::<Caller>()
            .map(|caller| caller.0)
            .or_else(|| peer_service(request.peer_certs()));
        if caller != Some(ServiceName::Gateway) && caller != Some(relay) {
            return Err(Status::permission_denied(format!(
                "principal metadata is accepted only from the gateway or the {relay}"
            )));
        }
        Self::vouched_or_metadata(request)
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
        let user = match (text(SUBJECT), text(ROLE)) {
            (None, None) => None,
            (Some(id), Some(role)) => Some(SignedInUser {
                id,
                role: Role::parse(&role)
                    .ok_or_else(|| Status::unauthenticated("principal role is malformed"))?,
            }),
            _ => return Err(Status::unauthenticated("principal user is incomplete")),
        };
        let mode = match text(MODE) {
            None => DataMode::Live,
            Some(mode) => DataMode::parse(&mode)
                .ok_or_else(|| Status::unauthenticated("principal data mode is malformed"))?,
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
            // Only an IP address is kept: the metadata is the gateway's, but
            // an audit record takes nothing it has not checked.
            client_addr: text(CLIENT_ADDR)
                .filter(|addr| addr.parse::<std::net::IpAddr>().is_ok())
                .unwrap_or_default(),
            user,
            mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_principal() -> Principal {
        Principal {
            mode: DataMode::Live,
            client_addr: "2001:db8::7".into(),
            kind: PrincipalKind::Tenant(TenantId::generate()),
            credential_id: "key_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".into(),
            scopes: vec!["read".into(), "write".into()],
            request_id: "req-1".into(),
            user: None,
        }
    }

    #[test]
    fn metadata_round_trips() {
        let principal = tenant_principal();
        let mut metadata = MetadataMap::new();
        principal.write_to(&mut metadata).unwrap();
        assert_eq!(Principal::from_metadata(&metadata).unwrap(), principal);
        // Without an address, none is made up.
        let unknown = Principal {
            mode: DataMode::Live,
            client_addr: String::new(),
            ..tenant_principal()
        };
        let mut metadata = MetadataMap::new();
        unknown.write_to(&mut metadata).unwrap();
        assert_eq!(Principal::from_metadata(&metadata).unwrap(), unknown);
    }

    #[test]
    fn a_client_address_that_is_not_an_ip_is_dropped() {
        let mut metadata = MetadataMap::new();
        tenant_principal().write_to(&mut metadata).unwrap();
        metadata.insert(CLIENT_ADDR, "203.0.113.9 forged=line".parse().unwrap());
        assert_eq!(Principal::from_metadata(&metadata).unwrap().client_addr, "");
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
    fn a_relay_is_trusted_only_where_named() {
        let principal = tenant_principal();
        let from = |peer: ServiceName| {
            let mut request = Request::new(());
            principal.write_to(request.metadata_mut()).unwrap();
            request.extensions_mut().insert(crate::grpc::Caller(peer));
            request
        };
        let relayed = from(ServiceName::Crm);
        assert_eq!(
            Principal::from_request_relayed_by(&relayed, ServiceName::Crm).unwrap(),
            principal
        );
        assert!(Principal::from_request(&relayed).is_err());
        for peer in [
            ServiceName::Auth,
            ServiceName::Audit,
            ServiceName::Escalation,
        ] {
            let status =
                Principal::from_request_relayed_by(&from(peer), ServiceName::Crm).unwrap_err();
            assert_eq!(status.code(), tonic::Code::PermissionDenied, "{peer}");
        }
        assert!(
            Principal::from_request_relayed_by(&from(ServiceName::Gateway), ServiceName::Crm)
                .is_ok()
        );
    }

    #[test]
    fn a_system_principal_is_named_as_the_service() {
        let tenant = TenantId::generate();
        let system = Principal::system(tenant.clone(), ServiceName::Crm);
        assert_eq!(system.actor(), "system:crm");
        assert_eq!(system.require_tenant().unwrap(), &tenant);
        assert!(system.require_scope(Scope::Write).is_ok());
        assert!(system.require_scope(Scope::Read).is_err());
        let mut metadata = MetadataMap::new();
        system.write_to(&mut metadata).unwrap();
        assert_eq!(Principal::from_metadata(&metadata).unwrap(), system);
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
            mode: DataMode::Live,
            client_addr: String::new(),
            kind: PrincipalKind::PlatformAdmin,
            ..tenant
        };
        assert!(admin.require_platform_admin().is_ok());
        assert!(admin.require_tenant().is_err());
    }

    #[test]
    fn users_round_trip_and_act_as_themselves() {
        let principal = Principal {
            mode: DataMode::Live,
            client_addr: String::new(),
            user: Some(SignedInUser {
                id: "usr_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f".into(),
                role: Role::Manager,
            }),
            ..tenant_principal()
        };
        let mut metadata = MetadataMap::new();
        principal.write_to(&mut metadata).unwrap();
        assert_eq!(Principal::from_metadata(&metadata).unwrap(), principal);
        assert_eq!(
            principal.actor(),
            "user:usr_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f"
        );

        metadata.insert(ROLE, "superuser".parse().unwrap());
        assert!(Principal::from_metadata(&metadata).is_err());
        metadata.remove(ROLE);
        assert!(Principal::from_metadata(&metadata).is_err());
    }

    #[test]
    fn roles_rank_owner_over_manager_over_agent() {
        let with_role = |role| Principal {
            mode: DataMode::Live,
            client_addr: String::new(),
            user: Some(SignedInUser {
                id: "usr_x".into(),
                role,
            }),
            ..tenant_principal()
        };
        assert!(with_role(Role::Owner).require_role(Role::Owner).is_ok());
        assert!(with_role(Role::Owner).require_role(Role::Agent).is_ok());
        assert!(with_role(Role::Manager).require_role(Role::Owner).is_err());
        assert!(with_role(Role::Agent).require_role(Role::Manager).is_err());
        assert!(with_role(Role::Admin).require_role(Role::Owner).is_err());
        assert!(with_role(Role::Owner).require_role(Role::Admin).is_err());
        assert!(with_role(Role::Admin).require_role(Role::Admin).is_ok());
        // An API key has no role at all.
        assert!(tenant_principal().require_role(Role::Agent).is_err());
        for role in [Role::Admin, Role::Owner, Role::Manager, Role::Agent] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
