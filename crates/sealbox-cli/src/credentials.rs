//! The session tokens `sealbox login` keeps, one per server, so later commands need no
//! `export`: `credentials.json` in `$XDG_CONFIG_HOME/sealbox/` (else `~/.config/sealbox/`).
//!
//! The directory is made 0700 and the file 0600, replaced atomically (a new file beside it,
//! synced, renamed over it); a change holds `credentials.lock`, so two logins at once (to two
//! servers) both stay. A file that others may read, a symbolic link or anything but a
//! regular file is refused, never read. Servers are keyed by scheme, host and port
//! (`ServerKey`), so `http://127.0.0.1:8270` and `http://127.0.0.1:8270/` share one entry.
//! `SEALBOX_TOKEN` wins over a stored token, and then the file is not read at all.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use nix::libc;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "credentials.json";
const LOCK_NAME: &str = "credentials.lock";
const FORMAT_VERSION: u32 = 1;

/// A server as credentials are keyed: `scheme://host:port`, the port written out even when it
/// is the scheme's default, the path left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKey(String);

impl ServerKey {
    pub fn of(addr: &str) -> anyhow::Result<ServerKey> {
        let url = url::Url::parse(addr.trim())
            .map_err(|e| crate::UsageError(format!("invalid server address {addr:?}: {e}")))?;
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            crate::usage!("invalid server address {addr:?}: it needs a host, e.g. http://127.0.0.1:8270");
        };
        Ok(ServerKey(format!(
            "{}://{}:{port}",
            url.scheme(),
            host.to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `sealbox login` stored for one server. No `Debug`: it holds the token.
pub struct StoredSession {
    pub token: SecretString,
    pub email: String,
    pub workspace: String,
    pub expires_at: String,
}

/// Where a command's token came from.
pub enum TokenSource {
    /// `SEALBOX_TOKEN`.
    Env,
    /// `sealbox login`'s file, for this server.
    Stored {
        file: PathBuf,
        email: String,
        expires_at: String,
    },
    None,
}

impl TokenSource {
    /// `env`, `stored` or `none`, as `status --json` says it.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenSource::Env => "env",
            TokenSource::Stored { .. } => "stored",
            TokenSource::None => "none",
        }
    }
}

/// The token for `server`: `SEALBOX_TOKEN` when set (the file is then not read), else the one
/// stored for `server`, else none.
pub fn resolve_token(server: &ServerKey) -> anyhow::Result<(Option<SecretString>, TokenSource)> {
    let from_env = std::env::var("SEALBOX_TOKEN").ok().filter(|t| !t.trim().is_empty());
    if let Some(token) = from_env {
        return Ok((Some(SecretString::from(token.trim().to_owned())), TokenSource::Env));
    }
    let Some(store) = CredentialStore::locate() else {
        return Ok((None, TokenSource::None));
    };
    Ok(match store.get(server)? {
        Some(session) => (
            Some(session.token),
            TokenSource::Stored {
                file: store.file(),
                email: session.email,
                expires_at: session.expires_at,
            },
        ),
        None => (None, TokenSource::None),
    })
}

/// The credentials file and the directory that holds it.
pub struct CredentialStore {
    dir: PathBuf,
}

/// The file as it is on disk. No `Debug`: it holds tokens.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    version: u32,
    servers: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    token: String,
    email: String,
    workspace: String,
    expires_at: String,
}

impl CredentialStore {
    /// `$XDG_CONFIG_HOME/sealbox` (an absolute path), else `$HOME/.config/sealbox`; none when
    /// neither is set.
    pub fn locate() -> Option<CredentialStore> {
        let absolute = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute());
        let config = absolute("XDG_CONFIG_HOME").or_else(|| absolute("HOME").map(|home| home.join(".config")))?;
        Some(CredentialStore {
            dir: config.join("sealbox"),
        })
    }

    /// Like [`CredentialStore::locate`], or an error saying what to set.
    pub fn locate_or_explain() -> anyhow::Result<CredentialStore> {
        match CredentialStore::locate() {
            Some(store) => Ok(store),
            None => bail!(
                "cannot find your config directory to keep the token in: set HOME or XDG_CONFIG_HOME \
                 (or use `sealbox login --no-store` and SEALBOX_TOKEN)"
            ),
        }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    pub fn get(&self, server: &ServerKey) -> anyhow::Result<Option<StoredSession>> {
        let Some(mut file) = self.read()? else {
            return Ok(None);
        };
        Ok(file.servers.remove(server.as_str()).map(|e| StoredSession {
            token: SecretString::from(e.token),
            email: e.email,
            workspace: e.workspace,
            expires_at: e.expires_at,
        }))
    }

    /// Stores `session` for `server`, replacing what was stored for it.
    pub fn put(&self, server: &ServerKey, session: &StoredSession) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        let mut file = self.read()?.unwrap_or_default();
        let entry = Entry {
            // EXPOSE: the token goes into the 0600 credentials file, its purpose.
            token: session.token.expose_secret().to_owned(),
            email: session.email.clone(),
            workspace: session.workspace.clone(),
            expires_at: session.expires_at.clone(),
        };
        file.servers.insert(server.as_str().to_owned(), entry);
        self.write(file)
    }

