//! Roles (owner, admin, editor) and workspace isolation.

use reqwest::Method;
use serde_json::json;

use crate::setup;

#[tokio::test]
async fn editors_view_and_reveal_masked_values_and_nothing_more() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "SHARED", "editor-can-see").await;
    let editor = api.member_token(owner, "ed@example.com", "editor").await;

    api.get("/v1/secrets", &editor).await.expect(200);
    api.get("/v1/secrets/SHARED", &editor).await.expect(200);
    api.get("/v1/secrets/SHARED/versions", &editor).await.expect(200);
    assert_eq!(
        api.reveal(&editor, "SHARED").await.expect(200)["value"],
        "editor-can-see"
    );

    let forbidden = [
        api.post(
            "/v1/secrets",
            &editor,
            json!({"name": "NEW", "type": "text", "value": "v"}),
        )
        .await,
        api.patch("/v1/secrets/SHARED", &editor, json!({"value": "changed"}))
            .await,
        api.post("/v1/secrets/SHARED/rollback", &editor, json!({"to": 1})).await,
        api.delete("/v1/secrets/SHARED", &editor).await,
        api.post("/v1/trash/SHARED/restore", &editor, json!({})).await,
        api.delete("/v1/trash/SHARED", &editor).await,
        api.get("/v1/members", &editor).await,
        api.post(
            "/v1/members",
            &editor,
            json!({"email": "x@example.com", "role": "editor"}),
        )
        .await,
        api.get("/v1/audit", &editor).await,
        api.get("/v1/audit/verify", &editor).await,
    ];
    for reply in forbidden {
        reply.expect_error(403, "permission.denied");
    }
    // Nothing changed.
    assert_eq!(api.get("/v1/secrets/SHARED", owner).await.expect(200)["version"], 1);
    assert_eq!(
        api.get("/v1/secrets", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn admins_manage_secrets_and_members_but_not_owners() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let admin = api.member_token(owner, "admin@example.com", "admin").await;
    api.create_text(&admin, "BY_ADMIN", "v").await;
    api.post(
        "/v1/members",
        &admin,
        json!({"email": "e2@example.com", "role": "editor", "password": "long enough password"}),
    )
    .await
    .expect(201);
    api.patch("/v1/members/e2@example.com", &admin, json!({"role": "admin"}))
        .await
        .expect(200);
    api.post(
        "/v1/members",
        &admin,
        json!({"email": "o2@example.com", "role": "owner"}),
    )
    .await
    .expect_error(403, "permission.denied");
    let owner_path = format!("/v1/members/{}", server.owner_email);
    api.patch(&owner_path, &admin, json!({"role": "editor"}))
        .await
        .expect_error(403, "permission.denied");
    api.delete(&owner_path, &admin)
        .await
        .expect_error(403, "permission.denied");
    // The only owner cannot demote or remove themselves.
    api.patch(&owner_path, owner, json!({"role": "admin"}))
        .await
        .expect_error(409, "member.last_owner");
    api.delete(&owner_path, owner)
        .await
        .expect_error(409, "member.last_owner");
    // Removing a member revokes their sessions at once.
    api.delete("/v1/members/admin@example.com", owner).await;
    api.get("/v1/secrets", &admin)
        .await
        .expect_error(401, "auth.invalid_token");
    let members = api.get("/v1/members", owner).await.expect(200);
    assert_eq!(members["members"].as_array().unwrap().len(), 2);
    // A generated password is returned once.
    let added = api
        .post(
            "/v1/members",
            owner,
            json!({"email": "gen@example.com", "role": "editor"}),
        )
        .await
        .expect(201);
    assert_eq!(added["password"].as_str().unwrap().len(), 24);
    api.post(
        "/v1/members",
        owner,
        json!({"email": "gen@example.com", "role": "editor"}),
    )
    .await
    .expect_error(409, "member.exists");
    api.post("/v1/members", owner, json!({"email": "not-an-email", "role": "editor"}))
        .await
        .expect_error(400, "member.email_invalid");
}

#[tokio::test]
async fn a_token_of_workspace_a_gets_404_for_everything_in_workspace_b() {
    let (server, api) = setup().await;
    let token_a = server.owner_token.clone();
    let b = api
        .post("/v1/workspaces", &token_a, json!({"name": "team-b"}))
        .await
        .expect(201);
    let token_b = b["token"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get("/v1/auth/whoami", &token_b).await.expect(200)["workspace"],
        "team-b"
    );
    api.create_text(&token_b, "B_ONLY", "value-of-b").await;
    api.patch("/v1/secrets/B_ONLY", &token_b, json!({"value": "value-of-b-2"}))
        .await
        .expect(200);
    api.create_text(&token_b, "B_TRASHED", "trashed-of-b").await;
    api.delete("/v1/secrets/B_TRASHED", &token_b).await.expect(200);

    let attempts = [
        (Method::GET, "/v1/secrets/B_ONLY", None),
        (Method::PATCH, "/v1/secrets/B_ONLY", Some(json!({"value": "hijack"}))),
        (Method::DELETE, "/v1/secrets/B_ONLY", None),
        (Method::GET, "/v1/secrets/B_ONLY/versions", None),
        (Method::POST, "/v1/secrets/B_ONLY/reveal", Some(json!({}))),
        (Method::POST, "/v1/secrets/B_ONLY/rollback", Some(json!({"to": 1}))),
        (Method::POST, "/v1/trash/B_TRASHED/restore", Some(json!({}))),
        (Method::DELETE, "/v1/trash/B_TRASHED", None),
    ];
    for (method, path, body) in attempts {
        let reply = api.send(method.clone(), path, Some(&token_a), body).await;
        reply.expect_error(404, "secret.not_found");
        assert!(!reply.body.to_string().contains("value-of-b"), "{method} {path}");
    }
    let list_a = api.get("/v1/secrets", &token_a).await.expect(200);
    assert!(list_a["secrets"].as_array().unwrap().is_empty());
    assert!(
        api.get("/v1/trash", &token_a).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        api.audit(&token_a)
            .await
            .iter()
            .all(|e| !e.to_string().contains("B_ONLY"))
    );
    // A same-named secret in A is a different secret.
    api.create_text(&token_a, "B_ONLY", "value-of-a").await;
    assert_eq!(
        api.reveal(&token_b, "B_ONLY").await.expect(200)["value"],
        "value-of-b-2"
    );
    assert_eq!(api.reveal(&token_a, "B_ONLY").await.expect(200)["value"], "value-of-a");
    api.post("/v1/workspaces", &token_a, json!({"name": "team-b"}))
        .await
        .expect_error(409, "workspace.exists");
    api.post("/v1/workspaces", &token_a, json!({"name": "Bad Name"}))
        .await
        .expect_error(400, "workspace.name_invalid");
}
