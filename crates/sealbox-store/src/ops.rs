//! Every query of the store, written once for both databases.
//!
//! Write operations run inside a transaction opened by the backend and take owned arguments
//! (SQLite runs them on its writer thread). Each audited write first locks the workspace's audit
//! chain head ([`lock_head`]), then makes its change, then [`append`]s its event: taking the
//! workspace lock first gives every PostgreSQL transaction the same lock order.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::db::{Arg, Columns, Exec, Row, aliased, args, audit_error, duplicate_as};
use crate::{
    ActionRow, ActionUpdate, AuditEventRow, AuditFilter, AuditRecord, GENESIS_HASH, IdentityRow, MemberRow, PolicyRow,
    Result, SecretFilter, SecretRow, SecretUpdate, SecretVersionRow, StoreError, TokenRow, VersionMeta, WorkspaceRow,
    chain_hash,
};

const WORKSPACE: &str = "id, name, created_at";
const MEMBER: &str = "id, workspace_id, email, password_hash, role, created_at";
const TOKEN: &str = "id, workspace_id, kind, member_id, identity_id, name, hash, created_at, expires_at, revoked_at, \
    last_used_at, prefix";
const IDENTITY: &str = "id, workspace_id, name, tags, created_at, created_by";
const POLICY: &str =
    "id, workspace_id, name, identity_names, identity_tags, secret_tags, allow, created_at, created_by";
const ACTION: &str = "id, workspace_id, name, kind, spec, created_at, created_by, updated_at, updated_by";
const SECRET: &str = "id, workspace_id, name, secret_type, visibility, description, metadata, tags, details, \
    current_version, created_at, created_by, updated_at, updated_by, last_used_at, last_used_by, deleted_at, deleted_by";
const VERSION: &str = "secret_id, version, ciphertext, wrapped_dek, key_version, created_at, created_by";
const AUDIT: &str =
    "workspace_id, seq, at, actor, action, target, outcome, request_id, client_addr, detail, prev_hash, hash";

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

fn workspace(r: &impl Columns) -> Result<WorkspaceRow> {
    Ok(WorkspaceRow {
        id: r.get("id")?,
        name: r.get("name")?,
        created_at: r.get("created_at")?,
    })
}

fn member(r: &impl Columns) -> Result<MemberRow> {
    Ok(MemberRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        email: r.get("email")?,
        password_hash: r.get("password_hash")?,
        role: r.get("role")?,
        created_at: r.get("created_at")?,
    })
}

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

fn identity(r: &impl Columns) -> Result<IdentityRow> {
    Ok(IdentityRow {
        id: r.get("id")?,
        workspace_id: r.get("workspace_id")?,
        name: r.get("name")?,
        tags: r.get("tags")?,
        created_at: r.get("created_at")?,
        created_by: r.get("created_by")?,
    })
}

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

fn audit_event(r: &impl Columns) -> Result<AuditEventRow> {
    Ok(AuditEventRow {
        seq: r.get("seq")?,
        record: AuditRecord {
            workspace_id: r.get("workspace_id")?,
            at: r.get("at")?,
            actor: r.get("actor")?,
            action: r.get("action")?,
            target: r.get("target")?,
            outcome: r.get("outcome")?,
            request_id: r.get("request_id")?,
            client_addr: r.get("client_addr")?,
            detail: r.get("detail")?,
        },
        prev_hash: r.get("prev_hash")?,
        hash: r.get("hash")?,
    })
}

