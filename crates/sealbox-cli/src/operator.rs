//! `sealbox operator backup|restore`: taking a backup through the server, checking a backup
//! file, and restoring one into an empty database.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use sealbox_server::operator::{self as ops, RestoreTarget};

use crate::outfile::{self, Written};
use crate::output::{self, outln};
use crate::{Ctx, UsageError};

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Take a backup of the whole database through the server (owners of its first workspace).
    #[command(
        long_about = "Take a backup of the whole database through the server: every workspace, \
        member, token, identity, policy, action, secret with all its versions, and the audit log \
        with its chain, read in one consistent snapshot while the server keeps serving. The file \
        holds ciphertext only, never a value; keep the root key apart from it. Only owners of the \
        server's first workspace may take one (it holds every workspace); it is audited as \
        server.backup. The file is written beside --out under a temporary name (mode 0600) and \
        renamed once complete, so an interrupted backup never leaves a partial file under that \
        name. `sealbox operator backup verify FILE` checks a backup and shows what it holds.",
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true
    )]
    Backup(BackupArgs),
    /// Restore a backup into an empty database: --data-dir DIR (SQLite) or --database-url URL.
    #[command(long_about = "Restore a backup into an empty database: --data-dir DIR (SQLite, \
        DIR/sealbox.db) or --database-url URL (PostgreSQL), whichever the backup came from. The \
        file is checked first (structure, checksums, audit chain; with --root-key-file also that \
        key and every event's keyed hash), then the schema is migrated and every row written in \
        one transaction. A target that holds data is refused. Start the server on the target with \
        the backup's root key (e.g. copy root.key into DIR).")]
    Restore(RestoreArgs),
    /// Rotate the keys: a new keyring version wraps new data keys at once; the stored ones are
    /// rewrapped in the background. --status shows the progress.
    #[command(long_about = "Rotate the keys through the server (owners of its first workspace): \
        a new keyring version becomes the one every new data key is wrapped with at once, and the \
        data keys already stored are rewrapped to it in the background, in batches, while the \
        server serves reads and writes. The progress lives in the database, so a server stopped \
        in the middle carries on at its next start; replicas on the same PostgreSQL pick the new \
        version up by themselves. Audited as server.rotate. --status only shows the progress \
        (done / total, rate, estimated time left) without rotating.")]
    Rotate(RotateArgs),
    /// Replace the root key of a stopped server's database by rewrapping only its keyring.
    #[command(long_about = "Replace the root key of a stopped server's database: --data-dir DIR \
        (SQLite) or --database-url URL (PostgreSQL). Only the keyring is rewrapped with the new key \
        (in one transaction), so it takes the same time whatever the number of secrets; values, \
        tokens and the audit chain stay as they are. Give the current key (--root-key-file) and \
        the new one (--new-root-key-file: 32 random bytes, base64, e.g. `openssl rand -base64 32`), \
        then start every server on the database with the new key. Refused while values written \
        before the keyring existed remain: run `sealbox operator rotate` to completion first.")]
    Rekey(RekeyArgs),
}

/// The database an offline command works on.
#[derive(Args)]
pub struct DatabaseArgs {
    /// The SQLite database in DIR/sealbox.db.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "database_url",
        required_unless_present = "database_url"
    )]
    data_dir: Option<PathBuf>,
    /// The PostgreSQL database (postgres://...; SEALBOX_DATABASE_URL keeps a password out of
    /// process listings).
    #[arg(long, env = "SEALBOX_DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,
}

impl DatabaseArgs {
    fn target(self) -> anyhow::Result<RestoreTarget> {
        match (self.data_dir, self.database_url) {
            (Some(dir), _) => Ok(RestoreTarget::DataDir(dir)),
            (None, Some(url)) => Ok(RestoreTarget::DatabaseUrl(url)),
            (None, None) => Err(UsageError("give --data-dir DIR or --database-url URL".into()).into()),
        }
    }
}

#[derive(Args)]
pub struct RekeyArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The current root key file.
    #[arg(long, value_name = "PATH")]
    root_key_file: PathBuf,
    /// The new root key file.
    #[arg(long, value_name = "PATH")]
    new_root_key_file: PathBuf,
}

#[derive(Args)]
pub struct RotateArgs {
    /// Show the rotation's progress; rotate nothing.
    #[arg(long)]
    status: bool,
}

