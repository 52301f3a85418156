//! Sealbox cryptography: envelope encryption of secret values, the root key, bearer-token
//! hashing and password hashing. No IO, no async; the primitives stay private.
//!
//! `Sealed::ciphertext`, `Sealed::wrapped_dek` and the check value share one byte format:
//! `0x01 | key_version (u32 BE) | nonce (12) | AES-256-GCM output`. The 5 header bytes followed
//! by the encoded [`Aad`] are the GCM associated data. The root key is only ever an HMAC key:
//! the DEK-wrapping, check-value and token-hashing keys are derived from it by HMAC-SHA256 with
//! distinct labels.
//!
//! Key hierarchy: the root key wraps a keyring of versioned key-encryption keys ([`Kek`]); new
//! DEKs are wrapped by a KEK, and such a wrapped DEK starts with the format byte `0x02` instead
//! of `0x01`, its key version being the KEK's. A wrapped DEK with format `0x01` (every row
//! written before the keyring existed) is wrapped by the root key's DEK-wrapping subkey and keeps
//! opening with [`open`]; [`wrapped_by`] tells the two apart.

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, Payload};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

pub use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};

pub mod passphrase;
pub mod shamir;

const FORMAT: u8 = 0x01;
/// The format byte of a DEK wrapped by a keyring KEK (values and root-wrapped DEKs use `FORMAT`).
const KEK_DEK_FORMAT: u8 = 0x02;
const KEK_WRAP_LABEL: &[u8] = b"sealbox keyring wrap v1";
const KEK_AAD: &[u8] = b"sealbox keyring kek";
const ORIGIN_AAD: &[u8] = b"sealbox origin root key";
const HEADER_LEN: usize = 5;
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;
const WRAP_LABEL: &[u8] = b"sealbox dek wrap v1";
const CHECK_LABEL: &[u8] = b"sealbox check value v1";
const TOKEN_LABEL: &[u8] = b"sealbox token hash v1";
const AUDIT_CHAIN_LABEL: &[u8] = b"sealbox audit chain v1";
const CHECK_PLAINTEXT: &[u8] = b"sealbox root key check v1";
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 43;

type Key = [u8; KEY_LEN];

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("decryption failed")]
    Decrypt,
    #[error("the root key does not match this database: start with the key it was created with")]
    WrongRootKey,
    #[error("invalid root key: {0}")]
    InvalidKey(&'static str),
    #[error("password hashing failed")]
    PasswordHash,
}

/// A root key (256-bit) with its version number. Redacted Debug, zeroized on drop.
pub struct RootKey {
    version: u32,
    key: SecretBox<Key>,
}

impl RootKey {
    pub fn generate(version: u32) -> RootKey {
        let key = SecretBox::init_with_mut(|k: &mut Key| OsRng.fill_bytes(k));
        RootKey { version, key }
    }

    /// Reads standard base64 of exactly 32 bytes; surrounding whitespace is ignored.
    pub fn from_encoded(version: u32, encoded: &str) -> Result<RootKey, CryptoError> {
        let bytes = STANDARD.decode(encoded.trim()).map(Zeroizing::new);
        match bytes {
            Ok(bytes) if bytes.len() == KEY_LEN => {
                let key = SecretBox::init_with_mut(|k: &mut Key| k.copy_from_slice(&bytes));
                Ok(RootKey { version, key })
            }
            _ => Err(CryptoError::InvalidKey("expected 32 bytes, base64-encoded")),
        }
    }

    /// A root key from its 32 bytes, as a key protector (AWS KMS, a PKCS#11 HSM) gave them back.
    pub fn from_bytes(version: u32, bytes: &[u8]) -> Result<RootKey, CryptoError> {
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::InvalidKey("expected 32 bytes"));
        }
        let key = SecretBox::init_with_mut(|k: &mut Key| k.copy_from_slice(bytes));
        Ok(RootKey { version, key })
    }

    /// The key's 32 bytes, only to hand them to a key protector that wraps them (AWS KMS, a
    /// PKCS#11 HSM); [`RootKey::from_bytes`] takes them back.
    pub fn expose_bytes(&self) -> &[u8] {
        self.key.expose_secret()
    }

    /// The form [`RootKey::from_encoded`] reads (for the key file).
    pub fn encode(&self) -> SecretString {
        // EXPOSE: encoded straight into a SecretString, which is zeroized on drop.
        SecretString::from(STANDARD.encode(self.key.expose_secret()))
    }

    /// Argon2id with m=64 MiB, t=3, p=1; the salt must be at least 16 bytes.
    pub fn from_passphrase(version: u32, passphrase: &SecretString, salt: &[u8]) -> Result<RootKey, CryptoError> {
        if salt.len() < 16 {
            return Err(CryptoError::InvalidKey("salt must be at least 16 bytes"));
        }
        passphrase::argon2id_key(version, passphrase, salt, 64 * 1024, 3, 1)
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// A value stored beside the data that lets a later start detect a wrong key.
    pub fn check_value(&self) -> Vec<u8> {
        // Sealing a short constant cannot fail; an empty value would just fail verification.
        let key = self.derive(CHECK_LABEL);
        gcm_seal(&key, self.version, b"", CHECK_PLAINTEXT).unwrap_or_default()
    }

    /// `WrongRootKey` on any mismatch (key, version) or garbage.
    pub fn verify_check_value(&self, check: &[u8]) -> Result<(), CryptoError> {
        match gcm_open(&self.derive(CHECK_LABEL), b"", check) {
            Ok((version, plain)) if version == self.version && bool::from(plain.ct_eq(CHECK_PLAINTEXT)) => Ok(()),
            _ => Err(CryptoError::WrongRootKey),
        }
    }

    /// The keyed hash used to store bearer tokens, under a subkey derived from the root key.
    pub fn token_hasher(&self) -> TokenHasher {
        let sub = self.derive(TOKEN_LABEL);
        TokenHasher {
            key: SecretBox::init_with_mut(|k: &mut Key| *k = *sub),
        }
    }

    /// The key of the audit log's hash chain (HMAC-SHA256), derived like the other subkeys, so
    /// only a holder of the root key can compute a chain that verifies.
    pub fn audit_chain_key(&self) -> SecretBox<Key> {
        let sub = self.derive(AUDIT_CHAIN_LABEL);
        SecretBox::init_with_mut(|k: &mut Key| *k = *sub)
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<Key> {
        // EXPOSE: the root key is used only as an HMAC key; the subkey is zeroized on drop.
        Zeroizing::new(hmac_sha256(self.key.expose_secret(), label))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKey")
            .field("version", &self.version)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// Associated data that binds a ciphertext to its row: a ciphertext moved to another
/// workspace, secret or version fails to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    pub workspace_id: &'a str,
    pub secret_id: &'a str,
    pub version: u64,
}

impl Aad<'_> {
    /// Format byte, length-prefixed (u64 BE) ids, version (u64 BE): unambiguous.
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT];
        for field in [self.workspace_id, self.secret_id] {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(&self.version.to_be_bytes());
        out
    }
}

