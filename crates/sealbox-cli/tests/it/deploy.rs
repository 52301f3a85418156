//! Running sealbox as a service: the systemd unit in `deploy/systemd` and shell completion
//! (issue 11).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::bin;

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/systemd/sealbox.service")
}

/// The unit's `Key=value` lines, in order.
fn directives(unit: &str) -> Vec<(&str, &str)> {
    unit.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .collect()
}

#[test]
fn the_systemd_unit_is_hardened() {
    let unit = std::fs::read_to_string(unit_path()).unwrap();
    let found = directives(&unit);
    let required = [
        (
            "ExecStart",
            "/usr/local/bin/sealbox server --config /etc/sealbox/sealbox.toml",
        ),
        ("Restart", "on-failure"),
        ("User", "sealbox"),
        ("StateDirectory", "sealbox"),
        ("LimitCORE", "0"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
    ];
    for (key, value) in required {
        assert!(found.contains(&(key, value)), "sealbox.service lacks {key}={value}");
    }
    // The data directory the unit gives the service is the one the example config names.
    let example = std::fs::read_to_string(unit_path().parent().unwrap().join("../sealbox.example.toml")).unwrap();
    assert!(example.contains("\ndata_dir = \"/var/lib/sealbox\"\n"), "{example}");
    assert!(found.contains(&("WorkingDirectory", "/var/lib/sealbox")));
}

/// `systemd-analyze verify` on the unit, where systemd is installed (it is not in every container;
/// the test says so and checks the rest). It checks that ExecStart's program exists, so the
/// copy it reads starts the binary under test instead of /usr/local/bin/sealbox.
#[test]
fn systemd_analyze_verifies_the_unit() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("SKIPPED: systemd-analyze is not installed here; the unit's directives are still checked");
        return;
    }
    let unit = std::fs::read_to_string(unit_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("sealbox.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/sealbox", bin())).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify exits 0 on a directive it ignores: anything it says is a defect.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}

#[test]
fn completion_scripts_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(bin()).args(["completion", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        // Subcommands and the server's flags, --config among them, are offered.
        for word in ["secret", "server", "config", "data-dir"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    // A reader that stops early (`| head -1`) ends it quietly.
    let out = Command::new("bash")
        .args(["-c", r#""$SEALBOX_BIN" completion zsh | head -1"#])
        .env("SEALBOX_BIN", bin())
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    let out = Command::new(bin()).args(["completion", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bash_completion_registers_and_completes() {
    let script = r#"
        source <("$SEALBOX_BIN" completion bash) || exit 1
        complete -p sealbox
        COMP_WORDS=(sealbox server --con); COMP_CWORD=2; COMP_LINE="sealbox server --con"; COMP_POINT=${#COMP_LINE}
        _sealbox sealbox --con server
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let out = Command::new("bash")
        .args(["--norc", "-c", script])
        .env("SEALBOX_BIN", bin())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let mut lines = stdout.lines();
    assert!(lines.next().unwrap().ends_with(" sealbox"), "{stdout}");
    assert!(stdout.contains(" -F _sealbox sealbox\n"), "{stdout}");
    assert_eq!(lines.collect::<Vec<_>>(), ["--config"], "{stdout}");
}
