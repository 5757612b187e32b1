//! The CRM service end to end: the real server on port 0 with mutual TLS,
//! called the way the gateway calls it, on SQLite and on PostgreSQL (each
//! case gets a fresh database; PostgreSQL cases are skipped when it is
//! unreachable outside CI).

mod audit;
mod billing;
mod conversation_attacks;
mod conversations;
mod customers;
mod erasure;
mod escalation_stub;
mod gate;
mod helpers;
mod isolation;
mod lifecycle;
mod migration;
mod owner;
mod peers;
mod replies;
mod retention_job;
mod schedule;
mod sms_outbound;
mod tenant_data;
mod tenant_deletion;
mod tenants;
mod test_mode;
mod transcripts;
mod validation;
mod vault;
