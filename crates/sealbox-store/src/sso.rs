//! The single sign-on tables: a workspace's sign-in rules (`sso_settings`, audited) and the
//! single-use sign-ins in progress (`sso_logins`, bookkeeping like `login_attempts`).

use crate::audit::{append, lock_head};
use crate::db::{Columns, Exec, args, fetch, fetch_optional};
use crate::{AuditRecord, Result};

/// A workspace's sign-in rules. A workspace without a row has the defaults
/// ([`SsoSettingsRow::defaults`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettingsRow {
    pub workspace_id: String,
    /// Whether members may sign in with a password (owners have a break-glass path, see core).
    pub password_sign_in: bool,
    /// The role given to a verified e-mail that is not a member yet; `None`: such a sign-in is refused.
    pub create_members: Option<String>,
    /// JSON object: a value of the groups claim to a role.
    pub group_roles: String,
    pub updated_at: i64,
}

impl SsoSettingsRow {
    pub fn defaults(workspace_id: &str) -> Self {
        Self {
            workspace_id: workspace_id.to_owned(),
            password_sign_in: true,
            create_members: None,
            group_roles: "{}".to_owned(),
            updated_at: 0,
        }
    }
}

/// A sign-in in progress. The id is a keyed hash of the value the browser or terminal holds (the
/// `state`, or the one-time code of `sealbox login --sso`); that value itself is not stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoLoginRow {
    pub id: Vec<u8>,
    pub workspace_id: String,
    /// `started` (sent to the provider) or `signed_in` (waiting for the terminal to collect it).
    pub stage: String,
    /// `http://127.0.0.1:PORT/...`, where the terminal waits (terminal sign-ins only).
    pub cli_redirect: Option<String>,
    /// SHA-256 (base64url) of the terminal's verifier (terminal sign-ins only).
    pub cli_challenge: Option<String>,
    /// The member the provider signed in (stage `signed_in`).
    pub member_id: Option<String>,
    /// JSON object: the provider's issuer and subject (stage `signed_in`), else `{}`.
    pub detail: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for SsoLoginRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoLoginRow")
            .field("workspace_id", &self.workspace_id)
            .field("stage", &self.stage)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

const SETTINGS: &str = "workspace_id, password_sign_in, create_members, group_roles, updated_at";
const LOGIN: &str = "id, workspace_id, stage, cli_redirect, cli_challenge, member_id, detail, expires_at";

fn settings(r: &impl Columns) -> Result<SsoSettingsRow> {
    Ok(SsoSettingsRow {
        workspace_id: r.get("workspace_id")?,
        password_sign_in: r.get::<i64>("password_sign_in")? != 0,
        create_members: r.get("create_members")?,
        group_roles: r.get("group_roles")?,
        updated_at: r.get("updated_at")?,
    })
}

fn login(r: &impl Columns) -> Result<SsoLoginRow> {
    Ok(SsoLoginRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        stage: r.get("stage")?,
        cli_redirect: r.get("cli_redirect")?,
        cli_challenge: r.get("cli_challenge")?,
        member_id: r.get("member_id")?,
        detail: r.get("detail")?,
        expires_at: r.get("expires_at")?,
    })
}

pub(crate) async fn sso_settings(c: &mut dyn Exec, workspace_id: &str) -> Result<Option<SsoSettingsRow>> {
    let sql = format!("SELECT {SETTINGS} FROM sso_settings WHERE workspace_id = $1");
    fetch_optional(c, &sql, args![workspace_id], settings).await
}

pub(crate) async fn put_sso_settings(c: &mut dyn Exec, row: SsoSettingsRow, audit: AuditRecord) -> Result<()> {
    let head = lock_head(c, &row.workspace_id, &audit).await?;
    let sql = format!(
        "INSERT INTO sso_settings ({SETTINGS}) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (workspace_id) DO UPDATE SET password_sign_in = excluded.password_sign_in, \
         create_members = excluded.create_members, group_roles = excluded.group_roles, \
         updated_at = excluded.updated_at"
    );
    c.execute(
        &sql,
        args![
            &row.workspace_id,
            i64::from(row.password_sign_in),
            &row.create_members,
            &row.group_roles,
            row.updated_at
        ],
    )
    .await?;
    append(c, head, &audit).await?;
    Ok(())
}

/// Stores a sign-in in progress, and deletes those that expired before `now` (so abandoned ones
/// do not pile up).
pub(crate) async fn insert_sso_login(c: &mut dyn Exec, row: SsoLoginRow, now: i64) -> Result<()> {
    c.execute("DELETE FROM sso_logins WHERE expires_at < $1", args![now])
        .await?;
    let sql = format!("INSERT INTO sso_logins ({LOGIN}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    c.execute(
        &sql,
        args![
            row.id.as_slice(),
            &row.workspace_id,
            &row.stage,
            &row.cli_redirect,
            &row.cli_challenge,
            &row.member_id,
            &row.detail,
            row.expires_at
        ],
    )
    .await?;
    Ok(())
}

/// Takes (deletes and returns) the sign-in `id` at `stage`, if it has not expired: a second take
/// of the same id finds nothing, on any replica.
pub(crate) async fn take_sso_login(
    c: &mut dyn Exec,
    id: Vec<u8>,
    stage: String,
    now: i64,
) -> Result<Option<SsoLoginRow>> {
    let sql = format!("DELETE FROM sso_logins WHERE id = $1 AND stage = $2 RETURNING {LOGIN}");
    let rows = fetch(c, &sql, args![id.as_slice(), &stage], login).await?;
    Ok(rows.into_iter().next().filter(|row| row.expires_at >= now))
}
