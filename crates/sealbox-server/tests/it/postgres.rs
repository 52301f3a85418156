//! PostgreSQL: the same behaviour as SQLite, and several servers sharing one database.

use sealbox_testkit::{Options, TestServer, postgres_url};
use serde_json::json;

use crate::Api;

#[tokio::test]
async fn two_servers_on_one_postgres_serve_the_same_data_at_once() {
    let Some((first, second)) = crate::two_replicas_on_postgres().await else {
        return;
    };
    let (a, b) = (Api::new(&first), Api::new(&second));
    let token = &first.owner_token;

    a.create_text(token, "SHARED", "written-through-a").await;
    assert_eq!(
        b.reveal(token, "SHARED").await.expect(200)["value"],
        "written-through-a"
    );
    b.patch(
        "/v1/secrets/SHARED",
        token,
        json!({"value": "written-through-b", "expected_version": 1}),
    )
    .await
    .expect(200);
    assert_eq!(
        a.reveal(token, "SHARED").await.expect(200)["value"],
        "written-through-b"
    );
    a.patch(
        "/v1/secrets/SHARED",
        token,
        json!({"value": "stale", "expected_version": 1}),
    )
    .await
    .expect_error(409, "secret.version_conflict");

    // A token revoked through one replica is refused by the other on the next request.
    let created = a
        .post("/v1/tokens", token, json!({"name": "replica"}))
        .await
        .expect(201);
    let pat = created["token"].as_str().unwrap();
    b.get("/v1/secrets", pat).await.expect(200);
    a.delete(&format!("/v1/tokens/{}", created["id"].as_str().unwrap()), token)
        .await;
    b.get("/v1/secrets", pat).await.expect_error(401, "auth.token_revoked");

    // Concurrent writes through both keep one gapless, verifying audit chain.
    let mut writes = Vec::new();
    for i in 0..20 {
        let api = if i % 2 == 0 {
            Api::new(&first)
        } else {
            Api::new(&second)
        };
        let token = token.clone();
        writes.push(tokio::spawn(async move {
            api.create_text(&token, &format!("C{i}"), "v").await
        }));
    }
    for w in writes {
        w.await.unwrap();
    }
    let verify = b.get("/v1/audit/verify", token).await.expect(200);
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(
        a.get("/v1/secrets?prefix=C", token).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    a.delete("/v1/secrets/SHARED", token).await.expect(200);
    b.post(
        "/v1/secrets",
        token,
        json!({"name": "SHARED", "type": "text", "value": "v"}),
    )
    .await
    .expect_error(409, "secret.name_in_trash");
}

#[tokio::test]
async fn no_plaintext_in_postgres_and_a_wrong_key_is_refused() {
    let Some(url) = postgres_url().await else { return };
    let server = TestServer::start_with(Options {
        database_url: Some(url.clone()),
        ..Options::default()
    })
    .await;
    let api = Api::new(&server);
    api.create_text(&server.owner_token, "PG_CANARY", "pg-plaintext-canary")
        .await;
    api.patch(
        "/v1/secrets/PG_CANARY",
        &server.owner_token,
        json!({"value": "pg-plaintext-canary-2"}),
    )
    .await
    .expect(200);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let dump: Vec<(String,)> = sqlx::query_as(
        "SELECT row_to_json(t)::text FROM (SELECT * FROM secrets) t UNION ALL SELECT row_to_json(t)::text FROM (SELECT * FROM secret_versions) t
         UNION ALL SELECT row_to_json(t)::text FROM (SELECT * FROM audit_events) t",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let all: String = dump.into_iter().map(|r| r.0).collect();
    assert!(all.contains("PG_CANARY"), "the dump sees the rows");
    // bytea columns are hex in JSON: search for both forms.
    let hex: String = "pg-plaintext-canary".bytes().map(|b| format!("{b:02x}")).collect();
    assert!(!all.contains("pg-plaintext-canary") && !all.contains(&hex));

    let other = tempfile::tempdir().unwrap();
    let mut config = sealbox_server::Config::with_data_dir(other.path().join("data"));
    config.database_url = Some(url);
    let err = sealbox_server::prepare(&config)
        .await
        .err()
        .expect("another key is refused");
    assert!(format!("{err:#}").contains("no root key at"), "{err:#}");
}

#[tokio::test]
async fn nul_characters_are_refused_before_they_reach_postgres() {
    let Some(url) = postgres_url().await else { return };
    let server = TestServer::start_with(Options {
        database_url: Some(url),
        ..Options::default()
    })
    .await;
    let api = Api::new(&server);
    let owner = &server.owner_token;
    api.create_text(owner, "EXISTING", "v").await;
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "N", "type": "text", "value": "v", "description": "a\u{0}b"}),
    )
    .await
    .expect_error(400, "secret.description_invalid");
    api.patch("/v1/secrets/EXISTING", owner, json!({"description": "\u{0}"}))
        .await
        .expect_error(400, "secret.description_invalid");
    api.get("/v1/secrets?prefix=%00", owner)
        .await
        .expect_error(400, "request.invalid");
    for filter in ["actor", "action", "target"] {
        api.get(&format!("/v1/audit?{filter}=%00"), owner)
            .await
            .expect_error(400, "audit.query_invalid");
    }
    api.delete("/v1/tokens/%00", owner)
        .await
        .expect_error(404, "token.not_found");
    // Actions: names in the path, definitions and input with NUL characters.
    api.get("/v1/actions/a%00b", owner)
        .await
        .expect_error(404, "action.not_found");
    api.post("/v1/actions/a%00b/run", owner, json!({}))
        .await
        .expect_error(404, "action.not_found");
    api.patch(
        "/v1/actions/a%00b",
        owner,
        json!({"definition": {"kind": "http", "method": "GET", "url": "https://example.com/"}}),
    )
    .await
    .expect_error(404, "action.not_found");
    api.delete("/v1/actions/a%00b", owner)
        .await
        .expect_error(404, "action.not_found");
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "a\u{0}b", "definition": {"kind": "http", "method": "GET", "url": "https://example.com/"}}),
    )
    .await
    .expect_error(400, "action.name_invalid");
    api.post(
        "/v1/actions/run",
        owner,
        json!({"definition": {"kind": "email", "secret": "M\u{0}", "to": ["a@example.com"], "subject": "s", "text": "t"}}),
    )
    .await
    .expect_error(400, "action.definition_invalid");
    api.post(
        "/v1/actions/run",
        owner,
        json!({"definition": {"kind": "http", "method": "GET", "url": "https://example.com/", "headers": {"X": "a\u{0}b"}},
               "input": {"k\u{0}": "v"}}),
    )
    .await
    .expect_error(400, "action.input_invalid");
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "nul-body", "definition": {"kind": "http", "method": "POST", "url": "https://example.com/", "body": "a\u{0}b"}}),
    )
    .await
    .expect(201);
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "T", "type": "text", "value": "v", "tags": {"k": "\u{0}"}}),
    )
    .await
    .expect_error(400, "secret.tags_invalid");
    let login = api
        .send(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": "a@b.c", "password": "x", "workspace": "\u{0}"})),
        )
        .await;
    login.expect_error(401, "auth.bad_credentials");
    // Text values may hold any character: they are encrypted, never stored as text.
    api.create_text(owner, "WITH_NUL", "a\u{0}b").await;
    assert_eq!(api.reveal(owner, "WITH_NUL").await.expect(200)["value"], "a\u{0}b");
}