/// Sealed value: opaque bytes for the store. `ciphertext` keeps the header of the key version
/// it was first sealed under; `key_version` and `wrapped_dek` follow rotation.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub key_version: u32,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("ciphertext_len", &self.ciphertext.len())
            .field("wrapped_dek_len", &self.wrapped_dek.len())
            .field("key_version", &self.key_version)
            .finish()
    }
}

/// Envelope encryption: a fresh random DEK per call; the value under the DEK and the DEK under
/// the root key's wrapping subkey, both AES-256-GCM with the same AAD.
pub fn seal(root: &RootKey, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
    seal_under(DekWrapper::Root(root), aad, plaintext)
}

/// Like [`seal`], the DEK wrapped by a keyring KEK (format byte `0x02`, key version the KEK's).
pub fn seal_with_kek(kek: &Kek, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
    seal_under(DekWrapper::Kek(kek), aad, plaintext)
}

/// `Decrypt` if `root.version() != sealed.key_version`, on any tampering, or a wrong AAD.
pub fn open(root: &RootKey, aad: &Aad<'_>, sealed: &Sealed) -> Result<SecretSlice<u8>, CryptoError> {
    open_under(DekWrapper::Root(root), aad, sealed)
}

/// Opens a value whose DEK is wrapped by `kek`; `Decrypt` for a DEK wrapped by anything else.
pub fn open_with_kek(kek: &Kek, aad: &Aad<'_>, sealed: &Sealed) -> Result<SecretSlice<u8>, CryptoError> {
    open_under(DekWrapper::Kek(kek), aad, sealed)
}

/// Re-wraps the DEK under another root key without touching the value ciphertext.
pub fn rewrap(from: &RootKey, to: &RootKey, aad: &Aad<'_>, sealed: &Sealed) -> Result<Sealed, CryptoError> {
    rewrap_under(DekWrapper::Root(from), DekWrapper::Root(to), aad, sealed)
}

/// Re-wraps the DEK (wrapped by the root key or by an older KEK) under `to`, without touching
/// the value ciphertext: what a keyring rotation does to every stored version.
pub fn rewrap_to_kek(from: DekWrapper<'_>, to: &Kek, aad: &Aad<'_>, sealed: &Sealed) -> Result<Sealed, CryptoError> {
    rewrap_dek(from, DekWrapper::Kek(to), aad, sealed)
}

/// Re-wraps the DEK from any wrapper to any other, without touching the value ciphertext.
pub fn rewrap_dek(
    from: DekWrapper<'_>,
    to: DekWrapper<'_>,
    aad: &Aad<'_>,
    sealed: &Sealed,
) -> Result<Sealed, CryptoError> {
    rewrap_under(from, to, aad, sealed)
}

/// What wrapped a stored DEK, read from its header; `None` for bytes in no known format.
pub fn wrapped_by(sealed: &Sealed) -> Option<WrappedBy> {
    let (header, _) = sealed.wrapped_dek.split_first_chunk::<HEADER_LEN>()?;
    let [format, version @ ..] = *header;
    match format {
        FORMAT => Some(WrappedBy::RootKey),
        KEK_DEK_FORMAT => Some(WrappedBy::Kek(u32::from_be_bytes(version))),
        _ => None,
    }
}

/// The key a stored DEK is wrapped by: see [`wrapped_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappedBy {
    /// The old format (`0x01`): wrapped directly by the root key.
    RootKey,
    /// Wrapped by the keyring KEK of this version.
    Kek(u32),
}

/// The key that wraps (or unwraps) a DEK.
#[derive(Clone, Copy)]
pub enum DekWrapper<'a> {
    Root(&'a RootKey),
    Kek(&'a Kek),
}

impl DekWrapper<'_> {
    /// The format byte, key version and AES key of this wrapper.
    fn parts(&self) -> (u8, u32, Zeroizing<Key>) {
        match self {
            DekWrapper::Root(root) => (FORMAT, root.version, root.derive(WRAP_LABEL)),
            // EXPOSE: the KEK is copied only into a Zeroizing buffer used as the AES key.
            DekWrapper::Kek(kek) => (KEK_DEK_FORMAT, kek.version, Zeroizing::new(*kek.key.expose_secret())),
        }
    }
}

