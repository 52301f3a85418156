//! `--audit-file`: every committed audit event as one JSON line, in order, exactly once, across
//! restarts and SIGKILL; a file that cannot be written never costs an event or the service.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Sealbox, start_in};

const VALUES: [&str; 3] = [
    "audit-file-canary-value-1",
    "audit-file-canary-value-2",
    "audit-file-canary-password",
];

fn audit_file_flag(path: &Path) -> Vec<String> {
    vec!["--audit-file".into(), path.to_str().unwrap().into()]
}

fn start_with_file(dir: tempfile::TempDir, file: &Path, extra: &[&str]) -> Sealbox {
    let mut args = audit_file_flag(file);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    start_in(dir, &args)
}

/// Every event of the bootstrapped workspace, oldest first, as `GET /v1/audit` answers.
fn audit_events(server: &Sealbox) -> Vec<Value> {
    audit_events_as(server, &server.bootstrap.token)
}

/// Every event of the workspace `token` belongs to, oldest first.
fn audit_events_as(server: &Sealbox, token: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let mut args = vec!["--json", "audit", "list", "--reverse", "--limit", "1000"];
        let after = events.last().map(|e: &Value| e["seq"].as_u64().unwrap().to_string());
        if let Some(after) = &after {
            args.extend(["--after", after]);
        }
        let page = server.cli_as(Some(token), &args, None).json();
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        if !page["more"].as_bool().unwrap() {
            return events;
        }
    }
}

/// The file's lines, each parsed (a line that is not JSON fails the test).
fn file_lines(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "the last line is whole");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// Waits until the file holds as many lines as the database holds events, then checks that
/// they are the same events, in order, each once.
#[track_caller]
fn assert_file_matches_audit_log(server: &Sealbox, file: &Path) -> Vec<Value> {
    assert_workspace_in_file(server, &server.bootstrap.token, "default", file)
}

/// The same for the lines of one workspace (`token`'s, named `workspace`).
#[track_caller]
fn assert_workspace_in_file(server: &Sealbox, token: &str, workspace: &str, file: &Path) -> Vec<Value> {
    let events = audit_events_as(server, token);
    let deadline = Instant::now() + Duration::from_secs(60);
    let of_workspace =
        |lines: Vec<Value>| -> Vec<Value> { lines.into_iter().filter(|l| l["workspace"] == workspace).collect() };
    let mut lines = of_workspace(file_lines(file));
    while lines.len() < events.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        lines = of_workspace(file_lines(file));
    }
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=events.len() as u64).collect();
    assert_eq!(seqs, expected, "each event once, in order; log:\n{}", server.log());
    for (line, event) in lines.iter().zip(&events) {
        for field in [
            "seq",
            "hash",
            "at",
            "actor",
            "action",
            "target",
            "outcome",
            "request_id",
            "client_addr",
            "detail",
        ] {
            assert_eq!(line[field], event[field], "{field} of event {}", event["seq"]);
        }
        assert!(line["workspace_id"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
    }
    for pair in lines.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "the lines carry the chain");
    }
    lines
}

/// Waits (up to a minute) until `done` holds, and says whether it did.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Creates, updates, reveals and a refused sign-in: events of several kinds, with values that
/// must never reach the file.
fn drive_traffic(server: &Sealbox) {
    server
        .cli(&["secret", "create", "FILED", "--type", "text"], Some(VALUES[0]))
        .ok();
    server
        .cli(&["secret", "update", "FILED", "--value-stdin"], Some(VALUES[1]))
        .ok();
    server.cli(&["secret", "reveal", "FILED"], None).ok();
    server
        .cli_as(
            None,
            &["login", "--email", &server.bootstrap.email, "--workspace", "default"],
            Some(&format!("{}\n", VALUES[2])),
        )
        .fails_with("auth.bad_credentials");
}

#[track_caller]
fn assert_no_value_in(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    for value in VALUES {
        assert!(!text.contains(value), "{value} is in the audit file");
    }
}

#[test]
fn the_audit_file_holds_every_event_in_order_with_its_seq_and_hash() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let postgres = runtime.block_on(sealbox_testkit::postgres_url());
    let mut databases = vec![None];
    databases.extend(postgres.map(Some));
    for database in databases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.jsonl");
        let extra: Vec<&str> = match &database {
            Some(url) => vec!["--database-url", url],
            None => vec![],
        };
        let server = start_with_file(dir, &file, &extra);
        drive_traffic(&server);
        let lines = assert_file_matches_audit_log(&server, &file);
        let actions: Vec<&str> = lines.iter().map(|l| l["action"].as_str().unwrap()).collect();
        for action in [
            "workspace.create",
            "secret.create",
            "secret.update",
            "secret.reveal",
            "auth.login",
        ] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", database.is_some());
        assert!(!server.log().contains("audit file:"), "no failure: {}", server.log());
        assert_no_value_in(&file);
    }
}

