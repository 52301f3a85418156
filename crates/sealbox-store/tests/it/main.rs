//! The store conformance suite. Every scenario runs on SQLite, and on PostgreSQL when
//! `SEALBOX_TEST_DATABASE_URL` is set, each test on a fresh schema (see `harness`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// `conformance!(scenario, ...)` in a scenario module: one test per scenario and database,
/// named `<module>::sqlite::<scenario>` and `<module>::postgres::<scenario>`.
macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::harness::on_sqlite(super::$scenario).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::harness::on_postgres(super::$scenario).await
                }
            )*
        }
    };
}

mod fixtures;
mod harness;

mod actions;
mod audit;
mod backup;
mod fail_closed;
mod federations;
mod identities;
mod keyring;
mod login_attempts;
mod members;
mod postgres_only;
mod secrets;
mod sqlite_only;
mod sso;
mod tokens;
mod workspaces;
