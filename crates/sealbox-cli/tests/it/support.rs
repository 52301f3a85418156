//! `setup()`: a real server on 127.0.0.1:0 and a runner for the CLI pointed at it.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_sealbox");
const READY: &str = "sealbox listening on ";

/// A running `sealbox server`, killed on drop.
pub struct Sealbox {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub addr: String,
    /// Holds `data/` (the server's data directory) and `server.log` (its stderr).
    pub dir: TempDir,
    pub bootstrap: Bootstrap,
}

/// `<data-dir>/bootstrap.json`: the first owner's credentials.
pub struct Bootstrap {
    pub workspace: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

/// One finished CLI run.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and hands back stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.status, 0, "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts a failure the server reported (exit code 1, 3, 4, 5 or 7 by its class; the
    /// `exit_codes` tests pin each class) with `error: ... (code)` on stderr, and hands back stderr.
    #[track_caller]
    pub fn fails_with(&self, code: &str) -> &str {
        assert!(
            [1, 3, 4, 5, 7].contains(&self.status),
            "expected the exit code of a server's refusal: {self:#?}"
        );
        assert!(self.stderr.starts_with("error: "), "{self:#?}");
        assert!(self.stderr.contains(&format!("({code})")), "expected {code}: {self:#?}");
        &self.stderr
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }

    /// stdout and stderr together, to check what a command let out.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

pub fn setup() -> Sealbox {
    start(&[])
}

/// A server started with `extra` flags after the defaults. A server joining a database that
/// another one bootstrapped has no `bootstrap.json`: its `bootstrap` fields are then empty.
pub fn start(extra: &[&str]) -> Sealbox {
    start_in(tempfile::tempdir().unwrap(), extra)
}

/// A server on `dir/data` (made on first start, or a database restored there, or one that was
/// killed), its log in `dir/server.log`.
pub fn start_in(dir: TempDir, extra: &[&str]) -> Sealbox {
    start_in_with_env(dir, extra, &[])
}

/// [`start_in`] with these variables set for the server (e.g. a key protector's credentials).
pub fn start_in_with_env(dir: TempDir, extra: &[&str], env: &[(&str, &str)]) -> Sealbox {
    let data_dir = dir.path().join("data");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("server.log"))
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .args(extra)
        .envs(clean_env())
        .env_remove("SEALBOX_LOG_JSON")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();

    let addr = match listening_address(&mut child) {
        Ok(addr) => addr,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            panic!("the server did not print {READY:?} ({e:?}); its stderr:\n{log}");
        }
    };
    assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");

    let path = data_dir.join("bootstrap.json");
    let b: Value = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => serde_json::json!({"workspace": "", "email": "", "password": "", "token": ""}),
    };
    let field = |k: &str| {
        b[k].as_str()
            .unwrap_or_else(|| panic!("bootstrap.json lacks {k}: {b}"))
            .to_owned()
    };
    let bootstrap = Bootstrap {
        workspace: field("workspace"),
        email: field("email"),
        password: field("password"),
        token: field("token"),
    };
    Sealbox {
        child,
        addr,
        dir,
        bootstrap,
    }
}

/// Runs `cmd` with `stdin` piped in (or no stdin at all) and collects what it wrote.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The address a starting server prints once it listens (`http://127.0.0.1:PORT`), or why it
/// did not within a minute. Its stdout is read on a thread that keeps draining it, so the server
/// never blocks on a full pipe.
pub fn listening_address(server: &mut Child) -> Result<String, mpsc::RecvTimeoutError> {
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.find(READY).map(|at| &line[at + READY.len()..]) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
}

/// The `sealbox` binary under test.
pub fn bin() -> &'static str {
    BIN
}

/// The inherited environment without any `SEALBOX_*` variable of the person running the tests,
/// and with a config directory of the test run's own, so no token `sealbox login` stored for the
/// person running the tests is used.
pub fn clean_env() -> Vec<(String, String)> {
    let config = std::env::temp_dir().join(format!("sealbox-it-{}-config", std::process::id()));
    std::env::vars()
        .filter(|(k, _)| !k.starts_with("SEALBOX_") && k != "XDG_CONFIG_HOME")
        .chain([("XDG_CONFIG_HOME".to_owned(), config.display().to_string())])
        .collect()
}

impl Sealbox {
    /// Runs `sealbox ARGS` as the bootstrapped owner, with `stdin` piped in (or no stdin at all).
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.cli_as(Some(&self.bootstrap.token), args, stdin)
    }

    /// Runs `sealbox ARGS` with another token (or none).
    pub fn cli_as(&self, token: Option<&str>, args: &[&str], stdin: Option<&str>) -> Run {
        run(self.command_as(token, args), stdin)
    }

    /// `sealbox ARGS` pointed at this server with `token` (or none), for a test that sets up its
    /// standard input and output itself.
    pub fn command_as(&self, token: Option<&str>, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .envs(clean_env())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("SEALBOX_ADDR", &self.addr);
        if let Some(token) = token {
            cmd.env("SEALBOX_TOKEN", token);
        }
        cmd
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap()
    }

    /// Sends `signal` (e.g. `TERM`, `INT`) and waits for the server to exit; returns its exit code.
    pub fn stop_with(&mut self, signal: &str) -> Option<i32> {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not stop within 10 s of SIG{signal}");
    }

    /// The `XDG_CONFIG_HOME` of this server's CLI runs (where `sealbox login` keeps tokens).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// SIGKILLs the server and hands back its directory (data and log) for the next start.
    pub fn kill(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Every file the server wrote (data directory and its log), to search for plaintext.
    pub fn written_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    out.push((path, bytes));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out
    }

    /// Signs in as `email` with `password` and returns the session token.
    pub fn login(&self, email: &str, password: &str) -> String {
        let run = self.cli_as(
            None,
            &[
                "login",
                "--no-store",
                "--email",
                email,
                "--workspace",
                &self.bootstrap.workspace,
            ],
            Some(&format!("{password}\n")),
        );
        let line = run.ok().trim();
        line.strip_prefix("export SEALBOX_TOKEN=")
            .unwrap_or_else(|| panic!("no export line: {run:#?}"))
            .to_owned()
    }
}

impl Drop for Sealbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
