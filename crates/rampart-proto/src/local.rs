//! The in-process transport's half that the generated handles use.
//!
//! Every service gets a generated `<service>_handle` module beside its client
//! and server: a `Dispatch` trait (the server trait, object-safe, its streams
//! boxed), implemented for every server implementation; and a handle that is
//! either the gRPC client (`Remote`) or a [`Local`] call straight into the
//! implementation, with no serialisation, no TLS and no socket. The handle
//! has the client's methods, so a caller does not know which it holds.
//!
//! What a server's interceptor decides for a call from the network (who may
//! call, what the callee may trust), a [`Resolve`] decides for a local call:
//! `rampart-kit`'s registry of the services running in this process is one.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tonic::{Request, Status, TimeoutExpired};

/// A stream of answers, the same type from both transports.
pub type BoxStream<T> = tonic::codegen::BoxStream<T>;

/// Finds the implementation behind a local handle and admits a call to it.
pub trait Resolve<D: ?Sized>: Send + Sync + 'static {
    /// The implementation to call and the request it is to see: refused as
    /// the server's interceptor would refuse it (the caller is not allowed),
    /// or unavailable when the service is not running in this process. The
    /// returned request's extensions are the callee's to trust: whatever the
    /// caller put there is dropped, as the network would drop it, but for
    /// what the resolver itself vouches for.
    fn admit(&self, request: Request<()>) -> Result<(Arc<D>, Request<()>), Status>;
}

/// A local handle's way to its service.
pub struct Local<D: ?Sized> {
    resolver: Arc<dyn Resolve<D>>,
    /// How long one call may run before it is cancelled: the server's
    /// timeout over gRPC, kept for the calls that never reach a server.
    deadline: Duration,
}

impl<D: ?Sized> Clone for Local<D> {
    fn clone(&self) -> Self {
        Self {
            resolver: Arc::clone(&self.resolver),
            deadline: self.deadline,
        }
    }
}

impl<D: ?Sized> std::fmt::Debug for Local<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Local")
    }
}

impl<D: ?Sized + 'static> Local<D> {
    /// A way to the service `resolver` finds, each call cancelled after
    /// `deadline`.
    #[must_use]
    pub fn new(resolver: Arc<dyn Resolve<D>>, deadline: Duration) -> Self {
        Self { resolver, deadline }
    }

    /// Runs a call to the implementation, cancelling it (dropping it, as a
    /// server drops a call it times out) once the deadline passes, with
    /// the status gRPC's timeout gives: `CANCELLED`, "Timeout expired".
    pub async fn within<T>(
        &self,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        tokio::time::timeout(self.deadline, call)
            .await
            .unwrap_or_else(|_| Err(Status::cancelled(TimeoutExpired(()).to_string())))
    }

    /// Admits `request`: the implementation and the request as the callee
    /// sees it, its message untouched.
    pub fn admit<M>(&self, request: Request<M>) -> Result<(Arc<D>, Request<M>), Status> {
        let (metadata, extensions, message) = request.into_parts();
        let (service, admitted) =
            self.resolver
                .admit(Request::from_parts(metadata, extensions, ()))?;
        let (metadata, extensions, ()) = admitted.into_parts();
        Ok((service, Request::from_parts(metadata, extensions, message)))
    }
}
