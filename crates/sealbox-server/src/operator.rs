//! `sealbox operator backup verify`, `restore` and `rekey`: what an operator does offline, next
//! to the database rather than through a running server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sealbox_crypto::passphrase::PassphraseKdf;
use sealbox_crypto::{ExposeSecret, RootKey, SecretString, shamir};
use sealbox_store::{AuditChainKey, Backup, ChainCheck, LockMode, ServerLock, Store};

use crate::seal::{KeySource, ROOT_KEY_VERSION, SealKind, SealRecord};

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
    let (store, _server_lock) = open_target(target).await?;
    // Answered once committed.
    store
        .restore(checked.backup.clone())
        .await
        .context("the restore was refused; nothing was restored")?;
    Ok(checked)
}

/// The target's store, for an offline operation that appends no audit event (a restore writes the
/// stored hashes as they are; a rekey writes none), so it is opened without the chain's key;
/// with the server lock held exclusively (refused while any server runs on the database).
async fn open_target(target: &RestoreTarget) -> anyhow::Result<(std::sync::Arc<dyn Store>, ServerLock)> {
    let running = || {
        anyhow::anyhow!(
            "a Sealbox server is running on this database: stop every server on it first (a server keeps the \
             keys it loaded); nothing was changed"
        )
    };
    Ok(match target {
        RestoreTarget::DataDir(dir) => {
            let store = crate::boot::open_sqlite(dir, None, Default::default()).await?;
            let lock = store.server_lock(LockMode::Exclusive)?.ok_or_else(running)?;
            (std::sync::Arc::new(store), lock)
        }
        RestoreTarget::DatabaseUrl(url) => {
            let store = crate::boot::open_postgres(url, None, Default::default()).await?;
            let lock = store.server_lock(LockMode::Exclusive).await?.ok_or_else(running)?;
            (std::sync::Arc::new(store), lock)
        }
    })
}

/// What a rekey starts from: the key of the database's current source.
pub enum CurrentKey {
    /// `--seal file`: the key file.
    File(PathBuf),
    /// `--seal passphrase`: the passphrase.
    Passphrase(SecretString),
    /// `--seal shamir`: at least the threshold of key shares.
    Shares(Vec<SecretString>),
    /// `--seal awskms|pkcs11`: the protector's settings (`seal`, `kms_*` or `pkcs11_*`).
    Protected(Box<crate::Config>),
}

/// The key source a rekey moves the database to.
pub enum NewSource {
    /// A root key file the operator made (32 random bytes, base64).
    File(PathBuf),
    /// A root key derived from a new passphrase.
    Passphrase(SecretString),
    /// A new random root key split into `shares`, of which `threshold` unseal.
    Shamir { shares: u8, threshold: u8 },
    /// A new random root key wrapped by AWS KMS or a PKCS#11 HSM (`seal`, `kms_*`, `pkcs11_*`).
    Protected(Box<crate::Config>),
}

/// What a rekey did.
pub struct Rekeyed {
    /// Keyring versions rewrapped.
    pub versions: usize,
    pub seal: SealKind,
    /// `NewSource::Shamir`: the new shares, to hand out once.
    pub shares: Vec<SecretString>,
}

/// Replaces the root key of the (stopped) database `target`, and moves it to another key source
/// if asked: `current` must give its key, `new` says where the new one comes from. Only the
/// keyring is rewrapped, in one transaction with the new source's record.
pub async fn rekey(target: &RestoreTarget, current: CurrentKey, new: NewSource) -> anyhow::Result<Rekeyed> {
    if let RestoreTarget::DataDir(dir) = target
        && !dir.join("sealbox.db").is_file()
    {
        anyhow::bail!(
            "{} holds no sealbox.db: give the data directory of the server to rekey",
            dir.display()
        );
    }
    let (store, _server_lock) = open_target(target).await?;
    let record = SealRecord::read(&*store).await?;
    let current = match current {
        CurrentKey::Protected(config) => protected_current_key(record.as_ref(), &config).await?,
        given => current_key(record.as_ref(), given)?,
    };
    let (new_key, new_record, seal, shares) = match new {
        NewSource::File(path) => (read_key_file(&path)?, None, SealKind::File, Vec::new()),
        NewSource::Passphrase(passphrase) => {
            if passphrase.expose_secret().chars().count() < crate::sealing::MIN_PASSPHRASE_CHARS {
                anyhow::bail!(
                    "the new passphrase is too short: use at least {} characters",
                    crate::sealing::MIN_PASSPHRASE_CHARS
                );
            }
            let kdf = PassphraseKdf::generate();
            let key = kdf.derive(ROOT_KEY_VERSION, &passphrase)?;
            let record = SealRecord::passphrase(&key, &kdf);
            (key, Some(record), SealKind::Passphrase, Vec::new())
        }
        NewSource::Shamir { shares, threshold } => {
            if !(2..=shares).contains(&threshold) {
                anyhow::bail!(
                    "--key-threshold must be at least 2 and at most --key-shares ({shares}); got {threshold}"
                );
            }
            let key = RootKey::generate(ROOT_KEY_VERSION);
            let split = shamir::split_root_key(&key, shares, threshold)?;
            let record = SealRecord::shamir(&key, shares, threshold);
            (
                key,
                Some(record),
                SealKind::Shamir,
                split.iter().map(shamir::Share::encode).collect(),
            )
        }
        NewSource::Protected(config) => {
            let source = KeySource::from_config(&config)?;
            let protector = source
                .protector()
                .ok_or_else(|| anyhow::anyhow!("--new-seal {}: not a key protector", config.seal))?;
            let key = RootKey::generate(ROOT_KEY_VERSION);
            let blob = protector
                .wrap(&key)
                .await
                .with_context(|| format!("cannot wrap the new root key with {}", protector.describe()))?;
            (key, Some(protector.record(&blob)), config.seal, Vec::new())
        }
    };
    let versions = sealbox_core::rekey(&*store, &current, &new_key, new_record.map(|r| r.to_bytes()))
        .await
        .context("the rekey was refused; nothing was changed")?;
    Ok(Rekeyed { versions, seal, shares })
}

