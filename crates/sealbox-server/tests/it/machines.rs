//! Machine access: identities, tag policies and the context environment.

use reqwest::Method;
use serde_json::json;

use crate::{Api, setup};

/// An identity `name` with `tags` and a token for it.
async fn identity(api: &Api, owner: &str, name: &str, tags: serde_json::Value) -> String {
    api.post("/v1/identities", owner, json!({"name": name, "tags": tags}))
        .await
        .expect(201);
    let created = api
        .post(&format!("/v1/identities/{name}/tokens"), owner, json!({"name": "t"}))
        .await
        .expect(201);
    created["token"].as_str().unwrap().to_owned()
}

async fn tagged(api: &Api, owner: &str, name: &str, value: &str, tags: serde_json::Value, visibility: &str) {
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": name, "type": "text", "value": value, "tags": tags, "visibility": visibility}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn an_identity_reads_what_its_policies_allow_with_its_variables_on_top() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    tagged(
        &api,
        owner,
        "STRIPE_KEY",
        "sk-pay",
        json!({"team": "payments"}),
        "restricted",
    )
    .await;
    tagged(
        &api,
        owner,
        "LOG_LEVEL",
        "info-from-secret",
        json!({"team": "payments"}),
        "masked",
    )
    .await;
    tagged(&api, owner, "OPS_KEY", "ops-only", json!({"team": "ops"}), "masked").await;
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "MAIL", "type": "smtp", "tags": {"team": "payments"},
        "value": {"host": "smtp.example.com", "password": "mail-pw"}}),
    )
    .await
    .expect(201);
    let worker = identity(&api, owner, "payments-worker", json!({"team": "payments"})).await;
    assert!(worker.starts_with("sbx_"));

    // Deny by default.
    let env = api.get("/v1/environment", &worker).await.expect(200);
    assert_eq!(env["variables"], json!({}));

    api.post(
        "/v1/policies",
        owner,
        json!({"name": "payments-read", "identity_tags": {"team": "payments"},
        "secret_tags": {"team": "payments"}, "allow": ["read"]}),
    )
    .await
    .expect(201);
    api.send(
        Method::PUT,
        "/v1/identities/payments-worker/env/LOG_LEVEL",
        Some(owner),
        Some(json!({"value": "debug"})),
    )
    .await
    .expect(200);
    let env = api.get("/v1/environment", &worker).await.expect(200);
    let vars = &env["variables"];
    assert_eq!(vars["STRIPE_KEY"], "sk-pay", "restricted values reach identities");
    assert_eq!(
        vars["LOG_LEVEL"], "debug",
        "the identity's own variable overrides the secret"
    );
    assert!(vars.get("OPS_KEY").is_none());
    let mail: serde_json::Value = serde_json::from_str(vars["MAIL"].as_str().unwrap()).unwrap();
    assert_eq!(mail["password"], "mail-pw");

    // The read is audited as one event naming each secret and version handed out, and each is
    // recorded as used.
    let reads: Vec<_> = api
        .audit(owner)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.read")
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0]["target"], "environment");
    assert_eq!(reads[0]["actor"], "identity:payments-worker");
    assert_eq!(
        reads[0]["detail"]["secrets"],
        json!({"MAIL": 1, "STRIPE_KEY": 1}),
        "each value handed out is named with its version; the overridden one is not read"
    );
    // Asking the audit log about one secret finds the read that included it, and only that.
    for (secret, expected) in [("STRIPE_KEY", 1), ("MAIL", 1), ("LOG_LEVEL", 0), ("OPS_KEY", 0)] {
        let about = api
            .get(&format!("/v1/audit?target=secret:{secret}&action=secret.read"), owner)
            .await
            .expect(200);
        assert_eq!(about["events"].as_array().unwrap().len(), expected, "{secret}: {about}");
    }
    let about = api.get("/v1/audit?target=secret:STRIPE_KEY", owner).await.expect(200);
    let actions: Vec<&str> = about["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["secret.create", "secret.read"], "its own events and the read");
    let details = api.get("/v1/secrets/STRIPE_KEY", owner).await.expect(200);
    assert_eq!(details["last_used_by"], "identity:payments-worker");
    assert!(details["last_used_at"].is_string());
}

