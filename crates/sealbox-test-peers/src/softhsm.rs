//! SoftHSM2 (Debian's `softhsm2`) as a real PKCS#11 token for tests: ONE token directory per
//! test process, made on first use, because SoftHSM2 reads its configuration (`SOFTHSM2_CONF`,
//! a process-wide variable) once, when the library is initialised in the process.
//!
//! [`SoftHsm::get`] writes a `softhsm2.conf` whose `directories.tokendir` is a temporary
//! directory, points `SOFTHSM2_CONF` at it, initialises a token with `softhsm2-util --init-token
//! --free`, finds its slot by label, and generates the AES keys of [`SOFTHSM_KEYS`] (256-bit) and
//! [`SOFTHSM_AES128_KEY`] in it with cryptoki (`C_GenerateKey`: token objects, sensitive, not
//! extractable). All of it happens before any test can use the library, so no test races the
//! set-up. Without SoftHSM2 the caller skips, or fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

use crate::in_ci;

/// The labels of the 256-bit AES keys in the token: two, so a test can seal with one and try to
/// open with the other.
pub const SOFTHSM_KEYS: [&str; 2] = ["sealbox-root-a", "sealbox-root-b"];
/// The label of a 128-bit AES key in the token (sealbox wants 256 bits).
pub const SOFTHSM_AES128_KEY: &str = "sealbox-aes128";

/// The token every test of this process shares.
pub struct SoftHsm {
    /// The SoftHSM2 PKCS#11 library.
    pub lib: PathBuf,
    /// The token's slot (SoftHSM2 numbers it when the token is initialised).
    pub slot: u64,
    pub token_label: &'static str,
    /// The user PIN; letters, so that no number in a message can contain it by chance.
    pub user_pin: &'static str,
    /// The `softhsm2.conf` this process's `SOFTHSM2_CONF` names (children inherit the variable;
    /// a test that clears a child's environment passes it on).
    pub conf: PathBuf,
    _dir: tempfile::TempDir,
    _context: Pkcs11,
}

static SOFTHSM: OnceLock<Option<SoftHsm>> = OnceLock::new();

impl SoftHsm {
    /// The process's token, made on first call; `None` (the test skips) when SoftHSM2 is not
    /// installed, a failure under `CI=true`.
    pub fn get() -> Option<&'static SoftHsm> {
        SOFTHSM.get_or_init(SoftHsm::start).as_ref()
    }

    fn start() -> Option<SoftHsm> {
        let (Some(lib), Some(util)) = (softhsm_library(), on_path("softhsm2-util")) else {
            let message = "SoftHSM2 is not installed (libsofthsm2.so and softhsm2-util); install Debian's \
                           softhsm2 (scripts/test does)";
            if in_ci() {
                panic!("{message}; CI=true, so this test fails instead of skipping");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .unwrap();
        // SAFETY: set once per process, inside this OnceLock, before the library is loaded in
        // it; Rust's own readers of the environment take std's lock. SoftHSM2 reads the variable
        // in C_Initialize below.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("SOFTHSM2_CONF", &conf);
        }

        let token_label = "sealbox-test";
        let user_pin = "sbx-user-pin-Hqz";
        let init = Command::new(&util)
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                token_label,
                "--pin",
                user_pin,
                "--so-pin",
                "sbx-so-pin-Kwv",
            ])
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "softhsm2-util --init-token failed: {}{}",
            String::from_utf8_lossy(&init.stdout),
            String::from_utf8_lossy(&init.stderr)
        );

        let context = Pkcs11::new(&lib).unwrap();
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => panic!("SoftHSM2 did not initialise: {e}"),
        }
        let slot = context
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|slot| {
                context
                    .get_token_info(*slot)
                    .is_ok_and(|info| info.label().trim() == token_label)
            })
            .expect("the token just initialised has a slot");

        let session = context.open_rw_session(slot).unwrap();
        session
            .login(UserType::User, Some(&AuthPin::from(user_pin.to_owned())))
            .unwrap();
        let keys = SOFTHSM_KEYS
            .iter()
            .map(|l| (*l, 32u64))
            .chain([(SOFTHSM_AES128_KEY, 16)]);
        for (label, bytes) in keys {
            session
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::ValueLen(bytes.into()),
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Label(label.as_bytes().to_vec()),
                        Attribute::Encrypt(true),
                        Attribute::Decrypt(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                    ],
                )
                .unwrap();
        }
        session.logout().unwrap();
        session.close().unwrap();

        Some(SoftHsm {
            lib,
            slot: slot.id(),
            token_label,
            user_pin,
            conf,
            _dir: dir,
            _context: context,
        })
    }
}

/// `SEALBOX_TEST_SOFTHSM2_LIB`, else where Debian, Fedora and source builds put the library.
fn softhsm_library() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os("SEALBOX_TEST_SOFTHSM2_LIB") {
        return Some(PathBuf::from(given)).filter(|p| p.is_file());
    }
    let mut candidates: Vec<PathBuf> = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib64/pkcs11/libsofthsm2.so",
        "/usr/lib/pkcs11/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // Debian's multiarch directories: /usr/lib/<triplet>/softhsm/libsofthsm2.so.
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        candidates.extend(entries.flatten().map(|e| e.path().join("softhsm/libsofthsm2.so")));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
