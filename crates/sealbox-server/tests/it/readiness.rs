//! Readiness and failing fast while the database is down, against a PostgreSQL of the test's
//! own (stopping the shared one would break the other tests): started, stopped with
//! `pg_ctl stop -m immediate` under a running server, and started again.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sealbox_testkit::{Options, TestServer};

use crate::Api;

/// A PostgreSQL cluster in a temporary directory on a free port, stopped on drop.
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// `runuser -u postgres`, when this test runs as root (initdb refuses root).
    as_postgres: bool,
}

impl PrivatePostgres {
    /// `None` (the test skips) when PostgreSQL's server binaries are not installed; under
    /// `CI=true` that is a failure.
    fn init() -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
            .max();
        let Some(bin) = bin else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but initdb/pg_ctl are not installed under /usr/lib/postgresql/*/bin"
            );
            eprintln!("initdb/pg_ctl not found; skipping the database-down test");
            return None;
        };
        let as_postgres = String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout).trim() == "0";
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePostgres {
            bin,
            dir,
            port,
            as_postgres,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pg.start();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let output = command.args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the server the way a crash or a killed host does: no goodbye to its clients.
    fn stop_immediately(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        if self.as_postgres {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

#[tokio::test]
async fn with_the_database_down_requests_fail_fast_with_503_and_recover_when_it_is_back() {
    let Some(pg) = PrivatePostgres::init() else { return };
    let server = TestServer::start_with(Options {
        database_url: Some(pg.url()),
        database_timeout_secs: Some(2),
        ..Options::default()
    })
    .await;
    let api = Api::new(&server);
    let owner = &server.owner_token;
    api.create_text(owner, "DB_DOWN", "still-there").await;
    let ready = api.get("/v1/sys/ready", "").await.expect(200);
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["database"], "ok");

    pg.stop_immediately();

    // Liveness does not depend on the database; readiness says why it is not ready.
    api.get("/v1/sys/health", "").await.expect(200);
    let not_ready = api.get("/v1/sys/ready", "").await;
    not_ready.expect_error(503, "store.unavailable");
    assert!(not_ready.message().contains("database"), "{}", not_ready.body);
    // A read and a write fail within the timeout (2 s here; before, 30 s and then a 500),
    // authentication included, with the code that tells a client to retry.
    for attempt in ["read", "write"] {
        let started = Instant::now();
        let reply = match attempt {
            "read" => api.reveal(owner, "DB_DOWN").await,
            _ => {
                api.post(
                    "/v1/secrets",
                    owner,
                    serde_json::json!({"name": "WHILE_DOWN", "type": "text", "value": "v"}),
                )
                .await
            }
        };
        reply.expect_error(503, "store.unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the {attempt} took {:?}",
            started.elapsed()
        );
    }

    pg.start();

    // The same server, not restarted: ready again, and reads and writes work.
    let mut ready = api.get("/v1/sys/ready", "").await;
    for _ in 0..50 {
        if ready.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        ready = api.get("/v1/sys/ready", "").await;
    }
    ready.expect(200);
    assert_eq!(api.reveal(owner, "DB_DOWN").await.expect(200)["value"], "still-there");
    api.create_text(owner, "AFTER_RESTART", "v").await;
    let verify = api.get("/v1/audit/verify", owner).await.expect(200);
    assert_eq!(verify["ok"], true, "{verify}");
    // The outage shows in the metrics.
    let metrics = reqwest::Client::new()
        .get(format!("{}/v1/sys/metrics", server.url))
        .bearer_auth(owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("sealbox_store_query_failures_total{") && l.contains("reason=\"unavailable\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(failures >= 2.0, "{metrics}");
}

/// A database that holds a request up (here another session's lock on the workspace row, which
/// every audited write takes) is cut off by `statement_timeout` after `--database-timeout-secs`:
/// 503 `store.unavailable` and nothing written, instead of waiting as long as the lock is held.
#[tokio::test]
async fn a_statement_held_up_past_the_timeout_fails_with_503_and_writes_nothing() {
    let Some(url) = sealbox_testkit::postgres_url().await else {
        return;
    };
    let server = TestServer::start_with(Options {
        database_url: Some(url.clone()),
        database_timeout_secs: Some(1),
        ..Options::default()
    })
    .await;
    let api = Api::new(&server);
    let owner = &server.owner_token;
    let mut blocker = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::Executor::execute(&mut blocker, "BEGIN").await.unwrap();
    sqlx::Executor::execute(&mut blocker, "SELECT id FROM workspaces FOR UPDATE")
        .await
        .unwrap();

    // Bounded here so that a server that waits on the lock fails the test instead of hanging it.
    let write = api.post(
        "/v1/secrets",
        owner,
        serde_json::json!({"name": "HELD_UP", "type": "text", "value": "v"}),
    );
    tokio::time::timeout(Duration::from_secs(20), write)
        .await
        .expect("the write waited on the lock past 20 s")
        .expect_error(503, "store.unavailable");

    sqlx::Executor::execute(&mut blocker, "ROLLBACK").await.unwrap();
    api.get("/v1/secrets/HELD_UP", owner)
        .await
        .expect_error(404, "secret.not_found");
    api.create_text(owner, "HELD_UP", "v").await;
}
