//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, through rusqlite.
//!
//! Writes are group-committed. One writer thread owns the only write connection; each write is
//! queued to it as an op. The writer takes everything queued (up to [`MAX_BATCH`]), opens one
//! `BEGIN IMMEDIATE` transaction, runs each op inside its own savepoint (an op that fails is
//! rolled back alone and gets its own error), commits once, and only then answers every op of the
//! batch. So an acknowledged write is on disk, and many concurrent writers share one fsync.
//! The ops are the same async queries PostgreSQL runs, but rusqlite never waits, so a
//! current-thread runtime on the writer thread runs a whole batch without leaving the thread.
//!
//! Reads use a few read-only connections and run inline, on the caller's thread: they are short
//! indexed lookups, cheaper than handing them to another thread and back.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::backend::{Backend, Job};
use crate::db::{Arg, DbError, Dialect, Exec, Row, sqlite_execute, sqlite_fetch_all};
use sealbox_metrics::{Metrics, PoolStatus};

use crate::{AuditChainKey, Result, StoreError, StoreOptions, migrate};

/// The most ops one transaction commits.
const MAX_BATCH: usize = 256;
/// Writes waiting for the writer before callers wait to queue.
const QUEUE: usize = 4 * MAX_BATCH;
const READERS: usize = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection: more than the store's distinct queries.
const STATEMENT_CACHE: usize = 128;

pub struct SqliteStore {
    path: PathBuf,
    reads: Readers,
    writes: mpsc::Sender<Msg>,
    /// Replaced once at start when the database was rekeyed (see `Store::use_audit_chain_key`).
    chain_key: crate::audit::ChainKeyCell,
    metrics: Arc<Metrics>,
}

enum Msg {
    Write(Op),
    /// Finish what is queued, accept nothing more, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// A queued write, run by the writer inside the batch's transaction.
type Op = Box<dyn for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Ran> + Send>;

/// What an op leaves behind: whether it succeeded (else the writer rolls back its savepoint),
/// and how to answer its caller once the batch's outcome is known.
struct Ran {
    ok: bool,
    reply: Reply,
}

/// Answers an op's caller; `Some` when the batch's transaction failed.
type Reply = Box<dyn FnOnce(Option<&DbError>) + Send>;

fn boxed_op<F>(f: F) -> Op
where
    F: for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Ran> + Send + 'static,
{
    Box::new(f)
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The server lock (see [`crate::ServerLock`]); `None` when it is held the other way.
    pub fn server_lock(&self, mode: crate::LockMode) -> Result<Option<crate::ServerLock>> {
        crate::server_lock::lock_file(&self.path, mode)
    }

    /// Opens (creating it and its directory if needed) the database at `path` and migrates it.
    /// `chain_key` seals the audit chain (derived from the root key by the caller).
    pub async fn open(path: &Path, chain_key: AuditChainKey) -> Result<SqliteStore> {
        Self::open_with(path, Some(chain_key), StoreOptions::default()).await
    }

    /// [`SqliteStore::open`], recording into `options.metrics` (its timeout is PostgreSQL's).
    /// `chain_key` is `None` while the server is sealed: it is set at unseal
    /// ([`Store::use_audit_chain_key`]), and no audit event can be appended before.
    pub async fn open_with(
        path: &Path,
        chain_key: Option<AuditChainKey>,
        options: StoreOptions,
    ) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StoreError::Database(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let (writes, queue) = mpsc::channel(QUEUE);
        let (opened, ready) = oneshot::channel();
        let at = path.to_owned();
        // The writer thread opens the database, hands the read connections over, and takes writes.
        spawn_writer(async move {
            match open_database(&at).await {
                Ok((writer, readers)) => {
                    if opened.send(Ok(readers)).is_ok() {
                        run_writer(writer, queue).await;
                    }
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            }
        })?;
        let readers = ready.await.map_err(|_| closed())??;
        Ok(SqliteStore {
            path: path.to_owned(),
            reads: Readers::new(readers),
            writes,
            chain_key: crate::audit::ChainKeyCell::new(chain_key),
            metrics: options.metrics,
        })
    }

    pub fn database_path(&self) -> &Path {
        &self.path
    }

    /// Lets queued writes finish, then closes the database. Writes after this fail.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.writes.send(Msg::Close(done)).await.is_ok() {
            // An error means the writer is already gone: nothing left to wait for.
            let _ = closed.await;
        }
        self.reads.close();
    }
}

/// The migrated write connection, and then the read-only ones (after it, so the WAL files they
/// need exist).
async fn open_database(path: &Path) -> Result<(Connection, Vec<Connection>)> {
    let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let mut writer = open_connection(path, OpenFlags::default())?;
    if existed && !has_tables(&writer)? {
        // What a copy of a running server's file without its `-wal` looks like: SQLite writes
        // the header when it turns WAL on, and everything after that lives in the WAL until a
        // checkpoint. Migrating it would make it look like a new database.
        return Err(StoreError::Refused(format!(
            "{} exists but holds no tables: it is probably a copy taken without its -wal file while a server was \
             running. Take a backup with `sealbox operator backup` and restore it with `sealbox operator restore` \
             (or, if this file was never used, delete it)",
            path.display()
        )));
    }
    writer
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
        .map_err(DbError::from)?;
    migrate::run(&mut writer).await?;
    let read_only = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let readers = (0..READERS)
        .map(|_| open_connection(path, read_only))
        .collect::<Result<_, _>>()?;
    Ok((writer, readers))
}

