//! The PostgreSQL store. Several server processes may share one database: every write is one
//! transaction, and an audited write inserts its event into `audit_pending` (with a keyed MAC)
//! without locking anything shared, so audited writes of one workspace commit in parallel, on
//! every replica. A chainer task per process seals pending events into their workspace's chain:
//! woken after each commit that appended events (and every second, for what another replica
//! left), it locks a workspace's chain head (`SELECT ... FOR NO KEY UPDATE`) for one short
//! transaction that seals everything pending there, so chainers on several replicas take turns.
//! No other state is kept in process.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use sealbox_metrics::{Metrics, PoolStatus};

use crate::audit::Wait;
use crate::backend::{Backend, Job};
use crate::db::{Columns, Exec, args};
use crate::{AuditChainKey, Result, StoreError, StoreOptions, migrate};

const POOL_SIZE: u32 = 16;
/// How often the chainer looks for pending events without being woken (another replica's, or
/// ones left by a process that stopped before sealing them).
const CHAINER_TICK: std::time::Duration = std::time::Duration::from_secs(1);
/// The `pg_advisory_lock` key held while migrating ("sealbox" in ASCII).
const MIGRATION_LOCK: i64 = 0x0073_6561_6c62_6f78;

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Replaced once at start when the database was rekeyed (see `Store::use_audit_chain_key`).
    chain_key: crate::audit::ChainKeyCell,
    metrics: Arc<Metrics>,
    /// Wakes this process's chainer; when the chainer holds the last reference, it stops.
    chainer: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The server lock (see [`crate::ServerLock`]) of this schema; `None` when it is held the
    /// other way.
    pub async fn server_lock(&self, mode: crate::LockMode) -> Result<Option<crate::ServerLock>> {
        crate::server_lock::lock_postgres(&self.pool.connect_options(), mode).await
    }

    /// Connects to `url` (a `postgres://` URL; `options[search_path]=<schema>` selects a schema)
    /// and brings its schema up to date, with the default [`StoreOptions`]. Safe to run from
    /// several processes at once. `chain_key` seals the audit chain (derived from the root key by
    /// the caller).
    pub async fn connect(url: &str, chain_key: AuditChainKey) -> Result<PostgresStore> {
        Self::connect_with(url, Some(chain_key), StoreOptions::default()).await
    }

    /// [`PostgresStore::connect`] with `options`: a query waits at most `options.timeout` for a
    /// connection (sqlx's `acquire_timeout`, which covers connecting and checking a pooled
    /// connection), and PostgreSQL cancels a statement that runs longer (`statement_timeout`).
    /// Either way the call fails with `StoreError::Unavailable`, so requests fail fast while the
    /// database is down, and work again once it is back (the pool reconnects). `chain_key` is
    /// `None` while the server is sealed (see [`SqliteStore::open_with`]).
    pub async fn connect_with(
        url: &str,
        chain_key: Option<AuditChainKey>,
        options: StoreOptions,
    ) -> Result<PostgresStore> {
        let connect = PgConnectOptions::from_str(url)?;
        let unreachable =
            || StoreError::Unavailable(format!("no connection within {} s", options.timeout.as_secs_f32()));
        let mut conn = tokio::time::timeout(options.timeout, PgConnection::connect_with(&connect))
            .await
            .map_err(|_| unreachable())??;
        // Not bounded by the timeout: migrating a large database may take a while.
        let migrated = migrate_locked(&mut conn).await;
        // Closing the session also releases the advisory lock if unlocking failed.
        if let Err(e) = conn.close().await {
            tracing::warn!(error = %e, "postgres: closing the migration connection failed");
        }
        migrated?;
        let statement_timeout = options.timeout.as_millis().to_string();
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(options.timeout)
            .connect_with(connect.options([("statement_timeout", statement_timeout.as_str())]))
            .await?;
        let store = PostgresStore {
            pool,
            chain_key: crate::audit::ChainKeyCell::new(chain_key),
            metrics: options.metrics,
            chainer: Arc::new(tokio::sync::Notify::new()),
        };
        tokio::spawn(run_chainer(
            store.pool.clone(),
            store.chain_key.clone(),
            store.chainer.clone(),
        ));
        Ok(store)
    }

    /// Seals what is pending (any replica would later; a sealed server has no key and leaves
    /// it), then closes the pool's connections.
    pub async fn close(&self) {
        if let Some(key) = self.chain_key.get()
            && let Err(e) = seal_all(&self.pool, &key, Wait::Yes).await
        {
            tracing::warn!(error = %e, "postgres: sealing pending audit events before closing failed");
        }
        self.pool.close().await;
    }
}

/// The chainer: seals pending audit events whenever woken, and every [`CHAINER_TICK`], until the
/// store it belongs to is dropped or closed. It skips a workspace whose head another replica's
/// chainer holds (that one seals what is there; what commits after is sealed on the next wake).
async fn run_chainer(pool: PgPool, key: crate::audit::ChainKeyCell, wake: Arc<tokio::sync::Notify>) {
    loop {
        if Arc::strong_count(&wake) == 1 || pool.is_closed() {
            return;
        }
        // While the server is sealed there is no key: pending events wait for the unseal.
        if let Some(key) = key.get()
            && let Err(e) = seal_all(&pool, &key, Wait::No).await
            && !pool.is_closed()
        {
            tracing::warn!(error = %e, "postgres: sealing pending audit events failed; retrying");
        }
        let _ = tokio::time::timeout(CHAINER_TICK, wake.notified()).await;
    }
}

/// Seals every workspace's pending audit events, a batch per transaction, until none is left.
/// Looks first without a transaction, so an idle chainer holds no lock.
async fn seal_all(pool: &PgPool, key: &AuditChainKey, wait: Wait) -> Result<()> {
    for workspace_id in crate::audit::pending_workspaces(&mut pool.clone()).await? {
        loop {
            let mut tx = pool.begin().await?;
            let more = crate::audit::seal_some(&mut *tx, key, Some(&workspace_id), wait).await?;
            tx.commit().await?;
            if !more {
                break;
            }
        }
    }
    Ok(())
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
    fn chain_key(&self) -> Option<AuditChainKey> {
        self.chain_key.get()
    }

    fn set_chain_key(&self, key: Option<AuditChainKey>) {
        self.chain_key.set(key);
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn audit_appended(&self) {
        self.chainer.notify_one();
    }

    fn pool_status(&self) -> PoolStatus {
        PoolStatus {
            open: u64::from(self.pool.size()),
            idle: self.pool.num_idle() as u64,
            max: u64::from(POOL_SIZE),
            write_queue: None,
        }
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

    /// One statement on a pooled connection, committed by itself when it returns (autocommit,
    /// `synchronous_commit` as the database has it): a reveal's event in one round trip.
    async fn write_one<T: Send + 'static>(&self, job: Job<T>) -> Result<T> {
        let mut conn = self.pool.acquire().await?;
        job(&mut *conn).await
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