#[test]
fn after_sigkill_under_write_load_each_committed_event_is_in_the_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let server = start_with_file(dir, &file, &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (addr, token, stop) = (server.addr.clone(), server.bootstrap.token.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::process::Command::new(crate::support::bin())
                        .args(["secret", "create", &format!("LOAD_{w}_{n}"), "--type", "text"])
                        .env("SEALBOX_ADDR", &addr)
                        .env("SEALBOX_TOKEN", &token)
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .and_then(|mut child| {
                            use std::io::Write;
                            child.stdin.take().unwrap().write_all(VALUES[0].as_bytes())?;
                            child.wait()
                        });
                    n += 1;
                }
            })
        })
        .collect();
    // Kill once the file is being written under the load.
    eventually(|| file_lines(&file).len() >= 20);
    let dir = server.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    // A write cut short, as SIGKILL during `write` (or a full disk) leaves it.
    let mut torn = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    std::io::Write::write_all(&mut torn, br#"{"workspace":"default","workspace_id":"#).unwrap();
    drop(torn);

    let server = start_with_file(dir, &file, &[]);
    server
        .cli(
            &["secret", "create", "AFTER_RESTART", "--type", "text"],
            Some(VALUES[1]),
        )
        .ok();
    let lines = assert_file_matches_audit_log(&server, &file);
    assert!(lines.len() > 20, "{}", lines.len());
    assert!(server.log().contains("cut off a torn last line"), "{}", server.log());
    assert_no_value_in(&file);
}

#[test]
fn an_audit_file_that_cannot_be_written_keeps_the_server_serving_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let file = dir.path().join("audit.jsonl");
    std::fs::create_dir(&file).unwrap();
    let server = start_with_file(dir, &file, &[]);
    drive_traffic(&server);
    let events = audit_events(&server);
    assert!(events.len() >= 5, "the events are in the database: {events:?}");
    eventually(|| server.log().contains("audit file: cannot open it"));
    let log = server.log();
    assert!(log.contains("audit file: cannot open it"), "{log}");
    for value in VALUES {
        assert!(!log.contains(value), "{value} is in the log");
    }
    // ...and it shows in the metrics.
    let metrics = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/sys/metrics", server.addr))
            .bearer_auth(&server.bootstrap.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    });
    let failures: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("sealbox_audit_file_write_failures_total "))
        .unwrap_or_else(|| panic!("no audit file failure counter in:\n{metrics}"))
        .trim()
        .parse()
        .unwrap();
    assert!(failures >= 1.0, "{metrics}");
    // The operator fixes it: the file is written, from the first event.
    std::fs::remove_dir(&file).unwrap();
    server
        .cli(&["secret", "create", "WHILE_BROKEN", "--type", "text"], Some(VALUES[1]))
        .ok();
    assert_file_matches_audit_log(&server, &file);
    assert_no_value_in(&file);
}

#[test]
fn a_symbolic_link_at_the_audit_file_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere.jsonl");
    std::fs::write(&elsewhere, "").unwrap();
    let file = dir.path().join("audit.jsonl");
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    let server = start_with_file(dir, &file, &[]);
    drive_traffic(&server);
    eventually(|| server.log().contains("symbolic link"));
    assert!(server.log().contains("the path is a symbolic link"), "{}", server.log());
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "");
}

#[test]
fn a_deleted_audit_file_is_written_again_from_the_first_event() {
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("audit.jsonl");
    let server = start_with_file(dir, &file, &[]);
    drive_traffic(&server);
    assert_file_matches_audit_log(&server, &file);
    // Deleted while the server runs: the next event starts a new, complete file.
    std::fs::remove_file(&file).unwrap();
    server
        .cli(&["secret", "create", "AFTER_DELETE", "--type", "text"], Some(VALUES[1]))
        .ok();
    assert_file_matches_audit_log(&server, &file);
    // Deleted while it is stopped: the next start writes it again.
    let dir = server.kill();
    std::fs::remove_file(&file).unwrap();
    let server = start_with_file(dir, &file, &[]);
    let lines = assert_file_matches_audit_log(&server, &file);
    assert_eq!(lines[0]["seq"], 1);
}

