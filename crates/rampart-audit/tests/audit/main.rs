//! The audit service end to end: a real server on port 0 with mTLS, fed by
//! the services' certificates and read through the gateway's, each case on
//! SQLite and on PostgreSQL.

mod append;
mod chain;
mod helpers;
mod list;
