//! `sealbox secret ...` (the trash's `restore`, `purge` and `trash` are in `trash`).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use sealbox_client::SecretListQuery;
use sealbox_types::{CreateSecretRequest, RollbackRequest, SecretDetails, SecretType, UpdateSecretRequest, Visibility};
use secrecy::ExposeSecret as _;
use serde_json::Value;

use crate::input::{self, ValueSource};
use crate::output::{self, Table, outln};
use crate::trash;
use crate::{Ctx, stdin_is_terminal, usage};

const VALUE_SHAPE: &str = "For `text` the value is the raw string: exactly one trailing newline \
from stdin or a file is dropped, since `echo` and editors add one. For the other types it is a \
JSON object of the type's fields, e.g. smtp {\"host\",\"port\",\"username\",\"password\",\"from\"} or \
database {\"engine\",\"host\",\"port\",\"database\",\"username\",\"password\",\"options\"}; \
a missing, unknown or wrong field is named in the error. The fields of every type are in docs/api.md.";

const CREATE_VALUE_HELP: &str = "The value is never taken from an argument (arguments show up in \
process lists and shell history). It is read from --value-file PATH, else from stdin when stdin is \
not a terminal (`echo -n v | sealbox secret create ...`), else from a hidden prompt.";

const UPDATE_VALUE_HELP: &str = "A new value is read only when asked for, with --value-stdin, \
--value-file PATH or --prompt-value (never from an argument), so an update of the description, tags \
or metadata never takes a value by accident. A value piped to stdin without --value-stdin is refused \
(add the flag), and nothing is changed.";

const NO_ARGUMENT_VALUES: &str = "secret values are never taken from command-line arguments \
(they end up in shell history and process lists): pipe the value on stdin, use --value-file PATH, \
or run on a terminal to be prompted";

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Create a secret; the value comes from stdin, --value-file or a hidden prompt.
    #[command(long_about = format!("Create a secret.\n\n{CREATE_VALUE_HELP} {VALUE_SHAPE}"))]
    Create(CreateArgs),
    /// Show a secret's details (never its value).
    Get { name: String },
    /// List secrets (never their values).
    List(ListArgs),
    /// Change a secret's value (with --value-stdin, --value-file or --prompt-value), description,
    /// tags or metadata.
    #[command(long_about = format!("Change a secret. A new value makes a new version.\n\n{UPDATE_VALUE_HELP} {VALUE_SHAPE}"))]
    Update(UpdateArgs),
    /// List a secret's versions.
    Versions { name: String },
    /// Write a new version holding an old version's value, without revealing it.
    Rollback {
        name: String,
        /// The version whose value becomes current again.
        #[arg(long, value_name = "N")]
        to: u64,
        /// Refuse unless the secret is still at this version.
        #[arg(long, value_name = "N")]
        expected_version: Option<u64>,
    },
    /// Print a secret's value (audited): a masked one with a member's token, or one a policy lets
    /// the identity `read` with an identity's token. Text is printed followed by a newline;
    /// structured values as a JSON object; with --json the whole API answer.
    Reveal {
        name: String,
        /// An older version instead of the current one.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
    },
    /// Move a secret to the trash (restorable until it is purged).
    Delete { name: String },
    /// Bring a secret back from the trash, with its history.
    Restore { name: String },
    /// Delete a trashed secret for good.
    Purge { name: String },
    /// List the secrets in the trash.
    Trash,
}

