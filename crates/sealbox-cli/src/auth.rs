//! Signing in and out (the session kept per server by `credentials`), `status`, `whoami`, and
//! new workspaces.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use sealbox_client::ClientError;
use sealbox_types::{
    CreateMembers, CreateWorkspaceRequest, LoginRequest, LoginResponse, Role, UpdateSsoSettingsRequest, WhoAmI,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::credentials::{CredentialStore, StoredSession, TokenSource};
use crate::input;
use crate::output::{self, outln};
use crate::sso;
use crate::{Ctx, stdin_is_terminal};

#[derive(Args)]
pub struct LoginArgs {
    /// Sign in with this e-mail and a password.
    #[arg(long, conflicts_with = "sso")]
    email: Option<String>,
    /// Instead of a password: exchange this platform JWT (a file; `-` for stdin) for a
    /// short-lived token of --identity, kept like a session (--email and --sso go first).
    #[arg(long, env = "SEALBOX_JWT_FILE", value_name = "PATH")]
    jwt_file: Option<std::path::PathBuf>,
    /// With --jwt-file: the identity whose trust takes the JWT.
    #[arg(long, env = "SEALBOX_IDENTITY", value_name = "NAME")]
    identity: Option<String>,
    /// Sign in with single sign-on in a browser: waits on a loopback address (127.0.0.1, a free
    /// port) for the browser to come back, as RFC 8252 describes.
    #[arg(long)]
    sso: bool,
    /// With --sso: only print the address to open (on another machine's browser, say), do not
    /// try to open a browser here. The browser must reach this machine's 127.0.0.1 to finish.
    #[arg(long, requires = "sso")]
    no_browser: bool,
    /// The workspace to sign in to (the server's `default` when absent).
    #[arg(long, env = "SEALBOX_WORKSPACE")]
    workspace: Option<String>,
    /// Print an `export SEALBOX_TOKEN=...` line (with --json: the API's answer, token included)
    /// instead of storing the token.
    #[arg(long)]
    no_store: bool,
}

#[derive(Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace with you as its owner; prints a token for it once.
    Create { name: String },
    /// Show or change the workspace's settings: the default and maximum lifetime of personal
    /// access tokens and identity tokens (exchanged ones included).
    #[command(long_about = "Show the workspace's settings, or change them (owners and admins): \
        --default-token-ttl is the lifetime of a personal access token or identity token created \
        without --ttl; --max-token-ttl the longest lifetime one may be given: asking for more, or \
        for no expiry, is then refused, and a JWT exchange gives at most that. Lifetimes such as \
        90d, 12h or 1y (60s to 10y), or `none` to remove one. Tokens that exist keep their expiry.")]
    Settings {
        /// The longest lifetime a token may be given, e.g. 90d, or `none`.
        #[arg(long, value_name = "TTL|none")]
        max_token_ttl: Option<String>,
        /// The lifetime of a token created without --ttl, e.g. 30d, or `none`.
        #[arg(long, value_name = "TTL|none")]
        default_token_ttl: Option<String>,
    },
    /// Show or change the workspace's single sign-on rules (owners and admins; only owners turn
    /// password sign-in on or off). Without options, shows them.
    Sso(SsoArgs),
}

/// `--max-token-ttl` / `--default-token-ttl`: a lifetime, or `none` (removed).
fn setting_ttl(flag: &str, raw: Option<String>) -> anyhow::Result<Option<Option<u64>>> {
    match raw.as_deref() {
        None => Ok(None),
        Some("none") => Ok(Some(None)),
        Some(ttl) => Ok(Some(Some(input::parse_ttl_flag(flag, ttl)?))),
    }
}