#[derive(Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    verify: Option<BackupSubcommand>,
    /// Where to write the backup.
    #[arg(long, value_name = "FILE", required = true)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum BackupSubcommand {
    /// Check a backup file (structure, checksums, audit chain) and show what it holds; exits 1
    /// when it is refused.
    Verify {
        file: PathBuf,
        /// The root key file the backup needs: checks that it is that key and recomputes every
        /// audit event's keyed hash. Without it the chain's sequence and links are checked.
        #[arg(long, value_name = "PATH")]
        root_key_file: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file.
    file: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
    /// The backup's root key file: checked against the backup before anything is written.
    #[arg(long, value_name = "PATH")]
    root_key_file: Option<PathBuf>,
}

pub async fn run(ctx: &Ctx, cmd: OperatorCommand) -> anyhow::Result<()> {
    match cmd {
        OperatorCommand::Backup(BackupArgs {
            verify: Some(BackupSubcommand::Verify { file, root_key_file }),
            ..
        }) => {
            let checked = ops::check(&file, root_key_file.as_deref())?;
            if ctx.json {
                output::json(&checked.to_json())?;
            } else {
                outln!("{} is a valid Sealbox backup", file.display());
                outln!("{}", checked.describe().trim_end());
            }
            Ok(())
        }
        OperatorCommand::Backup(BackupArgs { out, .. }) => {
            let out = out.ok_or_else(|| UsageError("give --out FILE".into()))?;
            if outfile::is_stdio(&out) {
                return Err(
                    UsageError("--out: give a file name (a backup is never written to a terminal)".into()).into(),
                );
            }
            let file = ctx.client.backup().await?;
            match outfile::write(Some(&out), &file).context("the backup was taken but could not be written")? {
                Written::File(path) | Written::Through(path) => {
                    if ctx.json {
                        output::json(&serde_json::json!({"out": path, "bytes": file.len()}))?;
                    } else {
                        outln!("wrote {} ({} bytes)", path.display(), file.len());
                    }
                }
                Written::Stdout => {}
            }
            Ok(())
        }
        OperatorCommand::Rotate(RotateArgs { status }) => {
            let progress = if status {
                ctx.client.rotation_status().await?
            } else {
                ctx.client.rotate().await?
            };
            if ctx.json {
                output::json(&progress)?;
            } else {
                if !status {
                    outln!("rotated: keyring version {} is active", progress.active_version);
                }
                outln!("{}", describe_rotation(&progress));
            }
            Ok(())
        }
        OperatorCommand::Rekey(args) => {
            let target = args.database.target()?;
            let versions = ops::rekey(&target, &args.root_key_file, &args.new_root_key_file).await?;
            if ctx.json {
                output::json(&serde_json::json!({"keyring_versions": versions}))?;
            } else {
                outln!(
                    "rekeyed: {versions} keyring versions now wrapped by {}; start the servers with it",
                    args.new_root_key_file.display()
                );
            }
            Ok(())
        }
        OperatorCommand::Restore(args) => {
            let target = args.database.target()?;
            let checked = ops::restore(&args.file, &target, args.root_key_file.as_deref()).await?;
            if ctx.json {
                output::json(&checked.to_json())?;
            } else {
                let into = match &target {
                    RestoreTarget::DataDir(dir) => dir.join("sealbox.db").display().to_string(),
                    RestoreTarget::DatabaseUrl(_) => "the PostgreSQL database".into(),
                };
                outln!("restored {} into {into}", args.file.display());
                outln!("{}", checked.describe().trim_end());
            }
            Ok(())
        }
    }
}

/// One line: the active version and the data keys' progress towards it.
fn describe_rotation(p: &sealbox_types::RotationStatus) -> String {
    let mut line = format!(
        "keyring version {}: {} of {} data keys rewrapped",
        p.active_version, p.done, p.total
    );
    if p.remaining == 0 {
        line.push_str(" (complete)");
    } else {
        line.push_str(&format!(", {} remaining", p.remaining));
        if p.rate_per_second > 0.0 {
            line.push_str(&format!(", {:.0}/s", p.rate_per_second));
        }
        if let Some(eta) = p.eta_seconds {
            line.push_str(&format!(", about {eta} s left"));
        }
    }
    line
}
