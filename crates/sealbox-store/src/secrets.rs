//! The `secrets` and `secret_versions` tables: secrets with their sealed versions, the
//! trash (`deleted_at`) and the record of use.

use std::sync::LazyLock;

use crate::audit::{append, lock_head};
use crate::db::{Arg, Columns, Exec, aliased, args, duplicate_as, fetch, fetch_optional};
use crate::{AuditRecord, Result, StoreError};

/// A secret's row: everything but the value. `metadata`, `tags` and `details` are JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub secret_type: String,
    pub visibility: String,
    pub description: String,
    pub metadata: String,
    pub tags: String,
    /// Non-sensitive fields of structured values (e.g. the SMTP host), as JSON.
    pub details: String,
    pub current_version: i64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    pub last_used_at: Option<i64>,
    pub last_used_by: Option<String>,
    pub deleted_at: Option<i64>,
    pub deleted_by: Option<String>,
}

/// One sealed version of a secret's value. The byte fields are opaque to the store.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVersionRow {
    pub secret_id: String,
    pub version: i64,
    pub ciphertext: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub key_version: i64,
    pub created_at: i64,
    pub created_by: String,
}

impl std::fmt::Debug for SecretVersionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretVersionRow")
            .field("secret_id", &self.secret_id)
            .field("version", &self.version)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// A version's metadata, without the sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMeta {
    pub version: i64,
    pub created_at: i64,
    pub created_by: String,
}

/// What `list_secrets` returns. `prefix` matches the start of the name, case-sensitively.
#[derive(Debug, Clone, Default)]
pub struct SecretFilter {
    pub prefix: Option<String>,
    pub secret_type: Option<String>,
    /// `false`: live secrets only; `true`: only those in the trash.
    pub in_trash: bool,
}

/// A new value's sealed bytes, as `sealbox-crypto` made them; opaque to the store.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub ciphertext: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub key_version: i64,
}

/// Seals a secret's new value for the version number the store assigns inside the write
/// transaction (the ciphertext is bound to its version, so sealing must wait for the number).
/// The store only ever sees what it returns; an `Err` aborts the update.
pub type SealNewVersion = Box<dyn FnOnce(i64) -> std::result::Result<SealedValue, String> + Send>;

/// A change to a live secret. Fields left `None` keep their stored value, so concurrent changes
/// of different fields do not undo each other.
pub struct SecretUpdate {
    pub secret_id: String,
    pub workspace_id: String,
    /// Apply only if the current version is this one, else `VersionConflict`. `None`: apply on
    /// top of whatever version is current (last writer wins, never a spurious conflict).
    pub expected_current_version: Option<i64>,
    /// A new value: it becomes version `current + 1`.
    pub new_value: Option<SealNewVersion>,
    pub description: Option<String>,
    pub metadata: Option<String>,
    pub tags: Option<String>,
    pub details: Option<String>,
    pub updated_at: i64,
    pub updated_by: String,
}

impl std::fmt::Debug for SecretUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretUpdate")
            .field("secret_id", &self.secret_id)
            .field("expected_current_version", &self.expected_current_version)
            .field("new_value", &self.new_value.is_some())
            .finish_non_exhaustive()
    }
}

const SECRET: &str = "id, workspace_id, name, secret_type, visibility, description, metadata, tags, details, \
    current_version, created_at, created_by, updated_at, updated_by, last_used_at, last_used_by, deleted_at, deleted_by";
const VERSION: &str = "secret_id, version, ciphertext, wrapped_dek, key_version, created_at, created_by";

/// `live_secrets_with_current_version`: `$1` workspace id.
static LIVE_SECRETS_WITH_CURRENT_VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {} FROM secrets s JOIN secret_versions v \
         ON v.secret_id = s.id AND v.version = s.current_version \
         WHERE s.workspace_id = $1 AND s.deleted_at IS NULL ORDER BY s.name",
        aliased("s", SECRET),
        aliased("v", VERSION)
    )
});

/// `secret_with_version`: `$1` workspace id, `$2` name, `$3` version or NULL for the current one.
static SECRET_WITH_VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {} FROM secrets s LEFT JOIN secret_versions v \
         ON v.secret_id = s.id AND v.version = COALESCE($3, s.current_version) \
         WHERE s.workspace_id = $1 AND s.name = $2",
        aliased("s", SECRET),
        aliased("v", VERSION)
    )
});

