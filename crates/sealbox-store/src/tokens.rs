//! The `tokens` table: bearer tokens of members and identities, by their keyed hash.

use std::sync::LazyLock;

use crate::audit::{append, lock_head};
use crate::db::{Columns, Exec, aliased, args, duplicate_as, fetch, fetch_optional};
use crate::identities::{IDENTITY, check_identity_in, identity};
use crate::members::{MEMBER, member};
use crate::workspaces::{WORKSPACE, workspace};
use crate::{AuditRecord, IdentityRow, MemberRow, Result, StoreError, WorkspaceRow};

/// A bearer token. Only the keyed hash of the token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub workspace_id: String,
    /// `personal` (a member's access token), `session` (from a password login), or whatever
    /// kind the caller gives an identity's token.
    pub kind: String,
    /// The member the token acts as.
    pub member_id: Option<String>,
    /// The identity the token acts as. A token acts as a member or as an identity, never both.
    pub identity_id: Option<String>,
    pub name: String,
    pub hash: Vec<u8>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// The first characters of the token after `sbx_`, shown in lists so a leaked token can be
    /// matched to its row (not enough to guess the rest). `None` for tokens made before it was kept.
    pub prefix: Option<String>,
}

const TOKEN: &str = "id, workspace_id, kind, member_id, identity_id, name, hash, created_at, expires_at, revoked_at, \
    last_used_at, prefix";

/// `token_with_member`: `$1` is the token's hash.
static TOKEN_WITH_MEMBER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {} FROM tokens t JOIN members m ON m.id = t.member_id \
         JOIN workspaces w ON w.id = t.workspace_id WHERE t.hash = $1",
        aliased("t", TOKEN),
        aliased("m", MEMBER),
        aliased("w", WORKSPACE)
    )
});

/// `token_with_identity`: `$1` is the token's hash. The identity must be of the token's workspace.
static TOKEN_WITH_IDENTITY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {} FROM tokens t JOIN identities i ON i.id = t.identity_id AND i.workspace_id = t.workspace_id \
         JOIN workspaces w ON w.id = t.workspace_id WHERE t.hash = $1",
        aliased("t", TOKEN),
        aliased("i", IDENTITY),
        aliased("w", WORKSPACE)
    )
});

fn token(r: &impl Columns) -> Result<TokenRow> {
    Ok(TokenRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        kind: r.get("kind")?,
        member_id: r.get("member_id")?,
        identity_id: r.get("identity_id")?,
        name: r.get("name")?,
        hash: r.get("hash")?,
        created_at: r.get("created_at")?,
        expires_at: r.get("expires_at")?,
        revoked_at: r.get("revoked_at")?,
        last_used_at: r.get("last_used_at")?,
        prefix: r.get("prefix")?,
    })
}

