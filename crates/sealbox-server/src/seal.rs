//! Key sources (`--seal`): where the root key comes from.
//!
//! A source either hands the key over by itself (`file`; AWS KMS and PKCS#11 wrap it) or needs a
//! person to unseal the server (`passphrase`, `shamir`). The database keeps the source's record
//! under `sealbox_core::SEAL_CONFIG` ([`SealRecord`]: which source, and what it needs to give
//! the key back: a salt, a threshold, a wrapped key; never the key), so a server started with
//! another source than its database was sealed with is refused with both named.

use std::path::PathBuf;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sealbox_crypto::passphrase::PassphraseKdf;
use sealbox_crypto::{RootKey, SecretString};
use sealbox_seal::{AwsKms, AwsKmsConfig, Pkcs11, Pkcs11Config, ProtectorError};
use sealbox_store::Store;
use serde::{Deserialize, Serialize};

use crate::Config;

/// The variable holding the root key itself (base64); it takes precedence over any key file.
pub(crate) const ROOT_KEY_ENV: &str = "SEALBOX_ROOT_KEY";

/// The version every root key has (rekey replaces the key, not its version).
pub(crate) const ROOT_KEY_VERSION: u32 = 1;

/// The key sources `--seal` accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SealKind {
    /// The root key file in the data directory (created on first start), or `SEALBOX_ROOT_KEY`.
    #[default]
    File,
    /// Derived with Argon2id from a passphrase typed at `sealbox operator unseal`.
    Passphrase,
    /// Split into shares by `sealbox operator init`; a threshold of them unseals.
    Shamir,
    /// Random, wrapped by an AWS KMS key; the server unseals itself at start.
    AwsKms,
    /// Random, wrapped inside a PKCS#11 HSM; the server unseals itself at start.
    Pkcs11,
}

impl SealKind {
    /// Every value of `--seal`, as written on the command line.
    pub const NAMES: &[&str] = &["file", "passphrase", "shamir", "awskms", "pkcs11"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Passphrase => "passphrase",
            Self::Shamir => "shamir",
            Self::AwsKms => "awskms",
            Self::Pkcs11 => "pkcs11",
        }
    }

    /// A person unseals the server (after `sealbox operator init` on a new database).
    pub fn needs_person(self) -> bool {
        matches!(self, Self::Passphrase | Self::Shamir)
    }
}

impl std::fmt::Display for SealKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SealKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "file" => Ok(Self::File),
            "passphrase" => Ok(Self::Passphrase),
            "shamir" => Ok(Self::Shamir),
            "awskms" => Ok(Self::AwsKms),
            "pkcs11" => Ok(Self::Pkcs11),
            other => Err(format!("--seal {other:?}: expected one of {}", Self::NAMES.join(", "))),
        }
    }
}

/// What the database keeps of its key source. No variant holds the root key; `check` is the
/// key's check value, so a wrong passphrase or a wrong set of shares is caught before the key is
/// used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum SealRecord {
    Passphrase {
        /// [`PassphraseKdf::encode`]: the salt and Argon2id parameters.
        kdf: String,
        check: String,
    },
    Shamir {
        shares: u8,
        threshold: u8,
        check: String,
    },
    /// The root key as AWS KMS encrypted it (base64), and the key that did.
    Awskms {
        key_id: String,
        wrapped_root_key: String,
    },
    /// The root key as the HSM encrypted it (base64), and the key's label.
    Pkcs11 {
        key_label: String,
        wrapped_root_key: String,
    },
}

impl SealRecord {
    pub(crate) fn kind(&self) -> SealKind {
        match self {
            Self::Passphrase { .. } => SealKind::Passphrase,
            Self::Shamir { .. } => SealKind::Shamir,
            Self::Awskms { .. } => SealKind::AwsKms,
            Self::Pkcs11 { .. } => SealKind::Pkcs11,
        }
    }

