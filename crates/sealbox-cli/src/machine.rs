//! Machine access: `sealbox identity ...`, `sealbox policy ...` and `sealbox env`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand, ValueEnum};
use sealbox_types::{
    CreateIdentityRequest, CreatePolicyRequest, CreateTokenRequest, IdentityInfo, PolicyAccess, UpdateIdentityRequest,
};

use crate::output::{self, Table, outln};
use crate::{Ctx, input, usage};

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

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Let identities (by name or tags) read and/or use the secrets carrying every given tag.
    Create(PolicyCreateArgs),
    /// List the workspace's policies.
    List,
    /// Delete a policy; it stops applying on the next request.
    Delete { name: String },
}

#[derive(Args)]
pub struct PolicyCreateArgs {
    name: String,
    /// An identity the policy covers, by name; repeat for more.
    #[arg(long = "identity", value_name = "NAME")]
    identities: Vec<String>,
    /// Covers the identities carrying this tag, KEY=VALUE; repeat to require more.
    #[arg(long = "identity-tag", value_name = "KEY=VALUE")]
    identity_tags: Vec<String>,
    /// Covers the secrets carrying this tag, KEY=VALUE; repeat to require more.
    #[arg(long = "secret-tag", value_name = "KEY=VALUE", required = true)]
    secret_tags: Vec<String>,
    /// read: receive the values; use: drive server-side actions without ever receiving them.
    /// Repeat or separate with commas (read,use).
    #[arg(long = "allow", value_name = "ACCESS", required = true, value_delimiter = ',')]
    allow: Vec<AccessArg>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AccessArg {
    Read,
    Use,
}

impl From<AccessArg> for PolicyAccess {
    fn from(a: AccessArg) -> PolicyAccess {
        match a {
            AccessArg::Read => PolicyAccess::Read,
            AccessArg::Use => PolicyAccess::Use,
        }
    }
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
                    crate::account::shown_prefix(t),
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

pub async fn policy(ctx: &Ctx, cmd: PolicyCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        PolicyCommand::Create(args) => {
            let identity_tags = input::parse_tag_flags("--identity-tag", &args.identity_tags)?;
            let secret_tags = input::parse_tag_flags("--secret-tag", &args.secret_tags)?;
            if args.identities.is_empty() && identity_tags.is_empty() {
                usage!("a policy needs at least one --identity NAME or --identity-tag KEY=VALUE");
            }
            let body = CreatePolicyRequest {
                name: args.name,
                identities: args.identities,
                identity_tags,
                secret_tags,
                allow: args.allow.into_iter().map(Into::into).collect(),
            };
            let p = client.create_policy(&body).await?;
            if ctx.json {
                return output::json(&p);
            }
            outln!(
                "created policy {}: {} may {} the secrets tagged {}",
                p.name,
                who(&p.identities, &p.identity_tags),
                allow(&p.allow).replace(',', " and "),
                output::tags(&p.secret_tags)
            );
            Ok(())
        }
        PolicyCommand::List => {
            let list = client.list_policies().await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["NAME", "IDENTITIES", "IDENTITY TAGS", "ALLOW", "CREATED", "SECRET TAGS"]);
            for p in &list.policies {
                table.row(vec![
                    p.name.clone(),
                    if p.identities.is_empty() {
                        "-".into()
                    } else {
                        p.identities.join(", ")
                    },
                    output::tags(&p.identity_tags),
                    allow(&p.allow),
                    p.created_at.clone(),
                    output::tags(&p.secret_tags),
                ]);
            }
            Ok(table.print("no policies")?)
        }
        PolicyCommand::Delete { name } => {
            client.delete_policy(&name).await?;
            if ctx.json {
                return output::json(&serde_json::json!({ "deleted": name }));
            }
            outln!("deleted policy {name}");
            Ok(())
        }
    }
}

/// `sealbox env`: the caller's context environment, as shell assignments or (with --json) a JSON
/// object.
pub async fn env(ctx: &Ctx) -> anyhow::Result<()> {
    let env = ctx.client.environment().await?;
    if ctx.json {
        return output::json(&env.variables);
    }
    // Check every key before printing anything, so a bad one never leaves half an environment.
    if let Some(bad) = env.variables.keys().find(|k| !is_shell_name(k)) {
        anyhow::bail!(
            "the server sent a variable name that is not a valid shell name ({bad:?}); use --json to read it"
        );
    }
    for (key, value) in &env.variables {
        // EXPOSE: printing the caller's environment is what `sealbox env` is for.
        outln!("export {key}={}", shell_quote(value));
    }
    Ok(())
}

