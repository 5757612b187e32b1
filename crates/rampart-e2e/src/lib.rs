//! End-to-end tests for Rampart live in `tests/e2e/`: they start the whole
//! stack in one process, on the embedded default and on PostgreSQL + Redis,
//! and drive it over HTTPS and gRPC as a client or an attacker would.
