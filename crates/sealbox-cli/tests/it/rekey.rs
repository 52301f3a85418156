//! Issue 12: `sealbox operator rekey` with the real binary: the root key of a stopped server's
//! database is replaced by rewrapping only the keyring; values, tokens and the audit chain are as
//! before with the new key, twice in a row, and the old key is refused.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Sealbox, bin, clean_env, setup, start_in};

const KEY_B: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\n";
const KEY_C: &str = "Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M=\n";

/// `sealbox operator rekey` on the database in `data` (no server needed).
fn rekey(sb_like: &Sealbox, data: &Path, current: &Path, new: &Path) -> crate::support::Run {
    sb_like.cli_as(
        None,
        &[
            "operator",
            "rekey",
            "--data-dir",
            data.to_str().unwrap(),
            "--root-key-file",
            current.to_str().unwrap(),
            "--new-root-key-file",
            new.to_str().unwrap(),
        ],
        None,
    )
}

/// Starts `sealbox server` on `data` with `key` and expects it to refuse to start; its stderr.
fn refused_start(data: &Path, key: &Path) -> String {
    let mut child = Command::new(bin())
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--root-key-file")
        .arg(key)
        .envs(clean_env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success());
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return err;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the server started with the old root key");
}

#[test]
fn a_rekeyed_database_serves_the_same_values_tokens_and_audit_chain_and_refuses_the_old_key() {
    let sb = setup();
    sb.cli(
        &["secret", "create", "API_KEY", "--type", "text"],
        Some("value-before-rekey-Hn52"),
    )
    .ok();
    sb.cli(
        &["secret", "update", "API_KEY", "--value-stdin"],
        Some("value-two-Hn53"),
    )
    .ok();
    let owner = sb.bootstrap.token.clone();
    let data = sb.data_dir();
    let dir = sb.kill();
    let keys = tempfile::tempdir().unwrap();
    let (old, b, c) = (
        data.join("root.key"),
        keys.path().join("b.key"),
        keys.path().join("c.key"),
    );
    std::fs::write(&b, KEY_B).unwrap();
    std::fs::write(&c, KEY_C).unwrap();
    let old_copy = keys.path().join("old.key");
    std::fs::copy(&old, &old_copy).unwrap();

    // A runner for CLI commands that need no server.
    let cli = setup();
    let wrong = rekey(&cli, &data, &b, &c);
    assert_ne!(wrong.status, 0);
    assert!(wrong.stderr.contains("not this database's"), "{wrong:#?}");
    let run = rekey(&cli, &data, &old_copy, &b);
    assert!(run.ok().contains("rekeyed: 1 keyring versions"), "{run:#?}");

    assert!(
        refused_start(&data, &old_copy).contains("root key does not match this database"),
        "the old key is refused"
    );
    let mut served = start_in(dir, &["--root-key-file", b.to_str().unwrap()]);
    served.bootstrap.token = owner.clone();
    assert_eq!(
        served.cli(&["secret", "reveal", "API_KEY"], None).ok().trim_end(),
        "value-two-Hn53"
    );
    assert_eq!(
        served
            .cli(&["secret", "reveal", "API_KEY", "--version", "1"], None)
            .ok()
            .trim_end(),
        "value-before-rekey-Hn52"
    );
    // The owner's token still signs in, and new writes and audit events join the same chain.
    served
        .cli(
            &["secret", "update", "API_KEY", "--value-stdin"],
            Some("value-three-Hn54"),
        )
        .ok();
    let verified = served.cli(&["--json", "audit", "verify"], None).json();
    assert_eq!(verified["ok"], true, "{verified}");

    // A second rekey (b to c) keeps the original key's subkeys too.
    let dir = served.kill();
    rekey(&cli, &data, &b, &c).ok();
    let mut again = start_in(dir, &["--root-key-file", c.to_str().unwrap()]);
    again.bootstrap.token = owner;
    assert_eq!(
        again.cli(&["secret", "reveal", "API_KEY"], None).ok().trim_end(),
        "value-three-Hn54"
    );
    let verified = again.cli(&["--json", "audit", "verify"], None).json();
    assert_eq!(verified["ok"], true, "{verified}");
    // A backup of the rekeyed database verifies with the new key, keyed hashes included.
    let file = keys.path().join("after.backup");
    again
        .cli(&["operator", "backup", "--out", file.to_str().unwrap()], None)
        .ok();
    let checked = again.cli(
        &[
            "operator",
            "backup",
            "verify",
            file.to_str().unwrap(),
            "--root-key-file",
            c.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        checked.ok().contains("keyed hashes recomputed with the root key"),
        "{checked:#?}"
    );
    assert!(refused_start(&again.data_dir(), &b).contains("root key does not match this database"));
}

/// A rekey under a running server would leave that server with keys that no longer open the
/// keyring (its next rotation failed with 500): refused, nothing changed, while a server runs.
#[test]
fn rekey_is_refused_while_a_server_runs_on_the_database() {
    let sb = setup();
    let data = sb.data_dir();
    let keys = tempfile::tempdir().unwrap();
    let (current, new) = (keys.path().join("current.key"), keys.path().join("new.key"));
    std::fs::copy(data.join("root.key"), &current).unwrap();
    std::fs::write(&new, KEY_B).unwrap();
    let refused = rekey(&sb, &data, &current, &new);
    assert_ne!(refused.status, 0, "{refused:#?}");
    assert!(refused.stderr.contains("a Sealbox server is running"), "{refused:#?}");
    // Nothing changed: the running server still rotates with its keys.
    sb.cli(&["operator", "rotate"], None).ok();
    // Stopped, the same rekey goes through.
    let dir = sb.kill();
    let cli = setup();
    assert!(rekey(&cli, &data, &current, &new).ok().contains("rekeyed"));
    drop(dir);
}
