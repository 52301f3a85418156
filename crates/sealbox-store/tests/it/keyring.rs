//! Issue 12: the keyring table holds versioned wrapped KEKs; exactly one is active, a new one
//! retires the one before, and a version added twice (two replicas at once) is stored once.

use std::sync::Arc;

use sealbox_store::{KEYRING_ACTIVE, KEYRING_RETIRED, KeyringRow, Store};

use crate::harness::Db;

conformance!(
    a_new_version_becomes_active_and_retires_the_one_before,
    a_version_added_twice_is_stored_once,
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
