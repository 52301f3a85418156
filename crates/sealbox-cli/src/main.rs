//! `sealbox`: the server and the command-line client in one binary.
//!
//! `sealbox server` wires up `sealbox-server`; every other command goes through `sealbox-client`.
//! The token comes from `SEALBOX_TOKEN`, else from what `sealbox login` stored for the server
//! (`credentials`), and secret values from stdin, a file or a hidden prompt only: flags and
//! arguments show up in process listings and shell history.

mod actions;
mod audit;
mod auth;
mod credentials;
mod dotenv;
mod environment;
mod failure;
mod identities;
mod input;
mod jwt;
mod members;
mod operator;
mod outfile;
mod output;
mod policies;
mod pty;
mod redact;
mod run;
mod secrets;
mod server;
mod server_config;
mod sso;
mod tokens;
mod trash;

use std::io::{self, IsTerminal, Write as _};
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use sealbox_client::Client;

const DEFAULT_ADDR: &str = "http://127.0.0.1:8270";

#[derive(Parser)]
#[command(
    name = "sealbox",
    version,
    about = "Sealbox, a self-hosted secrets manager",
    after_help = "Authentication: client commands send the token in SEALBOX_TOKEN, else the one \
                  `sealbox login` stored for the server (`sealbox status` says which). It is never \
                  taken as a flag."
)]
struct Cli {
    /// The server's address [default: SEALBOX_ADDR, else http://127.0.0.1:8270].
    // Not clap's `env`: clap counts a value from the environment as given, and then shows
    // `--addr <URL>` in every usage line as if it were required.
    #[arg(long, global = true, value_name = "URL")]
    addr: Option<String>,
    /// Machine output: the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// `server`'s flags make it the largest variant; a command is parsed once per run.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the server.
    Server(Box<server::ServerArgs>),
    /// Print a shell completion script, e.g. `sealbox completion bash > /etc/bash_completion.d/sealbox`.
    Completion {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Sign in with e-mail and password and keep the session token for this server.
    #[command(
        long_about = "Sign in with e-mail and password (from a hidden prompt, or stdin when it is \
        not a terminal). The session token is stored for this server (scheme, host and port) in \
        $XDG_CONFIG_HOME/sealbox/credentials.json, else ~/.config/sealbox/credentials.json (mode \
        0600), and later commands to the same server use it; SEALBOX_TOKEN, when set, wins over it. \
        --no-store prints an `export SEALBOX_TOKEN=...` line instead and stores nothing."
    )]
    Login(auth::LoginArgs),
    /// Revoke the session (SEALBOX_TOKEN, else the stored one) and forget the stored token.
    Logout,
    /// Show the server, whether it answers, who the token belongs to, where it came from and
    /// when it expires.
    Status,
    /// Show who the token (SEALBOX_TOKEN, else the stored one) belongs to.
    Whoami,
    /// Create, read, change and delete secrets.
    #[command(subcommand)]
    Secret(secrets::SecretCommand),
    /// Manage the people in the workspace.
    #[command(subcommand)]
    Member(members::MemberCommand),
    /// Manage your personal access tokens.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Create workspaces.
    #[command(subcommand)]
    Workspace(auth::WorkspaceCommand),
    /// Query and verify the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Back up, check and restore the whole database.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Manage identities: scripts, agents, builds and services, their variables and tokens.
    #[command(subcommand)]
    Identity(identities::IdentityCommand),
    /// Manage the policies that let identities read or use secrets.
    #[command(subcommand)]
    Policy(policies::PolicyCommand),
    /// Define and run actions: HTTP calls, e-mails and SQS messages the server sends with
    /// secrets, so the caller never sees the values.
    #[command(subcommand)]
    Action(actions::ActionCommand),
    /// Print the caller's environment: every secret it may read, with an identity's own
    /// variables laid over them.
    #[command(long_about = "Print the caller's environment: every secret the caller's token \
        may read, as NAME -> value (structured values as a JSON object string), with an identity's \
        own variables laid over them. Works with an identity token or a member token (a member gets \
        the masked secrets, each audited as a reveal).\n\n\
        The output is one `export KEY='value'` line per variable, single-quoted for a POSIX shell, \
        so `eval \"$(sealbox env)\"` exports them to the current shell and the programs it starts. \
        With --json: a JSON object of the variables.")]
    Env,
    /// Create or update text secrets from a .env file (values compared server-side).
    #[command(
        long_about = "Create or update text secrets from a .env file: KEY=value lines, `export ` \
        prefixes, # comments, single- and double-quoted (also multi-line) values. ${NAME} in a \
        double-quoted or unquoted value is the value of the key NAME defined earlier in the file (a \
        key defined again takes the later value). Invalid names, empty values and a ${...} naming no \
        earlier key (your environment is never read) are reported with their line numbers and then \
        nothing is written. --dry-run \
        shows what would be created, changed and left alone; the server compares the values, so none \
        is revealed. Restricted secrets are never compared (nobody may read them back): they are \
        reported as changed and replaced by the imported value as a new version. --tag tags the \
        secrets the import creates, so policies reach them; existing secrets keep their tags \
        (change those with `sealbox secret update --tag`). Every import, dry run included, is \
        audited as one secret.import event."
    )]
    Import {
        /// The .env file.
        file: std::path::PathBuf,
        /// Only show what would be created, changed and left alone.
        #[arg(long)]
        dry_run: bool,
        /// A tag for each secret the import creates, KEY=VALUE; repeat for more (existing secrets
        /// keep their tags).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// Write the secrets the caller may read as a .env file or JSON (members: masked secrets only,
    /// each audited as a reveal).
    #[command(
        long_about = "Write the secrets the caller may read (members: masked secrets only, each \
        audited as a reveal) to standard output. As a .env file (the default), each value is \
        quoted so that `set -a; . ./file` in sh or bash, `sealbox import` and python-dotenv all \
        read it back exactly and sourcing it runs nothing: KEY='value', or KEY=\"value\" when the \
        value holds a single quote or two backslashes in a row, or else a chain of lines \
        (KEY='...' holding the backticks, then KEY=\"...${KEY}...\" lines adding the rest). A \
        value that no chain can carry (a carriage return; a trailing backslash with a backtick or \
        `$name`; a single quote, `\\\\` or `${` between backticks with `$name` or a backtick ahead \
        of the last) is named in an error and nothing is written; --format json carries every \
        value. --json means --format json."
    )]
    Export {
        /// dotenv (the default) or json (also with --json).
        #[arg(long, value_enum)]
        format: Option<ExportFormat>,
    },
    /// Run a program with the caller's environment injected (exit code and signals pass through;
    /// secret values it prints are masked unless --no-redact).
    #[command(
        long_about = "Run CMD with the secrets the caller's token may read (and an identity's \
        own variables) added to the inherited environment; they override inherited variables unless \
        --preserve-env. The program's exit code becomes sealbox's; SIGINT, SIGTERM and SIGHUP are \
        forwarded. Any secret value of 4 or more characters that the program writes to stdout or \
        stderr appears as *****, also URL-encoded (as encodeURIComponent, Python's quote() or \
        quote_plus() write it), JSON- or HTML-escaped, in base64 (also inside longer base64 such as \
        `user:value`) and when split across writes; an identity's own variables are not secrets \
        and are not masked. --no-redact passes the output through untouched. --only A,B fetches \
        just those variables: the server reads, audits and marks as used only those secrets, and a \
        name the token has no variable for is an error.",
        trailing_var_arg = true
    )]
    Run {
        /// Inject only these variables (comma-separated names).
        #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
        only: Option<Vec<String>>,
        /// Keep inherited variables that have the same name as a secret.
        #[arg(long)]
        preserve_env: bool,
        /// Pass the program's output through without masking values.
        #[arg(long)]
        no_redact: bool,
        #[command(flatten)]
        jwt: jwt::JwtArgs,
        /// The program and its arguments, after `--`.
        #[arg(required = true, allow_hyphen_values = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Render a template's {secrets.NAME} and {secrets.NAME.field} references (to stdout or a
    /// file).
    #[command(
        long_about = "Render a template: {secrets.NAME} and {secrets.NAME.field} (fields of smtp and \
        aws_sqs secrets) become the values the caller's token may read; {{ and }} are literal \
        braces. A reference that does not exist or is not permitted is an error that lists every such \
        reference with its line, and then nothing is written.\n\n\
        The template is read from -i FILE, else from stdin; the result goes to -o PATH, else to stdout \
        (`-` means stdin or stdout). -o writes where the path leads and never replaces a link or a \
        special file: a regular file (or a new one) is written beside it with mode 0600 and renamed \
        over it; a symbolic link is written through (its target is created with mode 0600 if \
        missing); a device, pipe or /dev/stdout is written into."
    )]
    Inject {
        /// The template file (`-` or absent: stdin).
        #[arg(short = 'i', long = "input", value_name = "TEMPLATE")]
        input: Option<std::path::PathBuf>,
        /// Where to write the result (`-` or absent: stdout); a file is written with mode 0600.
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Dotenv,
    Json,
}

