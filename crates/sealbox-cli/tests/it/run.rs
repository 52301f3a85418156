//! `sealbox run` with real child processes.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Sealbox, setup};

const BIN: &str = env!("CARGO_BIN_EXE_sealbox");
const VALUE: &str = "run-canary-secret";

fn with_secret() -> Sealbox {
    let sb = setup();
    sb.cli(&["secret", "create", "API_KEY", "--type", "text"], Some(VALUE))
        .ok();
    sb.cli(&["secret", "create", "SHARED", "--type", "text"], Some("from-sealbox"))
        .ok();
    sb
}

/// `sealbox run ARGS` with the owner's token and extra environment.
fn run(sb: &Sealbox, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .args(args)
        .env("SEALBOX_ADDR", &sb.addr)
        .env("SEALBOX_TOKEN", &sb.bootstrap.token);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn injects_the_environment_over_the_inherited_one_and_passes_exit_codes() {
    let sb = with_secret();
    let probe = r#"[ "$API_KEY" = "run-canary-secret" ] && echo key-ok; echo "shared=$SHARED other=$OTHER""#;
    let (code, out, _) = run(
        &sb,
        &["--no-redact", "--", "sh", "-c", probe],
        &[("SHARED", "inherited"), ("OTHER", "kept")],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out, "key-ok\nshared=from-sealbox other=kept\n",
        "secrets override, the rest is inherited"
    );
    let (_, out, _) = run(
        &sb,
        &["--preserve-env", "--", "sh", "-c", "echo $SHARED"],
        &[("SHARED", "inherited")],
    );
    assert_eq!(out, "inherited\n");
    let (_, out, _) = run(
        &sb,
        &[
            "--no-redact",
            "--only",
            "SHARED",
            "--",
            "sh",
            "-c",
            "echo \"[$API_KEY][$SHARED]\"",
        ],
        &[],
    );
    assert_eq!(out, "[][from-sealbox]\n");
    let (code, _, err) = run(&sb, &["--only", "NOPE", "--", "true"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("NOPE"), "{err}");
    for expected in [0, 3, 42] {
        let (code, _, _) = run(&sb, &["--", "sh", "-c", &format!("exit {expected}")], &[]);
        assert_eq!(code, expected);
    }
    let (code, _, _) = run(&sb, &["--", "sh", "-c", "kill -KILL $$"], &[]);
    assert_eq!(code, 128 + 9, "a signal death is reported as 128 + signal");
    let (code, _, err) = run(&sb, &["--", "/no/such/program"], &[]);
    assert_eq!(code, 127, "not found, as a shell says it: {err}");
    assert!(err.contains("/no/such/program: command not found"), "{err}");
}

#[test]
fn values_are_masked_in_output_even_split_or_encoded_unless_no_redact() {
    let sb = with_secret();
    let script = r#"
        echo "plain: $API_KEY"
        echo "to stderr: $API_KEY" >&2
        printf 'split: run-canary-'; sleep 0.2; printf 'secret\n'
        printf 'base64: %s\n' "$(printf %s "$API_KEY" | base64)"
        echo "short: abc"
    "#;
    let (code, out, err) = run(&sb, &["--", "sh", "-c", script], &[]);
    assert_eq!(code, 0);
    assert!(!out.contains(VALUE) && !err.contains(VALUE), "{out}{err}");
    assert!(
        out.contains("plain: *****") && out.contains("split: *****") && out.contains("base64: *****"),
        "{out}"
    );
    assert!(err.contains("to stderr: *****"), "{err}");
    assert!(out.contains("short: abc"));
    let (_, out, _) = run(&sb, &["--no-redact", "--", "sh", "-c", "echo $API_KEY"], &[]);
    assert_eq!(out, format!("{VALUE}\n"));
}

#[test]
fn signals_are_forwarded_to_the_program() {
    let sb = with_secret();
    for (signal, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let mut child = Command::new(BIN)
            .args([
                "run",
                "--",
                "sh",
                "-c",
                &format!("trap 'echo got-{signal}; exit {number}' {signal}; echo ready; while :; do sleep 0.05; done"),
            ])
            .env("SEALBOX_ADDR", &sb.addr)
            .env("SEALBOX_TOKEN", &sb.bootstrap.token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains("ready") {
            assert_eq!(stdout.read(&mut byte).unwrap(), 1, "the program started");
            seen.push(byte[0]);
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert!(rest.contains(&format!("got-{signal}")), "SIG{signal}: {rest}");
        assert_eq!(status.code(), Some(number), "SIG{signal}");
    }
}

/// Runs `sealbox run -- sh -c SCRIPT` with sealbox's stdin, stdout and stderr on a pseudo-terminal
/// (as in an interactive shell), typing `typed` once `prompt` appears. Returns the exit code and
/// everything the terminal showed.
fn run_on_terminal(sb: &Sealbox, extra: &[&str], script: &str, prompt: &str, typed: &str) -> (i32, String) {
    use std::io::Write as _;
    let (pty, pts) = pty_process::blocking::open().unwrap();
    pty.resize(pty_process::Size::new(24, 80)).unwrap();
    let mut child = pty_process::blocking::Command::new(BIN)
        .arg("run")
        .args(extra)
        .args(["--", "sh", "-c", script])
        .env("SEALBOX_ADDR", &sb.addr)
        .env("SEALBOX_TOKEN", &sb.bootstrap.token)
        .spawn(pts)
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let mut reader = std::fs::File::from(std::os::fd::AsFd::as_fd(&pty).try_clone_to_owned().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // EIO once the terminal's other side is closed: the end.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut typed_yet = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => seen.extend(chunk),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if !typed_yet && String::from_utf8_lossy(&seen).contains(prompt) {
            (&pty).write_all(typed.as_bytes()).unwrap();
            typed_yet = true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            // Collect what is still in flight, then stop.
            while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
                seen.extend(chunk);
            }
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sealbox run did not finish: {}",
            String::from_utf8_lossy(&seen)
        );
    }
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&seen).into_owned())
}

