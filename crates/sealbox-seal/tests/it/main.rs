//! sealbox-seal's integration tests, against real peers: moto in server mode for AWS KMS (a Python
//! subprocess per test) and SoftHSM2 for PKCS#11 (one token per test process).

// Test code: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod awskms;
mod pkcs11;

use base64::Engine;
use sealbox_seal::ProtectorError;

/// The root key the tests wrap: printable, so finding it in a message is a plain text search.
pub const ROOT_KEY: &[u8; 32] = b"sbx-root-key-0123456789abcdefXYZ";

/// `error`'s Display and Debug contain none of `secrets`, nor the root key (as text, hex or
/// base64).
pub fn assert_clean(error: &ProtectorError, secrets: &[&str]) {
    let hex: String = ROOT_KEY.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(ROOT_KEY);
    let root = String::from_utf8_lossy(ROOT_KEY).into_owned();
    for shown in [error.to_string(), format!("{error:?}")] {
        for needle in secrets
            .iter()
            .copied()
            .chain([root.as_str(), hex.as_str(), b64.as_str()])
        {
            assert!(!shown.contains(needle), "{needle:?} appears in {shown:?}");
        }
    }
}