#[tokio::test]
async fn use_alone_never_returns_a_value_and_policy_changes_apply_at_once() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    tagged(
        &api,
        owner,
        "API_TOKEN",
        "inject-only",
        json!({"scope": "ci"}),
        "masked",
    )
    .await;
    let build = identity(&api, owner, "build", json!({})).await;
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "ci-use", "identities": ["build"], "secret_tags": {"scope": "ci"}, "allow": ["use"]}),
    )
    .await
    .expect(201);
    assert_eq!(
        api.get("/v1/environment", &build).await.expect(200)["variables"],
        json!({})
    );
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "ci-read", "identities": ["build"], "secret_tags": {"scope": "ci"}, "allow": ["read"]}),
    )
    .await
    .expect(201);
    assert_eq!(
        api.get("/v1/environment", &build).await.expect(200)["variables"]["API_TOKEN"],
        "inject-only"
    );
    assert_eq!(api.delete("/v1/policies/ci-read", owner).await.status.as_u16(), 204);
    assert_eq!(
        api.get("/v1/environment", &build).await.expect(200)["variables"],
        json!({})
    );
    let policies = api.get("/v1/policies", owner).await.expect(200);
    assert_eq!(policies["policies"][0]["name"], "ci-use");
    api.delete("/v1/policies/nope", owner)
        .await
        .expect_error(404, "policy.not_found");
}

#[tokio::test]
async fn an_identity_lists_and_sees_the_details_of_the_secrets_its_policies_cover_only() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    tagged(
        &api,
        owner,
        "PAY_READ",
        "value-pay-read",
        json!({"team": "pay"}),
        "masked",
    )
    .await;
    tagged(
        &api,
        owner,
        "PAY_USE",
        "value-pay-use",
        json!({"team": "pay", "kind": "use"}),
        "restricted",
    )
    .await;
    tagged(&api, owner, "OPS", "value-ops", json!({"team": "ops"}), "masked").await;
    let worker = identity(&api, owner, "worker", json!({"team": "pay"})).await;
    // Deny by default: nothing listed, and a secret it cannot see is "not found", like a missing one.
    assert_eq!(api.get("/v1/secrets", &worker).await.expect(200)["secrets"], json!([]));
    api.get("/v1/secrets/PAY_READ", &worker)
        .await
        .expect_error(404, "secret.not_found");

    api.post(
        "/v1/policies",
        owner,
        json!({"name": "pay-use", "identity_tags": {"team": "pay"}, "secret_tags": {"kind": "use"}, "allow": ["use"]}),
    )
    .await
    .expect(201);
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "pay-read", "identities": ["worker"], "secret_tags": {"team": "pay"}, "allow": ["read"]}),
    )
    .await
    .expect(201);
    let listed = api.get("/v1/secrets", &worker).await.expect(200);
    let names: Vec<&str> = listed["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["PAY_READ", "PAY_USE"], "covered by read or use, never OPS");
    assert!(
        !listed.to_string().contains("value-"),
        "details never hold a value: {listed}"
    );
    let filtered = api.get("/v1/secrets?tag=kind=use", &worker).await.expect(200);
    assert_eq!(filtered["secrets"].as_array().unwrap().len(), 1);
    let details = api.get("/v1/secrets/PAY_USE", &worker).await.expect(200);
    assert_eq!(details["visibility"], "restricted");
    api.get("/v1/secrets/OPS", &worker)
        .await
        .expect_error(404, "secret.not_found");
    api.get("/v1/secrets/NO_SUCH", &worker)
        .await
        .expect_error(404, "secret.not_found");
    // A secret in the trash is "not found" to an identity, covered or not: its name is not a hint.
    for name in ["OPS", "PAY_READ"] {
        assert_eq!(
            api.delete(&format!("/v1/secrets/{name}"), owner).await.status.as_u16(),
            200
        );
        let reply = api.get(&format!("/v1/secrets/{name}"), &worker).await;
        reply.expect_error(404, "secret.not_found");
        assert!(!reply.message().contains("trash"), "{}", reply.body);
        api.post(&format!("/v1/trash/{name}/restore"), owner, json!({}))
            .await
            .expect(200);
    }

    // A policy change applies on the next request.
    assert_eq!(api.delete("/v1/policies/pay-read", owner).await.status.as_u16(), 204);
    let listed = api.get("/v1/secrets", &worker).await.expect(200);
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(listed["secrets"][0]["name"], "PAY_USE");
}