fn has_tables(conn: &Connection) -> Result<bool, DbError> {
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    Ok(tables > 0)
}

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection, DbError> {
    let conn = Connection::open_with_flags(path, flags)?;
    // Plans must not depend on bound values: otherwise SQLite marks a JOIN's statement to be
    // prepared again whenever its parameters are rebound, i.e. on every use from the cache.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Runs the writer on a thread of its own, its futures driven by a current-thread runtime.
fn spawn_writer(writer: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    let failed = |e: std::io::Error| StoreError::Database(format!("cannot start the sqlite writer: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(failed)?;
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || runtime.block_on(writer))
        .map_err(failed)?;
    Ok(())
}

/// The read-only connections. A read takes an idle one, runs on the caller's thread, and puts it
/// back; when all are busy it waits for one.
#[derive(Clone)]
pub(crate) struct Readers(Arc<ReadPool>);

struct ReadPool {
    /// One permit per connection in `idle`; closed by [`Readers::close`].
    permits: Semaphore,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn new(connections: Vec<Connection>) -> Readers {
        Readers(Arc::new(ReadPool {
            permits: Semaphore::new(connections.len()),
            idle: Mutex::new(connections),
        }))
    }

    async fn with<T>(&self, read: impl FnOnce(&Connection) -> Result<T, DbError>) -> Result<T, DbError> {
        let pool = &*self.0;
        let _permit = pool
            .permits
            .acquire()
            .await
            .map_err(|_| DbError::new("the database is closed"))?;
        // The Vec stays valid whatever panicked while it was locked.
        let conn = pool.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = conn.ok_or_else(|| DbError::new("no idle read connection"))?;
        let result = read(&conn);
        if !pool.permits.is_closed() {
            pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        }
        result
    }

    /// Runs `job` on one connection inside one read transaction: one snapshot of the database
    /// (WAL mode lets the writer go on meanwhile).
    async fn snapshot<T>(&self, job: Job<T>) -> Result<T> {
        let pool = &*self.0;
        let _permit = pool.permits.acquire().await.map_err(|_| closed())?;
        let conn = pool.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut conn = conn.ok_or_else(|| StoreError::Database("no idle read connection".into()))?;
        let result = match sql(&conn, "BEGIN") {
            Ok(()) => {
                let result = job(&mut conn).await;
                if let Err(e) = sql(&conn, "COMMIT") {
                    tracing::debug!(error = %e, "sqlite: ending a read transaction");
                }
                result
            }
            Err(e) => Err(e.into()),
        };
        if !pool.permits.is_closed() {
            pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        }
        result
    }

    /// Closes the connections; reads after this fail.
    fn close(&self) {
        self.0.permits.close();
        self.0.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

#[async_trait]
impl Exec for Readers {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
        self.with(|conn| sqlite_execute(conn, sql, args)).await
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        self.with(|conn| sqlite_fetch_all(conn, sql, args)).await
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.with(|conn| Ok(conn.execute_batch(sql)?)).await
    }
}

#[async_trait]
impl Backend for SqliteStore {
    fn chain_key(&self) -> Option<AuditChainKey> {
        self.chain_key.get()
    }

    fn set_chain_key(&self, key: Option<AuditChainKey>) {
        self.chain_key.set(key);
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn pool_status(&self) -> PoolStatus {
        let idle = self.reads.0.permits.available_permits() as u64;
        PoolStatus {
            open: READERS as u64,
            idle,
            max: READERS as u64,
            write_queue: Some((self.writes.max_capacity() - self.writes.capacity()) as u64),
        }
    }

    const KIND: &'static str = "sqlite";
    type Reader = Readers;

    fn reader(&self) -> Readers {
        self.reads.clone()
    }

    async fn read_snapshot<T: Send + 'static>(&self, job: Job<T>) -> Result<T> {
        self.reads.snapshot(job).await
    }

    async fn write<T: Send + 'static>(&self, job: Job<T>) -> Result<T> {
        let (answer, answered) = oneshot::channel();
        let op = boxed_op(move |conn| {
            Box::pin(async move {
                let result = job(conn).await;
                Ran {
                    ok: result.is_ok(),
                    reply: Box::new(move |batch_failed| {
                        let result = match (result, batch_failed) {
                            (Ok(_), Some(e)) => Err(StoreError::Database(format!("the write was not committed: {e}"))),
                            (result, _) => result,
                        };
                        // The caller may have gone away; the write stands regardless.
                        let _ = answer.send(result);
                    }),
                }
            })
        });
        self.writes.send(Msg::Write(op)).await.map_err(|_| closed())?;
        // The writer drops an op it could not run (e.g. `BEGIN` failed): nothing was written.
        answered
            .await
            .map_err(|_| StoreError::Database("the write was not applied; see the server log".into()))?
    }
}

fn closed() -> StoreError {
    StoreError::Database("the database is closed".into())
}

async fn run_writer(mut conn: Connection, mut queue: mpsc::Receiver<Msg>) {
    let mut msgs = Vec::with_capacity(MAX_BATCH);
    let mut closing = Vec::new();
    // Returns 0 once the queue is closed (by `close` or by dropping the store) and empty.
    while queue.recv_many(&mut msgs, MAX_BATCH).await > 0 {
        let mut batch = Vec::with_capacity(msgs.len());
        for msg in msgs.drain(..) {
            match msg {
                Msg::Write(op) => batch.push(op),
                Msg::Close(done) => {
                    queue.close();
                    closing.push(done);
                }
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, batch).await;
        }
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "sqlite: closing the write connection failed");
    }
    for done in closing {
        let _ = done.send(());
    }
}

async fn commit_batch(conn: &mut Connection, batch: Vec<Op>) {
    if let Err(e) = sql(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, ops = batch.len(), "sqlite: could not begin a write transaction");
        return; // Dropping the ops tells their callers nothing was applied.
    }
    let mut replies = Vec::with_capacity(batch.len());
    let mut failure = None;
    for op in batch {
        if let Err(e) = sql(conn, "SAVEPOINT op") {
            failure = Some(e);
            break;
        }
        let ran = op(conn).await;
        replies.push(ran.reply);
        let ended = if ran.ok {
            sql(conn, "RELEASE op")
        } else {
            sql(conn, "ROLLBACK TO op").and_then(|()| sql(conn, "RELEASE op"))
        };
        if let Err(e) = ended {
            failure = Some(e);
            break;
        }
    }
    // On a failure the ops not yet run are dropped (their callers learn nothing was applied).
    let outcome = match failure {
        None => sql(conn, "COMMIT"),
        Some(e) => Err(e),
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, ops = replies.len(), "sqlite: write transaction failed");
        if let Err(e) = sql(conn, "ROLLBACK") {
            tracing::debug!(error = %e, "sqlite: rollback after a failed transaction");
        }
    }
    for reply in replies {
        reply(outcome.as_ref().err());
    }
}

