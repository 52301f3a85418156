//! `Pkcs11` against a real SoftHSM2 token (sealbox-test-peers' `SoftHsm`: one token per test
//! process, with the AES keys `SOFTHSM_KEYS` and a 128-bit one).

use std::path::PathBuf;

use sealbox_seal::{Pkcs11, Pkcs11Config, ProtectorError};
use sealbox_test_peers::{SOFTHSM_AES128_KEY, SOFTHSM_KEYS, SoftHsm};
use secrecy::SecretString;

use crate::{ROOT_KEY, assert_clean};

fn config(hsm: &SoftHsm, label: &str) -> Pkcs11Config {
    Pkcs11Config {
        lib: hsm.lib.clone(),
        slot: hsm.slot,
        key_label: label.into(),
        pin: SecretString::from(hsm.user_pin),
    }
}

fn token(hsm: &SoftHsm, label: &str) -> Pkcs11 {
    Pkcs11::new(config(hsm, label)).unwrap()
}

fn refused(hsm: &SoftHsm, result: Result<impl std::fmt::Debug, ProtectorError>, extra: &[&str]) -> ProtectorError {
    match result {
        Err(e @ ProtectorError::Refused(_)) => {
            let secrets: Vec<&str> = [hsm.user_pin].into_iter().chain(extra.iter().copied()).collect();
            assert_clean(&e, &secrets);
            e
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrapped_root_key_unwraps_and_two_wraps_differ() {
    let Some(hsm) = SoftHsm::get() else { return };
    let a = token(hsm, SOFTHSM_KEYS[0]);
    let first = a.wrap(ROOT_KEY).await.unwrap();
    let second = a.wrap(ROOT_KEY).await.unwrap();
    assert_ne!(first, second, "each wrap has its own IV");
    // Format byte, 12-byte IV, ciphertext as long as the key, 16-byte tag.
    assert_eq!(first.len(), 1 + 12 + ROOT_KEY.len() + 16);
    assert_eq!(first[0], 0x01);
    for blob in [&first, &second] {
        assert!(
            !blob.windows(8).any(|w| ROOT_KEY.windows(8).any(|k| k == w)),
            "root key bytes in the blob"
        );
        assert_eq!(a.unwrap(blob).await.unwrap().as_slice(), ROOT_KEY);
    }
    // Another protector for the same key (another process's, say) opens it too.
    assert_eq!(
        token(hsm, SOFTHSM_KEYS[0]).unwrap(&first).await.unwrap().as_slice(),
        ROOT_KEY
    );
    assert_eq!(
        a.describe(),
        format!(
            "PKCS#11 key {} in slot {} of {}",
            SOFTHSM_KEYS[0],
            hsm.slot,
            hsm.lib.display()
        )
    );
    let shown = format!("{a:?} {:?}", config(hsm, SOFTHSM_KEYS[0]));
    assert!(!shown.contains(hsm.user_pin), "{shown}");
}

#[tokio::test]
async fn calls_from_many_tasks_at_once_all_succeed() {
    // A token's login state is shared by the whole process: one call's logout must not cut
    // another's short.
    let Some(hsm) = SoftHsm::get() else { return };
    let a = token(hsm, SOFTHSM_KEYS[0]);
    let b = token(hsm, SOFTHSM_KEYS[1]);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let protector = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let blob = protector.wrap(ROOT_KEY).await?;
            protector.unwrap(&blob).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().as_slice(), ROOT_KEY);
    }
}

#[tokio::test]
async fn a_wrong_pin_is_refused_without_showing_either_pin() {
    let Some(hsm) = SoftHsm::get() else { return };
    let wrong_pin = "sbx-wrong-pin-Tyu";
    let mut config = config(hsm, SOFTHSM_KEYS[0]);
    config.pin = SecretString::from(wrong_pin);
    let protector = Pkcs11::new(config).unwrap();
    let err = refused(hsm, protector.wrap(ROOT_KEY).await, &[wrong_pin]);
    assert!(
        err.to_string()
            .starts_with(&format!("the token in slot {} refused the PIN", hsm.slot)),
        "{err}"
    );
    refused(hsm, protector.unwrap(&[1; 61]).await, &[wrong_pin]);
    let shown = format!("{protector:?}");
    assert!(!shown.contains(wrong_pin), "{shown}");
}

#[tokio::test]
async fn no_key_with_that_label_is_refused_naming_the_label() {
    let Some(hsm) = SoftHsm::get() else { return };
    let err = refused(hsm, token(hsm, "no-such-key").wrap(ROOT_KEY).await, &[]);
    assert!(
        err.to_string().starts_with(&format!(
            "there is no AES key labelled no-such-key in the token in slot {}",
            hsm.slot
        )),
        "{err}"
    );
    // A 128-bit AES key is not enough.
    let err = refused(hsm, token(hsm, SOFTHSM_AES128_KEY).wrap(ROOT_KEY).await, &[]);
    assert!(
        err.to_string().contains("is AES-128: sealbox needs a 256-bit AES key"),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_slot_is_refused() {
    let Some(hsm) = SoftHsm::get() else { return };
    let slot = if hsm.slot == 4242 { 4243 } else { 4242 };
    let mut config = config(hsm, SOFTHSM_KEYS[0]);
    config.slot = slot;
    let err = refused(hsm, Pkcs11::new(config).unwrap().wrap(ROOT_KEY).await, &[]);
    assert!(
        err.to_string()
            .starts_with(&format!("there is no slot 4242 in {}", hsm.lib.display())),
        "{err}"
    );
}

#[tokio::test]
async fn a_library_that_does_not_exist_or_is_not_pkcs11_is_refused_naming_the_path() {
    let Some(hsm) = SoftHsm::get() else { return };
    let mut config = config(hsm, SOFTHSM_KEYS[0]);
    config.lib = PathBuf::from("/nonexistent/libpkcs11-missing.so");
    let err = refused(hsm, Pkcs11::new(config), &[]);
    assert!(
        err.to_string()
            .starts_with("the PKCS#11 library /nonexistent/libpkcs11-missing.so does not exist"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let not_a_library = dir.path().join("libnot-pkcs11.so");
    std::fs::write(&not_a_library, "not an ELF file").unwrap();
    let mut config = self::config(hsm, SOFTHSM_KEYS[0]);
    config.lib = not_a_library.clone();
    let err = refused(hsm, Pkcs11::new(config), &[]);
    assert!(
        err.to_string().starts_with(&format!(
            "the PKCS#11 library {} cannot be loaded",
            not_a_library.display()
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_blob_from_another_key_or_a_damaged_blob_is_refused() {
    let Some(hsm) = SoftHsm::get() else { return };
    let a = token(hsm, SOFTHSM_KEYS[0]);
    let b = token(hsm, SOFTHSM_KEYS[1]);
    let blob = a.wrap(ROOT_KEY).await.unwrap();

    let err = refused(hsm, b.unwrap(&blob).await, &[]);
    assert!(
        err.to_string().starts_with(&format!(
            "the key {} in slot {} cannot decrypt the sealed root key",
            SOFTHSM_KEYS[1], hsm.slot
        )),
        "{err}"
    );

    // One bit flipped in the IV, the ciphertext and the tag.
    for at in [3, 1 + 12 + 5, blob.len() - 1] {
        let mut damaged = blob.clone();
        damaged[at] ^= 0x01;
        let err = refused(hsm, a.unwrap(&damaged).await, &[]);
        assert!(
            err.to_string().contains("cannot decrypt the sealed root key"),
            "at {at}: {err}"
        );
    }
    // Another format byte, cut short, empty.
    let mut other_format = blob.clone();
    other_format[0] = 0x02;
    for damaged in [other_format, blob[..20].to_vec(), Vec::new()] {
        let err = refused(hsm, a.unwrap(&damaged).await, &[]);
        assert!(
            err.to_string().contains("is not a blob sealed by a PKCS#11 key"),
            "{err}"
        );
    }
    // The good blob still opens.
    assert_eq!(a.unwrap(&blob).await.unwrap().as_slice(), ROOT_KEY);
}
