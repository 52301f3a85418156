//! `--audit-file PATH`: every committed audit event also as one JSON line in a file, for log
//! shippers (Filebeat, Vector, Fluent Bit ...) to follow into a SIEM.
//!
//! The database is the source of truth; the file is a copy that a follower task keeps complete.
//! Every [`POLL`] it reads each workspace's chain head ([`Store::audit_heads`]) and appends the
//! committed events the file does not hold yet, oldest first, read back from the database (so an
//! event appears only after it committed, and an operation never waits for the file). Events
//! committed by other replicas sharing a PostgreSQL database are picked up the same way: each
//! replica's file holds every event of every workspace.
//!
//! **Order.** Within a workspace, events appear in sequence order, 1, 2, 3 ... with no gap and
//! no repeat (a workspace's sequence numbers are assigned under its chain-head lock, so they
//! commit in order). There is no global order across workspaces: events of different workspaces
//! interleave in the order the follower picked them up.
//!
//! **Where it stopped.** The file itself says: on start (and whenever it was replaced, or after a
//! failed write) the follower reads it backwards until it has found the last line of every
//! workspace, and goes on after each. A torn last line (a write cut short by SIGKILL, a full disk)
//! is cut off first, then written again from the database. A file that is missing or empty gets
//! every event from the first: the file is a complete copy of the audit log, whose chain a SIEM
//! can verify from the genesis hash. A file whose last event of a workspace is not the database's
//! (a database restored to an earlier point) is not written to; the failure names it until the
//! operator moves the file away. Lines of workspaces the database does not have (another
//! database's file) are not checked: that database's events are appended after them.
//!
//! **Durability.** Each pass writes its lines with one `write` and then `fdatasync`s, so after a
//! crash the file holds whole lines up to some point, and the next start writes the rest.
//!
//! **Failures.** If the file cannot be opened or written (permissions, a full disk, a directory
//! at the path), the events stay in the database, the failure is logged (workspace id and
//! sequence numbers, never an event's contents) and counted in `sealbox_audit_file_write_failures_total`, and the
//! follower tries again, waiting longer each time up to [`MAX_RETRY`]; it catches up when it can.
//!
//! **The path.** Created with mode 0600. A symbolic link at the path is refused (`O_NOFOLLOW`),
//! so the file cannot be redirected to another place by whoever can write its directory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sealbox_metrics::Metrics;
use sealbox_store::{AuditEventRow, AuditFilter, AuditHeadRow, Store};
use tokio::sync::watch;

/// How often the follower looks for new events when it has caught up.
pub const POLL: Duration = Duration::from_millis(250);
/// The longest wait between attempts while the file cannot be written.
pub const MAX_RETRY: Duration = Duration::from_secs(30);
/// Events read from the database and written per pass (one batch), at most.
const BATCH: i64 = 500;
/// How much of the file is read at a time when looking backwards for where it stopped.
const CHUNK: u64 = 64 * 1024;

/// The running follower; [`AuditFileFollower::finish`] writes what committed last and stops it.
pub struct AuditFileFollower {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl AuditFileFollower {
    /// Starts following every workspace's audit log into `path`.
    /// Each failed open or write counts in `sealbox_audit_file_write_failures_total`.
    pub fn spawn(store: Arc<dyn Store>, metrics: Arc<Metrics>, path: PathBuf) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(follow(
            Follower {
                store,
                metrics,
                path,
                open: None,
            },
            stopped,
        ));
        Self { stop, task }
    }

    /// One last pass (the events committed before the server stopped), then the task ends.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn follow(mut follower: Follower, mut stopped: watch::Receiver<bool>) {
    let mut retry = POLL;
    let mut stopping = false;
    loop {
        let wait = match follower.pass().await {
            Ok(Progress::More) => continue,
            Ok(Progress::CaughtUp) => {
                retry = POLL;
                POLL
            }
            Err(()) => {
                retry = (retry * 2).min(MAX_RETRY);
                retry
            }
        };
        if stopping {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            // Stopping (or the handle is gone): one more pass for what committed meanwhile. A
            // stop sent during the pass above is seen here at once.
            _ = stopped.changed() => stopping = true,
        }
    }
}

