//! Key sources (`--seal`): where the root key comes from.
//!
//! A source either hands the key over at start by itself (`file` today; AWS KMS and PKCS#11
//! would be such sources) or needs a person to unseal the server (passphrase, Shamir shares;
//! not built yet). `SealKind` names the source; `KeySource` is one configured source.

use std::path::PathBuf;

use anyhow::Context;
use sealbox_crypto::{RootKey, SecretString};

use crate::Config;

/// The variable holding the root key itself (base64); it takes precedence over any key file.
pub(crate) const ROOT_KEY_ENV: &str = "SEALBOX_ROOT_KEY";

/// The key sources `--seal` accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SealKind {
    /// The root key file in the data directory (created on first start), or `SEALBOX_ROOT_KEY`.
    #[default]
    File,
}

impl SealKind {
    /// Every value of `--seal`, as written on the command line.
    pub const NAMES: &[&str] = &["file"];
}

impl std::str::FromStr for SealKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "file" => Ok(Self::File),
            other => Err(format!("--seal {other:?}: expected one of {}", Self::NAMES.join(", "))),
        }
    }
}

/// One configured key source.
pub(crate) enum KeySource {
    /// `SEALBOX_ROOT_KEY` when set, else the file at `path`.
    File { path: PathBuf },
}

impl KeySource {
    pub(crate) fn from_config(config: &Config) -> Self {
        match config.seal {
            SealKind::File => Self::File {
                path: config
                    .root_key_file
                    .clone()
                    .unwrap_or_else(|| config.data_dir.join("root.key")),
            },
        }
    }

    /// The root key, for a source that hands it over at start.
    pub(crate) fn load_at_start(&self) -> anyhow::Result<LoadedKey> {
        match self {
            Self::File { path } => load_file_key(path),
        }
    }
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

fn load_file_key(path: &std::path::Path) -> anyhow::Result<LoadedKey> {
    if let Ok(encoded) = std::env::var(ROOT_KEY_ENV) {
        let key =
            RootKey::from_encoded(1, &encoded).with_context(|| format!("{ROOT_KEY_ENV} is not a valid root key"))?;
        return Ok(LoadedKey {
            key,
            origin: KeyOrigin::Env,
            new_file_contents: None,
        });
    }
    match std::fs::read_to_string(path) {
        Ok(encoded) => {
            let key = RootKey::from_encoded(1, &encoded)
                .with_context(|| format!("{} does not hold a valid root key", path.display()))?;
            Ok(LoadedKey {
                key,
                origin: KeyOrigin::File(path.to_path_buf()),
                new_file_contents: None,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = RootKey::generate(1);
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
            assert!(name.parse::<SealKind>().is_ok(), "{name}");
        }
        let err = "shamir".parse::<SealKind>().unwrap_err();
        assert_eq!(err, "--seal \"shamir\": expected one of file");
    }
}
