//! The CRM service end to end: the real server on port 0 with mutual TLS,
//! called the way the gateway calls it, on SQLite and on PostgreSQL (each
//! case gets a fresh database; PostgreSQL cases are skipped when it is
//! unreachable outside CI).

/// Runs each listed case, an `async fn(Backend)` of the enclosing module,
/// once per backend as the tests `<case>::sqlite` and `<case>::postgres`.
macro_rules! on_each_backend {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn sqlite() {
                super::$case(crate::support::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$case(crate::support::Backend::Postgres).await;
            }
        }
    )*};
}

mod audit;
mod customers;
mod isolation;
mod lifecycle;
mod peers;
mod support;
mod tenants;
mod validation;