enum Progress {
    /// More events wait in the database (a batch was full).
    More,
    CaughtUp,
}

struct Follower {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    path: PathBuf,
    open: Option<OpenFile>,
}

/// The file as this follower has it open, and what it holds.
struct OpenFile {
    file: File,
    /// The device and inode it was opened as: a different file at the path means it was moved or
    /// deleted, and the new one is read again for where it stands.
    id: (u64, u64),
    /// Per workspace id, the sequence number and hash of its last event in the file.
    last: BTreeMap<String, (i64, Vec<u8>)>,
}

/// A failure, logged and counted where it happens; the caller only waits and tries again.
type Failed = ();

impl Follower {
    async fn pass(&mut self) -> Result<Progress, Failed> {
        let heads = match self.store.audit_heads().await {
            Ok(heads) => heads,
            Err(e) => {
                tracing::warn!(error = %e, "audit file: cannot read the audit chain heads; trying again");
                return Err(());
            }
        };
        if !self.still_at_path() {
            self.open = None;
        }
        let mut open = match self.open.take() {
            Some(open) => open,
            None => self.reopen(&heads).await?,
        };
        let mut lines = Vec::new();
        let mut written = Vec::new();
        let mut progress = Progress::CaughtUp;
        let mut events_in_pass: i64 = 0;
        for head in &heads {
            let (after, prev_hash) = open
                .last
                .get(&head.workspace_id)
                .cloned()
                .unwrap_or((0, sealbox_store::GENESIS_HASH.to_vec()));
            if head.seq <= after {
                continue;
            }
            let limit = BATCH - events_in_pass;
            let filter = AuditFilter {
                after_seq: Some(after),
                limit,
                ..AuditFilter::default()
            };
            let events = match self.store.list_audit(&head.workspace_id, &filter).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(workspace_id = %head.workspace_id, error = %e, "audit file: cannot read audit events; trying again");
                    self.open = Some(open);
                    return Err(());
                }
            };
            let (mut seq, mut hash) = (after, prev_hash);
            for event in &events {
                if event.seq != seq + 1 || event.prev_hash != hash {
                    // The database's chain does not go on from the file's last line.
                    return self.fail(
                        &head.workspace_id,
                        event.seq,
                        "the database's chain does not continue the file's last event (run `sealbox audit verify`)",
                    );
                }
                lines.extend_from_slice(line(head, event).as_bytes());
                lines.push(b'\n');
                (seq, hash) = (event.seq, event.hash.clone());
            }
            if seq > after {
                written.push((head.workspace_id.clone(), after + 1, seq, hash));
                events_in_pass += events.len() as i64;
            }
            if events_in_pass >= BATCH {
                // One batch per pass whatever the number of workspaces; the rest follows at once.
                progress = Progress::More;
                break;
            }
        }
        if lines.is_empty() {
            self.open = Some(open);
            return Ok(progress);
        }
        let result = tokio::task::spawn_blocking(move || {
            let result = open.file.write_all(&lines).and_then(|()| open.file.sync_data());
            (open, result)
        })
        .await;
        match result {
            Ok((mut open, Ok(()))) => {
                for (workspace_id, _, seq, hash) in written {
                    open.last.insert(workspace_id, (seq, hash));
                }
                self.open = Some(open);
                Ok(progress)
            }
            Ok((_, Err(e))) => {
                // The file is read again before the next write, which cuts off a torn line.
                for (workspace_id, first, last, _) in &written {
                    tracing::error!(path = %self.path.display(), workspace_id = %workspace_id, first_seq = first, last_seq = last, error = %e, "audit file: cannot write events; they stay in the database and are written when the file can be");
                }
                self.metrics.audit_file_write_failed();
                Err(())
            }
            Err(e) => {
                tracing::error!(error = %e, "audit file: the write task failed");
                self.metrics.audit_file_write_failed();
                Err(())
            }
        }
    }

    /// Whether the file this follower has open is still the one at the path.
    fn still_at_path(&self) -> bool {
        let Some(open) = &self.open else { return true };
        std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == open.id)
    }

    /// Opens the file and finds where it stopped, checked against the database.
    async fn reopen(&self, heads: &[AuditHeadRow]) -> Result<OpenFile, Failed> {
        let path = self.path.clone();
        let wanted: Vec<String> = heads
            .iter()
            .filter(|h| h.seq > 0)
            .map(|h| h.workspace_id.clone())
            .collect();
        let opened = tokio::task::spawn_blocking(move || open_at_end(&path, &wanted)).await;
        let open = match opened {
            Ok(Ok(open)) => open,
            Ok(Err(e)) => {
                tracing::error!(path = %self.path.display(), error = %e, "audit file: cannot open it; the events stay in the database and are written when it can be");
                self.metrics.audit_file_write_failed();
                return Err(());
            }
            Err(e) => {
                tracing::error!(error = %e, "audit file: the open task failed");
                self.metrics.audit_file_write_failed();
                return Err(());
            }
        };
        for head in heads {
            let Some((seq, hash)) = open.last.get(&head.workspace_id) else {
                continue;
            };
            let filter = AuditFilter {
                after_seq: Some(seq - 1),
                limit: 1,
                ..AuditFilter::default()
            };
            let in_db = self
                .store
                .list_audit(&head.workspace_id, &filter)
                .await
                .map_err(|e| tracing::warn!(error = %e, "audit file: cannot read audit events; trying again"))?;
            if in_db
                .first()
                .is_none_or(|event| event.seq != *seq || &event.hash != hash)
            {
                return self.fail(
                    &head.workspace_id,
                    *seq,
                    "the file's last event of this workspace is not the database's: it belongs to another database, or the database was restored to an earlier point; move the file away",
                );
            }
        }
        Ok(open)
    }

    fn fail<T>(&self, workspace_id: &str, seq: i64, problem: &str) -> Result<T, Failed> {
        tracing::error!(
            workspace_id,
            seq,
            problem,
            "audit file: not written; the events stay in the database"
        );
        self.metrics.audit_file_write_failed();
        Err(())
    }
}