#[test]
fn each_workspace_goes_on_where_the_file_stopped_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let server = start_with_file(dir, &file, &[]);
    let created = server.cli(&["workspace", "create", "team2"], None);
    let team2 = created
        .ok()
        .trim()
        .strip_prefix("export SEALBOX_TOKEN=")
        .unwrap()
        .to_owned();
    drive_traffic(&server);
    server
        .cli_as(
            Some(&team2),
            &["secret", "create", "AWAY", "--type", "text"],
            Some(VALUES[0]),
        )
        .ok();
    assert_file_matches_audit_log(&server, &file);
    assert_workspace_in_file(&server, &team2, "team2", &file);

    let dir = server.kill();
    let server = start_with_file(dir, &file, &[]);
    // Only team2 moves on: the default workspace's last line now lies further back.
    for n in 0..5 {
        server
            .cli_as(
                Some(&team2),
                &["secret", "create", &format!("AWAY_{n}"), "--type", "text"],
                Some(VALUES[1]),
            )
            .ok();
    }
    server
        .cli(&["secret", "create", "HOME_AGAIN", "--type", "text"], Some(VALUES[1]))
        .ok();
    assert_file_matches_audit_log(&server, &file);
    assert_workspace_in_file(&server, &team2, "team2", &file);
    assert_no_value_in(&file);
}

#[test]
fn on_sigterm_the_events_committed_last_are_written_before_exit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let mut server = start_with_file(dir, &file, &[]);
    drive_traffic(&server);
    let before = audit_events(&server).len();
    server
        .cli(&["secret", "create", "LAST_WORD", "--type", "text"], Some(VALUES[0]))
        .ok();
    assert_eq!(server.stop_with("TERM"), Some(0));
    let lines = file_lines(&file);
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=before as u64 + 1).collect::<Vec<_>>());
    assert_eq!(lines[before]["target"], "secret:LAST_WORD");
}

#[test]
fn a_file_that_does_not_match_the_database_is_left_alone_and_the_failure_logged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let mut server = start_with_file(dir, &file, &[]);
    drive_traffic(&server);
    let lines = assert_file_matches_audit_log(&server, &file);
    assert_eq!(server.stop_with("TERM"), Some(0));
    // The last line claims another hash: the file is not this database's copy (another
    // database's file, or a database restored to an earlier point).
    let mut last = lines.last().unwrap().clone();
    last["hash"] = Value::String("00".repeat(32));
    let mut text: Vec<String> = lines[..lines.len() - 1].iter().map(Value::to_string).collect();
    text.push(last.to_string());
    let changed = text.join("\n") + "\n";
    std::fs::write(&file, &changed).unwrap();

    let dir = server.kill();
    let server = start_with_file(dir, &file, &[]);
    server
        .cli(&["secret", "create", "NOT_FILED", "--type", "text"], Some(VALUES[1]))
        .ok();
    eventually(|| server.log().contains("is not the database's"));
    assert!(server.log().contains("is not the database's"), "{}", server.log());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), changed, "nothing appended");
    assert_eq!(audit_events(&server).last().unwrap()["target"], "secret:NOT_FILED");
}

#[test]
fn enabling_the_audit_file_on_a_busy_database_exports_every_event_from_the_first() {
    let mut server = crate::support::start(&[]);
    server
        .cli(&["secret", "create", "OFTEN_SEEN", "--type", "text"], Some(VALUES[0]))
        .ok();
    // More events than the follower writes in one pass.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..1200 {
            let response = client
                .post(format!("{}/v1/secrets/OFTEN_SEEN/reveal", server.addr))
                .bearer_auth(&server.bootstrap.token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    });
    assert_eq!(server.stop_with("TERM"), Some(0));
    let dir = server.kill();
    let file = dir.path().join("audit.jsonl");
    let server = start_with_file(dir, &file, &[]);
    let lines = assert_file_matches_audit_log(&server, &file);
    assert!(lines.len() > 1200, "{}", lines.len());
    assert!(!server.log().contains("audit file:"), "no failure: {}", server.log());
    assert_no_value_in(&file);
}

#[test]
fn each_replica_on_one_postgres_writes_every_event_to_its_own_file() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = runtime.block_on(sealbox_testkit::postgres_url()) else {
        return;
    };
    let first_dir = tempfile::tempdir().unwrap();
    let first_file = first_dir.path().join("audit.jsonl");
    let first = start_with_file(first_dir, &first_file, &["--database-url", &url]);
    let key = first.data_dir().join("root.key");
    let second_dir = tempfile::tempdir().unwrap();
    let second_file = second_dir.path().join("audit.jsonl");
    let second = start_with_file(
        second_dir,
        &second_file,
        &["--database-url", &url, "--root-key-file", key.to_str().unwrap()],
    );
    let token = first.bootstrap.token.clone();
    first
        .cli(&["secret", "create", "BY_FIRST", "--type", "text"], Some(VALUES[0]))
        .ok();
    second
        .cli_as(
            Some(&token),
            &["secret", "create", "BY_SECOND", "--type", "text"],
            Some(VALUES[1]),
        )
        .ok();
    first.cli(&["secret", "reveal", "BY_SECOND"], None).ok();
    let from_first = assert_file_matches_audit_log(&first, &first_file);
    let from_second = assert_workspace_in_file(&first, &token, "default", &second_file);
    assert_eq!(from_first, from_second, "both files hold the same events");
}
