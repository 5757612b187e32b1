//! The `rampart` binary's library: everything `main` does, testable.
//!
//! - [`cli`]: the command line (`dev`, `serve`, `migrate`, `pki`, `admin`,
//!   `audit`).
//! - [`audit_cli`]: `rampart audit verify`, the offline export verifier.
//! - [`settings`]: settings from flags, environment and an optional TOML
//!   file, validated before anything starts.
//! - [`stack`]: starting services in this process, all five (`rampart dev`,
//!   and the end-to-end tests) or a chosen few (`rampart serve`).
//! - [`dev_data`]: the embedded default's data folder: SQLite files,
//!   certificates and generated secrets.

pub mod audit_cli;
pub mod cli;
pub mod dev_data;
pub mod settings;
pub mod stack;