fn seal_under(wrapper: DekWrapper<'_>, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
    let aad = aad.encode();
    let (_, version, _) = wrapper.parts();
    let mut dek = Zeroizing::new(Key::default());
    OsRng.fill_bytes(&mut *dek);
    Ok(Sealed {
        ciphertext: gcm_seal(&dek, version, &aad, plaintext)?,
        wrapped_dek: wrap_dek(wrapper, &aad, &dek)?,
        key_version: version,
    })
}

fn open_under(wrapper: DekWrapper<'_>, aad: &Aad<'_>, sealed: &Sealed) -> Result<SecretSlice<u8>, CryptoError> {
    let aad = aad.encode();
    let dek = open_dek(wrapper, &aad, sealed)?;
    let (_, mut plain) = gcm_open(&dek, &aad, &sealed.ciphertext)?;
    Ok(SecretSlice::from(std::mem::take(&mut *plain)))
}

fn rewrap_under(
    from: DekWrapper<'_>,
    to: DekWrapper<'_>,
    aad: &Aad<'_>,
    sealed: &Sealed,
) -> Result<Sealed, CryptoError> {
    let aad = aad.encode();
    let dek = open_dek(from, &aad, sealed)?;
    Ok(Sealed {
        ciphertext: sealed.ciphertext.clone(),
        wrapped_dek: wrap_dek(to, &aad, &dek)?,
        key_version: to.parts().1,
    })
}

fn wrap_dek(wrapper: DekWrapper<'_>, aad: &[u8], dek: &Key) -> Result<Vec<u8>, CryptoError> {
    let (format, version, key) = wrapper.parts();
    gcm_seal_format(format, &key, version, aad, dek)
}

fn open_dek(wrapper: DekWrapper<'_>, aad: &[u8], sealed: &Sealed) -> Result<Zeroizing<Key>, CryptoError> {
    let (format, expected, key) = wrapper.parts();
    if sealed.key_version != expected {
        return Err(CryptoError::Decrypt);
    }
    let (version, dek) = gcm_open_format(format, &key, aad, &sealed.wrapped_dek)?;
    match Key::try_from(dek.as_slice()) {
        Ok(key) if version == expected => Ok(Zeroizing::new(key)),
        _ => Err(CryptoError::Decrypt),
    }
}

/// The root key a database was created with, wrapped by the root key that replaced it (a
/// rekey): the token hashes and the audit chain stay keyed by the original key's subkeys, so a
/// rekey changes neither.
pub fn wrap_origin(root: &RootKey, origin: &RootKey) -> Result<Vec<u8>, CryptoError> {
    // EXPOSE: the original key goes only into AES-GCM under the root key's keyring subkey.
    gcm_seal(
        &root.derive(KEK_WRAP_LABEL),
        origin.version,
        ORIGIN_AAD,
        origin.key.expose_secret(),
    )
}

/// Unwraps [`wrap_origin`]'s bytes; `WrongRootKey` when `root` did not wrap them.
pub fn unwrap_origin(root: &RootKey, wrapped: &[u8]) -> Result<RootKey, CryptoError> {
    let (version, plain) =
        gcm_open(&root.derive(KEK_WRAP_LABEL), ORIGIN_AAD, wrapped).map_err(|_| CryptoError::WrongRootKey)?;
    let bytes = Zeroizing::new(Key::try_from(plain.as_slice()).map_err(|_| CryptoError::WrongRootKey)?);
    let key = SecretBox::init_with_mut(|k: &mut Key| *k = *bytes);
    Ok(RootKey { version, key })
}

/// A keyring key-encryption key (256-bit) with its version. Zeroized on drop; deliberately no
/// `Debug`. Stored only wrapped by the root key ([`wrap_kek`]).
pub struct Kek {
    version: u32,
    key: SecretBox<Key>,
}

impl Kek {
    pub fn generate(version: u32) -> Kek {
        let key = SecretBox::init_with_mut(|k: &mut Key| OsRng.fill_bytes(k));
        Kek { version, key }
    }

    pub fn version(&self) -> u32 {
        self.version
    }
}

/// The KEK wrapped by the root key's keyring subkey, bound to its version: the bytes the
/// `keyring` table stores.
pub fn wrap_kek(root: &RootKey, kek: &Kek) -> Result<Vec<u8>, CryptoError> {
    // EXPOSE: the KEK goes only into AES-GCM under the root key's keyring subkey.
    gcm_seal(
        &root.derive(KEK_WRAP_LABEL),
        kek.version,
        KEK_AAD,
        kek.key.expose_secret(),
    )
}

/// Unwraps a stored KEK of `version`; `WrongRootKey` when `root` did not wrap it (or the bytes
/// were altered or moved to another version).
pub fn unwrap_kek(root: &RootKey, version: u32, wrapped: &[u8]) -> Result<Kek, CryptoError> {
    let (stored_version, plain) =
        gcm_open(&root.derive(KEK_WRAP_LABEL), KEK_AAD, wrapped).map_err(|_| CryptoError::WrongRootKey)?;
    match Key::try_from(plain.as_slice()) {
        Ok(bytes) if stored_version == version => {
            let bytes = Zeroizing::new(bytes);
            let key = SecretBox::init_with_mut(|k: &mut Key| *k = *bytes);
            Ok(Kek { version, key })
        }
        _ => Err(CryptoError::WrongRootKey),
    }
}

fn gcm_seal(key: &Key, version: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    gcm_seal_format(FORMAT, key, version, aad, plaintext)
}

