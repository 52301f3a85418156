//! `sealbox server --config FILE` (or `SEALBOX_CONFIG`): a TOML file of server settings.
//!
//! The keys are not listed here: every flag of `sealbox server` is a key, named by its long
//! flag with `_` for `-` (`--data-dir` is `data_dir`), read from the clap definition. A value
//! from the file becomes that flag's default, so its `SEALBOX_*` variable overrides it and the
//! flag overrides both (clap's own order: flag, then variable, then default). A flag added to
//! `ServerArgs` is a key without any code here.

use std::any::TypeId;
use std::ffi::OsString;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};
use toml::de::{DeTable, DeValue};

/// The argument id (and long flag) of the config file.
const CONFIG: &str = "config";
/// The variable that names the config file when `--config` is absent.
const CONFIG_ENV: &str = "SEALBOX_CONFIG";
/// A config file is a few lines; anything this large is the wrong file.
const MAX_BYTES: u64 = 1024 * 1024;

/// `--config FILE`, for the server's command.
pub fn arg() -> Arg {
    Arg::new(CONFIG)
        .long(CONFIG)
        .env(CONFIG_ENV)
        .value_name("FILE")
        .value_parser(clap::value_parser!(PathBuf))
        .help(
            "A TOML file of settings: each key is a flag of this command with _ for - \
             (e.g. data_dir); variables override the file, flags override both",
        )
}

/// A config file that cannot be used: what is wrong, where, and what to do.
#[derive(Debug)]
pub struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The whole command with the server's defaults taken from its config file, when the command
/// line runs `sealbox server` with `--config` or `SEALBOX_CONFIG`; else `cmd` unchanged.
/// `server` is the name of the server's subcommand.
pub fn apply(cmd: Command, server: &str, args: &[OsString]) -> Result<Command, ConfigError> {
    let Some(path) = requested(&cmd, server, args) else {
        return Ok(cmd);
    };
    let Some(server_cmd) = cmd.find_subcommand(server) else {
        return Ok(cmd);
    };
    // The parent's global options (`--addr`, `--json`) are the client's, not server settings.
    let client_globals: Vec<&str> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().as_str())
        .collect();
    let settings = read(&path, server_cmd, &client_globals)?;
    Ok(cmd.mut_subcommand(server, |mut sub| {
        for setting in settings {
            sub = sub.mut_arg(&setting.id, |a| {
                // A value kept out of `--help` as a variable stays out of it from the file too.
                let hide = a.is_hide_env_values_set();
                a.default_values(setting.values).hide_default_value(hide)
            });
        }
        sub
    }))
}

/// The config file named on the command line or in `SEALBOX_CONFIG`, when it runs the server.
/// A command line clap refuses names none: the real parse reports it.
fn requested(cmd: &Command, server: &str, args: &[OsString]) -> Option<PathBuf> {
    let matches = cmd.clone().ignore_errors(true).try_get_matches_from(args).ok()?;
    let (name, sub) = matches.subcommand()?;
    if name != server {
        return None;
    }
    sub.try_get_one::<PathBuf>(CONFIG).ok().flatten().cloned()
}

/// One key of the file as the default values of its argument.
struct Setting {
    id: String,
    values: Vec<String>,
}

/// What a key's value must be in TOML, from its argument's action and value type.
#[derive(Clone, Copy)]
enum Expected {
    /// A flag without a value: `true` means the flag is given.
    Flag {
        given_is: bool,
    },
    Boolean,
    Integer,
    Float,
    String,
}

impl Expected {
    fn of(arg: &Arg) -> Option<(Expected, bool)> {
        let many = match arg.get_action() {
            ArgAction::SetTrue => return Some((Expected::Flag { given_is: true }, false)),
            ArgAction::SetFalse => return Some((Expected::Flag { given_is: false }, false)),
            ArgAction::Set => false,
            ArgAction::Append => true,
            // Help, version and counters are not settings.
            _ => return None,
        };
        let ty = arg.get_value_parser().type_id();
        let integers = [
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i8>(),
            TypeId::of::<i16>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
            TypeId::of::<isize>(),
        ];
        let expected = if integers.iter().any(|t| ty == *t) {
            Expected::Integer
        } else if ty == TypeId::of::<f64>() || ty == TypeId::of::<f32>() {
            Expected::Float
        } else if ty == TypeId::of::<bool>() {
            Expected::Boolean
        } else {
            Expected::String
        };
        Some((expected, many))
    }

