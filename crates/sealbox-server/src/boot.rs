//! Start-up: logging, process hardening, the store, the root key, the first workspace, TLS, and
//! the background trash sweep.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sealbox_core::{BootstrapCredentials, CoreConfig, OpenError, Sealbox, SystemClock};
use sealbox_crypto::ExposeSecret;
use sealbox_store::{AuditChainKey, PostgresStore, SqliteStore, StartupState, Store, StoreOptions};

use crate::seal::{KeyOrigin, KeySource, ROOT_KEY_ENV};
use crate::{AppState, Config};

/// The e-mail of the owner created on first start.
pub const BOOTSTRAP_EMAIL: &str = "admin@sealbox.local";
pub const BOOTSTRAP_WORKSPACE: &str = sealbox_core::SERVER_WORKSPACE;

/// A ready application: its state, and what the first start created.
pub struct Prepared {
    pub state: AppState,
    /// The owner created on first start; `None` when the workspace existed.
    pub bootstrap: Option<BootstrapCredentials>,
    /// Where those credentials were written (mode 0600).
    pub bootstrap_file: Option<PathBuf>,
    sqlite: Option<Arc<SqliteStore>>,
}

impl Prepared {
    /// Lets queued writes finish; call after the server stopped.
    pub async fn close(&self) {
        if let Some(sqlite) = &self.sqlite {
            sqlite.close().await;
        }
    }
}

/// Opens the store, loads or creates the root key, checks it against the store, and bootstraps
/// the first workspace on first start.
pub async fn prepare(config: &Config) -> anyhow::Result<Prepared> {
    create_private_dir(&config.data_dir)?;
    // The senders first: a bad --extra-ca-file stops the start before anything is opened.
    let dispatcher = crate::dispatch::OutboundDispatcher::from_config(config, Arc::new(SystemClock))?;
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
    // The key comes first: the store seals the audit chain with a key derived from it.
    let key = KeySource::from_config(config).load_at_start()?;
    let chain_key = sealbox_core::audit_chain_key(&key.key);
    let metrics = Arc::new(sealbox_metrics::Metrics::new());
    let options = StoreOptions {
        timeout: Duration::from_secs(config.database_timeout_secs.max(1)),
        metrics: metrics.clone(),
    };
    let (store, sqlite): (Arc<dyn Store>, _) = match &config.database_url {
        Some(url) => (Arc::new(open_postgres(url, chain_key, options).await?), None),
        None => {
            let sqlite = Arc::new(open_sqlite(&config.data_dir, chain_key, options).await?);
            (sqlite.clone() as Arc<dyn Store>, Some(sqlite))
        }
    };
    // Before anything is written: a database that lost rows is refused, never bootstrapped again.
    let startup = store.startup_state().await.context("cannot read the database")?;
    refuse_incomplete(&startup, &describe_database(config))?;
    if let (KeyOrigin::Generated(path), Some(encoded)) = (&key.origin, &key.new_file_contents) {
        if Sealbox::root_key_recorded(&*store, key.key.version()).await? {
            anyhow::bail!(
                "no root key at {} but this database was created with one: restore the key file (or set {ROOT_KEY_ENV}) and start again",
                path.display()
            );
        }
        // Written before the database records the key, so a failed write cannot leave a database
        // tied to a key that was never saved.
        // EXPOSE: written once to a 0600 file that only the server reads.
        write_private_file(path, encoded.expose_secret().as_bytes())
            .with_context(|| format!("cannot write the root key file {}", path.display()))?;
        tracing::info!(path = %path.display(), "created a new root key file; back it up: without it the data cannot be read");
    }
    let core_config = CoreConfig {
        trash_retention_ms: i64::from(config.trash_retention_days) * 24 * 60 * 60 * 1000,
        sso_enabled: oidc.is_some(),
        password_break_glass: config.password_break_glass,
        ..CoreConfig::default()
    };
    let origin = key.describe_origin();
    let core = match Sealbox::open(store, key.key, Arc::new(SystemClock), core_config).await {
        Ok(core) => core.with_dispatcher(Arc::new(dispatcher)).with_metrics(metrics),
        Err(OpenError::WrongRootKey(e)) => anyhow::bail!("{e} ({origin})"),
        Err(e) => return Err(e.into()),
    };
    let core = Arc::new(core);
    // The credentials file must be writable before the owner exists, or they would be lost.
    let bootstrap_path = config.data_dir.join("bootstrap.json");
    // Only a database this start (or a replica starting with it) created is bootstrapped.
    let first_start = startup.bootstrap_pending && startup.workspaces == 0;
    let bootstrap = if first_start {
        write_private_file(&bootstrap_path, b"")
            .with_context(|| format!("cannot write {}", bootstrap_path.display()))?;
        core.bootstrap(BOOTSTRAP_WORKSPACE, BOOTSTRAP_EMAIL)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
    } else {
        None
    };
    let bootstrap_file = match &bootstrap {
        Some(creds) => {
            let path = bootstrap_path;
            // EXPOSE: the first owner's credentials go to a 0600 file for the operator, once.
            let json = serde_json::json!({
                "workspace": creds.workspace,
                "email": creds.email,
                "password": creds.password.expose_secret(),
                "token": creds.token.expose_secret(),
            });
            write_private_file(&path, format!("{json:#}\n").as_bytes()).context("cannot write bootstrap.json")?;
            Some(path)
        }
        None => {
            if first_start {
                // Another replica bootstrapped at the same moment and holds the credentials.
                let _ = std::fs::remove_file(&bootstrap_path);
            }
            None
        }
    };
    Ok(Prepared {
        state: AppState {
            core,
            panel: crate::PanelSettings {
                reveal_seconds: config.panel_reveal_seconds.clamp(1, 300),
                // Under TLS, or behind a proxy that terminates it (--insecure-http says so).
                secure_cookies: config.tls_cert.is_some() || config.insecure_http,
            },
            oidc,
        },
        bootstrap,
        bootstrap_file,
        sqlite,
    })
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
    chain_key: AuditChainKey,
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
    chain_key: AuditChainKey,
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
    }
}