fn gcm_seal_format(format: u8, key: &Key, version: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let mut out = vec![format];
    out.extend_from_slice(&version.to_be_bytes());
    let ad = [out.as_slice(), aad].concat();
    let payload = Payload {
        msg: plaintext,
        aad: &ad,
    };
    let body = Aes256Gcm::new(key.into())
        .encrypt(&nonce, payload)
        // Fails only for plaintexts over 64 GiB; there is no separate encryption error.
        .map_err(|_| CryptoError::Decrypt)?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Returns the header's key version and the plaintext; every failure is `Decrypt`.
fn gcm_open(key: &Key, aad: &[u8], data: &[u8]) -> Result<(u32, Zeroizing<Vec<u8>>), CryptoError> {
    gcm_open_format(FORMAT, key, aad, data)
}

fn gcm_open_format(
    expected_format: u8,
    key: &Key,
    aad: &[u8],
    data: &[u8],
) -> Result<(u32, Zeroizing<Vec<u8>>), CryptoError> {
    let (header, rest) = data.split_first_chunk::<HEADER_LEN>().ok_or(CryptoError::Decrypt)?;
    let (nonce, body) = rest.split_first_chunk::<NONCE_LEN>().ok_or(CryptoError::Decrypt)?;
    let [format, version @ ..] = *header;
    if format != expected_format {
        return Err(CryptoError::Decrypt);
    }
    let ad = [header.as_slice(), aad].concat();
    let payload = Payload { msg: body, aad: &ad };
    let plain = Aes256Gcm::new(key.into())
        .decrypt(nonce.into(), payload)
        .map_err(|_| CryptoError::Decrypt)?;
    Ok((u32::from_be_bytes(version), Zeroizing::new(plain)))
}

fn hmac_sha256(key: &Key, msg: &[u8]) -> Key {
    // HMAC zero-pads a short key to the block size (RFC 2104), so this equals HMAC with the
    // 32-byte key, without `new_from_slice`'s never-failing Result.
    let mut block = Zeroizing::new([0u8; 64]);
    block[..KEY_LEN].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&(*block).into());
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

pub const TOKEN_PREFIX: &str = "sbx_";

/// `sbx_` followed by 43 chars of URL-safe base64 (no padding) of 32 random bytes.
pub fn generate_token() -> SecretString {
    let mut bytes = Zeroizing::new(Key::default());
    OsRng.fill_bytes(&mut *bytes);
    let mut token = String::with_capacity(TOKEN_LEN);
    token.push_str(TOKEN_PREFIX);
    URL_SAFE_NO_PAD.encode_string(*bytes, &mut token);
    SecretString::from(token)
}

/// Cheap syntactic check (prefix, exact length, canonical base64 of 32 bytes); never panics.
pub fn is_well_formed_token(candidate: &str) -> bool {
    let mut buf = Zeroizing::new([0u8; KEY_LEN + 1]);
    candidate.len() == TOKEN_LEN
        && candidate
            .strip_prefix(TOKEN_PREFIX)
            .is_some_and(|body| URL_SAFE_NO_PAD.decode_slice(body, &mut *buf) == Ok(KEY_LEN))
}

/// How many characters after `sbx_` may be stored and shown to tell tokens apart.
const TOKEN_SHOWN_CHARS: usize = 8;

/// The part of a token that may be stored in the clear and shown in lists, so a leaked token can
/// be matched to its row: the first 8 characters after `sbx_`. A token is 32 random bytes in 43
/// base64 characters of 6 bits each, so the 8 shown carry 48 bits and the 35 hidden ones the
/// other 208: knowing the prefix leaves 2^208 candidates. `None` for a malformed token.
pub fn token_shown_prefix(token: &str) -> Option<String> {
    if !is_well_formed_token(token) {
        return None;
    }
    token
        .get(TOKEN_PREFIX.len()..TOKEN_PREFIX.len() + TOKEN_SHOWN_CHARS)
        .map(str::to_owned)
}

/// HMAC-SHA256 of bearer tokens under a subkey of the root key. Redacted Debug.
pub struct TokenHasher {
    key: SecretBox<Key>,
}

impl TokenHasher {
    /// 32 bytes.
    pub fn hash(&self, token: &str) -> Vec<u8> {
        // EXPOSE: the subkey is used only as the HMAC key.
        hmac_sha256(self.key.expose_secret(), token.as_bytes()).to_vec()
    }

    /// Constant-time comparison with a stored hash.
    pub fn matches(&self, token: &str, stored_hash: &[u8]) -> bool {
        self.hash(token).ct_eq(stored_hash).into()
    }
}

impl TokenHasher {
    /// A value derived from `input` for one `purpose` (43 URL-safe characters), under the same
    /// subkey: single sign-on derives its `nonce` and PKCE verifier from the `state`, so neither
    /// is stored. Distinct purposes give unrelated values.
    pub fn derive(&self, purpose: &str, input: &str) -> SecretString {
        let mut msg = Zeroizing::new(Vec::with_capacity(purpose.len() + input.len() + 16));
        msg.extend_from_slice(b"sealbox derive v1\0");
        msg.extend_from_slice(purpose.as_bytes());
        msg.push(0);
        msg.extend_from_slice(input.as_bytes());
        // EXPOSE: the subkey is used only as the HMAC key.
        let out = Zeroizing::new(hmac_sha256(self.key.expose_secret(), &msg));
        SecretString::from(URL_SAFE_NO_PAD.encode(*out))
    }
}

/// A random value for a URL (a `state`, a one-time code): 32 bytes as 43 URL-safe characters.
pub fn generate_url_token() -> SecretString {
    let mut bytes = Zeroizing::new(Key::default());
    OsRng.fill_bytes(&mut *bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(*bytes))
}

/// PKCE's `S256` (RFC 7636): the base64url SHA-256 of a verifier, without padding.
pub fn pkce_challenge(verifier: &str) -> String {
    use sha2::Digest as _;
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is the one `challenge` was made from, compared in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    pkce_challenge(verifier).as_bytes().ct_eq(challenge.as_bytes()).into()
}

impl fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenHasher").field("key", &"[REDACTED]").finish()
    }
}

