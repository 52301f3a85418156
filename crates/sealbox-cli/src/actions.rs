//! `sealbox action ...`: define, list, show, change, delete and run actions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use sealbox_types::{
    ActionDefinition, ActionInfo, ActionRunResponse, CreateActionRequest, RunActionRequest, RunUnsavedActionRequest,
    UpdateActionRequest,
};
use serde_json::Value;

use crate::output::{self, Table, outln};
use crate::{Ctx, input, usage};

#[derive(Subcommand)]
pub enum ActionCommand {
    /// Define an action from a JSON file (owners and admins).
    #[command(
        long_about = "Define an action from a JSON file holding the API's action definition: \
        `kind` (http, email or sqs; --kind fills it in when the file leaves it out) and that kind's \
        fields. Text fields may hold {secrets.NAME}, {secrets.NAME.field} and {input.KEY}; an http \
        field may hold at most one secret reference. See the README, \"Using secrets without \
        revealing them\"."
    )]
    Create {
        name: String,
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// The definition (JSON).
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
    },
    /// List the workspace's actions.
    List,
    /// Show an action's definition, the secrets it uses and the input it takes.
    Get { name: String },
    /// Replace an action's definition (owners and admins).
    Update {
        name: String,
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// The new definition (JSON).
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
    },
    /// Delete an action.
    Delete { name: String },
    /// Run a saved action (NAME) or an unsaved one (--spec FILE); prints the destination's reply
    /// with every secret value redacted. Exits 1 when the destination answers 4xx or 5xx (the
    /// reply is still printed), like `curl --fail`.
    Run {
        /// The saved action; leave out with --spec.
        #[arg(required_unless_present = "spec", conflicts_with = "spec")]
        name: Option<String>,
        /// Run this definition without saving it.
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
        /// A value for an {input.KEY} reference, KEY=VALUE; repeat for more.
        #[arg(long = "input", value_name = "KEY=VALUE")]
        inputs: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Http,
    Email,
    Sqs,
}

impl KindArg {
    fn as_str(self) -> &'static str {
        match self {
            KindArg::Http => "http",
            KindArg::Email => "email",
            KindArg::Sqs => "sqs",
        }
    }
}

/// Reads a definition file; `--kind` fills in a missing `kind` and must agree with a given one.
fn read_spec(path: &Path, kind: Option<KindArg>) -> anyhow::Result<ActionDefinition> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut value: Value =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", path.display()))?;
    let Some(object) = value.as_object_mut() else {
        usage!("{} must hold a JSON object: the action's definition", path.display());
    };
    match (object.get("kind").and_then(Value::as_str), kind) {
        (Some(written), Some(flag)) if written != flag.as_str() => {
            usage!(
                "--kind {} but {} says \"kind\": {written:?}; make them agree",
                flag.as_str(),
                path.display()
            )
        }
        (None, Some(flag)) => {
            object.insert("kind".into(), Value::from(flag.as_str()));
        }
        (None, None) if !object.contains_key("kind") => {
            usage!("give --kind http|email|sqs or a \"kind\" field in {}", path.display())
        }
        _ => {}
    }
    serde_json::from_value(value).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn parse_inputs(raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in raw {
        let (key, value) = input::parse_assignment(item)?;
        if out.insert(key.clone(), value).is_some() {
            usage!("--input {key}=... is given twice");
        }
    }
    Ok(out)
}

pub async fn run(ctx: &Ctx, cmd: ActionCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        ActionCommand::Create { name, kind, spec } => {
            let definition = read_spec(&spec, kind)?;
            let a = client.create_action(&CreateActionRequest { name, definition }).await?;
            if ctx.json {
                return output::json(&a);
            }
            outln!(
                "created {} action {}{}; run it with `sealbox action run {}`",
                a.kind.as_str(),
                a.name,
                uses(&a),
                a.name
            );
            Ok(())
        }
        ActionCommand::List => {
            let list = client.list_actions().await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["NAME", "KIND", "SECRETS", "INPUT", "UPDATED"]);
            for a in &list.actions {
                table.row(vec![
                    a.name.clone(),
                    a.kind.as_str().into(),
                    list_or_dash(&a.secrets),
                    list_or_dash(&a.inputs),
                    a.updated_at.clone(),
                ]);
            }
            Ok(table.print("no actions")?)
        }
        ActionCommand::Get { name } => {
            let a = client.get_action(&name).await?;
            if ctx.json {
                return output::json(&a);
            }
            output::fields(&[
                ("name", a.name.clone()),
                ("kind", a.kind.as_str().into()),
                ("secrets", list_or_dash(&a.secrets)),
                ("input", list_or_dash(&a.inputs)),
                ("created", format!("{} by {}", a.created_at, a.created_by)),
                ("updated", format!("{} by {}", a.updated_at, a.updated_by)),
            ])?;
            outln!("definition:");
            outln!("{}", serde_json::to_string_pretty(&a.definition)?);
            Ok(())
        }
        ActionCommand::Update { name, kind, spec } => {
            let definition = read_spec(&spec, kind)?;
            let a = client.update_action(&name, &UpdateActionRequest { definition }).await?;
            if ctx.json {
                return output::json(&a);
            }
            outln!("updated {} action {}{}", a.kind.as_str(), a.name, uses(&a));
            Ok(())
        }
        ActionCommand::Delete { name } => {
            client.delete_action(&name).await?;
            if ctx.json {
                return output::json(&serde_json::json!({ "deleted": name }));
            }
            outln!("deleted action {name}");
            Ok(())
        }
        ActionCommand::Run { name, spec, inputs } => {
            let input = parse_inputs(&inputs)?;
            let reply = match (name, spec) {
                (Some(name), _) => client.run_action(&name, &RunActionRequest { input }).await?,
                (None, Some(spec)) => {
                    let definition = read_spec(&spec, None)?;
                    client
                        .run_unsaved_action(&RunUnsavedActionRequest { definition, input })
                        .await?
                }
                (None, None) => usage!("give the action's NAME or --spec FILE"),
            };
            if ctx.json {
                output::json(&reply)?;
            } else {
                print_reply(&reply)?;
            }
            failed_status(&reply)
        }
    }
}

/// Like `curl --fail`: a 4xx or 5xx answer is a failure (exit code 1), after the reply is printed.
fn failed_status(reply: &ActionRunResponse) -> anyhow::Result<()> {
    match &reply.http {
        Some(http) if http.status >= 400 => anyhow::bail!(
            "{} answered {}; the reply is printed above, check the request and the destination",
            reply.destination,
            http.status
        ),
        _ => Ok(()),
    }
}

fn print_reply(reply: &ActionRunResponse) -> anyhow::Result<()> {
    if let Some(http) = &reply.http {
        eprintln!("{} answered {}", reply.destination, http.status);
        for h in &http.headers {
            eprintln!("{}: {}", h.name, h.value);
        }
        outln!("{}", http.body);
    }
    if let Some(email) = &reply.email {
        outln!(
            "sent to {} recipient(s) through {}: {}",
            email.recipients,
            reply.destination,
            email.server_reply
        );
    }
    if let Some(sqs) = &reply.sqs {
        outln!("sent message {} to {}", sqs.message_id, reply.destination);
    }
    Ok(())
}

fn uses(a: &ActionInfo) -> String {
    let mut out = String::new();
    if !a.secrets.is_empty() {
        out.push_str(&format!(" using {}", a.secrets.join(", ")));
    }
    if !a.inputs.is_empty() {
        out.push_str(&format!(" with input {}", a.inputs.join(", ")));
    }
    out
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() { "-".into() } else { items.join(", ") }
}