/// Issue 9: replicas share the sign-in counts. 30 wrong passwords for one e-mail from one
/// address, sent at once half to each replica, check no more than 5 passwords in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_sign_in_limit() {
    let Some((first, second)) = crate::two_replicas_on_postgres().await else {
        return;
    };
    let replicas = [
        Api::from_address(&first, "127.0.0.6"),
        Api::from_address(&second, "127.0.0.6"),
    ];
    let attempts: Vec<_> = (0..30)
        .map(|n| {
            let api = replicas[n % 2].clone();
            let body = json!({"email": first.owner_email, "password": format!("wrong {n}")});
            tokio::spawn(async move {
                api.send(reqwest::Method::POST, "/v1/auth/login", None, Some(body))
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 25), "{statuses:?}");
}

/// Issue 13: audited writes and reads through two replicas at once all land, once each, in the
/// workspace's one chain, which verifies; and `verify` (through either replica) reports an event
/// edited, inserted or removed behind the servers' backs, and an unsealed event forged in
/// `audit_pending` by someone without the chain key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_two_replicas_keep_a_tamper_evident_chain() {
    let Some((first, second)) = crate::two_replicas_on_postgres().await else {
        return;
    };
    let url = first.config.database_url.clone().unwrap();
    let token = first.owner_token.clone();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let api = Api::new(if i % 2 == 0 { &first } else { &second });
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            api.create_text(&token, &format!("T{i}"), "v").await;
            api.reveal(&token, &format!("T{i}")).await.expect(200);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (a, b) = (Api::new(&first), Api::new(&second));
    let verify = |api: &Api| {
        let (api, token) = (api.clone(), token.clone());
        async move { api.get("/v1/audit/verify", &token).await.expect(200) }
    };
    for api in [&a, &b] {
        let verified = verify(api).await;
        assert_eq!(verified["ok"], true, "{verified}");
    }
    let events = b.audit(&token).await;
    for i in 0..40 {
        for action in ["secret.create", "secret.reveal"] {
            let found = events
                .iter()
                .filter(|e| e["action"] == action && e["target"] == format!("secret:T{i}"))
                .count();
            assert_eq!(found, 1, "{action} of T{i}");
        }
    }

    let db = sqlx::PgPool::connect(&url).await.unwrap();
    let (ws, seq): (String, i64) = sqlx::query_as(
        "SELECT workspace_id, seq FROM audit_events WHERE target = 'secret:T5' AND action = 'secret.create'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let sql = |text: &'static str| {
        let (db, ws) = (db.clone(), ws.clone());
        async move {
            sqlx::query(text).bind(&ws).bind(seq).execute(&db).await.unwrap();
        }
    };
    let refused = |verified: serde_json::Value, problem: &str| {
        assert_eq!(verified["ok"], false, "{verified}");
        assert!(verified["problem"].as_str().unwrap().contains(problem), "{verified}");
    };

    // Edited: the actor of one event.
    sql("CREATE TABLE edited AS SELECT * FROM audit_events WHERE workspace_id = $1 AND seq = $2").await;
    sql("UPDATE audit_events SET actor = 'member:nobody@example.com' WHERE workspace_id = $1 AND seq = $2").await;
    let verified = verify(&a).await;
    refused(verified.clone(), "was altered after it was written");
    assert_eq!(verified["first_bad_seq"], seq);
    sql("UPDATE audit_events e SET actor = o.actor FROM edited o WHERE e.workspace_id = $1 AND e.seq = $2").await;
    assert_eq!(verify(&b).await["ok"], true);

    // Removed: one event in the middle.
    sql("CREATE TABLE removed AS SELECT * FROM audit_events WHERE workspace_id = $1 AND seq = $2").await;
    sql("DELETE FROM audit_events WHERE workspace_id = $1 AND seq = $2").await;
    let verified = verify(&b).await;
    refused(verified.clone(), &format!("event {seq} is missing"));
    sqlx::query("INSERT INTO audit_events SELECT * FROM removed")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(verify(&a).await["ok"], true);

    // Inserted: a copy of an event after the last one, with the head moved to it.
    sql("INSERT INTO audit_events SELECT workspace_id, (SELECT max(seq) + 1 FROM audit_events WHERE workspace_id = $1), \
         at, actor, action, target, outcome, request_id, client_addr, detail, \
         (SELECT hash FROM audit_events WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1), hash \
         FROM audit_events WHERE workspace_id = $1 AND seq = $2")
    .await;
    sql("UPDATE workspaces SET audit_seq = audit_seq + 1 WHERE id = $1 AND $2 > 0").await;
    refused(verify(&a).await, "was altered after it was written");
    sql("DELETE FROM audit_events WHERE workspace_id = $1 AND seq = (SELECT audit_seq FROM workspaces WHERE id = $1) AND $2 > 0")
        .await;
    sql("UPDATE workspaces SET audit_seq = audit_seq - 1 WHERE id = $1 AND $2 > 0").await;
    assert_eq!(verify(&b).await["ok"], true);

    // Inserted where changes leave their events for the chainer, without the key's MAC.
    sql("INSERT INTO audit_pending (workspace_id, at, actor, action, target, outcome, request_id, client_addr, detail, mac) \
         SELECT workspace_id, at, actor, action, target, outcome, request_id, client_addr, detail, '\\x00' \
         FROM audit_events WHERE workspace_id = $1 AND seq = $2")
    .await;
    refused(verify(&b).await, "inserted or altered outside Sealbox");
    refused(verify(&a).await, "inserted or altered outside Sealbox");
    db.close().await;
}

