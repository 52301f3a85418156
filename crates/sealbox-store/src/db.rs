//! The thin layer that lets one set of queries (the table modules) run on both databases:
//! statements use `$n` parameters (SQLite takes `$n` for a parameter's name; [`prepare`] binds it
//! to the n-th argument), arguments are a few [`Arg`] kinds, and rows are read by column name
//! through [`Columns::get`]. PostgreSQL runs on sqlx; SQLite on rusqlite, synchronously, on the
//! calling thread.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::{FromSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{CachedStatement, Connection, ToSql, ffi};
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow, Postgres};
use sqlx::query::Query;
use sqlx::{Decode, Row as _, Type};

use crate::{AuditChainKey, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appended to a `SELECT` to hold its rows until commit (a workspace's audit chain head while
    /// the chainer seals, a secret's current version while it is updated, a workspace's owners).
    /// PostgreSQL: `NO KEY UPDATE` serializes writers like `FOR UPDATE` but, as only non-key
    /// columns change, does not block foreign-key checks against the row.
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

    /// A subquery that yields, one row each, the strings of the JSON array bound as `$n`: a list
    /// of any length in one prepared statement.
    /// Run after a restore wrote every row: the tag index (derived, not backed up) is rebuilt,
    /// and PostgreSQL's `audit_pending` id sequence continues after the highest restored id.
    pub(crate) fn after_restore(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "INSERT INTO secret_tags (secret_id, workspace_id, key, value) \
                 SELECT s.id, s.workspace_id, t.key, t.value FROM secrets s, json_each(s.tags) t \
                 WHERE json_valid(s.tags) AND json_type(s.tags) = 'object' AND t.type = 'text'"
            }
            Dialect::Postgres => {
                "INSERT INTO secret_tags (secret_id, workspace_id, key, value) \
                 SELECT s.id, s.workspace_id, t.key, t.value FROM secrets s, \
                 json_each_text(CASE WHEN json_typeof(s.tags::json) = 'object' THEN s.tags::json ELSE '{}' END) t; \
                 SELECT setval(pg_get_serial_sequence('audit_pending', 'id'), \
                 COALESCE((SELECT max(id) FROM audit_pending), 0) + 1, false)"
            }
        }
    }

    /// A table of `key, value` (text) from the JSON object `$n`.
    pub(crate) fn json_object_entries(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("json_each(${n})"),
            Dialect::Postgres => format!("json_each_text(${n}::json)"),
        }
    }

    /// A subquery of the integers in the JSON array `$n`.
    pub(crate) fn json_ints(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("SELECT value FROM json_each(${n})"),
            Dialect::Postgres => format!("SELECT json_array_elements_text(${n}::json)::bigint"),
        }
    }

    /// Whether audited changes leave their event pending for a chainer to seal after commit
    /// (PostgreSQL: many connections, many replicas, and no lock across a commit), instead of
    /// chaining it in their own transaction under the workspace's head (SQLite: one writer).
    pub(crate) fn defers_audit_chain(self) -> bool {
        matches!(self, Dialect::Postgres)
    }

    pub(crate) fn json_strings(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("SELECT value FROM json_each(${n})"),
            Dialect::Postgres => format!("SELECT json_array_elements_text(${n}::json)"),
        }
    }

    /// A condition on an audit event: its detail's `secrets` object has the key bound as `$n`.
    pub(crate) fn audit_detail_names_secret(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("EXISTS (SELECT 1 FROM json_each(detail, '$.secrets') WHERE key = ${n})"),
            Dialect::Postgres => format!(
                "CASE WHEN json_typeof(detail::json -> 'secrets') = 'object' \
                 THEN EXISTS (SELECT 1 FROM json_each(detail::json -> 'secrets') AS e WHERE e.key = ${n}) ELSE false END"
            ),
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
    OptBytes(Option<&'a [u8]>),
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

/// A SQLite result row: the values, owned, and the statement's column names.
pub(crate) struct SqliteRow {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

/// A column type both databases read: what the queries read (integers, text, bytes, and those optional).
pub(crate) trait Column: FromSql + for<'r> Decode<'r, Postgres> + Type<Postgres> {}
impl<T: FromSql + for<'r> Decode<'r, Postgres> + Type<Postgres>> Column for T {}

/// Part of a row, seen through a column prefix; see [`Row::prefixed`].
pub(crate) struct Prefixed<'r> {
    row: &'r Row,
    prefix: &'r str,
}

/// Reading a value by column name: from a whole row, or from one table's part of a JOIN.
pub(crate) trait Columns {
    fn get<T: Column>(&self, column: &str) -> Result<T, StoreError>;
}

impl Columns for Row {
    fn get<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        self.value("", column)
    }
}

impl Columns for Prefixed<'_> {
    fn get<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        self.row.value(self.prefix, column)
    }
}