    /// The record of a Shamir source for `key`.
    pub(crate) fn shamir(key: &RootKey, shares: u8, threshold: u8) -> Self {
        Self::Shamir {
            shares,
            threshold,
            check: STANDARD.encode(key.check_value()),
        }
    }

    /// The record of a passphrase source whose key `kdf` derived.
    pub(crate) fn passphrase(key: &RootKey, kdf: &PassphraseKdf) -> Self {
        Self::Passphrase {
            kdf: kdf.encode(),
            check: STANDARD.encode(key.check_value()),
        }
    }

    /// Whether `key` is the one this record was made for. A wrapped key needs no check value:
    /// its protector authenticates it (and the database's check value is verified at open).
    pub(crate) fn matches(&self, key: &RootKey) -> bool {
        match self {
            Self::Passphrase { check, .. } | Self::Shamir { check, .. } => STANDARD
                .decode(check)
                .is_ok_and(|check: Vec<u8>| key.verify_check_value(&check).is_ok()),
            Self::Awskms { .. } | Self::Pkcs11 { .. } => true,
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The database's record; `None` for a root key file (or a new database).
    pub(crate) async fn read(store: &dyn Store) -> anyhow::Result<Option<SealRecord>> {
        let Some(bytes) = store
            .get_meta(sealbox_core::SEAL_CONFIG)
            .await
            .context("cannot read the key source's record")?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .context("the database's key source record is not readable (written by a newer Sealbox?)")
    }
}

/// Checks that `kind` (`--seal`) is the source the database was sealed with: `record` is its
/// record, `has_key` whether it holds a root key's check value at all. A mismatch names both and
/// the way to move (`sealbox operator rekey`).
pub(crate) fn check_kind(kind: SealKind, record: Option<&SealRecord>, has_key: bool) -> anyhow::Result<()> {
    let database = match record {
        Some(record) => record.kind(),
        None if has_key => SealKind::File,
        // A new database takes the source it is started with.
        None => return Ok(()),
    };
    if database != kind {
        anyhow::bail!(
            "this database is sealed with --seal {database}, but the server was started with --seal {kind}: \
             start it with --seal {database}, or move it to another key source with `sealbox operator rekey` \
             (the server stopped)"
        );
    }
    Ok(())
}

/// One configured key source.
pub(crate) enum KeySource {
    /// `SEALBOX_ROOT_KEY` when set, else the file at `path`.
    File {
        path: PathBuf,
    },
    Passphrase,
    Shamir,
    AwsKms(Box<AwsKms>),
    Pkcs11(Box<Pkcs11>),
}

/// A key protector: an outside service that wraps and unwraps the root key.
pub(crate) enum Protector<'a> {
    AwsKms(&'a AwsKms),
    Pkcs11(&'a Pkcs11),
}

impl KeySource {
    /// The source `config` names, with its settings checked (a PKCS#11 library is loaded here).
    pub(crate) fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(match config.seal {
            SealKind::File => Self::File {
                path: root_key_path(config),
            },
            SealKind::Passphrase => Self::Passphrase,
            SealKind::Shamir => Self::Shamir,
            SealKind::AwsKms => {
                let key_id = config
                    .kms_key_id
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("--seal awskms: give --kms-key-id (a key id, ARN or alias/NAME)"))?;
                let kms = AwsKms::new(AwsKmsConfig {
                    key_id,
                    endpoint: config.kms_endpoint.clone(),
                    region: config.kms_region.clone(),
                })
                .context("--seal awskms")?;
                Self::AwsKms(Box::new(kms))
            }
            SealKind::Pkcs11 => {
                let missing = |flag: &str| anyhow::anyhow!("--seal pkcs11: give {flag}");
                let lib = config.pkcs11_lib.clone().ok_or_else(|| missing("--pkcs11-lib PATH"))?;
                let slot = config.pkcs11_slot.ok_or_else(|| missing("--pkcs11-slot N"))?;
                let key_label = config
                    .pkcs11_key_label
                    .clone()
                    .ok_or_else(|| missing("--pkcs11-key-label LABEL"))?;
                let pin = pkcs11_pin(config)?;
                let hsm = Pkcs11::new(Pkcs11Config {
                    lib,
                    slot,
                    key_label,
                    pin,
                })
                .context("--seal pkcs11")?;
                Self::Pkcs11(Box::new(hsm))
            }
        })
    }

    pub(crate) fn kind(&self) -> SealKind {
        match self {
            Self::File { .. } => SealKind::File,
            Self::Passphrase => SealKind::Passphrase,
            Self::Shamir => SealKind::Shamir,
            Self::AwsKms(_) => SealKind::AwsKms,
            Self::Pkcs11(_) => SealKind::Pkcs11,
        }
    }

    pub(crate) fn protector(&self) -> Option<Protector<'_>> {
        match self {
            Self::AwsKms(kms) => Some(Protector::AwsKms(kms)),
            Self::Pkcs11(hsm) => Some(Protector::Pkcs11(hsm)),
            _ => None,
        }
    }
}

