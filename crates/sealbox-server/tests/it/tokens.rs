//! Personal access tokens, sessions and password login.

use reqwest::Method;
use serde_json::json;

use crate::setup;

#[tokio::test]
async fn personal_access_tokens_are_shown_once_and_revocable() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let created = api
        .post("/v1/tokens", owner, json!({"name": "ci", "expires_in_seconds": 3600}))
        .await
        .expect(201);
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sbx_"));
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created["expires_at"].is_string());
    api.get("/v1/secrets", &token).await.expect(200);
    let listed = api.get("/v1/tokens", owner).await.expect(200);
    assert!(!listed.to_string().contains(&token), "a listing never shows a token");
    assert!(listed["tokens"].as_array().unwrap().iter().any(|t| t["id"] == id));

    assert_eq!(
        api.delete(&format!("/v1/tokens/{id}"), owner).await.status.as_u16(),
        204
    );
    api.get("/v1/secrets", &token)
        .await
        .expect_error(401, "auth.token_revoked");
    api.delete(&format!("/v1/tokens/{id}"), owner)
        .await
        .expect_error(404, "token.not_found");
    api.post("/v1/tokens", owner, json!({"name": "x", "expires_in_seconds": 5}))
        .await
        .expect_error(400, "token.ttl_invalid");
    api.post("/v1/tokens", owner, json!({"name": ""}))
        .await
        .expect_error(400, "token.name_invalid");
}

#[tokio::test]
async fn missing_malformed_and_unknown_tokens_get_401() {
    let (_server, api) = setup().await;
    api.send(Method::GET, "/v1/secrets", None, None)
        .await
        .expect_error(401, "auth.missing_token");
    for bad in ["nope", "sbx_", "sbx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        api.get("/v1/secrets", bad)
            .await
            .expect_error(401, "auth.invalid_token");
    }
}

#[tokio::test]
async fn expired_tokens_get_their_own_error() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let token = api
        .post("/v1/tokens", owner, json!({"name": "short", "expires_in_seconds": 60}))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    api.get("/v1/secrets", &token).await.expect(200);
    // Expiry is checked against the stored time: age the token in the database.
    rusqlite::Connection::open(server.data_dir().join("sealbox.db"))
        .unwrap()
        .execute_batch("UPDATE tokens SET expires_at = 1 WHERE name = 'short'")
        .unwrap();
    api.get("/v1/secrets", &token)
        .await
        .expect_error(401, "auth.token_expired");
}

#[tokio::test]
async fn login_logout_and_rate_limited_failures() {
    let (server, api) = setup().await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    assert!(session.starts_with("sbx_"));
    let me = api.get("/v1/auth/whoami", &session).await.expect(200);
    assert_eq!(
        (me["role"].as_str(), me["workspace"].as_str()),
        (Some("owner"), Some("default"))
    );
    assert_eq!(
        api.send(Method::POST, "/v1/auth/logout", Some(&session), None)
            .await
            .status
            .as_u16(),
        204
    );
    api.get("/v1/auth/whoami", &session)
        .await
        .expect_error(401, "auth.token_revoked");

    let wrong = json!({"email": server.owner_email, "password": "wrong password!"});
    for _ in 0..5 {
        api.send(Method::POST, "/v1/auth/login", None, Some(wrong.clone()))
            .await
            .expect_error(401, "auth.bad_credentials");
    }
    api.send(Method::POST, "/v1/auth/login", None, Some(wrong))
        .await
        .expect_error(429, "auth.rate_limited");
    // Even the right password waits out the window.
    api.send(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": server.owner_email, "password": server.owner_password})),
    )
    .await
    .expect_error(429, "auth.rate_limited");
    let events = api.audit(&server.owner_token).await;
    let failures = events
        .iter()
        .filter(|e| e["action"] == "auth.login" && e["outcome"] == "failure")
        .count();
    assert_eq!(failures, 5);
    assert!(events.iter().all(|e| !e.to_string().contains("wrong password!")));
    // Unknown e-mails get the same answer as wrong passwords.
    api.send(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": "nobody@example.com", "password": "x"})),
    )
    .await
    .expect_error(401, "auth.bad_credentials");
}

/// Issue 9, item 10: a leaked token is revoked by pasting it. It travels in the body (paths are
/// logged), a token that is not the caller's is "not found" whoever's it is, and lists show a
/// prefix to match a leaked token to its row.
#[tokio::test]
async fn issue_9_a_leaked_token_is_revoked_by_its_value() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let created = api
        .post("/v1/tokens", owner, json!({"name": "leaky"}))
        .await
        .expect(201);
    let leaked = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["prefix"], leaked[4..12], "{created}");
    let listed = api.get("/v1/tokens", owner).await.expect(200);
    let row = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["prefix"], leaked[4..12], "{listed}");
    assert!(!listed.to_string().contains(&leaked), "a listing never shows a token");

    // Someone else's token, here or in another workspace, is "not found" and keeps working.
    let admin = api.member_token(owner, "admin@example.com", "admin").await;
    let elsewhere = api
        .post("/v1/workspaces", owner, json!({"name": "elsewhere"}))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for foreign in [&admin, &elsewhere] {
        api.post("/v1/tokens/revoke", owner, json!({ "token": foreign }))
            .await
            .expect_error(404, "token.not_found");
        api.get("/v1/auth/whoami", foreign).await.expect(200);
    }
    for junk in [
        "",
        "sbx_",
        "not a token",
        "sbx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        api.post("/v1/tokens/revoke", owner, json!({ "token": junk }))
            .await
            .expect_error(404, "token.not_found");
    }
    api.post("/v1/tokens/revoke", owner, json!({"id": id}))
        .await
        .expect_error(400, "request.invalid");

    let revoked = api.post("/v1/tokens/revoke", owner, json!({ "token": leaked })).await;
    assert_eq!(revoked.status.as_u16(), 204);
    api.get("/v1/secrets", &leaked)
        .await
        .expect_error(401, "auth.token_revoked");
    api.post("/v1/tokens/revoke", owner, json!({ "token": leaked }))
        .await
        .expect_error(404, "token.not_found");
    let events = api.audit(owner).await;
    let event = events
        .iter()
        .find(|e| e["action"] == "token.revoke")
        .unwrap_or_else(|| panic!("no token.revoke event: {events:?}"));
    assert_eq!(event["target"], format!("token:{id}"));
    assert_eq!(event["detail"]["by"], "value");
    assert!(!serde_json::to_string(&events).unwrap().contains(&leaked));
    // A token pasted where an id belongs is not found, and not logged with the path either.
    api.delete(&format!("/v1/tokens/{admin}"), owner)
        .await
        .expect_error(404, "token.not_found");
    crate::logs::assert_clean(&[&leaked, &admin, &elsewhere]);

    // Tokens made before prefixes were kept show none.
    rusqlite::Connection::open(server.data_dir().join("sealbox.db"))
        .unwrap()
        .execute_batch("UPDATE tokens SET prefix = NULL")
        .unwrap();
    let listed = api.get("/v1/tokens", owner).await.expect(200);
    assert!(
        listed["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["prefix"].is_null()),
        "{listed}"
    );
}

