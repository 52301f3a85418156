//! The `identities` table and each identity's environment variables (`identity_env`).

use crate::audit::{append, lock_head};
use crate::db::{Columns, Exec, args, duplicate_as, fetch, fetch_optional};
use crate::{AuditRecord, Result, StoreError};

/// A machine identity (a script, an agent, a build) of a workspace. `tags` is a JSON object,
/// opaque to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub tags: String,
    pub created_at: i64,
    pub created_by: String,
}

pub(crate) const IDENTITY: &str = "id, workspace_id, name, tags, created_at, created_by";

pub(crate) fn identity(r: &impl Columns) -> Result<IdentityRow> {
    Ok(IdentityRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        name: r.get("name")?,
        tags: r.get("tags")?,
        created_at: r.get("created_at")?,
        created_by: r.get("created_by")?,
    })
}

/// `NotFound` unless the identity is in the workspace.
pub(crate) async fn check_identity_in(c: &mut dyn Exec, workspace_id: &str, identity_id: &str) -> Result<()> {
    let found = c
        .fetch_all(
            "SELECT id FROM identities WHERE id = $1 AND workspace_id = $2",
            args![identity_id, workspace_id],
        )
        .await?;
    if found.is_empty() {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(crate) async fn insert_identity(c: &mut dyn Exec, identity: IdentityRow, audit: AuditRecord) -> Result<()> {
    let i = &identity;
    let head = lock_head(c, &i.workspace_id, &audit).await?;
    let sql = format!("INSERT INTO identities ({IDENTITY}) VALUES ($1, $2, $3, $4, $5, $6)");
    c.execute(
        &sql,
        args![&i.id, &i.workspace_id, &i.name, &i.tags, i.created_at, &i.created_by],
    )
    .await
    .map_err(duplicate_as("identity_name"))?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn identity_by_name(c: &mut dyn Exec, workspace_id: &str, name: &str) -> Result<Option<IdentityRow>> {
    let sql = format!("SELECT {IDENTITY} FROM identities WHERE workspace_id = $1 AND name = $2");
    fetch_optional(c, &sql, args![workspace_id, name], identity).await
}

pub(crate) async fn list_identities(c: &mut dyn Exec, workspace_id: &str) -> Result<Vec<IdentityRow>> {
    let sql = format!("SELECT {IDENTITY} FROM identities WHERE workspace_id = $1 ORDER BY name");
    fetch(c, &sql, args![workspace_id], identity).await
}

pub(crate) async fn set_identity_tags(
    c: &mut dyn Exec,
    workspace_id: String,
    identity_id: String,
    tags: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    let changed = c
        .execute(
            "UPDATE identities SET tags = $1 WHERE id = $2 AND workspace_id = $3",
            args![&tags, &identity_id, &workspace_id],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn delete_identity(
    c: &mut dyn Exec,
    workspace_id: String,
    identity_id: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    check_identity_in(c, &workspace_id, &identity_id).await?;
    // The foreign keys cascade too; deleting explicitly does not depend on them.
    c.execute("DELETE FROM tokens WHERE identity_id = $1", args![&identity_id])
        .await?;
    c.execute("DELETE FROM identity_env WHERE identity_id = $1", args![&identity_id])
        .await?;
    c.execute(
        "DELETE FROM identity_federations WHERE identity_id = $1",
        args![&identity_id],
    )
    .await?;
    c.execute(
        "DELETE FROM identities WHERE id = $1 AND workspace_id = $2",
        args![&identity_id, &workspace_id],
    )
    .await?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn set_identity_env(
    c: &mut dyn Exec,
    workspace_id: String,
    identity_id: String,
    key: String,
    value: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    check_identity_in(c, &workspace_id, &identity_id).await?;
    c.execute(
        "INSERT INTO identity_env (identity_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (identity_id, key) DO UPDATE SET value = excluded.value",
        args![&identity_id, &key, &value],
    )
    .await?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn unset_identity_env(
    c: &mut dyn Exec,
    workspace_id: String,
    identity_id: String,
    key: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    let removed = c
        .execute(
            "DELETE FROM identity_env WHERE identity_id = $1 AND key = $2 \
             AND identity_id IN (SELECT id FROM identities WHERE workspace_id = $3)",
            args![&identity_id, &key, &workspace_id],
        )
        .await?;
    if removed == 0 {
        return Err(StoreError::NotFound);
    }
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn identity_env(c: &mut dyn Exec, identity_id: &str) -> Result<Vec<(String, String)>> {
    fetch(
        c,
        "SELECT key, value FROM identity_env WHERE identity_id = $1 ORDER BY key",
        args![identity_id],
        |r| Ok((r.get("key")?, r.get("value")?)),
    )
    .await
}
