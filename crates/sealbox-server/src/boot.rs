//! Start-up: logging, process hardening, the store, the key source, the first workspace, TLS,
//! and the background trash sweep.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sealbox_core::{BootstrapCredentials, Sealbox, SystemClock};
use sealbox_crypto::ExposeSecret;
use sealbox_store::{
    AuditChainKey, LockMode, PostgresStore, ServerLock, SqliteStore, StartupState, Store, StoreOptions,
};

use sealbox_seal::ProtectorError;

use crate::seal::{KeyOrigin, KeySource, LoadedKey, ROOT_KEY_ENV, ROOT_KEY_VERSION, SealRecord};
use crate::sealing::{Bootstrapped, Sealing, Services};
use crate::{AppState, Config};

/// The e-mail of the owner created on first start.
pub const BOOTSTRAP_EMAIL: &str = "admin@sealbox.local";
pub const BOOTSTRAP_WORKSPACE: &str = sealbox_core::SERVER_WORKSPACE;

/// A prepared server: sealed, or unsealed with its application, and what the first start created.
pub struct Prepared {
    pub sealing: Sealing,
    /// The owner created on first start; `None` when the workspace existed (or the server is
    /// sealed: the first unseal bootstraps then).
    pub bootstrap: Option<BootstrapCredentials>,
    /// Where those credentials were written (mode 0600).
    pub bootstrap_file: Option<PathBuf>,
    sqlite: Option<Arc<SqliteStore>>,
    postgres: Option<Arc<PostgresStore>>,
    /// Held shared while the server runs: an offline rekey or restore is refused meanwhile.
    _server_lock: ServerLock,
}

impl Prepared {
    /// The running application; `None` while the server is sealed.
    pub fn state(&self) -> Option<AppState> {
        self.sealing.state()
    }

    /// Lets queued writes finish (SQLite) or chains the pending audit events (PostgreSQL); call
    /// after the server stopped, before sealing it.
    pub async fn close(&self) {
        if let Some(sqlite) = &self.sqlite {
            sqlite.close().await;
        }
        if let Some(postgres) = &self.postgres {
            postgres.close().await;
        }
    }
}

/// Opens the store and checks it, then unseals the server with a source that hands the key over
/// by itself (`--seal file`), bootstrapping the first workspace on first start; with a source
/// that needs a person the server stays sealed until `sealbox operator unseal`.
pub async fn prepare(config: &Config) -> anyhow::Result<Prepared> {
    create_private_dir(&config.data_dir)?;
    // The senders first: a bad --extra-ca-file stops the start before anything is opened.
    let dispatcher = crate::dispatch::OutboundDispatcher::from_config(config, Arc::new(SystemClock))?;
    let issuer_keys = crate::jwks::HttpsIssuerKeys::from_config(config)?;
    // Likewise bad single sign-on settings (the provider itself is asked only when needed).
    let oidc = match &config.oidc {
        Some(oidc) => Some(Arc::new(crate::Oidc::new(
            oidc.clone(),
            config.extra_ca_file.as_deref(),
        )?)),
        None => None,
    };
    if config.password_break_glass {
        tracing::warn!(
            "--password-break-glass: owners may sign in with a password even where a workspace turned passwords off"
        );
    }
    let metrics = Arc::new(sealbox_metrics::Metrics::new());
    let options = StoreOptions {
        timeout: Duration::from_secs(config.database_timeout_secs.max(1)),
        metrics: metrics.clone(),
    };
    // Opened without the audit chain's key: it derives from the root key, given at unseal.
    let (store, sqlite, postgres): (Arc<dyn Store>, _, _) = match &config.database_url {
        Some(url) => {
            let postgres = Arc::new(open_postgres(url, None, options).await?);
            (postgres.clone() as Arc<dyn Store>, None, Some(postgres))
        }
        None => {
            let sqlite = Arc::new(open_sqlite(&config.data_dir, None, options).await?);
            (sqlite.clone() as Arc<dyn Store>, Some(sqlite), None)
        }
    };
    let server_lock = match (&sqlite, &postgres) {
        (Some(sqlite), _) => sqlite.server_lock(LockMode::Shared)?,
        (_, Some(postgres)) => postgres.server_lock(LockMode::Shared).await?,
        (None, None) => None,
    };
    let Some(server_lock) = server_lock else {
        anyhow::bail!(
            "`sealbox operator rekey` or `restore` is working on {}: start the server once it has finished",
            describe_database(config)
        );
    };
    // Before anything is written: a database that lost rows is refused, never bootstrapped again.
    let startup = store.startup_state().await.context("cannot read the database")?;
    refuse_incomplete(&startup, &describe_database(config))?;
    let record = SealRecord::read(&*store).await?;
    let has_key = Sealbox::root_key_recorded(&*store, ROOT_KEY_VERSION).await?;
    crate::seal::check_kind(config.seal, record.as_ref(), has_key)?;
    let source = KeySource::from_config(config)?;
    let services = Services {
        metrics,
        dispatcher: Arc::new(dispatcher),
        issuer_keys: Arc::new(issuer_keys),
        oidc,
    };
    let sealing = Sealing::new(config.clone(), source, store, services, record);
    let bootstrapped = if config.seal.needs_person() {
        tracing::warn!(
            source = config.seal.as_str(),
            "sealed: waiting for `sealbox operator unseal`{}",
            if has_key {
                ""
            } else {
                " (a new database: run `sealbox operator init` first)"
            }
        );
        None
    } else {
        match sealing.unseal_automatically().await {
            Ok(bootstrapped) => bootstrapped,
            // KMS or the HSM could not be reached: serve sealed and keep trying.
            Err(e)
                if e.downcast_ref::<ProtectorError>()
                    .is_some_and(ProtectorError::is_transient) =>
            {
                sealing.retry_unseal_in_background(&e);
                None
            }
            Err(e) => return Err(e),
        }
    };
    let (bootstrap, bootstrap_file) = match bootstrapped {
        Some(b) => (Some(b.credentials), Some(b.path)),
        None => (None, None),
    };
    Ok(Prepared {
        sealing,
        bootstrap,
        bootstrap_file,
        sqlite,
        postgres,
        _server_lock: server_lock,
    })
}

