//! Sealed starts (`--seal shamir|passphrase`): what a sealed server answers, `init`, `unseal`
//! share by share (a wrong share detected at the threshold), sealing a running server, the
//! rate limit on unseal attempts, and no share or passphrase in the logs or the audit log.

use std::path::Path;

use reqwest::Method;
use sealbox_server::{Config, SealKind};
use serde_json::{Value, json};

use crate::{Api, logs};

struct Sealed {
    api: Api,
    prepared: sealbox_server::Prepared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Sealed {
    async fn start(data_dir: &Path, seal: SealKind) -> anyhow::Result<Sealed> {
        Self::start_on(data_dir, seal, None).await
    }

    async fn start_on(data_dir: &Path, seal: SealKind, database_url: Option<String>) -> anyhow::Result<Sealed> {
        logs::capture();
        let mut config = Config::with_data_dir(data_dir);
        config.seal = seal;
        config.database_url = database_url;
        let prepared = sealbox_server::prepare(&config).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sealbox_server::serve(listener, prepared.sealing.clone(), async {
            let _ = stopped.await;
        }));
        Ok(Sealed {
            api: Api {
                url,
                http: reqwest::Client::new(),
            },
            prepared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        self.prepared.close().await;
        self.prepared.sealing.seal();
    }

    async fn unseal(&self, body: Value) -> crate::Reply {
        self.api.send(Method::POST, "/v1/sys/unseal", None, Some(body)).await
    }

    async fn status(&self) -> Value {
        self.api
            .send(Method::GET, "/v1/sys/seal-status", None, None)
            .await
            .expect(200)
    }
}

/// What a sealed server answers: health says so, readiness and every other route 503
/// `server.sealed`, the panel a page.
async fn assert_sealed(s: &Sealed, token: Option<&str>) {
    let health = s.api.send(Method::GET, "/v1/sys/health", None, None).await.expect(200);
    assert_eq!(
        (health["status"].as_str(), health["sealed"].as_bool()),
        (Some("sealed"), Some(true))
    );
    s.api
        .send(Method::GET, "/v1/sys/ready", None, None)
        .await
        .expect_error(503, "server.sealed");
    for path in ["/v1/secrets", "/v1/auth/whoami", "/v1/audit"] {
        s.api
            .send(Method::GET, path, token, None)
            .await
            .expect_error(503, "server.sealed");
    }
    let page = reqwest::get(format!("{}/", s.api.url)).await.unwrap();
    assert_eq!(page.status().as_u16(), 503);
    assert!(page.text().await.unwrap().contains("Sealbox is sealed"));
    // The API document stays readable.
    s.api
        .send(Method::GET, "/v1/openapi.json", None, None)
        .await
        .expect(200);
}

/// None of `values` is in the SQLite database's files (the database and its WAL).
#[track_caller]
fn assert_not_in_database(data_dir: &Path, values: &[&str]) {
    for file in ["sealbox.db", "sealbox.db-wal"] {
        let bytes = std::fs::read(data_dir.join(file)).unwrap_or_default();
        for value in values {
            assert!(
                !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                "{value:?} is in {file}"
            );
        }
    }
}

fn bootstrap_token(data_dir: &Path) -> String {
    let text = std::fs::read_to_string(data_dir.join("bootstrap.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_shamir_server_starts_sealed_unseals_share_by_share_and_an_owner_can_seal_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sealed::start(&data, SealKind::Shamir).await.unwrap();
    assert_sealed(&s, None).await;
    let status = s.status().await;
    assert_eq!(
        (
            status["sealed"].as_bool(),
            status["seal"].as_str(),
            status["initialized"].as_bool()
        ),
        (Some(true), Some("shamir"), Some(false))
    );
    s.unseal(json!({"share": "01abcd"}))
        .await
        .expect_error(409, "seal.not_initialized");
    // Bad init requests change nothing.
    for bad in [
        json!({}),
        json!({"key_shares": 5, "key_threshold": 1}),
        json!({"key_shares": 3, "key_threshold": 4}),
        json!({"passphrase": "correct horse battery staple"}),
    ] {
        s.api
            .send(Method::POST, "/v1/sys/init", None, Some(bad))
            .await
            .expect_error(400, "seal.input_invalid");
    }
    let init = s
        .api
        .send(
            Method::POST,
            "/v1/sys/init",
            None,
            Some(json!({"key_shares": 5, "key_threshold": 3})),
        )
        .await
        .expect(200);
    let shares: Vec<String> = serde_json::from_value(init["shares"].clone()).unwrap();
    assert_eq!(shares.len(), 5);
    assert_eq!(init["status"]["threshold"], 3);
    s.api
        .send(
            Method::POST,
            "/v1/sys/init",
            None,
            Some(json!({"key_shares": 5, "key_threshold": 3})),
        )
        .await
        .expect_error(409, "seal.already_initialized");
    assert_sealed(&s, None).await;

    // Two good shares, then one from another key: detected at the threshold, progress reset.
    let other = sealbox_crypto::shamir::split_root_key(&sealbox_crypto::RootKey::generate(1), 5, 3).unwrap();
    let other_share = {
        use sealbox_crypto::ExposeSecret;
        other[2].encode().expose_secret().to_owned()
    };
    let step = s.unseal(json!({"share": shares[0]})).await.expect(200);
    assert_eq!(
        (step["progress"].as_u64(), step["threshold"].as_u64()),
        (Some(1), Some(3))
    );
    s.unseal(json!({"share": shares[0]}))
        .await
        .expect_error(400, "seal.input_invalid");
    s.unseal(json!({"share": "not a share"}))
        .await
        .expect_error(400, "seal.input_invalid");
    assert_eq!(s.status().await["progress"], 1, "a refused share keeps the progress");
    s.unseal(json!({"share": shares[1]})).await.expect(200);
    let wrong = s.unseal(json!({"share": other_share})).await;
    wrong.expect_error(400, "seal.wrong_key");
    assert!(wrong.message().contains("progress is reset"), "{}", wrong.message());
    assert_eq!(s.status().await["progress"], 0);
    assert_sealed(&s, None).await;

    // Three good shares, from "several people", in any order.
    for share in [&shares[4], &shares[2]] {
        assert_eq!(s.unseal(json!({"share": share})).await.expect(200)["sealed"], true);
    }
    let done = s.unseal(json!({"share": shares[0]})).await.expect(200);
    assert_eq!(
        (done["sealed"].as_bool(), done["progress"].as_u64()),
        (Some(false), Some(0))
    );
    let health = s.api.send(Method::GET, "/v1/sys/health", None, None).await.expect(200);
    assert_eq!(health["status"], "ok");
    s.api.send(Method::GET, "/v1/sys/ready", None, None).await.expect(200);

    // The first unseal bootstrapped the database.
    let owner = bootstrap_token(&data);
    s.api
        .create_text(&owner, "SEALED_DB_PASSWORD", "unsealed-value-1")
        .await;
    let events = s.api.audit(&owner).await;
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    for expected in [
        ("server.init", "success"),
        ("server.unseal", "failure"),
        ("server.unseal", "success"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} not in {actions:?}");
    }

    // An editor may not seal; an owner may, and every key is gone at once.
    let editor = s.api.member_token(&owner, "editor@example.com", "editor").await;
    s.api
        .send(Method::POST, "/v1/sys/seal", Some(&editor), None)
        .await
        .expect_error(403, "permission.denied");
    s.api
        .send(Method::POST, "/v1/sys/seal", Some(&owner), None)
        .await
        .expect(204);
    assert_sealed(&s, Some(&owner)).await;
    for share in &shares[1..4] {
        s.unseal(json!({"share": share})).await.expect(200);
    }
    assert_eq!(
        s.api.reveal(&owner, "SEALED_DB_PASSWORD").await.expect(200)["value"],
        "unsealed-value-1"
    );
    let events = s.api.audit(&owner).await;
    assert!(
        events.iter().any(|e| e["action"] == "server.seal"),
        "server.seal audited"
    );

    // No share in the log or the audit log.
    let audit_text = serde_json::to_string(&events).unwrap();
    for share in shares.iter().chain([&other_share]) {
        assert!(!audit_text.contains(share.as_str()), "a share is in the audit log");
    }
    let share_refs: Vec<&str> = shares
        .iter()
        .map(String::as_str)
        .chain([other_share.as_str()])
        .collect();
    logs::assert_clean(&share_refs);
    assert_not_in_database(&data, &share_refs);
    s.stop().await;
}

#[tokio::test]
async fn a_passphrase_server_refuses_a_wrong_passphrase_and_stays_sealed_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let passphrase = "a long passphrase for the seal test";
    let s = Sealed::start(&data, SealKind::Passphrase).await.unwrap();
    s.api
        .send(Method::POST, "/v1/sys/init", None, Some(json!({"passphrase": "short"})))
        .await
        .expect_error(400, "seal.input_invalid");
    let init = s
        .api
        .send(
            Method::POST,
            "/v1/sys/init",
            None,
            Some(json!({"passphrase": passphrase})),
        )
        .await
        .expect(200);
    assert_eq!(init["shares"], json!([]));
    s.unseal(json!({"passphrase": "not the passphrase at all"}))
        .await
        .expect_error(400, "seal.wrong_key");
    s.unseal(json!({"share": "01ab"}))
        .await
        .expect_error(400, "seal.input_invalid");
    assert_eq!(
        s.unseal(json!({"passphrase": passphrase})).await.expect(200)["sealed"],
        false
    );
    let owner = bootstrap_token(&data);
    s.api
        .create_text(&owner, "PASSPHRASE_SEALED", "passphrase-sealed-value")
        .await;
    s.stop().await;

    // The next start is sealed again; the same passphrase brings every value back.
    let s = Sealed::start(&data, SealKind::Passphrase).await.unwrap();
    assert_sealed(&s, Some(&owner)).await;
    assert_eq!(s.status().await["initialized"], true);
    s.unseal(json!({"passphrase": passphrase})).await.expect(200);
    assert_eq!(
        s.api.reveal(&owner, "PASSPHRASE_SEALED").await.expect(200)["value"],
        "passphrase-sealed-value"
    );
    let audit_text = serde_json::to_string(&s.api.audit(&owner).await).unwrap();
    assert!(!audit_text.contains(passphrase) && !audit_text.contains("not the passphrase at all"));
    logs::assert_clean(&[passphrase, "not the passphrase at all"]);
    s.stop().await;
    assert_not_in_database(&data, &[passphrase, "not the passphrase at all"]);

    // Started with another source than the database's: refused, both named.
    let err = Sealed::start(&data, SealKind::Shamir).await.err().unwrap().to_string();
    assert!(
        err.contains("--seal passphrase") && err.contains("--seal shamir"),
        "{err}"
    );
    let err = Sealed::start(&data, SealKind::File).await.err().unwrap().to_string();
    assert!(
        err.contains("--seal passphrase") && err.contains("--seal file"),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_database_started_with_shamir_is_refused_and_unseal_attempts_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sealed::start(&data, SealKind::File).await.unwrap();
    assert_eq!(s.status().await["sealed"], false);
    s.stop().await;
    let err = Sealed::start(&data, SealKind::Shamir).await.err().unwrap().to_string();
    assert!(
        err.contains("sealed with --seal file") && err.contains("sealbox operator rekey"),
        "{err}"
    );

    // 30 attempts at once from one address: 20 are looked at, the rest 429.
    let s = Sealed::start(&dir.path().join("other"), SealKind::Passphrase)
        .await
        .unwrap();
    // From another address: init counts as an attempt too.
    let operator = Api {
        url: s.api.url.clone(),
        http: reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 9]))
            .build()
            .unwrap(),
    };
    operator
        .send(
            Method::POST,
            "/v1/sys/init",
            None,
            Some(json!({"passphrase": "the right passphrase here"})),
        )
        .await
        .expect(200);
    let mut attempts = tokio::task::JoinSet::new();
    for n in 0..30 {
        let api = s.api.clone();
        let body = json!({"passphrase": format!("guess number {n:02}")});
        attempts.spawn(async move { api.send(Method::POST, "/v1/sys/unseal", None, Some(body)).await });
    }
    let replies = attempts.join_all().await;
    let limited = replies.iter().filter(|r| r.code() == "seal.rate_limited").count();
    let wrong = replies.iter().filter(|r| r.code() == "seal.wrong_key").count();
    assert_eq!((wrong, limited), (20, 10));
    let limited = replies.iter().find(|r| r.code() == "seal.rate_limited").unwrap();
    assert!(limited.message().contains("try again in"), "{}", limited.message());
    s.stop().await;
}

#[tokio::test]
async fn each_replica_on_one_postgres_is_unsealed_on_its_own_with_the_same_shares() {
    let Some(url) = sealbox_testkit::postgres_url().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = Sealed::start_on(&dir.path().join("a"), SealKind::Shamir, Some(url.clone()))
        .await
        .unwrap();
    let b = Sealed::start_on(&dir.path().join("b"), SealKind::Shamir, Some(url))
        .await
        .unwrap();
    let init = a
        .api
        .send(
            Method::POST,
            "/v1/sys/init",
            None,
            Some(json!({"key_shares": 3, "key_threshold": 2})),
        )
        .await
        .expect(200);
    let shares: Vec<String> = serde_json::from_value(init["shares"].clone()).unwrap();
    // B learns of the init from the database; it cannot be initialised a second time.
    assert_eq!(b.status().await["initialized"], true);
    b.api
        .send(
            Method::POST,
            "/v1/sys/init",
            None,
            Some(json!({"key_shares": 3, "key_threshold": 2})),
        )
        .await
        .expect_error(409, "seal.already_initialized");
    for share in &shares[..2] {
        a.unseal(json!({"share": share})).await.expect(200);
    }
    let owner = bootstrap_token(&dir.path().join("a"));
    a.api.create_text(&owner, "REPLICATED", "replicated-value").await;
    // A is unsealed, B is not: each replica needs its own unseal.
    assert_sealed(&b, Some(&owner)).await;
    for share in &shares[1..] {
        b.unseal(json!({"share": share})).await.expect(200);
    }
    assert_eq!(
        b.api.reveal(&owner, "REPLICATED").await.expect(200)["value"],
        "replicated-value"
    );
    // Sealing B leaves A serving.
    b.api
        .send(Method::POST, "/v1/sys/seal", Some(&owner), None)
        .await
        .expect(204);
    assert_sealed(&b, Some(&owner)).await;
    assert_eq!(
        a.api.reveal(&owner, "REPLICATED").await.expect(200)["value"],
        "replicated-value"
    );
    a.stop().await;
    b.stop().await;
}

// Probe (regression tests for defects found from outside; they fail until fixed).

/// A share that cannot be one of this server's (not 32 bytes of key) is refused when given,
/// with the progress kept; it must not be taken as progress and then blamed on the next,
/// genuine share ("the shares do not belong together"), resetting everything.
#[tokio::test]
async fn probe_a_share_of_the_wrong_length_is_refused_when_given_and_keeps_the_progress() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sealed::start(&data, SealKind::Shamir).await.unwrap();
    let init = s
        .api
        .send(Method::POST, "/v1/sys/init", None, Some(json!({"key_shares": 5, "key_threshold": 3})))
        .await
        .expect(200);
    let shares: Vec<String> = serde_json::from_value(init["shares"].clone()).unwrap();
    s.unseal(json!({"share": shares[0]})).await.expect(200);
    // One byte of "key" instead of 32.
    s.unseal(json!({"share": "07ab"})).await.expect_error(400, "seal.input_invalid");
    assert_eq!(s.status().await["progress"], 1, "the short share was taken as progress");
    let second = s.unseal(json!({"share": shares[1]})).await.expect(200);
    assert_eq!(second["progress"], 2);
    let done = s.unseal(json!({"share": shares[2]})).await.expect(200);
    assert_eq!(done["sealed"], false);
    s.stop().await;
}

