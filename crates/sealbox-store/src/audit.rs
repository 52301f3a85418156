//! The `audit_events` table, each workspace's chain head (on its `workspaces` row), and the
//! events waiting to be sealed into it (`audit_pending`).
//!
//! Each audited write first takes the workspace's chain head ([`lock_head`]), then makes its
//! change, then [`append`]s its event. On SQLite that chains the event at once (one writer
//! serialises every write). On PostgreSQL, where a lock held until commit would serialise every
//! audited change of a workspace across connections and replicas, [`append`] inserts the event
//! into `audit_pending` with a keyed MAC, in the change's transaction (so an event that cannot
//! be written still refuses its change), and a chainer seals pending events into the chain
//! shortly after, oldest first ([`seal_pending`], run by `postgres.rs`).

mod chain;

use std::collections::BTreeMap;

use crate::db::{Arg, Columns, Dialect, Exec, args, audit_error, fetch};
use crate::secrets::touch_secrets_used;
use crate::{Result, StoreError};

pub(crate) use chain::ChainKeyCell;
pub use chain::{AuditChainKey, GENESIS_HASH, chain_hash, pending_mac};

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

/// Where an audited change puts its event: after the workspace's chain head, locked until the
/// transaction ends (SQLite, whose one writer serialises every write anyway), or, on PostgreSQL,
/// nowhere yet: the event waits in `audit_pending` for the chainer ([`seal_pending`]), so no
/// lock is held across the change's commit.
pub(crate) struct Head(Option<Link>);

/// The last event of a workspace's chain: its sequence number and hash.
struct Link {
    seq: i64,
    hash: Vec<u8>,
}

/// Locks the chain head of `workspace_id`, the workspace the change happens in, which must be
/// the one its audit record names (on PostgreSQL it only checks that). `NotFound` when there is
/// no such workspace (on PostgreSQL, the event's insert fails instead).
pub(crate) async fn lock_head(c: &mut dyn Exec, workspace_id: &str, audit: &AuditRecord) -> Result<Head> {
    if audit.workspace_id != workspace_id {
        return Err(StoreError::Audit(
            "the audit record names another workspace than the change".into(),
        ));
    }
    if c.dialect().defers_audit_chain() {
        return Ok(Head(None));
    }
    Ok(Head(Some(
        lock_link(c, workspace_id, Wait::Yes)
            .await?
            .ok_or(StoreError::NotFound)?,
    )))
}

/// Whether taking a chain head that another transaction holds waits for it (`No`: a chainer
/// whose peer on another replica is sealing that workspace leaves it to that peer).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    Yes,
    No,
}

/// Reads (and on PostgreSQL locks until the transaction ends) a workspace's chain head; `None`
/// when there is no such workspace, or, with `Wait::No`, when another transaction holds it.
async fn lock_link(c: &mut dyn Exec, workspace_id: &str, wait: Wait) -> Result<Option<Link>> {
    let skip = match (wait, c.dialect()) {
        (Wait::No, Dialect::Postgres) => " SKIP LOCKED",
        _ => "",
    };
    let sql = format!(
        "SELECT audit_seq, audit_hash FROM workspaces WHERE id = $1{}{skip}",
        c.dialect().for_update()
    );
    let rows = c.fetch_all(&sql, args![workspace_id]).await.map_err(audit_error)?;
    let Some(row) = rows.first() else { return Ok(None) };
    let seq: i64 = row.get("audit_seq")?;
    let hash: Option<Vec<u8>> = row.get("audit_hash")?;
    Ok(Some(Link {
        seq,
        hash: hash.filter(|_| seq > 0).unwrap_or_else(|| GENESIS_HASH.to_vec()),
    }))
}

/// Appends `record` after `head` and moves the head, or, deferred, inserts it as pending.
pub(crate) async fn append(c: &mut dyn Exec, head: Head, record: &AuditRecord) -> Result<()> {
    match head.0 {
        None => insert_pending(c, record).await,
        Some(mut link) => {
            insert_event(c, &mut link, record).await?;
            store_head(c, &record.workspace_id, &link).await
        }
    }
}

fn write_key(c: &dyn Exec) -> Result<AuditChainKey> {
    c.chain_key().cloned().ok_or_else(|| {
        StoreError::Audit(
            "no audit chain key: events are appended only in a write transaction of an unsealed server".into(),
        )
    })
}

/// Inserts `record` as the event after `link` and advances `link` to it (in memory only; see
/// [`store_head`]).
async fn insert_event(c: &mut dyn Exec, link: &mut Link, record: &AuditRecord) -> Result<()> {
    let seq = link.seq + 1;
    let key = write_key(c)?;
    let hash = chain_hash(&key, &link.hash, seq, record);
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
            &link.hash,
            &hash
        ],
    )
    .await
    .map_err(audit_error)?;
    c.audit_event_appended();
    *link = Link { seq, hash };
    Ok(())
}

