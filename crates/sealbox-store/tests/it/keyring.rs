//! Issue 12: the keyring table holds versioned wrapped KEKs; exactly one is active, a new one
//! retires the one before, and a version added twice (two replicas at once) is stored once.

use std::sync::Arc;

use sealbox_store::{
    KEYRING_ACTIVE, KEYRING_RETIRED, KeyVersionCounts, KeyringRow, Rekey, Rewrapped, Store, StoreError,
};

use crate::fixtures::{secrets, workspace};

use crate::harness::Db;

conformance!(
    a_new_version_becomes_active_and_retires_the_one_before,
    a_version_added_twice_is_stored_once,
    rewrapped_data_keys_are_stored_in_batches_unless_the_row_changed,
    a_rekey_replaces_the_keyring_and_check_value_at_once_or_not_at_all,
);

fn row(version: i64, byte: u8) -> KeyringRow {
    KeyringRow {
        version,
        wrapped_kek: vec![byte; 61],
        created_at: 1_000 * version,
        state: KEYRING_ACTIVE.into(),
    }
}

fn states(rows: &[KeyringRow]) -> Vec<(i64, &str)> {
    rows.iter().map(|r| (r.version, r.state.as_str())).collect()
}

async fn a_new_version_becomes_active_and_retires_the_one_before(db: Db) {
    let s = &*db.store;
    assert!(s.keyring().await.unwrap().is_empty(), "a new database has no keyring");
    assert!(s.add_active_kek(row(1, 0xa1)).await.unwrap());
    assert!(s.add_active_kek(row(2, 0xb2)).await.unwrap());
    let rows = s.keyring().await.unwrap();
    assert_eq!(states(&rows), [(1, KEYRING_RETIRED), (2, KEYRING_ACTIVE)]);
    assert_eq!(rows[0].wrapped_kek, vec![0xa1; 61], "bytes stored as given");
    assert_eq!(rows[1].created_at, 2_000);
    assert!(
        !format!("{rows:?}").contains("161"),
        "Debug shows no key bytes: {rows:?}"
    );
    let retired = KeyringRow {
        state: KEYRING_RETIRED.into(),
        ..row(3, 0)
    };
    assert!(
        s.add_active_kek(retired).await.is_err(),
        "only an active version is added"
    );
    assert_eq!(s.keyring().await.unwrap().len(), 2);
}

async fn a_version_added_twice_is_stored_once(db: Db) {
    let s: Arc<dyn Store> = db.store.clone();
    assert!(s.add_active_kek(row(1, 1)).await.unwrap());
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.add_active_kek(row(2, 10 + i)).await.unwrap() })
        })
        .collect();
    let mut added = 0;
    for task in tasks {
        added += usize::from(task.await.unwrap());
    }
    assert_eq!(added, 1, "exactly one replica adds version 2");
    let rows = s.keyring().await.unwrap();
    assert_eq!(states(&rows), [(1, KEYRING_RETIRED), (2, KEYRING_ACTIVE)]);
}

