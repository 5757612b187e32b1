//! The auth service end to end: a real server on port 0 with mTLS, called
//! as the gateway (and as callers it must refuse), each case on SQLite and
//! on PostgreSQL.

mod accounts;
mod helpers;
mod issue;
mod startup;
mod tenant_access;
mod transport;
mod verify;
