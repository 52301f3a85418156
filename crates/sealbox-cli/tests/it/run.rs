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
    assert_eq!(code, 1);
    assert!(err.contains("cannot start"), "{err}");
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
