//! Issue 12: `sealbox operator rotate [--status]` with the real binary. A rotation of a few
//! thousand secret versions, the server SIGKILLed at several points of it and restarted each
//! time, completes with every value readable.

use serde_json::{Value, json};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::support::{Sealbox, setup, start_in};

const KEYS: usize = 3000;
const ROUNDS: [&str; 3] = ["first", "second", "third"];
const VERSIONS: u64 = (KEYS * ROUNDS.len()) as u64;

/// `KEYS` secrets with three versions each (three imports of a dotenv file).
fn fill(sb: &Sealbox) {
    let dir = tempfile::tempdir().unwrap();
    for round in ROUNDS {
        let text: String = (0..KEYS).map(|i| format!("KEY_{i:04}={round}-value-{i}\n")).collect();
        let file = dir.path().join(format!("{round}.env"));
        std::fs::write(&file, text).unwrap();
        sb.cli(&["import", file.to_str().unwrap()], None).ok();
    }
}

fn status(sb: &Sealbox) -> Value {
    sb.cli(&["--json", "operator", "rotate", "--status"], None).json()
}

fn assert_every_value_reads(sb: &Sealbox) {
    let exported = sb.cli(&["export", "--format", "json"], None).json();
    let expected: serde_json::Map<String, Value> = (0..KEYS)
        .map(|i| (format!("KEY_{i:04}"), json!(format!("third-value-{i}"))))
        .collect();
    assert_eq!(exported, Value::Object(expected));
    for i in [0, KEYS / 2, KEYS - 1] {
        let name = format!("KEY_{i:04}");
        let first = sb.cli(&["secret", "reveal", &name, "--version", "1"], None);
        assert_eq!(first.ok().trim_end(), format!("first-value-{i}"));
    }
}

#[test]
fn a_rotation_killed_at_several_points_completes_after_restarts_and_every_value_reads() {
    let sb = setup();
    fill(&sb);
    let before = status(&sb);
    assert_eq!(before["active_version"], 1);
    assert_eq!(before["total"], VERSIONS);

    let rotated = sb.cli(&["operator", "rotate"], None);
    assert!(rotated.ok().contains("keyring version 2 is active"), "{rotated:#?}");
    let mut owner = sb.bootstrap.token.clone();
    let mut dir = sb.kill(); // SIGKILL right after the rotation started
    let mut seen = Vec::new();
    for _ in 0..10 {
        let mut sb = start_in(dir, &[]);
        sb.bootstrap.token = owner.clone();
        let now = status(&sb);
        assert_eq!(now["active_version"], 2, "the new version stays active after a kill");
        seen.push(now["done"].as_u64().unwrap());
        owner = sb.bootstrap.token.clone();
        dir = sb.kill(); // SIGKILL, wherever the rewrapping is
    }
    eprintln!("done at each kill: {seen:?}");
    // Progress is never lost: each start carries on from where the last one was killed.
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    let mid_rotation = seen.iter().filter(|&&done| done > 0 && done < VERSIONS).count();
    assert!(
        mid_rotation >= 5,
        "killed in the middle of the rotation only {mid_rotation} times: {seen:?}"
    );

    let mut sb = start_in(dir, &[]);
    sb.bootstrap.token = owner;
    let mut last = status(&sb);
    for _ in 0..600 {
        if last["remaining"] == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        last = status(&sb);
    }
    assert_eq!(last["remaining"], 0, "{last}");
    assert_eq!(last["done"], VERSIONS);
    let human = sb.cli(&["operator", "rotate", "--status"], None);
    assert!(
        human.ok().contains(&format!(
            "keyring version 2: {0} of {0} data keys rewrapped (complete)",
            VERSIONS
        )),
        "{human:#?}"
    );
    assert_every_value_reads(&sb);
    let verified = sb.cli(&["--json", "audit", "verify"], None).json();
    assert_eq!(verified["ok"], true, "{verified}");
}