fn password_argon2() -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(19_456, 2, 1, None).map_err(|_| CryptoError::PasswordHash)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The work area of password hashing (Argon2id, m=19456 KiB, t=2, p=1, the OWASP minimum):
/// 19 MiB allocated once and reused by every operation run with it, and wiped after each. Hashing
/// with it never allocates, so a program that keeps a fixed number of work areas holds a fixed
/// amount of memory for hashing (freed and reallocated 19 MiB blocks would otherwise be kept by
/// the allocator, many times over). Its `Debug` shows no contents.
pub struct PasswordWorkArea {
    blocks: Vec<argon2::Block>,
}

impl fmt::Debug for PasswordWorkArea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordWorkArea")
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl PasswordWorkArea {
    pub fn new() -> Result<Self, CryptoError> {
        let blocks = password_argon2()?.params().block_count();
        Ok(Self {
            blocks: vec![argon2::Block::default(); blocks],
        })
    }

    /// Runs Argon2 `argon` over `password` and `salt` into `out` in this work area, then wipes it.
    fn run(&mut self, argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
        let result = argon.hash_password_into_with_memory(password, salt, out, &mut self.blocks);
        // Block by block: `Vec::zeroize` would also empty the vector.
        self.blocks.iter_mut().for_each(Zeroize::zeroize);
        result
    }

    /// A PHC string for `password` with a random salt.
    pub fn hash(&mut self, password: &SecretString) -> Result<String, CryptoError> {
        let argon = password_argon2()?;
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt
            .decode_b64(&mut salt_bytes)
            .map_err(|_| CryptoError::PasswordHash)?;
        let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
            // EXPOSE: the password goes only into Argon2.
            self.run(&argon, password.expose_secret().as_bytes(), salt_bytes, out)
                .map_err(|_| argon2::password_hash::Error::Password)
        })
        .map_err(|_| CryptoError::PasswordHash)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon.params()).map_err(|_| CryptoError::PasswordHash)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the PHC string, compared in constant time. False on mismatch,
    /// on an unparsable hash, and on one whose costs exceed this work area (a corrupt or foreign
    /// hash must not take more memory or time than ours); never panics.
    pub fn verify(&mut self, password: &SecretString, phc_hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc_hash) else {
            return false;
        };
        let (Ok(params), Ok(algorithm)) = (Params::try_from(&parsed), Algorithm::try_from(parsed.algorithm)) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(version) => version.unwrap_or_default(),
            Err(_) => return false,
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        if params.block_count() > self.blocks.len() || params.t_cost() > 10 {
            return false;
        }
        let mut salt_bytes = [0u8; 64];
        let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let argon = Argon2::new(algorithm, version, params);
        let computed = Output::init_with(expected.len(), |out| {
            // EXPOSE: the password goes only into Argon2.
            self.run(&argon, password.expose_secret().as_bytes(), salt_bytes, out)
                .map_err(|_| argon2::password_hash::Error::Password)
        });
        // `Output`'s equality is constant-time.
        computed.is_ok_and(|computed| computed == expected)
    }

    /// Burns the same time as a real verification, for sign-ins with an unknown e-mail.
    pub fn burn(&mut self, password: &SecretString) {
        let mut out = Zeroizing::new(Key::default());
        if let Ok(argon) = password_argon2() {
            // EXPOSE: the password goes only into Argon2; the output is discarded.
            let password = password.expose_secret().as_bytes();
            let _ = self.run(&argon, password, b"sealbox dummy salt", &mut *out);
        }
        std::hint::black_box(&out);
    }
}