/// A lifetime in seconds as `90d`, `12h`, `15m` or `Ns`.
fn human_ttl(seconds: u64) -> String {
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `sealbox login --jwt-file`: the exchanged token kept like a session.
async fn login_with_jwt(ctx: &Ctx, args: LoginArgs, path: &std::path::Path) -> anyhow::Result<()> {
    let store = if args.no_store {
        None
    } else {
        Some(CredentialStore::locate_or_explain()?)
    };
    let exchanged =
        crate::jwt::exchange(&ctx.client, path, args.identity.as_deref(), args.workspace.as_deref()).await?;
    let label = format!("identity:{}", exchanged.identity);
    let Some(store) = store else {
        if ctx.json {
            return output::json(&exchanged);
        }
        eprintln!(
            "exchanged the JWT for a token of identity {} in workspace {}; it expires at {}",
            exchanged.identity, exchanged.workspace, exchanged.expires_at
        );
        outln!("export SEALBOX_TOKEN={}", exchanged.token);
        return Ok(());
    };
    let stored = StoredSession {
        token: SecretString::from(exchanged.token),
        email: label,
        workspace: exchanged.workspace.clone(),
        expires_at: exchanged.expires_at.clone(),
    };
    store.put(&ctx.server, &stored)?;
    let file = store.file();
    if ctx.json {
        return output::json(&json!({
            "server": ctx.server.as_str(),
            "identity": exchanged.identity,
            "workspace": exchanged.workspace,
            "expires_at": exchanged.expires_at,
            "stored_in": file,
        }));
    }
    outln!(
        "signed in to {} as identity {} in workspace {} (from the JWT); the token expires at {}",
        ctx.server.as_str(),
        exchanged.identity,
        exchanged.workspace,
        exchanged.expires_at
    );
    outln!("the token is stored in {} for this server", file.display());
    if matches!(ctx.token_source, TokenSource::Env) {
        eprintln!("note: SEALBOX_TOKEN is set and wins over the stored token; unset it to use this session");
    }
    Ok(())
}

#[derive(Args)]
pub struct SsoArgs {
    /// Whether members may sign in with a password (`off` once single sign-on works; owners keep
    /// a break-glass path, see README "Single sign-on").
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    password_sign_in: Option<String>,
    /// What a verified e-mail that is not a member becomes at its first single sign-on.
    #[arg(long, value_name = "off|editor|admin", value_parser = ["off", "editor", "admin"])]
    create_members: Option<String>,
    /// Give members in GROUP (a value of the provider's groups claim) ROLE (owner, admin or
    /// editor) at each single sign-on; repeat for several. Replaces the whole mapping.
    #[arg(long, value_name = "GROUP=ROLE", conflicts_with = "no_group_roles")]
    group_role: Vec<String>,
    /// Remove the whole group mapping.
    #[arg(long)]
    no_group_roles: bool,
}

pub async fn login(ctx: &Ctx, mut args: LoginArgs) -> anyhow::Result<()> {
    if args.email.is_none() && !args.sso {
        match args.jwt_file.take() {
            Some(path) => return login_with_jwt(ctx, args, &path).await,
            None => crate::usage!(
                "give --email (sign in with a password), --sso (single sign-on) or --jwt-file PATH --identity NAME \
                 (exchange a platform's JWT)"
            ),
        }
    }
    // Found before signing in, so a session is not made only to be lost.
    let store = if args.no_store {
        None
    } else {
        Some(CredentialStore::locate_or_explain()?)
    };
    let (session, email) = match &args.email {
        Some(email) => (
            password_session(ctx, email, args.workspace.clone()).await?,
            email.clone(),
        ),
        None => sso::session(ctx, args.workspace.as_deref(), !args.no_browser).await?,
    };
    let Some(store) = store else {
        if ctx.json {
            return output::json(&session);
        }
        eprintln!(
            "signed in to workspace {} as {} ({}); the session expires at {}",
            session.workspace,
            email,
            session.role.as_str(),
            session.expires_at
        );
        eprintln!("use it by running the line below (or: eval \"$(sealbox login --no-store --email ...)\")");
        outln!("export SEALBOX_TOKEN={}", session.token);
        return Ok(());
    };
    let stored = StoredSession {
        token: SecretString::from(session.token),
        email: email.clone(),
        workspace: session.workspace.clone(),
        expires_at: session.expires_at.clone(),
    };
    if let Err(e) = store.put(&ctx.server, &stored) {
        // Not kept: the session is revoked rather than left valid with nobody holding it.
        if let Ok(client) = ctx.client.with_token(Some(stored.token)) {
            let _ = client.logout().await;
        }
        return Err(e.context("signed in, but could not keep the token (the session is revoked again)"));
    }
    let file = store.file();
    if ctx.json {
        return output::json(&json!({
            "server": ctx.server.as_str(),
            "email": email,
            "workspace": session.workspace,
            "role": session.role,
            "expires_at": session.expires_at,
            "stored_in": file,
        }));
    }
    outln!(
        "signed in to {} as {} ({}) in workspace {}; the session expires at {}",
        ctx.server.as_str(),
        email,
        session.role.as_str(),
        session.workspace,
        session.expires_at
    );
    outln!("the token is stored in {} for this server", file.display());
    if matches!(ctx.token_source, TokenSource::Env) {
        eprintln!("note: SEALBOX_TOKEN is set and wins over the stored token; unset it to use this session");
    }
    Ok(())
}

/// A session for a password read from the terminal (hidden) or standard input.
async fn password_session(ctx: &Ctx, email: &str, workspace: Option<String>) -> anyhow::Result<LoginResponse> {
    let password = if stdin_is_terminal() {
        let typed = rpassword::prompt_password(format!("password for {email}: "))
            .context("cannot read the password from the terminal")?;
        SecretString::from(typed)
    } else {
        input::strip_newline(input::read_stdin().context("cannot read the password from stdin")?)
    };
    let body = LoginRequest {
        email: email.to_owned(),
        // EXPOSE: the password goes into the login request body only.
        password: password.expose_secret().to_owned(),
        workspace,
    };
    Ok(ctx.client.login(&body).await?)
}

/// Revokes the session on the server (when it answers) and forgets the stored token. With
/// SEALBOX_TOKEN set, that token is the one revoked and the stored one is left alone.
pub async fn logout(ctx: &Ctx) -> anyhow::Result<()> {
    let server = ctx.server.as_str();
    match &ctx.token_source {
        TokenSource::None => {
            if ctx.json {
                return output::json(&json!({ "signed_out": false, "server": server }));
            }
            outln!("not signed in to {server}: nothing to do");
            Ok(())
        }
        TokenSource::Env => {
            ctx.client.logout().await?;
            if ctx.json {
                return output::json(&json!({ "signed_out": true, "revoked": true, "server": server }));
            }
            outln!("signed out: the token in SEALBOX_TOKEN is revoked");
            Ok(())
        }
        TokenSource::Stored { .. } => {
            // A token the server no longer takes is as good as revoked; an unreachable server
            // leaves it valid until it expires, which is said, and it is forgotten here anyway.
            let revoked = match ctx.client.logout().await {
                Ok(()) => Ok(()),
                Err(ClientError::Api { status: 401, .. }) => Ok(()),
                Err(e @ ClientError::Transport(_)) => Err(e),
                Err(e) => return Err(e.into()),
            };
            let store = CredentialStore::locate_or_explain()?;
            store.remove(&ctx.server)?;
            if ctx.json {
                return output::json(&json!({ "signed_out": true, "revoked": revoked.is_ok(), "server": server }));
            }
            match revoked {
                Ok(()) => outln!("signed out of {server}: the session is revoked and the stored token removed"),
                Err(_) => {
                    outln!("the stored token for {server} is removed");
                    eprintln!(
                        "warning: the server did not answer, so the session was not revoked; it stays \
                         valid until it expires"
                    );
                }
            }
            Ok(())
        }
    }
}

/// The server, whether it answers, who the token belongs to, where the token came from and when
/// it expires. Fails like any command (exit code and one error line) when the server does not
/// answer or takes no token, after saying what it knows.
pub async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let health = ctx.client.health().await;
    // Asked without a token too: the server's answer is then the usual "not signed in".
    let me: Option<Result<WhoAmI, ClientError>> = match &health {
        Ok(_) => Some(ctx.client.whoami().await),
        Err(_) => None,
    };
    let who = me.as_ref().and_then(|m| m.as_ref().ok());
    let expires_at = match &ctx.token_source {
        TokenSource::Stored { expires_at, .. } => Some(expires_at.as_str()),
        _ => None,
    };
    if ctx.json {
        output::json(&json!({
            "server": ctx.server.as_str(),
            "answers": health.is_ok(),
            "version": health.as_ref().ok().map(|h| h.version.as_str()),
            "token_source": ctx.token_source.as_str(),
            "stored_in": match &ctx.token_source {
                TokenSource::Stored { file, .. } => Some(file),
                _ => None,
            },
            "user": who.map(|w| w.name.as_str()),
            "kind": who.map(|w| w.kind.as_str()),
            "role": who.and_then(|w| w.role),
            "workspace": who.map(|w| w.workspace.as_str()),
            "expires_at": expires_at,
        }))?;
    } else {
        let answers = match &health {
            Ok(h) => format!("answers (sealbox {})", h.version),
            Err(_) => "does not answer".to_owned(),
        };
        let mut rows = vec![("server", format!("{} {answers}", ctx.server.as_str()))];
        let token = match &ctx.token_source {
            TokenSource::Env => "from SEALBOX_TOKEN".to_owned(),
            TokenSource::Stored { file, .. } => format!("stored by `sealbox login` in {}", file.display()),
            TokenSource::None => "none (sign in with `sealbox login --email ...`)".to_owned(),
        };
        if let Some(w) = who {
            let role = w.role.map(|r| format!(", {}", r.as_str())).unwrap_or_default();
            rows.push(("user", format!("{} ({}{role})", w.name, w.kind)));
            rows.push(("workspace", w.workspace.clone()));
        }
        rows.push(("token", token));
        match (&ctx.token_source, expires_at) {
            (_, Some(at)) => rows.push(("expires", at.to_owned())),
            (TokenSource::Env, None) => rows.push((
                "expires",
                "not known (the server does not say for SEALBOX_TOKEN)".to_owned(),
            )),
            _ => {}
        }
        output::fields(&rows)?;
    }
    health?;
    if let Some(result) = me {
        result?;
    }
    Ok(())
}