impl Row {
    /// The columns `<prefix><name>` of this row as `<name>`, to read one table of a JOIN.
    pub(crate) fn prefixed<'r>(&'r self, prefix: &'r str) -> Prefixed<'r> {
        Prefixed { row: self, prefix }
    }

    /// The value of the column named `<prefix><name>`.
    fn value<T: Column>(&self, prefix: &str, name: &str) -> Result<T, StoreError> {
        match self {
            Row::Sqlite(row) => {
                let value = row
                    .columns
                    .iter()
                    .position(|column| column.strip_prefix(prefix) == Some(name))
                    .and_then(|i| row.values.get(i))
                    .ok_or_else(|| StoreError::Database(format!("no column {prefix}{name} in the result")))?;
                T::column_result(ValueRef::from(value))
                    .map_err(|e| StoreError::Database(format!("column {prefix}{name}: {e}")))
            }
            Row::Postgres(row) if prefix.is_empty() => Ok(row.try_get(name)?),
            Row::Postgres(row) => Ok(row.try_get(format!("{prefix}{name}").as_str())?),
        }
    }
}

/// `SELECT` list items `t.a AS t_a, t.b AS t_b, ...` for `columns` (`"a, b, ..."`) of the table
/// aliased `t`, read back with `row.prefixed("t_")`.
pub(crate) fn aliased(table: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{table}.{c} AS {table}_{c}", c = c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What went wrong in the database, whichever it is.
#[derive(Debug)]
pub(crate) struct DbError {
    message: String,
    /// A uniqueness constraint refused the statement.
    unique_violation: bool,
    /// The database could not be reached or did not answer in time (see [`unavailable`]).
    unavailable: bool,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl DbError {
    pub(crate) fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    pub(crate) fn new(message: impl Into<String>) -> DbError {
        DbError {
            message: message.into(),
            unique_violation: false,
            unavailable: false,
        }
    }
}

/// Whether `e` means the database is out of reach rather than refusing this statement: no
/// connection within the timeout, a broken connection, the server shutting down or refusing
/// connections (SQLSTATE classes 08 and 57P, 53300), or a statement cancelled by
/// `statement_timeout` (57014).
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "57014" || code == "53300"
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        DbError {
            unique_violation: e.as_database_error().is_some_and(|db| db.is_unique_violation()),
            unavailable: unavailable(&e),
            message: e.to_string(),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError {
            unique_violation: matches!(
                e.sqlite_extended_error_code(),
                Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
            ),
            unavailable: false,
            message: e.to_string(),
        }
    }
}

/// Something statements run on: a connection (inside a transaction, for writes) or a pool (reads).
#[async_trait]
pub(crate) trait Exec: Send {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns how many rows it changed.
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError>;
    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError>;
    /// Runs statements without parameters, e.g. a migration file.
    async fn execute_script(&mut self, sql: &str) -> Result<(), DbError>;
    /// The key that seals audit events; only write transactions ([`Keyed`]) carry one.
    fn chain_key(&self) -> Option<&AuditChainKey> {
        None
    }
    /// Counts an audit event appended in this write transaction (see [`Keyed`]).
    fn audit_event_appended(&self) {}
}

/// A write transaction's executor with the audit chain's key beside it.
pub(crate) struct Keyed<'a> {
    pub inner: &'a mut dyn Exec,
    pub key: Option<&'a AuditChainKey>,
    /// Audit events appended in this transaction so far (for the metrics).
    pub events: &'a std::sync::atomic::AtomicU64,
}

