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