#[test]
fn rotate_is_refused_to_a_member_who_is_not_an_owner() {
    let sb = setup();
    let added = sb.cli(&["member", "add", "ed@example.com", "--role", "admin"], None);
    let password = added.ok().trim().to_owned();
    let admin = sb.login("ed@example.com", &password);
    sb.cli_as(Some(&admin), &["operator", "rotate"], None)
        .fails_with("permission.denied");
    sb.cli_as(Some(&admin), &["operator", "rotate", "--status"], None)
        .fails_with("permission.denied");
    assert_eq!(status(&sb)["active_version"], 1, "nothing rotated");
}

/// Waits until the server's rotation is complete.
fn wait_for_rotation(sb: &Sealbox) -> Value {
    let mut last = status(sb);
    for _ in 0..600 {
        if last["remaining"] == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        last = status(sb);
    }
    last
}

/// The backup file with one byte of the keyring's wrapped key changed, its checksums recomputed
/// (as anyone who knows the format, but not the root key, could).
fn alter_the_keyring(file: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = String::new();
    let mut section = String::new();
    let mut table = String::new();
    for line in std::str::from_utf8(file).unwrap().lines() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        if let Some(name) = value["table"].as_str() {
            table = name.to_owned();
        } else if value.is_array() {
            if table == "keyring" {
                let mut bytes = b64.decode(value[1]["b64"].as_str().unwrap()).unwrap();
                bytes[30] ^= 1;
                value[1] = json!({ "b64": b64.encode(bytes) });
            }
            section.push_str(&format!("{value}\n"));
            out.push_str(&format!("{value}\n"));
            continue;
        } else if value.get("end").is_some() {
            value["sha256"] = json!(hex::encode(Sha256::digest(std::mem::take(&mut section))));
        } else if value.get("sha256").is_some() {
            value["sha256"] = json!(hex::encode(Sha256::digest(&out)));
        }
        out.push_str(&format!("{value}\n"));
    }
    out.into_bytes()
}

#[test]
fn a_backup_taken_before_a_rotation_restores_after_it_and_an_altered_keyring_is_refused_at_restore() {
    let sb = setup();
    sb.cli(
        &["secret", "create", "API_KEY", "--type", "text"],
        Some("before-rotation-Kq27"),
    )
    .ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("before.backup");
    sb.cli(&["operator", "backup", "--out", file.to_str().unwrap()], None)
        .ok();
    sb.cli(&["operator", "rotate"], None).ok();
    assert_eq!(wait_for_rotation(&sb)["remaining"], 0);
    sb.cli(
        &["secret", "update", "API_KEY", "--value-stdin"],
        Some("after-rotation-Lw08"),
    )
    .ok();
    let key = sb.data_dir().join("root.key");

    // Restored after the rotation, with its root key: the backup carries the keyring it needs.
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    let restore = |backup: &std::path::Path, into: &std::path::Path| {
        sb.cli(
            &[
                "operator",
                "restore",
                backup.to_str().unwrap(),
                "--data-dir",
                into.to_str().unwrap(),
                "--root-key-file",
                key.to_str().unwrap(),
            ],
            None,
        )
    };
    restore(&file, &data).ok();
    std::fs::copy(&key, data.join("root.key")).unwrap();
    let mut restored = start_in(target, &[]);
    restored.bootstrap.token = sb.bootstrap.token.clone();
    assert_eq!(
        restored.cli(&["secret", "reveal", "API_KEY"], None).ok().trim_end(),
        "before-rotation-Kq27"
    );
    assert_eq!(status(&restored)["active_version"], 1);

    // A backup whose keyring does not open with the key is refused at restore, nothing written.
    let altered = dir.path().join("altered.backup");
    std::fs::write(&altered, alter_the_keyring(&std::fs::read(&file).unwrap())).unwrap();
    let other = dir.path().join("other");
    let refused = restore(&altered, &other);
    assert_ne!(refused.status, 0);
    assert!(
        refused
            .stderr
            .contains("the backup's keyring version 1 does not open with"),
        "{refused:#?}"
    );
    assert!(!other.join("sealbox.db").exists(), "nothing restored");
}