#[async_trait]
impl Exec for Keyed<'_> {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
        self.inner.execute(sql, args).await
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        self.inner.fetch_all(sql, args).await
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.inner.execute_script(sql).await
    }

    fn chain_key(&self) -> Option<&AuditChainKey> {
        self.key
    }

    fn audit_event_appended(&self) {
        self.events.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

// ---- PostgreSQL (sqlx) ----

fn bind<'q>(query: Query<'q, Postgres, PgArguments>, args: &[Arg<'q>]) -> Query<'q, Postgres, PgArguments> {
    args.iter().fold(query, |query, arg| match *arg {
        Arg::Int(v) => query.bind(v),
        Arg::OptInt(v) => query.bind(v),
        Arg::Text(v) => query.bind(v),
        Arg::OptText(v) => query.bind(v),
        Arg::Bytes(v) => query.bind(v),
        Arg::OptBytes(v) => query.bind(v),
    })
}

macro_rules! impl_exec {
    ($ty:ty, |$this:ident| $executor:expr) => {
        #[async_trait]
        impl Exec for $ty {
            fn dialect(&self) -> Dialect {
                Dialect::Postgres
            }

            async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
                let $this = self;
                Ok(bind(sqlx::query(sql), args)
                    .execute($executor)
                    .await?
                    .rows_affected())
            }

            async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
                let $this = self;
                let rows = bind(sqlx::query(sql), args).fetch_all($executor).await?;
                Ok(rows.into_iter().map(Row::Postgres).collect())
            }

            async fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
                let $this = self;
                // A plain `&str` runs unprepared, several statements at once.
                sqlx::Executor::execute($executor, sql).await?;
                Ok(())
            }
        }
    };
}

impl_exec!(PgConnection, |conn| &mut *conn);
impl_exec!(PgPool, |pool| &*pool);

// ---- SQLite (rusqlite) ----
// These run synchronously on the calling thread; `sqlite.rs` decides which thread that is.

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Int(v) | Arg::OptInt(Some(v)) => ValueRef::Integer(v),
            Arg::Text(v) | Arg::OptText(Some(v)) => ValueRef::Text(v.as_bytes()),
            Arg::Bytes(v) | Arg::OptBytes(Some(v)) => ValueRef::Blob(v),
            Arg::OptInt(None) | Arg::OptText(None) | Arg::OptBytes(None) => ValueRef::Null,
        }))
    }
}

/// Prepares `sql` (from the connection's statement cache) and binds `args`: `$n` takes `args[n-1]`,
/// wherever and however often it appears.
fn prepare<'c>(conn: &'c Connection, sql: &str, args: &[Arg<'_>]) -> Result<CachedStatement<'c>, DbError> {
    let mut stmt = conn.prepare_cached(sql)?;
    for index in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(index).unwrap_or_default();
        let arg = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| args.get(n.checked_sub(1)?))
            .ok_or_else(|| DbError::new(format!("no argument for parameter {index} ({name:?})")))?;
        stmt.raw_bind_parameter(index, arg)?;
    }
    Ok(stmt)
}

pub(crate) fn sqlite_execute(conn: &Connection, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
    Ok(prepare(conn, sql, args)?.raw_execute()? as u64)
}

pub(crate) fn sqlite_fetch_all(conn: &Connection, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
    let mut stmt = prepare(conn, sql, args)?;
    let columns: Arc<[String]> = stmt.column_names().map(str::to_owned).collect();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<_>>()?;
        out.push(Row::Sqlite(SqliteRow {
            columns: columns.clone(),
            values,
        }));
    }
    Ok(out)
}

/// The writer's connection (`sqlite.rs`), inside its transaction.
#[async_trait]
impl Exec for Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
        sqlite_execute(self, sql, args)
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        sqlite_fetch_all(self, sql, args)
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.execute_batch(sql)?)
    }
}

/// The database out of reach, or anything it said that has no more specific meaning.
impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        if e.unavailable {
            StoreError::Unavailable(e.message)
        } else {
            StoreError::Database(e.message)
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}

/// Maps a unique violation to `Duplicate(what)`, anything else to `Database`.
pub(crate) fn duplicate_as(what: &'static str) -> impl FnOnce(DbError) -> StoreError {
    move |e| {
        if e.unique_violation {
            StoreError::Duplicate(what)
        } else {
            e.into()
        }
    }
}

/// Errors while appending to the audit chain: the caller's change is refused with them (a
/// database out of reach stays `Unavailable`: it is not the audit log that failed).
pub(crate) fn audit_error(e: DbError) -> StoreError {
    if e.unavailable {
        return e.into();
    }
    StoreError::Audit(e.message)
}

/// Every row `sql` returns, read with `map`.
pub(crate) async fn fetch<T>(
    c: &mut dyn Exec,
    sql: &str,
    args: &[Arg<'_>],
    map: fn(&Row) -> crate::Result<T>,
) -> crate::Result<Vec<T>> {
    c.fetch_all(sql, args).await?.iter().map(map).collect()
}

/// The first row `sql` returns, if any, read with `map`.
pub(crate) async fn fetch_optional<T>(
    c: &mut dyn Exec,
    sql: &str,
    args: &[Arg<'_>],
    map: fn(&Row) -> crate::Result<T>,
) -> crate::Result<Option<T>> {
    c.fetch_all(sql, args).await?.first().map(map).transpose()
}
