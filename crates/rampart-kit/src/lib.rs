//! Shared plumbing for Rampart's services.
//!
//! Every service crate is built from the same few parts, kept here so that
//! each is written once:
//!
//! - [`config`]: settings and secrets read from the environment or `*_FILE`s.
//! - [`secret`]: types for values that must never be printed.
//! - [`api_key`]: the API key format, its checksum and its keyed hash.
//! - [`audit_schema`]: the audit event kinds and their versioned schemas.
//! - [`telemetry`]: the tracing subscriber, OTLP export and W3C trace context
//!   carried across gRPC hops.
//! - [`error`]: the one small set of error codes mapped to both gRPC and HTTP.
//! - [`ids`]: prefixed, typed identifiers (`ten_...`, `cus_...`).
//! - [`networks`]: the client networks a credential may be used from.
//! - [`origins`]: the web origins a widget key may be used from.
//! - [`pki`]: the internal CA, per-service certificates, the edge certificate
//!   and the mutual-TLS settings built from them.
//! - [`principal`]: who is calling, as the gateway passes it in gRPC metadata,
//!   trusted only from the gateway's certificate.
//! - [`grpc`]: starting an mTLS gRPC server with health, and connecting to one.
//! - [`db`]: connecting to SQLite or PostgreSQL.
//! - [`metrics`]: what the outbox relay and the revocation watcher record
//!   (audit delivery lag, revocation spread), one registry per process.
//! - [`outbox`]: the audit outbox a service writes in its own transactions,
//!   and the relay that delivers it to the audit service.
//! - [`rate_limit`]: GCRA rate limiting, in-process or shared through Redis.
//! - [`revocation`]: the fan-out that tells every gateway a credential is
//!   revoked, and whether it can still trust its cache.
//! - [`testing`] (feature `testing`): fresh databases for tests.
//! - [`environment`]: development, staging or production, and the key-hash
//!   secret each binds credentials to.
//! - [`redis_connect`]: Redis clients, plain or TLS with a private CA.

pub mod api_key;
pub mod audit_schema;
pub mod config;
pub mod db;
pub mod environment;
pub mod error;
pub mod grpc;
pub mod ids;
pub mod local;
pub mod metrics;
pub mod networks;
pub mod origins;
pub mod outbox;
pub mod pki;
pub mod principal;
pub mod rate_limit;
pub mod redis_connect;
pub mod revocation;
pub mod secret;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use tokio_util::sync::CancellationToken;
