//! Issue 12, with the real binary: moving a database from a key file to Shamir shares and from
//! Shamir to AWS KMS (moto) with `sealbox operator rekey`, unsealing share by share with `sealbox
//! operator unseal`, AWS KMS that is unreachable at start (served sealed, retried) or refuses (a
//! disabled key, a wrong key id), and a PKCS#11 HSM (SoftHSM2).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sealbox_test_peers::{Moto, SOFTHSM_KEYS, SoftHsm};
use serde_json::Value;

use crate::support::{Sealbox, bin, clean_env, setup, start_in, start_in_with_env};

const AWS_ENV: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIASEALBOXCLITEST01"),
    ("AWS_SECRET_ACCESS_KEY", "sbx-cli-secret-access-key-Jq7"),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `sealbox ARGS` with no server and these variables, with `stdin`.
fn offline(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> crate::support::Run {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_clear().envs(clean_env()).envs(env.iter().copied());
    crate::support::run(cmd, stdin)
}

fn kms_flags<'a>(key_id: &'a str, endpoint: &'a str) -> Vec<&'a str> {
    vec![
        "--kms-key-id",
        key_id,
        "--kms-endpoint",
        endpoint,
        "--kms-region",
        "us-east-1",
    ]
}

/// Two versions of one secret and another secret, created through `sb`.
fn write_values(sb: &Sealbox) {
    sb.cli(
        &["secret", "create", "API_KEY", "--type", "text"],
        Some("first-value-Tz41"),
    )
    .ok();
    sb.cli(
        &["secret", "update", "API_KEY", "--value-stdin"],
        Some("second-value-Tz42"),
    )
    .ok();
    sb.cli(
        &["secret", "create", "DB_PASSWORD", "--type", "text"],
        Some("db-value-Tz43"),
    )
    .ok();
}

#[track_caller]
fn assert_values(sb: &Sealbox) {
    let reveal = |args: &[&str]| sb.cli(args, None).ok().trim_end().to_owned();
    assert_eq!(reveal(&["secret", "reveal", "API_KEY"]), "second-value-Tz42");
    assert_eq!(
        reveal(&["secret", "reveal", "API_KEY", "--version", "1"]),
        "first-value-Tz41"
    );
    assert_eq!(reveal(&["secret", "reveal", "DB_PASSWORD"]), "db-value-Tz43");
    let verified = sb.cli(&["--json", "audit", "verify"], None).json();
    assert_eq!(verified["ok"], true, "{verified}");
}

fn seal_status(sb: &Sealbox) -> Value {
    sb.cli_as(None, &["--json", "operator", "seal-status"], None).json()
}

#[test]
fn rekey_moves_a_database_from_a_key_file_to_shamir_shares_and_from_shamir_to_aws_kms() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    let (key_id, _) = rt.block_on(moto.create_kms_key("sealbox root key"));
    let endpoint = format!("http://127.0.0.1:{}", moto.peer.port);
    let sb = setup();
    write_values(&sb);
    let owner = sb.bootstrap.token.clone();
    let data = sb.data_dir();
    let dir = sb.kill();
    let data_arg = data.to_str().unwrap();

    // File to Shamir: five shares, any three unseal; the key file is no longer needed.
    let key_file = data.join("root.key");
    let moved = offline(
        &[
            "--json",
            "operator",
            "rekey",
            "--data-dir",
            data_arg,
            "--root-key-file",
            key_file.to_str().unwrap(),
            "--new-seal",
            "shamir",
            "--key-shares",
            "5",
            "--key-threshold",
            "3",
        ],
        &[],
        None,
    )
    .json();
    let shares: Vec<String> = serde_json::from_value(moved["shares"].clone()).unwrap();
    assert_eq!((shares.len(), moved["seal"].as_str()), (5, Some("shamir")));
    std::fs::remove_file(&key_file).unwrap();

    let mut sb = start_in(dir, &["--seal", "shamir"]);
    sb.bootstrap.token = owner.clone();
    assert_eq!(seal_status(&sb)["sealed"], true);
    let refused = sb.cli(&["secret", "reveal", "API_KEY"], None);
    assert_ne!(refused.status, 0);
    assert!(refused.stderr.contains("sealed"), "{refused:#?}");
    let first = sb.cli_as(None, &["operator", "unseal", "--share-file", "-"], Some(&shares[4]));
    assert!(
        first.ok().contains("1 of 3 key shares given; 2 more needed"),
        "{first:#?}"
    );
    sb.cli_as(None, &["operator", "unseal", "--share-file", "-"], Some(&shares[0]))
        .ok();
    let done = sb.cli_as(None, &["operator", "unseal", "--share-file", "-"], Some(&shares[2]));
    assert!(done.ok().contains("unsealed (--seal shamir)"), "{done:#?}");
    assert_values(&sb);
    let dir = sb.kill();

    // Shamir to AWS KMS: the current key from three shares on stdin.
    let mut args = vec![
        "operator",
        "rekey",
        "--data-dir",
        data_arg,
        "--share-file",
        "-",
        "--new-seal",
        "awskms",
    ];
    args.extend(kms_flags(&key_id, &endpoint));
    let stdin = format!("{}\n{}\n{}\n", shares[1], shares[3], shares[0]);
    let moved = offline(&args, &AWS_ENV, Some(&stdin));
    assert!(
        moved.ok().contains("start the servers with --seal awskms"),
        "{moved:#?}"
    );
    let old = offline(
        &[
            "operator",
            "rekey",
            "--data-dir",
            data_arg,
            "--share-file",
            "-",
            "--new-seal",
            "shamir",
            "--key-shares",
            "3",
            "--key-threshold",
            "2",
        ],
        &[],
        Some(&stdin),
    );
    assert_ne!(old.status, 0, "the database is no longer sealed with Shamir");
    assert!(old.stderr.contains("sealed with --seal awskms"), "{old:#?}");

    let mut server_args = vec!["--seal", "awskms"];
    server_args.extend(kms_flags(&key_id, &endpoint));
    let mut sb = start_in_with_env(dir, &server_args, &AWS_ENV);
    sb.bootstrap.token = owner;
    assert_eq!(seal_status(&sb)["sealed"], false, "AWS KMS unseals by itself");
    assert_values(&sb);
    // An owner seals it; `unseal` asks KMS again.
    sb.cli(&["operator", "seal"], None).ok();
    assert_eq!(seal_status(&sb)["sealed"], true);
    sb.cli_as(None, &["operator", "unseal"], None).ok();
    assert_values(&sb);
    let log = sb.log();
    for share in &shares {
        assert!(!log.contains(share.as_str()), "a share is in the server log");
    }
    assert!(
        !log.contains(AWS_ENV[1].1),
        "the secret access key is in the server log"
    );
}

