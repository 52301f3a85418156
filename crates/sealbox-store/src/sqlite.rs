//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`.
//!
//! Writes are group-committed. One writer task owns the only write connection; each write is
//! queued to it as an op. The writer takes everything queued (up to [`MAX_BATCH`]), opens one
//! `BEGIN IMMEDIATE` transaction, runs each op inside its own savepoint (an op that fails is
//! rolled back alone and gets its own error), commits once, and only then answers every op of the
//! batch. So an acknowledged write is on disk, and many concurrent writers share one fsync.
//! Reads use a separate pool of read-only connections.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::backend::{Backend, Job};
use crate::{Result, StoreError, migrate};

/// The most ops one transaction commits.
const MAX_BATCH: usize = 256;
/// Writes waiting for the writer before callers wait to queue.
const QUEUE: usize = 4 * MAX_BATCH;
const READERS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    path: PathBuf,
    reads: SqlitePool,
    writes: mpsc::Sender<Msg>,
}

enum Msg {
    Write(Op),
    /// Finish what is queued, accept nothing more, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// A queued write, run by the writer inside the batch's transaction.
type Op = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Ran> + Send>;

/// What an op leaves behind: whether it succeeded (else the writer rolls back its savepoint),
/// and how to answer its caller once the batch's outcome is known.
struct Ran {
    ok: bool,
    reply: Reply,
}

/// Answers an op's caller; `Some` when the batch's transaction failed.
type Reply = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;

fn boxed_op<F>(f: F) -> Op
where
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Ran> + Send + 'static,
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
    /// Opens (creating it and its directory if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StoreError::Database(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let mut writer = options
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .connect()
            .await?;
        migrate::run(&mut writer).await?;
        // Opened after the writer, so the WAL files these read-only connections need exist.
        let reads = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await?;
        let (writes, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run_writer(writer, queue));
        Ok(SqliteStore {
            path: path.to_owned(),
            reads,
            writes,
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
        self.reads.close().await;
    }
}

#[async_trait]
impl Backend for SqliteStore {
    const KIND: &'static str = "sqlite";
    type Reader = SqlitePool;

    fn reader(&self) -> SqlitePool {
        self.reads.clone()
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

async fn run_writer(mut conn: SqliteConnection, mut queue: mpsc::Receiver<Msg>) {
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
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "sqlite: closing the write connection failed");
    }
    for done in closing {
        let _ = done.send(());
    }
}

async fn commit_batch(conn: &mut SqliteConnection, batch: Vec<Op>) {
    if let Err(e) = sql(conn, "BEGIN IMMEDIATE").await {
        tracing::error!(error = %e, ops = batch.len(), "sqlite: could not begin a write transaction");
        return; // Dropping the ops tells their callers nothing was applied.
    }
    let mut replies = Vec::with_capacity(batch.len());
    let mut failure = None;
    for op in batch {
        if let Err(e) = sql(conn, "SAVEPOINT op").await {
            failure = Some(e);
            break;
        }
        let ran = op(conn).await;
        replies.push(ran.reply);
        let end = if ran.ok {
            "RELEASE op"
        } else {
            "ROLLBACK TO op; RELEASE op"
        };
        if let Err(e) = sql(conn, end).await {
            failure = Some(e);
            break;
        }
    }
    // On a failure the ops not yet run are dropped (their callers learn nothing was applied).
    let outcome = match failure {
        None => sql(conn, "COMMIT").await,
        Some(e) => Err(e),
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, ops = replies.len(), "sqlite: write transaction failed");
        if let Err(e) = sql(conn, "ROLLBACK").await {
            tracing::debug!(error = %e, "sqlite: rollback after a failed transaction");
        }
    }
    for reply in replies {
        reply(outcome.as_ref().err());
    }
}

async fn sql(conn: &mut SqliteConnection, statements: &str) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(conn, statements).await.map(drop)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::{Exec, args};

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
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).await.unwrap();
        // A second handle on the same database whose writer starts once three ops are queued.
        let (writes, queue) = mpsc::channel(QUEUE);
        let held = Arc::new(SqliteStore {
            path: store.path.clone(),
            reads: store.reads.clone(),
            writes,
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
        let conn = SqliteConnectOptions::new()
            .filename(&store.path)
            .connect()
            .await
            .unwrap();
        tokio::spawn(run_writer(conn, queue));

        let mut failures = Vec::new();
        for call in calls {
            if let Err(e) = call.await.unwrap() {
                failures.push(e);
            }
        }
        assert!(matches!(failures[..], [StoreError::Database(_)]), "{failures:?}");
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM meta ORDER BY key")
            .fetch_all(&store.reads)
            .await
            .unwrap();
        assert_eq!(keys, ["a", "b"]);
    }
}
