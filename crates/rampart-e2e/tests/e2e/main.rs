//! The whole stack, in-process, driven from outside.
//!
//! - [`harness`]: the crate's library (`src/harness.rs`), imported here so
//!   that every test module reaches it as `crate::harness`.
//! - [`flow`]: the walking-skeleton flow from the first issue: tenants, keys,
//!   customers, isolation, escalation and audit.
//! - [`audit`]: the audit log end to end: nothing lost while audit is down,
//!   and what a reader gets verifies.
//! - [`edge`]: what an attacker at the edge would try.
//! - [`mesh`]: what a caller inside the network would try against services.
//! - [`widget`]: the widget's public key and CORS, from a browser's side.
//! - [`keys`]: the API key lifecycle: scopes, expiry, networks, rotation,
//!   revocation on every gateway, usage and per-tenant rate limits.
//! - [`accounts`]: people's accounts: users, roles, passwords, TOTP, admin
//!   access, sessions, throttling and suspicious activity.
//! - [`hardening`]: the edge's TLS, limits and timeouts, probed at the wire.
//! - [`connections`]: early answers to clients still sending, idle
//!   keep-alive connections, and what the metrics may name.
//! - [`operations`]: the OpenAPI document, security.txt and metrics.
//! - [`support`]: the support flow: the handoff gate on every customer
//!   message, the queue, claims, hand-backs, guardrails, fail-closed and
//!   deadlines that escalate once.
//! - [`billing`]: the tenant billing state machine, its signed webhook, and
//!   a suspended tenant locked out at every gateway within a second.
//! - [`tenant_deletion`]: deleting a tenant: admin only, its credentials
//!   refused at once, its data keys counted.
//! - [`erasure`]: erasure requests with signed deletion certificates,
//!   legal holds and tenant isolation, through the edge.
//! - [`attacks`]: the defects issue 19 found from outside, retried as the
//!   attacker tried them.
//! - [`crm_roles`]: the role matrix: every CRM route against every kind of
//!   tenant credential, expected answers computed from the policy table.
//! - [`crm_isolation`]: another tenant's ids, and the other data mode's,
//!   are not found on any CRM route, and nothing of them is listed.
//! - [`crm_at_rest`]: a dump of the storage holds no personal data in
//!   plaintext, and ciphertext moved to another row does not open.
//! - [`handoff_modes`]: a test key's handoffs kept out of the live queue,
//!   and live ones out of the test key's.
//! - [`replicas`]: two instances of every service on one PostgreSQL and
//!   Redis: one Merkle tree per tenant, revocations across gateways, a
//!   deadline fired once.
//! - [`widget_pages`]: the pages' security headers, and a widget visitor
//!   reading their own conversation and nobody else's.
//! - [`tenant_data`]: a manager's activity report and the owner's bulk
//!   export (complete, opened, audited, malformed periods refused).
//! - [`telephony`]: Twilio's SMS and voice webhooks: signatures, tenant
//!   resolution by the called number, replays, the gate, opt-out and
//!   recording consent.
//! - [`transport`]: who may call whom and whose principal is trusted, the
//!   same over gRPC and in the gateway's own process.

// The harness is the library's, shared with the benches.
use rampart_e2e::harness;

mod accounts;
mod attacks;
mod audit;
mod billing;
mod calendar;
mod connections;
mod console_session;
mod crm_at_rest;
mod crm_isolation;
mod crm_roles;
mod edge;
mod erasure;
mod flow;
mod handoff_modes;
mod handoff_stream;
mod hardening;
mod incident;
mod keys;
mod mesh;
mod operations;
mod replicas;
mod support;
mod telephony;
mod tenant_data;
mod tenant_deletion;
mod transport;
mod widget;
mod widget_pages;
