//! People who sign in: users and roles, signing in with a password and a
//! second factor, sessions, and everything that ends them.
//!
//! [`Accounts`] holds what each step needs and keeps the rules in one place:
//!
//! - signing in ([`Accounts::sign_in`]) reserves an attempt in the account's
//!   and the address's throttle buckets *before* checking the password, runs
//!   Argon2id against the user's hash or a dummy one, and answers one
//!   "invalid email or password" for every kind of refusal;
//! - a user with a second factor (every platform admin, and owners and
//!   managers of a tenant that requires it) gets a challenge instead of a
//!   session, and completes it with a TOTP code that is accepted once (the
//!   step is remembered) or a one-time recovery code;
//! - sessions are checked on every cache miss of the gateway
//!   ([`Accounts::verify_session`]): idle and absolute timeouts, the user
//!   still enabled, the role read fresh, and the suspicious cases (a revoked
//!   token used again, a token from a new client address when the policy
//!   says so) end all of the user's sessions;
//! - every change writes its audit event in the same transaction, and every
//!   sign-in attempt is audited, success or failure, without the password
//!   or code.
//!
//! Revocations are durable here; the outbox's change also announces them
//! (after the commit) so every gateway drops its cached verdicts at once:
//! `Credential(session_id)` for one session, `Subject(user_id)` for
//! everything of a user (revoke-all, disable, role or password change,
//! suspicious activity).
//!
//! The rooms, each importing only those listed before it:
//!
//! - `settings`: the operator's settings; `model`: what the operations take
//!   and answer (secrets in `rampart_kit::secret`'s redacted types).
//! - `store`: users seen through a scope (`UserStore` for the
//!   platform or one tenant), so no handler can forget the tenant.
//! - `service`: [`Accounts`] and what every operation shares (audit
//!   records, who may manage whom, the caller's own account).
//! - `users` (managing people, passwords), `sign_in`, `second_factor` and
//!   `sessions`: the operations, each an `impl Accounts` block.
//! - `grpc`: the `AccountService` face; the gateway is its only caller.

mod grpc;
mod model;
mod second_factor;
mod service;
mod sessions;
mod settings;
mod sign_in;
mod store;
mod users;

pub(crate) use grpc::AccountsGrpc;
pub(crate) use service::Accounts;
pub use settings::{AccountSettings, NewClientPolicy};
