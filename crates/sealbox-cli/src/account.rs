//! Sign-in, members, personal access tokens and workspaces.

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use sealbox_types::{AddMemberRequest, CreateTokenRequest, CreateWorkspaceRequest, LoginRequest, Role};
use secrecy::{ExposeSecret, SecretString};

use crate::input;
use crate::output::{self, Table, outln};
use crate::{Ctx, stdin_is_terminal};

#[derive(Args)]
pub struct LoginArgs {
    #[arg(long)]
    email: String,
    /// The workspace to sign in to (the server's `default` when absent).
    #[arg(long, env = "SEALBOX_WORKSPACE")]
    workspace: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Owner,
    Admin,
    Editor,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Owner => Role::Owner,
            RoleArg::Admin => Role::Admin,
            RoleArg::Editor => Role::Editor,
        }
    }
}

#[derive(Subcommand)]
pub enum MemberCommand {
    /// Add a person; prints the generated password once.
    Add {
        email: String,
        #[arg(long)]
        role: RoleArg,
    },
    /// List the workspace's members.
    List,
    /// Remove a person from the workspace.
    Remove { email: String },
    /// Change a member's role.
    SetRole { email: String, role: RoleArg },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a personal access token; prints it once.
    Create {
        name: String,
        /// Lifetime such as 1y, 30d, 12h, 15m or 3600s (60s to 10y); no expiry when absent.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// List your personal access tokens.
    List,
    /// Revoke one of your tokens by its id, or by the token itself (e.g. one that leaked).
    #[command(
        long_about = "Revoke one of your tokens; it stops working on the next request. Give its id (the \
        ID column of `sealbox token list`) or the token itself, sbx_... (or `-` to read it from stdin), \
        e.g. one that leaked: it is sent in the request body, never in a URL. A token that is not a \
        live token of yours is \"not found\", whoever's it is."
    )]
    Revoke {
        #[arg(value_name = "ID|TOKEN")]
        token: String,
    },
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

pub async fn member(ctx: &Ctx, cmd: MemberCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        MemberCommand::Add { email, role } => {
            let body = AddMemberRequest {
                email,
                role: role.into(),
                password: None,
            };
            let added = client.add_member(&body).await?;
            if ctx.json {
                return output::json(&added);
            }
            let m = &added.member;
            match &added.password {
                Some(password) => {
                    eprintln!(
                        "added {} as {}; their password, shown this once:",
                        m.email,
                        m.role.as_str()
                    );
                    outln!("{password}");
                }
                None => outln!("added {} as {}", m.email, m.role.as_str()),
            }
            Ok(())
        }
        MemberCommand::List => {
            let list = client.list_members().await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["EMAIL", "ROLE", "ADDED"]);
            for m in &list.members {
                table.row(vec![m.email.clone(), m.role.as_str().into(), m.created_at.clone()]);
            }
            Ok(table.print("no members")?)
        }
        MemberCommand::Remove { email } => {
            client.remove_member(&email).await?;
            if ctx.json {
                return output::json(&serde_json::json!({ "removed": email }));
            }
            outln!("removed {email}");
            Ok(())
        }
        MemberCommand::SetRole { email, role } => {
            let m = client.set_member_role(&email, role.into()).await?;
            if ctx.json {
                return output::json(&m);
            }
            outln!("{} is now {}", m.email, m.role.as_str());
            Ok(())
        }
    }
}

pub async fn token(ctx: &Ctx, cmd: TokenCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        TokenCommand::Create { name, ttl } => {
            let expires_in_seconds = ttl.as_deref().map(input::parse_ttl).transpose()?;
            let created = client
                .create_token(&CreateTokenRequest {
                    name,
                    expires_in_seconds,
                })
                .await?;
            if ctx.json {
                return output::json(&created);
            }
            let info = &created.info;
            eprintln!(
                "created token {} (id {}, expires {}); shown this once:",
                info.name,
                info.id,
                info.expires_at.as_deref().unwrap_or("never")
            );
            outln!("{}", created.token);
            Ok(())
        }
        TokenCommand::List => {
            let list = client.list_tokens().await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["ID", "NAME", "STARTS WITH", "CREATED", "EXPIRES", "LAST USED"]);
            for t in &list.tokens {
                table.row(vec![
                    t.id.clone(),
                    t.name.clone(),
                    shown_prefix(t),
                    t.created_at.clone(),
                    t.expires_at.clone().unwrap_or_else(|| "never".into()),
                    t.last_used_at.clone().unwrap_or_else(|| "never".into()),
                ]);
            }
            Ok(table.print("no tokens")?)
        }
        TokenCommand::Revoke { token } => {
            let revoked = match input::parse_token_ref(&token)? {
                input::TokenRef::Id(id) => {
                    client.revoke_token(&id).await?;
                    id
                }
                input::TokenRef::Value(token) => {
                    client.revoke_token_by_value(&token).await?;
                    input::token_label(&token)
                }
            };
            if ctx.json {
                return output::json(&serde_json::json!({ "revoked": revoked }));
            }
            outln!("revoked token {revoked}");
            Ok(())
        }
    }
}

/// `sbx_` and the token's stored first characters, or `-` for a token made before they were kept.
pub fn shown_prefix(t: &sealbox_types::TokenInfo) -> String {
    t.prefix
        .as_deref()
        .map_or_else(|| "-".to_owned(), |p| format!("sbx_{p}..."))
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