/// The user PIN of `--seal pkcs11`: `SEALBOX_PKCS11_PIN`, else `--pkcs11-pin-file`.
fn pkcs11_pin(config: &Config) -> anyhow::Result<SecretString> {
    if let Ok(pin) = std::env::var(PKCS11_PIN_ENV) {
        return Ok(SecretString::from(pin));
    }
    let path = config.pkcs11_pin_file.as_ref().ok_or_else(|| {
        anyhow::anyhow!("--seal pkcs11: give the user PIN in {PKCS11_PIN_ENV} or a file named by --pkcs11-pin-file")
    })?;
    let pin =
        std::fs::read_to_string(path).with_context(|| format!("cannot read --pkcs11-pin-file {}", path.display()))?;
    Ok(SecretString::from(pin.trim_end_matches(['\n', '\r']).to_owned()))
}

/// The variable holding the PKCS#11 user PIN.
pub(crate) const PKCS11_PIN_ENV: &str = "SEALBOX_PKCS11_PIN";

impl Protector<'_> {
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::AwsKms(kms) => kms.describe(),
            Self::Pkcs11(hsm) => hsm.describe(),
        }
    }

    pub(crate) async fn wrap(&self, key: &RootKey) -> Result<Vec<u8>, ProtectorError> {
        match self {
            Self::AwsKms(kms) => kms.wrap(key.expose_bytes()).await,
            Self::Pkcs11(hsm) => hsm.wrap(key.expose_bytes()).await,
        }
    }

    pub(crate) async fn unwrap(&self, blob: &[u8]) -> Result<RootKey, ProtectorError> {
        let bytes = match self {
            Self::AwsKms(kms) => kms.unwrap(blob).await?,
            Self::Pkcs11(hsm) => hsm.unwrap(blob).await?,
        };
        RootKey::from_bytes(ROOT_KEY_VERSION, &bytes)
            .map_err(|_| ProtectorError::Refused("the key it gave back is not a root key".into()))
    }

    /// The record of the root key wrapped into `blob`.
    pub(crate) fn record(&self, blob: &[u8]) -> SealRecord {
        match self {
            Self::AwsKms(kms) => SealRecord::Awskms {
                key_id: kms.key_id().to_owned(),
                wrapped_root_key: STANDARD.encode(blob),
            },
            Self::Pkcs11(hsm) => SealRecord::Pkcs11 {
                key_label: hsm.key_label().to_owned(),
                wrapped_root_key: STANDARD.encode(blob),
            },
        }
    }
}

impl SealRecord {
    /// The wrapped root key of a protected source.
    pub(crate) fn wrapped_root_key(&self) -> Option<Vec<u8>> {
        match self {
            Self::Awskms { wrapped_root_key, .. } | Self::Pkcs11 { wrapped_root_key, .. } => {
                STANDARD.decode(wrapped_root_key).ok()
            }
            _ => None,
        }
    }
}

/// `--root-key-file`, else `root.key` in the data directory.
pub(crate) fn root_key_path(config: &Config) -> PathBuf {
    config
        .root_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("root.key"))
}

