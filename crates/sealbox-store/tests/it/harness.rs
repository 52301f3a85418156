//! Hands each scenario a real, empty store: SQLite in a temporary directory, or PostgreSQL on a
//! fresh schema of the database at `SEALBOX_TEST_DATABASE_URL`.

use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use sealbox_store::{PostgresStore, SqliteStore, Store, create_isolated_schema};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor};
use tempfile::TempDir;

pub const DATABASE_URL_VAR: &str = "SEALBOX_TEST_DATABASE_URL";

pub struct Db {
    pub store: Arc<dyn Store>,
    at: Location,
}

enum Location {
    Sqlite { _dir: TempDir, path: PathBuf },
    Postgres { url: String },
}

impl Db {
    /// Another store on the same database, as a second server process would open it.
    pub async fn open_again(&self) -> Arc<dyn Store> {
        match &self.at {
            Location::Sqlite { path, .. } => {
                Arc::new(SqliteStore::open(path, crate::fixtures::chain_key()).await.unwrap())
            }
            Location::Postgres { url } => {
                Arc::new(PostgresStore::connect(url, crate::fixtures::chain_key()).await.unwrap())
            }
        }
    }

    /// Makes inserts of events with this action fail, behind the store's back (into
    /// `audit_events` on SQLite, `audit_pending` on PostgreSQL).
    pub async fn refuse_audit_action(&self, action: &str) {
        // `action` comes from the test itself, not from outside.
        let sql = match &self.at {
            Location::Sqlite { .. } => format!(
                "CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_events WHEN NEW.action = '{action}' \
                 BEGIN SELECT RAISE(ABORT, 'audit refused'); END;"
            ),
            Location::Postgres { .. } => format!(
                "CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'audit refused'; END $$; \
                 CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_pending \
                 FOR EACH ROW WHEN (NEW.action = '{action}') EXECUTE FUNCTION audit_refuse();"
            ),
        };
        self.run_sql(&sql).await;
    }

    /// Inserts `record` into `audit_pending` with `mac`, behind the store's back (as an event a
    /// restored backup holds unsealed, or one forged by someone without the key).
    pub async fn insert_pending(&self, record: &sealbox_store::AuditRecord, mac: &[u8]) {
        // The record's fields come from the test itself; none holds a quote.
        let r = record;
        let mac = match &self.at {
            Location::Sqlite { .. } => format!("X'{}'", hex::encode(mac)),
            Location::Postgres { .. } => format!("decode('{}', 'hex')", hex::encode(mac)),
        };
        let sql = format!(
            "INSERT INTO audit_pending (workspace_id, at, actor, action, target, outcome, request_id, client_addr, detail, mac) \
             VALUES ('{}', {}, '{}', '{}', '{}', '{}', '{}', '{}', '{}', {mac})",
            r.workspace_id, r.at, r.actor, r.action, r.target, r.outcome, r.request_id, r.client_addr, r.detail
        );
        self.run_sql(&sql).await;
    }

    async fn run_sql(&self, sql: &str) {
        match &self.at {
            Location::Sqlite { path, .. } => {
                rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap();
            }
            Location::Postgres { url } => {
                let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(url).unwrap())
                    .await
                    .unwrap();
                conn.execute(sql).await.unwrap();
            }
        }
    }

    /// Makes every insert of an event by a change fail (or work again), behind the store's back:
    /// into `audit_events` on SQLite, into `audit_pending` on PostgreSQL (where changes leave
    /// their events for the chainer).
    pub async fn set_audit_offline(&self, offline: bool) {
        let sql = match (&self.at, offline) {
            (Location::Sqlite { .. }, true) => {
                "CREATE TRIGGER audit_offline BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit offline'); END;"
            }
            (Location::Sqlite { .. }, false) => "DROP TRIGGER audit_offline",
            (Location::Postgres { .. }, true) => {
                "CREATE FUNCTION audit_offline() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'audit offline'; END $$; \
                 CREATE TRIGGER audit_offline BEFORE INSERT ON audit_pending \
                 FOR EACH ROW EXECUTE FUNCTION audit_offline();"
            }
            (Location::Postgres { .. }, false) => "DROP TRIGGER audit_offline ON audit_pending",
        };
        self.run_sql(sql).await;
    }
}

pub async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sealbox.db");
    let store = Arc::new(SqliteStore::open(&path, crate::fixtures::chain_key()).await.unwrap());
    scenario(Db {
        store,
        at: Location::Sqlite { _dir: dir, path },
    })
    .await;
}

pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(admin_url) = postgres_admin_url() else { return };
    let url = isolated_schema(&admin_url).await;
    let store = Arc::new(
        PostgresStore::connect(&url, crate::fixtures::chain_key())
            .await
            .unwrap(),
    );
    scenario(Db {
        store,
        at: Location::Postgres { url: url.clone() },
    })
    .await;
    drop_schema(&admin_url, &url).await;
}

/// The PostgreSQL to test against, or `None` to skip those tests: only outside CI, and only
/// when none is configured.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but {DATABASE_URL_VAR} is not set: the PostgreSQL conformance tests must run in CI")
        }
        _ => {
            eprintln!("skipped: set {DATABASE_URL_VAR} to run the PostgreSQL conformance tests");
            None
        }
    }
}

/// A URL for a fresh, empty schema. Panics (the test fails) when the database is unreachable.
pub async fn isolated_schema(admin_url: &str) -> String {
    create_isolated_schema(admin_url)
        .await
        .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR} is set but PostgreSQL is unreachable or refused: {e}"))
}

pub async fn drop_schema(admin_url: &str, url: &str) {
    let (_, schema) = url.rsplit_once("options[search_path]=").unwrap();
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(admin_url).unwrap())
        .await
        .unwrap();
    conn.execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
}
