//! `sealbox run -- CMD ARGS`: runs a program with the caller's environment injected, passes its
//! exit code and signals through, and masks secret values in what it prints.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::process::Stdio;

use anyhow::Context as _;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::signal::unix::{SignalKind, signal};

use crate::Ctx;
use crate::failure::ProgramNotStarted;
use crate::redact;

pub struct RunArgs {
    pub only: Option<Vec<String>>,
    pub preserve_env: bool,
    pub no_redact: bool,
    pub command: Vec<String>,
}

/// Runs the program; returns the exit code sealbox should exit with.
pub async fn run(ctx: &Ctx, args: RunArgs) -> anyhow::Result<i32> {
    let (program, program_args) = args.command.split_first().context("give the program to run after --")?;
    // With --only the server reads (and audits, and marks as used) just those secrets.
    let environment = match &args.only {
        Some(only) => ctx.client.environment_only(only).await?,
        None => ctx.client.environment().await?,
    };
    let variables = environment.variables;
    // Only secret values are masked, not an identity's own variables (a server that does not
    // say which are secrets gets all of them masked), whether or not --preserve-env kept the
    // inherited value.
    let secret_values: Vec<&str> = match &environment.secrets {
        Some(names) => names
            .iter()
            .filter_map(|name| variables.get(name))
            .map(String::as_str)
            .collect(),
        None => variables.values().map(String::as_str).collect(),
    };
    let injected: BTreeMap<&String, &String> = variables
        .iter()
        .filter(|(name, _)| !(args.preserve_env && std::env::var_os(name.as_str()).is_some()))
        .collect();
    let matcher = redact::matcher(secret_values);
    let redactor = || matcher.stream(redact::MASK);
    let status = if !args.no_redact && std::io::stdout().is_terminal() {
        // EXPOSE: handing the values to the program is what `run` is for.
        let env: Vec<(&String, &String)> = injected.into_iter().collect();
        crate::pty::run(program, program_args, &env, redactor()).await?
    } else {
        let mut command = tokio::process::Command::new(program);
        command.args(program_args);
        // EXPOSE: handing the values to the program is what `run` is for.
        command.envs(injected);
        if !args.no_redact {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = command.spawn().map_err(|source| ProgramNotStarted {
            program: program.clone(),
            source,
        })?;
        let copies = if args.no_redact {
            None
        } else {
            let stdout = child.stdout.take().context("no stdout pipe")?;
            let stderr = child.stderr.take().context("no stderr pipe")?;
            Some((
                tokio::spawn(copy_redacted(stdout, tokio::io::stdout(), redactor())),
                tokio::spawn(copy_redacted(stderr, tokio::io::stderr(), redactor())),
            ))
        };
        let status = wait_forwarding_signals(&mut child).await?;
        if let Some((out, err)) = copies {
            out.await??;
            err.await??;
        }
        status
    };
    Ok(exit_code(status))
}

/// Waits for the program, forwarding SIGINT, SIGTERM and SIGHUP sent to sealbox.
pub(crate) async fn wait_forwarding_signals(
    child: &mut tokio::process::Child,
) -> std::io::Result<std::process::ExitStatus> {
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        let forward = tokio::select! {
            status = child.wait() => return status,
            _ = interrupt.recv() => Signal::SIGINT,
            _ = terminate.recv() => Signal::SIGTERM,
            _ = hangup.recv() => Signal::SIGHUP,
        };
        if let Some(pid) = pid {
            let _ = kill(pid, forward);
        }
    }
}

/// Copies output through the redactor until the end. A pseudo-terminal reports its end as an
/// I/O error (EIO) once the program and everything holding its terminal are gone.
pub(crate) async fn copy_redacted(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut redactor: sealbox_redact::Stream,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        let out = redactor.push(&buf[..n]);
        to.write_all(&out).await?;
        to.flush().await?;
    }
    to.write_all(&redactor.finish()).await?;
    to.flush().await
}

/// The program's exit code, or 128 + the signal that ended it (as shells report it).
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1)
}
