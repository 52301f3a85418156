//! Issue 11, "no silent re-bootstrap": a database that was initialised before is never
//! bootstrapped again; one that lost rows, or was migrated by a newer Sealbox, is refused with
//! an error that says what to do.

use sealbox_server::Config;
use sealbox_testkit::{Options, TestServer};

use crate::Api;

/// The error `prepare` refuses `config` with.
async fn refused(config: &Config) -> String {
    match sealbox_server::prepare(config).await {
        Ok(_) => panic!("the server started"),
        Err(e) => format!("{e:#}"),
    }
}

#[track_caller]
fn assert_names_backup_and_restore(message: &str) {
    assert!(
        message.contains("sealbox operator backup") && message.contains("sealbox operator restore"),
        "{message}"
    );
}

/// The scenario: `root.key` and `sealbox.db` copied from a running server, without the
/// `-wal` file that holds its newest writes.
#[tokio::test]
async fn a_copy_without_its_wal_is_refused_not_bootstrapped() {
    let server = TestServer::start().await;
    Api::new(&server)
        .create_text(&server.owner_token, "KEPT", "kept-value")
        .await;
    let from = server.data_dir();
    assert!(
        from.join("sealbox.db-wal").exists(),
        "the running server's writes are in the WAL"
    );
    let copy = tempfile::tempdir().unwrap();
    for file in ["root.key", "sealbox.db"] {
        std::fs::copy(from.join(file), copy.path().join(file)).unwrap();
    }
    let message = refused(&Config::with_data_dir(copy.path())).await;
    assert!(message.contains("without its -wal file"), "{message}");
    assert_names_backup_and_restore(&message);
    assert!(!copy.path().join("bootstrap.json").exists(), "nothing was bootstrapped");
    drop(server);
}

/// A copy of all of a stopped server's files (`sealbox.db*`) is whole: it starts, with its data
/// and without a new owner.
#[tokio::test]
async fn a_whole_copy_starts_without_bootstrapping() {
    let server = TestServer::start().await;
    let token = server.owner_token.clone();
    Api::new(&server).create_text(&token, "KEPT", "kept-value").await;
    let from = server.data_dir();
    let _tmp = server.stop().await;
    let copy = tempfile::tempdir().unwrap();
    for file in ["root.key", "sealbox.db", "sealbox.db-wal"] {
        if from.join(file).exists() {
            std::fs::copy(from.join(file), copy.path().join(file)).unwrap();
        }
    }
    let again = TestServer::start_with(Options {
        data_dir: Some(copy.path().to_owned()),
        ..Options::default()
    })
    .await;
    assert!(!copy.path().join("bootstrap.json").exists(), "nothing was bootstrapped");
    let api = Api::new(&again);
    assert_eq!(api.reveal(&token, "KEPT").await.expect(200)["value"], "kept-value");
}

/// An initialised SQLite database whose rows are gone is refused; so is one whose audit chain
/// lost its last event.
#[tokio::test]
async fn an_emptied_database_or_a_broken_chain_is_refused() {
    let server = TestServer::start().await;
    Api::new(&server)
        .create_text(&server.owner_token, "KEPT", "kept-value")
        .await;
    let dir = server.data_dir();
    let _tmp = server.stop().await;
    let db = rusqlite::Connection::open(dir.join("sealbox.db")).unwrap();
    db.execute(
        "DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)",
        [],
    )
    .unwrap();
    let message = refused(&Config::with_data_dir(&dir)).await;
    assert!(
        message.contains("audit chain of workspace \"default\" ends at event 2 but its last event is 1"),
        "{message}"
    );
    assert_names_backup_and_restore(&message);

    db.execute_batch(EMPTY_THE_DATABASE).unwrap();
    let message = refused(&Config::with_data_dir(&dir)).await;
    assert!(
        message.contains("was initialised before but holds no workspace"),
        "{message}"
    );
    assert_names_backup_and_restore(&message);
    assert_eq!(
        db.query_row("SELECT count(*) FROM workspaces", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        0,
        "no workspace was bootstrapped"
    );
}

/// No downgrade: a database that records a migration this build does not know is refused,
/// naming both versions, on SQLite and on PostgreSQL.
#[tokio::test]
async fn a_database_migrated_by_a_newer_sealbox_is_refused() {
    let server = TestServer::start().await;
    let dir = server.data_dir();
    let _tmp = server.stop().await;
    let db = rusqlite::Connection::open(dir.join("sealbox.db")).unwrap();
    db.execute(
        "INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_from_the_future', 0)",
        [],
    )
    .unwrap();
    let message = refused(&Config::with_data_dir(&dir)).await;
    let expected = format!(
        "migrated by a newer Sealbox (it has schema migration 9999_from_the_future; this Sealbox knows up to {})",
        sealbox_store::schema_version()
    );
    assert!(message.contains(&expected), "{message}");

    let Some((config, url, _dir)) = stopped_postgres_server().await else {
        return;
    };
    run_on_postgres(
        &url,
        "INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_from_the_future', 0)",
    )
    .await;
    let message = refused(&config).await;
    assert!(message.contains(&expected), "{message}");
}

/// On PostgreSQL too, a database that was initialised and lost its workspace is refused.
#[tokio::test]
async fn postgres_emptied_database_is_refused() {
    let Some((config, url, _dir)) = stopped_postgres_server().await else {
        return;
    };
    run_on_postgres(&url, EMPTY_THE_DATABASE).await;
    let message = refused(&config).await;
    assert!(
        message.contains("the PostgreSQL database was initialised before but holds no workspace"),
        "{message}"
    );
    assert_names_backup_and_restore(&message);
}

/// Deletes every row a first start and a secret leave, children first.
const EMPTY_THE_DATABASE: &str = "DELETE FROM audit_pending; DELETE FROM audit_events; DELETE FROM secret_versions; DELETE FROM secrets; \
    DELETE FROM tokens; DELETE FROM members; DELETE FROM workspaces;";

/// The configuration of a server that bootstrapped a fresh PostgreSQL schema and stopped, the
/// schema's URL, and its data directory (the root key); `None` when no PostgreSQL is configured.
async fn stopped_postgres_server() -> Option<(Config, String, Option<tempfile::TempDir>)> {
    let url = sealbox_testkit::postgres_url().await?;
    let pg = TestServer::start_with(Options {
        database_url: Some(url.clone()),
        ..Options::default()
    })
    .await;
    let config = pg.config.clone();
    let dir = pg.stop().await;
    Some((config, url, dir))
}

async fn run_on_postgres(url: &str, sql: &str) {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let mut conn = sqlx::postgres::PgConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::Executor::execute(&mut conn, sql).await.unwrap();
}