/// `--seal file` found no key file: writes the new key there before the database records it, so
/// a failed write cannot leave a database tied to a key that was never saved. Refused when the
/// database already has a key (the file was lost or the path is wrong).
pub(crate) async fn write_generated_key(store: &dyn Store, key: &LoadedKey) -> anyhow::Result<()> {
    let (KeyOrigin::Generated(path), Some(encoded)) = (&key.origin, &key.new_file_contents) else {
        return Ok(());
    };
    if Sealbox::root_key_recorded(store, key.key.version()).await? {
        anyhow::bail!(
            "no root key at {} but this database was created with one: restore the key file (or set {ROOT_KEY_ENV}) and start again",
            path.display()
        );
    }
    // EXPOSE: written once to a 0600 file that only the server reads.
    write_private_file(path, encoded.expose_secret().as_bytes())
        .with_context(|| format!("cannot write the root key file {}", path.display()))?;
    tracing::info!(path = %path.display(), "created a new root key file; back it up: without it the data cannot be read");
    Ok(())
}

/// Bootstraps the first workspace and owner when this database is new (marked by its own first
/// migration and holding no workspace), writing the credentials to `bootstrap.json` (0600).
pub(crate) async fn bootstrap_first_owner(
    core: &Sealbox,
    store: &Arc<dyn Store>,
    config: &Config,
) -> anyhow::Result<Option<Bootstrapped>> {
    let startup = store.startup_state().await.context("cannot read the database")?;
    if !(startup.bootstrap_pending && startup.workspaces == 0) {
        return Ok(None);
    }
    // The credentials file must be writable before the owner exists, or they would be lost.
    let path = config.data_dir.join("bootstrap.json");
    write_private_file(&path, b"").with_context(|| format!("cannot write {}", path.display()))?;
    let Some(credentials) = core
        .bootstrap(BOOTSTRAP_WORKSPACE, BOOTSTRAP_EMAIL)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    else {
        // Another replica bootstrapped at the same moment and holds the credentials.
        let _ = std::fs::remove_file(&path);
        return Ok(None);
    };
    // EXPOSE: the first owner's credentials go to a 0600 file for the operator, once.
    let json = serde_json::json!({
        "workspace": credentials.workspace,
        "email": credentials.email,
        "password": credentials.password.expose_secret(),
        "token": credentials.token.expose_secret(),
    });
    write_private_file(&path, format!("{json:#}\n").as_bytes()).context("cannot write bootstrap.json")?;
    Ok(Some(Bootstrapped { credentials, path }))
}

