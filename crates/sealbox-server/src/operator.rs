//! `sealbox operator backup verify` and `sealbox operator restore`: what an operator does with a
//! backup file, offline, next to the database rather than through a running server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sealbox_crypto::RootKey;
use sealbox_store::{AuditChainKey, Backup, ChainCheck, Store};

/// Where a restore writes.
pub enum RestoreTarget {
    /// `DIR/sealbox.db`, as `sealbox server --data-dir DIR` opens it.
    DataDir(PathBuf),
    /// A `postgres://` URL.
    DatabaseUrl(String),
}

/// A checked backup and what it holds.
pub struct Checked {
    pub backup: Backup,
    pub chains: ChainCheck,
}

impl Checked {
    /// What the backup holds, for people: source, schema, time, root key, workspaces, rows.
    pub fn describe(&self) -> String {
        let h = &self.backup.header;
        let mut out = String::new();
        let _ = writeln!(out, "source:      {} (schema {})", h.source, h.schema);
        let _ = writeln!(out, "created at:  {} ms since the epoch", h.created_at);
        match &h.root_key {
            Some((version, _)) => {
                let _ = writeln!(
                    out,
                    "root key:    version {version} (the key of the database backed up)"
                );
            }
            None => {
                let _ = writeln!(out, "root key:    none recorded");
            }
        }
        let _ = writeln!(out, "workspaces:  {}", self.backup.workspaces().join(", "));
        for (table, rows) in self.backup.counts() {
            let _ = writeln!(out, "  {table:<16} {rows}");
        }
        let how = if self.chains.hashes_recomputed {
            "links and keyed hashes recomputed with the root key"
        } else {
            "sequence and links checked; give --root-key-file to recompute the keyed hashes too"
        };
        let _ = writeln!(out, "audit chain: {} events verified ({how})", self.chains.events);
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        let h = &self.backup.header;
        let counts: serde_json::Map<String, serde_json::Value> = self
            .backup
            .counts()
            .into_iter()
            .map(|(table, rows)| (table.to_owned(), rows.into()))
            .collect();
        serde_json::json!({
            "source": h.source,
            "schema": h.schema,
            "created_at": h.created_at,
            "root_key_version": h.root_key.as_ref().map(|(v, _)| v),
            "workspaces": self.backup.workspaces(),
            "rows": counts,
            "audit_events_verified": self.chains.events,
            "audit_hashes_recomputed": self.chains.hashes_recomputed,
        })
    }
}

/// Reads `file` and checks its structure, checksums and audit chains; with `root_key_file`, also
/// that it is the backup's root key and every event's keyed hash.
pub fn check(file: &Path, root_key_file: Option<&Path>) -> anyhow::Result<Checked> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let backup = Backup::parse(&bytes).with_context(|| format!("{} is refused", file.display()))?;
    let key = match root_key_file {
        Some(path) => Some(chain_key_for(&backup, path)?),
        None => None,
    };
    let chains = backup
        .check_chains(key.as_ref())
        .with_context(|| format!("{} is refused", file.display()))?;
    Ok(Checked { backup, chains })
}

/// The audit chain key of the root key in `path`, once it is known to be the backup's key.
fn chain_key_for(backup: &Backup, path: &Path) -> anyhow::Result<AuditChainKey> {
    let encoded = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some((version, check)) = &backup.header.root_key else {
        anyhow::bail!("the backup records no root key to check {} against", path.display());
    };
    let key = RootKey::from_encoded(*version, &encoded)
        .with_context(|| format!("{} does not hold a valid root key", path.display()))?;
    key.verify_check_value(check).map_err(|_| {
        anyhow::anyhow!(
            "{} is not the root key this backup needs (root key version {version} of the database backed up)",
            path.display()
        )
    })?;
    // The data keys are wrapped by the keyring: every version of it must open with this key, or
    // the restored values could not be read.
    for row in backup.keyring() {
        let unwraps = u32::try_from(row.version)
            .ok()
            .is_some_and(|version| sealbox_crypto::unwrap_kek(&key, version, &row.wrapped_kek).is_ok());
        if !unwraps {
            anyhow::bail!(
                "the backup's keyring version {} does not open with {}: it is not the root key this backup needs, \
                 or the backup was altered",
                row.version,
                path.display()
            );
        }
    }
    // After a rekey the chain is keyed by the original root key, kept wrapped by this one.
    match backup.meta(sealbox_core::ROOT_KEY_ORIGIN) {
        Some(wrapped) => {
            let origin = sealbox_crypto::unwrap_origin(&key, &wrapped).map_err(|_| {
                anyhow::anyhow!(
                    "the backup's original root key does not open with {}: it is not the root key this backup needs, \
                     or the backup was altered",
                    path.display()
                )
            })?;
            Ok(sealbox_core::audit_chain_key(&origin))
        }
        None => Ok(sealbox_core::audit_chain_key(&key)),
    }
}

/// Checks `file` (see [`check`]) and restores it into `target`, which must be empty: migrations
/// first, then every row in one transaction.
pub async fn restore(file: &Path, target: &RestoreTarget, root_key_file: Option<&Path>) -> anyhow::Result<Checked> {
    let checked = check(file, root_key_file)?;
    let store = open_target(target).await?;
    // Answered once committed.
    store
        .restore(checked.backup.clone())
        .await
        .context("the restore was refused; nothing was restored")?;
    Ok(checked)
}

/// The target's store, for an offline operation that appends no audit event (a restore writes the
/// stored hashes as they are; a rekey writes none), so the key it would seal events with is
/// never used.
async fn open_target(target: &RestoreTarget) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let unused = AuditChainKey::new([0; 32]);
    Ok(match target {
        RestoreTarget::DataDir(dir) => {
            std::sync::Arc::new(crate::boot::open_sqlite(dir, unused, Default::default()).await?)
        }
        RestoreTarget::DatabaseUrl(url) => {
            std::sync::Arc::new(crate::boot::open_postgres(url, unused, Default::default()).await?)
        }
    })
}

/// Replaces the root key of the (stopped) database `target`: `current_key_file` must hold its
/// key, `new_key_file` the new one (32 bytes, base64). Only the keyring is rewrapped, in one
/// transaction. Returns how many keyring versions were rewrapped.
pub async fn rekey(target: &RestoreTarget, current_key_file: &Path, new_key_file: &Path) -> anyhow::Result<usize> {
    let read_key = |path: &Path| {
        let encoded = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        RootKey::from_encoded(1, &encoded).with_context(|| format!("{} does not hold a valid root key", path.display()))
    };
    let (current, new) = (read_key(current_key_file)?, read_key(new_key_file)?);
    let store = open_target(target).await?;
    sealbox_core::rekey(&*store, &current, &new)
        .await
        .context("the rekey was refused; nothing was changed")
}
