//! At rest: no plaintext in the database files, the root key check, fail-closed audit, the
//! tamper-evident chain, durability across restarts, TLS and the plain-HTTP guard.

use sealbox_testkit::{Options, TestServer};
use serde_json::json;

use crate::{Api, setup};

/// A connection to the server's SQLite database, behind its back.
pub fn open_db(server: &TestServer) -> rusqlite::Connection {
    rusqlite::Connection::open(server.data_dir().join("sealbox.db")).unwrap()
}

/// Every byte of every file in the data directory but the key and bootstrap files.
fn data_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("sealbox.db"))
        })
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn no_plaintext_value_reaches_the_database_files() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let values = [
        "plaintext-canary-text-1",
        "plaintext-canary-text-2",
        "plaintext-canary-smtp-pw",
    ];
    api.create_text(owner, "CANARY", values[0]).await;
    api.patch("/v1/secrets/CANARY", owner, json!({"value": values[1]}))
        .await
        .expect(200);
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "MAIL", "type": "smtp", "value": {"host": "smtp.example.com", "password": values[2]}}),
    )
    .await
    .expect(201);
    api.reveal(owner, "CANARY").await.expect(200);
    api.post("/v1/secrets/CANARY/rollback", owner, json!({"to": 1}))
        .await
        .expect(200);
    let dir = server.data_dir();
    let running = data_files(&dir);
    assert!(
        running.iter().any(|(name, _)| name.ends_with("-wal")),
        "WAL mode: the WAL is searched too"
    );
    let stopped = server.stop().await;
    let after = data_files(&dir);
    for (name, bytes) in running.iter().chain(after.iter()) {
        for value in values {
            assert!(!contains(bytes, value), "{value} found in {name}");
        }
        // The names are there in plaintext, so the search itself works.
        if name.ends_with("sealbox.db") && bytes.len() > 8192 {
            assert!(
                contains(bytes, "CANARY"),
                "the search finds what is stored in plaintext"
            );
        }
    }
    drop(stopped);
}

