//! `sealbox member ...`: the people in the workspace and their roles.

use clap::{Subcommand, ValueEnum};
use sealbox_types::{AddMemberRequest, Role};

use crate::Ctx;
use crate::output::{self, Table, outln};

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
