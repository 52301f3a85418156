//! The `workspaces` table: a workspace's name; its row also holds the audit chain head
//! (see `audit.rs`).

use crate::audit::{append, lock_head};
use crate::db::{Columns, Exec, args, duplicate_as, fetch_optional};
use crate::members::insert_member_row;
use crate::migrate::BOOTSTRAP_PENDING;
use crate::tokens::insert_token_row;
use crate::{AuditRecord, MemberRow, Result, TokenRow};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

pub(crate) const WORKSPACE: &str = "id, name, created_at";

pub(crate) fn workspace(r: &impl Columns) -> Result<WorkspaceRow> {
    Ok(WorkspaceRow {
        id: r.get("id")?,
        name: r.get("name")?,
        created_at: r.get("created_at")?,
    })
}

pub(crate) async fn create_workspace(
    c: &mut dyn Exec,
    workspace: WorkspaceRow,
    owner: MemberRow,
    token: Option<TokenRow>,
    audit: AuditRecord,
) -> Result<()> {
    let w = &workspace;
    c.execute(
        "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)",
        args![&w.id, &w.name, w.created_at],
    )
    .await
    .map_err(duplicate_as("workspace_name"))?;
    insert_member_row(c, &owner).await?;
    if let Some(token) = &token {
        insert_token_row(c, token).await?;
    }
    let head = lock_head(c, &w.id, &audit).await?;
    append(c, head, &audit).await?;
    // The database now has a workspace: it is never bootstrapped again.
    c.execute("DELETE FROM meta WHERE key = $1", args![BOOTSTRAP_PENDING])
        .await?;
    Ok(())
}

pub(crate) async fn workspace_by_id(c: &mut dyn Exec, id: &str) -> Result<Option<WorkspaceRow>> {
    let sql = format!("SELECT {WORKSPACE} FROM workspaces WHERE id = $1");
    fetch_optional(c, &sql, args![id], workspace).await
}

pub(crate) async fn workspace_by_name(c: &mut dyn Exec, name: &str) -> Result<Option<WorkspaceRow>> {
    let sql = format!("SELECT {WORKSPACE} FROM workspaces WHERE name = $1");
    fetch_optional(c, &sql, args![name], workspace).await
}