/// Inserts `record` into `audit_pending` with its MAC, for the chainer to seal.
async fn insert_pending(c: &mut dyn Exec, record: &AuditRecord) -> Result<()> {
    let mac = pending_mac(&write_key(c)?, record);
    let r = record;
    let insert = format!("INSERT INTO audit_pending ({RECORD}, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    c.execute(
        &insert,
        args![
            &r.workspace_id,
            r.at,
            &r.actor,
            &r.action,
            &r.target,
            &r.outcome,
            &r.request_id,
            &r.client_addr,
            &r.detail,
            &mac
        ],
    )
    .await
    .map_err(audit_error)?;
    c.audit_event_appended();
    Ok(())
}

/// Records `link` as the chain head of `workspace_id`.
async fn store_head(c: &mut dyn Exec, workspace_id: &str, link: &Link) -> Result<()> {
    c.execute(
        "UPDATE workspaces SET audit_seq = $1, audit_hash = $2 WHERE id = $3",
        args![link.seq, &link.hash, workspace_id],
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
) -> Result<()> {
    append_audit(c, audit).await?;
    if !used.is_empty() {
        touch_secrets_used(c, used, at, by).await?;
    }
    Ok(())
}

/// Whether [`append_audit`] runs exactly one statement on this dialect (deferred: its insert
/// into `audit_pending`), so it needs no transaction around it.
pub(crate) fn one_statement_append(dialect: Dialect) -> bool {
    dialect.defers_audit_chain()
}

pub(crate) async fn append_audit(c: &mut dyn Exec, audit: AuditRecord) -> Result<()> {
    let head = lock_head(c, &audit.workspace_id, &audit).await?;
    append(c, head, &audit).await
}

/// Appends `records` in order, all in the caller's transaction. The heads of the workspaces they
/// name are locked first, in workspace id order (one order for every transaction), and each is
/// stored once at the end (deferred: each is inserted as pending, in order).
pub(crate) async fn append_audits(c: &mut dyn Exec, records: Vec<AuditRecord>) -> Result<()> {
    if c.dialect().defers_audit_chain() {
        let workspaces: std::collections::BTreeSet<&str> = records.iter().map(|r| r.workspace_id.as_str()).collect();
        for workspace_id in workspaces {
            let sql = "SELECT id FROM workspaces WHERE id = $1";
            if c.fetch_all(sql, args![workspace_id])
                .await
                .map_err(audit_error)?
                .is_empty()
            {
                return Err(StoreError::NotFound);
            }
        }
        for record in &records {
            insert_pending(c, record).await?;
        }
        return Ok(());
    }
    let mut links: BTreeMap<&str, Link> = BTreeMap::new();
    for record in &records {
        let workspace_id = record.workspace_id.as_str();
        if !links.contains_key(workspace_id) {
            links.insert(
                workspace_id,
                lock_link(c, workspace_id, Wait::Yes)
                    .await?
                    .ok_or(StoreError::NotFound)?,
            );
        }
    }
    for record in &records {
        let link = links
            .get_mut(record.workspace_id.as_str())
            .ok_or_else(|| StoreError::Audit("the workspace's chain head is not locked".into()))?;
        insert_event(c, link, record).await?;
    }
    for (workspace_id, link) in &links {
        store_head(c, workspace_id, link).await?;
    }
    Ok(())
}

/// An event waiting in `audit_pending` to be sealed into its workspace's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuditRow {
    /// Its place in the order events are sealed in (not its sequence number, which sealing gives).
    pub id: i64,
    pub record: AuditRecord,
    /// [`pending_mac`] of the record, as written.
    pub mac: Vec<u8>,
}

/// The columns of a record, in `audit_pending`.
const RECORD: &str = "workspace_id, at, actor, action, target, outcome, request_id, client_addr, detail";

fn pending_row(r: &impl Columns) -> Result<PendingAuditRow> {
    Ok(PendingAuditRow {
        id: r.get("id")?,
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
        mac: r.get("mac")?,
    })
}

/// The workspace's events not sealed yet, oldest first.
pub(crate) async fn list_pending(c: &mut dyn Exec, workspace_id: &str) -> Result<Vec<PendingAuditRow>> {
    let sql = format!("SELECT id, {RECORD}, mac FROM audit_pending WHERE workspace_id = $1 ORDER BY id");
    fetch(c, &sql, args![workspace_id], pending_row).await
}

