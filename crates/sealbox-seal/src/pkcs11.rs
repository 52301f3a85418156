//! A PKCS#11 token (an HSM, or SoftHSM2) as the root key's protector, through `cryptoki`.
//!
//! The key is a 256-bit AES secret key (`CKK_AES`) found by its label (`CKA_LABEL`) in one slot,
//! used after logging in as the user with the PIN. Wrap encrypts the root key inside the token
//! with `CKM_AES_GCM` (a random 12-byte IV from the operating system, a 128-bit tag, the AAD
//! `sealbox root key`); the blob is `FORMAT_GCM || IV || ciphertext || tag`. Unwrap decrypts inside the
//! token. The key never leaves it.
//!
//! PKCS#11 calls block, so each runs on tokio's blocking pool. A library is loaded and initialised
//! once per process (`C_Initialize` is process-wide) and every call holds one process-wide lock:
//! a token's login state is shared by all sessions of the process, so one call's logout must not
//! cut another's work short. Each call opens a session, logs in, works, logs out and closes it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11 as Context};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::Ulong;
use rand::RngCore;
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::{ProtectorError, shorten};

/// The first byte of a blob: AES-GCM inside the token, then a 12-byte IV.
const FORMAT_GCM: u8 = 0x01;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Authenticated with every blob, so a GCM ciphertext the token made for something else is refused.
const AAD: &[u8] = b"sealbox root key";

/// `--seal pkcs11`: which library, slot and key, and the user PIN.
pub struct Pkcs11Config {
    pub lib: PathBuf,
    pub slot: u64,
    pub key_label: String,
    pub pin: SecretString,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("lib", &self.lib)
            .field("slot", &self.slot)
            .field("key_label", &self.key_label)
            .field("pin", &"[REDACTED]")
            .finish()
    }
}

/// A PKCS#11 token wrapping and unwrapping the root key. `Debug` shows no PIN.
#[derive(Clone)]
pub struct Pkcs11 {
    inner: Arc<Inner>,
}

struct Inner {
    context: Context,
    lib: PathBuf,
    slot: u64,
    key_label: String,
    pin: SecretString,
}

impl std::fmt::Debug for Pkcs11 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11")
            .field("lib", &self.inner.lib)
            .field("slot", &self.inner.slot)
            .field("key_label", &self.inner.key_label)
            .field("pin", &"[REDACTED]")
            .finish()
    }
}

/// The libraries this process has loaded and initialised, by path.
static CONTEXTS: Mutex<Vec<(PathBuf, Context)>> = Mutex::new(Vec::new());
/// Held by every token operation (see the module's documentation).
static TOKEN_LOCK: Mutex<()> = Mutex::new(());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Loads and initialises the library once per process. Another part of the process (a test's
/// token set-up) may have initialised it already: that is fine.
fn context_for(lib: &Path) -> Result<Context, ProtectorError> {
    if !lib.is_file() {
        return Err(ProtectorError::Refused(format!(
            "the PKCS#11 library {} does not exist: give --pkcs11-lib the path of your HSM's PKCS#11 module \
             (SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)",
            lib.display()
        )));
    }
    let path = lib.canonicalize().unwrap_or_else(|_| lib.to_path_buf());
    let mut contexts = lock(&CONTEXTS);
    if let Some((_, context)) = contexts.iter().find(|(p, _)| *p == path) {
        return Ok(context.clone());
    }
    let context = Context::new(&path).map_err(|e| {
        ProtectorError::Refused(format!(
            "the PKCS#11 library {} cannot be loaded ({}): give --pkcs11-lib the path of your HSM's PKCS#11 module",
            lib.display(),
            shorten(&e.to_string(), 200)
        ))
    })?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(ProtectorError::Unavailable(format!(
                "the PKCS#11 library {} failed to initialise ({}): check the HSM's configuration",
                lib.display(),
                ck_text(&e)
            )));
        }
    }
    contexts.push((path, context.clone()));
    Ok(context)
}

/// The PKCS#11 return value's name as the standard spells it (`CKR_PIN_INCORRECT`) and the
/// function that returned it, never anything else.
fn ck_text(error: &CkError) -> String {
    match error {
        CkError::Pkcs11(rv, function) => format!("C_{function:?}: {}", ckr_name(*rv)),
        other => shorten(&other.to_string(), 200),
    }
}

