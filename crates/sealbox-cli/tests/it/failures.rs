//! How commands fail (issue 9, items 13 and 14): one line saying what to check, the API's error
//! shape on stderr with `--json`, and an exit code per class of failure.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{Run, Sealbox, bin, clean_env, setup};

/// `sealbox ARGS` against `addr` with `token`, no server of the test's own needed.
fn cli_at(addr: &str, token: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_clear()
        .envs(clean_env())
        .env("SEALBOX_ADDR", addr)
        .stdin(Stdio::null());
    if let Some(token) = token {
        cmd.env("SEALBOX_TOKEN", token);
    }
    let out = cmd.output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// An address where nothing listens.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A server that answers every request with `status` and an HTML body, like a proxy would.
fn not_sealbox(status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "<html>Bad Gateway</html>";
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Oops\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

/// The one JSON line a `--json` failure writes on stderr.
#[track_caller]
fn json_error(run: &Run) -> Value {
    assert_eq!(run.stdout, "", "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:#?}");
    let body: Value = serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("not JSON ({e}): {run:#?}"));
    let error = &body["error"];
    for field in ["code", "message", "request_id"] {
        assert!(error[field].is_string(), "{field} in {body}");
    }
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    assert_eq!(error.as_object().unwrap().len(), 3, "{body}");
    body
}

#[test]
fn issue_9_exit_codes_tell_the_class_of_failure_and_json_errors_have_the_api_shape() {
    let sb = setup();
    sb.cli(&["secret", "create", "TAKEN", "--type", "text"], Some("v")).ok();
    sb.cli(&["identity", "create", "bot"], None).ok();
    let bot = sb
        .cli(&["identity", "token", "create", "bot"], None)
        .ok()
        .trim()
        .to_owned();
    let owner = Some(sb.bootstrap.token.as_str());
    let unreachable = closed_port();
    let proxy = not_sealbox(502);
    // (what, address, token, arguments, exit code, error code)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Vec<&'a str>, i32, &'a str);
    let cases: Vec<Case> = vec![
        (
            "usage (clap)",
            &sb.addr,
            owner,
            vec!["secret", "create", "X"],
            2,
            "cli.usage",
        ),
        (
            "usage (sealbox)",
            &sb.addr,
            owner,
            vec!["secret", "list", "--tag", "novalue"],
            2,
            "cli.usage",
        ),
        (
            "invalid input",
            &sb.addr,
            owner,
            vec!["secret", "get", "9bad"],
            1,
            "secret.name_invalid",
        ),
        (
            "not found",
            &sb.addr,
            owner,
            vec!["secret", "get", "NOPE"],
            3,
            "secret.not_found",
        ),
        (
            "unauthenticated",
            &sb.addr,
            Some("sbx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            vec!["secret", "list"],
            4,
            "auth.invalid_token",
        ),
        (
            "no token",
            &sb.addr,
            None,
            vec!["secret", "list"],
            4,
            "auth.missing_token",
        ),
        (
            "forbidden",
            &sb.addr,
            Some(bot.as_str()),
            vec!["member", "list"],
            4,
            "permission.denied",
        ),
        (
            "conflict",
            &sb.addr,
            owner,
            vec!["identity", "create", "bot"],
            5,
            "identity.exists",
        ),
        (
            "unreachable",
            &unreachable,
            owner,
            vec!["secret", "list"],
            6,
            "cli.unreachable",
        ),
        (
            "not a sealbox server",
            &proxy,
            owner,
            vec!["secret", "list"],
            7,
            "cli.bad_answer",
        ),
    ];
    for (what, addr, token, args, exit, code) in cases {
        let plain = cli_at(addr, token, &args);
        assert_eq!(plain.status, exit, "{what}: {plain:#?}");
        assert!(plain.stderr.starts_with("error: "), "{what}: {plain:#?}");
        assert!(plain.stdout.is_empty(), "{what}: {plain:#?}");
        let mut json_args = vec!["--json"];
        json_args.extend(&args);
        let json = cli_at(addr, token, &json_args);
        assert_eq!(json.status, exit, "{what} with --json: {json:#?}");
        let body = json_error(&json);
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        let from_server = !code.starts_with("cli.");
        assert_eq!(
            body["error"]["request_id"].as_str().unwrap().is_empty(),
            !from_server,
            "a server's error carries its request id: {body}"
        );
    }
    // `--json` after the command is the same flag.
    let after = cli_at(&sb.addr, owner, &["secret", "get", "NOPE", "--json"]);
    assert_eq!(json_error(&after)["error"]["code"], "secret.not_found");
}

#[test]
fn issue_9_run_exits_like_a_shell_when_the_program_cannot_start() {
    let sb = setup();
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("script.sh");
    std::fs::write(&not_executable, "#!/bin/sh\necho hi\n").unwrap();
    let cases = [
        ("missing-program-x9", 127, "cli.program_not_found", "command not found"),
        (
            "/no/such/dir/program",
            127,
            "cli.program_not_found",
            "command not found",
        ),
        (
            not_executable.to_str().unwrap(),
            126,
            "cli.program_not_executable",
            "permission denied",
        ),
    ];
    for (program, exit, code, words) in cases {
        let run = sb.cli(&["run", "--", program], None);
        assert_eq!(run.status, exit, "{program}: {run:#?}");
        assert!(run.stderr.contains(words) && run.stderr.contains(program), "{run:#?}");
        let json = sb.cli(&["--json", "run", "--", program], None);
        assert_eq!(json.status, exit, "{json:#?}");
        assert_eq!(json_error(&json)["error"]["code"], code);
    }
}

/// One line that names what to check, not a transport error chain.
#[track_caller]
fn one_clear_line(run: &Run, exit: i32, check: &[&str]) {
    assert_eq!(run.status, exit, "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:#?}");
    for words in check {
        assert!(run.stderr.contains(words), "{words:?} in {run:#?}");
    }
    for chain in [
        "error sending request",
        "tcp connect",
        "os error",
        "client error",
        "hyper",
    ] {
        assert!(!run.stderr.contains(chain), "{chain:?} in {run:#?}");
    }
}

#[test]
fn issue_9_connection_problems_say_what_to_check() {
    let sb: Sealbox = setup();
    let token = Some(sb.bootstrap.token.as_str());

    let wrong_port = closed_port();
    let run = cli_at(&wrong_port, token, &["secret", "list"]);
    one_clear_line(&run, 6, &[&wrong_port, "connection refused", "SEALBOX_ADDR"]);

    let https = sb.addr.replace("http://", "https://");
    let run = cli_at(&https, token, &["secret", "list"]);
    one_clear_line(&run, 6, &[&https, "TLS", "http://", "SEALBOX_ADDR"]);

    let run = cli_at(&sb.addr, None, &["secret", "list"]);
    one_clear_line(&run, 4, &["SEALBOX_TOKEN", "sealbox login"]);

    let run = cli_at("localhost:8270", token, &["secret", "list"]);
    one_clear_line(&run, 2, &["SEALBOX_ADDR", "http://127.0.0.1:8270"]);
}
