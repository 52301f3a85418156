//! The `workspaces` table: a workspace's name; its row also holds the audit chain head
//! (see `audit.rs`).

use crate::audit::{append, lock_head};
use crate::db::{Arg, Columns, Exec, args, duplicate_as, fetch_optional};
use crate::members::insert_member_row;
use crate::migrate::BOOTSTRAP_PENDING;
use crate::tokens::insert_token_row;
use crate::{AuditRecord, MemberRow, Result, TokenRow, WorkspaceCounts};

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

/// Live secrets and identities of every workspace (or only `workspace_id`'s), by name.
pub(crate) async fn workspace_counts(c: &mut dyn Exec, workspace_id: Option<&str>) -> Result<Vec<WorkspaceCounts>> {
    let sql = "SELECT w.name AS name, \
         (SELECT count(*) FROM secrets s WHERE s.workspace_id = w.id AND s.deleted_at IS NULL) AS secrets, \
         (SELECT count(*) FROM identities i WHERE i.workspace_id = w.id) AS identities \
         FROM workspaces w WHERE $1 IS NULL OR w.id = $1 ORDER BY w.name";
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    c.fetch_all(sql, &[Arg::OptText(workspace_id)])
        .await?
        .iter()
        .map(|r| {
            Ok(WorkspaceCounts {
                workspace: r.get("name")?,
                secrets: count(r.get("secrets")?),
                identities: count(r.get("identities")?),
            })
        })
        .collect()
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