fn secret(r: &impl Columns) -> Result<SecretRow> {
    Ok(SecretRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        name: r.get("name")?,
        secret_type: r.get("secret_type")?,
        visibility: r.get("visibility")?,
        description: r.get("description")?,
        metadata: r.get("metadata")?,
        tags: r.get("tags")?,
        details: r.get("details")?,
        current_version: r.get("current_version")?,
        created_at: r.get("created_at")?,
        created_by: r.get("created_by")?,
        updated_at: r.get("updated_at")?,
        updated_by: r.get("updated_by")?,
        last_used_at: r.get("last_used_at")?,
        last_used_by: r.get("last_used_by")?,
        deleted_at: r.get("deleted_at")?,
        deleted_by: r.get("deleted_by")?,
    })
}

fn secret_version_row(r: &impl Columns) -> Result<SecretVersionRow> {
    Ok(SecretVersionRow {
        secret_id: r.get("secret_id")?,
        version: r.get("version")?,
        ciphertext: r.get("ciphertext")?,
        wrapped_dek: r.get("wrapped_dek")?,
        key_version: r.get("key_version")?,
        created_at: r.get("created_at")?,
        created_by: r.get("created_by")?,
    })
}

fn version_meta(r: &impl Columns) -> Result<VersionMeta> {
    Ok(VersionMeta {
        version: r.get("version")?,
        created_at: r.get("created_at")?,
        created_by: r.get("created_by")?,
    })
}

async fn insert_version_row(c: &mut dyn Exec, v: &SecretVersionRow) -> Result<()> {
    c.execute(
        "INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek, key_version, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![&v.secret_id, v.version, &v.ciphertext, &v.wrapped_dek, v.key_version, v.created_at, &v.created_by],
    )
    .await?;
    Ok(())
}

pub(crate) async fn insert_secret(
    c: &mut dyn Exec,
    secret: SecretRow,
    first_version: SecretVersionRow,
    audit: AuditRecord,
) -> Result<()> {
    let s = &secret;
    let head = lock_head(c, &s.workspace_id, &audit).await?;
    let sql = format!(
        "INSERT INTO secrets ({SECRET}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    );
    c.execute(
        &sql,
        args![
            &s.id,
            &s.workspace_id,
            &s.name,
            &s.secret_type,
            &s.visibility,
            &s.description,
            &s.metadata,
            &s.tags,
            &s.details,
            s.current_version,
            s.created_at,
            &s.created_by,
            s.updated_at,
            &s.updated_by,
            s.last_used_at,
            &s.last_used_by,
            s.deleted_at,
            &s.deleted_by
        ],
    )
    .await
    .map_err(duplicate_as("secret_name"))?;
    index_tags(c, &s.id, &s.workspace_id, &s.tags).await?;
    insert_version_row(c, &first_version).await?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn secret_by_name(c: &mut dyn Exec, workspace_id: &str, name: &str) -> Result<Option<SecretRow>> {
    let sql = format!("SELECT {SECRET} FROM secrets WHERE workspace_id = $1 AND name = $2");
    fetch_optional(c, &sql, args![workspace_id, name], secret).await
}

/// The secret by name and, in the same query, version `version` (`None`: the current one).
pub(crate) async fn secret_with_version(
    c: &mut dyn Exec,
    workspace_id: &str,
    name: &str,
    version: Option<i64>,
) -> Result<Option<(SecretRow, Option<SecretVersionRow>)>> {
    fetch_optional(c, &SECRET_WITH_VERSION, args![workspace_id, name, version], |r| {
        let v = r.prefixed("v_");
        let found = v.get::<Option<i64>>("version")?.is_some();
        Ok((
            secret(&r.prefixed("s_"))?,
            found.then(|| secret_version_row(&v)).transpose()?,
        ))
    })
    .await
}

/// Every live secret of the workspace with its current version, in one query.
pub(crate) async fn live_secrets_with_current_version(
    c: &mut dyn Exec,
    workspace_id: &str,
) -> Result<Vec<(SecretRow, SecretVersionRow)>> {
    fetch(c, &LIVE_SECRETS_WITH_CURRENT_VERSION, args![workspace_id], |r| {
        Ok((secret(&r.prefixed("s_"))?, secret_version_row(&r.prefixed("v_"))?))
    })
    .await
}

/// Writes the tag index rows of a secret whose tags are `tags`: a JSON object's text-valued
/// entries (core writes tags as such; anything else is opaque and indexes nothing).
async fn index_tags(c: &mut dyn Exec, secret_id: &str, workspace_id: &str, tags: &str) -> Result<()> {
    let Ok(serde_json::Value::Object(mut entries)) = serde_json::from_str::<serde_json::Value>(tags) else {
        return Ok(());
    };
    entries.retain(|_, value| value.is_string());
    if entries.is_empty() {
        return Ok(());
    }
    let tags = serde_json::Value::Object(entries).to_string();
    let sql = format!(
        "INSERT INTO secret_tags (secret_id, workspace_id, key, value) SELECT $1, $2, key, value FROM {}",
        c.dialect().json_object_entries(3)
    );
    c.execute(&sql, args![secret_id, workspace_id, &tags]).await?;
    Ok(())
}

/// The live secrets of the workspace, with their current version, that carry every tag of at
/// least one of `any_of` (an empty set: every live secret), by name. Each set is one query that
/// starts from the tag index, so the cost follows the secrets returned.
pub(crate) async fn live_secrets_tagged(
    c: &mut dyn Exec,
    workspace_id: &str,
    any_of: &[Vec<(String, String)>],
) -> Result<Vec<(SecretRow, SecretVersionRow)>> {
    if any_of.iter().any(Vec::is_empty) {
        return live_secrets_with_current_version(c, workspace_id).await;
    }
    let mut found: std::collections::BTreeMap<String, (SecretRow, SecretVersionRow)> = Default::default();
    for set in any_of {
        let Some(((key, value), rest)) = set.split_first() else {
            continue;
        };
        let mut params = vec![Arg::from(workspace_id), Arg::from(key), Arg::from(value)];
        let mut sql = format!(
            "SELECT {}, {} FROM secret_tags t JOIN secrets s ON s.id = t.secret_id JOIN secret_versions v \
             ON v.secret_id = s.id AND v.version = s.current_version \
             WHERE t.workspace_id = $1 AND t.key = $2 AND t.value = $3 AND s.deleted_at IS NULL",
            aliased("s", SECRET),
            aliased("v", VERSION)
        );
        for (key, value) in rest {
            params.push(key.into());
            params.push(value.into());
            let (k, v) = (params.len() - 1, params.len());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM secret_tags o WHERE o.secret_id = s.id AND o.key = ${k} AND o.value = ${v})"
            ));
        }
        let rows = fetch(c, &sql, &params, |r| {
            Ok((secret(&r.prefixed("s_"))?, secret_version_row(&r.prefixed("v_"))?))
        })
        .await?;
        for (row, version) in rows {
            found.insert(row.name.clone(), (row, version));
        }
    }
    Ok(found.into_values().collect())
}