    fn describe(self) -> &'static str {
        match self {
            Expected::Flag { .. } | Expected::Boolean => "true or false",
            Expected::Integer => "a whole number",
            Expected::Float => "a number",
            Expected::String => "a quoted string",
        }
    }

    /// The value as clap would take it on the command line, or `None` when it has the wrong type.
    fn text(self, value: &DeValue<'_>) -> Option<String> {
        match (self, value) {
            (Expected::Flag { given_is }, DeValue::Boolean(b)) => Some((*b == given_is).to_string()),
            (Expected::Boolean, DeValue::Boolean(b)) => Some(b.to_string()),
            (Expected::Integer | Expected::Float, DeValue::Integer(i)) => {
                i128::from_str_radix(i.as_str(), i.radix()).ok().map(|i| i.to_string())
            }
            (Expected::Float, DeValue::Float(f)) => Some(f.as_str().to_owned()),
            (Expected::String, DeValue::String(s)) => Some(s.to_string()),
            _ => None,
        }
    }
}

/// Reads and checks the file: every key names a server flag, every value has its type and
/// passes its flag's own check, and a secret is not readable by other users.
fn read(path: &Path, server: &Command, client_globals: &[&str]) -> Result<Vec<Setting>, ConfigError> {
    let shown = path.display();
    let (text, mode) = read_file(path)?;
    let line_of = |offset: usize| text.get(..offset).unwrap_or_default().matches('\n').count() + 1;
    let table = DeTable::parse(&text).map_err(|e| {
        // The message and the line only: toml's rendering quotes the line, which may hold a
        // password.
        let line = e
            .span()
            .map(|s| format!(" line {}", line_of(s.start)))
            .unwrap_or_default();
        ConfigError(format!("{shown}{line}: not valid TOML: {}", e.message().trim_end()))
    })?;

    let keys: Vec<(String, &Arg, Expected, bool)> = server
        .get_arguments()
        .filter(|a| {
            let id = a.get_id().as_str();
            id != CONFIG && !client_globals.contains(&id)
        })
        .filter_map(|a| {
            let key = a.get_long()?.replace('-', "_");
            let (expected, many) = Expected::of(a)?;
            Some((key, a, expected, many))
        })
        .collect();

    let mut settings = Vec::new();
    for (key, value) in table.get_ref() {
        let line = line_of(key.span().start);
        let name = key.get_ref().as_ref();
        let at = format!("{shown} line {line}");
        let Some((_, arg, expected, many)) = keys.iter().find(|(k, ..)| k == name) else {
            let hint = if keys.iter().any(|(k, ..)| *k == name.replace('-', "_")) {
                format!(" (did you mean `{}`?)", name.replace('-', "_"))
            } else {
                String::new()
            };
            let known: Vec<&str> = keys.iter().map(|(k, ..)| k.as_str()).collect();
            return Err(ConfigError(format!(
                "{at}: unknown key `{name}`{hint}; the keys are the flags of `sealbox server` \
                 with _ for -: {}",
                known.join(", ")
            )));
        };
        let wrong_type = || {
            let want = expected.describe();
            let want = if *many {
                format!("a list of {want}s")
            } else {
                want.to_owned()
            };
            ConfigError(format!("{at}: `{name}` must be {want}"))
        };
        let values = match (value.get_ref(), many) {
            (DeValue::Array(items), true) => items
                .iter()
                .map(|item| expected.text(item.get_ref()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(wrong_type)?,
            (_, true) => return Err(wrong_type()),
            (single, false) => vec![expected.text(single).ok_or_else(wrong_type)?],
        };
        if !matches!(expected, Expected::Flag { .. }) {
            for v in &values {
                check_value(arg, v).map_err(|reason| ConfigError(format!("{at}: `{name}`: {reason}")))?;
            }
        }
        if arg.is_hide_env_values_set() && mode & 0o077 != 0 && values.iter().any(|v| may_hold_secret(v)) {
            let instead = arg
                .get_env()
                .map(|env| format!(", or leave `{name}` out of the file and set {}", env.to_string_lossy()))
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "{at}: `{name}` holds a password, and other users may read {shown} (mode {:04o}): \
                 run `chmod 600 {shown}`{instead}",
                mode & 0o7777
            )));
        }
        settings.push(Setting {
            id: arg.get_id().as_str().to_owned(),
            values,
        });
    }
    Ok(settings)
}

