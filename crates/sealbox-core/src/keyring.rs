//! The keyring in memory: every KEK version of the `keyring` table, unwrapped with the root key
//! at start. New data keys are wrapped by the active KEK; a data key wrapped by a version this
//! process has not loaded (another replica rotated) reloads the keyring from the database, so
//! the new version is picked up on the next request without a restart. KEKs are zeroised on
//! drop; this type has no `Debug`.
//!
//! Rotation adds a KEK version, active at once; a background task of every process rewraps the
//! data keys not wrapped by the active version, in batches, until none is left. Its state is the
//! database's (the active version, each row's key version), so a process killed in the middle
//! leaves nothing half done and the next start carries on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use sealbox_crypto::{self as crypto, Aad, DekWrapper, Kek, RootKey, Sealed, WrappedBy};
use sealbox_store::{KEYRING_ACTIVE, KeyringRow, Rewrapped, Store, WrappedDekRow};
use sealbox_types::RotationStatus;

use crate::OpenError;
use crate::clock::Clock;
use crate::error::{CoreError, CoreResult};

/// Data keys rewrapped per write transaction.
pub(crate) const REWRAP_BATCH: i64 = 200;
/// How often each process looks for a rotation another one started (or left unfinished).
const CHECK_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Keyring {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    root_key: Arc<RootKey>,
    clock: Arc<dyn Clock>,
    loaded: RwLock<Loaded>,
    /// Held while reloading, so requests that miss the same version reload once.
    reloading: tokio::sync::Mutex<()>,
    /// Wakes the rewrapping task at once (after a rotation here).
    wake: tokio::sync::Notify,
    /// This process's rewrapping: for which version, since when, from how many done.
    progress: Mutex<Option<Progress>>,
    /// Set when the keyring is dropped (the server sealed or stopped): the rewrapping task stops
    /// after its current batch, and lets go of the keys.
    stopped: std::sync::atomic::AtomicBool,
}

struct Loaded {
    keks: BTreeMap<u32, Arc<Kek>>,
    active: Arc<Kek>,
}

#[derive(Clone, Copy)]
struct Progress {
    version: u32,
    started_ms: i64,
    rewrapped: u64,
}

impl Drop for Keyring {
    /// Stops the rewrapping task now rather than after its pause, so no key outlives the keyring
    /// by more than one batch.
    fn drop(&mut self) {
        self.inner.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.wake.notify_one();
    }
}