pub async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let me = ctx.client.whoami().await?;
    if ctx.json {
        return output::json(&me);
    }
    let role = me.role.map(|r| format!(", {}", r.as_str())).unwrap_or_default();
    outln!("{} ({}{role}) in workspace {}", me.name, me.kind, me.workspace);
    Ok(())
}

pub async fn workspace(ctx: &Ctx, cmd: WorkspaceCommand) -> anyhow::Result<()> {
    match cmd {
        WorkspaceCommand::Settings {
            max_token_ttl,
            default_token_ttl,
        } => {
            let body = sealbox_types::UpdateWorkspaceSettingsRequest {
                max_token_ttl_seconds: setting_ttl("--max-token-ttl", max_token_ttl)?,
                default_token_ttl_seconds: setting_ttl("--default-token-ttl", default_token_ttl)?,
            };
            let settings = if body.max_token_ttl_seconds.is_none() && body.default_token_ttl_seconds.is_none() {
                ctx.client.workspace_settings().await?
            } else {
                ctx.client.update_workspace_settings(&body).await?
            };
            if ctx.json {
                return output::json(&settings);
            }
            let shown = |s: Option<u64>, none: &str| s.map_or_else(|| none.to_owned(), human_ttl);
            output::fields(&[
                ("workspace", settings.workspace.clone()),
                (
                    "default token ttl",
                    shown(
                        settings.default_token_ttl_seconds,
                        "none (tokens never expire unless given --ttl)",
                    ),
                ),
                (
                    "max token ttl",
                    shown(settings.max_token_ttl_seconds, "none (any lifetime, or no expiry)"),
                ),
                (
                    "updated",
                    match (&settings.updated_at, &settings.updated_by) {
                        (Some(at), Some(by)) => format!("{at} by {by}"),
                        _ => "never".to_owned(),
                    },
                ),
            ])?;
            Ok(())
        }
        WorkspaceCommand::Create { name } => {
            let created = ctx.client.create_workspace(&CreateWorkspaceRequest { name }).await?;
            if ctx.json {
                return output::json(&created);
            }
            eprintln!(
                "created workspace {} with you as its owner; a token for it, shown this once:",
                created.workspace
            );
            outln!("export SEALBOX_TOKEN={}", created.token);
            Ok(())
        }
        WorkspaceCommand::Sso(args) => workspace_sso(ctx, args).await,
    }
}

