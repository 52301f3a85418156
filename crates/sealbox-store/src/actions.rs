//! The `actions` table: saved action definitions.

use crate::audit::{append, lock_head};
use crate::db::{Columns, Exec, args, duplicate_as, fetch, fetch_optional};
use crate::{AuditRecord, Result, StoreError};

/// A saved action definition. `spec` is the definition as JSON text, opaque to the store; it
/// holds references to secrets (`{secrets.NAME}`), never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// `http`, `email` or `sqs`.
    pub kind: String,
    pub spec: String,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// A new definition for a saved action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionUpdate {
    pub workspace_id: String,
    pub action_id: String,
    pub kind: String,
    pub spec: String,
    pub updated_at: i64,
    pub updated_by: String,
}

const ACTION: &str = "id, workspace_id, name, kind, spec, created_at, created_by, updated_at, updated_by";

fn action(r: &impl Columns) -> Result<ActionRow> {
    Ok(ActionRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        name: r.get("name")?,
        kind: r.get("kind")?,
        spec: r.get("spec")?,
        created_at: r.get("created_at")?,
        created_by: r.get("created_by")?,
        updated_at: r.get("updated_at")?,
        updated_by: r.get("updated_by")?,
    })
}

pub(crate) async fn insert_action(c: &mut dyn Exec, action: ActionRow, audit: AuditRecord) -> Result<()> {
    let a = &action;
    let head = lock_head(c, &a.workspace_id, &audit).await?;
    let sql = format!("INSERT INTO actions ({ACTION}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    c.execute(
        &sql,
        args![
            &a.id,
            &a.workspace_id,
            &a.name,
            &a.kind,
            &a.spec,
            a.created_at,
            &a.created_by,
            a.updated_at,
            &a.updated_by
        ],
    )
    .await
    .map_err(duplicate_as("action_name"))?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn list_actions(c: &mut dyn Exec, workspace_id: &str) -> Result<Vec<ActionRow>> {
    let sql = format!("SELECT {ACTION} FROM actions WHERE workspace_id = $1 ORDER BY name");
    fetch(c, &sql, args![workspace_id], action).await
}

pub(crate) async fn action_by_name(c: &mut dyn Exec, workspace_id: &str, name: &str) -> Result<Option<ActionRow>> {
    let sql = format!("SELECT {ACTION} FROM actions WHERE workspace_id = $1 AND name = $2");
    fetch_optional(c, &sql, args![workspace_id, name], action).await
}

pub(crate) async fn update_action(c: &mut dyn Exec, u: ActionUpdate, audit: AuditRecord) -> Result<()> {
    let head = lock_head(c, &u.workspace_id, &audit).await?;
    let changed = c
        .execute(
            "UPDATE actions SET kind = $1, spec = $2, updated_at = $3, updated_by = $4 \
             WHERE id = $5 AND workspace_id = $6",
            args![
                &u.kind,
                &u.spec,
                u.updated_at,
                &u.updated_by,
                &u.action_id,
                &u.workspace_id
            ],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn delete_action(
    c: &mut dyn Exec,
    workspace_id: String,
    action_id: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    let deleted = c
        .execute(
            "DELETE FROM actions WHERE id = $1 AND workspace_id = $2",
            args![&action_id, &workspace_id],
        )
        .await?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    append(c, head, &audit).await?;
    Ok(())
}
