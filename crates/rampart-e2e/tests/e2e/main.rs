//! The whole stack, in-process, driven from outside.
//!
//! - [`harness`]: starts the stack (embedded or PostgreSQL + Redis) with the
//!   edge on port 0, and an HTTPS client that trusts the edge CA.
//! - [`flow`]: the walking-skeleton flow from the first issue: tenants, keys,
//!   customers, isolation, escalation and audit.
//! - [`edge`]: what an attacker at the edge would try.
//! - [`mesh`]: what a caller inside the network would try against services.
//! - [`hardening`]: the edge's TLS, limits and timeouts, probed at the wire.
//! - [`operations`]: the OpenAPI document, security.txt and metrics.

mod edge;
mod flow;
mod hardening;
mod harness;
mod mesh;
mod operations;