#[tokio::test]
async fn a_wrong_or_missing_root_key_refuses_to_start() {
    let server = TestServer::start().await;
    Api::new(&server)
        .create_text(&server.owner_token, "KEPT", "kept-value")
        .await;
    let dir = server.data_dir();
    let _tmp = server.stop().await;
    let key_file = dir.join("root.key");
    let original = std::fs::read(&key_file).unwrap();
    std::fs::write(&key_file, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let err = sealbox_server::prepare(&sealbox_server::Config::with_data_dir(&dir))
        .await
        .err()
        .expect("wrong key refused");
    assert!(format!("{err:#}").contains("root key does not match"), "{err:#}");
    std::fs::remove_file(&key_file).unwrap();
    let err = sealbox_server::prepare(&sealbox_server::Config::with_data_dir(&dir))
        .await
        .err()
        .expect("missing key refused");
    assert!(format!("{err:#}").contains("no root key at"), "{err:#}");
    assert!(!key_file.exists(), "a refused start writes no key file");
    // With the right key, everything is back.
    std::fs::write(&key_file, original).unwrap();
    let again = TestServer::start_with(Options {
        data_dir: Some(dir),
        ..Options::default()
    })
    .await;
    let api = Api::new(&again);
    assert_eq!(
        api.reveal(&again.owner_token, "KEPT").await.expect(200)["value"],
        "kept-value"
    );
}

#[tokio::test]
async fn first_start_writes_private_key_and_bootstrap_files() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    let dir = server.data_dir();
    for file in ["root.key", "bootstrap.json"] {
        let mode = std::fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    let boot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bootstrap.json")).unwrap()).unwrap();
    for key in ["workspace", "email", "password", "token"] {
        assert!(boot[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
    }
    assert_eq!(boot["token"], server.owner_token.as_str());
}

#[tokio::test]
async fn audit_is_fail_closed() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "GUARDED", "guarded-v1").await;
    let db = open_db(&server);
    db.execute_batch(
        "CREATE TRIGGER audit_offline BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit offline'); END",
    )
    .unwrap();
    let create = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "NEW", "type": "text", "value": "v"}),
        )
        .await;
    create.expect_error(503, "audit.unavailable");
    api.patch("/v1/secrets/GUARDED", owner, json!({"value": "guarded-v2"}))
        .await
        .expect_error(503, "audit.unavailable");
    let reveal = api.reveal(owner, "GUARDED").await;
    reveal.expect_error(503, "audit.unavailable");
    assert!(!reveal.body.to_string().contains("guarded-v1"));
    api.delete("/v1/secrets/GUARDED", owner)
        .await
        .expect_error(503, "audit.unavailable");
    api.post(
        "/v1/members",
        owner,
        json!({"email": "a@example.com", "role": "editor"}),
    )
    .await
    .expect_error(503, "audit.unavailable");
    db.execute_batch("DROP TRIGGER audit_offline").unwrap();
    // The operator sees each refused event in the metrics.
    let metrics = reqwest::Client::new()
        .get(format!("{}/v1/sys/metrics", server.url))
        .bearer_auth(owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "sealbox_audit_writes_total{outcome=\"failed\"} 5"),
        "{metrics}"
    );
    // Nothing of the refused operations happened.
    let list = api.get("/v1/secrets", owner).await.expect(200);
    assert_eq!(list["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(list["secrets"][0]["version"], 1);
    assert_eq!(
        api.get("/v1/members", owner).await.expect(200)["members"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(api.reveal(owner, "GUARDED").await.expect(200)["value"], "guarded-v1");
}

#[tokio::test]
async fn audit_verify_detects_edited_and_removed_events() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    for i in 0..4 {
        api.create_text(owner, &format!("S{i}"), "v").await;
    }
    let ok = api.get("/v1/audit/verify", owner).await.expect(200);
    assert_eq!(
        (ok["ok"].as_bool(), ok["events_checked"].as_u64()),
        (Some(true), Some(5))
    );
    let events = api.audit(owner).await;
    assert!(
        events
            .iter()
            .all(|e| e["request_id"].as_str().is_some_and(|r| !r.is_empty()))
    );
    assert_eq!(events[1]["action"], "secret.create");

    let db = open_db(&server);
    db.execute_batch("UPDATE audit_events SET target = 'secret:SOMETHING_ELSE' WHERE seq = 3")
        .unwrap();
    let edited = api.get("/v1/audit/verify", owner).await.expect(200);
    assert_eq!(
        (edited["ok"].as_bool(), edited["first_bad_seq"].as_u64()),
        (Some(false), Some(3)),
        "{edited}"
    );
    db.execute_batch("UPDATE audit_events SET target = 'secret:S1' WHERE seq = 3")
        .unwrap();
    assert_eq!(api.get("/v1/audit/verify", owner).await.expect(200)["ok"], true);

    db.execute_batch("DELETE FROM audit_events WHERE seq = 2").unwrap();
    let removed = api.get("/v1/audit/verify", owner).await.expect(200);
    assert_eq!(
        (removed["ok"].as_bool(), removed["first_bad_seq"].as_u64()),
        (Some(false), Some(2)),
        "{removed}"
    );

    // Removing the newest event is caught by the recorded chain head.
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "LAST", "v").await;
    let db = open_db(&server);
    db.execute_batch("DELETE FROM audit_events WHERE seq = 2").unwrap();
    let tail = api.get("/v1/audit/verify", owner).await.expect(200);
    assert_eq!(tail["ok"], false, "{tail}");
}

#[tokio::test]
async fn a_ciphertext_copied_to_another_row_does_not_open() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "SOURCE", "source-value").await;
    api.create_text(owner, "TARGET", "target-value").await;
    let db = open_db(&server);
    db.execute_batch("UPDATE secret_versions SET ciphertext = (SELECT v.ciphertext FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'SOURCE'),
                                    wrapped_dek = (SELECT v.wrapped_dek FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'SOURCE')
         WHERE secret_id = (SELECT id FROM secrets WHERE name = 'TARGET')").unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/secrets/TARGET/reveal", api.url))
        .bearer_auth(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let body = resp.text().await.unwrap();
    assert!(
        !body.contains("source-value") && body.contains("\"internal\""),
        "{body}"
    );
}

#[tokio::test]
async fn acknowledged_writes_survive_a_restart() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let token = server.owner_token.clone();
    for i in 0..20 {
        api.create_text(&token, &format!("DURABLE_{i}"), &format!("durable-{i}"))
            .await;
    }
    let dir = server.data_dir();
    let _tmp = server.stop().await;
    let again = TestServer::start_with(Options {
        data_dir: Some(dir),
        ..Options::default()
    })
    .await;
    let api = Api::new(&again);
    assert_eq!(
        api.get("/v1/secrets?prefix=DURABLE_", &token).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert_eq!(api.reveal(&token, "DURABLE_7").await.expect(200)["value"], "durable-7");
    assert_eq!(api.get("/v1/audit/verify", &token).await.expect(200)["ok"], true);
}

