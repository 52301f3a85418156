//! Issue 12: new data keys are wrapped by the keyring's active KEK; rows written before the
//! keyring existed (data keys wrapped by the root key) keep reading; a KEK version another
//! replica added is loaded on the next read that needs it.

use std::sync::Arc;

use sealbox_core::{CoreConfig, ManualClock, Principal, RequestContext, Sealbox};
use sealbox_crypto::{self as crypto, Aad, DekWrapper, ExposeSecret, Kek, RootKey, Sealed};
use sealbox_store::{KEYRING_ACTIVE, KeyringRow, SqliteStore, Store};
use serde_json::json;

use crate::text;

struct Db {
    store: Arc<dyn Store>,
    path: std::path::PathBuf,
    encoded_key: String,
    _dir: tempfile::TempDir,
}

async fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let key = RootKey::generate(1);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&path, sealbox_core::audit_chain_key(&key))
            .await
            .unwrap(),
    );
    Db {
        store,
        path,
        encoded_key: key.encode().expose_secret().to_owned(),
        _dir: dir,
    }
}

impl Db {
    fn key(&self) -> RootKey {
        RootKey::from_encoded(1, &self.encoded_key).unwrap()
    }

    async fn open(&self) -> Sealbox {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        Sealbox::open(self.store.clone(), self.key(), clock, CoreConfig::default())
            .await
            .unwrap()
    }

    /// Every stored version: (workspace id, secret id, version, sealed).
    fn versions(&self) -> Vec<(String, String, i64, Sealed)> {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT s.workspace_id, v.secret_id, v.version, v.ciphertext, v.wrapped_dek, v.key_version \
                 FROM secret_versions v JOIN secrets s ON s.id = v.secret_id ORDER BY v.secret_id, v.version",
            )
            .unwrap();
        stmt.query_map([], |r| {
            let sealed = Sealed {
                ciphertext: r.get(3)?,
                wrapped_dek: r.get(4)?,
                key_version: r.get::<_, i64>(5)? as u32,
            };
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, sealed))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }
}

async fn reveal(core: &Sealbox, owner: &Principal, name: &str, version: Option<u64>) -> serde_json::Value {
    core.reveal(owner, &RequestContext::default(), name, version)
        .await
        .unwrap()
        .value
}

#[tokio::test]
async fn new_values_are_wrapped_by_the_active_kek_of_a_keyring_created_at_first_start() {
    let db = db().await;
    let core = db.open().await;
    let rows = db.store.keyring().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].version, rows[0].state.as_str()), (1, KEYRING_ACTIVE));
    let creds = core.bootstrap("default", "owner@example.com").await.unwrap().unwrap();
    let owner = core.authenticate(creds.token.expose_secret()).await.unwrap();
    core.create_secret(&owner, &RequestContext::default(), text("API_KEY", "s3cr3t-value"))
        .await
        .unwrap();
    let kek = crypto::unwrap_kek(&db.key(), 1, &rows[0].wrapped_kek).unwrap();
    for (ws, id, version, sealed) in db.versions() {
        assert_eq!(crypto::wrapped_by(&sealed), Some(crypto::WrappedBy::Kek(1)));
        let aad = Aad {
            workspace_id: &ws,
            secret_id: &id,
            version: version as u64,
        };
        assert!(crypto::open_with_kek(&kek, &aad, &sealed).is_ok());
        assert!(
            crypto::open(&db.key(), &aad, &sealed).is_err(),
            "not wrapped by the root key"
        );
    }
    // A second start (or replica) uses the same keyring rather than adding one.
    drop(core);
    let again = db.open().await;
    assert_eq!(db.store.keyring().await.unwrap(), rows);
    assert_eq!(reveal(&again, &owner, "API_KEY", None).await, json!("s3cr3t-value"));
    // A wrong root key is refused at start (before the keyring is ever used).
    let clock = Arc::new(ManualClock::new(0));
    assert!(
        Sealbox::open(db.store.clone(), RootKey::generate(1), clock, CoreConfig::default())
            .await
            .is_err()
    );
}