/// A TCP port nobody listens on (yet).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// From now on, connections to `port` reach `target` (in threads, for the test's life).
fn forward(port: u16, target: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                (upstream, client),
            ] {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
}

/// Starts `sealbox server` on `data` and expects it to refuse to start; its stderr.
fn refused_start(data: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(bin())
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .env_clear()
        .envs(clean_env())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "the server started: {stderr}");
    stderr
}

#[test]
fn aws_kms_unreachable_at_start_is_retried_while_sealed_and_a_disabled_or_wrong_key_stops_the_start() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    let (key_id, _) = rt.block_on(moto.create_kms_key("sealbox root key"));

    // KMS unreachable: the server serves sealed, says why, writes nothing, and unseals itself
    // once KMS answers.
    let port = closed_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut args = vec!["--seal", "awskms"];
    args.extend(kms_flags(&key_id, &endpoint));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sb = start_in_with_env(dir, &args, &AWS_ENV);
    let status = seal_status(&sb);
    assert_eq!(status["sealed"], true, "{status}");
    assert!(status["error"].as_str().unwrap().contains("127.0.0.1"), "{status}");
    assert!(
        !data.join("bootstrap.json").exists(),
        "nothing bootstrapped while sealed"
    );
    forward(port, moto.peer.port);
    let started = Instant::now();
    while seal_status(&sb)["sealed"] == true {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "never unsealed: {}",
            sb.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let text = std::fs::read_to_string(data.join("bootstrap.json")).unwrap();
    let token = serde_json::from_str::<Value>(&text).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut sb = sb;
    sb.bootstrap.token = token;
    write_values(&sb);
    assert_values(&sb);
    let dir = sb.kill();

    // A disabled key, and a key id KMS does not know: the start stops with a clear error.
    rt.block_on(moto.set_kms_key_enabled(&key_id, false));
    let moto_endpoint = format!("http://127.0.0.1:{}", moto.peer.port);
    let mut args = vec!["--seal", "awskms"];
    args.extend(kms_flags(&key_id, &moto_endpoint));
    let err = refused_start(&data, &args, &AWS_ENV);
    assert!(err.contains("disabled") && err.contains(&key_id), "{err}");
    rt.block_on(moto.set_kms_key_enabled(&key_id, true));
    let mut args = vec!["--seal", "awskms"];
    args.extend(kms_flags("alias/not-a-sealbox-key", &moto_endpoint));
    let err = refused_start(&data, &args, &AWS_ENV);
    assert!(err.contains("alias/not-a-sealbox-key"), "{err}");
    assert!(!err.contains(AWS_ENV[1].1));
    drop(dir);
}

#[test]
fn a_pkcs11_hsm_unseals_the_server_at_every_start_and_a_wrong_pin_stops_it() {
    let Some(hsm) = SoftHsm::get() else { return };
    let slot = hsm.slot.to_string();
    let lib = hsm.lib.to_str().unwrap();
    let args = [
        "--seal",
        "pkcs11",
        "--pkcs11-lib",
        lib,
        "--pkcs11-slot",
        &slot,
        "--pkcs11-key-label",
        SOFTHSM_KEYS[0],
    ];
    let conf = hsm.conf.to_str().unwrap();
    let env = [("SEALBOX_PKCS11_PIN", hsm.user_pin), ("SOFTHSM2_CONF", conf)];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sb = start_in_with_env(dir, &args, &env);
    assert_eq!(seal_status(&sb)["sealed"], false);
    assert!(!data.join("root.key").exists(), "no key file beside the data");
    write_values(&sb);
    let owner = sb.bootstrap.token.clone();
    let dir = sb.kill();

    let mut sb = start_in_with_env(dir, &args, &env);
    sb.bootstrap.token = owner;
    assert_values(&sb);
    sb.cli(&["operator", "seal"], None).ok();
    assert!(sb.cli(&["secret", "reveal", "API_KEY"], None).status != 0);
    sb.cli_as(None, &["operator", "unseal"], None).ok();
    assert_values(&sb);
    let dir = sb.kill();

    let wrong_pin = [("SEALBOX_PKCS11_PIN", "notthepinatall"), ("SOFTHSM2_CONF", conf)];
    let err = refused_start(&data, &args, &wrong_pin);
    assert!(err.contains("PIN"), "{err}");
    assert!(!err.contains("notthepinatall") && !err.contains(hsm.user_pin), "{err}");
    let mut other_key = args;
    other_key[7] = SOFTHSM_KEYS[1];
    let err = refused_start(&data, &other_key, &env);
    assert!(err.contains(SOFTHSM_KEYS[1]) || err.contains("unwrap"), "{err}");
    drop(dir);
}