/// Runs one statement without parameters or results (transaction control).
fn sql(conn: &Connection, statement: &str) -> Result<(), DbError> {
    conn.prepare_cached(statement)?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::{Columns, args};

    fn insert(key: &'static str) -> Job<()> {
        Box::new(move |c: &mut dyn Exec| {
            Box::pin(async move {
                c.execute("INSERT INTO meta (key, value) VALUES ($1, x'00')", args![key])
                    .await?;
                Ok(())
            })
        })
    }

    /// Ops queued before the writer starts form one batch: the failing one is rolled back
    /// alone and the others commit.
    #[tokio::test]
    async fn a_failed_op_does_not_fail_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite"), crate::AuditChainKey::new([42; 32]))
            .await
            .unwrap();
        // A second handle on the same database whose writer starts once three ops are queued.
        let (writes, queue) = mpsc::channel(QUEUE);
        let held = Arc::new(SqliteStore {
            path: store.path.clone(),
            reads: store.reads.clone(),
            writes,
            chain_key: store.chain_key.clone(),
            metrics: store.metrics.clone(),
        });
        let calls: Vec<_> = ["a", "a", "b"]
            .into_iter()
            .map(|key| {
                let held = held.clone();
                tokio::spawn(async move { held.write(insert(key)).await })
            })
            .collect();
        while queue.len() < 3 {
            tokio::task::yield_now().await;
        }
        let conn = open_connection(&store.path, OpenFlags::default()).unwrap();
        spawn_writer(run_writer(conn, queue)).unwrap();

        let mut failures = Vec::new();
        for call in calls {
            if let Err(e) = call.await.unwrap() {
                failures.push(e);
            }
        }
        assert!(matches!(failures[..], [StoreError::Database(_)]), "{failures:?}");
        let rows = store
            .reader()
            .fetch_all("SELECT key FROM meta WHERE key IN ('a', 'b') ORDER BY key", &[])
            .await
            .unwrap();
        let keys: Vec<String> = rows.iter().map(|r| r.get("key").unwrap()).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    /// Statements come from the cache as they were prepared, JOINs included.
    #[tokio::test]
    async fn cached_statements_are_not_prepared_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite"), crate::AuditChainKey::new([42; 32]))
            .await
            .unwrap();
        let sql = "SELECT w.id FROM tokens t JOIN workspaces w ON w.id = t.workspace_id WHERE t.hash = $1";
        let reprepared = store
            .reads
            .with(|conn| {
                for hash in [b"a", b"b", b"c"] {
                    sqlite_fetch_all(conn, sql, args![&hash[..]])?;
                }
                let stmt = conn.prepare_cached(sql)?;
                Ok(stmt.get_status(rusqlite::StatementStatus::RePrepare))
            })
            .await
            .unwrap();
        assert_eq!(reprepared, 0);
    }
}
