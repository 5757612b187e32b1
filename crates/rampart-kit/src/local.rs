//! The in-process transport: services running in this process, called with
//! no serialisation, no TLS and no socket.
//!
//! A service registers its implementations in the process's
//! [`LocalServices`] with the same allow-list its gRPC server is mounted
//! with; a caller holding its own [`ServiceTls`] gets a handle that reaches
//! them. Every call passes the checks a call from the network passes:
//!
//! - the caller is named by the certificate it holds, as mTLS names it, and
//!   refused unless the callee's [`AllowPeers`] lists it;
//! - the callee sees only what it would see over the network: the metadata,
//!   and in its extensions the [`Caller`](crate::grpc::Caller) and the principal as a
//!   [`VouchedPrincipal`] (see [`crate::principal`]). Only a handle made
//!   with the gateway's certificate turns the [`Principal`] its caller puts
//!   in the extensions into one; anything else the caller put there is
//!   dropped, a forged caller above all.
//!
//! A service not registered (not started in this process, or stopped)
//! answers `Unavailable`, as a peer that is down does.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rampart_proto::local::{Local, Resolve};
use tonic::{Request, Status};

use crate::grpc::AllowPeers;
#[cfg(test)]
use crate::grpc::Caller;
use crate::pki::{ServiceName, ServiceTls};
use crate::principal::{Principal, PrincipalMint, VouchedPrincipal};

/// Which transport a caller uses to reach services in its own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Straight into the implementation, when it runs in this process.
    #[default]
    InProcess,
    /// gRPC over mutual TLS on loopback, as between processes.
    Grpc,
}

impl Transport {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProcess => "in-process",
            Self::Grpc => "grpc",
        }
    }

    /// Parses the configured name; `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::InProcess, Self::Grpc]
            .into_iter()
            .find(|transport| transport.as_str() == text)
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

struct Entry {
    /// The `Arc<D>` of the dispatch trait `D` it was registered under.
    service: Box<dyn Any + Send + Sync>,
    name: ServiceName,
    allow: AllowPeers,
    /// Which registration made it: a service restarted in the process
    /// registers again, and the old instance's late withdrawal must not
    /// remove the new one.
    registration: u64,
}

/// The services running in this process. Cheap to clone; clones share.
#[derive(Clone, Default)]
pub struct LocalServices {
    entries: Arc<RwLock<HashMap<TypeId, Entry>>>,
    registrations: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for LocalServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<ServiceName> = self.read().values().map(|entry| entry.name).collect();
        f.debug_struct("LocalServices")
            .field("registered", &names)
            .finish()
    }
}

impl LocalServices {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<TypeId, Entry>> {
        // A panic while holding the lock leaves the map whole (every write
        // is one insert or remove), so a poisoned lock is still usable.
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<TypeId, Entry>> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes `service` reachable through handles of its dispatch trait `D`
    /// (`<service>_handle::Dispatch`), by the callers `allow` lists, until
    /// the returned registration is withdrawn or dropped.
    #[must_use = "the service is withdrawn when the registration is dropped"]
    pub fn register<D>(&self, name: ServiceName, service: Arc<D>, allow: AllowPeers) -> Registration
    where
        D: ?Sized + Send + Sync + 'static,
    {
        let key = TypeId::of::<Arc<D>>();
        let registration = self
            .registrations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let entry = Entry {
            service: Box::new(service),
            name,
            allow,
            registration,
        };
        self.write().insert(key, entry);
        Registration {
            services: self.clone(),
            keys: vec![(key, registration)],
        }
    }

    /// A handle's way to `D`, for the service holding `caller`: its calls
    /// are admitted as that service's.
    #[must_use]
    pub fn reach<D>(&self, service: ServiceName, caller: &ServiceTls) -> Local<D>
    where
        D: ?Sized + Send + Sync + 'static,
    {
        Local::new(
            Arc::new(Reach {
                services: self.clone(),
                service,
                caller: caller.service(),
                mint: PrincipalMint::for_gateway(caller),
            }),
            crate::grpc::CALL_TIMEOUT,
        )
    }

