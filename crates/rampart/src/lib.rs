//! The `rampart` binary's library: everything `main` does, testable.
//!
//! - [`cli`]: the command line (`dev`, `serve`, `migrate`, `pki`, `admin`,
//!   `audit`).
//! - [`audit_cli`]: `rampart audit verify`, the offline export verifier.
//! - [`escalation_cli`]: `rampart escalation eval`, detection measured on a corpus.
//! - [`checklist`]: `rampart checklist`, the monthly security checklist
//!   as a report.
//! - [`incident_cli`]: `rampart incident`, the incident playbook against a
//!   running stack's admin REST API.
//! - [`settings`]: settings from flags, environment and an optional TOML
//!   file, validated before anything starts.
//! - [`stack`]: starting services in this process, all five (`rampart dev`,
//!   and the end-to-end tests) or a chosen few (`rampart serve`).
//! - [`dev_data`]: the embedded default's data folder: SQLite files,
//!   certificates and generated secrets.
//! - [`production`]: what `RAMPART_ENV=production` refuses to start with.

pub mod admin_api;
pub mod audit_cli;
pub mod checklist;
pub mod cli;
pub mod dev_data;
pub mod escalation_cli;
pub mod incident_cli;
pub mod production;
pub mod settings;
pub mod stack;

/// Every Rampart process (the binary, and whatever else runs the stack
/// from this library: the end-to-end tests and benches) allocates with
/// mimalloc instead of the system allocator.
///
/// A request crosses several layers (HTTP/1 or HTTP/2 in, the gateway's
/// pipeline, a gRPC call over HTTP/2, protobuf both ways), each allocating
/// and freeing buffers, often on another thread than the one that
/// allocated them. With glibc's allocator that cost about a quarter of the
/// gateway's CPU time under load (`malloc`, `free` and arena
/// consolidation); with mimalloc the same build served about 30% more
/// requests a second (`docs/benchmarks.md`, "Edge").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
