//! The thin layer that lets one set of queries (`ops.rs`) run on both databases: statements use
//! `$n` parameters (SQLite accepts them too), arguments are a few [`Arg`] kinds, and rows are read
//! by column name through [`Row::get`].

use async_trait::async_trait;
use sqlx::postgres::{PgConnection, PgPool, PgRow, Postgres};
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Database, Decode, Encode, Row as _, Type};

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appended to the `SELECT` of a workspace's audit chain head to hold it until commit.
    /// PostgreSQL: `NO KEY UPDATE` serializes the chain's writers like `FOR UPDATE` but, as only
    /// non-key columns change, does not block foreign-key checks against the workspace row.
    /// SQLite needs no row lock: one writer connection runs every write under `BEGIN IMMEDIATE`.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// Opens a write transaction.
    pub(crate) fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// The database's clock in milliseconds; only the migration runner uses it.
    pub(crate) fn now_ms(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
            Dialect::Postgres => "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }
}

/// A bound parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bytes(&'a [u8]),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::OptText(v.as_deref())
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Bytes(v)
    }
}
impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}

/// `args![a, b, c]`: the parameters `$1, $2, $3` of a statement.
macro_rules! args {
    ($($arg:expr),* $(,)?) => { &[$($crate::db::Arg::from($arg)),*] };
}
pub(crate) use args;

/// A result row of either database.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    pub(crate) fn get<T>(&self, column: &str) -> Result<T, StoreError>
    where
        T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>,
    {
        let value = match self {
            Row::Sqlite(row) => row.try_get(column),
            Row::Postgres(row) => row.try_get(column),
        };
        Ok(value?)
    }
}

/// Something statements run on: a connection (inside a transaction, for writes) or a pool (reads).
#[async_trait]
pub(crate) trait Exec: Send {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns how many rows it changed.
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error>;
    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, sqlx::Error>;
    /// Runs statements without parameters, e.g. a migration file.
    async fn execute_script(&mut self, sql: &str) -> Result<(), sqlx::Error>;
}

fn bind<'q, DB: Database>(query: Query<'q, DB, DB::Arguments<'q>>, args: &[Arg<'q>]) -> Query<'q, DB, DB::Arguments<'q>>
where
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    args.iter().fold(query, |query, arg| match *arg {
        Arg::Int(v) => query.bind(v),
        Arg::OptInt(v) => query.bind(v),
        Arg::Text(v) => query.bind(v),
        Arg::OptText(v) => query.bind(v),
        Arg::Bytes(v) => query.bind(v),
    })
}

macro_rules! impl_exec {
    ($ty:ty, $dialect:expr, $row:path, |$this:ident| $executor:expr) => {
        #[async_trait]
        impl Exec for $ty {
            fn dialect(&self) -> Dialect {
                $dialect
            }

            async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
                let $this = self;
                Ok(bind(sqlx::query(sql), args)
                    .execute($executor)
                    .await?
                    .rows_affected())
            }

            async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, sqlx::Error> {
                let $this = self;
                let rows = bind(sqlx::query(sql), args).fetch_all($executor).await?;
                Ok(rows.into_iter().map($row).collect())
            }

            async fn execute_script(&mut self, sql: &str) -> Result<(), sqlx::Error> {
                let $this = self;
                // A plain `&str` runs unprepared, several statements at once.
                sqlx::Executor::execute($executor, sql).await?;
                Ok(())
            }
        }
    };
}

impl_exec!(SqliteConnection, Dialect::Sqlite, Row::Sqlite, |conn| &mut *conn);
impl_exec!(SqlitePool, Dialect::Sqlite, Row::Sqlite, |pool| &*pool);
impl_exec!(PgConnection, Dialect::Postgres, Row::Postgres, |conn| &mut *conn);
impl_exec!(PgPool, Dialect::Postgres, Row::Postgres, |pool| &*pool);

/// Anything the database said that has no more specific meaning.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Maps a unique violation to `Duplicate(what)`, anything else to `Database`.
pub(crate) fn duplicate_as(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Duplicate(what),
        _ => e.into(),
    }
}

/// Errors while appending to the audit chain: the caller's change is refused with them.
pub(crate) fn audit_error(e: sqlx::Error) -> StoreError {
    StoreError::Audit(e.to_string())
}
