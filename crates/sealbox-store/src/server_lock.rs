//! The server lock: every running server holds it shared, an offline operation that rewrites
//! keys (`sealbox operator rekey`, `restore`) holds it exclusively, so neither runs while the
//! other does. SQLite: an advisory `flock` on the database file (independent of SQLite's own
//! POSIX locks). PostgreSQL: a session advisory lock keyed by the schema, on a connection of its
//! own that lives as long as the lock.

use std::path::Path;

use sqlx::{Connection, PgConnection};

use crate::{Result, StoreError};

/// Held until dropped.
pub enum ServerLock {
    File(#[allow(dead_code)] std::fs::File),
    Postgres(#[allow(dead_code)] PgConnection),
}

impl std::fmt::Debug for ServerLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::File(_) => "ServerLock(file)",
            Self::Postgres(_) => "ServerLock(postgres)",
        })
    }
}

/// Shared by servers, exclusive for offline operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// The lock on the SQLite database at `path`; `None` when held the other way.
pub(crate) fn lock_file(path: &Path, mode: LockMode) -> Result<Option<ServerLock>> {
    let file =
        std::fs::File::open(path).map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
    let taken = match mode {
        LockMode::Shared => file.try_lock_shared(),
        LockMode::Exclusive => file.try_lock(),
    };
    match taken {
        Ok(()) => Ok(Some(ServerLock::File(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::Database(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

/// The advisory lock of this schema on a connection of its own; `None` when held the other way.
pub(crate) async fn lock_postgres(
    options: &sqlx::postgres::PgConnectOptions,
    mode: LockMode,
) -> Result<Option<ServerLock>> {
    let mut conn = PgConnection::connect_with(options).await?;
    let sql = match mode {
        LockMode::Shared => "SELECT pg_try_advisory_lock_shared(hashtext('sealbox server ' || current_schema()))",
        LockMode::Exclusive => "SELECT pg_try_advisory_lock(hashtext('sealbox server ' || current_schema()))",
    };
    let (taken,): (bool,) = sqlx::query_as(sql).fetch_one(&mut conn).await?;
    Ok(taken.then_some(ServerLock::Postgres(conn)))
}
