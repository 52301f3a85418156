//! The `audit_events` table and each workspace's chain head (on its `workspaces` row).
//!
//! Each audited write first locks the workspace's chain head ([`lock_head`]), then makes its
//! change, then [`append`]s its event: taking the workspace lock first gives every PostgreSQL
//! transaction the same lock order.

mod chain;

use std::collections::BTreeMap;

use crate::db::{Arg, Columns, Exec, args, audit_error, fetch};
use crate::secrets::touch_secrets_used;
use crate::{Result, StoreError};

pub(crate) use chain::ChainKeyCell;
pub use chain::{AuditChainKey, GENESIS_HASH, chain_hash};

/// An audit event as the caller describes it. The store adds the sequence number and hashes.
/// It never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub workspace_id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    pub request_id: String,
    pub client_addr: String,
    /// A JSON object with extra facts (versions, roles, names); never a value.
    pub detail: String,
}

/// A stored audit event: the record, its place in the workspace's chain, and the chain hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEventRow {
    pub seq: i64,
    pub record: AuditRecord,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// Only events about this secret (by name): those whose target is `secret:NAME`, and those
    /// naming several secrets at once (an environment or template read, an action's use) whose
    /// detail's `secrets` object, of `NAME -> version`, holds it.
    pub secret: Option<String>,
    /// Only events with `seq` greater than this (for paging oldest first).
    pub after_seq: Option<i64>,
    /// Only events with `seq` less than this (for paging newest first).
    pub before_seq: Option<i64>,
    /// Newest first (highest `seq` first) instead of oldest first; `limit` then keeps the newest.
    pub newest_first: bool,
    pub limit: i64,
}

const AUDIT: &str =
    "workspace_id, seq, at, actor, action, target, outcome, request_id, client_addr, detail, prev_hash, hash";

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

/// A workspace's audit chain head, locked until the transaction ends.
pub(crate) struct Head {
    seq: i64,
    hash: Vec<u8>,
}

/// Locks the chain head of `workspace_id`, the workspace the change happens in, which must be
/// the one its audit record names. `NotFound` when there is no such workspace.
pub(crate) async fn lock_head(c: &mut dyn Exec, workspace_id: &str, audit: &AuditRecord) -> Result<Head> {
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
pub(crate) async fn append(c: &mut dyn Exec, mut head: Head, record: &AuditRecord) -> Result<i64> {
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
        .ok_or_else(|| {
            StoreError::Audit(
                "no audit chain key: events are appended only in a write transaction of an unsealed server".into(),
            )
        })?
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
    c.audit_event_appended();
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

/// Where a workspace's audit chain stands: the sequence number of its last event (0 before the
/// first), as recorded on its chain head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHeadRow {
    pub workspace_id: String,
    pub workspace_name: String,
    pub seq: i64,
}

pub(crate) async fn audit_heads(c: &mut dyn Exec) -> Result<Vec<AuditHeadRow>> {
    let sql = "SELECT id, name, audit_seq FROM workspaces ORDER BY id";
    fetch(c, sql, &[], |r| {
        Ok(AuditHeadRow {
            workspace_id: r.get("id")?,
            workspace_name: r.get("name")?,
            seq: r.get("audit_seq")?,
        })
    })
    .await
}