/// The current root key from what the operator gave, checked against the database's source.
fn current_key(record: Option<&SealRecord>, given: CurrentKey) -> anyhow::Result<RootKey> {
    let sealed_with = record.map_or(SealKind::File, SealRecord::kind);
    let key = match (record, given) {
        (None, CurrentKey::File(path)) => return read_key_file(&path),
        (Some(SealRecord::Passphrase { kdf, .. }), CurrentKey::Passphrase(passphrase)) => {
            PassphraseKdf::from_encoded(kdf)?.derive(ROOT_KEY_VERSION, &passphrase)?
        }
        (Some(SealRecord::Shamir { threshold, .. }), CurrentKey::Shares(texts)) => {
            let mut collector = shamir::ShareCollector::new(*threshold)?;
            let mut combined = None;
            for text in texts {
                // EXPOSE: parsed into a share, which zeroises itself.
                let share = shamir::Share::from_encoded(text.expose_secret())?;
                if let shamir::Collected::Complete(secret) = collector.add(share)? {
                    combined = Some(secret);
                    break;
                }
            }
            let combined = combined.ok_or_else(|| {
                anyhow::anyhow!("give at least {threshold} key shares of this database (one per line)")
            })?;
            shamir::root_key_from_combined(ROOT_KEY_VERSION, &combined)?
        }
        _ => {
            let needs = match sealed_with {
                SealKind::File => "--root-key-file",
                SealKind::Passphrase => "--passphrase-file",
                SealKind::Shamir => "--share-file",
                SealKind::AwsKms => "--seal awskms and its --kms-* settings",
                SealKind::Pkcs11 => "--seal pkcs11 and its --pkcs11-* settings",
            };
            anyhow::bail!("this database is sealed with --seal {sealed_with}: give its current key with {needs}");
        }
    };
    if record.is_some_and(|r| !r.matches(&key)) {
        anyhow::bail!("the current key given is not this database's (--seal {sealed_with}); nothing was changed");
    }
    Ok(key)
}

/// The current root key of a database sealed by AWS KMS or an HSM, unwrapped with `config`'s.
async fn protected_current_key(record: Option<&SealRecord>, config: &crate::Config) -> anyhow::Result<RootKey> {
    let sealed_with = record.map_or(SealKind::File, SealRecord::kind);
    if sealed_with != config.seal {
        anyhow::bail!(
            "this database is sealed with --seal {sealed_with}, not --seal {}",
            config.seal
        );
    }
    let blob = record
        .and_then(SealRecord::wrapped_root_key)
        .ok_or_else(|| anyhow::anyhow!("the database's key source record holds no wrapped root key"))?;
    // The key the database names, unless another is given.
    let mut config = config.clone();
    match record {
        Some(SealRecord::Awskms { key_id, .. }) if config.kms_key_id.is_none() => {
            config.kms_key_id = Some(key_id.clone())
        }
        Some(SealRecord::Pkcs11 { key_label, .. }) if config.pkcs11_key_label.is_none() => {
            config.pkcs11_key_label = Some(key_label.clone());
        }
        _ => {}
    }
    let source = KeySource::from_config(&config)?;
    let protector = source
        .protector()
        .ok_or_else(|| anyhow::anyhow!("--seal {}: not a key protector", config.seal))?;
    protector
        .unwrap(&blob)
        .await
        .with_context(|| format!("cannot unwrap the current root key with {}", protector.describe()))
}

fn read_key_file(path: &Path) -> anyhow::Result<RootKey> {
    let encoded = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    RootKey::from_encoded(ROOT_KEY_VERSION, &encoded)
        .with_context(|| format!("{} does not hold a valid root key", path.display()))
}