#[tokio::test]
async fn identities_reach_nothing_but_their_environment_and_the_secrets_they_may_list() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "S", "v").await;
    let bot = identity(&api, owner, "bot", json!({})).await;
    // A value it may not read is "not found", like any secret no policy covers.
    api.reveal(&bot, "S").await.expect_error(404, "secret.not_found");
    for (method, path) in [
        (Method::GET, "/v1/secrets/S/versions"),
        (Method::GET, "/v1/trash"),
        (Method::GET, "/v1/identities"),
        (Method::GET, "/v1/policies"),
        (Method::GET, "/v1/members"),
        (Method::GET, "/v1/audit"),
        (Method::GET, "/v1/tokens"),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        api.send(method, path, Some(&bot), body)
            .await
            .expect_error(403, "permission.denied");
    }
    assert_eq!(api.get("/v1/auth/whoami", &bot).await.expect(200)["kind"], "identity");
}

#[tokio::test]
async fn identity_tokens_expire_and_revocation_is_immediate() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.post("/v1/identities", owner, json!({"name": "svc"}))
        .await
        .expect(201);
    let created = api
        .post(
            "/v1/identities/svc/tokens",
            owner,
            json!({"name": "deploy", "expires_in_seconds": 3600}),
        )
        .await
        .expect(201);
    let token = created["token"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    api.get("/v1/environment", token).await.expect(200);
    let listed = api.get("/v1/identities/svc/tokens", owner).await.expect(200);
    assert!(!listed.to_string().contains(token));
    assert_eq!(
        api.delete(&format!("/v1/identities/svc/tokens/{id}"), owner)
            .await
            .status
            .as_u16(),
        204
    );
    api.get("/v1/environment", token)
        .await
        .expect_error(401, "auth.token_revoked");

    let other = api
        .post(
            "/v1/identities/svc/tokens",
            owner,
            json!({"name": "short", "expires_in_seconds": 60}),
        )
        .await
        .expect(201);
    let db = crate::storage::open_db(&server);
    db.execute("UPDATE tokens SET expires_at = 1 WHERE name = 'short'", [])
        .unwrap();
    api.get("/v1/environment", other["token"].as_str().unwrap())
        .await
        .expect_error(401, "auth.token_expired");

    // Deleting the identity takes its tokens with it.
    let last = api
        .post("/v1/identities/svc/tokens", owner, json!({"name": "last"}))
        .await
        .expect(201);
    assert_eq!(api.delete("/v1/identities/svc", owner).await.status.as_u16(), 204);
    api.get("/v1/environment", last["token"].as_str().unwrap())
        .await
        .expect_error(401, "auth.invalid_token");
}

#[tokio::test]
async fn identity_and_policy_input_is_checked() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.post("/v1/identities", owner, json!({"name": "-bad"}))
        .await
        .expect_error(400, "identity.name_invalid");
    api.post("/v1/identities", owner, json!({"name": "ok", "tags": {"a b": "c"}}))
        .await
        .expect_error(400, "identity.tags_invalid");
    api.post("/v1/identities", owner, json!({"name": "ok"}))
        .await
        .expect(201);
    api.post("/v1/identities", owner, json!({"name": "ok"}))
        .await
        .expect_error(409, "identity.exists");
    api.send(
        Method::PUT,
        "/v1/identities/ok/env/1BAD",
        Some(owner),
        Some(json!({"value": "x"})),
    )
    .await
    .expect_error(400, "identity.env_invalid");
    api.send(
        Method::PUT,
        "/v1/identities/missing/env/K",
        Some(owner),
        Some(json!({"value": "x"})),
    )
    .await
    .expect_error(404, "identity.not_found");
    api.delete("/v1/identities/ok/env/NOPE", owner)
        .await
        .expect_error(404, "identity.env_not_found");
    for bad in [
        json!({"name": "p", "secret_tags": {"a": "b"}, "allow": ["read"]}),
        json!({"name": "p", "identities": ["ok"], "allow": ["read"]}),
        json!({"name": "p", "identities": ["ok"], "secret_tags": {"a": "b"}, "allow": []}),
    ] {
        api.post("/v1/policies", owner, bad)
            .await
            .expect_error(400, "policy.invalid");
    }
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "p", "identities": ["ok"], "secret_tags": {"a": "b"}, "allow": ["write"]}),
    )
    .await
    .expect_error(400, "request.invalid");
    let editor = api.member_token(owner, "ed@example.com", "editor").await;
    api.post("/v1/identities", &editor, json!({"name": "x"}))
        .await
        .expect_error(403, "permission.denied");
    api.get("/v1/policies", &editor)
        .await
        .expect_error(403, "permission.denied");
}