/// One event as a line: its workspace, place in the chain and hashes, and the event's fields
/// as `GET /v1/audit` shows them (never a value: audit events hold none).
fn line(head: &AuditHeadRow, event: &AuditEventRow) -> String {
    let r = &event.record;
    let detail: serde_json::Value =
        serde_json::from_str(&r.detail).unwrap_or_else(|_| serde_json::Value::Object(Default::default()));
    serde_json::json!({
        "workspace": head.workspace_name,
        "workspace_id": r.workspace_id,
        "seq": event.seq,
        "at": sealbox_core::clock::format_ms(r.at),
        "actor": r.actor,
        "action": r.action,
        "target": r.target,
        "outcome": r.outcome,
        "request_id": r.request_id,
        "client_addr": r.client_addr,
        "detail": detail,
        "prev_hash": hex::encode(&event.prev_hash),
        "hash": hex::encode(&event.hash),
    })
    .to_string()
}

/// What the follower reads back from a line.
#[derive(serde::Deserialize)]
struct Written {
    workspace_id: String,
    seq: i64,
    hash: String,
}

/// Opens (creating, 0600, never through a symbolic link) the file for appending, cuts off a
/// torn last line, and reads backwards until the last line of each of `wanted` is found.
fn open_at_end(path: &Path, wanted: &[String]) -> std::io::Result<OpenFile> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => std::io::Error::other("the path is a symbolic link; give the file's own path"),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("the path is not a regular file"));
    }
    let id = (meta.dev(), meta.ino());
    let end = end_of_last_line(&mut file, meta.len())?;
    if end < meta.len() {
        file.set_len(end)?;
        file.sync_data()?;
        tracing::warn!(path = %path.display(), bytes = meta.len() - end, "audit file: cut off a torn last line; its event is written again");
    }
    let mut last = BTreeMap::new();
    // Whole lines end at `pos`; `head` holds the start of the line that ends there, read so far.
    let mut head: Vec<u8> = Vec::new();
    let mut pos = end;
    while pos > 0 && !wanted.iter().all(|w| last.contains_key(w)) {
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = read_at(&mut file, start, pos)?;
        pos = start;
        chunk.extend_from_slice(&head);
        let mut lines: Vec<&[u8]> = chunk.split(|b| *b == b'\n').collect();
        // The first piece may continue in the chunk before, unless this is the file's start.
        head = if pos > 0 { lines.remove(0).to_vec() } else { Vec::new() };
        for text in lines.iter().rev().filter(|l| !l.is_empty()) {
            let event: Written = serde_json::from_slice(text).map_err(|_| {
                std::io::Error::other("the file holds a line that is not a sealbox audit event; move the file away")
            })?;
            let hash = hex::decode(&event.hash).map_err(|_| {
                std::io::Error::other("the file holds an audit event with a bad hash; move the file away")
            })?;
            last.entry(event.workspace_id).or_insert((event.seq, hash));
        }
    }
    Ok(OpenFile { file, id, last })
}

