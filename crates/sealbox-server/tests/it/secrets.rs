//! Secrets: names, types, visibility, versions, conflicts, rollback, trash.

use serde_json::json;

use crate::setup;

#[tokio::test]
async fn create_get_list_reveal_and_the_details_never_hold_the_value() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let created = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "STRIPE_KEY", "type": "text", "value": "sk_live_abc123",
                   "description": "payments", "metadata": {"team": "pay"}, "tags": {"team": "payments", "env": "prod"}}),
        )
        .await
        .expect(201);
    assert_eq!(created["name"], "STRIPE_KEY");
    assert_eq!(created["visibility"], "masked");
    assert_eq!(created["version"], 1);
    assert_eq!(created["created_by"], format!("member:{}", server.owner_email));
    assert!(!created.to_string().contains("sk_live_abc123"));

    let details = api.get("/v1/secrets/STRIPE_KEY", owner).await.expect(200);
    assert_eq!(details["tags"]["team"], "payments");
    assert!(!details.to_string().contains("sk_live_abc123"));

    api.create_text(owner, "OTHER", "x-value").await;
    let by_tag = api
        .get("/v1/secrets?tag=team=payments&tag=env=prod", owner)
        .await
        .expect(200);
    assert_eq!(by_tag["secrets"].as_array().unwrap().len(), 1);
    let by_prefix = api.get("/v1/secrets?prefix=OTH", owner).await.expect(200);
    assert_eq!(by_prefix["secrets"][0]["name"], "OTHER");
    let by_type = api.get("/v1/secrets?type=smtp", owner).await.expect(200);
    assert!(by_type["secrets"].as_array().unwrap().is_empty());
    api.get("/v1/secrets?type=nope", owner)
        .await
        .expect_error(400, "request.invalid");
    api.get("/v1/secrets?tag=novalue", owner)
        .await
        .expect_error(400, "secret.tags_invalid");
    assert!(
        !api.get("/v1/secrets", owner)
            .await
            .expect(200)
            .to_string()
            .contains("sk_live_abc123")
    );

    let revealed = api.reveal(owner, "STRIPE_KEY").await.expect(200);
    assert_eq!(revealed["value"], "sk_live_abc123");
    assert_eq!(revealed["version"], 1);
    let reveals: Vec<_> = api
        .audit(owner)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.reveal")
        .collect();
    assert_eq!(reveals.len(), 1);
    assert_eq!(reveals[0]["target"], "secret:STRIPE_KEY");
}

#[tokio::test]
async fn names_are_checked_rule_by_rule_and_unique() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    for (name, rule) in [
        ("1ABC", "must begin with a letter"),
        ("_ABC", "must begin with a letter"),
        ("A-B", "only letters, digits and underscore"),
        ("A B", "only letters, digits and underscore"),
        ("", "must not be empty"),
    ] {
        let reply = api
            .post(
                "/v1/secrets",
                owner,
                json!({"name": name, "type": "text", "value": "v"}),
            )
            .await;
        reply.expect_error(400, "secret.name_invalid");
        assert!(reply.message().contains(rule), "{name}: {}", reply.message());
    }
    let long = "A".repeat(129);
    let reply = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": long, "type": "text", "value": "v"}),
        )
        .await;
    reply.expect_error(400, "secret.name_invalid");
    assert!(reply.message().contains("at most 128 characters"));
    api.create_text(owner, &"A".repeat(128), "v").await;

    api.create_text(owner, "Case", "v").await;
    api.create_text(owner, "CASE", "v").await; // case-sensitive: a different name
    let dup = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "Case", "type": "text", "value": "v"}),
        )
        .await;
    dup.expect_error(409, "secret.name_taken");
    assert!(dup.message().contains("already exists"));
    assert_eq!(
        api.get("/v1/secrets", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn text_values_count_unicode_characters() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let emoji = "🔑".repeat(2048);
    api.create_text(owner, "EMOJI", &emoji).await;
    assert_eq!(api.reveal(owner, "EMOJI").await.expect(200)["value"], emoji);
    let reply = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "LONG", "type": "text", "value": "a".repeat(2049)}),
        )
        .await;
    reply.expect_error(400, "secret.value_invalid");
    assert!(reply.message().contains("at most 2048 characters"));
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "EMPTY", "type": "text", "value": ""}),
    )
    .await
    .expect_error(400, "secret.value_invalid");
    api.post("/v1/secrets", owner, json!({"name": "NUM", "type": "text", "value": 5}))
        .await
        .expect_error(400, "secret.value_invalid");
}

