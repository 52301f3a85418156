//! `sealbox identity ...`: identities, their variables and tokens.

use std::collections::BTreeMap;

use clap::Subcommand;
use sealbox_types::{
    CreateFederationRequest, CreateIdentityRequest, CreateTokenRequest, IdentityInfo, UpdateIdentityRequest,
};

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
    /// Let the identity trust a platform's JWTs (GitHub Actions, GitLab CI, Kubernetes ...), which
    /// workloads then exchange for short-lived tokens (`sealbox login --jwt-file`, `sealbox run
    /// --jwt-file`).
    #[command(
        long_about = "Let the identity trust a platform's JWTs: a token whose issuer (iss) is \
        --issuer, whose audience (aud) holds --audience and whose claims match every --claim, signed \
        with one of the issuer's keys (RS256, ES256 or EdDSA), is exchanged by POST /v1/auth/jwt for a \
        token of this identity that lives --ttl (1h when absent, never above the workspace's maximum \
        token lifetime), under the identity's policies. --claim NAME=VALUE matches a string claim \
        exactly, or as a glob where * matches any run of characters: \
        --claim 'sub=repo:acme/payments:ref:refs/heads/main'. The keys come from the issuer's \
        /.well-known/openid-configuration (https; the server's --extra-ca-file is trusted), or from \
        --jwks-file (a JWKS or PEM public keys) for an issuer the server cannot reach, such as a \
        Kubernetes cluster's."
    )]
    Federate {
        /// The identity.
        name: String,
        /// The issuer, exactly as its tokens' iss claim says it.
        #[arg(long)]
        issuer: String,
        /// The audience the tokens must carry (aud).
        #[arg(long)]
        audience: String,
        /// A claim the tokens must carry, NAME=VALUE (exact, or * globs); repeat for more.
        #[arg(long = "claim", value_name = "NAME=VALUE")]
        claims: Vec<String>,
        /// Lifetime of an exchanged token, such as 15m or 1h (the default), at most the workspace's
        /// maximum.
        #[arg(long)]
        ttl: Option<String>,
        /// The issuer's public keys (a JWKS file, or PEM public keys), when the server cannot fetch
        /// them from the issuer.
        #[arg(long, value_name = "PATH")]
        jwks_file: Option<std::path::PathBuf>,
    },
    /// The identity's trusts in JWT issuers.
    #[command(subcommand)]
    Federation(IdentityFederationCommand),
}

#[derive(Subcommand)]
pub enum IdentityFederationCommand {
    /// List the JWT issuers the identity trusts.
    List {
        /// The identity.
        name: String,
    },
    /// Remove one of the identity's trusts; its JWTs are refused from then on (tokens already
    /// exchanged live until they expire).
    Remove {
        /// The identity.
        name: String,
        /// The trust's id (the ID column of `sealbox identity federation list NAME`).
        id: String,
    },
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
        IdentityCommand::Federate {
            name,
            issuer,
            audience,
            claims,
            ttl,
            jwks_file,
        } => {
            let claims = input::parse_tag_flags("--claim", &claims)?;
            let ttl_seconds = ttl.as_deref().map(input::parse_ttl).transpose()?;
            let static_keys = match &jwks_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("cannot read --jwks-file {}: {e}", path.display()))?,
                ),
                None => None,
            };
            let body = CreateFederationRequest {
                issuer,
                audience,
                claims,
                ttl_seconds,
                static_keys,
            };
            let f = client.create_federation(&name, &body).await?;
            if ctx.json {
                return output::json(&f);
            }
            outln!(
                "identity {} now trusts JWTs of {} for audience {} (trust {}; keys: {}; tokens live {}s)",
                f.identity,
                f.issuer,
                f.audience,
                f.id,
                f.keys,
                f.ttl_seconds
            );
            Ok(())
        }
        IdentityCommand::Federation(cmd) => identity_federation(ctx, cmd).await,
    }
}

async fn identity_federation(ctx: &Ctx, cmd: IdentityFederationCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        IdentityFederationCommand::List { name } => {
            let list = client.list_federations(&name).await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["ID", "ISSUER", "AUDIENCE", "CLAIMS", "TTL", "KEYS"]);
            for f in &list.federations {
                table.row(vec![
                    f.id.clone(),
                    f.issuer.clone(),
                    f.audience.clone(),
                    output::tags(&f.claims),
                    format!("{}s", f.ttl_seconds),
                    f.keys.clone(),
                ]);
            }
            Ok(table.print(&format!("identity {name} trusts no JWT issuer"))?)
        }
        IdentityFederationCommand::Remove { name, id } => {
            client.delete_federation(&name, &id).await?;
            if ctx.json {
                return output::json(&serde_json::json!({ "removed": id, "identity": name }));
            }
            outln!("removed trust {id} of identity {name}");
            Ok(())
        }
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
                    crate::tokens::shown_expiry(t),
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