/// What every client command needs: a connected client, the server it talks to, where its
/// token came from, and the output mode.
pub struct Ctx {
    pub client: Client,
    pub server: credentials::ServerKey,
    pub token_source: credentials::TokenSource,
    pub json: bool,
}

/// A mistake in the command line that clap cannot see (exit code 2, like clap's own; see `failure`).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early with a [`UsageError`].
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::UsageError(format!($($arg)*))))
    };
}

/// The program run by `sealbox run` exited with this non-zero code; sealbox exits with it too.
#[derive(Debug)]
struct ChildExit(i32);

impl std::fmt::Display for ChildExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the program exited with code {}", self.0)
    }
}

impl std::error::Error for ChildExit {}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(ParseError::Config(e)) => {
            // The server did not start, like any other start-up failure (exit 1, `cli.error`).
            let failure = failure::Failure {
                exit: failure::EXIT_OTHER,
                code: "cli.error".to_owned(),
                message: e.to_string(),
                request_id: String::new(),
            };
            failure.print(json_requested());
            return ExitCode::from(failure.exit);
        }
        Err(ParseError::Clap(e)) if json_requested() && e.use_stderr() => {
            // clap's first line is the mistake; its usage lines are for people.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            failure::Failure::usage(first.trim_start_matches("error: ").to_owned()).print(true);
            return ExitCode::from(failure::EXIT_USAGE);
        }
        // Help and version (exit 0), and usage errors as clap prints them (exit 2).
        Err(ParseError::Clap(e)) => e.exit(),
    };
    let json = cli.json;
    let addr = server_address(cli.addr.as_deref());
    let mut token_source = credentials::TokenSource::None;
    match run(cli, &addr, &mut token_source).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(ChildExit(code)) = e.downcast_ref::<ChildExit>() {
                // `sealbox run`: the program already said what it had to say.
                return ExitCode::from(u8::try_from(*code).unwrap_or(1));
            }
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            {
                // The reader went away (`sealbox secret list | head -1`): nothing left to say.
                return ExitCode::SUCCESS;
            }
            let failure = failure::classify(&e, &addr, &token_source);
            failure.print(json);
            ExitCode::from(failure.exit)
        }
    }
}