#[tokio::test]
async fn structured_types_validate_field_by_field_and_show_public_details() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let smtp = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "MAIL", "type": "smtp", "value": {"host": "smtp.example.com", "username": "bot", "password": "mail-pass-9", "from": "bot@example.com"}}),
        )
        .await
        .expect(201);
    assert_eq!(smtp["details"]["port"], 587);
    assert_eq!(smtp["details"]["host"], "smtp.example.com");
    assert!(!smtp.to_string().contains("mail-pass-9"));
    let revealed = api.reveal(owner, "MAIL").await.expect(200);
    assert_eq!(revealed["value"]["password"], "mail-pass-9");

    let bad = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "MAIL2", "type": "smtp", "value": {"host": "h", "port": 0}}),
        )
        .await;
    bad.expect_error(400, "secret.value_invalid");
    assert!(
        bad.message().contains("smtp.port: must be 1-65535"),
        "{}",
        bad.message()
    );

    let sqs = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "QUEUE", "type": "aws_sqs", "value": {"aws_region": "us-east-1", "queue_url": "https://sqs.us-east-1.amazonaws.com/123/q",
                   "access_key_id": "AKIAEXAMPLE", "secret_access_key": "sqs-secret-key-7"}}),
        )
        .await
        .expect(201);
    assert_eq!(sqs["details"]["aws_region"], "us-east-1");
    assert!(!sqs.to_string().contains("sqs-secret-key-7"));
    let bad = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "Q2", "type": "aws_sqs", "value": {"aws_region": "mars"}}),
        )
        .await;
    bad.expect_error(400, "secret.value_invalid");
    for field in [
        "aws_sqs.aws_region",
        "aws_sqs.queue_url: is required",
        "aws_sqs.access_key_id: is required",
    ] {
        assert!(bad.message().contains(field), "{field}: {}", bad.message());
    }
}

