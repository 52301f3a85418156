//! `sealbox run` under a pseudo-terminal: when sealbox's own stdout is a terminal, the program
//! gets a terminal of its own (so colours, line editing and interactive programs keep working)
//! while everything it prints passes through the redactor on its way to the real terminal.
//!
//! Keys typed at the real terminal go to the program's terminal unchanged (sealbox's terminal is
//! put in raw mode for the run and restored after), so Ctrl-C reaches the program as the
//! terminal's own interrupt. Window size changes follow the real terminal.

use std::io::{IsTerminal as _, Read as _};
use std::os::fd::AsFd;

use anyhow::Context as _;
use rustix::termios::{self, OptionalActions, Termios};
use tokio::io::AsyncWriteExt as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::failure::ProgramNotStarted;
use crate::run::{copy_redacted, wait_forwarding_signals};

/// End-of-transmission (Ctrl-D): what the program's terminal gets when sealbox's stdin ends.
const EOT: u8 = 0x04;

pub async fn run(
    program: &str,
    program_args: &[String],
    env: &[(&String, &String)],
    redactor: sealbox_redact::Stream,
) -> anyhow::Result<std::process::ExitStatus> {
    let (pty, pts) = pty_process::open().context("cannot open a pseudo-terminal")?;
    if let Some(size) = terminal_size() {
        // A failed resize leaves the default size: not worth failing the run for.
        let _ = pty.resize(size);
    }
    let mut child = pty_process::Command::new(program)
        .args(program_args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .spawn(pts)
        .map_err(|e| match e {
            pty_process::Error::Io(source) => anyhow::Error::new(ProgramNotStarted {
                program: program.to_owned(),
                source,
            }),
            other => anyhow::Error::new(other).context(format!("cannot start {program:?}")),
        })?;
    let _raw = RawMode::enable();
    let (reader, writer) = pty.into_split();

    let output = tokio::spawn(copy_redacted(reader, tokio::io::stdout(), redactor));
    let input = tokio::spawn(forward_keys(stdin_chunks(), writer));

    let status = wait_forwarding_signals(&mut child).await?;
    // The program is gone; its terminal reports the end of output once every copy of it closed.
    let copied = output.await.context("output copy stopped")?;
    input.abort();
    copied?;
    Ok(status)
}

/// Passes what is typed to the program's terminal (Ctrl-D once sealbox's stdin ends) and keeps
/// that terminal's size following sealbox's. Runs until aborted or a write fails.
async fn forward_keys(
    mut keys: mpsc::Receiver<Vec<u8>>,
    mut writer: pty_process::OwnedWritePty,
) -> std::io::Result<()> {
    let mut resized = signal(SignalKind::window_change())?;
    let mut typing = true;
    loop {
        tokio::select! {
            chunk = keys.recv(), if typing => match chunk {
                Some(bytes) => writer.write_all(&bytes).await?,
                None => {
                    typing = false;
                    writer.write_all(&[EOT]).await?;
                }
            },
            _ = resized.recv() => if let Some(size) = terminal_size() {
                // A failed resize keeps the old size: not worth ending the run for.
                let _ = writer.resize(size);
            },
        }
        writer.flush().await?;
    }
}

/// sealbox's stdin as chunks, read by a thread of its own: a read from a terminal cannot be
/// cancelled, and a thread blocked in one must not keep the runtime from shutting down.
fn stdin_chunks() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

fn terminal_size() -> Option<pty_process::Size> {
    let stdout = std::io::stdout();
    let size = termios::tcgetwinsize(stdout.as_fd()).ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then(|| pty_process::Size::new(size.ws_row, size.ws_col))
}

/// sealbox's stdin in raw mode while the program runs (when stdin is a terminal); restored on drop.
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enable() -> Self {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Self { saved: None };
        }
        let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else {
            return Self { saved: None };
        };
        let mut raw = saved.clone();
        raw.make_raw();
        if termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw).is_err() {
            return Self { saved: None };
        }
        Self { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, saved);
        }
    }
}
