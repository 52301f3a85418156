//! `sealbox identity ...`: identities, their variables and tokens.

use std::collections::BTreeMap;

use clap::Subcommand;
use sealbox_types::{CreateIdentityRequest, CreateTokenRequest, IdentityInfo, UpdateIdentityRequest};

use crate::environment::shell_quote;
use crate::output::{self, Table, outln};
use crate::{Ctx, input};

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Create an identity: a script, agent, build or service that gets secrets through policies.
    Create {
        name: String,
        /// A tag, KEY=VALUE (policies choose identities by tags); repeat for more.
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// List the workspace's identities.
    List,
    /// Show an identity: its tags, variables and creation.
    Get { name: String },
    /// Replace an identity's tags.
    Update {
        name: String,
        /// Replaces all tags: KEY=VALUE; repeat for more.
        #[arg(long = "tag", value_name = "KEY=VALUE", required_unless_present = "clear_tags")]
        tags: Vec<String>,
        /// Remove every tag.
        #[arg(long, conflicts_with = "tags")]
        clear_tags: bool,
    },
    /// Delete an identity with its variables and tokens (which stop working at once).
    Delete { name: String },
    /// The identity's own environment variables (not secret; laid over its secrets).
    #[command(subcommand)]
    Env(IdentityEnvCommand),
    /// The identity's tokens.
    #[command(subcommand)]
    Token(IdentityTokenCommand),
}

#[derive(Subcommand)]
pub enum IdentityEnvCommand {
    /// Set a variable. These are not secrets (they are shown by `identity get`): keep secret
    /// values in secrets, which policies hand out.
    Set {
        /// The identity.
        name: String,
        /// KEY=VALUE; the key follows the secret-name rule, the value may be empty.
        #[arg(value_name = "KEY=VALUE")]
        assignment: String,
    },
    /// Remove a variable.
    Unset {
        /// The identity.
        name: String,
        key: String,
    },
    /// List the identity's variables.
    List {
        /// The identity.
        name: String,
    },
}

#[derive(Subcommand)]
pub enum IdentityTokenCommand {
    /// Create a token for the identity; prints it once.
    Create {
        /// The identity.
        #[arg(value_name = "NAME")]
        identity: String,
        /// The token's own name.
        #[arg(long = "name", value_name = "TOKEN_NAME", default_value = "default")]
        token_name: String,
        /// Lifetime such as 1y, 30d, 12h, 15m or 3600s (60s to 10y); no expiry when absent.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// List the identity's tokens.
    List {
        /// The identity.
        #[arg(value_name = "NAME")]
        identity: String,
    },
    /// Revoke one of the identity's tokens by its id, or by the token itself (e.g. one that
    /// leaked); it stops working at once.
    #[command(
        long_about = "Revoke one of the identity's tokens; it stops working on the next request. Give \
        its id (the ID column of `sealbox identity token list NAME`) or the token itself, sbx_... (or \
        `-` to read it from stdin), e.g. one that leaked: it is sent in the request body, never in a \
        URL. A token that is not a live token of this identity is \"not found\", whoever's it is."
    )]
    Revoke {
        /// The identity.
        #[arg(value_name = "NAME")]
        identity: String,
        #[arg(value_name = "ID|TOKEN")]
        token: String,
    },
}

pub async fn identity(ctx: &Ctx, cmd: IdentityCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        IdentityCommand::Create { name, tags } => {
            let tags = input::parse_tags(&tags)?;
            let created = client.create_identity(&CreateIdentityRequest { name, tags }).await?;
            if ctx.json {
                return output::json(&created);
            }
            outln!(
                "created identity {} (tags: {}); `sealbox identity token create {}` gives it a token",
                created.name,
                output::tags(&created.tags),
                created.name
            );
            Ok(())
        }
        IdentityCommand::List => {
            let list = client.list_identities().await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["NAME", "CREATED", "VARIABLES", "TAGS"]);
            for i in &list.identities {
                table.row(vec![
                    i.name.clone(),
                    i.created_at.clone(),
                    keys(&i.env),
                    output::tags(&i.tags),
                ]);
            }
            Ok(table.print("no identities")?)
        }
        IdentityCommand::Get { name } => {
            let i = client.get_identity(&name).await?;
            if ctx.json {
                return output::json(&i);
            }
            details(&i)
        }
        IdentityCommand::Update { name, tags, clear_tags } => {
            let tags = if clear_tags {
                BTreeMap::new()
            } else {
                input::parse_tags(&tags)?
            };
            let i = client.update_identity(&name, &UpdateIdentityRequest { tags }).await?;
            if ctx.json {
                return output::json(&i);
            }
            outln!("updated identity {}: tags {}", i.name, output::tags(&i.tags));
            Ok(())
        }
        IdentityCommand::Delete { name } => {
            client.delete_identity(&name).await?;
            if ctx.json {
                return output::json(&serde_json::json!({ "deleted": name }));
            }
            outln!("deleted identity {name} with its variables and tokens");
            Ok(())
        }
        IdentityCommand::Env(cmd) => identity_env(ctx, cmd).await,
        IdentityCommand::Token(cmd) => identity_token(ctx, cmd).await,
    }
}