    /// Whether anything of `service` is registered: its readiness in this
    /// process.
    #[must_use]
    pub fn is_serving(&self, service: ServiceName) -> bool {
        self.read().values().any(|entry| entry.name == service)
    }
}

/// What [`LocalServices::register`] registered; withdrawn when dropped.
#[derive(Default)]
pub struct Registration {
    services: LocalServices,
    keys: Vec<(TypeId, u64)>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("services", &self.keys.len())
            .finish()
    }
}

impl Registration {
    /// This registration and `other`'s, withdrawn together.
    #[must_use]
    pub fn and(mut self, mut other: Self) -> Self {
        self.keys.append(&mut other.keys);
        self
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let mut entries = self.services.write();
        for (key, registration) in &self.keys {
            if entries
                .get(key)
                .is_some_and(|entry| entry.registration == *registration)
            {
                entries.remove(key);
            }
        }
    }
}

/// How one caller reaches one dispatch trait.
struct Reach {
    services: LocalServices,
    service: ServiceName,
    caller: ServiceName,
    /// Held when the caller is the gateway.
    mint: Option<PrincipalMint>,
}

impl<D> Resolve<D> for Reach
where
    D: ?Sized + Send + Sync + 'static,
{
    fn admit(&self, request: Request<()>) -> Result<(Arc<D>, Request<()>), Status> {
        let (service, allow) = {
            let entries = self.services.read();
            let entry = entries.get(&TypeId::of::<Arc<D>>()).ok_or_else(|| {
                Status::unavailable(format!("{} is not running in this process", self.service))
            })?;
            let service = entry
                .service
                .downcast_ref::<Arc<D>>()
                .expect("entries are keyed by their own type")
                .clone();
            (service, entry.allow)
        };
        let (metadata, mut offered, ()) = request.into_parts();
        let vouched = match (&self.mint, offered.remove::<Principal>()) {
            (Some(mint), Some(principal)) => Some(mint.vouch(principal)),
            // A relay passes on what the gateway vouched for, as over the
            // network it passes on the gateway's metadata; the callee
            // trusts it only from the relays it names.
            _ => offered.remove::<VouchedPrincipal>(),
        };
        let mut extensions = tonic::Extensions::new();
        if let Some(vouched) = vouched {
            extensions.insert(vouched);
        }
        let request = allow.admit(
            Some(self.caller),
            Request::from_parts(metadata, extensions, ()),
        )?;
        Ok((service, request))
    }
}

impl Registration {
    /// Withdraws the registration when `shutdown` is cancelled, as a server
    /// stops taking calls then: callers in this process see the service
    /// unavailable from that moment.
    pub fn withdraw_on(self, shutdown: &tokio_util::sync::CancellationToken) {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            drop(self);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::principal::{DataMode, PrincipalKind};

    /// A stand-in for a generated `Dispatch` trait.
    trait Echo: Send + Sync {
        fn name(&self) -> &'static str;
    }

    struct Service;

    impl Echo for Service {
        fn name(&self) -> &'static str {
            "echo"
        }
    }

    fn identities() -> (tempfile::TempDir, crate::pki::PkiDir) {
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::pki::PkiDir::new(dir.path());
        pki.ensure_generated(&["localhost".into()]).unwrap();
        (dir, pki)
    }

    fn principal() -> Principal {
        Principal {
            kind: PrincipalKind::Tenant(TenantId::generate()),
            credential_id: "key_local".into(),
            scopes: vec!["read".into()],
            request_id: "req-local".into(),
            client_addr: String::new(),
            user: None,
            mode: DataMode::Live,
        }
    }

    /// What the service sees of `request`, sent by `caller`.
    fn admitted(
        services: &LocalServices,
        caller: &ServiceTls,
        request: Request<()>,
    ) -> Result<Request<()>, Status> {
        let reach = services.reach::<dyn Echo>(ServiceName::Crm, caller);
        let (service, request) = reach.admit(request)?;
        assert_eq!(service.name(), "echo");
        Ok(request)
    }

