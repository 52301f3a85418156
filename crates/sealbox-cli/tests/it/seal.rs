//! `sealbox server --seal SOURCE`: where the root key comes from (issue 12).

use std::process::{Command, Stdio};

use crate::support::{bin, clean_env, listening_address, start, start_in};

const VALUE: &str = "sealed-value-Qw83";

#[test]
fn seal_file_is_the_default_and_reads_the_same_key_file() {
    let sb = start(&["--seal", "file"]);
    sb.cli(
        &["secret", "create", "KEPT", "--type", "text"],
        Some(&format!("{VALUE}\n")),
    )
    .ok();
    assert!(sb.data_dir().join("root.key").exists());
    let key = std::fs::read(sb.data_dir().join("root.key")).unwrap();

    // No flag is `--seal file`: the same key file, the value reads back, the key is unchanged.
    let sb = start_in(sb.kill(), &[]);
    assert_eq!(sb.cli(&["secret", "reveal", "KEPT"], None).ok().trim(), VALUE);
    assert_eq!(std::fs::read(sb.data_dir().join("root.key")).unwrap(), key);
}

#[test]
fn the_root_key_variable_still_takes_precedence_over_the_file() {
    let first = start(&[]);
    let key = std::fs::read_to_string(first.data_dir().join("root.key")).unwrap();
    drop(first.kill());

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(bin())
        .args(["server", "--listen", "127.0.0.1:0", "--seal", "file", "--data-dir"])
        .arg(&data)
        .env_clear()
        .envs(clean_env())
        .env("SEALBOX_ROOT_KEY", key.trim())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = listening_address(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    assert!(started.is_ok(), "the server did not start");
    // The key came from the variable: no key file was written beside the data.
    assert!(data.join("sealbox.db").exists());
    assert!(!data.join("root.key").exists());
}

#[test]
fn an_unknown_key_source_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (flag, var) in [(Some("vault"), None), (None, Some("vault"))] {
        let mut cmd = Command::new(bin());
        cmd.args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .env_clear()
            .envs(clean_env())
            .stdin(Stdio::null());
        if let Some(source) = flag {
            cmd.args(["--seal", source]);
        }
        if let Some(source) = var {
            cmd.env("SEALBOX_SEAL", source);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("invalid value 'vault' for '--seal <SOURCE>'"),
            "{stderr}"
        );
        assert!(
            stderr.contains("[possible values: file, passphrase, shamir, awskms, pkcs11]"),
            "{stderr}"
        );
        assert!(!data.exists(), "nothing is created");
    }
}
