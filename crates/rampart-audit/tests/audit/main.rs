//! The audit service end to end: a real server on port 0 with mTLS, fed by
//! the services' certificates and read through the gateway's, each case on
//! SQLite and on PostgreSQL; plus the Merkle code against published
//! vectors and property tests.

mod append;
mod delivery_metrics;
mod helpers;
mod list;
mod migration;
mod proofs;
mod properties;
mod tamper;
mod vectors;