async fn identity_env(ctx: &Ctx, cmd: IdentityEnvCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        IdentityEnvCommand::Set { name, assignment } => {
            let (key, value) = input::parse_assignment(&assignment)?;
            let i = client.set_identity_env(&name, &key, &value).await?;
            if ctx.json {
                return output::json(&i);
            }
            outln!("set {key} for identity {}", i.name);
            Ok(())
        }
        IdentityEnvCommand::Unset { name, key } => {
            let i = client.unset_identity_env(&name, &key).await?;
            if ctx.json {
                return output::json(&i);
            }
            outln!("removed {key} from identity {}", i.name);
            Ok(())
        }
        IdentityEnvCommand::List { name } => {
            let i = client.get_identity(&name).await?;
            if ctx.json {
                return output::json(&i.env);
            }
            let mut table = Table::new(&["KEY", "VALUE"]);
            for (k, v) in &i.env {
                table.row(vec![k.clone(), v.clone()]);
            }
            Ok(table.print(&format!("identity {} has no variables", i.name))?)
        }
    }
}

async fn identity_token(ctx: &Ctx, cmd: IdentityTokenCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        IdentityTokenCommand::Create {
            identity,
            token_name,
            ttl,
        } => {
            let expires_in_seconds = ttl.as_deref().map(input::parse_ttl).transpose()?;
            let body = CreateTokenRequest {
                name: token_name,
                expires_in_seconds,
            };
            let created = client.create_identity_token(&identity, &body).await?;
            if ctx.json {
                return output::json(&created);
            }
            let info = &created.info;
            eprintln!(
                "created token {} for identity {identity} (id {}, expires {}); shown this once:",
                info.name,
                info.id,
                info.expires_at.as_deref().unwrap_or("never")
            );
            outln!("{}", created.token);
            Ok(())
        }
        IdentityTokenCommand::List { identity } => {
            let list = client.list_identity_tokens(&identity).await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["ID", "NAME", "STARTS WITH", "CREATED", "EXPIRES", "LAST USED"]);
            for t in &list.tokens {
                table.row(vec![
                    t.id.clone(),
                    t.name.clone(),
                    crate::tokens::shown_prefix(t),
                    t.created_at.clone(),
                    t.expires_at.clone().unwrap_or_else(|| "never".into()),
                    t.last_used_at.clone().unwrap_or_else(|| "never".into()),
                ]);
            }
            Ok(table.print(&format!("identity {identity} has no tokens"))?)
        }
        IdentityTokenCommand::Revoke { identity, token } => {
            let revoked = match input::parse_token_ref(&token)? {
                input::TokenRef::Id(id) => {
                    client.revoke_identity_token(&identity, &id).await?;
                    id
                }
                input::TokenRef::Value(token) => {
                    client.revoke_identity_token_by_value(&identity, &token).await?;
                    input::token_label(&token)
                }
            };
            if ctx.json {
                return output::json(&serde_json::json!({ "revoked": revoked, "identity": identity }));
            }
            outln!("revoked token {revoked} of identity {identity}");
            Ok(())
        }
    }
}

fn details(i: &IdentityInfo) -> anyhow::Result<()> {
    let variables = if i.env.is_empty() {
        "-".to_owned()
    } else {
        i.env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Ok(output::fields(&[
        ("name", i.name.clone()),
        ("tags", output::tags(&i.tags)),
        ("variables", variables),
        ("created", format!("{} by {}", i.created_at, i.created_by)),
    ])?)
}

/// The map's keys, comma-separated, or `-`.
fn keys(map: &BTreeMap<String, String>) -> String {
    if map.is_empty() {
        return "-".into();
    }
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}