#[tokio::test]
async fn limits_on_description_metadata_and_tags() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let base = |extra: serde_json::Value| {
        let mut v = json!({"name": "L", "type": "text", "value": "v"});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    api.post("/v1/secrets", owner, base(json!({"description": "d".repeat(1025)})))
        .await
        .expect_error(400, "secret.description_invalid");
    api.post("/v1/secrets", owner, base(json!({"metadata": "not an object"})))
        .await
        .expect_error(400, "secret.metadata_invalid");
    api.post(
        "/v1/secrets",
        owner,
        base(json!({"metadata": {"k": "v".repeat(17 * 1024)}})),
    )
    .await
    .expect_error(400, "secret.metadata_invalid");
    let many: serde_json::Map<_, _> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    api.post("/v1/secrets", owner, base(json!({"tags": many})))
        .await
        .expect_error(400, "secret.tags_invalid");
    assert!(
        api.get("/v1/secrets", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn updates_make_versions_and_conflicts_write_nothing() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "DB_PASSWORD", "first-value").await;
    let v2 = api
        .patch(
            "/v1/secrets/DB_PASSWORD",
            owner,
            json!({"value": "second-value", "expected_version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(v2["version"], 2);
    let stale = api
        .patch(
            "/v1/secrets/DB_PASSWORD",
            owner,
            json!({"value": "stale-value", "expected_version": 1}),
        )
        .await;
    stale.expect_error(409, "secret.version_conflict");
    assert!(stale.message().contains("version 2"));
    let meta = api
        .patch(
            "/v1/secrets/DB_PASSWORD",
            owner,
            json!({"description": "rotated", "tags": {"a": "b"}}),
        )
        .await
        .expect(200);
    assert_eq!(meta["version"], 2, "a details-only update makes no new version");
    assert_eq!(meta["description"], "rotated");

    let versions = api.get("/v1/secrets/DB_PASSWORD/versions", owner).await.expect(200);
    assert_eq!(versions["current_version"], 2);
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
    assert_eq!(
        api.reveal(owner, "DB_PASSWORD").await.expect(200)["value"],
        "second-value"
    );
    let old = api
        .post("/v1/secrets/DB_PASSWORD/reveal?version=1", owner, json!({}))
        .await
        .expect(200);
    assert_eq!(old["value"], "first-value");
    api.post("/v1/secrets/DB_PASSWORD/reveal", owner, json!({"version": 9}))
        .await
        .expect_error(404, "secret.version_not_found");

    // Rollback writes version 3 with version 1's value, server-side.
    let rolled = api
        .post(
            "/v1/secrets/DB_PASSWORD/rollback",
            owner,
            json!({"to": 1, "expected_version": 2}),
        )
        .await
        .expect(200);
    assert_eq!(rolled["version"], 3);
    assert_eq!(
        api.reveal(owner, "DB_PASSWORD").await.expect(200)["value"],
        "first-value"
    );
    api.post(
        "/v1/secrets/DB_PASSWORD/rollback",
        owner,
        json!({"to": 1, "expected_version": 2}),
    )
    .await
    .expect_error(409, "secret.version_conflict");
    api.post("/v1/secrets/DB_PASSWORD/rollback", owner, json!({"to": 7}))
        .await
        .expect_error(404, "secret.version_not_found");
    assert!(
        !api.audit(owner)
            .await
            .iter()
            .any(|e| e.to_string().contains("first-value"))
    );
}

#[tokio::test]
async fn name_type_and_visibility_are_immutable() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "FIXED", "v").await;
    let rename = api.patch("/v1/secrets/FIXED", owner, json!({"name": "RENAMED"})).await;
    rename.expect_error(400, "secret.name_immutable");
    assert!(rename.message().contains("names cannot be changed"));
    api.patch("/v1/secrets/FIXED", owner, json!({"type": "smtp"}))
        .await
        .expect_error(400, "secret.type_immutable");
    api.patch("/v1/secrets/FIXED", owner, json!({"visibility": "restricted"}))
        .await
        .expect_error(400, "secret.visibility_immutable");
    api.patch("/v1/secrets/FIXED", owner, json!({}))
        .await
        .expect_error(400, "secret.nothing_to_update");
    let details = api.get("/v1/secrets/FIXED", owner).await.expect(200);
    assert_eq!(
        (details["name"].as_str(), details["version"].as_u64()),
        (Some("FIXED"), Some(1))
    );
    api.get("/v1/secrets/RENAMED", owner)
        .await
        .expect_error(404, "secret.not_found");
}

#[tokio::test]
async fn trash_reserves_the_name_until_restore_or_purge() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "OLD_KEY", "v1-value").await;
    api.patch("/v1/secrets/OLD_KEY", owner, json!({"value": "v2-value"}))
        .await
        .expect(200);
    let trashed = api.delete("/v1/secrets/OLD_KEY", owner).await.expect(200);
    assert!(trashed["deleted_at"].is_string() && trashed["purge_after"].is_string());
    api.get("/v1/secrets/OLD_KEY", owner)
        .await
        .expect_error(404, "secret.not_found");
    assert!(
        api.get("/v1/secrets", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        api.get("/v1/trash", owner).await.expect(200)["secrets"][0]["name"],
        "OLD_KEY"
    );

    let reuse = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "OLD_KEY", "type": "text", "value": "v"}),
        )
        .await;
    reuse.expect_error(409, "secret.name_in_trash");
    assert!(
        reuse.message().contains("restore") && reuse.message().contains("purge"),
        "{}",
        reuse.message()
    );

    let restored = api
        .post("/v1/trash/OLD_KEY/restore", owner, json!({}))
        .await
        .expect(200);
    assert_eq!(restored["version"], 2, "history comes back with the secret");
    assert_eq!(api.reveal(owner, "OLD_KEY").await.expect(200)["value"], "v2-value");
    api.post("/v1/trash/OLD_KEY/restore", owner, json!({}))
        .await
        .expect_error(404, "secret.not_found");

    api.delete("/v1/secrets/OLD_KEY", owner).await.expect(200);
    assert_eq!(api.delete("/v1/trash/OLD_KEY", owner).await.status.as_u16(), 204);
    assert!(
        api.get("/v1/trash", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let fresh = api.create_text(owner, "OLD_KEY", "new-life").await;
    assert_eq!(fresh["version"], 1);
}

#[tokio::test]
async fn the_trash_sweep_purges_after_the_retention_period() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "SHORT_LIVED", "v").await;
    api.delete("/v1/secrets/SHORT_LIVED", owner).await.expect(200);
    // Within retention: nothing is purged.
    assert_eq!(server.state.core.sweep_trash().await.unwrap(), 0);
    assert_eq!(
        api.get("/v1/trash", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn restricted_values_are_never_shown_to_anyone() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let created = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "ROOT_PW", "type": "text", "value": "restricted-pw-1", "visibility": "restricted"}),
        )
        .await
        .expect(201);
    assert_eq!(created["visibility"], "restricted");
    let reply = api.reveal(owner, "ROOT_PW").await;
    reply.expect_error(403, "secret.restricted");
    assert!(!reply.body.to_string().contains("restricted-pw-1"));
    api.post("/v1/secrets/ROOT_PW/reveal?version=1", owner, json!({}))
        .await
        .expect_error(403, "secret.restricted");
    // It can still be replaced.
    api.patch("/v1/secrets/ROOT_PW", owner, json!({"value": "restricted-pw-2"}))
        .await
        .expect(200);
    let denied = api
        .audit(owner)
        .await
        .into_iter()
        .filter(|e| e["outcome"] == "denied")
        .count();
    assert_eq!(denied, 2);
}