pub async fn import(ctx: &Ctx, file: &std::path::Path, dry_run: bool, tags: &[String]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let tags = input::parse_tags(tags)?;
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let entries = crate::dotenv::parse(&text).map_err(|problems| {
        anyhow::anyhow!(
            "{} has errors, nothing was imported:\n  {}",
            file.display(),
            problems.join("\n  ")
        )
    })?;
    let secrets = entries.into_iter().map(|e| (e.key, e.value)).collect();
    let outcome = ctx
        .client
        .import(&sealbox_types::ImportRequest {
            secrets,
            dry_run,
            tags: (!tags.is_empty()).then_some(tags),
        })
        .await?;
    if ctx.json {
        return output::json(&outcome);
    }
    let verb = |done: &str, would: &str| if dry_run { would.to_owned() } else { done.to_owned() };
    for (names, done, would) in [
        (&outcome.created, "created", "would create"),
        (&outcome.changed, "updated", "would update"),
        (&outcome.unchanged, "unchanged", "unchanged"),
    ] {
        for name in names {
            let uncompared = if outcome.not_compared.contains(name) {
                " (restricted: replaced without comparing)"
            } else {
                ""
            };
            outln!("{:<12} {name}{uncompared}", verb(done, would));
        }
    }
    eprintln!(
        "{} created, {} changed, {} unchanged{}",
        outcome.created.len(),
        outcome.changed.len(),
        outcome.unchanged.len(),
        if dry_run { " (dry run: nothing was written)" } else { "" }
    );
    Ok(())
}

/// `sealbox export`: `--format json`, or `--json`, prints a JSON object; the default is a .env
/// file (see `dotenv::lines`), written only when every value can be.
pub async fn export(ctx: &Ctx, format: Option<crate::ExportFormat>) -> anyhow::Result<()> {
    use crate::ExportFormat::{Dotenv, Json};
    let format = match (format, ctx.json) {
        (Some(Dotenv), true) => usage!("--json prints JSON; leave out --json or --format dotenv"),
        (Some(format), _) => format,
        (None, true) => Json,
        (None, false) => Dotenv,
    };
    let env = ctx.client.environment().await?;
    if let Json = format {
        return output::json(&env.variables);
    }
    // Every line is made before any is printed, so a value that cannot be written never leaves
    // half a file.
    let mut lines = Vec::with_capacity(env.variables.len());
    let mut refused = Vec::new();
    for (key, value) in &env.variables {
        if !is_shell_name(key) {
            refused.push(format!("{key:?}: not a valid variable name"));
            continue;
        }
        // EXPOSE: exporting the caller's readable secrets is what the command is for; a refusal
        // names the key and the reason, never the value.
        match crate::dotenv::lines(key, value) {
            Ok(written) => lines.extend(written),
            Err(why) => refused.push(format!("{key}: {why}")),
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "nothing was exported: no .env lines carry these values the same way for sh, bash and python-dotenv:\n  {}\nexport them with --format json",
            refused.join("\n  ")
        );
    }
    for line in lines {
        outln!("{line}");
    }
    Ok(())
}

/// `sealbox inject`: renders a template (from a file or stdin) to where `-o` leads (stdout by
/// default); see `outfile` for how a path is written.
pub async fn inject(
    ctx: &Ctx,
    input: Option<&std::path::Path>,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let template = match input.filter(|p| !crate::outfile::is_stdio(p)) {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read the template {}", path.display()))?
        }
        None if input.is_none() && crate::stdin_is_terminal() => {
            usage!("give the template with -i FILE or on stdin (`sealbox inject < config.tmpl`)")
        }
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read the template from stdin")?;
            text
        }
    };
    let rendered = ctx.client.render(&sealbox_types::RenderRequest { template }).await?;
    // EXPOSE: writing the rendered values where the caller asked is what inject is for.
    let written = crate::outfile::write(output, rendered.rendered.as_bytes())?;
    let (path, note) = match &written {
        // The rendered text is the output; nothing else goes there.
        crate::outfile::Written::Stdout => return Ok(()),
        crate::outfile::Written::Through(path) => (path, ""),
        crate::outfile::Written::File(path) => (path, " (mode 0600)"),
    };
    if ctx.json {
        return output::json(&serde_json::json!({ "written": path.display().to_string() }));
    }
    eprintln!("wrote {}{note}", path.display());
    Ok(())
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

fn allow(access: &[PolicyAccess]) -> String {
    access
        .iter()
        .map(|a| match a {
            PolicyAccess::Read => "read",
            PolicyAccess::Use => "use",
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `identities a, b and those tagged k=v` in words.
fn who(names: &[String], tags: &BTreeMap<String, String>) -> String {
    let mut parts = Vec::new();
    if !names.is_empty() {
        parts.push(format!("identities {}", names.join(", ")));
    }
    if !tags.is_empty() {
        parts.push(format!("identities tagged {}", output::tags(tags)));
    }
    parts.join(" and ")
}

/// A POSIX shell word for `value`: single quotes, with each `'` written as `'\''`. Nothing is
/// special inside single quotes, so `$`, backquotes, `\`, `"`, spaces and newlines stay literal.
pub fn shell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A name a POSIX shell accepts on the left of `=`.
fn is_shell_name(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $HOME `x` \\"), r"'it'\''s $HOME `x` \'");
        assert_eq!(shell_quote("''"), r"''\'''\'''");
    }

    #[test]
    fn shell_names() {
        for ok in ["A", "_x", "DB_URL2"] {
            assert!(is_shell_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A;rm", "A B", "É"] {
            assert!(!is_shell_name(bad), "{bad}");
        }
    }
}
