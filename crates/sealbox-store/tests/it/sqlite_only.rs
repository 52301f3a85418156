//! What only the embedded store promises: group commit, durability on acknowledgement, and an
//! orderly close.

use std::sync::Arc;

use sealbox_store::{SecretFilter, SqliteStore, Store, StoreError};

use crate::fixtures::{audit, head_seq, identity_token, secret, secrets, stored_identity, verify_chain, workspace};

async fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("nested/dir/sealbox.db"), crate::fixtures::chain_key())
        .await
        .unwrap();
    (dir, Arc::new(store))
}

/// Inserts secrets `names` concurrently, one task each; returns the results in order.
async fn insert_concurrently(store: &Arc<SqliteStore>, ws: &str, names: Vec<String>) -> Vec<Result<(), StoreError>> {
    let tasks: Vec<_> = names
        .into_iter()
        .map(|name| {
            let (store, ws) = (store.clone(), ws.to_owned());
            tokio::spawn(async move {
                let (row, first) = secret(&ws, &name, "text");
                store
                    .insert_secret(row, first, audit(&ws, "secret.create", &name))
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_all_commit() {
    let (_dir, store) = open().await;
    let acme = workspace(&*store, "acme").await;
    let names: Vec<_> = (0..200).map(|i| format!("SECRET_{i:03}")).collect();
    for result in insert_concurrently(&store, acme.id(), names.clone()).await {
        result.unwrap();
    }
    let listed = store.list_secrets(acme.id(), &SecretFilter::default()).await.unwrap();
    assert_eq!(listed.into_iter().map(|s| s.name).collect::<Vec<_>>(), names);
    assert_eq!(verify_chain(&*store, acme.id()).await.len(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_does_not_fail_the_others() {
    let (_dir, store) = open().await;
    let acme = workspace(&*store, "acme").await;
    // Every fifth name repeats the one before it.
    let names: Vec<_> = (0..100)
        .map(|i| format!("SECRET_{}", if i % 5 == 4 { i - 1 } else { i }))
        .collect();
    let results = insert_concurrently(&store, acme.id(), names.clone()).await;
    let failed = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Duplicate("secret_name"))))
        .count();
    assert_eq!(failed, 20, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::Duplicate(_))))
    );
    let listed = store.list_secrets(acme.id(), &SecretFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 80);
    assert_eq!(verify_chain(&*store, acme.id()).await.len(), 81);
}

#[tokio::test]
async fn acknowledged_writes_are_durable() {
    let (_dir, store) = open().await;
    let acme = workspace(&*store, "acme").await;
    secrets(&*store, acme.id(), &["API_KEY"]).await;
    // No close: a second process opening the file sees every acknowledged write.
    let again = SqliteStore::open(store.database_path(), crate::fixtures::chain_key())
        .await
        .unwrap();
    assert!(again.secret_by_name(acme.id(), "API_KEY").await.unwrap().is_some());
    assert_eq!(head_seq(&again, acme.id()).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_finishes_queued_writes_and_refuses_new_ones() {
    let (_dir, store) = open().await;
    let acme = workspace(&*store, "acme").await;
    let writes = {
        let store = store.clone();
        let ws = acme.id().to_owned();
        tokio::spawn(async move { insert_concurrently(&store, &ws, (0..50).map(|i| format!("S{i}")).collect()).await })
    };
    tokio::task::yield_now().await;
    store.close().await;
    let committed = writes.await.unwrap().into_iter().filter(Result::is_ok).count();
    let (row, first) = secret(acme.id(), "LATE", "text");
    let err = store
        .insert_secret(row, first, audit(acme.id(), "secret.create", "LATE"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");

    let reopened = SqliteStore::open(store.database_path(), crate::fixtures::chain_key())
        .await
        .unwrap();
    let listed = reopened
        .list_secrets(acme.id(), &SecretFilter::default())
        .await
        .unwrap();
    assert_eq!(
        listed.len(),
        committed,
        "every acknowledged write is there, and only those"
    );
    verify_chain(&reopened, acme.id()).await;
}

#[tokio::test]
async fn reopening_does_not_migrate_again() {
    let (_dir, store) = open().await;
    let acme = workspace(&*store, "acme").await;
    store.close().await;
    let reopened = SqliteStore::open(store.database_path(), crate::fixtures::chain_key())
        .await
        .unwrap();
    assert!(reopened.workspace_by_id(acme.id()).await.unwrap().is_some());
    let conn = rusqlite::Connection::open(store.database_path()).unwrap();
    let applied: Vec<String> = conn
        .prepare("SELECT name FROM schema_migrations")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        applied,
        [
            "0001_init",
            "0002_fewer_audit_indexes",
            "0003_identities",
            "0004_actions",
            "0005_login_attempts",
            "0006_token_prefix",
            "0007_keyring",
            "0008_audit_pending",
            "0009_token_lifetimes_federation",
            "0010_sso"
        ]
    );
    assert_eq!(reopened.kind(), "sqlite");
}

/// A database made before identities existed gets them, and its tokens still read as before.
#[tokio::test]
async fn tokens_of_an_older_database_survive_the_identities_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0001_init.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0002_fewer_audit_indexes.sql"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL);
             INSERT INTO schema_migrations VALUES ('0001_init', 1), ('0002_fewer_audit_indexes', 2);
             INSERT INTO workspaces (id, name, created_at) VALUES ('w1', 'acme', 1);
             INSERT INTO members VALUES ('m1', 'w1', 'owner@example.com', 'x', 'owner', 1);
             INSERT INTO tokens (id, workspace_id, kind, member_id, name, hash, created_at)
                 VALUES ('t1', 'w1', 'personal', 'm1', 'old', x'0102', 1);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path, crate::fixtures::chain_key()).await.unwrap();
    let (token, member, _) = store.token_with_member(&[1, 2]).await.unwrap().unwrap();
    assert_eq!(
        (token.id.as_str(), token.identity_id, member.id.as_str()),
        ("t1", None, "m1")
    );
    let worker = stored_identity(&store, "w1", "payments-worker").await;
    let machine = identity_token("w1", &worker.id, 2);
    store
        .insert_token(
            machine.clone(),
            audit("w1", "identity.token_create", "identity:payments-worker"),
        )
        .await
        .unwrap();
    assert!(store.token_with_identity(&machine.hash).await.unwrap().is_some());
}
