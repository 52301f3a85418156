//! What a server checks before it serves a database: whether it is new (and so may be
//! bootstrapped), and whether each workspace's audit chain head matches its last event (a
//! mismatch means rows are missing, e.g. a SQLite file copied without its `-wal`).

use crate::Result;
use crate::db::{Columns, Exec, fetch};
use crate::meta::get_meta;
use crate::migrate::BOOTSTRAP_PENDING;

/// The state of a database as a starting server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupState {
    /// The database was created by a start that has not bootstrapped it yet: the only state in
    /// which a first workspace may be created unasked.
    pub bootstrap_pending: bool,
    pub workspaces: i64,
    /// Workspaces whose chain head does not match their last audit event.
    pub broken_chains: Vec<BrokenChain>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenChain {
    pub workspace: String,
    /// The sequence number the workspace's chain head records.
    pub head_seq: i64,
    /// The highest sequence number among its events (0 when it has none).
    pub last_event_seq: i64,
}

pub(crate) async fn startup_state(c: &mut dyn Exec) -> Result<StartupState> {
    let bootstrap_pending = get_meta(c, BOOTSTRAP_PENDING).await?.is_some();
    let heads = fetch(
        c,
        "SELECT w.name, w.audit_seq, w.audit_hash, \
           (SELECT e.seq FROM audit_events e WHERE e.workspace_id = w.id ORDER BY e.seq DESC LIMIT 1) AS last_seq, \
           (SELECT e.hash FROM audit_events e WHERE e.workspace_id = w.id ORDER BY e.seq DESC LIMIT 1) AS last_hash \
         FROM workspaces w ORDER BY w.name",
        &[],
        |r| {
            let head_seq: i64 = r.get("audit_seq")?;
            let head_hash: Option<Vec<u8>> = r.get("audit_hash")?;
            let last_seq: Option<i64> = r.get("last_seq")?;
            let last_hash: Option<Vec<u8>> = r.get("last_hash")?;
            let matches = match last_seq {
                None => head_seq == 0,
                Some(seq) => seq == head_seq && last_hash == head_hash,
            };
            Ok((
                r.get::<String>("name")?,
                (!matches).then_some((head_seq, last_seq.unwrap_or(0))),
            ))
        },
    )
    .await?;
    let workspaces = heads.len() as i64;
    let broken_chains = heads
        .into_iter()
        .filter_map(|(workspace, broken)| {
            broken.map(|(head_seq, last_event_seq)| BrokenChain {
                workspace,
                head_seq,
                last_event_seq,
            })
        })
        .collect();
    Ok(StartupState {
        bootstrap_pending,
        workspaces,
        broken_chains,
    })
}
