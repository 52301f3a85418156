//! `sealbox operator ...`: backups and restores, key rotation and rekey, and the seal (init,
//! unseal, seal, seal-status).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use sealbox_server::operator::{self as ops, RestoreTarget};
use secrecy::{ExposeSecret, SecretString};

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
    /// Replace the root key of a stopped server's database, or move it to another key source, by
    /// rewrapping only its keyring.
    #[command(long_about = "Replace the root key of a stopped server's database, or move it to \
        another key source: --data-dir DIR (SQLite) or --database-url URL (PostgreSQL). Only the \
        keyring is rewrapped with the new key (in one transaction, with the new source's record), \
        so it takes the same time whatever the number of secrets; values, tokens and the audit \
        chain stay as they are. Give the current key the way the database is sealed: \
        --root-key-file (file), --passphrase-file (passphrase) or --share-file with at least the \
        threshold of shares, one per line (shamir). Say where the new key comes from with \
        --new-seal: file (--new-root-key-file: 32 random bytes, base64, e.g. `openssl rand -base64 \
        32`), passphrase (--new-passphrase-file, or asked twice) or shamir (--key-shares N \
        --key-threshold M: the new shares are printed once). Then start every server on the \
        database with the new source. Refused while values written before the keyring existed \
        remain: run `sealbox operator rotate` to completion first.")]
    Rekey(Box<RekeyArgs>),
    /// Set up a new database's passphrase or Shamir key source (`--seal passphrase|shamir`).
    #[command(long_about = "Set up the key source of a server started on a new database with \
        --seal shamir or --seal passphrase. Shamir: --key-shares N --key-threshold M makes a \
        random root key, splits it into N shares of which any M unseal the server, and prints \
        the shares this once: give one to each holder and keep them apart; Sealbox keeps none. \
        Passphrase: the passphrase (at least 12 characters) is asked twice at the terminal, or \
        read from --passphrase-file PATH (- for stdin); the root key is derived from it with \
        Argon2id. Never give it as an argument. The server stays sealed: unseal it next.")]
    Init(InitArgs),
    /// Unseal the server: one Shamir share, the passphrase, or nothing for a source that unseals
    /// by itself.
    #[command(long_about = "Unseal the server. --seal shamir: give one key share per run (asked \
        at the terminal, or --share-file PATH, - for stdin); it prints the progress (2 of 3) until \
        the threshold is reached. Several people can each run it with their own share. A wrong \
        share is detected when the threshold is reached: the progress is reset and the error says \
        so. --seal passphrase: the passphrase (terminal, or --passphrase-file PATH, - for stdin). \
        Other sources (file, after `sealbox operator seal`): the server asks its source again. \
        Attempts are rate limited and audited (server.unseal).")]
    Unseal(UnsealArgs),
    /// Seal the running server: it drops every key at once (owners of its first workspace).
    #[command(long_about = "Seal the running server: every key is dropped from memory at once \
        (zeroised) and every route but health, readiness, seal status and unseal answers 503 \
        server.sealed until `sealbox operator unseal`. Owners of the server's first workspace \
        only; audited as server.seal. On PostgreSQL only the replica you reach is sealed.")]
    Seal,
    /// Whether the server is sealed, its key source, and the unseal progress.
    SealStatus,
}

