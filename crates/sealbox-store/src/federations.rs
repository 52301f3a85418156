//! The `workspace_token_settings` table (a workspace's token lifetimes) and the
//! `identity_federations` table (the JWT issuers an identity trusts).

use crate::audit::{append, lock_head};
use crate::db::{Columns, Exec, args, fetch, fetch_optional};
use crate::identities::check_identity_in;
use crate::{AuditRecord, Result, StoreError};

/// A workspace's token lifetimes in seconds; `None`: no default / no maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettingsRow {
    pub workspace_id: String,
    pub default_token_ttl_seconds: Option<i64>,
    pub max_token_ttl_seconds: Option<i64>,
    pub updated_at: i64,
    pub updated_by: String,
}

const SETTINGS: &str = "workspace_id, default_token_ttl_seconds, max_token_ttl_seconds, updated_at, updated_by";

fn settings(r: &impl Columns) -> Result<TokenSettingsRow> {
    Ok(TokenSettingsRow {
        workspace_id: r.get("workspace_id")?,
        default_token_ttl_seconds: r.get("default_token_ttl_seconds")?,
        max_token_ttl_seconds: r.get("max_token_ttl_seconds")?,
        updated_at: r.get("updated_at")?,
        updated_by: r.get("updated_by")?,
    })
}

pub(crate) async fn token_settings(c: &mut dyn Exec, workspace_id: &str) -> Result<Option<TokenSettingsRow>> {
    let sql = format!("SELECT {SETTINGS} FROM workspace_token_settings WHERE workspace_id = $1");
    fetch_optional(c, &sql, args![workspace_id], settings).await
}

pub(crate) async fn set_token_settings(c: &mut dyn Exec, row: TokenSettingsRow, audit: AuditRecord) -> Result<()> {
    let head = lock_head(c, &row.workspace_id, &audit).await?;
    let sql = format!(
        "INSERT INTO workspace_token_settings ({SETTINGS}) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (workspace_id) DO UPDATE SET default_token_ttl_seconds = excluded.default_token_ttl_seconds, \
         max_token_ttl_seconds = excluded.max_token_ttl_seconds, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by"
    );
    c.execute(
        &sql,
        args![
            &row.workspace_id,
            row.default_token_ttl_seconds,
            row.max_token_ttl_seconds,
            row.updated_at,
            &row.updated_by
        ],
    )
    .await?;
    append(c, head, &audit).await?;
    Ok(())
}

/// One trust of an identity in a JWT issuer. `claims` is a JSON object (opaque to the store);
/// `static_keys` the issuer's public keys as given (JWKS or PEM), when not fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationRow {
    pub id: String,
    pub workspace_id: String,
    pub identity_id: String,
    pub issuer: String,
    pub audience: String,
    pub claims: String,
    pub ttl_seconds: Option<i64>,
    pub static_keys: Option<String>,
    pub created_at: i64,
    pub created_by: String,
}

const FEDERATION: &str =
    "id, workspace_id, identity_id, issuer, audience, claims, ttl_seconds, static_keys, created_at, created_by";

fn federation(r: &impl Columns) -> Result<FederationRow> {
    Ok(FederationRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        identity_id: r.get("identity_id")?,
        issuer: r.get("issuer")?,
        audience: r.get("audience")?,
        claims: r.get("claims")?,
        ttl_seconds: r.get("ttl_seconds")?,
        static_keys: r.get("static_keys")?,
        created_at: r.get("created_at")?,
        created_by: r.get("created_by")?,
    })
}

pub(crate) async fn insert_federation(c: &mut dyn Exec, row: FederationRow, audit: AuditRecord) -> Result<()> {
    let head = lock_head(c, &row.workspace_id, &audit).await?;
    check_identity_in(c, &row.workspace_id, &row.identity_id).await?;
    let sql =
        format!("INSERT INTO identity_federations ({FEDERATION}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    c.execute(
        &sql,
        args![
            &row.id,
            &row.workspace_id,
            &row.identity_id,
            &row.issuer,
            &row.audience,
            &row.claims,
            row.ttl_seconds,
            &row.static_keys,
            row.created_at,
            &row.created_by
        ],
    )
    .await?;
    append(c, head, &audit).await?;
    Ok(())
}

/// The identity's trusts, oldest first.
pub(crate) async fn list_federations(
    c: &mut dyn Exec,
    workspace_id: &str,
    identity_id: &str,
) -> Result<Vec<FederationRow>> {
    let sql = format!(
        "SELECT {FEDERATION} FROM identity_federations WHERE workspace_id = $1 AND identity_id = $2 \
         ORDER BY created_at, id"
    );
    fetch(c, &sql, args![workspace_id, identity_id], federation).await
}

pub(crate) async fn delete_federation(
    c: &mut dyn Exec,
    workspace_id: String,
    identity_id: String,
    id: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
    let deleted = c
        .execute(
            "DELETE FROM identity_federations WHERE id = $1 AND workspace_id = $2 AND identity_id = $3",
            args![&id, &workspace_id, &identity_id],
        )
        .await?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    append(c, head, &audit).await?;
    Ok(())
}