async fn fetch<T>(c: &mut dyn Exec, sql: &str, args: &[Arg<'_>], map: fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    c.fetch_all(sql, args).await?.iter().map(map).collect()
}

async fn fetch_optional<T>(
    c: &mut dyn Exec,
    sql: &str,
    args: &[Arg<'_>],
    map: fn(&Row) -> Result<T>,
) -> Result<Option<T>> {
    c.fetch_all(sql, args).await?.first().map(map).transpose()
}

// ---- audit chain ----

/// A workspace's audit chain head, locked until the transaction ends.
struct Head {
    seq: i64,
    hash: Vec<u8>,
}

/// Locks the chain head of `workspace_id`, the workspace the change happens in, which must be
/// the one its audit record names. `NotFound` when there is no such workspace.
async fn lock_head(c: &mut dyn Exec, workspace_id: &str, audit: &AuditRecord) -> Result<Head> {
    if audit.workspace_id != workspace_id {
        return Err(StoreError::Audit(
            "the audit record names another workspace than the change".into(),
        ));
    }
    let sql = format!(
        "SELECT audit_seq, audit_hash FROM workspaces WHERE id = $1{}",
        c.dialect().for_update()
    );
    let rows = c.fetch_all(&sql, args![workspace_id]).await.map_err(audit_error)?;
    let row = rows.first().ok_or(StoreError::NotFound)?;
    let seq: i64 = row.get("audit_seq")?;
    let hash: Option<Vec<u8>> = row.get("audit_hash")?;
    Ok(Head {
        seq,
        hash: hash.filter(|_| seq > 0).unwrap_or_else(|| GENESIS_HASH.to_vec()),
    })
}

/// Appends `record` after `head` and moves the head; returns the event's sequence number.
async fn append(c: &mut dyn Exec, mut head: Head, record: &AuditRecord) -> Result<i64> {
    let seq = insert_event(c, &mut head, record).await?;
    store_head(c, &record.workspace_id, &head).await?;
    Ok(seq)
}

/// Inserts `record` as the event after `head` and advances `head` to it (in memory only; see
/// [`store_head`]); returns the event's sequence number.
async fn insert_event(c: &mut dyn Exec, head: &mut Head, record: &AuditRecord) -> Result<i64> {
    let seq = head.seq + 1;
    let key = c
        .chain_key()
        .ok_or_else(|| StoreError::Audit("audit events are only appended in a write transaction".into()))?
        .clone();
    let hash = chain_hash(&key, &head.hash, seq, record);
    let r = record;
    let insert =
        format!("INSERT INTO audit_events ({AUDIT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
    c.execute(
        &insert,
        args![
            &r.workspace_id,
            seq,
            r.at,
            &r.actor,
            &r.action,
            &r.target,
            &r.outcome,
            &r.request_id,
            &r.client_addr,
            &r.detail,
            &head.hash,
            &hash
        ],
    )
    .await
    .map_err(audit_error)?;
    *head = Head { seq, hash };
    Ok(seq)
}

/// Records `head` as the chain head of `workspace_id`.
async fn store_head(c: &mut dyn Exec, workspace_id: &str, head: &Head) -> Result<()> {
    c.execute(
        "UPDATE workspaces SET audit_seq = $1, audit_hash = $2 WHERE id = $3",
        args![head.seq, &head.hash, workspace_id],
    )
    .await
    .map_err(audit_error)?;
    Ok(())
}

pub(crate) async fn append_read(
    c: &mut dyn Exec,
    audit: AuditRecord,
    used: Vec<String>,
    at: i64,
    by: String,
) -> Result<i64> {
    let seq = append_audit(c, audit).await?;
    if !used.is_empty() {
        touch_secrets_used(c, used, at, by).await?;
    }
    Ok(seq)
}

pub(crate) async fn append_audit(c: &mut dyn Exec, audit: AuditRecord) -> Result<i64> {
    let head = lock_head(c, &audit.workspace_id, &audit).await?;
    append(c, head, &audit).await
}

/// Appends `records` in order, all in the caller's transaction. The heads of the workspaces they
/// name are locked first, in workspace id order (one order for every transaction), and each is
/// stored once at the end.
pub(crate) async fn append_audits(c: &mut dyn Exec, records: Vec<AuditRecord>) -> Result<Vec<i64>> {
    let mut heads: BTreeMap<&str, Head> = BTreeMap::new();
    let mut first_of: BTreeMap<&str, &AuditRecord> = BTreeMap::new();
    for record in &records {
        first_of.entry(record.workspace_id.as_str()).or_insert(record);
    }
    for (workspace_id, record) in first_of {
        heads.insert(workspace_id, lock_head(c, workspace_id, record).await?);
    }
    let mut seqs = Vec::with_capacity(records.len());
    for record in &records {
        let head = heads
            .get_mut(record.workspace_id.as_str())
            .ok_or_else(|| StoreError::Audit("the workspace's chain head is not locked".into()))?;
        seqs.push(insert_event(c, head, record).await?);
    }
    for (workspace_id, head) in &heads {
        store_head(c, workspace_id, head).await?;
    }
    Ok(seqs)
}

pub(crate) async fn list_audit(
    c: &mut dyn Exec,
    workspace_id: &str,
    filter: &AuditFilter,
) -> Result<Vec<AuditEventRow>> {
    let f = filter;
    let conditions = [
        ("at >=", f.since.map(Arg::from)),
        ("at <", f.until.map(Arg::from)),
        ("actor =", f.actor.as_ref().map(Arg::from)),
        ("action =", f.action.as_ref().map(Arg::from)),
        ("target =", f.target.as_ref().map(Arg::from)),
        ("seq >", f.after_seq.map(Arg::from)),
        ("seq <", f.before_seq.map(Arg::from)),
    ];
    let secret_target = f.secret.as_ref().map(|name| format!("secret:{name}"));
    let mut sql = format!("SELECT {AUDIT} FROM audit_events WHERE workspace_id = $1");
    let mut params = vec![Arg::from(workspace_id)];
    for (condition, arg) in conditions {
        if let Some(arg) = arg {
            params.push(arg);
            sql.push_str(&format!(" AND {condition} ${}", params.len()));
        }
    }
    if let (Some(name), Some(as_target)) = (&f.secret, &secret_target) {
        params.push(as_target.into());
        params.push(name.into());
        let (as_target, as_key) = (params.len() - 1, params.len());
        sql.push_str(&format!(
            " AND (target = ${as_target} OR {})",
            c.dialect().audit_detail_names_secret(as_key)
        ));
    }
    sql.push_str(if f.newest_first {
        " ORDER BY seq DESC"
    } else {
        " ORDER BY seq"
    });
    if f.limit > 0 {
        params.push(f.limit.into());
        sql.push_str(&format!(" LIMIT ${}", params.len()));
    }
    fetch(c, &sql, &params, audit_event).await
}

// ---- sign-in attempts ----

pub(crate) async fn count_login_attempt(c: &mut dyn Exec, keys: Vec<String>, window_start: i64) -> Result<Vec<i64>> {
    let mut counts = Vec::with_capacity(keys.len());
    for key in &keys {
        // One statement per key: the row is created or incremented under its lock and the new
        // count read back, so concurrent attempts (SQLite's one writer; PostgreSQL's row lock)
        // each see their own number.
        let rows = c
            .fetch_all(
                "INSERT INTO login_attempts (limit_key, window_start, attempts) VALUES ($1, $2, 1) \
                 ON CONFLICT (limit_key, window_start) DO UPDATE SET attempts = login_attempts.attempts + 1 \
                 RETURNING attempts",
                args![key, window_start],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Database("counting a sign-in attempt returned no row".into()))?;
        counts.push(row.get("attempts")?);
    }
    Ok(counts)
}

pub(crate) async fn refund_login_attempt(c: &mut dyn Exec, keys: Vec<String>, window_start: i64) -> Result<()> {
    for key in &keys {
        c.execute(
            "UPDATE login_attempts SET attempts = attempts - 1 \
             WHERE limit_key = $1 AND window_start = $2 AND attempts > 0",
            args![key, window_start],
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn delete_login_attempts_before(c: &mut dyn Exec, before: i64) -> Result<u64> {
    Ok(
        c.execute("DELETE FROM login_attempts WHERE window_start < $1", args![before])
            .await?,
    )
}

pub(crate) async fn audit_head(c: &mut dyn Exec, workspace_id: &str) -> Result<Option<(i64, Vec<u8>)>> {
    let rows = c
        .fetch_all(
            "SELECT audit_seq, audit_hash FROM workspaces WHERE id = $1",
            args![workspace_id],
        )
        .await?;
    let Some(row) = rows.first() else { return Ok(None) };
    let seq: i64 = row.get("audit_seq")?;
    let hash: Option<Vec<u8>> = row.get("audit_hash")?;
    Ok(hash.filter(|_| seq > 0).map(|hash| (seq, hash)))
}

// ---- meta ----

pub(crate) async fn get_meta(c: &mut dyn Exec, key: &str) -> Result<Option<Vec<u8>>> {
    fetch_optional(c, "SELECT value FROM meta WHERE key = $1", args![key], |r| {
        r.get("value")
    })
    .await
}

pub(crate) async fn put_meta_if_absent(c: &mut dyn Exec, key: String, value: Vec<u8>) -> Result<bool> {
    let stored = c
        .execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            args![&key, &value],
        )
        .await?;
    Ok(stored == 1)
}

// ---- workspaces ----

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

// ---- members ----

async fn insert_member_row(c: &mut dyn Exec, m: &MemberRow) -> Result<()> {
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

pub(crate) async fn set_member_role(
    c: &mut dyn Exec,
    workspace_id: String,
    member_id: String,
    role: String,
    audit: AuditRecord,
) -> Result<()> {
    let head = lock_head(c, &workspace_id, &audit).await?;
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

// ---- identities ----

/// `NotFound` unless the identity is in the workspace.
async fn check_identity_in(c: &mut dyn Exec, workspace_id: &str, identity_id: &str) -> Result<()> {
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

// ---- policies ----

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

// ---- actions ----

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

// ---- tokens ----

async fn insert_token_row(c: &mut dyn Exec, t: &TokenRow) -> Result<()> {
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

pub(crate) async fn insert_token(c: &mut dyn Exec, token: TokenRow, audit: Option<AuditRecord>) -> Result<()> {
    let Some(audit) = audit else {
        return insert_token_row(c, &token).await;
    };
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

// ---- secrets ----

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
    let current: i64 = fetch_optional(
        c,
        "SELECT current_version FROM secrets WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        args![&u.secret_id, &u.workspace_id],
        |r| r.get("current_version"),
    )
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
    append(c, head, &audit).await?;
    Ok(())
}

pub(crate) async fn trashed_before(c: &mut dyn Exec, before: i64) -> Result<Vec<SecretRow>> {
    let sql = format!(
        "SELECT {SECRET} FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at < $1 ORDER BY deleted_at, id"
    );
    fetch(c, &sql, args![before], secret).await
}

/// One statement for any number of secrets: the ids travel as one JSON array.
pub(crate) async fn touch_secrets_used(c: &mut dyn Exec, secret_ids: Vec<String>, at: i64, by: String) -> Result<()> {
    let ids = serde_json::to_string(&secret_ids).map_err(|e| StoreError::Database(e.to_string()))?;
    let sql = format!(
        "UPDATE secrets SET last_used_at = $1, last_used_by = $2 WHERE id IN ({})",
        c.dialect().json_strings(3)
    );
    c.execute(&sql, args![at, &by, &ids]).await?;
    Ok(())
}