#[tokio::test]
async fn concurrent_updates_without_expected_version_never_conflict() {
    let (server, api) = setup().await;
    let owner = server.owner_token.clone();
    api.create_text(&owner, "HOT", "v0").await;
    let mut writers = Vec::new();
    for i in 0..32 {
        let (url, token) = (server.url.clone(), owner.clone());
        writers.push(tokio::spawn(async move {
            let resp = reqwest::Client::new()
                .patch(format!("{url}/v1/secrets/HOT"))
                .bearer_auth(token)
                .json(&json!({"value": format!("value-{i}")}))
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }));
    }
    for w in writers {
        assert_eq!(w.await.unwrap(), 200);
    }
    let versions = api.get("/v1/secrets/HOT/versions", &owner).await.expect(200);
    assert_eq!(versions["current_version"], 33);
    let events = api.audit(&owner).await;
    let mut numbers: Vec<u64> = events
        .iter()
        .filter(|e| e["action"] == "secret.update")
        .map(|e| e["detail"]["version"].as_u64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, (2..=33).collect::<Vec<_>>());
}

#[tokio::test]
async fn import_compares_server_side_and_refuses_everything_if_anything_is_wrong() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "SAME", "same-value").await;
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "MAIL", "type": "smtp", "value": {"host": "h.example.com"}}),
    )
    .await
    .expect(201);
    let bad = api
        .post(
            "/v1/import",
            owner,
            json!({"secrets": {"NEW": "n", "MAIL": "x", "9BAD": "y"}}),
        )
        .await;
    bad.expect_error(400, "import.invalid");
    assert!(bad.message().contains("MAIL: is a smtp secret") && bad.message().contains("must begin with a letter"));
    api.get("/v1/secrets/NEW", owner)
        .await
        .expect_error(404, "secret.not_found");

    let dry = api
        .post(
            "/v1/import",
            owner,
            json!({"secrets": {"NEW": "n", "SAME": "same-value"}, "dry_run": true}),
        )
        .await
        .expect(200);
    assert_eq!(
        (dry["created"].clone(), dry["unchanged"].clone()),
        (json!(["NEW"]), json!(["SAME"]))
    );
    assert!(!dry.to_string().contains("same-value"), "nothing is revealed");
    api.get("/v1/secrets/NEW", owner)
        .await
        .expect_error(404, "secret.not_found");
    let done = api
        .post("/v1/import", owner, json!({"secrets": {"NEW": "n", "SAME": "changed"}}))
        .await
        .expect(200);
    assert_eq!(
        (done["created"].clone(), done["changed"].clone()),
        (json!(["NEW"]), json!(["SAME"]))
    );
    assert_eq!(api.get("/v1/secrets/SAME", owner).await.expect(200)["version"], 2);
    let editor = api.member_token(owner, "ed@example.com", "editor").await;
    api.post("/v1/import", &editor, json!({"secrets": {"X": "y"}}))
        .await
        .expect_error(403, "permission.denied");
}

