//! Signing in and out, `whoami`, and new workspaces.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use sealbox_types::{CreateWorkspaceRequest, LoginRequest};
use secrecy::{ExposeSecret, SecretString};

use crate::input;
use crate::output::{self, outln};
use crate::{Ctx, stdin_is_terminal};

#[derive(Args)]
pub struct LoginArgs {
    #[arg(long)]
    email: String,
    /// The workspace to sign in to (the server's `default` when absent).
    #[arg(long, env = "SEALBOX_WORKSPACE")]
    workspace: Option<String>,
}

#[derive(Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace with you as its owner; prints a token for it once.
    Create { name: String },
}

pub async fn login(ctx: &Ctx, args: LoginArgs) -> anyhow::Result<()> {
    let password = if stdin_is_terminal() {
        let typed = rpassword::prompt_password(format!("password for {}: ", args.email))
            .context("cannot read the password from the terminal")?;
        SecretString::from(typed)
    } else {
        input::strip_newline(input::read_stdin().context("cannot read the password from stdin")?)
    };
    let body = LoginRequest {
        email: args.email.clone(),
        // EXPOSE: the password goes into the login request body only.
        password: password.expose_secret().to_owned(),
        workspace: args.workspace,
    };
    let session = ctx.client.login(&body).await?;
    if ctx.json {
        return output::json(&session);
    }
    eprintln!(
        "signed in to workspace {} as {} ({}); the session expires at {}",
        session.workspace,
        args.email,
        session.role.as_str(),
        session.expires_at
    );
    eprintln!("use it by running the line below (or: eval \"$(sealbox login --email ...)\")");
    outln!("export SEALBOX_TOKEN={}", session.token);
    Ok(())
}

pub async fn logout(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.client.logout().await?;
    if ctx.json {
        return output::json(&serde_json::json!({ "signed_out": true }));
    }
    outln!("signed out: the token is revoked");
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
    }
}
