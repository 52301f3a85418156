//! Dev-only: a real Sealbox server on 127.0.0.1:0 with a temporary data directory, handed to
//! tests with its first owner's token.
//!
//! PostgreSQL: [`postgres_url`] gives each test its own schema on the database named by
//! `SEALBOX_TEST_DATABASE_URL`. Under `CI=true` an unset or unreachable database is a failure,
//! never a skip.

// Test support: failing loudly on a broken setup is the point.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use sealbox_server::{AppState, Config, Prepared};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub owner_email: String,
    pub owner_password: String,
    /// The first owner's personal access token.
    pub owner_token: String,
    pub state: AppState,
    /// The server's seal state (`sealbox_server::serve` another listener with it).
    pub sealing: sealbox_server::Sealing,
    pub config: Config,
    data_dir: Option<tempfile::TempDir>,
    prepared: Prepared,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

#[derive(Default, Clone)]
pub struct Options {
    /// `postgres://...`; SQLite in the data directory when absent.
    pub database_url: Option<String>,
    /// `--database-timeout-secs`; the server's default when absent.
    pub database_timeout_secs: Option<u64>,
    /// An existing data directory (to restart on the same data); a fresh temp dir when absent.
    pub data_dir: Option<PathBuf>,
    /// The root key file, e.g. another replica's; `data_dir/root.key` when absent.
    pub root_key_file: Option<PathBuf>,
    /// `--allow-private-destinations`: actions may reach 127.0.0.1 (the tests' local peers).
    pub allow_private_destinations: bool,
    /// `--extra-ca-file`: a test CA that actions and JWT issuers' key fetches trust (local TLS peers).
    pub extra_ca_file: Option<PathBuf>,
    /// `--insecure-http`: a proxy in front terminates TLS (the panel's cookies are `Secure`).
    pub insecure_http: bool,
    /// `--jwks-refetch-interval-secs`; the server's default when absent.
    pub jwks_refetch_interval_secs: Option<u64>,
    /// `--oidc-*`: single sign-on; an empty `redirect_url` becomes this server's `/sso/callback`.
    pub oidc: Option<sealbox_server::OidcConfig>,
    /// `--password-break-glass`.
    pub password_break_glass: bool,
}

impl TestServer {
    /// A server on SQLite in a fresh temporary directory.
    pub async fn start() -> TestServer {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TestServer {
        let (data_dir, path) = match options.data_dir {
            Some(p) => (None, p),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("data");
                (Some(dir), path)
            }
        };
        let mut config = Config::with_data_dir(path.clone());
        config.database_url = options.database_url;
        if let Some(secs) = options.database_timeout_secs {
            config.database_timeout_secs = secs;
        }
        config.root_key_file = options.root_key_file;
        config.allow_private_destinations = options.allow_private_destinations;
        config.extra_ca_file = options.extra_ca_file;
        config.insecure_http = options.insecure_http;
        if let Some(secs) = options.jwks_refetch_interval_secs {
            config.jwks_refetch_interval_secs = secs;
        }
        config.password_break_glass = options.password_break_glass;
        // Bound first: single sign-on's redirect address names the port.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        config.oidc = options.oidc.map(|mut oidc| {
            if oidc.redirect_url.is_empty() {
                oidc.redirect_url = format!("{url}/sso/callback");
            }
            oidc
        });
        let prepared = sealbox_server::prepare(&config).await.expect("server prepares");
        let creds = match &prepared.bootstrap {
            Some(c) => {
                use secrecy::ExposeSecret;
                (
                    c.email.clone(),
                    c.password.expose_secret().to_owned(),
                    c.token.expose_secret().to_owned(),
                )
            }
            None => read_bootstrap_file(&path).unwrap_or_default(),
        };
        let (tx, rx) = oneshot::channel::<()>();
        let state = prepared.state().expect("the server is unsealed");
        let task = tokio::spawn(sealbox_server::serve(listener, prepared.sealing.clone(), async {
            let _ = rx.await;
        }));
        TestServer {
            url,
            owner_email: creds.0,
            owner_password: creds.1,
            owner_token: creds.2,
            state,
            sealing: prepared.sealing.clone(),
            config,
            data_dir,
            prepared,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// The SDK, authenticated with `token`.
    pub fn client(&self, token: &str) -> sealbox_client::Client {
        sealbox_client::Client::new(&self.url, Some(token.to_owned().into())).expect("client")
    }

    /// The SDK as the first owner.
    pub fn owner(&self) -> sealbox_client::Client {
        self.client(&self.owner_token)
    }

    /// Stops the server gracefully and waits for queued writes; keeps the data directory.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        self.shutdown_now().await;
        self.data_dir.take()
    }

    async fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.prepared.close().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The credentials of an earlier first start in the same data directory, if any (a replica
/// joining a bootstrapped database has none of its own).
fn read_bootstrap_file(data_dir: &std::path::Path) -> Option<(String, String, String)> {
    let text = std::fs::read_to_string(data_dir.join("bootstrap.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).expect("bootstrap.json is JSON");
    let field = |k: &str| v[k].as_str().expect("bootstrap field").to_owned();
    Some((field("email"), field("password"), field("token")))
}

/// A fresh, isolated PostgreSQL schema for one test, from `SEALBOX_TEST_DATABASE_URL`.
/// `None` when that is unset outside CI; under `CI=true` it panics instead, so nothing is skipped.
pub async fn postgres_url() -> Option<String> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Ok(base) = std::env::var("SEALBOX_TEST_DATABASE_URL") else {
        assert!(
            !in_ci,
            "CI=true but SEALBOX_TEST_DATABASE_URL is not set: the PostgreSQL tests cannot be skipped in CI"
        );
        eprintln!("SEALBOX_TEST_DATABASE_URL is not set; skipping the PostgreSQL part of this test");
        return None;
    };
    match sealbox_store::create_isolated_schema(&base).await {
        Ok(url) => Some(url),
        Err(e) => panic!("SEALBOX_TEST_DATABASE_URL is set but PostgreSQL is not usable: {e}"),
    }
}
