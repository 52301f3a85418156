//! `--seal passphrase`: the root key derived with Argon2id from a passphrase. The salt and the
//! Argon2 parameters are not secret: they are kept beside the data (`PassphraseKdf::encode`) so
//! every unseal derives the same key, and a wrong passphrase is caught by the root key's check
//! value.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::{CryptoError, KEY_LEN, Key, RootKey};

const SALT_LEN: usize = 16;
/// The parameters of a new passphrase source: 64 MiB, 3 passes, 1 lane.
const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;
const DEFAULT_ITERATIONS: u32 = 3;
/// Stored parameters weaker than these (OWASP's Argon2id minimum) or larger are refused.
const MIN_MEMORY_KIB: u32 = 19 * 1024;
const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;

/// The salt and Argon2id parameters of a passphrase source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassphraseKdf {
    salt: [u8; SALT_LEN],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl PassphraseKdf {
    /// A fresh random salt with the default parameters, for the first start of this source.
    pub fn generate() -> Self {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        Self {
            salt,
            memory_kib: DEFAULT_MEMORY_KIB,
            iterations: DEFAULT_ITERATIONS,
            parallelism: 1,
        }
    }

    /// `argon2id$m=65536,t=3,p=1$<salt, base64>`, to keep beside the data.
    pub fn encode(&self) -> String {
        format!(
            "argon2id$m={},t={},p={}${}",
            self.memory_kib,
            self.iterations,
            self.parallelism,
            STANDARD_NO_PAD.encode(self.salt)
        )
    }

    /// Reads what [`PassphraseKdf::encode`] wrote; parameters weaker than 19 MiB and 2 passes, or
    /// beyond 4 GiB, 64 passes or 16 lanes, are refused.
    pub fn from_encoded(encoded: &str) -> Result<Self, CryptoError> {
        const WHAT: &str = "expected argon2id$m=KIB,t=PASSES,p=LANES$SALT with at least m=19456,t=2";
        let invalid = || CryptoError::InvalidKey(WHAT);
        let mut parts = encoded.trim().split('$');
        let (Some("argon2id"), Some(params), Some(salt), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let mut values = params.split(',').map(|kv| kv.split_once('='));
        let mut number = |name: &str| match values.next() {
            Some(Some((key, value))) if key == name => value.parse::<u32>().map_err(|_| invalid()),
            _ => Err(invalid()),
        };
        let (memory_kib, iterations, parallelism) = (number("m")?, number("t")?, number("p")?);
        if values.next().is_some()
            || !(MIN_MEMORY_KIB..=MAX_MEMORY_KIB).contains(&memory_kib)
            || !(2..=MAX_ITERATIONS).contains(&iterations)
            || !(1..=MAX_PARALLELISM).contains(&parallelism)
        {
            return Err(invalid());
        }
        let salt = STANDARD_NO_PAD
            .decode(salt)
            .ok()
            .and_then(|bytes| <[u8; SALT_LEN]>::try_from(bytes).ok())
            .ok_or_else(invalid)?;
        Ok(Self {
            salt,
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// The root key `version` from `passphrase`; an empty passphrase is refused.
    pub fn derive(&self, version: u32, passphrase: &SecretString) -> Result<RootKey, CryptoError> {
        // EXPOSE: only its emptiness is looked at here.
        if passphrase.expose_secret().is_empty() {
            return Err(CryptoError::InvalidKey("the passphrase is empty"));
        }
        argon2id_key(
            version,
            passphrase,
            &self.salt,
            self.memory_kib,
            self.iterations,
            self.parallelism,
        )
    }
}

/// Argon2id of `passphrase` and `salt` straight into a boxed root key.
pub(crate) fn argon2id_key(
    version: u32,
    passphrase: &SecretString,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<RootKey, CryptoError> {
    let params =
        Params::new(memory_kib, iterations, parallelism, Some(KEY_LEN)).map_err(|_| CryptoError::PasswordHash)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut result = Ok(());
    let key = SecretBox::init_with_mut(|k: &mut Key| {
        // EXPOSE: the passphrase goes only into Argon2, which writes into the boxed key.
        result = argon.hash_password_into(passphrase.expose_secret().as_bytes(), salt, k);
    });
    result.map_err(|_| CryptoError::PasswordHash)?;
    Ok(RootKey { version, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest accepted parameters, to keep the tests quick.
    fn quick() -> PassphraseKdf {
        PassphraseKdf::from_encoded(&format!(
            "argon2id$m={MIN_MEMORY_KIB},t=2,p=1${}",
            STANDARD_NO_PAD.encode([5u8; SALT_LEN])
        ))
        .unwrap()
    }

    #[test]
    fn the_stored_parameters_derive_the_same_key_and_another_passphrase_fails_the_check() {
        let kdf = quick();
        let stored = kdf.encode();
        let pass = SecretString::from("correct horse battery staple");
        let root = kdf.derive(1, &pass).unwrap();
        let again = PassphraseKdf::from_encoded(&stored).unwrap().derive(1, &pass).unwrap();
        assert!(again.verify_check_value(&root.check_value()).is_ok());
        let wrong = kdf
            .derive(1, &SecretString::from("correct horse battery stapler"))
            .unwrap();
        assert!(matches!(
            wrong.verify_check_value(&root.check_value()),
            Err(CryptoError::WrongRootKey)
        ));
        // Another salt, same passphrase: another key.
        let other = PassphraseKdf::generate();
        assert_ne!(other.salt, kdf.salt);
        let other = PassphraseKdf {
            memory_kib: MIN_MEMORY_KIB,
            iterations: 2,
            ..other
        };
        assert!(
            other
                .derive(1, &pass)
                .unwrap()
                .verify_check_value(&root.check_value())
                .is_err()
        );
    }

    #[test]
    fn new_parameters_are_the_defaults_and_round_trip() {
        let kdf = PassphraseKdf::generate();
        assert!(
            kdf.encode().starts_with("argon2id$m=65536,t=3,p=1$"),
            "{}",
            kdf.encode()
        );
        assert_eq!(
            PassphraseKdf::from_encoded(&format!("{}\n", kdf.encode())).unwrap(),
            kdf
        );
    }

    #[test]
    fn weak_absurd_or_malformed_parameters_and_an_empty_passphrase_are_refused() {
        let salt = STANDARD_NO_PAD.encode([5u8; SALT_LEN]);
        for bad in [
            String::new(),
            format!("argon2i$m=65536,t=3,p=1${salt}"),
            format!("argon2id$m=1024,t=3,p=1${salt}"),
            format!("argon2id$m=65536,t=1,p=1${salt}"),
            format!("argon2id$m=65536,t=3,p=0${salt}"),
            format!("argon2id$m=8388608,t=3,p=1${salt}"),
            format!("argon2id$t=3,m=65536,p=1${salt}"),
            format!("argon2id$m=65536,t=3,p=1,x=2${salt}"),
            "argon2id$m=65536,t=3,p=1$c2hvcnQ".to_owned(),
            format!("argon2id$m=65536,t=3,p=1${salt}$extra"),
        ] {
            assert!(
                matches!(PassphraseKdf::from_encoded(&bad), Err(CryptoError::InvalidKey(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            quick().derive(1, &SecretString::from("")),
            Err(CryptoError::InvalidKey("the passphrase is empty"))
        ));
    }
}