#[tokio::test]
async fn a_members_environment_holds_the_masked_secrets_each_counted_as_a_reveal() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    tagged(&api, owner, "MASKED", "m-value", json!({}), "masked").await;
    tagged(&api, owner, "HIDDEN", "r-value", json!({}), "restricted").await;
    let editor = api.member_token(owner, "ed@example.com", "editor").await;
    let env = api.get("/v1/environment", &editor).await.expect(200);
    assert_eq!(env["variables"], json!({"MASKED": "m-value"}));
    let reveals = api
        .audit(owner)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.reveal" && e["actor"] == "member:ed@example.com")
        .count();
    assert_eq!(reveals, 1);
}

#[tokio::test]
async fn an_identity_never_sees_another_workspace() {
    let (server, api) = setup().await;
    let token_a = server.owner_token.clone();
    let b = api
        .post("/v1/workspaces", &token_a, json!({"name": "team-b"}))
        .await
        .expect(201);
    let token_b = b["token"].as_str().unwrap().to_owned();
    tagged(&api, &token_b, "B_SECRET", "value-of-b", json!({"team": "x"}), "masked").await;
    api.post(
        "/v1/policies",
        &token_b,
        json!({"name": "all-x", "identity_tags": {"team": "x"}, "secret_tags": {"team": "x"}, "allow": ["read"]}),
    )
    .await
    .expect(201);
    // Same name and tags in workspace A: still nothing of B.
    let in_a = identity(&api, &token_a, "reader", json!({"team": "x"})).await;
    let env = api.get("/v1/environment", &in_a).await.expect(200);
    assert_eq!(env["variables"], json!({}));
    assert_eq!(api.get("/v1/secrets", &in_a).await.expect(200)["secrets"], json!([]));
    api.get("/v1/secrets/B_SECRET", &in_a)
        .await
        .expect_error(404, "secret.not_found");
    api.get("/v1/identities/reader", &token_b)
        .await
        .expect_error(404, "identity.not_found");
}

#[tokio::test]
async fn templates_render_what_the_caller_may_read_and_name_every_bad_reference() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    tagged(
        &api,
        owner,
        "DB_PASSWORD",
        "pg-secret",
        json!({"app": "web"}),
        "restricted",
    )
    .await;
    tagged(&api, owner, "OTHER_TEAM", "not-yours", json!({"app": "ops"}), "masked").await;
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "MAIL", "type": "smtp", "tags": {"app": "web"},
        "value": {"host": "smtp.example.com", "port": 587, "password": "mail-pw"}}),
    )
    .await
    .expect(201);
    let web = identity(&api, owner, "web", json!({"app": "web"})).await;
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "web-read", "identities": ["web"], "secret_tags": {"app": "web"}, "allow": ["read"]}),
    )
    .await
    .expect(201);

    let template = "db: {secrets.DB_PASSWORD}\nsmtp: {secrets.MAIL.host}:{secrets.MAIL.port} {{literal}}\npw={secrets.MAIL.password}";
    let rendered = api
        .post("/v1/render", &web, json!({"template": template}))
        .await
        .expect(200);
    assert_eq!(
        rendered["rendered"],
        "db: pg-secret\nsmtp: smtp.example.com:587 {literal}\npw=mail-pw"
    );
    let reads: Vec<_> = api
        .audit(owner)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.read")
        .collect();
    assert_eq!(reads.len(), 1, "one render, one event: {reads:?}");
    assert_eq!(reads[0]["target"], "template");
    assert_eq!(
        reads[0]["detail"]["secrets"],
        json!({"DB_PASSWORD": 1, "MAIL": 1}),
        "each secret used is named once"
    );

    let bad = "ok {secrets.DB_PASSWORD}\n{secrets.OTHER_TEAM}\n{secrets.MISSING}\n{secrets.MAIL.nope} {secrets.DB_PASSWORD.x}";
    let reply = api.post("/v1/render", &web, json!({"template": bad})).await;
    reply.expect_error(400, "template.reference_invalid");
    for expected in [
        "line 2: {secrets.OTHER_TEAM}",
        "line 3: {secrets.MISSING}",
        "line 4: {secrets.MAIL.nope}",
        "line 4: {secrets.DB_PASSWORD.x}",
    ] {
        assert!(reply.message().contains(expected), "{expected}: {}", reply.message());
    }
    assert!(
        !reply.body.to_string().contains("pg-secret"),
        "nothing is rendered half way"
    );
    let syntax = api.post("/v1/render", &web, json!({"template": "a { b\n}"})).await;
    syntax.expect_error(400, "template.invalid");
    assert_eq!(
        api.audit(owner)
            .await
            .into_iter()
            .filter(|e| e["action"] == "secret.read")
            .count(),
        1,
        "refused renders read nothing"
    );

    // Members render masked secrets only, as reveals.
    let editor = api.member_token(owner, "ed@example.com", "editor").await;
    api.post("/v1/render", &editor, json!({"template": "{secrets.OTHER_TEAM}"}))
        .await
        .expect(200);
    api.post("/v1/render", &editor, json!({"template": "{secrets.DB_PASSWORD}"}))
        .await
        .expect_error(400, "template.reference_invalid");
}