pub(crate) async fn list_secrets(
    c: &mut dyn Exec,
    workspace_id: &str,
    filter: &SecretFilter,
) -> Result<Vec<SecretRow>> {
    let trash = if filter.in_trash { "IS NOT NULL" } else { "IS NULL" };
    let mut sql = format!("SELECT {SECRET} FROM secrets WHERE workspace_id = $1 AND deleted_at {trash}");
    let mut params = vec![Arg::from(workspace_id)];
    if let Some(prefix) = &filter.prefix {
        params.push(prefix.into());
        let n = params.len();
        sql.push_str(&format!(" AND substr(name, 1, length(${n})) = ${n}"));
    }
    if let Some(secret_type) = &filter.secret_type {
        params.push(secret_type.into());
        sql.push_str(&format!(" AND secret_type = ${}", params.len()));
    }
    sql.push_str(" ORDER BY name");
    fetch(c, &sql, &params, secret).await
}

pub(crate) async fn secret_version(
    c: &mut dyn Exec,
    secret_id: &str,
    version: i64,
) -> Result<Option<SecretVersionRow>> {
    let sql = format!("SELECT {VERSION} FROM secret_versions WHERE secret_id = $1 AND version = $2");
    fetch_optional(c, &sql, args![secret_id, version], secret_version_row).await
}

pub(crate) async fn list_versions(c: &mut dyn Exec, secret_id: &str) -> Result<Vec<VersionMeta>> {
    fetch(
        c,
        "SELECT version, created_at, created_by FROM secret_versions WHERE secret_id = $1 ORDER BY version DESC",
        args![secret_id],
        version_meta,
    )
    .await
}

