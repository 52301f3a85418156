//! The `meta` table: server metadata such as the root key's check value.

use crate::Result;
use crate::db::{Columns, Exec, args, fetch_optional};

pub(crate) async fn get_meta(c: &mut dyn Exec, key: &str) -> Result<Option<Vec<u8>>> {
    fetch_optional(c, "SELECT value FROM meta WHERE key = $1", args![key], |r| {
        r.get("value")
    })
    .await
}

pub(crate) async fn put_meta_if_absent(c: &mut dyn Exec, key: String, value: Vec<u8>) -> Result<bool> {
    let stored = c
        .execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            args![&key, &value],
        )
        .await?;
    Ok(stored == 1)
}