#[test]
fn on_a_terminal_the_program_gets_a_terminal_and_output_is_still_redacted() {
    let sb = with_secret();
    let script = r#"
        if [ -t 0 ] && [ -t 1 ] && [ -t 2 ]; then echo on-a-terminal; else echo not-a-terminal; fi
        printf 'value: %s\n' "$API_KEY"
        printf 'size: %s\n' "$(stty size)"
        printf '\033[31mred\033[0m\n'
        printf 'name? '; read answer; echo "hello $answer"
        exit 7
    "#;
    let (code, shown) = run_on_terminal(&sb, &[], script, "name? ", "world\r");
    assert_eq!(code, 7, "{shown}");
    assert!(shown.contains("on-a-terminal"), "{shown}");
    assert!(shown.contains("value: *****") && !shown.contains(VALUE), "{shown}");
    assert!(shown.contains("size: 24 80"), "the window size follows: {shown}");
    assert!(
        shown.contains("\u{1b}[31mred\u{1b}[0m"),
        "colours pass through: {shown}"
    );
    assert!(
        shown.contains("hello world"),
        "interactive input reaches the program: {shown}"
    );

    let (code, shown) = run_on_terminal(&sb, &["--no-redact"], script, "name? ", "again\r");
    assert_eq!(code, 7, "{shown}");
    assert!(
        shown.contains("on-a-terminal") && shown.contains(&format!("value: {VALUE}")),
        "{shown}"
    );
    assert!(shown.contains("hello again"), "{shown}");
}

