//! API keys: who holds a presented key, and each key's life from issue to
//! revocation.
//!
//! - `rules`: [`Credentials`], verification and the lifecycle (issue, list,
//!   rotate with a grace period, revoke, usage, tenants' rates), and who
//!   may manage whose keys.
//! - `store`: the `auth_api_key` table, keyed by the keys' HMAC hashes, and
//!   the tenants' own request rates.
//! - `grpc`: the `AuthService` face; the gateway is its only allowed caller.
//!
//! The parsed inputs both the rules and the store take (owners, names,
//! environments, scopes) live in [`crate::domain::keys`], so the rules
//! import the store and the store imports neither.

mod grpc;
mod rules;
mod store;

pub(crate) use grpc::AuthGrpc;
pub(crate) use rules::{Credentials, bootstrap_admin_hash};
pub(crate) use store::KeyStore;
