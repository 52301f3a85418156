//! The HTTP server: routes, authentication extractors, the error boundary, and process start-up.
//!
//! **Architecture Invariant:** this is the only crate that knows HTTP. Handlers are thin: extract,
//! call `sealbox_core::Sealbox`, map the result. Every authorisation decision is made in core.
//!
//! [`router`] builds the whole application for a state; [`serve`] runs it on a listener until a
//! shutdown future resolves, so tests start the real thing on port 0. [`run`] is `sealbox server`.

pub mod audit_file;
mod boot;
mod dispatch;
mod error;
mod extract;
mod jwks;
mod oidc;
mod openapi;
pub mod operator;
mod panel;
mod routes;
mod seal;
mod sealing;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use sealbox_core::Sealbox;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use boot::{Prepared, prepare, tls_config};
pub use oidc::{Oidc, OidcConfig};
pub use panel::PanelSettings;
pub use routes::openapi;
pub use seal::SealKind;
pub use sealing::{Bootstrapped, SealHandle, Sealing};

/// Largest request body accepted; larger ones get 413 `request.body_too_large`.
pub const BODY_LIMIT_BYTES: usize = 256 * 1024;

/// `sealbox server`'s settings, from flags and `SEALBOX_*` variables.
#[derive(Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// `postgres://...`; the embedded SQLite database in `data_dir` when absent.
    pub database_url: Option<String>,
    /// How long a request waits for PostgreSQL (a connection, one statement) before it fails with
    /// 503 `store.unavailable`.
    pub database_timeout_secs: u64,
    /// Where the root key is kept; `data_dir/root.key` when absent. `SEALBOX_ROOT_KEY` (the key
    /// itself, base64) takes precedence over any file.
    pub root_key_file: Option<PathBuf>,
    /// Where the root key comes from (`--seal`); `file` reads `root_key_file` or the variable.
    pub seal: SealKind,
    /// `--seal awskms`: the KMS key (id, ARN or `alias/NAME`), another endpoint, the region.
    pub kms_key_id: Option<String>,
    pub kms_endpoint: Option<String>,
    pub kms_region: Option<String>,
    /// `--seal pkcs11`: the module, the slot, the AES key's label, and a file holding the user
    /// PIN (`SEALBOX_PKCS11_PIN` takes precedence).
    pub pkcs11_lib: Option<PathBuf>,
    pub pkcs11_slot: Option<u64>,
    pub pkcs11_key_label: Option<String>,
    pub pkcs11_pin_file: Option<PathBuf>,
    pub insecure_http: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub trash_retention_days: u32,
    pub log_level: String,
    pub log_json: bool,
    /// How long the panel shows a revealed value (30 s; shorter only for tests).
    pub panel_reveal_seconds: u32,
    /// Actions may reach loopback, private, link-local and metadata addresses.
    pub allow_private_destinations: bool,
    /// Time limit for one action's whole exchange.
    pub action_timeout_secs: u64,
    /// Largest response an HTTP action accepts.
    pub action_max_response_bytes: usize,
    /// PEM certificates actions and JWT issuers' key fetches trust besides the public roots.
    pub extra_ca_file: Option<PathBuf>,
    /// How long a JWT issuer's fetched keys are used before they are fetched again.
    pub jwks_cache_secs: u64,
    /// The least time between two fetches of one issuer's keys (a token with an unknown `kid`
    /// fetches again only after it).
    pub jwks_refetch_interval_secs: u64,
    /// Where to serve `GET /v1/sys/metrics` without a token (every workspace's gauges); only the
    /// token-protected route on the main listener when absent.
    pub metrics_listen: Option<String>,
    /// Every committed audit event is also appended here as a JSON line (`audit_file.rs`).
    pub audit_file: Option<PathBuf>,
    /// Single sign-on with this OpenID Connect provider (`--oidc-*`); password only when absent.
    pub oidc: Option<OidcConfig>,
    /// Owners may sign in with a password where a workspace turned passwords off (the
    /// identity provider is down): `--password-break-glass`.
    pub password_break_glass: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "[redacted]"))
            .field("database_timeout_secs", &self.database_timeout_secs)
            .field("root_key_file", &self.root_key_file)
            .field("seal", &self.seal)
            .field("kms_key_id", &self.kms_key_id)
            .field("kms_endpoint", &self.kms_endpoint)
            .field("kms_region", &self.kms_region)
            .field("pkcs11_lib", &self.pkcs11_lib)
            .field("pkcs11_slot", &self.pkcs11_slot)
            .field("pkcs11_key_label", &self.pkcs11_key_label)
            .field("pkcs11_pin_file", &self.pkcs11_pin_file)
            .field("insecure_http", &self.insecure_http)
            .field("tls", &self.tls_cert.is_some())
            .field("allow_private_destinations", &self.allow_private_destinations)
            .field("action_timeout_secs", &self.action_timeout_secs)
            .field("action_max_response_bytes", &self.action_max_response_bytes)
            .field("extra_ca_file", &self.extra_ca_file)
            .field("jwks_cache_secs", &self.jwks_cache_secs)
            .field("jwks_refetch_interval_secs", &self.jwks_refetch_interval_secs)
            .field("metrics_listen", &self.metrics_listen)
            .field("audit_file", &self.audit_file)
            .field("oidc", &self.oidc)
            .field("password_break_glass", &self.password_break_glass)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for a data directory (what `sealbox server` uses with no flags).
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: "127.0.0.1:8270".into(),
            data_dir: data_dir.into(),
            database_url: None,
            database_timeout_secs: 5,
            root_key_file: None,
            seal: SealKind::File,
            kms_key_id: None,
            kms_endpoint: None,
            kms_region: None,
            pkcs11_lib: None,
            pkcs11_slot: None,
            pkcs11_key_label: None,
            pkcs11_pin_file: None,
            insecure_http: false,
            tls_cert: None,
            tls_key: None,
            trash_retention_days: 30,
            log_level: "info".into(),
            log_json: false,
            panel_reveal_seconds: 30,
            allow_private_destinations: false,
            action_timeout_secs: 10,
            action_max_response_bytes: 1024 * 1024,
            extra_ca_file: None,
            jwks_cache_secs: 600,
            jwks_refetch_interval_secs: 30,
            metrics_listen: None,
            audit_file: None,
            oidc: None,
            password_break_glass: false,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Sealbox>,
    pub panel: PanelSettings,
    /// Seals the server this application runs in (`POST /v1/sys/seal`).
    pub sealing: SealHandle,
    /// The OpenID Connect relying party, when single sign-on is configured.
    pub oidc: Option<Arc<Oidc>>,
}