pub(crate) async fn insert_token_row(c: &mut dyn Exec, t: &TokenRow) -> Result<()> {
    if let Some(identity_id) = &t.identity_id {
        if t.member_id.is_some() {
            return Err(StoreError::Database(
                "a token acts as a member or as an identity, not both".into(),
            ));
        }
        check_identity_in(c, &t.workspace_id, identity_id).await?;
    }
    let sql = format!("INSERT INTO tokens ({TOKEN}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
    c.execute(
        &sql,
        args![
            &t.id,
            &t.workspace_id,
            &t.kind,
            &t.member_id,
            &t.identity_id,
            &t.name,
            &t.hash,
            t.created_at,
            t.expires_at,
            t.revoked_at,
            t.last_used_at,
            &t.prefix
        ],
    )
    .await
    .map_err(duplicate_as("token_hash"))?;
    Ok(())
}

pub(crate) async fn insert_token(c: &mut dyn Exec, token: TokenRow, audit: AuditRecord) -> Result<()> {
    let head = lock_head(c, &token.workspace_id, &audit).await?;
    insert_token_row(c, &token).await?;
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn token_by_hash(c: &mut dyn Exec, hash: &[u8]) -> Result<Option<TokenRow>> {
    let sql = format!("SELECT {TOKEN} FROM tokens WHERE hash = $1");
    fetch_optional(c, &sql, args![hash], token).await
}

/// The token, the member it acts as and its workspace, in one query.
pub(crate) async fn token_with_member(
    c: &mut dyn Exec,
    hash: &[u8],
) -> Result<Option<(TokenRow, MemberRow, WorkspaceRow)>> {
    fetch_optional(c, &TOKEN_WITH_MEMBER, args![hash], |r| {
        Ok((
            token(&r.prefixed("t_"))?,
            member(&r.prefixed("m_"))?,
            workspace(&r.prefixed("w_"))?,
        ))
    })
    .await
}

/// The token, the identity it acts as and its workspace, in one query.
pub(crate) async fn token_with_identity(
    c: &mut dyn Exec,
    hash: &[u8],
) -> Result<Option<(TokenRow, IdentityRow, WorkspaceRow)>> {
    fetch_optional(c, &TOKEN_WITH_IDENTITY, args![hash], |r| {
        Ok((
            token(&r.prefixed("t_"))?,
            identity(&r.prefixed("i_"))?,
            workspace(&r.prefixed("w_"))?,
        ))
    })
    .await
}

pub(crate) async fn list_identity_tokens(
    c: &mut dyn Exec,
    workspace_id: &str,
    identity_id: &str,
) -> Result<Vec<TokenRow>> {
    let sql = format!(
        "SELECT {TOKEN} FROM tokens WHERE workspace_id = $1 AND identity_id = $2 AND revoked_at IS NULL \
         ORDER BY created_at DESC, id DESC"
    );
    fetch(c, &sql, args![workspace_id, identity_id], token).await
}

pub(crate) async fn revoke_identity_token(
    c: &mut dyn Exec,
    workspace_id: String,
    identity_id: String,
    token_id: String,
    at: i64,
    audit: AuditRecord,
) -> Result<()> {
    revoke_token_of(c, "identity_id", &workspace_id, &identity_id, &token_id, at, audit).await
}

/// Revokes a live token whose `owner_column` (`member_id` or `identity_id`) is `owner_id`.
async fn revoke_token_of(
    c: &mut dyn Exec,
    owner_column: &'static str,
    workspace_id: &str,
    owner_id: &str,
    token_id: &str,
    at: i64,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, workspace_id, &audit).await?;
    let sql = format!(
        "UPDATE tokens SET revoked_at = $1 \
         WHERE id = $2 AND workspace_id = $3 AND {owner_column} = $4 AND revoked_at IS NULL"
    );
    let revoked = c.execute(&sql, args![at, token_id, workspace_id, owner_id]).await?;
    if revoked == 0 {
        return Err(StoreError::NotFound);
    }
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn list_tokens(
    c: &mut dyn Exec,
    workspace_id: &str,
    member_id: &str,
    kind: &str,
) -> Result<Vec<TokenRow>> {
    let sql = format!(
        "SELECT {TOKEN} FROM tokens WHERE workspace_id = $1 AND member_id = $2 AND kind = $3 AND revoked_at IS NULL \
         ORDER BY created_at DESC, id DESC"
    );
    fetch(c, &sql, args![workspace_id, member_id, kind], token).await
}

pub(crate) async fn revoke_token(
    c: &mut dyn Exec,
    workspace_id: String,
    member_id: String,
    token_id: String,
    at: i64,
    audit: AuditRecord,
) -> Result<()> {
    revoke_token_of(c, "member_id", &workspace_id, &member_id, &token_id, at, audit).await
}

pub(crate) async fn touch_token(c: &mut dyn Exec, token_id: String, at: i64) -> Result<()> {
    c.execute(
        "UPDATE tokens SET last_used_at = $1 WHERE id = $2",
        args![at, &token_id],
    )
    .await?;
    Ok(())
}

/// Deletes tokens of `kind` that expired before `before`; returns how many.
pub(crate) async fn delete_expired_tokens(c: &mut dyn Exec, kind: String, before: i64) -> Result<u64> {
    let deleted = c
        .execute(
            "DELETE FROM tokens WHERE kind = $1 AND expires_at IS NOT NULL AND expires_at < $2",
            args![&kind, before],
        )
        .await?;
    Ok(deleted)
}
