//! The whole Rampart stack in one process, for the end-to-end tests
//! (`tests/e2e/`) and the load benches (`benches/`): both start it, on the
//! embedded default or on PostgreSQL + Redis, and drive it over HTTPS and
//! gRPC as a client or an attacker would.
//!
//! - [`harness`]: starts the stack with the edge on port 0, and an HTTPS
//!   client that trusts the edge CA.
//! - [`reads`]: the benches' timed CRM reads and their percentiles.
//! - [`on_both_backends!`]: a scenario as two tests, one per backend.

pub mod fake_google;
pub mod harness;
pub mod reads;

/// Runs each scenario, an `async fn(&TestStack)` of the calling module, on the
/// embedded default and on PostgreSQL + Redis: a module named after it with
/// the tests `embedded` and `postgres_and_redis` (which skips when the two
/// are absent, and fails under `CI=true`, as [`harness::TestStack::start`] does).
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use $crate::harness::{Backend, TestStack};

            #[tokio::test]
            async fn embedded() {
                let stack = TestStack::start(Backend::Embedded).await.expect("embedded runs");
                super::$scenario(&stack).await;
                stack.stop().await;
            }

            #[tokio::test]
            async fn postgres_and_redis() {
                let Some(stack) = TestStack::start(Backend::PostgresRedis).await else {
                    return;
                };
                super::$scenario(&stack).await;
                stack.stop().await;
            }
        }
    )*};
}