/// 24 random characters from [A-Za-z0-9].
pub fn generate_password() -> SecretString {
    let mut password = String::with_capacity(24);
    password.extend(OsRng.sample_iter(&Alphanumeric).take(24).map(char::from));
    SecretString::from(password)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHasher;

    use super::*;

    const AAD: Aad<'static> = Aad {
        workspace_id: "ws",
        secret_id: "db-password",
        version: 3,
    };

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(pkce_challenge(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches("another", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn derived_values_differ_by_purpose_input_and_key() {
        let hasher = RootKey::generate(1).token_hasher();
        let a = hasher.derive("nonce", "state-1");
        assert_eq!(a.expose_secret().len(), 43);
        assert_eq!(a.expose_secret(), hasher.derive("nonce", "state-1").expose_secret());
        assert_ne!(a.expose_secret(), hasher.derive("pkce", "state-1").expose_secret());
        assert_ne!(a.expose_secret(), hasher.derive("nonce", "state-2").expose_secret());
        let other = RootKey::generate(1).token_hasher();
        assert_ne!(a.expose_secret(), other.derive("nonce", "state-1").expose_secret());
    }

    fn sealed(root: &RootKey) -> Sealed {
        seal(root, &AAD, b"hunter2").unwrap()
    }

    fn opens(root: &RootKey, aad: &Aad<'_>, sealed: &Sealed) -> bool {
        match open(root, aad, sealed) {
            Ok(plain) => plain.expose_secret() == b"hunter2",
            Err(CryptoError::Decrypt) => false,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn round_trip() {
        let root = RootKey::generate(1);
        assert!(opens(&root, &AAD, &sealed(&root)));
        let empty = seal(&root, &AAD, b"").unwrap();
        assert!(open(&root, &AAD, &empty).unwrap().expose_secret().is_empty());
    }

    #[test]
    fn each_aad_field_is_bound() {
        let root = RootKey::generate(1);
        let s = sealed(&root);
        let aad = |workspace_id, secret_id, version| Aad {
            workspace_id,
            secret_id,
            version,
        };
        assert!(opens(&root, &aad("ws", "db-password", 3), &s));
        assert!(!opens(&root, &aad("ws2", "db-password", 3), &s));
        assert!(!opens(&root, &aad("ws", "other", 3), &s));
        assert!(!opens(&root, &aad("ws", "db-password", 4), &s));
        // Length prefixes keep the boundary between the ids unambiguous.
        assert!(!opens(&root, &aad("wsd", "b-password", 3), &s));
    }

    #[test]
    fn wrong_root_key_and_version_mismatch_fail() {
        let root = RootKey::generate(1);
        let s = sealed(&root);
        assert!(!opens(&RootKey::generate(1), &AAD, &s));
        assert!(!opens(
            &root,
            &AAD,
            &Sealed {
                key_version: 2,
                ..s.clone()
            }
        ));
        let same_bytes_v2 = RootKey::from_encoded(2, root.encode().expose_secret()).unwrap();
        assert!(!opens(&same_bytes_v2, &AAD, &s));
    }

    #[test]
    fn every_flipped_bit_fails() {
        let root = RootKey::generate(1);
        let s = sealed(&root);
        for i in 0..s.ciphertext.len() * 8 {
            let mut t = s.clone();
            t.ciphertext[i / 8] ^= 1 << (i % 8);
            assert!(!opens(&root, &AAD, &t), "ciphertext bit {i}");
        }
        for i in 0..s.wrapped_dek.len() * 8 {
            let mut t = s.clone();
            t.wrapped_dek[i / 8] ^= 1 << (i % 8);
            assert!(!opens(&root, &AAD, &t), "wrapped_dek bit {i}");
        }
    }

    #[test]
    fn truncated_inputs_fail_without_panic() {
        let root = RootKey::generate(1);
        let s = sealed(&root);
        for len in 0..=HEADER_LEN + NONCE_LEN + 16 {
            let t = Sealed {
                ciphertext: s.ciphertext[..len].to_vec(),
                ..s.clone()
            };
            assert!(!opens(&root, &AAD, &t), "ciphertext len {len}");
            let t = Sealed {
                wrapped_dek: s.wrapped_dek[..len].to_vec(),
                ..s.clone()
            };
            assert!(!opens(&root, &AAD, &t), "wrapped_dek len {len}");
        }
    }

    #[test]
    fn seals_are_fresh() {
        let root = RootKey::generate(1);
        let (a, b) = (sealed(&root), sealed(&root));
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_ne!(a.wrapped_dek, b.wrapped_dek);
        assert_eq!(a.ciphertext[..HEADER_LEN], [1, 0, 0, 0, 1]);
    }

    #[test]
    fn rewrap_moves_to_new_key() {
        let (old, new) = (RootKey::generate(1), RootKey::generate(2));
        let s = sealed(&old);
        let r = rewrap(&old, &new, &AAD, &s).unwrap();
        assert_eq!(r.ciphertext, s.ciphertext);
        assert_eq!(r.key_version, 2);
        assert!(opens(&new, &AAD, &r));
        assert!(!opens(&old, &AAD, &r));
        assert!(!opens(&old, &AAD, &Sealed { key_version: 1, ..r }));
        assert!(rewrap(&new, &old, &AAD, &s).is_err());
    }

    fn opens_with_kek(kek: &Kek, aad: &Aad<'_>, sealed: &Sealed) -> bool {
        open_with_kek(kek, aad, sealed).is_ok_and(|p| p.expose_secret() == b"hunter2")
    }

    #[test]
    fn kek_seal_round_trip_and_refusals() {
        let (root, kek) = (RootKey::generate(1), Kek::generate(1));
        let s = seal_with_kek(&kek, &AAD, b"hunter2").unwrap();
        assert_eq!(s.key_version, 1);
        assert_eq!(s.wrapped_dek[0], KEK_DEK_FORMAT);
        assert_eq!(wrapped_by(&s), Some(WrappedBy::Kek(1)));
        assert!(opens_with_kek(&kek, &AAD, &s));
        // Same version number, other key; the root key of the same version; another AAD.
        assert!(!opens_with_kek(&Kek::generate(1), &AAD, &s));
        assert!(!opens(&root, &AAD, &s));
        assert!(!opens_with_kek(
            &kek,
            &Aad {
                secret_id: "other",
                ..AAD
            },
            &s
        ));
        for i in 0..s.wrapped_dek.len() * 8 {
            let mut t = s.clone();
            t.wrapped_dek[i / 8] ^= 1 << (i % 8);
            assert!(!opens_with_kek(&kek, &AAD, &t), "wrapped_dek bit {i}");
        }
        // A root-wrapped DEK (the format of rows written before the keyring) is told apart and
        // does not open under a KEK.
        let old = sealed(&root);
        assert_eq!(wrapped_by(&old), Some(WrappedBy::RootKey));
        assert!(!opens_with_kek(&kek, &AAD, &old));
        assert_eq!(
            wrapped_by(&Sealed {
                wrapped_dek: vec![9; 40],
                ..old.clone()
            }),
            None
        );
        assert_eq!(
            wrapped_by(&Sealed {
                wrapped_dek: vec![2, 0],
                ..old
            }),
            None
        );
    }

    #[test]
    fn rewrap_to_kek_from_root_and_from_older_kek() {
        let (root, k1, k2) = (RootKey::generate(1), Kek::generate(1), Kek::generate(2));
        let old = sealed(&root);
        let r1 = rewrap_to_kek(DekWrapper::Root(&root), &k1, &AAD, &old).unwrap();
        assert_eq!(r1.ciphertext, old.ciphertext);
        assert_eq!(wrapped_by(&r1), Some(WrappedBy::Kek(1)));
        assert!(opens_with_kek(&k1, &AAD, &r1));
        let r2 = rewrap_to_kek(DekWrapper::Kek(&k1), &k2, &AAD, &r1).unwrap();
        assert_eq!((r2.key_version, wrapped_by(&r2)), (2, Some(WrappedBy::Kek(2))));
        assert!(opens_with_kek(&k2, &AAD, &r2));
        assert!(!opens_with_kek(&k1, &AAD, &r2));
        assert!(rewrap_to_kek(DekWrapper::Kek(&k2), &k1, &AAD, &r1).is_err());
    }

    #[test]
    fn wrapped_kek_unwraps_only_with_its_root_key_and_version() {
        let (root, kek) = (RootKey::generate(1), Kek::generate(3));
        let wrapped = wrap_kek(&root, &kek).unwrap();
        let back = unwrap_kek(&root, 3, &wrapped).unwrap();
        assert_eq!(back.version(), 3);
        let s = seal_with_kek(&kek, &AAD, b"hunter2").unwrap();
        assert!(opens_with_kek(&back, &AAD, &s));
        assert!(matches!(
            unwrap_kek(&RootKey::generate(1), 3, &wrapped),
            Err(CryptoError::WrongRootKey)
        ));
        assert!(matches!(unwrap_kek(&root, 4, &wrapped), Err(CryptoError::WrongRootKey)));
        for i in 0..wrapped.len() * 8 {
            let mut t = wrapped.clone();
            t[i / 8] ^= 1 << (i % 8);
            assert!(unwrap_kek(&root, 3, &t).is_err(), "bit {i}");
        }
        for len in 0..wrapped.len() {
            assert!(unwrap_kek(&root, 3, &wrapped[..len]).is_err(), "len {len}");
        }
        // The wrapped KEK holds the key in no readable form.
        // EXPOSE: test only.
        let raw = kek.key.expose_secret();
        assert!(!wrapped.windows(KEY_LEN).any(|w| w == raw));
    }

    #[test]
    fn a_wrapped_origin_key_opens_only_with_the_key_that_wrapped_it() {
        let (origin, new) = (RootKey::generate(1), RootKey::generate(1));
        let wrapped = wrap_origin(&new, &origin).unwrap();
        let back = unwrap_origin(&new, &wrapped).unwrap();
        assert_eq!(back.encode().expose_secret(), origin.encode().expose_secret());
        assert_eq!(back.version(), 1);
        assert!(matches!(
            unwrap_origin(&origin, &wrapped),
            Err(CryptoError::WrongRootKey)
        ));
        // Not interchangeable with a wrapped KEK (distinct associated data).
        assert!(unwrap_kek(&new, 1, &wrapped).is_err());
        let kek = wrap_kek(&new, &Kek::generate(1)).unwrap();
        assert!(unwrap_origin(&new, &kek).is_err());
    }

    #[test]
    fn check_value() {
        let root = RootKey::generate(7);
        let check = root.check_value();
        assert_ne!(check, root.check_value());
        root.verify_check_value(&check).unwrap();
        for garbage in [&b""[..], b"garbage", &check[..check.len() - 1]] {
            assert!(matches!(
                root.verify_check_value(garbage),
                Err(CryptoError::WrongRootKey)
            ));
        }
        let other = RootKey::generate(7);
        assert!(matches!(
            other.verify_check_value(&check),
            Err(CryptoError::WrongRootKey)
        ));
    }

    #[test]
    fn encoded_key_round_trip_and_refusals() {
        let root = RootKey::generate(4);
        let encoded = root.encode();
        let back = RootKey::from_encoded(4, &format!("  {}\n", encoded.expose_secret())).unwrap();
        assert_eq!(back.key.expose_secret(), root.key.expose_secret());
        assert_eq!(back.version(), 4);
        let short = STANDARD.encode([1u8; 31]);
        let long = STANDARD.encode([1u8; 33]);
        for bad in ["", "not base64!", &short, &long, &URL_SAFE_NO_PAD.encode([0xffu8; 32])] {
            assert!(
                matches!(RootKey::from_encoded(1, bad), Err(CryptoError::InvalidKey(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn passphrase_derivation() {
        let pass = SecretString::from("correct horse battery staple");
        let a = RootKey::from_passphrase(1, &pass, &[7; 16]).unwrap();
        let b = RootKey::from_passphrase(1, &pass, &[7; 16]).unwrap();
        assert_eq!(a.key.expose_secret(), b.key.expose_secret());
        let short = RootKey::from_passphrase(1, &pass, &[7; 15]);
        assert!(matches!(short, Err(CryptoError::InvalidKey(_))));
    }

    #[test]
    fn debug_is_redacted() {
        let root = RootKey::generate(9);
        let key = root.key.expose_secret();
        let hasher = root.token_hasher();
        let s = sealed(&root);
        let shown = format!("{root:?} {hasher:?} {s:?}");
        for secret in [key.as_slice(), hasher.key.expose_secret()] {
            assert!(!shown.contains(&hex(secret)), "{shown}");
            assert!(!shown.contains(&STANDARD.encode(secret)), "{shown}");
            assert!(!shown.contains(&format!("{secret:?}")), "{shown}");
        }
        assert!(!shown.contains(&format!("{:?}", s.ciphertext)), "{shown}");
        assert_eq!(format!("{root:?}"), r#"RootKey { version: 9, key: "[REDACTED]" }"#);
    }

    #[test]
    fn password_hash_and_verify() {
        let mut area = PasswordWorkArea::new().unwrap();
        let pw = SecretString::from("s3cret pässword");
        let phc = area.hash(&pw).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(area.verify(&pw, &phc));
        assert!(!area.verify(&SecretString::from("wrong"), &phc));
        assert!(area.verify(&pw, &phc), "the area is reused");
        assert_ne!(phc, area.hash(&pw).unwrap());
        for garbage in ["", "garbage", "$argon2id$v=19$m=19456,t=2,p=1$", &phc[..phc.len() - 5]] {
            assert!(!area.verify(&pw, garbage));
        }
        let huge = phc.replace("m=19456", "m=4294967295");
        assert!(!area.verify(&pw, &huge));
        let bigger_than_the_area = phc.replace("m=19456", "m=19460");
        assert!(!area.verify(&pw, &bigger_than_the_area));
        area.burn(&pw);
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_itself_verify() {
        // Hashes stored before the work area existed were made by `PasswordHasher`.
        let pw = SecretString::from("an older password");
        let salt = SaltString::generate(&mut OsRng);
        let phc = password_argon2()
            .unwrap()
            .hash_password(pw.expose_secret().as_bytes(), &salt)
            .unwrap()
            .to_string();
        let mut area = PasswordWorkArea::new().unwrap();
        assert!(area.verify(&pw, &phc));
        assert!(!area.verify(&SecretString::from("another"), &phc));
        // A smaller cost (a test fixture, say) fits in the area too.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(pw.expose_secret().as_bytes(), &salt)
        .unwrap()
        .to_string();
        assert!(area.verify(&pw, &small));
    }

    #[test]
    fn generated_passwords() {
        let a = generate_password();
        assert_eq!(a.expose_secret().len(), 24);
        assert!(a.expose_secret().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a.expose_secret(), generate_password().expose_secret());
    }

    #[test]
    fn token_shape() {
        let token = generate_token();
        let t = token.expose_secret();
        assert_eq!(t.len(), 47);
        assert!(t.starts_with(TOKEN_PREFIX));
        assert!(is_well_formed_token(t));
        assert_ne!(t, generate_token().expose_secret());
        let body = &t[4..];
        let bad = [
            String::new(),
            TOKEN_PREFIX.to_owned(),
            format!("sbx-{body}"),
            format!("{t}A"),
            t[..46].to_owned(),
            format!("sbx_{}", &body[..41]) + "+/",
            format!("sbx_{}é", &body[..41]),
            format!("sbx_{}B", &body[..42]), // non-canonical trailing bits
        ];
        for b in &bad {
            assert!(!is_well_formed_token(b), "{b}");
        }
    }

    #[test]
    fn the_shown_prefix_is_eight_characters_after_sbx() {
        let token = generate_token();
        let t = token.expose_secret();
        let prefix = token_shown_prefix(t).unwrap();
        assert_eq!(prefix.len(), 8);
        assert_eq!(&t[4..12], prefix);
        // What stays hidden is most of the token: 35 of 43 characters, 208 of 256 bits.
        assert_eq!(t.len() - TOKEN_PREFIX.len() - prefix.len(), 35);
        assert_eq!(token_shown_prefix("sbx_short"), None);
        assert_eq!(
            token_shown_prefix("not a token at all, not a token at all, not a token"),
            None
        );
    }

    #[test]
    fn token_check_never_panics() {
        let alphabet: Vec<char> = "sbx_AZaz09-+/=é€😀\u{0}".chars().collect();
        let mut rng = rand::thread_rng();
        for i in 0..20_000 {
            // Half random strings, half valid tokens with a few characters replaced.
            let mut chars: Vec<char> = if i % 2 == 0 {
                generate_token().expose_secret().chars().collect()
            } else {
                (0..rng.gen_range(0..60)).map(|_| 'a').collect()
            };
            for _ in 0..rng.gen_range(0..4) {
                if let Some(c) = chars.get_mut(rng.gen_range(0..48)) {
                    *c = alphabet[rng.gen_range(0..alphabet.len())];
                }
            }
            let s: String = chars.into_iter().collect();
            let expected = s.len() == 47 && s.starts_with(TOKEN_PREFIX) && URL_SAFE_NO_PAD.decode(&s[4..]).is_ok();
            assert_eq!(is_well_formed_token(&s), expected, "{s}");
        }
    }

    #[test]
    fn token_hasher_is_deterministic_and_keyed() {
        let root = RootKey::generate(1);
        let token = generate_token();
        let t = token.expose_secret();
        let h = root.token_hasher().hash(t);
        assert_eq!(h.len(), 32);
        assert_eq!(h, root.token_hasher().hash(t));
        assert!(root.token_hasher().matches(t, &h));
        assert!(!root.token_hasher().matches("sbx_other", &h));
        assert!(!root.token_hasher().matches(t, &h[..31]));
        assert_ne!(h, RootKey::generate(1).token_hasher().hash(t));
        assert_ne!(root.token_hasher().key.expose_secret(), root.key.expose_secret());
    }

    #[test]
    fn hmac_matches_reference() {
        let key = [0x0bu8; 32];
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"Hi There");
        assert_eq!(hmac_sha256(&key, b"Hi There"), <Key>::from(mac.finalize().into_bytes()));
    }
}