/// The server lock on PostgreSQL: a rekey of a schema a server runs on is refused (nothing
/// changed); once the server stopped it goes through. Other schemas (other tests' servers on the
/// same database) do not hold it.
#[tokio::test]
async fn a_rekey_is_refused_while_a_server_runs_on_the_postgres_schema() {
    use sealbox_server::operator::{CurrentKey, NewSource, RestoreTarget};
    let Some(url) = postgres_url().await else { return };
    let server = TestServer::start_with(Options {
        database_url: Some(url.clone()),
        ..Options::default()
    })
    .await;
    let keys = tempfile::tempdir().unwrap();
    let new_key = keys.path().join("new.key");
    std::fs::write(&new_key, "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\n").unwrap();
    let current = server.data_dir().join("root.key");
    let target = RestoreTarget::DatabaseUrl(url.clone());
    let refused = sealbox_server::operator::rekey(
        &target,
        CurrentKey::File(current.clone()),
        NewSource::File(new_key.clone()),
    )
    .await
    .err()
    .unwrap();
    assert!(
        refused.to_string().contains("a Sealbox server is running"),
        "{refused:#}"
    );
    let api = Api::new(&server);
    api.post("/v1/sys/rotate", &server.owner_token, json!({}))
        .await
        .expect(200);
    let dir = server.stop().await;
    let rekeyed = sealbox_server::operator::rekey(&target, CurrentKey::File(current), NewSource::File(new_key))
        .await
        .unwrap();
    assert_eq!(rekeyed.versions, 2);
    drop(dir);
}
