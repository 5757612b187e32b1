//! The auth service's parsed inputs: values that are checked once, where
//! they enter, and are well formed wherever they are held afterwards.
//!
//! - [`keys`]: whose a key is, its name, environment and scopes.
//! - [`sessions`]: why a session ended.
//! - [`users`]: emails, where an account lives, roles.

pub(crate) mod keys;
pub(crate) mod sessions;
pub(crate) mod users;
