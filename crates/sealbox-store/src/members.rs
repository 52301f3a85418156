//! The `members` table: the people of a workspace and their roles.

use crate::audit::{append, lock_head};
use crate::db::{Columns, Exec, args, duplicate_as, fetch, fetch_optional};
use crate::{AuditRecord, Result, StoreError};

/// A person in a workspace. `password_hash` is a PHC string (Argon2id).
#[derive(Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub password_hash: String,
    /// `owner`, `admin` or `editor`.
    pub role: String,
    pub created_at: i64,
}

impl std::fmt::Debug for MemberRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberRow")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("email", &self.email)
            .field("password_hash", &"[redacted]")
            .field("role", &self.role)
            .finish()
    }
}

pub(crate) const MEMBER: &str = "id, workspace_id, email, password_hash, role, created_at";

pub(crate) fn member(r: &impl Columns) -> Result<MemberRow> {
    Ok(MemberRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        email: r.get("email")?,
        password_hash: r.get("password_hash")?,
        role: r.get("role")?,
        created_at: r.get("created_at")?,
    })
}

pub(crate) async fn insert_member_row(c: &mut dyn Exec, m: &MemberRow) -> Result<()> {
    let sql = format!("INSERT INTO members ({MEMBER}) VALUES ($1, $2, $3, $4, $5, $6)");
    c.execute(
        &sql,
        args![
            &m.id,
            &m.workspace_id,
            &m.email,
            &m.password_hash,
            &m.role,
            m.created_at
        ],
    )
    .await
    .map_err(duplicate_as("member_email"))?;
    Ok(())
}

pub(crate) async fn insert_member(c: &mut dyn Exec, member: MemberRow, audit: AuditRecord) -> Result<()> {
    let head = lock_head(c, &member.workspace_id, &audit).await?;
    insert_member_row(c, &member).await?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn member_by_email(c: &mut dyn Exec, workspace_id: &str, email: &str) -> Result<Option<MemberRow>> {
    let sql = format!("SELECT {MEMBER} FROM members WHERE workspace_id = $1 AND email = $2");
    fetch_optional(c, &sql, args![workspace_id, email], member).await
}

pub(crate) async fn member_by_id(c: &mut dyn Exec, member_id: &str) -> Result<Option<MemberRow>> {
    let sql = format!("SELECT {MEMBER} FROM members WHERE id = $1");
    fetch_optional(c, &sql, args![member_id], member).await
}

pub(crate) async fn list_members(c: &mut dyn Exec, workspace_id: &str) -> Result<Vec<MemberRow>> {
    let sql = format!("SELECT {MEMBER} FROM members WHERE workspace_id = $1 ORDER BY created_at, email");
    fetch(c, &sql, args![workspace_id], member).await
}

/// `NotFound` unless the member is in the workspace; `LastOwner` when they are its only owner
/// and `change` would take that away (`None`: delete, `Some(role)`: a new role).
async fn check_owner_kept(c: &mut dyn Exec, workspace_id: &str, member_id: &str, change: Option<&str>) -> Result<()> {
    let role: String = fetch_optional(
        c,
        "SELECT role FROM members WHERE id = $1 AND workspace_id = $2",
        args![member_id, workspace_id],
        |r| r.get("role"),
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    if role != "owner" || change == Some("owner") {
        return Ok(());
    }
    let owners = c
        .fetch_all(
            "SELECT COUNT(*) AS n FROM members WHERE workspace_id = $1 AND role = 'owner'",
            args![workspace_id],
        )
        .await?;
    let owners: i64 = owners.first().map_or(Ok(0), |r| r.get("n"))?;
    if owners <= 1 {
        Err(StoreError::LastOwner)
    } else {
        Ok(())
    }
}

/// Holds the workspace's row until the transaction ends, so that two changes of its owners never
/// both see the other owner (on SQLite the one writer serialises them already).
async fn lock_owners(c: &mut dyn Exec, workspace_id: &str) -> Result<()> {
    let sql = format!("SELECT id FROM workspaces WHERE id = $1{}", c.dialect().for_update());
    if c.fetch_all(&sql, args![workspace_id]).await?.is_empty() {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn set_member_role(
    c: &mut dyn Exec,
    workspace_id: String,
    member_id: String,
    role: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    lock_owners(c, &workspace_id).await?;
    check_owner_kept(c, &workspace_id, &member_id, Some(&role)).await?;
    c.execute(
        "UPDATE members SET role = $1 WHERE id = $2 AND workspace_id = $3",
        args![&role, &member_id, &workspace_id],
    )
    .await?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn delete_member(
    c: &mut dyn Exec,
    workspace_id: String,
    member_id: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    lock_owners(c, &workspace_id).await?;
    check_owner_kept(c, &workspace_id, &member_id, None).await?;
    // The foreign key cascades too; deleting the tokens explicitly does not depend on it.
    c.execute("DELETE FROM tokens WHERE member_id = $1", args![&member_id])
        .await?;
    c.execute(
        "DELETE FROM members WHERE id = $1 AND workspace_id = $2",
        args![&member_id, &workspace_id],
    )
    .await?;
    append(c, head, &audit).await?;
    Ok(())
}