/// Issue 9, item 10: the same for an identity's tokens.
#[tokio::test]
async fn issue_9_an_identitys_leaked_token_is_revoked_by_its_value() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    for name in ["worker", "other"] {
        api.post("/v1/identities", owner, json!({ "name": name }))
            .await
            .expect(201);
    }
    let token_of = |body: serde_json::Value| body["token"].as_str().unwrap().to_owned();
    let worker = token_of(
        api.post("/v1/identities/worker/tokens", owner, json!({"name": "t"}))
            .await
            .expect(201),
    );
    let other = token_of(
        api.post("/v1/identities/other/tokens", owner, json!({"name": "t"}))
            .await
            .expect(201),
    );
    let listed = api.get("/v1/identities/worker/tokens", owner).await.expect(200);
    assert_eq!(listed["tokens"][0]["prefix"], worker[4..12], "{listed}");

    // Another identity's token and the owner's own are not worker's.
    for foreign in [&other, owner] {
        api.post(
            "/v1/identities/worker/tokens/revoke",
            owner,
            json!({ "token": foreign }),
        )
        .await
        .expect_error(404, "token.not_found");
        api.get("/v1/auth/whoami", foreign).await.expect(200);
    }
    let revoked = api
        .post("/v1/identities/worker/tokens/revoke", owner, json!({ "token": worker }))
        .await;
    assert_eq!(revoked.status.as_u16(), 204);
    api.get("/v1/environment", &worker)
        .await
        .expect_error(401, "auth.token_revoked");
    api.get("/v1/environment", &other).await.expect(200);
    api.post("/v1/identities/ghost/tokens/revoke", owner, json!({ "token": other }))
        .await
        .expect_error(404, "identity.not_found");
    crate::logs::assert_clean(&[&worker, &other]);
}

/// Issue 9, item 16: the audit list pages newest first as well as oldest first, says when more
/// events match than it returned, and takes times back from now.
#[tokio::test]
async fn issue_9_audit_pages_both_ways_and_says_when_there_is_more() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    for name in ["A1", "A2", "A3", "A4"] {
        api.create_text(owner, name, "v").await;
    }
    let all = api.get("/v1/audit?limit=1000", owner).await.expect(200);
    assert_eq!(all["more"], false, "{all}");
    let seqs = |body: &serde_json::Value| -> Vec<u64> {
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    let every = seqs(&all);
    let n = every.len();
    assert!(n >= 4, "{all}");
    let newest = *every.last().unwrap();

    let oldest_two = api.get("/v1/audit?limit=2", owner).await.expect(200);
    assert_eq!(seqs(&oldest_two), every[..2], "{oldest_two}");
    assert_eq!(oldest_two["more"], true, "{oldest_two}");
    let newest_two = api.get("/v1/audit?limit=2&order=newest", owner).await.expect(200);
    assert_eq!(seqs(&newest_two), [newest, newest - 1], "{newest_two}");
    assert_eq!(newest_two["more"], true, "{newest_two}");
    let back = api
        .get(
            &format!("/v1/audit?order=newest&before={}&limit=1000", newest - 1),
            owner,
        )
        .await
        .expect(200);
    let mut expected: Vec<u64> = every[..n - 2].to_vec();
    expected.reverse();
    assert_eq!(seqs(&back), expected, "{back}");
    assert_eq!(back["more"], false, "{back}");
    let exactly = api.get(&format!("/v1/audit?limit={n}"), owner).await.expect(200);
    assert_eq!(exactly["more"], false, "exactly all of them: {exactly}");

    for since in ["1h", "30m", "7d", "2w", "3600s"] {
        let recent = api
            .get(&format!("/v1/audit?since={since}&limit=1000"), owner)
            .await
            .expect(200);
        assert_eq!(seqs(&recent), every, "{since}: {recent}");
    }
    let none = api.get("/v1/audit?until=1h", owner).await.expect(200);
    assert_eq!(seqs(&none), Vec::<u64>::new(), "nothing is older than an hour: {none}");
    for bad in ["since=1y", "since=-1h", "since=yesterday", "order=sideways"] {
        let reply = api.get(&format!("/v1/audit?{bad}"), owner).await;
        assert_eq!(reply.status.as_u16(), 400, "{bad}: {}", reply.message());
    }
}
