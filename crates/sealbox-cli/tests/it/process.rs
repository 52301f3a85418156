//! The server as a process: signals, core dumps, what it logs, and replicas on one PostgreSQL.

use crate::support::{setup, start};

const VALUE: &str = "process-canary-value-1";

#[test]
fn sigterm_and_sigint_stop_the_server_gracefully() {
    for signal in ["TERM", "INT"] {
        let mut server = setup();
        server
            .cli(&["secret", "create", "KEPT", "--type", "text"], Some(VALUE))
            .ok();
        assert_eq!(server.stop_with(signal), Some(0), "SIG{signal}: {}", server.log());
        let log = server.log();
        assert!(
            log.contains("shutdown signal received") && log.contains("sealbox stopped"),
            "{log}"
        );
    }
}

#[test]
fn core_dumps_are_disabled() {
    let server = setup();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
}

#[test]
fn at_trace_level_the_log_holds_no_value_password_or_token() {
    let mut server = start(&["--log-level", "trace"]);
    let smtp = r#"{"host": "smtp.example.com", "username": "bot", "password": "process-canary-smtp-pw"}"#;
    server
        .cli(&["secret", "create", "LOGGED", "--type", "text"], Some(VALUE))
        .ok();
    server
        .cli(&["secret", "create", "MAIL", "--type", "smtp"], Some(smtp))
        .ok();
    server
        .cli(
            &["secret", "update", "LOGGED", "--value-stdin"],
            Some("process-canary-value-2"),
        )
        .ok();
    assert!(
        server
            .cli(&["secret", "reveal", "LOGGED"], None)
            .ok()
            .contains("process-canary-value-2")
    );
    server.cli(&["secret", "reveal", "MAIL"], None).ok();
    server.cli(&["secret", "rollback", "LOGGED", "--to", "1"], None).ok();
    server
        .cli(
            &["secret", "create", "9BAD", "--type", "text"],
            Some("process-canary-refused"),
        )
        .fails_with("secret.name_invalid");
    let session = server.login(&server.bootstrap.email.clone(), &server.bootstrap.password.clone());
    server.cli_as(Some(&session), &["secret", "list"], None).ok();
    assert_eq!(server.stop_with("TERM"), Some(0));
    let log = server.log();
    assert!(
        log.contains("DEBUG") && log.contains("/v1/secrets/LOGGED/reveal"),
        "the log is verbose"
    );
    assert!(
        log.lines()
            .filter(|l| l.contains("/v1/secrets/LOGGED/reveal"))
            .all(|l| l.contains("request_id=")),
        "every request's log line carries its request id"
    );
    let secrets = [
        VALUE,
        "process-canary-value-2",
        "process-canary-smtp-pw",
        "process-canary-refused",
        server.bootstrap.password.as_str(),
        server.bootstrap.token.as_str(),
        session.as_str(),
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} is in the server log");
    }
}

#[test]
fn two_server_processes_on_one_postgres_serve_the_same_data() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = runtime.block_on(sealbox_testkit::postgres_url()) else {
        return;
    };
    let first = start(&["--database-url", &url]);
    let key = first.data_dir().join("root.key");
    let second = start(&["--database-url", &url, "--root-key-file", key.to_str().unwrap()]);
    assert!(
        second.bootstrap.token.is_empty(),
        "the second server found the workspace bootstrapped"
    );
    let token = first.bootstrap.token.clone();

    first
        .cli(
            &["secret", "create", "SHARED", "--type", "text"],
            Some("written-by-first"),
        )
        .ok();
    assert_eq!(
        second
            .cli_as(Some(&token), &["secret", "reveal", "SHARED"], None)
            .ok()
            .trim(),
        "written-by-first"
    );
    second
        .cli_as(
            Some(&token),
            &["secret", "update", "SHARED", "--value-stdin", "--expected-version", "1"],
            Some("written-by-second"),
        )
        .ok();
    assert_eq!(
        first.cli(&["secret", "reveal", "SHARED"], None).ok().trim(),
        "written-by-second"
    );
    first
        .cli(
            &["secret", "update", "SHARED", "--value-stdin", "--expected-version", "1"],
            Some("stale"),
        )
        .fails_with("secret.version_conflict");
    assert!(
        second
            .cli_as(Some(&token), &["audit", "verify"], None)
            .ok()
            .contains("ok")
    );
}
