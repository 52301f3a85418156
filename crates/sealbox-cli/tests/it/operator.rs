//! Issue 11: `sealbox operator backup`, `backup verify` and `restore`, with the real binary:
//! a backup restores into SQLite or PostgreSQL and serves as before; a tampered file is refused;
//! a killed backup leaves no partial file.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::{Sealbox, setup, start, start_in};

const V1: &str = "backup-value-one-Zr41";
const V2: &str = "backup-value-two-Mw07";
const BOT_VALUE: &str = "bot-readable-Qe93";

/// A server with one of each: a secret with two versions, an identity with a token and a
/// policy that lets it read a tagged secret, an action. Returns the identity's token.
fn fill(sb: &Sealbox) -> String {
    sb.cli(&["secret", "create", "API_KEY", "--type", "text"], Some(V1))
        .ok();
    sb.cli(&["secret", "update", "API_KEY", "--value-stdin"], Some(V2)).ok();
    sb.cli(
        &[
            "secret",
            "create",
            "BOT_KEY",
            "--type",
            "text",
            "--tag",
            "team=payments",
        ],
        Some(BOT_VALUE),
    )
    .ok();
    sb.cli(&["identity", "create", "bot", "--tag", "team=payments"], None)
        .ok();
    let token = sb
        .cli(&["identity", "token", "create", "bot"], None)
        .ok()
        .trim()
        .to_owned();
    sb.cli(
        &[
            "policy",
            "create",
            "bot-read",
            "--identity-tag",
            "team=payments",
            "--secret-tag",
            "team=payments",
            "--allow",
            "read",
        ],
        None,
    )
    .ok();
    let spec = sb.dir.path().join("hook.json");
    std::fs::write(
        &spec,
        json!({"kind": "http", "method": "POST", "url": "https://hooks.example.com/x",
               "headers": {"Authorization": "Bearer {secrets.API_KEY}"}})
        .to_string(),
    )
    .unwrap();
    sb.cli(&["action", "create", "hook", "--spec", spec.to_str().unwrap()], None)
        .ok();
    token
}

/// What `fill` stored, seen through `sb` with the original owner's and identity's tokens.
fn assert_serves_what_was_backed_up(sb: &Sealbox, owner: &str, bot: &str) {
    assert_eq!(
        sb.cli_as(Some(owner), &["secret", "reveal", "API_KEY"], None)
            .ok()
            .trim(),
        V2
    );
    assert_eq!(
        sb.cli_as(Some(owner), &["secret", "reveal", "API_KEY", "--version", "1"], None)
            .ok()
            .trim(),
        V1
    );
    let env: Value = sb.cli_as(Some(bot), &["--json", "env"], None).json();
    assert_eq!(env["BOT_KEY"], BOT_VALUE, "the identity's token and the policy work");
    assert!(env.get("API_KEY").is_none(), "the policy still limits the identity");
    let actions = sb.cli_as(Some(owner), &["--json", "action", "list"], None).json();
    assert_eq!(actions["actions"][0]["name"], "hook");
    assert!(sb.cli_as(Some(owner), &["audit", "verify"], None).ok().contains("ok"));
}