/// Whether the workspace has events waiting to be sealed.
pub(crate) async fn has_pending(c: &mut dyn Exec, workspace_id: &str) -> Result<bool> {
    let rows = c
        .fetch_all(
            "SELECT 1 AS one FROM audit_pending WHERE workspace_id = $1 LIMIT 1",
            args![workspace_id],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// The workspaces with events waiting to be sealed.
pub(crate) async fn pending_workspaces(c: &mut dyn Exec) -> Result<Vec<String>> {
    fetch(
        c,
        "SELECT DISTINCT workspace_id FROM audit_pending ORDER BY workspace_id",
        &[],
        |r| r.get("workspace_id"),
    )
    .await
}

/// Seals the pending events of `workspace_id`, or of every workspace, a batch each (see
/// [`seal_pending`]), in the caller's transaction; returns whether more may be waiting. The
/// heads are locked in workspace id order, one order for every chainer.
pub(crate) async fn seal_some(
    c: &mut dyn Exec,
    key: &AuditChainKey,
    workspace_id: Option<&str>,
    wait: Wait,
) -> Result<bool> {
    let workspaces = match workspace_id {
        Some(id) => vec![id.to_owned()],
        None => pending_workspaces(c).await?,
    };
    let mut more = false;
    for id in &workspaces {
        more |= seal_pending(c, key, id, wait).await?.1;
    }
    Ok(more)
}

/// The most pending events one [`seal_pending`] seals.
pub(crate) const SEAL_BATCH: usize = 256;

/// Seals `workspace_id`'s pending events into its chain, oldest first, at most [`SEAL_BATCH`],
/// in the caller's transaction: locks the chain head (until the caller commits, which it does at
/// once; so a chainer on another replica waits its turn and then finds them gone), appends them
/// to `audit_events`, deletes them from `audit_pending` and moves the head. An event whose MAC
/// does not match is left where it is, logged, and reported by `sealbox audit verify`.
/// Returns how many it sealed and whether more may be waiting.
pub(crate) async fn seal_pending(
    c: &mut dyn Exec,
    key: &AuditChainKey,
    workspace_id: &str,
    wait: Wait,
) -> Result<(usize, bool)> {
    let Some(mut link) = lock_link(c, workspace_id, wait).await? else {
        return Ok((0, false));
    };
    let sql =
        format!("SELECT id, {RECORD}, mac FROM audit_pending WHERE workspace_id = $1 ORDER BY id LIMIT {SEAL_BATCH}");
    let pending = fetch(c, &sql, args![workspace_id], pending_row).await?;
    let more = pending.len() == SEAL_BATCH;
    let mut sealed: Vec<(i64, Vec<u8>, Vec<u8>, &AuditRecord)> = Vec::with_capacity(pending.len());
    let mut ids = Vec::with_capacity(pending.len());
    for event in &pending {
        if pending_mac(key, &event.record) != event.mac {
            tracing::error!(
                workspace_id,
                pending_id = event.id,
                "an unsealed audit event does not carry the MAC of this server's audit chain key: it was \
                 inserted or changed outside Sealbox (or the key is not the database's); it is left unsealed \
                 and `sealbox audit verify` reports it"
            );
            continue;
        }
        let seq = link.seq + 1;
        let hash = chain_hash(key, &link.hash, seq, &event.record);
        sealed.push((
            seq,
            std::mem::replace(&mut link.hash, hash.clone()),
            hash,
            &event.record,
        ));
        link.seq = seq;
        ids.push(event.id);
    }
    if sealed.is_empty() {
        return Ok((0, more));
    }
    let mut sql = format!("INSERT INTO audit_events ({AUDIT}) VALUES ");
    let mut params: Vec<Arg<'_>> = Vec::with_capacity(sealed.len() * 12);
    for (i, (seq, prev_hash, hash, r)) in sealed.iter().enumerate() {
        let n = i * 12;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&(1..=12).map(|k| format!("${}", n + k)).collect::<Vec<_>>().join(", "));
        sql.push(')');
        params.extend([
            Arg::from(&r.workspace_id),
            Arg::from(*seq),
            Arg::from(r.at),
            Arg::from(&r.actor),
            Arg::from(&r.action),
            Arg::from(&r.target),
            Arg::from(&r.outcome),
            Arg::from(&r.request_id),
            Arg::from(&r.client_addr),
            Arg::from(&r.detail),
            Arg::from(prev_hash),
            Arg::from(hash),
        ]);
    }
    c.execute(&sql, &params).await.map_err(audit_error)?;
    let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Audit(e.to_string()))?;
    let delete = format!("DELETE FROM audit_pending WHERE id IN ({})", c.dialect().json_ints(1));
    c.execute(&delete, args![&ids]).await.map_err(audit_error)?;
    store_head(c, workspace_id, &link).await?;
    Ok((sealed.len(), more))
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
