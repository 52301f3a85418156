//! The keyring in memory: every KEK version of the `keyring` table, unwrapped with the root key
//! at start. New data keys are wrapped by the active KEK; a data key wrapped by a version this
//! process has not loaded (another replica rotated) reloads the keyring from the database, so
//! the new version is picked up on the next request without a restart. KEKs are zeroised on
//! drop; this type has no `Debug`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use sealbox_crypto::{self as crypto, Kek, RootKey};
use sealbox_store::{KEYRING_ACTIVE, KeyringRow, Store};

use crate::OpenError;
use crate::error::{CoreError, CoreResult};

pub(crate) struct Keyring {
    store: Arc<dyn Store>,
    root_key: Arc<RootKey>,
    loaded: RwLock<Loaded>,
    /// Held while reloading, so requests that miss the same version reload once.
    reloading: tokio::sync::Mutex<()>,
}

struct Loaded {
    keks: BTreeMap<u32, Arc<Kek>>,
    active: Arc<Kek>,
}

impl Keyring {
    /// Loads the keyring, creating its first version on a database that has none (a new one, or
    /// one made before the keyring existed: its data keys stay wrapped by the root key). Refused
    /// with `WrongRootKey` when a stored KEK does not unwrap with `root_key`.
    pub(crate) async fn open(store: Arc<dyn Store>, root_key: Arc<RootKey>, now: i64) -> Result<Keyring, OpenError> {
        if store.keyring().await?.is_empty() {
            let first = Kek::generate(1);
            let wrapped_kek = crypto::wrap_kek(&root_key, &first).map_err(OpenError::WrongRootKey)?;
            // `false` when another replica created it first: its version is read below.
            store
                .add_active_kek(KeyringRow {
                    version: 1,
                    wrapped_kek,
                    created_at: now,
                    state: KEYRING_ACTIVE.into(),
                })
                .await?;
        }
        let loaded = load(&*store, &root_key).await?;
        Ok(Keyring {
            store,
            root_key,
            loaded: RwLock::new(loaded),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The KEK new data keys are wrapped with.
    pub(crate) fn active(&self) -> Arc<Kek> {
        self.read(|l| l.active.clone())
    }

    /// The KEK of `version`, reloading the keyring once when this process has not loaded it.
    pub(crate) async fn kek(&self, version: u32) -> CoreResult<Arc<Kek>> {
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
    pub(crate) async fn reload(&self) -> CoreResult<()> {
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