async fn workspace_sso(ctx: &Ctx, args: SsoArgs) -> anyhow::Result<()> {
    let mut group_roles = std::collections::BTreeMap::new();
    for pair in &args.group_role {
        let Some((group, role)) = pair.rsplit_once('=') else {
            crate::usage!("--group-role {pair:?}: expected GROUP=ROLE, e.g. platform-admins=admin");
        };
        let Some(role) = Role::parse(role.trim()) else {
            crate::usage!("--group-role {pair:?}: the role must be owner, admin or editor");
        };
        group_roles.insert(group.trim().to_owned(), role);
    }
    let update = UpdateSsoSettingsRequest {
        password_sign_in: args.password_sign_in.as_deref().map(|v| v == "on"),
        create_members: args.create_members.as_deref().map(|v| match v {
            "editor" => CreateMembers::Editor,
            "admin" => CreateMembers::Admin,
            _ => CreateMembers::Off,
        }),
        group_roles: (args.no_group_roles || !group_roles.is_empty()).then_some(group_roles),
    };
    let changes = update.password_sign_in.is_some() || update.create_members.is_some() || update.group_roles.is_some();
    let settings = if changes {
        ctx.client.update_sso_settings(&update).await?
    } else {
        ctx.client.sso_settings().await?
    };
    if ctx.json {
        return output::json(&settings);
    }
    let on_off = |b: bool| if b { "on" } else { "off" };
    let groups = if settings.group_roles.is_empty() {
        "none".to_owned()
    } else {
        settings
            .group_roles
            .iter()
            .map(|(g, r)| format!("{g}={}", r.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    output::fields(&[
        (
            "single sign-on",
            if settings.sso_configured {
                "configured on this server"
            } else {
                "not configured on this server"
            }
            .to_owned(),
        ),
        ("password sign-in", on_off(settings.password_sign_in).to_owned()),
        ("create members", settings.create_members.as_str().to_owned()),
        ("group roles", groups),
    ])?;
    Ok(())
}
