//! What PostgreSQL adds: several server processes on one database.

use std::str::FromStr;
use std::sync::Arc;

use sealbox_store::{PostgresStore, Store};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::fixtures::{audit, identity_token, stored_identity, verify_chain, workspace};
use crate::harness::{drop_schema, isolated_schema, postgres_admin_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_append_one_gapless_chain() {
    let Some(admin_url) = postgres_admin_url() else { return };
    let url = isolated_schema(&admin_url).await;
    let (one, two) = tokio::join!(
        PostgresStore::connect(&url, crate::fixtures::chain_key()),
        PostgresStore::connect(&url, crate::fixtures::chain_key())
    );
    let servers: [Arc<dyn Store>; 2] = [Arc::new(one.unwrap()), Arc::new(two.unwrap())];
    let acme = workspace(&*servers[0], "acme").await;

    let mut tasks = Vec::new();
    for server in &servers {
        for i in 0..50 {
            let (server, ws) = (server.clone(), acme.id().to_owned());
            tasks.push(tokio::spawn(async move {
                server
                    .append_audit(audit(&ws, "secret.reveal", &format!("secret:{i}")))
                    .await
            }));
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for server in &servers {
        let events = verify_chain(&**server, acme.id()).await;
        assert_eq!(events.len(), 101);
        let mut targets: Vec<String> = events[1..].iter().map(|e| e.record.target.clone()).collect();
        targets.sort();
        let mut expected: Vec<String> = (0..100).map(|i| format!("secret:{}", i % 50)).collect();
        expected.sort();
        assert_eq!(targets, expected, "each acknowledged event once");
    }
    drop_schema(&admin_url, &url).await;
}

/// Issue 13: an audited change does not wait for the workspace's chain head. A session holds the
/// workspace row as a chainer (or, before, every audited change) does until its commit: changes
/// still commit, and their events join the chain once it lets go.
#[tokio::test]
async fn audited_changes_do_not_wait_for_the_chain_head() {
    let Some(admin_url) = postgres_admin_url() else { return };
    let url = isolated_schema(&admin_url).await;
    let store = PostgresStore::connect(&url, crate::fixtures::chain_key())
        .await
        .unwrap();
    let acme = workspace(&store, "acme").await;
    let ws = acme.id();
    let mut holder = PgConnection::connect_with(&PgConnectOptions::from_str(&url).unwrap())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE")
        .bind(ws)
        .execute(&mut holder)
        .await
        .unwrap();
    let changes = async {
        store
            .append_audit(audit(ws, "secret.reveal", "secret:A"))
            .await
            .unwrap();
        let (row, first) = crate::fixtures::secret(ws, "B", "text");
        store
            .insert_secret(row, first, audit(ws, "secret.create", "secret:B"))
            .await
            .unwrap();
    };
    tokio::time::timeout(std::time::Duration::from_secs(3), changes)
        .await
        .expect("audited changes waited for the lock on the workspace's chain head");
    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    let events = verify_chain(&store, ws).await;
    let targets: Vec<&str> = events.iter().map(|e| e.record.target.as_str()).collect();
    assert_eq!(targets[1..], ["secret:A", "secret:B"]);
    drop_schema(&admin_url, &url).await;
}

#[tokio::test]
async fn servers_migrate_one_schema_concurrently() {
    let Some(admin_url) = postgres_admin_url() else { return };
    let url = isolated_schema(&admin_url).await;
    let connects = (0..4).map(|_| PostgresStore::connect(&url, crate::fixtures::chain_key()));
    for store in futures_util::future::join_all(connects).await {
        store.unwrap();
    }
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(&url).unwrap())
        .await
        .unwrap();
    let applied: Vec<String> = sqlx::query_scalar("SELECT name FROM schema_migrations")
        .fetch_all(&mut conn)
        .await
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
    conn.close().await.unwrap();
    drop_schema(&admin_url, &url).await;
}

#[tokio::test]
async fn isolated_schemas_do_not_share_data() {
    let Some(admin_url) = postgres_admin_url() else { return };
    let (url_a, url_b) = (isolated_schema(&admin_url).await, isolated_schema(&admin_url).await);
    assert_ne!(url_a, url_b);
    let a = PostgresStore::connect(&url_a, crate::fixtures::chain_key())
        .await
        .unwrap();
    let b = PostgresStore::connect(&url_b, crate::fixtures::chain_key())
        .await
        .unwrap();
    let in_a = workspace(&a, "acme").await;
    assert_eq!(b.workspace_by_name("acme").await.unwrap(), None);
    // The same name is free in the other schema.
    let in_b = workspace(&b, "acme").await;
    assert_ne!(in_a.row.id, in_b.row.id);
    assert_eq!(a.workspace_by_name("acme").await.unwrap(), Some(in_a.row));
    // Nothing landed in the schema the admin URL uses.
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(&admin_url).unwrap())
        .await
        .unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'workspaces' AND table_schema = current_schema()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 0);
    conn.close().await.unwrap();
    assert_eq!(a.kind(), "postgres");
    drop_schema(&admin_url, &url_a).await;
    drop_schema(&admin_url, &url_b).await;
}

/// A database made before identities existed gets them, and its tokens still read as before.
#[tokio::test]
async fn tokens_of_an_older_database_survive_the_identities_migration() {
    let Some(admin_url) = postgres_admin_url() else { return };
    let url = isolated_schema(&admin_url).await;
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(&url).unwrap())
        .await
        .unwrap();
    for script in [
        include_str!("../../migrations/postgres/0001_init.sql"),
        include_str!("../../migrations/postgres/0002_fewer_audit_indexes.sql"),
        "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL);
         INSERT INTO schema_migrations VALUES ('0001_init', 1), ('0002_fewer_audit_indexes', 2);
         INSERT INTO workspaces (id, name, created_at) VALUES ('w1', 'acme', 1);
         INSERT INTO members VALUES ('m1', 'w1', 'owner@example.com', 'x', 'owner', 1);
         INSERT INTO tokens (id, workspace_id, kind, member_id, name, hash, created_at)
             VALUES ('t1', 'w1', 'personal', 'm1', 'old', '\\x0102', 1);",
    ] {
        sqlx::raw_sql(script).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let store = PostgresStore::connect(&url, crate::fixtures::chain_key())
        .await
        .unwrap();
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
    store.close().await;
    drop_schema(&admin_url, &url).await;
}