async fn rewrapped_data_keys_are_stored_in_batches_unless_the_row_changed(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    secrets(s, acme.id(), &["A", "B", "C"]).await;
    let counts = |total, at_version| KeyVersionCounts { total, at_version };
    assert_eq!(s.key_version_counts(2).await.unwrap(), counts(3, 0));
    assert_eq!(s.key_version_counts(1).await.unwrap(), counts(3, 3));
    let batch = s.wrapped_deks_below(2, 2).await.unwrap();
    assert_eq!(batch.len(), 2, "at most the limit");
    assert!(batch.iter().all(|r| r.workspace_id == acme.id() && r.key_version == 1));
    let rewrapped = |r: &sealbox_store::WrappedDekRow, old: Vec<u8>| Rewrapped {
        secret_id: r.secret_id.clone(),
        version: r.version,
        old_wrapped_dek: old,
        wrapped_dek: vec![0xee; 40],
        key_version: 2,
    };
    let stale = rewrapped(&batch[1], vec![0; 40]);
    let stored = s
        .store_rewrapped(vec![rewrapped(&batch[0], batch[0].wrapped_dek.clone()), stale])
        .await
        .unwrap();
    assert_eq!(stored, 1, "a row whose bytes changed meanwhile is left alone");
    assert_eq!(s.key_version_counts(2).await.unwrap(), counts(3, 1));
    let rest = s.wrapped_deks_below(2, 200).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert!(!rest.iter().any(|r| r.secret_id == batch[0].secret_id));
    let all: Vec<_> = rest.iter().map(|r| rewrapped(r, r.wrapped_dek.clone())).collect();
    assert_eq!(s.store_rewrapped(all).await.unwrap(), 2);
    assert!(s.wrapped_deks_below(2, 200).await.unwrap().is_empty());
    assert_eq!(s.key_version_counts(2).await.unwrap(), counts(3, 3));
    let (_, version) = s.secret_with_version(acme.id(), "A", None).await.unwrap().unwrap();
    assert_eq!(version.unwrap().wrapped_dek, vec![0xee; 40]);
}

async fn a_rekey_replaces_the_keyring_and_check_value_at_once_or_not_at_all(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    secrets(s, acme.id(), &["A", "B"]).await;
    // The fixtures' wrapped keys start with 0xd1, not 0x01: none is wrapped by the root key.
    assert_eq!(s.root_wrapped_data_keys().await.unwrap(), 0);
    assert!(s.put_meta_if_absent("root_key_check:v1", b"old-check").await.unwrap());
    for version in [1, 2] {
        assert!(s.add_active_kek(row(version, version as u8)).await.unwrap());
    }
    let rekey = |old_byte: u8| Rekey {
        keyring: vec![
            (1, vec![1; 61], vec![0x91; 61]),
            (2, vec![old_byte; 61], vec![0x92; 61]),
        ],
        check_key: "root_key_check:v1".into(),
        check_value: b"new-check".to_vec(),
        origin_key: "root_key_origin".into(),
        origin: b"wrapped-origin".to_vec(),
        seal_key: "seal".into(),
        seal_config: Some(b"shamir-config".to_vec()),
    };
    // One keyring row is not what the rekey read: nothing changes.
    let err = s.rekey(rekey(7)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("keyring version 2 changed")),
        "{err:?}"
    );
    assert_eq!(s.keyring().await.unwrap()[0].wrapped_kek, vec![1; 61]);
    assert_eq!(s.get_meta("root_key_check:v1").await.unwrap().unwrap(), b"old-check");
    assert_eq!(s.get_meta("root_key_origin").await.unwrap(), None);

    s.rekey(rekey(2)).await.unwrap();
    let rows = s.keyring().await.unwrap();
    assert_eq!(
        (rows[0].wrapped_kek.clone(), rows[1].wrapped_kek.clone()),
        (vec![0x91; 61], vec![0x92; 61])
    );
    assert_eq!(states(&rows), [(1, KEYRING_RETIRED), (2, KEYRING_ACTIVE)]);
    assert_eq!(s.get_meta("root_key_check:v1").await.unwrap().unwrap(), b"new-check");
    assert_eq!(s.get_meta("root_key_origin").await.unwrap().unwrap(), b"wrapped-origin");
    assert_eq!(s.get_meta("seal").await.unwrap().unwrap(), b"shamir-config");
    // Back to a key file: the key source's record is removed in the same transaction.
    let mut to_file = rekey(0x92);
    to_file.keyring = vec![(1, vec![0x91; 61], vec![0xa1; 61]), (2, vec![0x92; 61], vec![0xa2; 61])];
    to_file.seal_config = None;
    s.rekey(to_file).await.unwrap();
    assert_eq!(s.get_meta("seal").await.unwrap(), None);
}
