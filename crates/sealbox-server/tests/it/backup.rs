//! Issue 11: `POST /v1/sys/backup`, for the owners of the server's first workspace.

use reqwest::Method;
use sealbox_store::Backup;
use serde_json::json;

use crate::setup;

#[tokio::test]
async fn only_owners_of_the_first_workspace_may_take_a_backup() {
    let (server, api) = setup().await;
    let owner = server.owner_token.clone();
    api.create_text(&owner, "KEPT", "kept-value-Xy12").await;
    let admin = api.member_token(&owner, "admin@example.com", "admin").await;
    api.send(Method::POST, "/v1/sys/backup", Some(&admin), None)
        .await
        .expect_error(403, "permission.denied");
    // The owner of another workspace may not take one: it holds every workspace.
    let b = api
        .post("/v1/workspaces", &owner, json!({"name": "team-b"}))
        .await
        .expect(201);
    let owner_b = b["token"].as_str().unwrap().to_owned();
    let refused = api.send(Method::POST, "/v1/sys/backup", Some(&owner_b), None).await;
    refused.expect_error(403, "permission.denied");
    assert!(
        refused.message().contains("first workspace (default)"),
        "{}",
        refused.message()
    );

    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sys/backup", server.url))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let bytes = resp.bytes().await.unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("kept-value-Xy12"));
    let backup = Backup::parse(&bytes).unwrap();
    let mut workspaces = backup.workspaces();
    workspaces.sort();
    assert_eq!(workspaces, ["default", "team-b"]);
    let key = sealbox_core::audit_chain_key(
        &sealbox_crypto::RootKey::from_encoded(
            1,
            &std::fs::read_to_string(server.data_dir().join("root.key")).unwrap(),
        )
        .unwrap(),
    );
    backup.check_chains(Some(&key)).unwrap();

    let events = api.audit(&owner).await;
    let backups: Vec<_> = events.iter().filter(|e| e["action"] == "server.backup").collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    assert_eq!(backups[0]["outcome"], "denied");
    assert_eq!(backups[1]["outcome"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_acknowledged_write() {
    backup_under_write_load(sealbox_testkit::Options::default()).await;
}

/// The same from PostgreSQL (restored into SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_under_write_load_restores_every_acknowledged_write() {
    let Some(url) = sealbox_testkit::postgres_url().await else {
        return;
    };
    backup_under_write_load(sealbox_testkit::Options {
        database_url: Some(url),
        ..Default::default()
    })
    .await;
}

/// Creates and updates run at full speed from another task while the backup is taken through
/// the route: restored, every write acknowledged before the backup began reveals its value, and
/// the audit chain verifies.
async fn backup_under_write_load(options: sealbox_testkit::Options) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let server = sealbox_testkit::TestServer::start_with(options).await;
    let api = crate::Api::new(&server);
    let owner = server.owner_token.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let writer = {
        let (api, owner, stop, acknowledged) = (api.clone(), owner.clone(), stop.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("LOAD_{n}");
                api.create_text(&owner, &name, &format!("first-{n}")).await;
                let value = format!("second-{n}");
                api.patch(&format!("/v1/secrets/{name}"), &owner, json!({"value": value}))
                    .await
                    .expect(200);
                acknowledged.lock().unwrap().push((name, value));
                n += 1;
            }
        })
    };
    let count = || acknowledged.lock().unwrap().len();
    while count() < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = acknowledged.lock().unwrap().clone();
    let bytes = reqwest::Client::new()
        .post(format!("{}/v1/sys/backup", server.url))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    while count() < before.len() + 10 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("load.backup");
    std::fs::write(&file, &bytes).unwrap();
    let key = server.data_dir().join("root.key");
    let data = dir.path().join("data");
    sealbox_server::operator::restore(
        &file,
        &sealbox_server::operator::RestoreTarget::DataDir(data.clone()),
        Some(&key),
    )
    .await
    .unwrap();
    std::fs::copy(&key, data.join("root.key")).unwrap();
    let restored = sealbox_testkit::TestServer::start_with(sealbox_testkit::Options {
        data_dir: Some(data),
        ..Default::default()
    })
    .await;
    let api = crate::Api::new(&restored);
    for (name, value) in &before {
        assert_eq!(
            api.reveal(&owner, name).await.expect(200)["value"],
            value.as_str(),
            "{name}"
        );
    }
    let verified = api.get("/v1/audit/verify", &owner).await.expect(200);
    assert_eq!(verified["ok"], true, "{verified}");
}
