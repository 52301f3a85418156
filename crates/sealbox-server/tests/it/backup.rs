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