#[derive(Args)]
pub struct InitArgs {
    /// --seal shamir: how many shares to make.
    #[arg(long, value_name = "N", requires = "key_threshold")]
    key_shares: Option<u8>,
    /// --seal shamir: how many shares unseal the server.
    #[arg(long, value_name = "M", requires = "key_shares")]
    key_threshold: Option<u8>,
    /// --seal passphrase: read the passphrase from PATH (- for stdin) instead of asking.
    #[arg(long, value_name = "PATH", conflicts_with = "key_shares")]
    passphrase_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct UnsealArgs {
    /// --seal shamir: read the share from PATH (- for stdin) instead of asking.
    #[arg(long, value_name = "PATH", conflicts_with = "passphrase_file")]
    share_file: Option<PathBuf>,
    /// --seal passphrase: read the passphrase from PATH (- for stdin) instead of asking.
    #[arg(long, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
    /// Forget the shares given so far.
    #[arg(long, conflicts_with_all = ["share_file", "passphrase_file"])]
    reset: bool,
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
#[command(group(clap::ArgGroup::new("current").required(true).args(["root_key_file", "passphrase_file", "share_file", "seal"])))]
pub struct RekeyArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The current root key file (a database sealed with --seal file).
    #[arg(long, value_name = "PATH")]
    root_key_file: Option<PathBuf>,
    /// The current passphrase, from PATH (- for stdin) (--seal passphrase).
    #[arg(long, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
    /// At least the threshold of the current key shares, one per line, from PATH (- for stdin)
    /// (--seal shamir).
    #[arg(long, value_name = "PATH")]
    share_file: Option<PathBuf>,
    /// A database sealed by a key protector: --seal awskms or --seal pkcs11, with the same
    /// --kms-* / --pkcs11-* settings as the server.
    #[arg(long, value_name = "SOURCE")]
    seal: Option<sealbox_server::SealKind>,
    /// The key source to move to: file, passphrase, shamir, awskms or pkcs11 (awskms and pkcs11
    /// take the --kms-* / --pkcs11-* settings).
    #[arg(long, value_name = "SOURCE", default_value = "file")]
    new_seal: sealbox_server::SealKind,
    #[command(flatten)]
    protector: crate::server::ProtectorArgs,
    /// --new-seal file: the new root key file.
    #[arg(long, value_name = "PATH")]
    new_root_key_file: Option<PathBuf>,
    /// --new-seal passphrase: the new passphrase from PATH (- for stdin); asked twice otherwise.
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
    /// --new-seal shamir: how many shares to make.
    #[arg(long, value_name = "N")]
    key_shares: Option<u8>,
    /// --new-seal shamir: how many shares unseal the server.
    #[arg(long, value_name = "M")]
    key_threshold: Option<u8>,
}

impl RekeyArgs {
    fn current(&self) -> anyhow::Result<ops::CurrentKey> {
        if let Some(path) = &self.root_key_file {
            return Ok(ops::CurrentKey::File(path.clone()));
        }
        if let Some(path) = &self.passphrase_file {
            return Ok(ops::CurrentKey::Passphrase(read_secret(
                Some(path),
                "current passphrase",
                false,
            )?));
        }
        if let Some(seal) = self.seal {
            if !matches!(
                seal,
                sealbox_server::SealKind::AwsKms | sealbox_server::SealKind::Pkcs11
            ) {
                return Err(UsageError(format!(
                    "--seal {seal}: give the current key with --root-key-file, --passphrase-file or --share-file"
                ))
                .into());
            }
            return Ok(ops::CurrentKey::Protected(Box::new(self.protector_config(seal))));
        }
        let path = self
            .share_file
            .as_deref()
            .ok_or_else(|| UsageError("give --root-key-file, --passphrase-file or --share-file".into()))?;
        let text = read_secret(Some(path), "key shares", false)?;
        // EXPOSE: split into one share per line.
        let shares = text
            .expose_secret()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| SecretString::from(line.to_owned()))
            .collect();
        Ok(ops::CurrentKey::Shares(shares))
    }

    /// The settings a key protector is made from.
    fn protector_config(&self, seal: sealbox_server::SealKind) -> sealbox_server::Config {
        let p = self.protector.clone();
        sealbox_server::Config {
            seal,
            kms_key_id: p.kms_key_id,
            kms_endpoint: p.kms_endpoint,
            kms_region: p.kms_region,
            pkcs11_lib: p.pkcs11_lib,
            pkcs11_slot: p.pkcs11_slot,
            pkcs11_key_label: p.pkcs11_key_label,
            pkcs11_pin_file: p.pkcs11_pin_file,
            ..sealbox_server::Config::with_data_dir(".")
        }
    }