impl Keyring {
    /// Loads the keyring, creating its first version on a database that has none (a new one, or
    /// one made before the keyring existed: its data keys stay wrapped by the root key). Refused
    /// with `WrongRootKey` when a stored KEK does not unwrap with `root_key`. Starts the
    /// rewrapping task, which ends when the keyring is dropped.
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        root_key: Arc<RootKey>,
        clock: Arc<dyn Clock>,
    ) -> Result<Keyring, OpenError> {
        if store.keyring().await?.is_empty() {
            let first = Kek::generate(1);
            let wrapped_kek = crypto::wrap_kek(&root_key, &first).map_err(OpenError::WrongRootKey)?;
            // `false` when another replica created it first: its version is read below.
            store
                .add_active_kek(KeyringRow {
                    version: 1,
                    wrapped_kek,
                    created_at: clock.now_ms(),
                    state: KEYRING_ACTIVE.into(),
                })
                .await?;
        }
        let loaded = load(&*store, &root_key).await?;
        let inner = Arc::new(Inner {
            store,
            root_key,
            clock,
            loaded: RwLock::new(loaded),
            reloading: tokio::sync::Mutex::new(()),
            wake: tokio::sync::Notify::new(),
            progress: Mutex::new(None),
            stopped: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(rewrap_forever(Arc::downgrade(&inner)));
        Ok(Keyring { inner })
    }

    /// The KEK new data keys are wrapped with.
    pub(crate) fn active(&self) -> Arc<Kek> {
        self.inner.active()
    }

    /// The KEK of `version`, reloading the keyring once when this process has not loaded it.
    pub(crate) async fn kek(&self, version: u32) -> CoreResult<Arc<Kek>> {
        self.inner.kek(version).await
    }

    /// Adds a KEK version, active at once here (other processes load it on their next read of a
    /// key it wraps, or within seconds), and wakes the rewrapping. Returns the new version.
    pub(crate) async fn rotate(&self) -> CoreResult<u32> {
        let inner = &self.inner;
        loop {
            inner.reload().await?;
            let next = inner.read(|l| l.keks.keys().next_back().copied().unwrap_or(0)) + 1;
            let kek = Kek::generate(next);
            let wrapped_kek = crypto::wrap_kek(&inner.root_key, &kek).map_err(CoreError::internal)?;
            let row = KeyringRow {
                version: i64::from(next),
                wrapped_kek,
                created_at: inner.clock.now_ms(),
                state: KEYRING_ACTIVE.into(),
            };
            // `false`: another process added this version at the same moment; take the next.
            if inner.store.add_active_kek(row).await? {
                inner.reload().await?;
                inner.wake.notify_one();
                return Ok(next);
            }
        }
    }

    /// The active version and the data keys' progress towards it.
    pub(crate) async fn status(&self) -> CoreResult<RotationStatus> {
        self.inner.status().await
    }
}

impl Inner {
    fn active(&self) -> Arc<Kek> {
        self.read(|l| l.active.clone())
    }

    async fn kek(&self, version: u32) -> CoreResult<Arc<Kek>> {
        if let Some(kek) = self.read(|l| l.keks.get(&version).cloned()) {
            return Ok(kek);
        }
        let _reloading = self.reloading.lock().await;
        if let Some(kek) = self.read(|l| l.keks.get(&version).cloned()) {
            return Ok(kek);
        }
        self.reload().await?;
        self.read(|l| l.keks.get(&version).cloned())
            .ok_or_else(|| CoreError::internal(format!("the keyring has no version {version}")))
    }

    /// Reads the keyring from the database again (another replica may have rotated).
    async fn reload(&self) -> CoreResult<()> {
        let loaded = load(&*self.store, &self.root_key)
            .await
            .map_err(|e| CoreError::internal(format!("reloading the keyring failed: {e}")))?;
        match self.loaded.write() {
            Ok(mut guard) => *guard = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&Loaded) -> T) -> T {
        match self.loaded.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Option<Progress>> {
        self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn status(&self) -> CoreResult<RotationStatus> {
        let version = self.active().version();
        let counts = self.store.key_version_counts(i64::from(version)).await?;
        let remaining = counts.total.saturating_sub(counts.at_version);
        let progress = *self.progress();
        let rate_per_second = match progress {
            Some(p) if p.version == version && p.rewrapped > 0 => {
                let seconds = (self.clock.now_ms() - p.started_ms).max(1) as f64 / 1000.0;
                p.rewrapped as f64 / seconds
            }
            _ => 0.0,
        };
        let eta_seconds =
            (remaining > 0 && rate_per_second > 0.0).then(|| (remaining as f64 / rate_per_second).ceil() as u64);
        Ok(RotationStatus {
            active_version: version,
            total: counts.total,
            done: counts.at_version,
            remaining,
            rate_per_second,
            eta_seconds,
        })
    }

    /// One batch: read up to [`REWRAP_BATCH`] data keys not under the active version, rewrap
    /// each from whatever wraps it now, store them in one transaction.
    async fn rewrap_batch(&self) -> CoreResult<u64> {
        // Each batch targets the newest active version, even one another process just added.
        self.reload().await?;
        let target = self.active();
        let rows = self
            .store
            .wrapped_deks_below(i64::from(target.version()), REWRAP_BATCH)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            batch.push(self.rewrap(&target, row).await?);
        }
        let stored = self.store.store_rewrapped(batch).await?;
        let now = self.clock.now_ms();
        let mut progress = self.progress();
        match progress.as_mut() {
            Some(p) if p.version == target.version() => p.rewrapped += stored,
            _ => {
                *progress = Some(Progress {
                    version: target.version(),
                    started_ms: now,
                    rewrapped: stored,
                })
            }
        }
        Ok(stored.max(1))
    }

    async fn rewrap(&self, target: &Kek, row: WrappedDekRow) -> CoreResult<Rewrapped> {
        let sealed = Sealed {
            ciphertext: row.ciphertext,
            wrapped_dek: row.wrapped_dek,
            key_version: u32::try_from(row.key_version).unwrap_or(u32::MAX),
        };
        let aad = Aad {
            workspace_id: &row.workspace_id,
            secret_id: &row.secret_id,
            version: row.version.max(0) as u64,
        };
        let unreadable = || {
            CoreError::internal(format!(
                "cannot rewrap the data key of secret id {} version {}",
                row.secret_id, row.version
            ))
        };
        let rewrapped = match crypto::wrapped_by(&sealed) {
            Some(WrappedBy::RootKey) => crypto::rewrap_to_kek(DekWrapper::Root(&self.root_key), target, &aad, &sealed),
            Some(WrappedBy::Kek(version)) => {
                let from = self.kek(version).await?;
                crypto::rewrap_to_kek(DekWrapper::Kek(&from), target, &aad, &sealed)
            }
            None => return Err(unreadable()),
        }
        .map_err(|_| unreadable())?;
        Ok(Rewrapped {
            secret_id: row.secret_id.clone(),
            version: row.version,
            old_wrapped_dek: sealed.wrapped_dek,
            wrapped_dek: rewrapped.wrapped_dek,
            key_version: i64::from(rewrapped.key_version),
        })
    }

    /// Rewraps batches until none is left under an older version, or the keyring is dropped.
    async fn rewrap_all(&self) -> CoreResult<()> {
        while !self.is_stopped() && self.rewrap_batch().await? > 0 {}
        Ok(())
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The rewrapping task: at start, when woken, and every few seconds, reload the keyring (another
/// process may have rotated) and rewrap whatever is not under the active version. Ends when the
/// keyring is dropped.
async fn rewrap_forever(inner: Weak<Inner>) {
    loop {
        let Some(keyring) = inner.upgrade() else { return };
        if keyring.is_stopped() {
            return;
        }
        if let Err(e) = keyring.rewrap_all().await {
            tracing::warn!(error = %e, "key rotation: rewrapping data keys failed; retrying");
        }
        drop(tokio::time::timeout(CHECK_EVERY, keyring.wake.notified()).await);
        drop(keyring);
    }
}

/// Every stored KEK unwrapped; the active one is the row marked active (the newest if, oddly,
/// none is).
async fn load(store: &dyn Store, root_key: &RootKey) -> Result<Loaded, OpenError> {
    let rows = store.keyring().await?;
    let mut keks = BTreeMap::new();
    let mut active = None;
    for row in &rows {
        let version = u32::try_from(row.version)
            .map_err(|_| OpenError::Keyring(format!("keyring version {} is out of range", row.version)))?;
        let kek = Arc::new(crypto::unwrap_kek(root_key, version, &row.wrapped_kek).map_err(OpenError::WrongRootKey)?);
        if row.state == KEYRING_ACTIVE {
            active = Some(kek.clone());
        }
        keks.insert(version, kek);
    }
    let active = active
        .or_else(|| keks.values().next_back().cloned())
        .ok_or_else(|| OpenError::Keyring("the keyring is empty".into()))?;
    Ok(Loaded { keks, active })
}