/// The request path as logged: a segment that looks like a token (`sbx_...`, e.g. one pasted
/// where an id belongs) is replaced by `sbx_[redacted]`, so no token reaches the log this way.
fn logged_path(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains(sealbox_crypto::TOKEN_PREFIX) {
        return path.into();
    }
    path.split('/')
        .map(|segment| {
            if segment.starts_with(sealbox_crypto::TOKEN_PREFIX) {
                "sbx_[redacted]"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
        .into()
}

/// Counts every answered request by method, route template and status, with its time. The
/// route is axum's `MatchedPath` (`/v1/secrets/{name}`), never the path: a secret's name in a
/// URL must not become a label. A request no route matched is `unmatched`.
async fn record_request(
    State(metrics): State<Arc<sealbox_metrics::Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(sealbox_metrics::UNMATCHED_ROUTE.to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    metrics.http_request(method.as_str(), &route, response.status().as_u16(), started.elapsed());
    response
}

/// Serves the `--metrics-listen` router on `listener` until `shutdown` resolves: `GET
/// /v1/sys/metrics` with every workspace's gauges, and nothing else.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    sealing: Sealing,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = sealing
        .metrics_router()
        .layer(middleware::from_fn(error::error_boundary));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// The application of an unsealed server: the JSON API and the panel, each request counted.
/// [`router`] puts it behind the seal and the common layers.
pub(crate) fn app_router(state: AppState, metrics: Arc<sealbox_metrics::Metrics>) -> Router {
    Router::new()
        .merge(routes::router())
        // The web admin panel (HTML at `/`); everything under `/v1` stays the JSON API.
        .merge(panel::router())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(metrics, record_request))
        .with_state(state)
}

/// The whole server: the seal's routes and the application behind them, with the layers every
/// response goes through (request id, logging, the error boundary, headers, body limit).
pub fn router(sealing: &Sealing) -> Router {
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let nosniff = SetResponseHeaderLayer::overriding(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let request_id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            // The path names secrets, never values; the query string is left out.
            let path = logged_path(req.uri().path());
            tracing::info_span!("request", method = %req.method(), path = %path, request_id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    sealing.router().layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn(assign_request_id))
            .layer(trace)
            .layer(middleware::from_fn(error::error_boundary))
            .layer(CatchPanicLayer::new())
            .layer(no_store)
            .layer(nosniff)
            .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)),
    )
}

/// Gives every request a fresh id (a caller's own `x-request-id` is replaced, so ids in logs and
/// audit events are always the server's) and returns it on the response.
async fn assign_request_id(mut request: Request, next: Next) -> Response {
    // From the thread's CSPRNG rather than a getrandom syscall per request; ids need to be unique,
    // not secret.
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert("x-request-id", value.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert("x-request-id", value);
    response
}

/// Serves plain HTTP on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sealing: Sealing,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(&sealing).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Serves HTTPS (rustls) on `listener` until `shutdown` resolves.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    sealing: Sealing,
    tls: axum_server::tls_rustls::RustlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let on_shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        on_shutdown.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let app = router(&sealing).into_make_service_with_connect_info::<SocketAddr>();
    axum_server::from_tcp_rustls(listener, tls)
        .handle(handle)
        .serve(app)
        .await
}

/// `sealbox server`: reads the config, prepares storage and keys, binds, and serves until
/// SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let _log_writer = boot::init_logging(&config)?;
    boot::harden_process();
    let listen: SocketAddr = config
        .listen
        .parse()
        .map_err(|_| anyhow::anyhow!("--listen {:?}: expected an address like 127.0.0.1:8270", config.listen))?;
    let tls = boot::tls_config(&config).await?;
    if tls.is_none() && !listen.ip().is_loopback() && !config.insecure_http {
        anyhow::bail!(
            "refusing to serve plain HTTP on {listen}, which is not a loopback address: give --tls-cert and --tls-key, or --insecure-http if a proxy in front terminates TLS"
        );
    }
    let prepared = prepare(&config).await?;
    if let Some(path) = &prepared.bootstrap_file {
        println!(
            "sealbox: first start; the owner's credentials are in {} (mode 0600)",
            path.display()
        );
    }
    let std_listener =
        std::net::TcpListener::bind(listen).map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let sealing = prepared.sealing.clone();
    if sealing.is_sealed() {
        println!("sealbox listening on {scheme}://{addr} (sealed: unseal it with `sealbox operator unseal`)");
    } else {
        println!("sealbox listening on {scheme}://{addr}");
    }
    tracing::info!(%addr, store = sealing.store().kind(), sealed = sealing.is_sealed(), "sealbox listening");
    let metrics_server = match &config.metrics_listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on --metrics-listen {address:?}: {e}"))?;
            let addr = listener.local_addr()?;
            println!("sealbox metrics (no token) on http://{addr}/v1/sys/metrics");
            tracing::warn!(%addr, "serving metrics without a token; keep this address off untrusted networks");
            Some(tokio::spawn(serve_metrics(
                listener,
                sealing.clone(),
                boot::shutdown_signal(),
            )))
        }
        None => None,
    };
    let audit_file = config
        .audit_file
        .clone()
        .map(|path| audit_file::AuditFileFollower::spawn(sealing.store().clone(), sealing.metrics().clone(), path));
    match tls {
        Some(tls) => serve_tls(std_listener, sealing.clone(), tls, boot::shutdown_signal()).await?,
        None => {
            serve(
                tokio::net::TcpListener::from_std(std_listener)?,
                sealing.clone(),
                boot::shutdown_signal(),
            )
            .await?
        }
    }
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    if let Some(audit_file) = audit_file {
        audit_file.finish().await;
    }
    // Before sealing: closing chains PostgreSQL's pending audit events, with the chain key.
    prepared.close().await;
    sealing.seal();
    tracing::info!("sealbox stopped");
    Ok(())
}