/// `RvError::PinIncorrect` → `CKR_PIN_INCORRECT`.
fn ckr_name(rv: RvError) -> String {
    let mut name = String::from("CKR");
    for c in format!("{rv:?}").chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

impl Pkcs11 {
    /// Loads the library (a missing or unloadable library is refused here, at start); the slot,
    /// PIN and key are checked by each call.
    pub fn new(config: Pkcs11Config) -> Result<Pkcs11, ProtectorError> {
        let key_label = config.key_label.trim().to_owned();
        if key_label.is_empty() {
            return Err(ProtectorError::Refused(
                "the PKCS#11 key label is empty: give --pkcs11-key-label the label (CKA_LABEL) of the AES key".into(),
            ));
        }
        let context = context_for(&config.lib)?;
        Ok(Pkcs11 {
            inner: Arc::new(Inner {
                context,
                lib: config.lib,
                slot: config.slot,
                key_label,
                pin: config.pin,
            }),
        })
    }

    /// The label of the AES key in the token.
    pub fn key_label(&self) -> &str {
        &self.inner.key_label
    }

    /// "PKCS#11 key sealbox-root in slot 1234 of /usr/lib/softhsm/libsofthsm2.so", for messages.
    pub fn describe(&self) -> String {
        let inner = &self.inner;
        format!(
            "PKCS#11 key {} in slot {} of {}",
            inner.key_label,
            inner.slot,
            inner.lib.display()
        )
    }

    /// AES-GCM encryption of the root key inside the token; the blob to store in the database.
    pub async fn wrap(&self, root_key: &[u8]) -> Result<Vec<u8>, ProtectorError> {
        if root_key.is_empty() {
            return Err(ProtectorError::Refused("there is no key to wrap (0 bytes)".into()));
        }
        let inner = self.inner.clone();
        let root_key = Zeroizing::new(root_key.to_vec());
        blocking(move || inner.wrap(&root_key)).await
    }

    /// AES-GCM decryption inside the token of a blob from [`Pkcs11::wrap`]; the root key, wiped
    /// on drop.
    pub async fn unwrap(&self, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        let inner = self.inner.clone();
        let blob = blob.to_vec();
        blocking(move || inner.unwrap(&blob)).await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProtectorError> + Send + 'static,
) -> Result<T, ProtectorError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
        Err(ProtectorError::Unavailable(
            "the PKCS#11 call did not complete (its thread stopped); retrying".into(),
        ))
    })
}

impl Inner {
    fn wrap(&self, root_key: &[u8]) -> Result<Vec<u8>, ProtectorError> {
        let mut iv = [0u8; IV_LEN];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let mut gcm_iv = iv;
        let ciphertext = self.with_key(|session, key| {
            let params = GcmParams::new(&mut gcm_iv, AAD, Ulong::from(TAG_LEN as u64 * 8))
                .map_err(|e| self.error(&e, Step::Encrypt))?;
            session
                .encrypt(&Mechanism::AesGcm(params), key, root_key)
                .map_err(|e| self.error(&e, Step::Encrypt))
        })?;
        let mut blob = Vec::with_capacity(1 + IV_LEN + ciphertext.len());
        blob.push(FORMAT_GCM);
        blob.extend_from_slice(&iv);
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    fn unwrap(&self, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        let Some((&FORMAT_GCM, rest)) = blob.split_first() else {
            return Err(self.not_ours());
        };
        if rest.len() <= IV_LEN + TAG_LEN {
            return Err(self.not_ours());
        }
        let (iv, ciphertext) = rest.split_at(IV_LEN);
        let mut iv: [u8; IV_LEN] = iv.try_into().map_err(|_| self.not_ours())?;
        self.with_key(|session, key| {
            let params = GcmParams::new(&mut iv, AAD, Ulong::from(TAG_LEN as u64 * 8))
                .map_err(|e| self.error(&e, Step::Decrypt))?;
            session
                .decrypt(&Mechanism::AesGcm(params), key, ciphertext)
                .map(Zeroizing::new)
                .map_err(|e| self.error(&e, Step::Decrypt))
        })
    }

    /// Opens a session on the slot, logs in, finds the key and runs `work`; logs out and closes
    /// the session whatever happened.
    fn with_key<T>(
        &self,
        work: impl FnOnce(&Session, ObjectHandle) -> Result<T, ProtectorError>,
    ) -> Result<T, ProtectorError> {
        let _serialised = lock(&TOKEN_LOCK);
        let slot = Slot::try_from(self.slot).map_err(|_| self.no_slot())?;
        let session = self
            .context
            .open_ro_session(slot)
            .map_err(|e| self.error(&e, Step::Open))?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(self.error(&e, Step::Login)),
        }
        let result = self.find_key(&session).and_then(|key| work(&session, key));
        let _ = session.logout();
        let _ = session.close();
        result
    }

