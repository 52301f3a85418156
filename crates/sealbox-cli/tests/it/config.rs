//! `sealbox server --config FILE`: what an operator sees when the file is right, wrong, or
//! readable by others (issue 11).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{bin, clean_env, listening_address};

/// The workspace's `deploy/` folder.
fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `sealbox server ARGS` with `env` added to a clean environment.
fn server(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("server")
        .args(args)
        .env_clear()
        .envs(clean_env())
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    cmd
}

/// `sealbox server ARGS` with `env`: waits for it to listen, stops it, and hands back its
/// stderr. Panics when it does not start.
fn serve(args: &[&str], env: &[(&str, &str)]) -> String {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = server(args, env)
        .stdout(Stdio::piped())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let started = listening_address(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(log.path()).unwrap();
    assert!(started.is_ok(), "the server did not start: {stderr}");
    stderr
}

/// `sealbox server ARGS` that must refuse to start: its exit code and stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = server(args, env).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn flags_override_variables_which_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let [from_file, from_env, from_flag] = ["file", "env", "flag"].map(|d| dir.path().join(d));
    let config = dir.path().join("sealbox.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nlog_json = true\n",
        from_file.display()
    );
    write(&config, &text, 0o600);
    let config = config.to_str().unwrap();

    // The file alone: its data directory, and JSON logs.
    let log = serve(&["--config", config], &[]);
    assert!(from_file.join("bootstrap.json").exists());
    assert!(log.lines().next().unwrap().starts_with('{'), "{log}");

    // SEALBOX_CONFIG names the file as well; variables override it.
    let env_dir = from_env.to_str().unwrap();
    let vars = [
        ("SEALBOX_CONFIG", config),
        ("SEALBOX_DATA_DIR", env_dir),
        ("SEALBOX_LOG_JSON", "false"),
    ];
    let log = serve(&[], &vars);
    assert!(from_env.join("bootstrap.json").exists());
    assert!(!log.lines().next().unwrap().starts_with('{'), "{log}");

    // A flag overrides both.
    serve(&["--data-dir", from_flag.to_str().unwrap()], &vars);
    assert!(from_flag.join("bootstrap.json").exists());
}

#[test]
fn the_example_config_starts_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let example = deploy().join("sealbox.example.toml");
    let data = dir.path().join("data");
    // Its listen address and /var/lib/sealbox are the service's; everything else is as shipped.
    serve(
        &["--config", example.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        &[("SEALBOX_DATA_DIR", data.to_str().unwrap())],
    );
    assert!(data.join("bootstrap.json").exists());
}

#[test]
fn a_wrong_config_file_names_the_key_and_its_line_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("sealbox.toml");
    let cases = [
        (
            "listen = \"127.0.0.1:0\"\ndata-dir = \"/x\"\n",
            "line 2: unknown key `data-dir` (did you mean `data_dir`?)",
        ),
        (
            "listen = \"127.0.0.1:0\"\n\nport = 8270\n",
            "line 3: unknown key `port`; the keys are the flags of `sealbox server`",
        ),
        (
            "trash_retention_days = \"30\"\n",
            "line 1: `trash_retention_days` must be a whole number",
        ),
        ("listen = 8270\n", "line 1: `listen` must be a quoted string"),
        (
            "insecure_http = \"yes\"\n",
            "line 1: `insecure_http` must be true or false",
        ),
        (
            "action_timeout_secs = 6000\n",
            "line 1: `action_timeout_secs`: invalid value (6000 is not in 1..=600)",
        ),
        ("[server]\nlisten = \"127.0.0.1:0\"\n", "line 1: unknown key `server`"),
        (
            "log_level = \"info\"\nlog_level = \"debug\"\n",
            "line 2: not valid TOML: duplicate key",
        ),
    ];
    for (text, expected) in cases {
        write(&config, text, 0o600);
        let (code, stderr) = refused(
            &[
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(code, 1, "{text}: {stderr}");
        let want = format!("error: {} {expected}", config.display());
        assert!(stderr.starts_with(&want), "{text}\nexpected: {want}\ngot: {stderr}");
        assert!(!data.exists(), "{text}: the server started");
    }
}

#[test]
fn a_config_path_that_is_no_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let (code, stderr) = refused(&["--config", path], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        format!("error: the config file {path} is a directory; name the TOML file itself, e.g. {path}/sealbox.toml")
    );
    let missing = dir.path().join("missing.toml");
    let (code, stderr) = refused(&[], &[("SEALBOX_CONFIG", missing.to_str().unwrap())]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!(
            "error: cannot read the config file {}: No such file",
            missing.display()
        )),
        "{stderr}"
    );
    // With --json, the API's error shape.
    let (code, stderr) = refused(&["--json"], &[("SEALBOX_CONFIG", missing.to_str().unwrap())]);
    assert_eq!(code, 1);
    let body: serde_json::Value = serde_json::from_str(&stderr).unwrap();
    assert_eq!(body["error"]["code"], "cli.error", "{body}");
}

#[test]
fn a_symlinked_config_file_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let target = dir.path().join("real.toml");
    write(
        &target,
        &format!("listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n", data.display()),
        0o600,
    );
    let link = dir.path().join("sealbox.toml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    serve(&["--config", link.to_str().unwrap()], &[]);
    assert!(data.join("bootstrap.json").exists());
}

#[test]
fn a_database_password_in_a_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sealbox.toml");
    let path = config.to_str().unwrap();
    // Port 1: nothing listens, so a config the server accepts fails later, at connecting.
    let with_password = "database_url = \"postgres://sealbox:hunter2-pw@127.0.0.1:1/sealbox\"\n";
    for mode in [0o644, 0o640, 0o604] {
        write(&config, with_password, mode);
        let (code, stderr) = refused(&["--config", path], &[]);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(
            stderr.trim(),
            format!(
                "error: {path} line 1: `database_url` holds a password, and other users may read {path} \
                 (mode {mode:04o}): run `chmod 600 {path}`, or leave `database_url` out of the file \
                 and set SEALBOX_DATABASE_URL"
            )
        );
    }
    // The same password in the query string.
    write(
        &config,
        "database_url = \"postgres://sealbox@127.0.0.1:1/sealbox?password=hunter2-pw\"\n",
        0o644,
    );
    let (_, stderr) = refused(&["--config", path], &[]);
    assert!(stderr.contains("holds a password"), "{stderr}");

    // Mode 0600, or no password: accepted (the server then fails to reach port 1).
    for (text, mode) in [
        (with_password, 0o600),
        ("database_url = \"postgres://sealbox@127.0.0.1:1/sealbox\"\n", 0o644),
    ] {
        write(&config, text, mode);
        let (code, stderr) = refused(
            &["--config", path, "--data-dir", dir.path().join("d").to_str().unwrap()],
            &[],
        );
        assert_ne!(code, 0);
        assert!(!stderr.contains("holds a password"), "{text} {mode:o}: {stderr}");
        assert!(!stderr.contains("hunter2-pw"), "the password leaked: {stderr}");
    }
}

#[test]
fn a_config_file_that_is_not_toml_does_not_echo_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sealbox.toml");
    // An unterminated string: toml's own message would quote the line, password and all.
    write(
        &config,
        "listen = \"127.0.0.1:0\"\ndatabase_url = \"postgres://u:hunter2-pw@db/sealbox\n",
        0o600,
    );
    let (code, stderr) = refused(&["--config", config.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("line 2: not valid TOML"), "{stderr}");
    assert!(!stderr.contains("hunter2-pw"), "the password leaked: {stderr}");
}