    fn new_source(&self) -> anyhow::Result<ops::NewSource> {
        use sealbox_server::SealKind;
        let misplaced = |flag: &str| UsageError(format!("{flag} does not go with --new-seal {}", self.new_seal));
        match self.new_seal {
            SealKind::File => {
                if self.key_shares.is_some() || self.new_passphrase_file.is_some() {
                    return Err(misplaced("--key-shares / --new-passphrase-file").into());
                }
                let path = self
                    .new_root_key_file
                    .clone()
                    .ok_or_else(|| UsageError("--new-seal file: give --new-root-key-file PATH".into()))?;
                Ok(ops::NewSource::File(path))
            }
            SealKind::Passphrase => {
                if self.key_shares.is_some() || self.new_root_key_file.is_some() {
                    return Err(misplaced("--key-shares / --new-root-key-file").into());
                }
                let passphrase = read_secret(self.new_passphrase_file.as_deref(), "new passphrase", true)?;
                Ok(ops::NewSource::Passphrase(passphrase))
            }
            SealKind::Shamir => {
                if self.new_passphrase_file.is_some() || self.new_root_key_file.is_some() {
                    return Err(misplaced("--new-passphrase-file / --new-root-key-file").into());
                }
                match (self.key_shares, self.key_threshold) {
                    (Some(shares), Some(threshold)) => Ok(ops::NewSource::Shamir { shares, threshold }),
                    _ => Err(UsageError("--new-seal shamir: give --key-shares N and --key-threshold M".into()).into()),
                }
            }
            SealKind::AwsKms | SealKind::Pkcs11 => {
                if self.key_shares.is_some() || self.new_passphrase_file.is_some() || self.new_root_key_file.is_some() {
                    return Err(misplaced("--key-shares / --new-passphrase-file / --new-root-key-file").into());
                }
                Ok(ops::NewSource::Protected(Box::new(
                    self.protector_config(self.new_seal),
                )))
            }
        }
    }
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
            let (current, new) = (args.current()?, args.new_source()?);
            let target = args.database.target()?;
            let rekeyed = ops::rekey(&target, current, new).await?;
            // EXPOSE: the new shares are printed this once, for the operator to hand out.
            let shares: Vec<&str> = rekeyed.shares.iter().map(|s| s.expose_secret()).collect();
            if ctx.json {
                output::json(&serde_json::json!({
                    "keyring_versions": rekeyed.versions,
                    "seal": rekeyed.seal.as_str(),
                    "shares": shares,
                }))?;
                return Ok(());
            }
            outln!(
                "rekeyed: {} keyring versions now wrapped by the new root key; start the servers with --seal {}",
                rekeyed.versions,
                rekeyed.seal
            );
            for (n, share) in shares.iter().enumerate() {
                outln!("key share {}: {share}", n + 1);
            }
            if !shares.is_empty() {
                outln!("these shares are shown this once and kept nowhere: give one to each holder now");
            }
            Ok(())
        }
        OperatorCommand::Init(args) => init(ctx, args).await,
        OperatorCommand::Unseal(args) => unseal(ctx, args).await,
        OperatorCommand::Seal => {
            ctx.client.seal().await?;
            if ctx.json {
                output::json(&serde_json::json!({"sealed": true}))?;
            } else {
                outln!("sealed: the server dropped every key; `sealbox operator unseal` brings it back");
            }
            Ok(())
        }
        OperatorCommand::SealStatus => {
            let status = ctx.client.seal_status().await?;
            if ctx.json {
                output::json(&status)?;
            } else {
                outln!("{}", describe_seal(&status));
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

async fn init(ctx: &Ctx, args: InitArgs) -> anyhow::Result<()> {
    let request = match (args.key_shares, args.key_threshold) {
        (Some(shares), Some(threshold)) => sealbox_types::InitRequest {
            key_shares: Some(shares),
            key_threshold: Some(threshold),
            passphrase: None,
        },
        _ => {
            let status = ctx.client.seal_status().await?;
            if status.seal == "shamir" {
                return Err(UsageError("--seal shamir: give --key-shares N and --key-threshold M".into()).into());
            }
            let passphrase = read_secret(args.passphrase_file.as_deref(), "passphrase", true)?;
            sealbox_types::InitRequest {
                // EXPOSE: the passphrase goes into the request body only.
                passphrase: Some(passphrase.expose_secret().to_owned()),
                ..Default::default()
            }
        }
    };
    let answer = ctx.client.init(&request).await?;
    if ctx.json {
        return output::json(&serde_json::json!({"shares": answer.shares, "status": answer.status}));
    }
    if answer.shares.is_empty() {
        outln!(
            "initialised --seal {}; unseal it with `sealbox operator unseal`",
            answer.status.seal
        );
        return Ok(());
    }
    for (n, share) in answer.shares.iter().enumerate() {
        outln!("key share {}: {share}", n + 1);
    }
    outln!(
        "\n{} shares made; any {} of them unseal the server. They are shown this once and kept nowhere: \
         give one to each holder now. Unseal with `sealbox operator unseal` (one share per run).",
        answer.shares.len(),
        answer.status.threshold
    );
    Ok(())
}

async fn unseal(ctx: &Ctx, args: UnsealArgs) -> anyhow::Result<()> {
    let status = ctx.client.seal_status().await?;
    let mut request = sealbox_types::UnsealRequest {
        reset: args.reset,
        ..Default::default()
    };
    if status.sealed && !args.reset {
        match status.seal.as_str() {
            "shamir" => {
                let share = read_secret(args.share_file.as_deref(), "key share", false)?;
                // EXPOSE: the share goes into the request body only.
                request.share = Some(share.expose_secret().trim().to_owned());
            }
            "passphrase" => {
                let passphrase = read_secret(args.passphrase_file.as_deref(), "passphrase", false)?;
                // EXPOSE: the passphrase goes into the request body only.
                request.passphrase = Some(passphrase.expose_secret().to_owned());
            }
            _ => {}
        }
    }
    let status = ctx.client.unseal(&request).await?;
    if ctx.json {
        output::json(&status)?;
    } else {
        outln!("{}", describe_seal(&status));
    }
    Ok(())
}

/// A passphrase or share from `file` (`-`: stdin), else asked at the terminal (twice when
/// `confirm`), else read from stdin. One trailing newline is dropped.
fn read_secret(file: Option<&std::path::Path>, what: &str, confirm: bool) -> anyhow::Result<SecretString> {
    let text = match file {
        Some(path) if path == std::path::Path::new("-") => crate::input::read_stdin()?,
        Some(path) => SecretString::from(
            std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} from {}", path.display()))?,
        ),
        None if crate::stdin_is_terminal() => {
            let typed =
                rpassword::prompt_password(format!("{what}: ")).with_context(|| format!("cannot read the {what}"))?;
            if confirm {
                let again = rpassword::prompt_password(format!("{what} again: "))
                    .with_context(|| format!("cannot read the {what}"))?;
                if again != typed {
                    return Err(UsageError(format!("the two {what}s differ; nothing was changed")).into());
                }
            }
            SecretString::from(typed)
        }
        None => crate::input::read_stdin()?,
    };
    let text = crate::input::strip_newline(text);
    if text.expose_secret().is_empty() {
        return Err(UsageError(format!("the {what} is empty")).into());
    }
    Ok(text)
}

/// One line: sealed or not, the source, and what unsealing waits for.
fn describe_seal(s: &sealbox_types::SealStatus) -> String {
    if !s.sealed {
        return format!("unsealed (--seal {})", s.seal);
    }
    let mut line = format!("sealed (--seal {})", s.seal);
    if !s.initialized {
        line.push_str(": a new database; set it up with `sealbox operator init`");
    } else if s.threshold > 0 {
        line.push_str(&format!(
            ": {} of {} key shares given; {} more needed",
            s.progress,
            s.threshold,
            s.threshold.saturating_sub(s.progress)
        ));
    } else if s.seal == "passphrase" {
        line.push_str(": waiting for the passphrase");
    }
    if let Some(error) = &s.error {
        line.push_str(&format!("; {error}"));
    }
    line
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
