//! The `policies` table: which identities may do what with which secrets, by tags.

use crate::audit::{append, lock_head};
use crate::db::{Columns, Exec, args, duplicate_as, fetch};
use crate::{AuditRecord, Result, StoreError};

/// A tag policy: which identities (by name or by tags) may do what with which secrets (by tags).
/// The JSON columns are opaque to the store: `identity_names` and `allow` are arrays,
/// `identity_tags` and `secret_tags` objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub identity_names: String,
    pub identity_tags: String,
    pub secret_tags: String,
    pub allow: String,
    pub created_at: i64,
    pub created_by: String,
}

const POLICY: &str =
    "id, workspace_id, name, identity_names, identity_tags, secret_tags, allow, created_at, created_by";

fn policy(r: &impl Columns) -> Result<PolicyRow> {
    Ok(PolicyRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        name: r.get("name")?,
        identity_names: r.get("identity_names")?,
        identity_tags: r.get("identity_tags")?,
        secret_tags: r.get("secret_tags")?,
        allow: r.get("allow")?,
        created_at: r.get("created_at")?,
        created_by: r.get("created_by")?,
    })
}

pub(crate) async fn insert_policy(c: &mut dyn Exec, policy: PolicyRow, audit: AuditRecord) -> Result<()> {
    let p = &policy;
    let head = lock_head(c, &p.workspace_id, &audit).await?;
    let sql = format!("INSERT INTO policies ({POLICY}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    c.execute(
        &sql,
        args![
            &p.id,
            &p.workspace_id,
            &p.name,
            &p.identity_names,
            &p.identity_tags,
            &p.secret_tags,
            &p.allow,
            p.created_at,
            &p.created_by
        ],
    )
    .await
    .map_err(duplicate_as("policy_name"))?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn list_policies(c: &mut dyn Exec, workspace_id: &str) -> Result<Vec<PolicyRow>> {
    let sql = format!("SELECT {POLICY} FROM policies WHERE workspace_id = $1 ORDER BY name");
    fetch(c, &sql, args![workspace_id], policy).await
}

pub(crate) async fn delete_policy(
    c: &mut dyn Exec,
    workspace_id: String,
    policy_id: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    let deleted = c
        .execute(
            "DELETE FROM policies WHERE id = $1 AND workspace_id = $2",
            args![&policy_id, &workspace_id],
        )
        .await?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    append(c, head, &audit).await?;
    Ok(())
}