/// Turns the database into what the code before the keyring made: every data key wrapped by the
/// root key (format 0x01), and no keyring rows.
fn make_pre_keyring(db: &Db) {
    let root = db.key();
    let kek_bytes = {
        let conn = rusqlite::Connection::open(&db.path).unwrap();
        conn.query_row("SELECT wrapped_kek FROM keyring WHERE version = 1", [], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .unwrap()
    };
    let kek = crypto::unwrap_kek(&root, 1, &kek_bytes).unwrap();
    let conn = rusqlite::Connection::open(&db.path).unwrap();
    for (ws, id, version, sealed) in db.versions() {
        let aad = Aad {
            workspace_id: &ws,
            secret_id: &id,
            version: version as u64,
        };
        let old = crypto::rewrap_dek(DekWrapper::Kek(&kek), DekWrapper::Root(&root), &aad, &sealed).unwrap();
        assert_eq!(old.wrapped_dek[0], 0x01);
        conn.execute(
            "UPDATE secret_versions SET wrapped_dek = ?1, key_version = ?2 WHERE secret_id = ?3 AND version = ?4",
            rusqlite::params![old.wrapped_dek, i64::from(old.key_version), id, version],
        )
        .unwrap();
    }
    conn.execute("DELETE FROM keyring", []).unwrap();
}

#[tokio::test]
async fn a_database_from_before_the_keyring_still_reads_and_gets_a_keyring() {
    let db = db().await;
    let core = db.open().await;
    let creds = core.bootstrap("default", "owner@example.com").await.unwrap().unwrap();
    let owner = core.authenticate(creds.token.expose_secret()).await.unwrap();
    let ctx = RequestContext::default();
    core.create_secret(&owner, &ctx, text("DB_PASSWORD", "first"))
        .await
        .unwrap();
    let mut update: sealbox_types::UpdateSecretRequest = serde_json::from_value(json!({"value": "second"})).unwrap();
    update.name = None;
    core.update_secret(&owner, &ctx, "DB_PASSWORD", update).await.unwrap();
    drop(core);
    make_pre_keyring(&db);
    assert!(db.store.keyring().await.unwrap().is_empty());

    let core = db.open().await;
    assert_eq!(
        db.store.keyring().await.unwrap().len(),
        1,
        "the first start creates the keyring"
    );
    assert_eq!(reveal(&core, &owner, "DB_PASSWORD", None).await, json!("second"));
    assert_eq!(reveal(&core, &owner, "DB_PASSWORD", Some(1)).await, json!("first"));
    let mut update: sealbox_types::UpdateSecretRequest = serde_json::from_value(json!({"value": "third"})).unwrap();
    update.name = None;
    core.update_secret(&owner, &ctx, "DB_PASSWORD", update).await.unwrap();
    let formats: Vec<u8> = db.versions().iter().map(|v| v.3.wrapped_dek[0]).collect();
    assert_eq!(
        formats,
        [0x01, 0x01, 0x02],
        "old rows untouched, the new one under the KEK"
    );
    for (version, value) in [(1, "first"), (2, "second"), (3, "third")] {
        assert_eq!(reveal(&core, &owner, "DB_PASSWORD", Some(version)).await, json!(value));
    }
}

#[tokio::test]
async fn a_kek_version_added_by_another_replica_is_loaded_on_the_next_read() {
    let db = db().await;
    let a = db.open().await;
    let creds = a.bootstrap("default", "owner@example.com").await.unwrap().unwrap();
    let owner = a.authenticate(creds.token.expose_secret()).await.unwrap();
    let ctx = RequestContext::default();
    a.create_secret(&owner, &ctx, text("BEFORE", "one")).await.unwrap();
    // Another replica adds version 2 to the shared database, then writes with it.
    let kek = Kek::generate(2);
    let added = db
        .store
        .add_active_kek(KeyringRow {
            version: 2,
            wrapped_kek: crypto::wrap_kek(&db.key(), &kek).unwrap(),
            created_at: 1,
            state: KEYRING_ACTIVE.into(),
        })
        .await
        .unwrap();
    assert!(added);
    let b = db.open().await;
    b.create_secret(&owner, &ctx, text("AFTER", "two")).await.unwrap();
    let after = db.versions().into_iter().find(|v| v.3.key_version == 2);
    assert!(after.is_some(), "replica b wrapped with version 2");
    // Replica a has never loaded version 2: its next read of that value reloads the keyring.
    assert_eq!(reveal(&a, &owner, "AFTER", None).await, json!("two"));
    assert_eq!(reveal(&a, &owner, "BEFORE", None).await, json!("one"));
}

#[tokio::test]
async fn rekey_waits_for_values_wrapped_by_the_root_key_to_be_rotated_then_swaps_the_key() {
    let db = db().await;
    let core = db.open().await;
    let creds = core.bootstrap("default", "owner@example.com").await.unwrap().unwrap();
    let owner = core.authenticate(creds.token.expose_secret()).await.unwrap();
    let ctx = RequestContext::default();
    core.create_secret(&owner, &ctx, text("LEGACY", "old-format"))
        .await
        .unwrap();
    drop(core);
    make_pre_keyring(&db);
    let core = db.open().await;
    assert_eq!(db.store.root_wrapped_data_keys().await.unwrap(), 1);
    let new_key = RootKey::generate(1);
    let refused = sealbox_core::rekey(&*db.store, &db.key(), &new_key, None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("run `sealbox operator rotate`"),
        "{refused}"
    );

    core.rotate(&owner, &ctx).await.unwrap();
    for _ in 0..200 {
        if db.store.root_wrapped_data_keys().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        db.store.root_wrapped_data_keys().await.unwrap(),
        0,
        "the rotation moved it to the keyring"
    );
    drop(core);
    assert!(
        sealbox_core::rekey(&*db.store, &RootKey::generate(1), &new_key, None)
            .await
            .is_err(),
        "wrong current key"
    );
    assert_eq!(
        sealbox_core::rekey(&*db.store, &db.key(), &new_key, None)
            .await
            .unwrap(),
        2
    );
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    assert!(
        Sealbox::open(db.store.clone(), db.key(), clock.clone(), CoreConfig::default())
            .await
            .is_err(),
        "the old key is refused"
    );
    let core = Sealbox::open(db.store.clone(), new_key, clock, CoreConfig::default())
        .await
        .unwrap();
    let owner = core.authenticate(creds.token.expose_secret()).await.unwrap();
    assert_eq!(reveal(&core, &owner, "LEGACY", None).await, json!("old-format"));
    assert!(core.verify_audit(&owner).await.unwrap().ok);
}