/// Where a loaded key came from, for messages.
pub(crate) enum KeyOrigin {
    Env,
    File(PathBuf),
    /// No file existed: a new key to write to this path once the database is known to be new.
    Generated(PathBuf),
}

pub(crate) struct LoadedKey {
    pub(crate) key: RootKey,
    pub(crate) origin: KeyOrigin,
    /// The encoded new key, for `KeyOrigin::Generated`.
    pub(crate) new_file_contents: Option<SecretString>,
}

impl LoadedKey {
    /// Names where the key came from, e.g. "root key file /srv/root.key".
    pub(crate) fn describe_origin(&self) -> String {
        match &self.origin {
            KeyOrigin::File(path) | KeyOrigin::Generated(path) => format!("root key file {}", path.display()),
            KeyOrigin::Env => format!("root key from {ROOT_KEY_ENV}"),
        }
    }
}

/// The root key of `--seal file`: `SEALBOX_ROOT_KEY`, else the file at `path`, else a new key
/// to write there (see [`KeyOrigin::Generated`]).
pub(crate) fn load_file_key(path: &std::path::Path) -> anyhow::Result<LoadedKey> {
    if let Ok(encoded) = std::env::var(ROOT_KEY_ENV) {
        let key = RootKey::from_encoded(ROOT_KEY_VERSION, &encoded)
            .with_context(|| format!("{ROOT_KEY_ENV} is not a valid root key"))?;
        return Ok(LoadedKey {
            key,
            origin: KeyOrigin::Env,
            new_file_contents: None,
        });
    }
    match std::fs::read_to_string(path) {
        Ok(encoded) => {
            let key = RootKey::from_encoded(ROOT_KEY_VERSION, &encoded)
                .with_context(|| format!("{} does not hold a valid root key", path.display()))?;
            Ok(LoadedKey {
                key,
                origin: KeyOrigin::File(path.to_path_buf()),
                new_file_contents: None,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = RootKey::generate(ROOT_KEY_VERSION);
            let encoded = key.encode();
            Ok(LoadedKey {
                key,
                origin: KeyOrigin::Generated(path.to_path_buf()),
                new_file_contents: Some(encoded),
            })
        }
        Err(e) => Err(e).with_context(|| format!("cannot read the root key file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_parses_and_others_are_named_in_the_error() {
        for name in SealKind::NAMES {
            let kind = name.parse::<SealKind>().unwrap();
            assert_eq!(kind.as_str(), *name);
        }
        let err = "vault".parse::<SealKind>().unwrap_err();
        assert_eq!(
            err,
            "--seal \"vault\": expected one of file, passphrase, shamir, awskms, pkcs11"
        );
    }

    #[test]
    fn a_record_matches_only_its_key_and_holds_no_key() {
        let key = RootKey::generate(1);
        let record = SealRecord::shamir(&key, 5, 3);
        assert!(record.matches(&key));
        assert!(!record.matches(&RootKey::generate(1)));
        let text = String::from_utf8(record.to_bytes()).unwrap();
        assert_eq!(serde_json::from_str::<SealRecord>(&text).unwrap(), record);
        use sealbox_crypto::ExposeSecret;
        assert!(!text.contains(key.encode().expose_secret()), "{text}");
    }

    #[test]
    fn a_server_started_with_another_source_than_its_database_is_refused_naming_both() {
        let key = RootKey::generate(1);
        let shamir = SealRecord::shamir(&key, 3, 2);
        assert!(check_kind(SealKind::Shamir, Some(&shamir), true).is_ok());
        assert!(check_kind(SealKind::Passphrase, None, false).is_ok(), "a new database");
        let err = check_kind(SealKind::File, Some(&shamir), true).unwrap_err().to_string();
        assert!(err.contains("--seal shamir") && err.contains("--seal file"), "{err}");
        let err = check_kind(SealKind::Shamir, None, true).unwrap_err().to_string();
        assert!(err.contains("sealed with --seal file"), "{err}");
    }
}
