//! The `login_attempts` table: sign-in attempts counted per limit key and fixed window.
//! Bookkeeping, not audited.

use crate::db::{Columns, Exec, args};
use crate::{Result, StoreError};

pub(crate) async fn count_login_attempt(c: &mut dyn Exec, keys: Vec<String>, window_start: i64) -> Result<Vec<i64>> {
    let mut counts = Vec::with_capacity(keys.len());
    for key in &keys {
        // One statement per key: the row is created or incremented under its lock and the new
        // count read back, so concurrent attempts (SQLite's one writer; PostgreSQL's row lock)
        // each see their own number.
        let rows = c
            .fetch_all(
                "INSERT INTO login_attempts (limit_key, window_start, attempts) VALUES ($1, $2, 1) \
                 ON CONFLICT (limit_key, window_start) DO UPDATE SET attempts = login_attempts.attempts + 1 \
                 RETURNING attempts",
                args![key, window_start],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Database("counting a sign-in attempt returned no row".into()))?;
        counts.push(row.get("attempts")?);
    }
    Ok(counts)
}

pub(crate) async fn refund_login_attempt(c: &mut dyn Exec, keys: Vec<String>, window_start: i64) -> Result<()> {
    for key in &keys {
        c.execute(
            "UPDATE login_attempts SET attempts = attempts - 1 \
             WHERE limit_key = $1 AND window_start = $2 AND attempts > 0",
            args![key, window_start],
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn delete_login_attempts_before(c: &mut dyn Exec, before: i64) -> Result<u64> {
    Ok(
        c.execute("DELETE FROM login_attempts WHERE window_start < $1", args![before])
            .await?,
    )
}
