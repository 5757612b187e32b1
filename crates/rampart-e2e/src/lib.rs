//! The whole Rampart stack in one process, for the end-to-end tests
//! (`tests/e2e/`) and the load benches (`benches/`): both start it, on the
//! embedded default or on PostgreSQL + Redis, and drive it over HTTPS and
//! gRPC as a client or an attacker would.
//!
//! - [`harness`]: starts the stack with the edge on port 0, and an HTTPS
//!   client that trusts the edge CA.
//! - [`reads`]: the benches' timed CRM reads and their percentiles.

pub mod harness;
pub mod reads;
