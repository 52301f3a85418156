//! The PostgreSQL store. Several server processes may share one database: every write is one
//! transaction, and audited writes first lock their workspace's row (`SELECT ... FOR NO KEY UPDATE`),
//! so replicas append to a workspace's audit chain one at a time. No state is kept in process.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::backend::{Backend, Job};
use crate::db::{Columns, Exec, args};
use crate::{AuditChainKey, Result, StoreError, migrate};

const POOL_SIZE: u32 = 16;
/// The `pg_advisory_lock` key held while migrating ("sealbox" in ASCII).
const MIGRATION_LOCK: i64 = 0x0073_6561_6c62_6f78;

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    chain_key: AuditChainKey,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (a `postgres://` URL; `options[search_path]=<schema>` selects a schema)
    /// and brings its schema up to date. Safe to run from several processes at once.
    /// `chain_key` seals the audit chain (derived from the root key by the caller).
    pub async fn connect(url: &str, chain_key: AuditChainKey) -> Result<PostgresStore> {
        let options = PgConnectOptions::from_str(url)?;
        let mut conn = PgConnection::connect_with(&options).await?;
        let migrated = migrate_locked(&mut conn).await;
        // Closing the session also releases the advisory lock if unlocking failed.
        if let Err(e) = conn.close().await {
            tracing::warn!(error = %e, "postgres: closing the migration connection failed");
        }
        migrated?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await?;
        Ok(PostgresStore { pool, chain_key })
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn migrate_locked(conn: &mut PgConnection) -> Result<()> {
    conn.execute("SELECT pg_advisory_lock($1)", args![MIGRATION_LOCK])
        .await?;
    let migrated = migrate::run(conn).await;
    conn.execute("SELECT pg_advisory_unlock($1)", args![MIGRATION_LOCK])
        .await?;
    migrated
}

/// Creates an empty schema `sbx_<16 hex digits>` in the database at `admin_url` and returns a URL
/// for [`PostgresStore::connect`] whose connections all use only that schema: `admin_url` with
/// `options[search_path]=sbx_...` appended. For tests; the schema is left for the caller to drop.
pub async fn create_isolated_schema(admin_url: &str) -> Result<String> {
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(admin_url)?).await?;
    let rows = conn
        .fetch_all(
            "SELECT 'sbx_' || substr(md5(random()::text || clock_timestamp()::text), 1, 16) AS name",
            &[],
        )
        .await?;
    let name: String = rows
        .first()
        .ok_or_else(|| StoreError::Database("no schema name".into()))?
        .get("name")?;
    // `name` is `sbx_` and hex digits, safe to splice in.
    conn.execute_script(&format!("CREATE SCHEMA {name}")).await?;
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "postgres: closing the admin connection failed");
    }
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    Ok(format!("{admin_url}{separator}options[search_path]={name}"))
}

#[async_trait]
impl Backend for PostgresStore {
    fn chain_key(&self) -> &AuditChainKey {
        &self.chain_key
    }

    const KIND: &'static str = "postgres";
    type Reader = PgPool;

    fn reader(&self) -> PgPool {
        self.pool.clone()
    }

    async fn write<T: Send + 'static>(&self, job: Job<T>) -> Result<T> {
        let mut tx = self.pool.begin().await?;
        // On an error `tx` is dropped, which rolls it back.
        let value = job(&mut *tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    async fn read_snapshot<T: Send + 'static>(&self, job: Job<T>) -> Result<T> {
        let mut tx = self.pool.begin().await?;
        tx.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let value = job(&mut *tx).await?;
        tx.commit().await?;
        Ok(value)
    }
}