/// Issue 9, item 11: an identity reads one value with `read`, as it would in its environment.
#[tokio::test]
async fn an_identity_reveals_one_value_a_policy_lets_it_read() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    tagged(&api, owner, "PIN", "pin-v1", json!({"team": "payments"}), "restricted").await;
    api.patch("/v1/secrets/PIN", owner, json!({"value": "pin-v2"}))
        .await
        .expect(200);
    tagged(&api, owner, "UNREAD", "unread-v", json!({"team": "payments"}), "masked").await;
    tagged(&api, owner, "USE_ONLY", "use-v", json!({"team": "mail"}), "masked").await;
    tagged(&api, owner, "OPS_KEY", "ops-v", json!({"team": "ops"}), "masked").await;
    let worker = identity(&api, owner, "worker", json!({"team": "payments"})).await;
    for (name, secret_tags, allow) in [
        ("read-payments", json!({"team": "payments"}), json!(["read"])),
        ("use-mail", json!({"team": "mail"}), json!(["use"])),
    ] {
        api.post(
            "/v1/policies",
            owner,
            json!({"name": name, "identity_tags": {"team": "payments"}, "secret_tags": secret_tags, "allow": allow}),
        )
        .await
        .expect(201);
    }

    // Restricted values are readable with `read`, the current version or an older one.
    let read = api.reveal(&worker, "PIN").await.expect(200);
    assert_eq!(
        (read["value"].clone(), read["version"].clone()),
        (json!("pin-v2"), json!(2))
    );
    let old = api
        .post("/v1/secrets/PIN/reveal", &worker, json!({"version": 1}))
        .await
        .expect(200);
    assert_eq!(old["value"], "pin-v1");
    api.post("/v1/secrets/PIN/reveal", &worker, json!({"version": 9}))
        .await
        .expect_error(404, "secret.version_not_found");

    // Without `read` (only `use`, or no policy at all) it is not found, like a missing secret.
    let missing = api.reveal(&worker, "NO_SUCH").await;
    missing.expect_error(404, "secret.not_found");
    for name in ["USE_ONLY", "OPS_KEY"] {
        let refused = api.reveal(&worker, name).await;
        refused.expect_error(404, "secret.not_found");
        assert_eq!(
            refused.message(),
            missing.message().replace("NO_SUCH", name),
            "the same answer as for a missing secret"
        );
    }

    // Each read is audited as secret.read of that secret, and marks it as used.
    let reads: Vec<_> = api
        .audit(owner)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.read")
        .collect();
    let seen: Vec<_> = reads
        .iter()
        .map(|e| (e["target"].clone(), e["actor"].clone(), e["detail"]["secrets"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (json!("secret:PIN"), json!("identity:worker"), json!({"PIN": 2})),
            (json!("secret:PIN"), json!("identity:worker"), json!({"PIN": 1})),
        ]
    );
    assert!(
        !api.audit(owner).await.iter().any(|e| e.to_string().contains("pin-v")),
        "no value in the audit log"
    );
    let details = api.get("/v1/secrets/PIN", owner).await.expect(200);
    assert_eq!(details["last_used_by"], "identity:worker");
    for name in ["UNREAD", "USE_ONLY", "OPS_KEY"] {
        let details = api.get(&format!("/v1/secrets/{name}"), owner).await.expect(200);
        assert!(details["last_used_at"].is_null(), "{name}: {details}");
    }
}

