//! The `keyring` table: versioned key-encryption keys, stored only wrapped by the root key. The
//! store holds bytes; core unwraps them.

use crate::db::{Columns, Exec, args, fetch};
use crate::{Result, StoreError};

/// The state of the KEK new data keys are wrapped with.
pub const KEYRING_ACTIVE: &str = "active";
/// The state of an older KEK: still read, never used for new data keys.
pub const KEYRING_RETIRED: &str = "retired";

/// One keyring row. `wrapped_kek` is opaque bytes (the KEK under the root key).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyringRow {
    pub version: i64,
    pub wrapped_kek: Vec<u8>,
    pub created_at: i64,
    /// [`KEYRING_ACTIVE`] or [`KEYRING_RETIRED`].
    pub state: String,
}

impl std::fmt::Debug for KeyringRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringRow")
            .field("version", &self.version)
            .field("wrapped_kek_len", &self.wrapped_kek.len())
            .field("created_at", &self.created_at)
            .field("state", &self.state)
            .finish()
    }
}

fn keyring_row(r: &impl Columns) -> Result<KeyringRow> {
    Ok(KeyringRow {
        version: r.get("version")?,
        wrapped_kek: r.get("wrapped_kek")?,
        created_at: r.get("created_at")?,
        state: r.get("state")?,
    })
}

pub(crate) async fn keyring(c: &mut dyn Exec) -> Result<Vec<KeyringRow>> {
    fetch(
        c,
        "SELECT version, wrapped_kek, created_at, state FROM keyring ORDER BY version",
        &[],
        keyring_row,
    )
    .await
}

/// Adds `row` as the active KEK and retires the one active before, unless its version exists
/// (another replica added it first): then nothing changes and the answer is `false`.
pub(crate) async fn add_active_kek(c: &mut dyn Exec, row: KeyringRow) -> Result<bool> {
    if row.state != KEYRING_ACTIVE {
        return Err(StoreError::Database(format!(
            "a new keyring version must be {KEYRING_ACTIVE}, not {:?}",
            row.state
        )));
    }
    let inserted = c
        .execute(
            "INSERT INTO keyring (version, wrapped_kek, created_at, state) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (version) DO NOTHING",
            args![row.version, &row.wrapped_kek, row.created_at, &row.state],
        )
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    c.execute(
        "UPDATE keyring SET state = $1 WHERE version <> $2 AND state = $3",
        args![KEYRING_RETIRED, row.version, KEYRING_ACTIVE],
    )
    .await?;
    Ok(true)
}

/// A stored data key to rewrap: where it belongs (the AAD) and its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedDekRow {
    pub workspace_id: String,
    pub secret_id: String,
    pub version: i64,
    pub ciphertext: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub key_version: i64,
}

impl std::fmt::Debug for WrappedDekRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedDekRow")
            .field("secret_id", &self.secret_id)
            .field("version", &self.version)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// A data key rewrapped: applied only if the stored bytes are still `old_wrapped_dek`.
#[derive(Clone, PartialEq, Eq)]
pub struct Rewrapped {
    pub secret_id: String,
    pub version: i64,
    pub old_wrapped_dek: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub key_version: i64,
}

impl std::fmt::Debug for Rewrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrapped")
            .field("secret_id", &self.secret_id)
            .field("version", &self.version)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// How many stored data keys there are, and how many have `key_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyVersionCounts {
    pub total: u64,
    pub at_version: u64,
}

pub(crate) async fn wrapped_deks_below(c: &mut dyn Exec, key_version: i64, limit: i64) -> Result<Vec<WrappedDekRow>> {
    fetch(
        c,
        "SELECT s.workspace_id, v.secret_id, v.version, v.ciphertext, v.wrapped_dek, v.key_version \
         FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
         WHERE v.key_version < $1 ORDER BY v.secret_id, v.version LIMIT $2",
        args![key_version, limit],
        |r| {
            Ok(WrappedDekRow {
                workspace_id: r.get("workspace_id")?,
                secret_id: r.get("secret_id")?,
                version: r.get("version")?,
                ciphertext: r.get("ciphertext")?,
                wrapped_dek: r.get("wrapped_dek")?,
                key_version: r.get("key_version")?,
            })
        },
    )
    .await
}