/// The bytes of `file` with one bit of the first ciphertext flipped (checksums left as they were).
fn flip_a_ciphertext_byte(file: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(file).unwrap();
    let mut out = String::new();
    let mut in_versions = false;
    let mut done = false;
    for line in text.lines() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        if value.get("table").is_some() {
            in_versions = value["table"] == "secret_versions";
        }
        if in_versions && !done && value.is_array() {
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut bytes = b64.decode(value[2]["b64"].as_str().unwrap()).unwrap();
            bytes[0] ^= 1;
            value[2] = json!({ "b64": b64.encode(bytes) });
            out.push_str(&format!("{value}\n"));
            done = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(done);
    out.into_bytes()
}

#[test]
fn a_backup_verifies_and_restores_into_sqlite_with_every_value_and_token() {
    let sb = setup();
    let bot = fill(&sb);
    let owner = sb.bootstrap.token.clone();
    let file = sb.dir.path().join("backups").join("sealbox.backup");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    let file_arg = file.to_str().unwrap();
    sb.cli(&["operator", "backup", "--out", file_arg], None).ok();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let bytes = std::fs::read(&file).unwrap();
    for value in [V1, V2, BOT_VALUE] {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(value),
            "a plaintext value is in the backup"
        );
    }

    let verified = sb.cli(&["operator", "backup", "verify", file_arg], None);
    let out = verified.ok();
    assert!(out.contains("source:      sqlite"), "{out}");
    assert!(out.contains("workspaces:  default"), "{out}");
    assert!(out.contains("secret_versions  3"), "{out}");
    assert!(out.contains("give --root-key-file"), "{out}");
    let key = sb.data_dir().join("root.key");
    let with_key = sb.cli(
        &[
            "operator",
            "backup",
            "verify",
            file_arg,
            "--root-key-file",
            key.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        with_key.ok().contains("keyed hashes recomputed with the root key"),
        "{with_key:#?}"
    );
    let other_key = sb.dir.path().join("other.key");
    std::fs::write(&other_key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let wrong = sb.cli(
        &[
            "operator",
            "backup",
            "verify",
            file_arg,
            "--root-key-file",
            other_key.to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(wrong.status, 0);
    assert!(
        wrong.stderr.contains("is not the root key this backup needs"),
        "{wrong:#?}"
    );

    // One byte of a ciphertext changed: refused by verify and by restore, naming the section.
    let tampered = sb.dir.path().join("tampered.backup");
    std::fs::write(&tampered, flip_a_ciphertext_byte(&bytes)).unwrap();
    let refused = sb.cli(&["operator", "backup", "verify", tampered.to_str().unwrap()], None);
    assert_ne!(refused.status, 0);
    assert!(
        refused
            .stderr
            .contains("checksum mismatch: the secret_versions section"),
        "{refused:#?}"
    );
    // One audit event removed.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let second_event = text
        .lines()
        .skip_while(|l| !l.starts_with(r#"{"columns""#) || !l.contains(r#""table":"audit_events""#))
        .nth(2)
        .unwrap();
    let removed = sb.dir.path().join("removed.backup");
    std::fs::write(&removed, text.replacen(&format!("{second_event}\n"), "", 1)).unwrap();
    let refused = sb.cli(&["operator", "backup", "verify", removed.to_str().unwrap()], None);
    assert_ne!(refused.status, 0);
    assert!(refused.stderr.contains("the audit_events section says"), "{refused:#?}");

    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    let refused = sb.cli(
        &[
            "operator",
            "restore",
            tampered.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        refused
            .stderr
            .contains("checksum mismatch: the secret_versions section"),
        "{refused:#?}"
    );
    assert!(!data.exists(), "a refused restore writes nothing");

    let restored = sb.cli(
        &["operator", "restore", file_arg, "--data-dir", data.to_str().unwrap()],
        None,
    );
    assert!(restored.ok().contains("restored"), "{restored:#?}");
    // A target that holds data is refused, naming it.
    let again = sb.cli(
        &["operator", "restore", file_arg, "--data-dir", data.to_str().unwrap()],
        None,
    );
    assert_ne!(again.status, 0);
    assert!(
        again.stderr.contains("already holds data (workspaces: default)"),
        "{again:#?}"
    );

    std::fs::copy(&key, data.join("root.key")).unwrap();
    let copy = start_in(target, &[]);
    assert!(
        copy.bootstrap.token.is_empty(),
        "a restored database is not bootstrapped"
    );
    assert_serves_what_was_backed_up(&copy, &owner, &bot);
}

/// The migration path: a SQLite server's backup restored into a fresh PostgreSQL schema, then
/// served by two replicas.
#[test]
fn a_sqlite_backup_restored_into_postgres_is_served_by_two_replicas() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = runtime.block_on(sealbox_testkit::postgres_url()) else {
        return;
    };
    let sb = setup();
    let bot = fill(&sb);
    let owner = sb.bootstrap.token.clone();
    let file = sb.dir.path().join("sqlite.backup");
    sb.cli(&["operator", "backup", "--out", file.to_str().unwrap()], None)
        .ok();
    let key = sb.dir.path().join("root.key");
    std::fs::copy(sb.data_dir().join("root.key"), &key).unwrap();
    let restored = sb.cli(
        &[
            "operator",
            "restore",
            file.to_str().unwrap(),
            "--database-url",
            &url,
            "--root-key-file",
            key.to_str().unwrap(),
        ],
        None,
    );
    assert!(restored.ok().contains("restored"), "{restored:#?}");
    let flags = ["--database-url", &url, "--root-key-file", key.to_str().unwrap()];
    let first = start(&flags);
    let second = start(&flags);
    assert!(first.bootstrap.token.is_empty() && second.bootstrap.token.is_empty());
    assert_serves_what_was_backed_up(&first, &owner, &bot);
    // A write through one replica is seen by the other.
    first
        .cli_as(
            Some(&owner),
            &["secret", "update", "API_KEY", "--value-stdin"],
            Some("after-migration"),
        )
        .ok();
    assert_eq!(
        second
            .cli_as(Some(&owner), &["secret", "reveal", "API_KEY"], None)
            .ok()
            .trim(),
        "after-migration"
    );
    assert!(
        second
            .cli_as(Some(&owner), &["audit", "verify"], None)
            .ok()
            .contains("ok")
    );
}

/// SIGKILL at any moment of `sealbox operator backup` leaves, under the target name, either what
/// was there before or a whole backup, never a partial file.
#[test]
fn a_killed_backup_leaves_no_partial_file() {
    let sb = setup();
    fill(&sb);
    let dir = sb.dir.path().join("kills");
    std::fs::create_dir(&dir).unwrap();
    let target = dir.join("sealbox.backup");
    let mut completed = false;
    let mut delay_ms = 0;
    while !completed {
        let mut child = sb
            .command_as(
                Some(&sb.bootstrap.token),
                &["operator", "backup", "--out", target.to_str().unwrap()],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        completed = status.success();
        if target.exists() {
            let verify = sb.cli(&["operator", "backup", "verify", target.to_str().unwrap()], None);
            assert_eq!(
                verify.status, 0,
                "the target holds a partial backup after a kill at {delay_ms} ms: {verify:#?}"
            );
        }
        delay_ms += 2;
    }
    assert!(target.exists(), "the backup that completed is there");
}

/// Killed while the backup is still arriving (a server that sends half of it and stalls):
/// nothing is left under the target name, nor beside it.
#[test]
fn a_backup_killed_mid_download_leaves_nothing() {
    use std::io::{Read, Write};
    let sb = setup();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fake = format!("http://{}", listener.local_addr().unwrap());
    let (sent, half_sent) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0_u8; 4096];
        let _ = conn.read(&mut request).unwrap();
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: 100000\r\n\
                    x-request-id: stalled\r\n\r\n";
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(&[b'x'; 50_000]).unwrap();
        conn.flush().unwrap();
        sent.send(()).unwrap();
        // Hold the connection open, the rest never comes.
        std::thread::sleep(std::time::Duration::from_secs(60));
        drop(conn);
    });
    let dir = sb.dir.path().join("stalled");
    std::fs::create_dir(&dir).unwrap();
    let target = dir.join("sealbox.backup");
    let mut child = sb
        .command_as(
            Some(&sb.bootstrap.token),
            &["operator", "backup", "--out", target.to_str().unwrap()],
        )
        .env("SEALBOX_ADDR", &fake)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    half_sent.recv().unwrap();
    // Give the CLI the chance to write what it received, as a streaming writer would.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "a killed backup left {left:?}");
}