/// The file's text and permission bits. A symbolic link is followed (the target's mode counts).
fn read_file(path: &Path) -> Result<(String, u32), ConfigError> {
    let shown = path.display();
    let cannot = |e: std::io::Error| ConfigError(format!("cannot read the config file {shown}: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if meta.is_dir() {
        return Err(ConfigError(format!(
            "the config file {shown} is a directory; name the TOML file itself, e.g. {}",
            path.join("sealbox.toml").display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(ConfigError(format!(
            "the config file {shown} is larger than {MAX_BYTES} bytes; is it the right file?"
        )));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| ConfigError(format!("the config file {shown} is not UTF-8 text")))?;
    Ok((text, meta.permissions().mode()))
}

/// Runs the value through its flag's own parser (ranges, possible values), so a bad value is
/// reported with its line instead of as a flag that was never typed. The reason leaves the value
/// out: it may be a secret.
fn check_value(arg: &Arg, value: &str) -> Result<(), String> {
    let probe = Arg::new("value")
        .long("value")
        .action(arg.get_action().clone())
        .value_parser(arg.get_value_parser().clone());
    let mut cmd = Command::new("sealbox").arg(probe);
    match cmd.try_get_matches_from_mut(["sealbox", "--value", value]) {
        Ok(_) => Ok(()),
        Err(e) => {
            use std::error::Error as _;
            let reason = match (e.source(), e.get(clap::error::ContextKind::ValidValue)) {
                (Some(source), _) => source.to_string(),
                (None, Some(valid)) => format!("must be one of {valid}"),
                (None, None) => e.kind().to_string(),
            };
            Err(format!("invalid value ({reason})"))
        }
    }
}

/// True unless the value is a URL without a password (`postgres://sealbox@db/sealbox` is not a
/// secret; `postgres://sealbox:pw@db/sealbox` and `...?password=pw` are, and so is anything that
/// is not a URL).
fn may_hold_secret(value: &str) -> bool {
    match url::Url::parse(value) {
        Ok(url) => url.password().is_some() || url.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("password")),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::ffi::OsString;
    use std::os::unix::fs::PermissionsExt as _;

    use clap::parser::ValueSource;

    use super::{ConfigError, may_hold_secret};

    const EXAMPLE: &str = include_str!("../../../deploy/sealbox.example.toml");

    /// `sealbox server --config FILE` parsed, with `text` as FILE (mode 0600).
    fn server_matches(text: &str) -> Result<clap::ArgMatches, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sealbox.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let args: Vec<OsString> = vec!["sealbox".into(), "server".into(), "--config".into(), path.into()];
        let mut cmd = super::apply(crate::command(), "server", &args)?;
        let matches = cmd.try_get_matches_from_mut(args).unwrap();
        Ok(matches.subcommand_matches("server").unwrap().clone())
    }

    /// The server's keys that `--help` shows (the hidden ones are for tests).
    fn documented_keys() -> Vec<String> {
        let cmd = crate::command();
        let server = cmd.find_subcommand("server").unwrap();
        server
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_id() != super::CONFIG)
            .filter(|a| {
                matches!(
                    a.get_action(),
                    clap::ArgAction::Set
                        | clap::ArgAction::Append
                        | clap::ArgAction::SetTrue
                        | clap::ArgAction::SetFalse
                )
            })
            .filter_map(|a| a.get_long().map(|l| l.replace('-', "_")))
            .collect()
    }

    #[test]
    fn the_example_file_loads_and_its_values_become_the_defaults() {
        let matches = server_matches(EXAMPLE).unwrap();
        let data_dir = matches.get_one::<std::path::PathBuf>("data_dir").unwrap();
        assert_eq!(data_dir, std::path::Path::new("/var/lib/sealbox"));
        assert_eq!(matches.value_source("data_dir"), Some(ValueSource::DefaultValue));
        assert_eq!(matches.get_one::<u64>("action_timeout_secs"), Some(&10));
    }

    #[test]
    fn the_example_file_names_every_setting_and_each_loads_uncommented() {
        let keys = documented_keys();
        let uncommented: String = EXAMPLE
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if keys.iter().any(|k| rest.starts_with(&format!("{k} = "))) => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let matches = server_matches(&uncommented).unwrap_or_else(|e| panic!("{e}"));
        let missing: Vec<&String> = keys
            .iter()
            .filter(|k| !uncommented.lines().any(|l| l.starts_with(&format!("{k} = "))))
            .collect();
        assert!(
            missing.is_empty(),
            "deploy/sealbox.example.toml lacks these settings of `sealbox server` (add each, \
             commented out with a line saying what it does): {missing:?}"
        );
        assert_eq!(
            matches.get_one::<std::path::PathBuf>("tls_key").unwrap(),
            std::path::Path::new("/etc/sealbox/tls/privkey.pem")
        );
    }

    #[test]
    fn a_flag_that_takes_no_value_is_a_boolean_key() {
        let matches = server_matches("insecure_http = true\n").unwrap();
        assert!(matches.get_flag("insecure_http"));
        let matches = server_matches("insecure_http = false\n").unwrap();
        assert!(!matches.get_flag("insecure_http"));
    }

    #[test]
    fn a_url_holds_a_secret_only_with_a_password() {
        assert!(!may_hold_secret("postgres://sealbox@db.internal/sealbox"));
        assert!(!may_hold_secret("postgres://db.internal/sealbox?sslmode=require"));
        assert!(may_hold_secret("postgres://sealbox:pw@db.internal/sealbox"));
        assert!(may_hold_secret("postgres://sealbox@db.internal/sealbox?PASSWORD=pw"));
        assert!(may_hold_secret("host=db password=pw"));
    }
}