/// Issue 9, items 9 and 11: the environment says which variables are secrets, and `only` reads
/// just the named ones.
#[tokio::test]
async fn the_environment_names_its_secrets_and_only_reads_just_the_named_ones() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    for (name, value) in [("API_KEY", "api-v"), ("DB_PASS", "db-v")] {
        tagged(&api, owner, name, value, json!({"team": "payments"}), "masked").await;
    }
    tagged(&api, owner, "OPS_KEY", "ops-v", json!({"team": "ops"}), "masked").await;
    let worker = identity(&api, owner, "worker", json!({"team": "payments"})).await;
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "p", "identity_tags": {"team": "payments"}, "secret_tags": {"team": "payments"}, "allow": ["read"]}),
    )
    .await
    .expect(201);
    api.send(
        Method::PUT,
        "/v1/identities/worker/env/LOG_LEVEL",
        Some(owner),
        Some(json!({"value": "debug"})),
    )
    .await
    .expect(200);

    let only = api
        .get("/v1/environment?only=API_KEY,LOG_LEVEL", &worker)
        .await
        .expect(200);
    assert_eq!(only["variables"], json!({"API_KEY": "api-v", "LOG_LEVEL": "debug"}));
    assert_eq!(
        only["secrets"],
        json!(["API_KEY"]),
        "the identity's own variable is not a secret"
    );
    let reads: Vec<_> = api
        .audit(owner)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.read")
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(
        reads[0]["detail"]["secrets"],
        json!({"API_KEY": 1}),
        "only what was asked for"
    );
    let used = |name: &'static str| {
        let api = &api;
        async move {
            let details = api.get(&format!("/v1/secrets/{name}"), owner).await.expect(200);
            details["last_used_by"].clone()
        }
    };
    assert_eq!(used("API_KEY").await, "identity:worker");
    assert_eq!(used("DB_PASS").await, json!(null), "not read, not marked as used");

    // A name the identity has no variable for (another team's secret, or none at all) is refused
    // with every such name, and nothing is read.
    let events = api.audit(owner).await.len();
    let refused = api.get("/v1/environment?only=DB_PASS,OPS_KEY,NOPE", &worker).await;
    refused.expect_error(400, "environment.only_invalid");
    assert!(
        refused.message().contains("OPS_KEY") && refused.message().contains("NOPE"),
        "{}",
        refused.message()
    );
    assert!(!refused.message().contains("DB_PASS"), "{}", refused.message());
    api.get("/v1/environment?only=", &worker)
        .await
        .expect_error(400, "environment.only_invalid");
    assert_eq!(api.audit(owner).await.len(), events, "a refused request reads nothing");
    assert_eq!(used("DB_PASS").await, json!(null));

    // Without `only`: everything, with the secrets named.
    let env = api.get("/v1/environment", &worker).await.expect(200);
    assert_eq!(
        env["variables"],
        json!({"API_KEY": "api-v", "DB_PASS": "db-v", "LOG_LEVEL": "debug"})
    );
    assert_eq!(env["secrets"], json!(["API_KEY", "DB_PASS"]));
    assert_eq!(used("DB_PASS").await, "identity:worker");
}

/// Issue 9, item 16: a policy naming an identity that does not exist is refused with its name,
/// and nothing is created.
#[tokio::test]
async fn issue_9_a_policy_for_a_missing_identity_is_refused_by_name() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    identity(&api, owner, "real", json!({})).await;
    let reply = api
        .post(
            "/v1/policies",
            owner,
            json!({"name": "p", "identities": ["real", "ghost", "phantom"], "secret_tags": {"team": "x"}, "allow": ["read"]}),
        )
        .await;
    reply.expect_error(400, "policy.invalid");
    assert!(
        reply.message().contains("\"ghost\"") && reply.message().contains("\"phantom\""),
        "{}",
        reply.message()
    );
    assert!(!reply.message().contains("\"real\""), "{}", reply.message());
    let policies = api.get("/v1/policies", owner).await.expect(200);
    assert_eq!(policies["policies"], json!([]), "nothing was created");
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "p", "identities": ["real"], "secret_tags": {"team": "x"}, "allow": ["read"]}),
    )
    .await
    .expect(201);
}