/// `--type`: every type the wire enum knows, listed in the help.
fn type_parser() -> impl clap::builder::TypedValueParser<Value = SecretType> {
    use clap::builder::{PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new(SecretType::ALL.map(SecretType::as_str))
        .try_map(|name: String| SecretType::parse(&name).ok_or("unknown type"))
}

#[derive(Clone, Copy, ValueEnum)]
pub enum VisibilityArg {
    Masked,
    Restricted,
}

#[derive(Args)]
pub struct CreateArgs {
    /// The secret's name: a letter, then letters, digits or underscores.
    name: String,
    /// Refused: values never come from arguments.
    #[arg(hide = true)]
    stray_value: Option<String>,
    #[arg(long = "type", value_name = "TYPE", value_parser = type_parser())]
    secret_type: SecretType,
    /// masked (default): people may reveal it; restricted: nobody can ever read it back.
    #[arg(long)]
    visibility: Option<VisibilityArg>,
    #[arg(long)]
    description: Option<String>,
    /// A tag, KEY=VALUE; repeat for more.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// A JSON object.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
    /// Read the value from this file (`-` for stdin).
    #[arg(long, value_name = "PATH")]
    value_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only names that start with this.
    #[arg(long)]
    prefix: Option<String>,
    #[arg(long = "type", value_name = "TYPE", value_parser = type_parser())]
    secret_type: Option<SecretType>,
    /// Only secrets with this tag, KEY=VALUE; repeat to require more.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
}

#[derive(Args)]
pub struct UpdateArgs {
    name: String,
    /// Refused: values never come from arguments.
    #[arg(hide = true)]
    stray_value: Option<String>,
    /// Read a new value from stdin.
    #[arg(long, conflicts_with_all = ["value_file", "prompt_value"])]
    value_stdin: bool,
    /// Read a new value from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "prompt_value")]
    value_file: Option<PathBuf>,
    /// Ask for a new value with a hidden prompt.
    #[arg(long)]
    prompt_value: bool,
    #[arg(long)]
    description: Option<String>,
    /// Replaces all tags: KEY=VALUE; repeat for more.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// Remove every tag.
    #[arg(long, conflicts_with = "tags")]
    clear_tags: bool,
    /// A JSON object; replaces the metadata.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
    /// Refuse the update unless the secret is still at this version.
    #[arg(long, value_name = "N")]
    expected_version: Option<u64>,
}

pub async fn run(ctx: &Ctx, cmd: SecretCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        SecretCommand::Create(args) => create(ctx, args).await,
        SecretCommand::Get { name } => {
            let d = client.get_secret(&name).await?;
            if ctx.json {
                return output::json(&d);
            }
            details(&d)
        }
        SecretCommand::List(args) => {
            let query = SecretListQuery {
                prefix: args.prefix,
                secret_type: args.secret_type.map(|t| t.as_str().to_owned()),
                tags: input::parse_tag_filters(&args.tags)?,
            };
            let list = client.list_secrets(&query).await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["NAME", "TYPE", "VISIBILITY", "VERSION", "UPDATED", "TAGS"]);
            for s in &list.secrets {
                table.row(vec![
                    s.name.clone(),
                    s.secret_type.as_str().into(),
                    s.visibility.as_str().into(),
                    s.version.to_string(),
                    s.updated_at.clone(),
                    output::tags(&s.tags),
                ]);
            }
            Ok(table.print("no secrets")?)
        }
        SecretCommand::Update(args) => update(ctx, args).await,
        SecretCommand::Versions { name } => {
            let list = client.versions(&name).await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["VERSION", "CREATED", "BY"]);
            for v in &list.versions {
                let mut version = v.version.to_string();
                if v.version == list.current_version {
                    version.push_str(" (current)");
                }
                table.row(vec![version, v.created_at.clone(), v.created_by.clone()]);
            }
            Ok(table.print("no versions")?)
        }
        SecretCommand::Rollback {
            name,
            to,
            expected_version,
        } => {
            let body = RollbackRequest { to, expected_version };
            let d = client.rollback(&name, &body).await?;
            if ctx.json {
                return output::json(&d);
            }
            outln!(
                "rolled {} back: version {} now holds version {to}'s value",
                d.name,
                d.version
            );
            Ok(())
        }
        SecretCommand::Reveal { name, version } => {
            let r = client.reveal(&name, version).await?;
            if ctx.json {
                return output::json(&r);
            }
            match &r.value {
                // EXPOSE: printing the value is what `reveal` is for.
                Value::String(s) => outln!("{s}"),
                other => output::json(other)?,
            }
            Ok(())
        }
        SecretCommand::Delete { name } => {
            let d = client.delete_secret(&name).await?;
            if ctx.json {
                return output::json(&d);
            }
            let until = d
                .purge_after
                .as_deref()
                .map(|t| format!(" until {t}"))
                .unwrap_or_default();
            outln!(
                "moved {} to the trash; `sealbox secret restore {}` brings it back{until}",
                d.name,
                d.name
            );
            Ok(())
        }
        SecretCommand::Restore { name } => trash::restore(ctx, &name).await,
        SecretCommand::Purge { name } => trash::purge(ctx, &name).await,
        SecretCommand::Trash => trash::list(ctx).await,
    }
}