pub(crate) async fn key_version_counts(c: &mut dyn Exec, key_version: i64) -> Result<KeyVersionCounts> {
    let rows = fetch(
        c,
        "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN key_version = $1 THEN 1 ELSE 0 END), 0) AS at_version \
         FROM secret_versions",
        args![key_version],
        |r| Ok((r.get::<i64>("total")?, r.get::<i64>("at_version")?)),
    )
    .await?;
    let (total, at_version) = rows.first().copied().unwrap_or_default();
    Ok(KeyVersionCounts {
        total: total.max(0) as u64,
        at_version: at_version.max(0) as u64,
    })
}

/// Stores each rewrapped key whose row still holds the bytes it was rewrapped from (a row that
/// changed or went meanwhile is left alone); returns how many were stored.
pub(crate) async fn store_rewrapped(c: &mut dyn Exec, batch: Vec<Rewrapped>) -> Result<u64> {
    let mut stored = 0;
    for r in &batch {
        stored += c
            .execute(
                "UPDATE secret_versions SET wrapped_dek = $1, key_version = $2 \
                 WHERE secret_id = $3 AND version = $4 AND wrapped_dek = $5",
                args![
                    &r.wrapped_dek,
                    r.key_version,
                    &r.secret_id,
                    r.version,
                    &r.old_wrapped_dek
                ],
            )
            .await?;
    }
    Ok(stored)
}

/// What a rekey writes, in one transaction: every keyring version rewrapped by the new root key
/// (applied only over the bytes it was rewrapped from), the new key's check value, and the
/// original root key wrapped by the new one, and the key source's record (`seal_key`): the new
/// source's, or none for a root key file.
#[derive(Clone)]
pub struct Rekey {
    /// (version, old wrapped bytes, new wrapped bytes).
    pub keyring: Vec<(i64, Vec<u8>, Vec<u8>)>,
    pub check_key: String,
    pub check_value: Vec<u8>,
    pub origin_key: String,
    pub origin: Vec<u8>,
    pub seal_key: String,
    pub seal_config: Option<Vec<u8>>,
}

impl std::fmt::Debug for Rekey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rekey")
            .field("keyring_versions", &self.keyring.len())
            .finish_non_exhaustive()
    }
}

pub(crate) async fn rekey(c: &mut dyn Exec, rekey: Rekey) -> Result<()> {
    for (version, old, new) in &rekey.keyring {
        let changed = c
            .execute(
                "UPDATE keyring SET wrapped_kek = $1 WHERE version = $2 AND wrapped_kek = $3",
                args![new, *version, old],
            )
            .await?;
        if changed != 1 {
            return Err(StoreError::Refused(format!(
                "keyring version {version} changed during the rekey (is a server running on this database?); nothing was changed"
            )));
        }
    }
    let checked = c
        .execute(
            "UPDATE meta SET value = $1 WHERE key = $2",
            args![&rekey.check_value, &rekey.check_key],
        )
        .await?;
    if checked != 1 {
        return Err(StoreError::Refused(format!(
            "the database holds no {} to replace; nothing was changed",
            rekey.check_key
        )));
    }
    c.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![&rekey.origin_key, &rekey.origin],
    )
    .await?;
    match &rekey.seal_config {
        Some(config) => {
            c.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                args![&rekey.seal_key, config],
            )
            .await?
        }
        None => {
            c.execute("DELETE FROM meta WHERE key = $1", args![&rekey.seal_key])
                .await?
        }
    };
    Ok(())
}

/// How many stored data keys are wrapped by the root key itself (format byte 0x01: written
/// before the keyring and not rotated since).
pub(crate) async fn root_wrapped_data_keys(c: &mut dyn Exec) -> Result<u64> {
    let rows = fetch(
        c,
        "SELECT COUNT(*) AS n FROM secret_versions WHERE substr(wrapped_dek, 1, 1) = $1",
        args![&[1u8][..]],
        |r| r.get::<i64>("n"),
    )
    .await?;
    Ok(rows.first().copied().unwrap_or(0).max(0) as u64)
}