/// Issue 9, item 4: a dry-run import answered `changed` for a wrong guess of a restricted value
/// and `unchanged` for the right one (a 4-digit PIN fell in 35 s), and dry runs left no trace.
#[tokio::test]
async fn import_is_no_oracle_for_restricted_values_and_every_import_is_audited() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.post(
        "/v1/secrets",
        owner,
        // Letters no id, hash or time in the audit log can hold, so the search below cannot
        // match by chance (digits like 0000 did now and then).
        json!({"name": "PIN", "type": "text", "value": "Zq7x", "visibility": "restricted"}),
    )
    .await
    .expect(201);
    api.create_text(owner, "MASKED", "masked-value").await;

    let guess = |pin: &str| json!({"secrets": {"PIN": pin}, "dry_run": true});
    let wrong = api.post("/v1/import", owner, guess("Wk3y")).await.expect(200);
    let right = api.post("/v1/import", owner, guess("Zq7x")).await.expect(200);
    assert_eq!(wrong, right, "a right guess must get the same answer as a wrong one");
    assert_eq!(right["changed"], json!(["PIN"]));
    assert_eq!(right["not_compared"], json!(["PIN"]));
    assert_eq!(right["unchanged"], json!([]));

    // Masked values are compared: the importer may reveal them anyway.
    let masked = api
        .post(
            "/v1/import",
            owner,
            json!({"secrets": {"MASKED": "masked-value", "NEW": "n"}, "dry_run": true}),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            masked["unchanged"].clone(),
            masked["created"].clone(),
            masked["not_compared"].clone()
        ),
        (json!(["MASKED"]), json!(["NEW"]), json!([]))
    );

    // Every import, dry run included, is one `secret.import` event naming each secret and what
    // happened to it, never a value; `target=secret:PIN` finds it.
    let events = api.get("/v1/audit?action=secret.import", owner).await.expect(200)["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(events[0]["target"], "import");
    assert_eq!(events[0]["detail"]["dry_run"], true);
    assert_eq!(events[0]["detail"]["secrets"], json!({"PIN": "changed"}));
    assert_eq!(events[0]["detail"]["not_compared"], json!(["PIN"]));
    assert_eq!(
        events[2]["detail"]["secrets"],
        json!({"MASKED": "unchanged", "NEW": "created"})
    );
    let all = api.audit(owner).await.iter().map(|e| e.to_string()).collect::<String>();
    for value in ["Zq7x", "Wk3y", "masked-value"] {
        assert!(!all.contains(value), "{value} is in the audit log");
    }
    let by_secret = api.get("/v1/audit?target=secret:PIN", owner).await.expect(200)["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "secret.import")
        .count();
    assert_eq!(by_secret, 2);

    // A real import replaces a restricted value without comparing it: a new version, audited.
    let done = api
        .post("/v1/import", owner, json!({"secrets": {"PIN": "Zq7x"}}))
        .await
        .expect(200);
    assert_eq!(done["changed"], json!(["PIN"]));
    assert_eq!(api.get("/v1/secrets/PIN", owner).await.expect(200)["version"], 2);
    let last = api.audit(owner).await;
    let import = last.iter().rev().find(|e| e["action"] == "secret.import").unwrap();
    assert_eq!(import["detail"]["dry_run"], false);
    assert_eq!(import["detail"]["secrets"], json!({"PIN": "changed"}));
}

/// Issue 9, item 15: imported secrets could not be tagged, so no policy reached them. Tags go on
/// the secrets an import creates; existing secrets keep theirs.
#[tokio::test]
async fn import_tags_the_secrets_it_creates() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "OLD", "type": "text", "value": "old", "tags": {"team": "web"}}),
    )
    .await
    .expect(201);
    let done = api
        .post(
            "/v1/import",
            owner,
            json!({"secrets": {"OLD": "new", "FRESH": "f"}, "tags": {"team": "payments", "env": "prod"}}),
        )
        .await
        .expect(200);
    assert_eq!(
        (done["created"].clone(), done["changed"].clone()),
        (json!(["FRESH"]), json!(["OLD"]))
    );
    let fresh = api.get("/v1/secrets/FRESH", owner).await.expect(200);
    assert_eq!(fresh["tags"], json!({"team": "payments", "env": "prod"}));
    let old = api.get("/v1/secrets/OLD", owner).await.expect(200);
    assert_eq!(old["tags"], json!({"team": "web"}));
    assert_eq!(old["version"], 2);

    let bad = api
        .post(
            "/v1/import",
            owner,
            json!({"secrets": {"OTHER": "x"}, "tags": {"": "x"}}),
        )
        .await;
    bad.expect_error(400, "secret.tags_invalid");
    api.get("/v1/secrets/OTHER", owner)
        .await
        .expect_error(404, "secret.not_found");
}
