//! `sealbox policy ...`: which identities may read or use which secrets.

use std::collections::BTreeMap;

use clap::{Args, Subcommand, ValueEnum};
use sealbox_types::{CreatePolicyRequest, PolicyAccess};

use crate::output::{self, Table, outln};
use crate::{Ctx, input, usage};

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