    /// Forgets the token stored for `server`; false when there was none.
    pub fn remove(&self, server: &ServerKey) -> anyhow::Result<bool> {
        let _lock = self.lock()?;
        let Some(mut file) = self.read()? else {
            return Ok(false);
        };
        if file.servers.remove(server.as_str()).is_none() {
            return Ok(false);
        }
        if file.servers.is_empty() {
            let path = self.file();
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            return Ok(true);
        }
        self.write(file)?;
        Ok(true)
    }

    /// Waits for other changes to finish; the change is ours until the handle is dropped.
    /// (Reading takes no lock: the file is only ever replaced whole.)
    fn lock(&self) -> anyhow::Result<fs::File> {
        self.create_dir()?;
        let path = self.dir.join(LOCK_NAME);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .and_then(|file| file.lock().map(|()| file))
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    }

    fn create_dir(&self) -> anyhow::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))
    }

    /// The file's contents, none when it does not exist; refused when it is not a regular
    /// file of ours that only we may read.
    fn read(&self) -> anyhow::Result<Option<CredentialsFile>> {
        let path = self.file();
        let shown = path.display();
        let again = "sign in again with `sealbox login`";
        // O_NOFOLLOW: a link is refused by the open itself, not by a check it could race;
        // O_NONBLOCK: a FIFO put there does not hang the command.
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path);
        let mut file = match opened {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                bail!("{shown} is a symbolic link; sealbox does not read tokens through a link: remove it and {again}")
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {shown}")),
        };
        let meta = file.metadata().with_context(|| format!("cannot read {shown}"))?;
        if !meta.is_file() {
            bail!("{shown} is not a regular file: remove it and {again}");
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{shown} may be read by other users (mode {mode:04o}), so sealbox does not use the tokens in it: \
                 remove it and {again} (or, if nobody else could have read it, `chmod 600` it)"
            );
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("cannot read {shown}"))?;
        // serde's message could quote a piece of the file (a token): only the place is named.
        let parsed: CredentialsFile = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{shown} is not a sealbox credentials file (line {}, column {}): remove it and {again}",
                e.line(),
                e.column()
            )
        })?;
        if parsed.version != FORMAT_VERSION {
            bail!(
                "{shown} has format version {}, which this sealbox does not know: remove it and {again}",
                parsed.version
            );
        }
        Ok(Some(parsed))
    }

    /// Writes the whole file: a new 0600 file beside it, synced, renamed over it. Called under
    /// the lock, so the new file's one name is ours, and one a killed run left is replaced.
    fn write(&self, mut contents: CredentialsFile) -> anyhow::Result<()> {
        self.create_dir()?;
        let path = self.file();
        let temp = self.dir.join(format!(".{FILE_NAME}.tmp"));
        contents.version = FORMAT_VERSION;
        let text = serde_json::to_vec_pretty(&contents)?;
        let written = write_new(&temp, &text).and_then(|()| fs::rename(&temp, &path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
        // The rename is durable once the directory is synced.
        if let Ok(dir) = fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Creates `path` (0600, never through a link; a stale one from a killed run is replaced) with
/// `bytes`, synced to disk.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    };
    let mut file = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            open()?
        }
        other => other?,
    };
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_keyed_by_scheme_host_and_port() {
        let key = |a: &str| ServerKey::of(a).unwrap().as_str().to_owned();
        assert_eq!(key("http://127.0.0.1:8270"), "http://127.0.0.1:8270");
        assert_eq!(key("http://127.0.0.1:8270/"), "http://127.0.0.1:8270");
        assert_eq!(key(" HTTP://Sealbox.Example.COM/v1 "), "http://sealbox.example.com:80");
        assert_eq!(key("https://sealbox.example.com"), "https://sealbox.example.com:443");
        assert_eq!(
            key("https://sealbox.example.com:443/"),
            "https://sealbox.example.com:443"
        );
        assert_eq!(key("http://[::1]:8270"), "http://[::1]:8270");
        assert_ne!(key("http://127.0.0.1:8270"), key("https://127.0.0.1:8270"));
        assert_ne!(key("http://127.0.0.1:8270"), key("http://127.0.0.1:8271"));
        assert!(ServerKey::of("127.0.0.1:8270").is_err());
        assert!(ServerKey::of("localhost:8270").is_err());
        assert!(ServerKey::of("not a url").is_err());
    }
}
