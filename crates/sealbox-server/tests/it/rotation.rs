//! Issue 12: key rotation. `POST /v1/sys/rotate` makes a new keyring version active at once and
//! rewraps the stored data keys in the background while the server serves; `GET` shows the
//! progress; replicas on one PostgreSQL pick the new version up without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Api, setup};

/// Polls `GET /v1/sys/rotate` until nothing remains; the last status.
async fn wait_for_rotation(api: &Api, token: &str) -> Value {
    for _ in 0..600 {
        let status = api.get("/v1/sys/rotate", token).await.expect(200);
        if status["remaining"] == 0 {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the rotation did not complete");
}

/// Reads and writes until `stop`: each worker rewrites its own secrets and reads everyone's,
/// checking each value read belongs to its secret. Counts requests and failures.
fn start_load(
    api: Arc<Api>,
    token: String,
    names: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|worker| {
            let (api, token, names, stop, requests, failures) = (
                api.clone(),
                token.clone(),
                names.clone(),
                stop.clone(),
                requests.clone(),
                failures.clone(),
            );
            tokio::spawn(async move {
                let mut round = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let mine = &names[(worker + 4 * round) % names.len()];
                    let wrote = api
                        .patch(
                            &format!("/v1/secrets/{mine}"),
                            &token,
                            json!({"value": format!("{mine}-round-{round}")}),
                        )
                        .await;
                    let read_name = &names[(round * 7 + worker) % names.len()];
                    let read = api.reveal(&token, read_name).await;
                    requests.fetch_add(2, Ordering::Relaxed);
                    let read_ok = read.status == 200
                        && read.body["value"]
                            .as_str()
                            .is_some_and(|v| v.starts_with(&format!("{read_name}-")));
                    if wrote.status != 200 || !read_ok {
                        eprintln!("failed: write {} read {} {}", wrote.status, read.status, read.body);
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect()
}

/// Rotates under load on `api`; checks zero failures, every value reads, the audit verifies.
async fn rotate_under_load(api: Arc<Api>, token: &str, secrets: usize) {
    let names: Vec<String> = (0..secrets).map(|i| format!("KEY_{i:04}")).collect();
    for name in &names {
        api.create_text(token, name, &format!("{name}-initial")).await;
    }
    let before = api.get("/v1/sys/rotate", token).await.expect(200);
    assert_eq!(before["active_version"], 1);
    assert!(before["total"].as_u64().unwrap() >= secrets as u64, "{before}");
    let (stop, requests, failures) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let names = Arc::new(names);
    let load = start_load(
        api.clone(),
        token.to_owned(),
        names.clone(),
        stop.clone(),
        requests.clone(),
        failures.clone(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = api.post("/v1/sys/rotate", token, json!({})).await.expect(200);
    assert_eq!(started["active_version"], 2);
    let done = wait_for_rotation(&api, token).await;
    // Keep the load on a little after, then stop it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert!(requests.load(Ordering::Relaxed) > 20, "the load ran");
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no request failed during the rotation"
    );
    // Writes made during the rotation are under version 2 too (rewrapped or written so).
    let after = wait_for_rotation(&api, token).await;
    assert_eq!(after["active_version"], 2);
    assert_eq!(after["done"], after["total"]);
    assert!(done["total"].as_u64().unwrap() >= secrets as u64);
    for name in names.iter() {
        let value = api.reveal(token, name).await.expect(200)["value"].clone();
        assert!(
            value.as_str().unwrap().starts_with(&format!("{name}-")),
            "{name}: {value}"
        );
        // Every older version reads too.
        let v1 = api
            .post(&format!("/v1/secrets/{name}/reveal"), token, json!({"version": 1}))
            .await
            .expect(200);
        assert_eq!(v1["value"], format!("{name}-initial"));
    }
    let verified = api.get("/v1/audit/verify", token).await.expect(200);
    assert_eq!(verified["ok"], true, "{verified}");
    let rotations = api.get("/v1/audit?action=server.rotate", token).await.expect(200)["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    assert_eq!(rotations[0]["outcome"], "success");
    assert_eq!(rotations[0]["detail"]["previous_version"], 1);
}

#[tokio::test]
async fn a_rotation_under_read_and_write_load_fails_no_request_and_every_value_reads() {
    let (server, api) = setup().await;
    rotate_under_load(Arc::new(api), &server.owner_token.clone(), 450).await;
    // The metrics show the active version and nothing remaining.
    let metrics = reqwest::Client::new()
        .get(format!("{}/v1/sys/metrics", server.url))
        .bearer_auth(&server.owner_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("sealbox_keyring_active_version 2"), "{metrics}");
    assert!(
        metrics.contains("sealbox_key_rotation_data_keys{state=\"remaining\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn only_owners_of_the_first_workspace_may_rotate_and_a_refusal_is_audited() {
    let (server, api) = setup().await;
    let owner = server.owner_token.clone();
    let admin = api.member_token(&owner, "admin@example.com", "admin").await;
    for method in [Method::POST, Method::GET] {
        api.send(method, "/v1/sys/rotate", Some(&admin), None)
            .await
            .expect_error(403, "permission.denied");
    }
    let b = api
        .post("/v1/workspaces", &owner, json!({"name": "team-b"}))
        .await
        .expect(201);
    let owner_b = b["token"].as_str().unwrap().to_owned();
    let refused = api.send(Method::POST, "/v1/sys/rotate", Some(&owner_b), None).await;
    refused.expect_error(403, "permission.denied");
    assert!(
        refused.message().contains("first workspace (default)"),
        "{}",
        refused.message()
    );
    assert_eq!(api.get("/v1/sys/rotate", &owner).await.expect(200)["active_version"], 1);
    let denied: Vec<_> = api
        .audit(&owner)
        .await
        .into_iter()
        .filter(|e| e["action"] == "server.rotate")
        .collect();
    assert_eq!(denied.len(), 2, "the admin's two refusals: {denied:?}");
    assert!(denied.iter().all(|e| e["outcome"] == "denied"));
    // Rotating twice gives version 3; values written under each version read.
    api.create_text(&owner, "UNDER_V1", "one").await;
    api.post("/v1/sys/rotate", &owner, json!({})).await.expect(200);
    api.create_text(&owner, "UNDER_V2", "two").await;
    let third = api.post("/v1/sys/rotate", &owner, json!({})).await.expect(200);
    assert_eq!(third["active_version"], 3);
    wait_for_rotation(&api, &owner).await;
    assert_eq!(api.reveal(&owner, "UNDER_V1").await.expect(200)["value"], "one");
    assert_eq!(api.reveal(&owner, "UNDER_V2").await.expect(200)["value"], "two");
}

#[tokio::test]
async fn replicas_on_one_postgres_pick_up_a_rotation_without_a_restart() {
    let Some((first, second)) = crate::two_replicas_on_postgres().await else {
        return;
    };
    let (a, b) = (Arc::new(Api::new(&first)), Api::new(&second));
    let token = first.owner_token.clone();
    b.create_text(&token, "BEFORE", "written-by-b-under-v1").await;
    rotate_under_load(a.clone(), &token, 120).await;
    // a wrote under version 2; b, which never restarted, reads it (loading version 2) ...
    a.create_text(&token, "AFTER", "written-by-a-under-v2").await;
    assert_eq!(
        b.reveal(&token, "AFTER").await.expect(200)["value"],
        "written-by-a-under-v2"
    );
    assert_eq!(
        b.reveal(&token, "BEFORE").await.expect(200)["value"],
        "written-by-b-under-v1"
    );
    // ... and writes under it too.
    b.create_text(&token, "FROM_B", "written-by-b-after").await;
    let status = b.get("/v1/sys/rotate", &token).await.expect(200);
    assert_eq!(status["active_version"], 2);
    let status = wait_for_rotation(&b, &token).await;
    assert_eq!(status["done"], status["total"]);
    assert_eq!(
        a.reveal(&token, "FROM_B").await.expect(200)["value"],
        "written-by-b-after"
    );
}