pub(crate) async fn update_secret(c: &mut dyn Exec, update: SecretUpdate, mut audit: AuditRecord) -> Result<SecretRow> {
    let u = update;
    let head = lock_head(c, &u.workspace_id, &audit).await?;
    // Locked until commit, so concurrent updates of one secret take version numbers in turn.
    let sql = format!(
        "SELECT current_version FROM secrets WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL{}",
        c.dialect().for_update()
    );
    let current: i64 = fetch_optional(c, &sql, args![&u.secret_id, &u.workspace_id], |r| {
        r.get("current_version")
    })
    .await?
    .ok_or(StoreError::NotFound)?;
    if u.expected_current_version.is_some_and(|expected| expected != current) {
        return Err(StoreError::VersionConflict { current });
    }
    let mut next = current;
    if let Some(seal) = u.new_value {
        next += 1;
        let sealed = seal(next).map_err(StoreError::Database)?;
        let row = SecretVersionRow {
            secret_id: u.secret_id.clone(),
            version: next,
            ciphertext: sealed.ciphertext,
            wrapped_dek: sealed.wrapped_dek,
            key_version: sealed.key_version,
            created_at: u.updated_at,
            created_by: u.updated_by.clone(),
        };
        insert_version_row(c, &row).await?;
        if let Ok(serde_json::Value::Object(mut detail)) = serde_json::from_str(&audit.detail) {
            detail.insert("version".into(), next.into());
            audit.detail = serde_json::Value::Object(detail).to_string();
        }
    }
    c.execute(
        "UPDATE secrets SET description = COALESCE($1, description), metadata = COALESCE($2, metadata), \
         tags = COALESCE($3, tags), details = COALESCE($4, details), \
         updated_at = $5, updated_by = $6, current_version = $7 WHERE id = $8 AND workspace_id = $9",
        args![
            &u.description,
            &u.metadata,
            &u.tags,
            &u.details,
            u.updated_at,
            &u.updated_by,
            next,
            &u.secret_id,
            &u.workspace_id
        ],
    )
    .await?;
    if let Some(tags) = &u.tags {
        c.execute("DELETE FROM secret_tags WHERE secret_id = $1", args![&u.secret_id])
            .await?;
        index_tags(c, &u.secret_id, &u.workspace_id, tags).await?;
    }
    append(c, head, &audit).await?;
    let sql = format!("SELECT {SECRET} FROM secrets WHERE id = $1");
    fetch_optional(c, &sql, args![&u.secret_id], secret)
        .await?
        .ok_or(StoreError::NotFound)
}

pub(crate) async fn set_secret_trashed(
    c: &mut dyn Exec,
    workspace_id: String,
    secret_id: String,
    deleted: Option<(i64, String)>,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    let (at, by) = deleted.unzip();
    let from = if at.is_some() { "IS NULL" } else { "IS NOT NULL" };
    let sql = format!(
        "UPDATE secrets SET deleted_at = $1, deleted_by = $2 WHERE id = $3 AND workspace_id = $4 AND deleted_at {from}"
    );
    let changed = c.execute(&sql, args![at, &by, &secret_id, &workspace_id]).await?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn purge_secret(
    c: &mut dyn Exec,
    workspace_id: String,
    secret_id: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    let purged = c
        .execute(
            "DELETE FROM secrets WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NOT NULL",
            args![&secret_id, &workspace_id],
        )
        .await?;
    if purged == 0 {
        return Err(StoreError::NotFound);
    }
    // The foreign key cascades too; deleting the versions explicitly does not depend on it.
    c.execute("DELETE FROM secret_versions WHERE secret_id = $1", args![&secret_id])
        .await?;
    c.execute("DELETE FROM secret_tags WHERE secret_id = $1", args![&secret_id])
        .await?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn trashed_before(c: &mut dyn Exec, before: i64) -> Result<Vec<SecretRow>> {
    let sql = format!(
        "SELECT {SECRET} FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at < $1 ORDER BY deleted_at, id"
    );
    fetch(c, &sql, args![before], secret).await
}

/// How stale `last_used_at` may be: a use is written only when the stored one is older than
/// this or by someone else, so an identity that reads its environment in a loop writes its
/// secrets' rows once a minute, not on every read.
pub const LAST_USED_PRECISION_MS: i64 = 60_000;

/// One statement for any number of secrets: the ids travel as one JSON array. Rows whose use is
/// already recorded, by `by`, less than [`LAST_USED_PRECISION_MS`] before `at` are left alone.
pub(crate) async fn touch_secrets_used(c: &mut dyn Exec, secret_ids: Vec<String>, at: i64, by: String) -> Result<()> {
    let ids = serde_json::to_string(&secret_ids).map_err(|e| StoreError::Database(e.to_string()))?;
    let sql = format!(
        "UPDATE secrets SET last_used_at = $1, last_used_by = $2 WHERE id IN ({}) \
         AND (last_used_at IS NULL OR last_used_at <= $1 - $4 OR last_used_by IS NULL OR last_used_by <> $2)",
        c.dialect().json_strings(3)
    );
    c.execute(&sql, args![at, &by, &ids, LAST_USED_PRECISION_MS]).await?;
    Ok(())
}