/// README: "Every attempt, refused ones included, is written to the first workspace's audit log".
/// A refused init (already initialised, invalid counts) is an attempt too.
#[tokio::test]
async fn probe_refused_init_attempts_reach_the_audit_log_at_unseal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sealed::start(&data, SealKind::Shamir).await.unwrap();
    s.api
        .send(Method::POST, "/v1/sys/init", None, Some(json!({"key_shares": 5, "key_threshold": 1})))
        .await
        .expect_error(400, "seal.input_invalid");
    let init = s
        .api
        .send(Method::POST, "/v1/sys/init", None, Some(json!({"key_shares": 3, "key_threshold": 2})))
        .await
        .expect(200);
    s.api
        .send(Method::POST, "/v1/sys/init", None, Some(json!({"key_shares": 3, "key_threshold": 2})))
        .await
        .expect_error(409, "seal.already_initialized");
    let shares: Vec<String> = serde_json::from_value(init["shares"].clone()).unwrap();
    for share in &shares[..2] {
        s.unseal(json!({"share": share})).await.expect(200);
    }
    let token = bootstrap_token(&data);
    let audit = s
        .api
        .send(Method::GET, "/v1/audit?limit=100", Some(&token), None)
        .await
        .expect(200);
    let inits: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "server.init")
        .map(|e| e["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(inits.len(), 3, "every init attempt is audited, refused ones included: {inits:?}");
    s.stop().await;
}