/// `sealbox run ARGS` with `token` (an identity's, say).
fn run_as(sb: &Sealbox, token: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("run")
        .args(args)
        .env("SEALBOX_ADDR", &sb.addr)
        .env("SEALBOX_TOKEN", token)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue 9, item 8: Python's quote() and quote_plus() of a value, and base64 of `user:value`
/// (as in a Basic authorization header), are masked like the value itself.
#[test]
fn values_are_masked_as_python_quotes_them_and_inside_basic_credentials() {
    let sb = setup();
    let value = "p@ss w/rd+&=X-canary";
    sb.cli(&["secret", "create", "WEIRD", "--type", "text"], Some(value))
        .ok();
    let python = std::env::var("SEALBOX_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let program = r#"
import base64, os, sys, urllib.parse
v = os.environ["WEIRD"]
print("quote:", urllib.parse.quote(v))
print("quote_plus:", urllib.parse.quote_plus(v))
for user in ["u", "us", "usr"]:
    print("basic:", base64.b64encode(f"{user}:{v}".encode()).decode())
sys.stdout.flush()
"#;
    let (code, out, err) = run(&sb, &["--", &python, "-c", program], &[]);
    assert_eq!(code, 0, "{err}");
    let quoted = "p%40ss%20w/rd%2B%26%3DX-canary";
    let plus = "p%40ss+w%2Frd%2B%26%3DX-canary";
    assert!(!out.contains(quoted) && !out.contains(plus), "{out}");
    assert!(
        out.contains("quote: *****\n") && out.contains("quote_plus: *****\n"),
        "{out}"
    );
    for line in out.lines().filter(|l| l.starts_with("basic: ")) {
        // Only the few characters shared with `user:` and the padding are left.
        let rest = line.trim_start_matches("basic: ");
        assert!(rest.contains("*****") && rest.replace("*****", "").len() <= 8, "{out}");
    }
    assert_eq!(out.lines().filter(|l| l.starts_with("basic: ")).count(), 3, "{out}");
    let (_, clear, _) = run(&sb, &["--no-redact", "--", &python, "-c", program], &[]);
    assert!(
        clear.contains(quoted) && clear.contains(plus),
        "the program did print them: {clear}"
    );
}

/// Issue 9, items 9 and 11: an identity's own variables are not secrets, so `run` leaves them in
/// its output; `--only` reads (and marks as used) just the named secrets.
#[test]
fn only_secret_values_are_masked_and_only_reads_just_the_named_secrets() {
    let sb = setup();
    sb.cli(&["identity", "create", "payments", "--tag", "team=payments"], None)
        .ok();
    sb.cli(&["identity", "env", "set", "payments", "LOG_LEVEL=debug"], None)
        .ok();
    let token = sb
        .cli(&["identity", "token", "create", "payments"], None)
        .ok()
        .trim()
        .to_owned();
    sb.cli(
        &[
            "policy",
            "create",
            "p",
            "--identity",
            "payments",
            "--secret-tag",
            "team=payments",
            "--allow",
            "read",
        ],
        None,
    )
    .ok();
    for (name, value) in [("PAY_KEY", "pay-key-Qx71"), ("OTHER_KEY", "other-key-Wm42")] {
        sb.cli(
            &["secret", "create", name, "--type", "text", "--tag", "team=payments"],
            Some(value),
        )
        .ok();
    }
    let script = r#"echo "[$LOG_LEVEL] starting; ${LOG_LEVEL}ging the payments service with $PAY_KEY""#;
    let (code, out, err) = run_as(&sb, &token, &["--only", "PAY_KEY,LOG_LEVEL", "--", "sh", "-c", script]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "[debug] starting; debugging the payments service with *****\n");
    let used = |name: &str| {
        sb.cli(&["secret", "get", name], None)
            .ok()
            .contains("identity:payments")
    };
    assert!(used("PAY_KEY"));
    assert!(!used("OTHER_KEY"), "--only reads just the named secrets");
    // A name the identity has no variable for is refused by the server, naming it.
    let (code, _, err) = run_as(&sb, &token, &["--only", "PAY_KEY,OPS_KEY", "--", "true"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("OPS_KEY") && err.contains("environment.only_invalid"),
        "{err}"
    );
    assert!(!used("OTHER_KEY"));
}