    #[tokio::test]
    async fn calls_pass_the_callees_allow_list_and_carry_only_what_is_vouched_for() {
        let (_dir, pki) = identities();
        let gateway = pki.load_service(ServiceName::Gateway).unwrap();
        let audit = pki.load_service(ServiceName::Audit).unwrap();
        let services = LocalServices::new();
        let registration = services.register::<dyn Echo>(
            ServiceName::Crm,
            Arc::new(Service),
            AllowPeers(&[ServiceName::Gateway]),
        );
        assert!(services.is_serving(ServiceName::Crm));

        // The gateway's principal value becomes a vouched one, with the
        // gateway as the caller.
        let offered = principal();
        let mut request = Request::new(());
        request.extensions_mut().insert(offered.clone());
        let seen = admitted(&services, &gateway, request).unwrap();
        assert_eq!(Caller::of(&seen).unwrap(), ServiceName::Gateway);
        assert!(seen.extensions().get::<Principal>().is_none());
        assert_eq!(Principal::from_request(&seen).unwrap(), offered);

        // Another service is refused by the same rule as over the network,
        // even naming itself the gateway in the extensions.
        let mut forged = Request::new(());
        forged
            .extensions_mut()
            .insert(crate::grpc::Caller(ServiceName::Gateway));
        let status = admitted(&services, &audit, forged).unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);

        // Registered again (a restart), the old registration's withdrawal
        // leaves the new one in place.
        let again = services.register::<dyn Echo>(
            ServiceName::Crm,
            Arc::new(Service),
            AllowPeers(&[ServiceName::Gateway]),
        );
        drop(registration);
        assert!(services.is_serving(ServiceName::Crm));
        admitted(&services, &gateway, Request::new(())).unwrap();

        // Withdrawn, the service is unavailable, as a stopped server is.
        drop(again);
        assert!(!services.is_serving(ServiceName::Crm));
        let status = admitted(&services, &gateway, Request::new(())).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }

    #[tokio::test]
    async fn a_principal_value_from_any_other_caller_is_dropped() {
        let (_dir, pki) = identities();
        let crm = pki.load_service(ServiceName::Crm).unwrap();
        let services = LocalServices::new();
        let _registration = services.register::<dyn Echo>(
            ServiceName::Crm,
            Arc::new(Service),
            AllowPeers(&ServiceName::ALL),
        );
        let mut request = Request::new(());
        request.extensions_mut().insert(principal());
        let seen = admitted(&services, &crm, request).unwrap();
        assert!(seen.extensions().get::<Principal>().is_none());
        assert!(seen.extensions().get::<VouchedPrincipal>().is_none());
        // The CRM may relay: from it, the callee finds no principal at all.
        let status = Principal::from_request_relayed_by(&seen, ServiceName::Crm).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(PrincipalMint::for_gateway(&crm).is_none());
    }

    /// A call that outlives the deadline is dropped with gRPC's own
    /// timeout status, as the server's timeout drops a remote one.
    #[tokio::test(start_paused = true)]
    async fn a_local_call_is_cancelled_at_the_servers_deadline() {
        let (_dir, pki) = identities();
        let gateway = pki.load_service(ServiceName::Gateway).unwrap();
        let services = LocalServices::new();
        let _registration = services.register::<dyn Echo>(
            ServiceName::Crm,
            Arc::new(Service),
            AllowPeers(&[ServiceName::Gateway]),
        );
        let reach = services.reach::<dyn Echo>(ServiceName::Crm, &gateway);

        // The call holds a clone; once the call is dropped, only this one
        // is left.
        let held = Arc::new(());
        let guard = Arc::clone(&held);
        let started = tokio::time::Instant::now();
        let call = reach.within(async move {
            let _guard = guard;
            std::future::pending::<Result<(), Status>>().await
        });
        // Bounded here too, so a handle that never gave up fails the test
        // rather than hanging it.
        let status = tokio::time::timeout(crate::grpc::CALL_TIMEOUT * 2, call)
            .await
            .expect("the handle's deadline ends the call")
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Cancelled);
        assert_eq!(status.message(), "Timeout expired");
        assert_eq!(started.elapsed(), crate::grpc::CALL_TIMEOUT);
        assert_eq!(Arc::strong_count(&held), 1);

        // A call that answers in time is untouched.
        let answer = reach.within(async { Ok::<_, Status>("on time") }).await;
        assert_eq!(answer.unwrap(), "on time");
    }

    #[test]
    fn transports_parse_by_their_configured_names() {
        for transport in [Transport::InProcess, Transport::Grpc] {
            assert_eq!(Transport::parse(transport.as_str()), Some(transport));
        }
        assert_eq!(Transport::parse("local"), None);
        assert_eq!(Transport::default(), Transport::InProcess);
    }
}
