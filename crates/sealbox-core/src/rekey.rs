//! Rekey (offline, the server stopped): replace the root key by rewrapping only the keyring with
//! the new key. Fast whatever the number of secrets: the data keys are wrapped by the keyring,
//! not by the root key. The original root key is kept wrapped by the new one, because token
//! hashes and the audit chain are keyed by its subkeys.

use sealbox_crypto::{self as crypto, RootKey};
use sealbox_store::{Rekey, Store, StoreError};

use crate::{ROOT_KEY_CHECK, ROOT_KEY_ORIGIN, SEAL_CONFIG};

#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    #[error("the current root key given is not this database's: {0}")]
    WrongRootKey(crypto::CryptoError),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rewrapping failed: {0}")]
    Crypto(crypto::CryptoError),
}

/// Rewraps the keyring (and the original root key) from `current` to `new`, replaces the check
/// value and records the new key source (`seal_config`, kept under [`SEAL_CONFIG`]; `None` for a
/// root key file), in one transaction. Returns how many keyring versions were rewrapped. Refused,
/// changing nothing, while data keys are still wrapped by the root key itself (values written
/// before the keyring existed): a rotation moves them to the keyring first.
pub async fn rekey(
    store: &dyn Store,
    current: &RootKey,
    new: &RootKey,
    seal_config: Option<Vec<u8>>,
) -> Result<usize, RekeyError> {
    let check_key = format!("{ROOT_KEY_CHECK}:v{}", current.version());
    let check = store
        .get_meta(&check_key)
        .await?
        .ok_or_else(|| RekeyError::Refused("this database has no root key yet: start the server on it once".into()))?;
    current.verify_check_value(&check).map_err(RekeyError::WrongRootKey)?;
    if new.version() != current.version() {
        return Err(RekeyError::Refused(
            "the new root key must have the current key's version".into(),
        ));
    }
    if new.verify_check_value(&check).is_ok() && seal_config == store.get_meta(SEAL_CONFIG).await? {
        return Err(RekeyError::Refused("the new root key is the current one".into()));
    }
    let root_wrapped = store.root_wrapped_data_keys().await?;
    if root_wrapped > 0 {
        return Err(RekeyError::Refused(format!(
            "{root_wrapped} data keys are still wrapped by the root key itself (values written before the keyring \
             existed): run `sealbox operator rotate`, let it complete (`--status`), then rekey"
        )));
    }
    let rows = store.keyring().await?;
    if rows.is_empty() {
        return Err(RekeyError::Refused(
            "this database has no keyring yet: start the server on it once, then rekey".into(),
        ));
    }
    let mut keyring = Vec::with_capacity(rows.len());
    for row in rows {
        let version = u32::try_from(row.version)
            .map_err(|_| RekeyError::Refused(format!("keyring version {} is out of range", row.version)))?;
        let kek = crypto::unwrap_kek(current, version, &row.wrapped_kek).map_err(RekeyError::WrongRootKey)?;
        let rewrapped = crypto::wrap_kek(new, &kek).map_err(RekeyError::Crypto)?;
        keyring.push((row.version, row.wrapped_kek, rewrapped));
    }
    // The original root key: the current one unless the database was rekeyed before.
    let stored_origin = match store.get_meta(ROOT_KEY_ORIGIN).await? {
        Some(wrapped) => Some(crypto::unwrap_origin(current, &wrapped).map_err(RekeyError::WrongRootKey)?),
        None => None,
    };
    let origin = stored_origin.as_ref().unwrap_or(current);
    let versions = keyring.len();
    store
        .rekey(Rekey {
            keyring,
            check_key,
            check_value: new.check_value(),
            origin_key: ROOT_KEY_ORIGIN.into(),
            origin: crypto::wrap_origin(new, origin).map_err(RekeyError::Crypto)?,
            seal_key: SEAL_CONFIG.into(),
            seal_config,
        })
        .await?;
    Ok(versions)
}
