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