#[tokio::test]
async fn plain_http_is_refused_on_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sealbox_server::Config::with_data_dir(dir.path().join("data"));
    config.listen = "0.0.0.0:0".into();
    let err = sealbox_server::run(config).await.expect_err("refused");
    assert!(format!("{err:#}").contains("refusing to serve plain HTTP"), "{err:#}");
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[tokio::test]
async fn serves_https_with_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (ca, cert, key) = (path("ca.pem"), path("cert.pem"), path("key.pem"));
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success(), "openssl {args:?}");
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "1",
                "-subj",
                "/CN=test CA",
                "-keyout",
                &path("ca.key"),
                "-out",
                &ca,
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &["-subj", "/CN=localhost", "-keyout", &key, "-out", &path("leaf.csr")],
        ]
        .concat(),
    );
    std::fs::write(
        path("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path("leaf.csr"),
        "-CA",
        &ca,
        "-CAkey",
        &path("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &path("ext.cnf"),
        "-out",
        &cert,
    ]);
    let (cert, key) = (std::path::PathBuf::from(cert), std::path::PathBuf::from(key));
    let mut config = sealbox_server::Config::with_data_dir(dir.path().join("data"));
    config.tls_cert = Some(cert.clone());
    config.tls_key = Some(key);
    let tls = sealbox_server::tls_config(&config).await.unwrap().unwrap();
    let prepared = sealbox_server::prepare(&config).await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sealbox_server::serve_tls(
        listener,
        prepared.sealing.clone(),
        tls,
        async {
            let _ = rx.await;
        },
    ));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let health = client
        .get(format!("https://localhost:{port}/v1/sys/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_key_file_that_cannot_be_written_leaves_the_database_usable() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sealbox_server::Config::with_data_dir(dir.path().join("data"));
    config.root_key_file = Some(dir.path().join("missing-dir").join("root.key"));
    let err = sealbox_server::prepare(&config)
        .await
        .err()
        .expect("the key file cannot be written");
    assert!(format!("{err:#}").contains("cannot write the root key file"), "{err:#}");
    // Nothing was tied to the unsaved key: a start with a writable key file works.
    std::fs::create_dir(dir.path().join("missing-dir")).unwrap();
    let server = TestServer::start_with(Options {
        data_dir: Some(dir.path().join("data")),
        root_key_file: config.root_key_file.clone(),
        ..Options::default()
    })
    .await;
    Api::new(&server).create_text(&server.owner_token, "WORKS", "v").await;
}

#[tokio::test]
async fn the_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (server, api) = setup().await;
    api.create_text(&server.owner_token, "P", "v").await;
    for file in ["sealbox.db", "sealbox.db-wal"] {
        let mode = std::fs::metadata(server.data_dir().join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
}

#[tokio::test]
async fn a_chain_recomputed_without_the_root_key_does_not_verify() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    for i in 0..3 {
        api.create_text(owner, &format!("S{i}"), "v").await;
    }
    // Someone with write access to the database, but not the key, rewrites event 2 and
    // recomputes every hash after it, and the head, with a key of their own.
    let db = open_db(&server);
    db.execute("UPDATE audit_events SET target = 'secret:FORGED' WHERE seq = 2", [])
        .unwrap();
    let forger = sealbox_store::AuditChainKey::new([1; 32]);
    let mut rows = db
        .prepare("SELECT workspace_id, seq, at, actor, action, target, outcome, request_id, client_addr, detail, prev_hash FROM audit_events ORDER BY seq")
        .unwrap();
    let events: Vec<(i64, sealbox_store::AuditRecord, Vec<u8>)> = rows
        .query_map([], |r| {
            let record = sealbox_store::AuditRecord {
                workspace_id: r.get(0)?,
                at: r.get(2)?,
                actor: r.get(3)?,
                action: r.get(4)?,
                target: r.get(5)?,
                outcome: r.get(6)?,
                request_id: r.get(7)?,
                client_addr: r.get(8)?,
                detail: r.get(9)?,
            };
            Ok((r.get(1)?, record, r.get(10)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(rows);
    let mut prev = events[0].2.clone();
    for (seq, record, _) in &events {
        let hash = sealbox_store::chain_hash(&forger, &prev, *seq, record);
        db.execute(
            "UPDATE audit_events SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, hash, seq],
        )
        .unwrap();
        db.execute(
            "UPDATE workspaces SET audit_seq = ?1, audit_hash = ?2",
            rusqlite::params![seq, hash],
        )
        .unwrap();
        prev = hash;
    }
    let verify = api.get("/v1/audit/verify", owner).await.expect(200);
    assert_eq!(
        (verify["ok"].as_bool(), verify["first_bad_seq"].as_u64()),
        (Some(false), Some(1)),
        "{verify}"
    );
}