async fn create(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    if args.stray_value.is_some() {
        usage!("{NO_ARGUMENT_VALUES}");
    }
    let tags = input::parse_tags(&args.tags)?;
    let metadata = args.metadata.as_deref().map(input::parse_metadata).transpose()?;
    let secret_type = args.secret_type;
    let source = match args.value_file {
        Some(path) => ValueSource::File(path),
        None if stdin_is_terminal() => ValueSource::Prompt,
        None => ValueSource::Stdin,
    };
    let value = input::read_value(&source, &args.name, secret_type)?;
    let body = CreateSecretRequest {
        name: args.name,
        secret_type,
        value,
        visibility: args.visibility.map(|v| match v {
            VisibilityArg::Masked => Visibility::Masked,
            VisibilityArg::Restricted => Visibility::Restricted,
        }),
        description: args.description,
        metadata,
        tags: (!tags.is_empty()).then_some(tags),
    };
    let d = ctx.client.create_secret(&body).await?;
    if ctx.json {
        return output::json(&d);
    }
    outln!(
        "created {} secret {} ({}, version {})",
        d.secret_type.as_str(),
        d.name,
        d.visibility.as_str(),
        d.version
    );
    Ok(())
}

async fn update(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    if args.stray_value.is_some() {
        usage!("{NO_ARGUMENT_VALUES}");
    }
    let tags = if args.clear_tags {
        Some(Default::default())
    } else if args.tags.is_empty() {
        None
    } else {
        Some(input::parse_tags(&args.tags)?)
    };
    let metadata = args.metadata.as_deref().map(input::parse_metadata).transpose()?;
    let source = if args.value_stdin {
        Some(ValueSource::Stdin)
    } else if let Some(path) = args.value_file {
        Some(ValueSource::File(path))
    } else if args.prompt_value {
        if !stdin_is_terminal() {
            bail!("--prompt-value needs a terminal; use --value-stdin or --value-file instead");
        }
        Some(ValueSource::Prompt)
    } else {
        refuse_unasked_value()?;
        None
    };
    let value = match source {
        Some(source) => {
            // The value's shape depends on the type, which only the server knows.
            let current = ctx.client.get_secret(&args.name).await?;
            Some(input::read_value(&source, &args.name, current.secret_type)?)
        }
        None => None,
    };
    let body = UpdateSecretRequest {
        value,
        description: args.description,
        metadata,
        tags,
        expected_version: args.expected_version,
        ..Default::default()
    };
    let d = ctx.client.update_secret(&args.name, &body).await?;
    if ctx.json {
        return output::json(&d);
    }
    outln!("updated {} (version {})", d.name, d.version);
    Ok(())
}

/// `secret update` without a value flag: a value waiting on stdin (a pipe or a file, not a
/// terminal or /dev/null) is not silently ignored, nor taken without being asked for.
fn refuse_unasked_value() -> anyhow::Result<()> {
    if !input::stdin_is_pipe_or_file() {
        return Ok(());
    }
    // EXPOSE: only to see whether anything was piped; it is dropped unread.
    let piped = input::read_stdin().context("cannot read stdin")?;
    if !piped.expose_secret().is_empty() {
        usage!(
            "a value was piped to stdin, but `secret update` reads one only with --value-stdin: \
             add --value-stdin (nothing was changed)"
        );
    }
    Ok(())
}

fn details(d: &SecretDetails) -> anyhow::Result<()> {
    let value = match d.visibility {
        Visibility::Masked => format!("•••••••• (`sealbox secret reveal {}` shows it)", d.name),
        Visibility::Restricted => "restricted: never shown, it can only be replaced".into(),
    };
    let by = |at: &str, who: &str| format!("{at} by {who}");
    let mut rows = vec![
        ("name", d.name.clone()),
        ("type", d.secret_type.as_str().into()),
        ("visibility", d.visibility.as_str().into()),
        ("value", value),
        ("version", d.version.to_string()),
        (
            "description",
            if d.description.is_empty() {
                "-".into()
            } else {
                d.description.clone()
            },
        ),
        ("tags", output::tags(&d.tags)),
        ("metadata", output::object(&d.metadata)),
    ];
    if d.secret_type != SecretType::Text {
        rows.push(("details", output::object(&d.details)));
    }
    rows.push(("created", by(&d.created_at, &d.created_by)));
    rows.push(("updated", by(&d.updated_at, &d.updated_by)));
    rows.push((
        "last used",
        match (&d.last_used_at, &d.last_used_by) {
            (Some(at), Some(who)) => by(at, who),
            (Some(at), None) => at.clone(),
            _ => "never".into(),
        },
    ));
    if let Some(at) = &d.deleted_at {
        rows.push(("deleted", at.clone()));
    }
    if let Some(at) = &d.purge_after {
        rows.push(("purged after", at.clone()));
    }
    Ok(output::fields(&rows)?)
}