/// The command line, parsed, with the server's defaults from its config file (`server_config`).
fn parse() -> Result<Cli, ParseError> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cmd = server_config::apply(command(), "server", &args).map_err(ParseError::Config)?;
    let matches = cmd.try_get_matches_from_mut(args).map_err(ParseError::Clap)?;
    Cli::from_arg_matches(&matches).map_err(|e| ParseError::Clap(e.format(&mut cmd)))
}

/// Why the command line could not be parsed.
enum ParseError {
    Clap(clap::Error),
    Config(server_config::ConfigError),
}

/// The whole command. `sealbox server` is not a client: its help leaves out the client's global
/// options (they are still accepted, and ignored), and it takes `--config`.
fn command() -> clap::Command {
    // A subcommand that has its own argument of a global's id does not get the global.
    Cli::command().mut_subcommands(|sub| {
        if sub.get_name() != "server" {
            return sub;
        }
        sub.arg(server_config::arg())
            .arg(clap::Arg::new("addr").long("addr").hide(true))
            .arg(
                clap::Arg::new("json")
                    .long("json")
                    .action(clap::ArgAction::SetTrue)
                    .hide(true),
            )
    })
}

/// `--addr`, else `SEALBOX_ADDR` (when not empty), else the default.
fn server_address(flag: Option<&str>) -> String {
    flag.map(str::to_owned)
        .or_else(|| std::env::var("SEALBOX_ADDR").ok().filter(|a| !a.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
}

/// `--json` among the arguments (before a `--`), for reporting a command line clap refused.
fn json_requested() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// Runs the command; `token_source` is set as soon as the token is known, for the failure report.
async fn run(cli: Cli, addr: &str, token_source: &mut credentials::TokenSource) -> anyhow::Result<()> {
    match cli.command {
        Command::Server(args) => return server::run(*args).await,
        Command::Completion { shell } => {
            // Into memory first: clap_complete panics when a write fails (`... | head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "sealbox", &mut script);
            return Ok(io::stdout().write_all(&script)?);
        }
        _ => {}
    }
    // The address is checked (with its own error) before it is used to find a stored token.
    let client = Client::new(addr, None)?;
    let server = credentials::ServerKey::of(addr)?;
    let (token, source) = credentials::resolve_token(&server)?;
    let client = client.with_token(token)?;
    let ctx = Ctx {
        client,
        server,
        token_source: source,
        json: cli.json,
    };
    let result = run_client(&ctx, cli.command).await;
    *token_source = ctx.token_source;
    result
}

async fn run_client(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server(_) | Command::Completion { .. } => Ok(()),
        Command::Login(args) => auth::login(ctx, args).await,
        Command::Logout => auth::logout(ctx).await,
        Command::Status => auth::status(ctx).await,
        Command::Whoami => auth::whoami(ctx).await,
        Command::Secret(cmd) => secrets::run(ctx, cmd).await,
        Command::Member(cmd) => members::member(ctx, cmd).await,
        Command::Token(cmd) => tokens::token(ctx, cmd).await,
        Command::Workspace(cmd) => auth::workspace(ctx, cmd).await,
        Command::Audit(cmd) => audit::run(ctx, cmd).await,
        Command::Operator(cmd) => operator::run(ctx, cmd).await,
        Command::Identity(cmd) => identities::identity(ctx, cmd).await,
        Command::Policy(cmd) => policies::policy(ctx, cmd).await,
        Command::Action(cmd) => actions::run(ctx, cmd).await,
        Command::Env => environment::env(ctx).await,
        Command::Run {
            only,
            preserve_env,
            no_redact,
            jwt,
            command,
        } => {
            // With a JWT, the exchanged token is the one used.
            let exchanged;
            let ctx = match &jwt.jwt_file {
                Some(path) => {
                    let token =
                        jwt::exchange(&ctx.client, path, jwt.identity.as_deref(), jwt.workspace.as_deref()).await?;
                    exchanged = Ctx {
                        client: ctx.client.with_token(Some(secrecy::SecretString::from(token.token)))?,
                        server: ctx.server.clone(),
                        token_source: credentials::TokenSource::None,
                        json: ctx.json,
                    };
                    &exchanged
                }
                None => ctx,
            };
            let code = run::run(
                ctx,
                run::RunArgs {
                    only,
                    preserve_env,
                    no_redact,
                    command,
                },
            )
            .await?;
            if code == 0 { Ok(()) } else { Err(ChildExit(code).into()) }
        }
        Command::Inject { input, output } => environment::inject(ctx, input.as_deref(), output.as_deref()).await,
        Command::Import { file, dry_run, tags } => environment::import(ctx, &file, dry_run, &tags).await,
        Command::Export { format } => environment::export(ctx, format).await,
    }
}

/// True when stdin is a terminal (so a hidden prompt is possible) rather than a pipe or file.
pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}