    fn find_key(&self, session: &Session) -> Result<ObjectHandle, ProtectorError> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(self.key_label.as_bytes().to_vec()),
        ];
        let found = session
            .find_objects(&template)
            .map_err(|e| self.error(&e, Step::Find))?;
        let key = match found.as_slice() {
            [key] => *key,
            [] => {
                return Err(ProtectorError::Refused(format!(
                    "there is no AES key labelled {} in the token in slot {}: check --pkcs11-key-label and \
                     --pkcs11-slot, or create the key (see the README, \"Keys, sealing and rotation\")",
                    self.key_label, self.slot
                )));
            }
            more => {
                return Err(ProtectorError::Refused(format!(
                    "{} AES keys are labelled {} in the token in slot {}: give the key sealbox uses a label of \
                     its own",
                    more.len(),
                    self.key_label,
                    self.slot
                )));
            }
        };
        let attributes = session
            .get_attributes(key, &[AttributeType::ValueLen])
            .map_err(|e| self.error(&e, Step::Find))?;
        let length = attributes.iter().find_map(|a| match a {
            Attribute::ValueLen(len) => Some(u64::from(*len)),
            _ => None,
        });
        if let Some(length) = length
            && length != 32
        {
            return Err(ProtectorError::Refused(format!(
                "the key {} in slot {} is AES-{}: sealbox needs a 256-bit AES key (pkcs11-tool --keygen --key-type AES:32)",
                self.key_label,
                self.slot,
                length * 8
            )));
        }
        Ok(key)
    }

    fn not_ours(&self) -> ProtectorError {
        ProtectorError::Refused(format!(
            "the sealed root key is not a blob sealed by a PKCS#11 key (unknown format or too short): start with \
             the key source that sealed this server, or restore the database from a backup (key {} in slot {})",
            self.key_label, self.slot
        ))
    }

    fn no_slot(&self) -> ProtectorError {
        ProtectorError::Refused(format!(
            "there is no slot {} in {}: list the slots with pkcs11-tool --module {} --list-slots (SoftHSM2 gives \
             an initialised token a new slot number: softhsm2-util --show-slots)",
            self.slot,
            self.inner_lib(),
            self.inner_lib()
        ))
    }

    fn inner_lib(&self) -> String {
        self.lib.display().to_string()
    }

    /// A cryptoki error into a protector error: what is wrong and what to do. Only the return
    /// value's name is shown; the PIN never is.
    fn error(&self, error: &CkError, step: Step) -> ProtectorError {
        let slot = self.slot;
        let label = &self.key_label;
        let rv = match error {
            CkError::Pkcs11(rv, _) => *rv,
            other => {
                return ProtectorError::Refused(format!(
                    "the PKCS#11 library {} failed ({}) with the key {label} in slot {slot}",
                    self.inner_lib(),
                    ck_text(other)
                ));
            }
        };
        let name = ckr_name(rv);
        match rv {
            RvError::SlotIdInvalid => self.no_slot(),
            RvError::TokenNotPresent
            | RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::DeviceMemory
            | RvError::HostMemory
            | RvError::SessionCount
            | RvError::TokenNotRecognized
            | RvError::FunctionCanceled
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::CryptokiNotInitialized => ProtectorError::Unavailable(format!(
                "the token in slot {slot} is not available ({name}): check that the HSM is connected; retrying"
            )),
            RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange => ProtectorError::Refused(format!(
                "the token in slot {slot} refused the PIN ({name}): give sealbox the user PIN of that token"
            )),
            RvError::PinLocked => ProtectorError::Refused(format!(
                "the user PIN of the token in slot {slot} is locked after too many wrong PINs ({name}): the token's \
                 security officer must unlock it (e.g. softhsm2-util or pkcs11-tool --init-pin)"
            )),
            RvError::PinExpired => ProtectorError::Refused(format!(
                "the user PIN of the token in slot {slot} has expired ({name}): set a new one (pkcs11-tool --change-pin)"
            )),
            RvError::UserPinNotInitialized => ProtectorError::Refused(format!(
                "the token in slot {slot} has no user PIN yet ({name}): initialise it (softhsm2-util --init-token, \
                 or pkcs11-tool --init-pin)"
            )),
            RvError::MechanismInvalid | RvError::MechanismParamInvalid => ProtectorError::Refused(format!(
                "the token in slot {slot} cannot do AES-GCM with the key {label} ({name}): sealbox needs CKM_AES_GCM"
            )),
            RvError::KeyFunctionNotPermitted | RvError::KeyTypeInconsistent | RvError::KeyHandleInvalid => {
                ProtectorError::Refused(format!(
                    "the key {label} in slot {slot} may not {} ({name}): create it with CKA_ENCRYPT and CKA_DECRYPT \
                     set",
                    if step == Step::Encrypt { "encrypt" } else { "decrypt" }
                ))
            }
            RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange | RvError::DataInvalid
                if step == Step::Decrypt =>
            {
                self.undecryptable(&name)
            }
            _ if step == Step::Decrypt => self.undecryptable(&name),
            _ => ProtectorError::Refused(format!(
                "the token in slot {slot} refused to {} with the key {label} ({name})",
                step.verb()
            )),
        }
    }

    fn undecryptable(&self, name: &str) -> ProtectorError {
        ProtectorError::Refused(format!(
            "the key {} in slot {} cannot decrypt the sealed root key ({name}): it is damaged or was sealed with \
             another key; start with the key that sealed this server, or restore the database from a backup",
            self.key_label, self.slot
        ))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Step {
    Open,
    Login,
    Find,
    Encrypt,
    Decrypt,
}

impl Step {
    fn verb(self) -> &'static str {
        match self {
            Step::Open => "open a session",
            Step::Login => "log in",
            Step::Find => "find keys",
            Step::Encrypt => "encrypt",
            Step::Decrypt => "decrypt",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_values_are_named_as_the_standard_spells_them() {
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(ckr_name(RvError::SlotIdInvalid), "CKR_SLOT_ID_INVALID");
        assert_eq!(ckr_name(RvError::GeneralError), "CKR_GENERAL_ERROR");
    }
}