/// Where the file's last whole line ends (just after its newline); 0 when it has none.
fn end_of_last_line(file: &mut File, len: u64) -> std::io::Result<u64> {
    let mut pos = len;
    while pos > 0 {
        let start = pos.saturating_sub(CHUNK);
        let chunk = read_at(file, start, pos)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        pos = start;
    }
    Ok(0)
}

fn read_at(file: &mut File, start: u64, end: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0; (end - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn event_line(workspace_id: &str, seq: i64) -> String {
        format!(
            "{{\"workspace_id\":\"{workspace_id}\",\"seq\":{seq},\"hash\":\"{seq:04x}\",\"detail\":{{\"pad\":\"{}\"}}}}\n",
            "x".repeat(300)
        )
    }

    #[test]
    fn finds_each_workspaces_last_line_across_chunks_and_cuts_off_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut text = event_line("a", 1) + &event_line("b", 1) + &event_line("b", 2);
        // Enough of workspace c that a's and b's last lines lie several chunks back.
        for seq in 1..=600 {
            text += &event_line("c", seq);
        }
        let torn = "{\"workspace_id\":\"c\",\"seq\":601,".to_owned() + &"y".repeat(CHUNK as usize * 2);
        std::fs::write(&path, text.clone() + &torn).unwrap();

        let wanted = ["a", "b", "c"].map(String::from);
        let open = open_at_end(&path, &wanted).unwrap();
        let last: Vec<(&str, i64)> = open.last.iter().map(|(w, (seq, _))| (w.as_str(), *seq)).collect();
        assert_eq!(last, [("a", 1), ("b", 2), ("c", 600)]);
        assert_eq!(open.last["c"].1, [0x02, 0x58], "600 as the line wrote it");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "the torn line is gone");
    }

    #[test]
    fn an_empty_or_missing_file_starts_from_the_first_event_and_is_made_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let open = open_at_end(&path, &["a".to_owned()]).unwrap();
        assert!(open.last.is_empty());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Nothing but a torn line: cut to empty.
        std::fs::write(&path, "{\"workspace_id\":").unwrap();
        assert!(open_at_end(&path, &["a".to_owned()]).unwrap().last.is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn refuses_a_link_a_directory_and_a_file_that_is_not_an_audit_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.jsonl");
        std::fs::write(&real, "").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = open_at_end(&link, &[]).err().unwrap();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(open_at_end(dir.path(), &[]).is_err());
        std::fs::write(&real, "not an event\n").unwrap();
        let err = open_at_end(&real, &["a".to_owned()]).err().unwrap();
        assert!(err.to_string().contains("not a sealbox audit event"), "{err}");
    }
}