/// Names the database for messages: the SQLite file or "the PostgreSQL database".
fn describe_database(config: &Config) -> String {
    match &config.database_url {
        Some(_) => "the PostgreSQL database".into(),
        None => config.data_dir.join("sealbox.db").display().to_string(),
    }
}

/// Refuses a database that was initialised before but lost rows: one without any workspace that
/// no start is bootstrapping, or one whose audit chain head does not match its events.
fn refuse_incomplete(state: &StartupState, database: &str) -> anyhow::Result<()> {
    const WAY_OUT: &str = "take backups with `sealbox operator backup` and restore one with \
        `sealbox operator restore` (a copy of a running server's sealbox.db without its -wal file is incomplete)";
    if let Some(broken) = state.broken_chains.first() {
        anyhow::bail!(
            "{database} is incomplete: the audit chain of workspace {:?} ends at event {} but its last event is {}; \
             refusing to start on it. {WAY_OUT}",
            broken.workspace,
            broken.head_seq,
            broken.last_event_seq
        );
    }
    if state.workspaces == 0 && !state.bootstrap_pending {
        anyhow::bail!(
            "{database} was initialised before but holds no workspace; refusing to start on it rather than \
             bootstrap a new, empty one. {WAY_OUT}"
        );
    }
    Ok(())
}

/// Connects to the PostgreSQL database at `url` and migrates it.
pub(crate) async fn open_postgres(
    url: &str,
    chain_key: Option<AuditChainKey>,
    options: StoreOptions,
) -> anyhow::Result<PostgresStore> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        anyhow::bail!("--database-url: expected postgres://user@host:port/database");
    }
    PostgresStore::connect_with(url, chain_key, options)
        .await
        .context("cannot open the PostgreSQL database")
}

/// Opens (creating them private) `data_dir` and its `sealbox.db`, and migrates the database.
pub(crate) async fn open_sqlite(
    data_dir: &Path,
    chain_key: Option<AuditChainKey>,
    options: StoreOptions,
) -> anyhow::Result<SqliteStore> {
    create_private_dir(data_dir)?;
    let path = data_dir.join("sealbox.db");
    // Created 0600 before SQLite opens it; its WAL and shared-memory files inherit the mode.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create the SQLite database {}", path.display()))?;
    SqliteStore::open_with(&path, chain_key, options)
        .await
        .with_context(|| format!("cannot open the SQLite database {}", path.display()))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Logs go to stderr through a background writer, so a request never waits on a write syscall;
/// nothing is dropped (a full buffer makes loggers wait). Keep the guard until exit: dropping it
/// flushes what is buffered.
pub fn init_logging(config: &Config) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level).with_context(|| {
        format!(
            "--log-level {:?}: expected e.g. info, debug or sealbox=trace",
            config.log_level
        )
    })?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let result = if config.log_json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // Already initialised (e.g. in tests): keep the existing subscriber.
    drop(result);
    Ok(guard)
}

/// No core dumps: a dump would hold keys and values in plaintext.
pub fn harden_process() {
    let no_core = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    let not_dumpable = nix::sys::prctl::set_dumpable(false);
    if no_core.is_err() || not_dumpable.is_err() {
        tracing::warn!("could not disable core dumps");
    }
}

pub async fn tls_config(config: &Config) -> anyhow::Result<Option<axum_server::tls_rustls::RustlsConfig>> {
    match (&config.tls_cert, &config.tls_key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| {
                    format!(
                        "cannot load TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            Ok(Some(tls))
        }
        _ => anyhow::bail!("give both --tls-cert and --tls-key, or neither"),
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

pub async fn sweep_trash_forever(core: Arc<Sealbox>) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        match core.sweep_trash().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "trash retention: purged expired secrets"),
            Err(e) => tracing::warn!(error = %e, "trash retention sweep failed"),
        }
        match core.sweep_expired_exchanged_tokens().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "deleted exchanged (JWT) tokens expired over a day ago"),
            Err(e) => tracing::warn!(error = %e, "sweep of expired exchanged tokens failed"),
        }
    }
}
