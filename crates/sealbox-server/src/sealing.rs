//! The server's two states. **Sealed**: no key is in memory; only `/v1/sys/health`,
//! `/v1/sys/ready` (503), `/v1/sys/seal-status`, `/v1/sys/init`, `/v1/sys/unseal` and the OpenAPI
//! document answer, every other `/v1` route answers 503 `server.sealed` and the panel a page that
//! says so. **Unsealed**: the application ([`AppState`] and its router) runs.
//!
//! [`Sealing`] holds the one slot the application lives in. Unsealing opens `sealbox_core::Sealbox`
//! with the root key (bootstrapping a new database), writes what happened while sealed to the
//! audit log, starts the background tasks and fills the slot; sealing empties it, so every key
//! (root key, keyring, token and audit-chain subkeys) is dropped and zeroised as soon as the
//! requests in flight finish.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use sealbox_core::{CoreConfig, OpenError, Sealbox, SealedEvent, SealedOutcome, SystemClock};
use sealbox_crypto::passphrase::PassphraseKdf;
use sealbox_crypto::shamir::{self, Collected, ShareCollector};
use sealbox_crypto::{ExposeSecret, RootKey, SecretString};
use sealbox_store::Store;
use sealbox_types::{Health, InitRequest, InitResponse, SealStatus, UnsealRequest, codes};
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use anyhow::Context;

use crate::seal::{KeySource, Protector, ROOT_KEY_VERSION, SealKind, SealRecord};
use crate::{AppState, Config};

/// Unseal attempts one client address may make per window, and all clients together.
const ATTEMPTS_PER_CLIENT: u32 = 20;
const ATTEMPTS_IN_ALL: u32 = 100;
const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);
/// Events kept while sealed, to audit at unseal; beyond, only their number is kept.
const SEALED_EVENTS_KEPT: usize = 1000;
/// The shortest passphrase `init` accepts.
pub(crate) const MIN_PASSPHRASE_CHARS: usize = 12;

/// The server's seal state and, when unsealed, its application. Cheap to clone.
#[derive(Clone)]
pub struct Sealing {
    inner: Arc<Inner>,
}

/// Lets the application seal the server it runs in (`POST /v1/sys/seal`).
#[derive(Clone)]
pub struct SealHandle(Weak<Inner>);

impl SealHandle {
    pub(crate) fn seal(&self) {
        if let Some(inner) = self.0.upgrade() {
            Sealing { inner }.seal();
        }
    }
}

/// What the application is built with at each unseal, besides the store and the root key: made
/// once at start, from the configuration.
pub(crate) struct Services {
    pub(crate) metrics: Arc<sealbox_metrics::Metrics>,
    /// Sends actions.
    pub(crate) dispatcher: Arc<dyn sealbox_core::actions::Dispatcher>,
    /// Fetches JWT issuers' keys for federated identities.
    pub(crate) issuer_keys: Arc<dyn sealbox_core::federation::IssuerKeys>,
    /// The OpenID Connect relying party, when single sign-on is configured.
    pub(crate) oidc: Option<Arc<crate::Oidc>>,
}

struct Inner {
    config: Config,
    source: KeySource,
    store: Arc<dyn Store>,
    services: Services,
    /// The database's key source record, once `init` (or this start) knows it.
    record: RwLock<Option<SealRecord>>,
    current: RwLock<Option<Unsealed>>,
    /// One init or unseal at a time: shares are collected in order, and a passphrase's Argon2
    /// derivation (64 MiB) runs once at a time.
    unsealing: tokio::sync::Mutex<Unsealing>,
    limiter: Mutex<AttemptLimiter>,
    /// Why the automatic source has not unsealed the server (for `seal-status`).
    auto_error: Mutex<Option<String>>,
}

struct Unsealed {
    state: AppState,
    router: Router,
    sweeper: tokio::task::AbortHandle,
}

#[derive(Default)]
struct Unsealing {
    shares: Option<ShareCollector>,
    events: Vec<SealedEvent>,
    events_dropped: u64,
}

/// What the first start created: the owner's credentials, written to `path` (mode 0600).
pub struct Bootstrapped {
    pub credentials: sealbox_core::BootstrapCredentials,
    pub path: std::path::PathBuf,
}

impl Sealing {
    pub(crate) fn new(
        config: Config,
        source: KeySource,
        store: Arc<dyn Store>,
        services: Services,
        record: Option<SealRecord>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                config,
                store,
                services,
                record: RwLock::new(record),
                current: RwLock::new(None),
                unsealing: tokio::sync::Mutex::new(Unsealing::default()),
                limiter: Mutex::new(AttemptLimiter::default()),
                auto_error: Mutex::new(None),
            }),
        }
    }

    /// The running application; `None` while sealed.
    pub fn state(&self) -> Option<AppState> {
        read(&self.inner.current, |current| current.as_ref().map(|u| u.state.clone()))
    }

    pub fn is_sealed(&self) -> bool {
        read(&self.inner.current, Option::is_none)
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn metrics(&self) -> &Arc<sealbox_metrics::Metrics> {
        &self.inner.services.metrics
    }

    fn router_now(&self) -> Option<Router> {
        read(&self.inner.current, |current| {
            current.as_ref().map(|u| u.router.clone())
        })
    }

    pub fn status(&self) -> SealStatus {
        let kind = self.inner.source.kind();
        let record = read(&self.inner.record, Clone::clone);
        let threshold = match &record {
            Some(SealRecord::Shamir { threshold, .. }) => *threshold,
            _ => 0,
        };
        let progress = self
            .inner
            .unsealing
            .try_lock()
            .ok()
            .and_then(|u| u.shares.as_ref().map(ShareCollector::given))
            .unwrap_or(0);
        SealStatus {
            sealed: self.is_sealed(),
            seal: kind.as_str().into(),
            initialized: !kind.needs_person() || record.is_some(),
            progress,
            threshold,
            error: lock(&self.inner.auto_error, |e| e.clone()),
        }
    }

    /// Opens the application with `key` (refused when it is not the database's), bootstraps a
    /// new database, audits what happened while sealed, and starts serving it.
    pub(crate) async fn unseal_with_key(
        &self,
        key: RootKey,
        origin: &str,
        sealed_events: Vec<SealedEvent>,
        sealed_events_dropped: u64,
    ) -> anyhow::Result<Option<Bootstrapped>> {
        let inner = &self.inner;
        let core_config = CoreConfig {
            trash_retention_ms: i64::from(inner.config.trash_retention_days) * 24 * 60 * 60 * 1000,
            jwks_cache_ttl_ms: i64::try_from(inner.config.jwks_cache_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            jwks_refetch_interval_ms: i64::try_from(inner.config.jwks_refetch_interval_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            sso_enabled: inner.services.oidc.is_some(),
            password_break_glass: inner.config.password_break_glass,
            ..CoreConfig::default()
        };
        let core = match Sealbox::open(inner.store.clone(), key, Arc::new(SystemClock), core_config).await {
            Ok(core) => core
                .with_dispatcher(inner.services.dispatcher.clone())
                .with_issuer_keys(inner.services.issuer_keys.clone())
                .with_metrics(inner.services.metrics.clone()),
            Err(OpenError::WrongRootKey(e)) => anyhow::bail!("{e} ({origin})"),
            Err(e) => return Err(e.into()),
        };
        let core = Arc::new(core);
        let bootstrapped = crate::boot::bootstrap_first_owner(&core, &inner.store, &inner.config).await?;
        self.audit_sealed_events(&core, sealed_events, sealed_events_dropped)
            .await;
        let state = AppState {
            core: core.clone(),
            panel: crate::PanelSettings {
                reveal_seconds: inner.config.panel_reveal_seconds.clamp(1, 300),
                // Under TLS, or behind a proxy that terminates it (--insecure-http says so).
                secure_cookies: inner.config.tls_cert.is_some() || inner.config.insecure_http,
            },
            sealing: SealHandle(Arc::downgrade(inner)),
            oidc: inner.services.oidc.clone(),
        };
        let router = crate::app_router(state.clone(), inner.services.metrics.clone());
        let sweeper = tokio::spawn(crate::boot::sweep_trash_forever(core)).abort_handle();
        write(&inner.current, |current| {
            *current = Some(Unsealed { state, router, sweeper });
        });
        lock(&inner.auto_error, |e| *e = None);
        tracing::info!(source = inner.source.kind().as_str(), "unsealed");
        Ok(bootstrapped)
    }

    async fn audit_sealed_events(&self, core: &Sealbox, mut events: Vec<SealedEvent>, dropped: u64) {
        if dropped > 0
            && let Some(last) = events.last().cloned()
        {
            events.push(SealedEvent {
                reason: Some(format!("{dropped} more attempts while sealed were not kept")),
                ..last
            });
        }
        if let Err(e) = core.record_sealed_events(events).await {
            tracing::warn!(error = %e, "could not audit the attempts made while the server was sealed");
        }
    }

    /// Seals the server: the application leaves its slot at once (the next request is answered
    /// `server.sealed`), the background tasks stop, and the keys are dropped (zeroised) as soon
    /// as the requests in flight finish.
    pub fn seal(&self) {
        let unsealed = write(&self.inner.current, Option::take);
        if let Some(unsealed) = unsealed {
            unsealed.sweeper.abort();
            self.inner.store.forget_audit_chain_key();
            drop(unsealed);
            tracing::warn!("sealed: every key was dropped; `sealbox operator unseal` brings the server back");
        }
    }

    /// For a source that needs no person: asks it for the key and unseals. Called at start,
    /// by the retries after a source that was unavailable, and by `sealbox operator unseal`
    /// after an owner sealed the server. A [`ProtectorError`] inside the error says whether
    /// retrying may help.
    pub(crate) async fn unseal_automatically(&self) -> anyhow::Result<Option<Bootstrapped>> {
        if self.inner.source.kind().needs_person() {
            return Ok(None);
        }
        let (key, origin) = self.automatic_key().await?;
        self.unseal_with_key(key, &origin, Vec::new(), 0).await
    }

    /// The root key from a source that needs no person, and where it came from.
    async fn automatic_key(&self) -> anyhow::Result<(RootKey, String)> {
        let store = &*self.inner.store;
        match &self.inner.source {
            KeySource::File { path } => {
                let key = crate::seal::load_file_key(path)?;
                crate::boot::write_generated_key(store, &key).await?;
                let origin = key.describe_origin();
                Ok((key.key, origin))
            }
            KeySource::Passphrase | KeySource::Shamir => {
                anyhow::bail!(
                    "--seal {} needs a person: `sealbox operator unseal`",
                    self.inner.source.kind()
                )
            }
            source => {
                let protector = source
                    .protector()
                    .ok_or_else(|| anyhow::anyhow!("no key protector for --seal {}", source.kind()))?;
                let key = self.protected_key(&protector).await?;
                Ok((key, protector.describe()))
            }
        }
    }

    /// The root key that `protector` wrapped into the database's record; on a new database a
    /// new key, wrapped and recorded (when another replica recorded one first, theirs).
    async fn protected_key(&self, protector: &Protector<'_>) -> anyhow::Result<RootKey> {
        let describe = || protector.describe();
        if self.record().await?.is_none() {
            let key = RootKey::generate(ROOT_KEY_VERSION);
            let blob = protector
                .wrap(&key)
                .await
                .with_context(|| format!("cannot wrap a new root key with {}", describe()))?;
            let record = protector.record(&blob);
            let stored = self
                .inner
                .store
                .put_meta_if_absent(sealbox_core::SEAL_CONFIG, &record.to_bytes())
                .await
                .context("cannot record the wrapped root key")?;
            if stored {
                write(&self.inner.record, |held| *held = Some(record));
                tracing::info!(protector = %describe(), "created a new root key, wrapped by the key protector");
                return Ok(key);
            }
            // Another replica recorded its key at the same moment: use theirs.
            write(&self.inner.record, |held| *held = None);
        }
        let record = self
            .record()
            .await?
            .ok_or_else(|| anyhow::anyhow!("the database lost its key source record"))?;
        let blob = record
            .wrapped_root_key()
            .ok_or_else(|| anyhow::anyhow!("the database's key source record holds no wrapped root key"))?;
        let key = protector
            .unwrap(&blob)
            .await
            .with_context(|| format!("cannot unwrap the root key with {}", describe()))?;
        Ok(key)
    }

    /// After an automatic source was unavailable: retries with a growing pause (1 s to 30 s)
    /// until the server is unsealed, noting each failure for `seal-status`.
    pub(crate) fn retry_unseal_in_background(&self, first_error: &anyhow::Error) {
        self.note_auto_error(first_error);
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut pause = Duration::from_secs(1);
            loop {
                tokio::time::sleep(pause).await;
                let Some(inner) = weak.upgrade() else { return };
                let sealing = Sealing { inner };
                if !sealing.is_sealed() {
                    return;
                }
                let _one_at_a_time = sealing.inner.unsealing.lock().await;
                match sealing.unseal_automatically().await {
                    Ok(_) => return,
                    Err(e) => sealing.note_auto_error(&e),
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        });
    }

    fn note_auto_error(&self, e: &anyhow::Error) {
        let message = format!("{e:#}");
        tracing::error!(error = %message, "the key source did not give the root key; retrying");
        lock(&self.inner.auto_error, |held| *held = Some(message));
    }

    /// The outer router: the routes that answer sealed or not, and the application's router
    /// (or `server.sealed`) for everything else.
    pub fn router(&self) -> Router {
        let (seal_routes, _) = seal_api().split_for_parts();
        let metrics = self.inner.services.metrics.clone();
        let document = crate::routes::openapi();
        seal_routes
            .route(
                "/v1/openapi.json",
                axum::routing::get(move || {
                    let document = document.clone();
                    async move { Json(document) }
                }),
            )
            .route_layer(axum::middleware::from_fn_with_state(metrics, crate::record_request))
            .fallback(forward)
            .with_state(self.clone())
    }

    /// `--metrics-listen`'s router: the operator metrics while unsealed, `server.sealed` before.
    pub fn metrics_router(&self) -> Router {
        Router::new()
            .route(
                "/v1/sys/metrics",
                axum::routing::get(|State(sealing): State<Sealing>| async move {
                    match sealing.state() {
                        Some(state) => crate::routes::sys::operator_metrics(State(state)).await,
                        None => Err(sealed_error()),
                    }
                }),
            )
            .with_state(self.clone())
    }

    /// Records an event to audit once unsealed.
    fn remember(&self, unsealing: &mut Unsealing, event: SealedEvent) {
        if unsealing.events.len() < SEALED_EVENTS_KEPT {
            unsealing.events.push(event);
        } else {
            unsealing.events_dropped += 1;
        }
    }

    /// Re-reads the database's record when this process has none (another replica ran init).
    async fn record(&self) -> anyhow::Result<Option<SealRecord>> {
        if let Some(record) = read(&self.inner.record, Clone::clone) {
            return Ok(Some(record));
        }
        let record = SealRecord::read(&*self.inner.store).await?;
        write(&self.inner.record, |held| held.clone_from(&record));
        Ok(record)
    }
}

/// The routes that answer whether the server is sealed or not, with their OpenAPI entries.
pub(crate) fn seal_api() -> OpenApiRouter<Sealing> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(seal_status))
        .routes(routes!(init))
        .routes(routes!(unseal))
}

fn sealed_error() -> ApiError {
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: codes::SERVER_SEALED,
        message: "the server is sealed: an operator unseals it with `sealbox operator unseal` \
                  (`sealbox operator seal-status` shows what it waits for)"
            .into(),
        retry_after_seconds: None,
    }
}

/// Everything else: the application when unsealed; `server.sealed` (the panel: a page) before.
async fn forward(State(sealing): State<Sealing>, request: Request) -> Response {
    if let Some(router) = sealing.router_now() {
        return match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    if request.uri().path().starts_with("/v1/") || request.uri().path() == "/v1" {
        return sealed_error().into_response();
    }
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Html(SEALED_PAGE)).into_response();
    // A finished page: the error boundary passes it through.
    response.extensions_mut().insert(crate::panel::HtmlPage);
    response
}

const SEALED_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sealbox is sealed</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
code{background:#eef1f4;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>Sealbox is sealed</h1>
<p>This server holds no keys right now, so it serves no secrets and no sign-ins.</p>
<p>An operator unseals it with <code>sealbox operator unseal</code>; <code>sealbox operator seal-status</code>
shows what it waits for.</p>
</body></html>
"#;

/// Liveness: the process answers, sealed or not. It does not touch the database.
#[utoipa::path(get, path = "/v1/sys/health", tag = "sys", security(()), responses((status = 200, body = Health)))]
pub(crate) async fn health(State(sealing): State<Sealing>) -> Json<Health> {
    let sealed = sealing.is_sealed();
    Json(Health {
        status: if sealed { "sealed" } else { "ok" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        sealed,
    })
}

/// Readiness: 200 when the server is unsealed, the database answers, its migrations are applied
/// and the keys are loaded; 503 with the reason (`server.sealed`, `store.unavailable`,
/// `store.schema_outdated`) otherwise.
#[utoipa::path(get, path = "/v1/sys/ready", tag = "sys", security(()), responses(
    (status = 200, body = sealbox_types::Readiness),
    (status = 503, body = sealbox_types::ErrorBody, description = "not ready: `server.sealed`, `store.unavailable` or `store.schema_outdated`, the message says why"),
))]
pub(crate) async fn ready(State(sealing): State<Sealing>) -> ApiResult<Json<sealbox_types::Readiness>> {
    let state = sealing.state().ok_or_else(sealed_error)?;
    Ok(Json(state.core.readiness().await?))
}

/// Whether the server is sealed, its key source, and (Shamir) how many shares it holds.
#[utoipa::path(get, path = "/v1/sys/seal-status", tag = "sys", security(()), responses((status = 200, body = SealStatus)))]
pub(crate) async fn seal_status(State(sealing): State<Sealing>) -> ApiResult<Json<SealStatus>> {
    // Another replica may have run init since this one started.
    sealing.record().await.map_err(internal)?;
    Ok(Json(sealing.status()))
}

fn internal(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{e:#}"), "seal operation failed");
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: codes::STORE_UNAVAILABLE,
        message: "the database could not be read or written; nothing was changed. Try again".into(),
        retry_after_seconds: None,
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(codes::SEAL_INPUT_INVALID, message)
}

fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code,
        message: message.into(),
        retry_after_seconds: None,
    }
}

/// Sets up a new database's passphrase or Shamir key source. The server stays sealed: unseal it
/// next. The shares are returned this once and kept nowhere; anyone who can reach a new server
/// first can initialise it, so run this right after its first start.
#[utoipa::path(post, path = "/v1/sys/init", tag = "sys", security(()), request_body = InitRequest, responses(
    (status = 200, body = InitResponse),
    (status = "4XX", body = sealbox_types::ErrorBody, description = "`seal.input_invalid`, `seal.already_initialized`, `seal.rate_limited`"),
))]
pub(crate) async fn init(
    State(sealing): State<Sealing>,
    crate::extract::Ctx(ctx): crate::extract::Ctx,
    crate::extract::ApiJson(request): crate::extract::ApiJson<InitRequest>,
) -> ApiResult<Json<InitResponse>> {
    let kind = sealing.inner.source.kind();
    let ip = ctx.client_addr.parse::<IpAddr>().ok();
    let (request_id, client_addr) = (ctx.request_id, ctx.client_addr);
    let mut unsealing = sealing.inner.unsealing.lock().await;
    sealing.check_rate(&mut unsealing, ip, &request_id, &client_addr, true)?;
    if !kind.needs_person() {
        return Err(invalid(format!(
            "this server's key source is --seal {kind}, which sets itself up at first start; init is for \
             --seal passphrase and --seal shamir"
        )));
    }
    let has_key = sealbox_core::Sealbox::root_key_recorded(&**sealing.store(), ROOT_KEY_VERSION)
        .await
        .map_err(|e| internal(e.into()))?;
    if has_key || sealing.record().await.map_err(internal)?.is_some() {
        return Err(conflict(
            codes::SEAL_ALREADY_INITIALIZED,
            "this database already has its root key: unseal it with `sealbox operator unseal`",
        ));
    }
    let (key, record, shares) = match kind {
        SealKind::Shamir => {
            if request.passphrase.is_some() {
                return Err(invalid(
                    "--seal shamir takes key_shares and key_threshold, not a passphrase",
                ));
            }
            let (Some(count), Some(threshold)) = (request.key_shares, request.key_threshold) else {
                return Err(invalid(
                    "give key_shares and key_threshold (e.g. `sealbox operator init --key-shares 5 --key-threshold 3`)",
                ));
            };
            if !(2..=count).contains(&threshold) {
                return Err(invalid(format!(
                    "key_threshold must be at least 2 and at most key_shares ({count}); got {threshold}"
                )));
            }
            let key = RootKey::generate(ROOT_KEY_VERSION);
            let shares = shamir::split_root_key(&key, count, threshold).map_err(|e| invalid(e.to_string()))?;
            let record = SealRecord::shamir(&key, count, threshold);
            // EXPOSE: the shares are returned this once to the operator who set the server up.
            let shares = shares.iter().map(|s| s.encode().expose_secret().to_owned()).collect();
            (key, record, shares)
        }
        SealKind::Passphrase => {
            if request.key_shares.is_some() || request.key_threshold.is_some() {
                return Err(invalid("--seal passphrase takes a passphrase, not key shares"));
            }
            let Some(passphrase) = request.passphrase else {
                return Err(invalid("give the passphrase (`sealbox operator init` asks for it)"));
            };
            if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
                return Err(invalid(format!(
                    "the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters"
                )));
            }
            let kdf = PassphraseKdf::generate();
            let key = derive(kdf.clone(), SecretString::from(passphrase)).await?;
            let record = SealRecord::passphrase(&key, &kdf);
            (key, record, Vec::new())
        }
        SealKind::File | SealKind::AwsKms | SealKind::Pkcs11 => {
            return Err(invalid(format!("--seal {kind} needs no init")));
        }
    };
    drop(key);
    let stored = sealing
        .store()
        .put_meta_if_absent(sealbox_core::SEAL_CONFIG, &record.to_bytes())
        .await
        .map_err(|e| internal(e.into()))?;
    if !stored {
        return Err(conflict(
            codes::SEAL_ALREADY_INITIALIZED,
            "another server initialised this database at the same moment: unseal it with `sealbox operator unseal`",
        ));
    }
    write(&sealing.inner.record, |held| *held = Some(record));
    let event = sealed_event(true, kind, &request_id, &client_addr, SealedOutcome::Success, None);
    sealing.remember(&mut unsealing, event);
    tracing::info!(
        source = kind.as_str(),
        "key source initialised; the server stays sealed until unsealed"
    );
    drop(unsealing);
    Ok(Json(InitResponse {
        shares,
        status: sealing.status(),
    }))
}

/// One step of unsealing: a Shamir share (progress until the threshold), the passphrase, or
/// nothing for a source that unseals by itself (it is asked again). Rate limited per client
/// address; every attempt is audited once the server is unsealed.
#[utoipa::path(post, path = "/v1/sys/unseal", tag = "sys", security(()), request_body = UnsealRequest, responses(
    (status = 200, body = SealStatus),
    (status = "4XX", body = sealbox_types::ErrorBody, description = "`seal.wrong_key` (progress reset), `seal.input_invalid`, `seal.not_initialized`, `seal.rate_limited`"),
    (status = 503, body = sealbox_types::ErrorBody, description = "`seal.source_unavailable` or `store.unavailable`"),
))]
pub(crate) async fn unseal(
    State(sealing): State<Sealing>,
    crate::extract::Ctx(ctx): crate::extract::Ctx,
    crate::extract::OptionalApiJson(request): crate::extract::OptionalApiJson<UnsealRequest>,
) -> ApiResult<Json<SealStatus>> {
    let kind = sealing.inner.source.kind();
    let ip = ctx.client_addr.parse::<IpAddr>().ok();
    let (request_id, client_addr) = (ctx.request_id, ctx.client_addr);
    let mut unsealing = sealing.inner.unsealing.lock().await;
    if !sealing.is_sealed() {
        drop(unsealing);
        return Ok(Json(sealing.status()));
    }
    sealing.check_rate(&mut unsealing, ip, &request_id, &client_addr, false)?;
    let outcome = sealing
        .unseal_step(&mut unsealing, kind, request.unwrap_or_default())
        .await;
    let (event_outcome, reason) = match &outcome {
        Ok(Step::Progress(given, threshold)) => (
            SealedOutcome::Success,
            format!("share accepted ({given} of {threshold})"),
        ),
        Ok(Step::Reset) => (SealedOutcome::Success, "shares given so far forgotten".into()),
        Ok(Step::Key(_)) => (SealedOutcome::Success, "unsealed".into()),
        Err(e) => (SealedOutcome::Failure, e.message.clone()),
    };
    let event = sealed_event(false, kind, &request_id, &client_addr, event_outcome, Some(reason));
    sealing.remember(&mut unsealing, event);
    if let Ok(Step::Key(key)) = outcome {
        // The events (this attempt's too) go to the audit log with the unseal.
        let (events, dropped) = (unsealing.events.clone(), unsealing.events_dropped);
        let bootstrapped = sealing
            .unseal_with_key(key, kind.as_str(), events, dropped)
            .await
            .map_err(internal)?;
        unsealing.events.clear();
        unsealing.events_dropped = 0;
        if let Some(b) = bootstrapped {
            tracing::info!(path = %b.path.display(), "first start: the owner's credentials are in this file (mode 0600)");
        }
    } else {
        outcome?;
    }
    drop(unsealing);
    Ok(Json(sealing.status()))
}

enum Step {
    Progress(u8, u8),
    Reset,
    Key(RootKey),
}

impl Sealing {
    async fn unseal_step(&self, unsealing: &mut Unsealing, kind: SealKind, request: UnsealRequest) -> ApiResult<Step> {
        if request.reset {
            unsealing.shares = None;
            return Ok(Step::Reset);
        }
        if !kind.needs_person() {
            if request.share.is_some() || request.passphrase.is_some() {
                return Err(invalid(format!(
                    "--seal {kind} takes no share or passphrase: send an empty request, the server asks its source"
                )));
            }
            let (key, _) = self.automatic_key().await.map_err(|e| ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: codes::SEAL_SOURCE_UNAVAILABLE,
                message: format!("{e:#}"),
                retry_after_seconds: None,
            })?;
            return Ok(Step::Key(key));
        }
        let record = self.record().await.map_err(internal)?.ok_or_else(|| {
            conflict(
                codes::SEAL_NOT_INITIALIZED,
                format!("this database has no key yet: set up --seal {kind} with `sealbox operator init` first"),
            )
        })?;
        match record {
            SealRecord::Awskms { .. } | SealRecord::Pkcs11 { .. } => Err(invalid("this source unseals by itself")),
            SealRecord::Passphrase { kdf, .. } => {
                if request.share.is_some() {
                    return Err(invalid("--seal passphrase takes the passphrase, not a share"));
                }
                let passphrase = request
                    .passphrase
                    .ok_or_else(|| invalid("give the passphrase (`sealbox operator unseal` asks for it)"))?;
                let kdf = PassphraseKdf::from_encoded(&kdf).map_err(|e| internal(anyhow::anyhow!("{e}")))?;
                let key = derive(kdf, SecretString::from(passphrase)).await?;
                if !record_matches(&self.inner.record, &key) {
                    return Err(wrong_key("the passphrase is not this server's: nothing was unsealed"));
                }
                Ok(Step::Key(key))
            }
            SealRecord::Shamir { threshold, .. } => {
                if request.passphrase.is_some() {
                    return Err(invalid(
                        "--seal shamir takes key shares, one at a time, not a passphrase",
                    ));
                }
                let text = request
                    .share
                    .ok_or_else(|| invalid("give one key share (`sealbox operator unseal` asks for it)"))?;
                let share =
                    shamir::Share::from_encoded(&text).map_err(|e| invalid(format!("{e}; the progress is kept")))?;
                let collector = match &mut unsealing.shares {
                    Some(collector) => collector,
                    empty => empty.insert(ShareCollector::new(threshold).map_err(|e| internal(e.into()))?),
                };
                let collected = collector.add(share);
                match collected {
                    Ok(Collected::Progress { given, threshold }) => Ok(Step::Progress(given, threshold)),
                    Ok(Collected::Complete(secret)) => {
                        unsealing.shares = None;
                        let key = shamir::root_key_from_combined(ROOT_KEY_VERSION, &secret)
                            .ok()
                            .filter(|key| record_matches(&self.inner.record, key));
                        key.map(Step::Key).ok_or_else(|| {
                            wrong_key(format!(
                                "the {threshold} shares given do not make this server's root key (one is wrong or \
                                 from another server); the progress is reset: give {threshold} shares again"
                            ))
                        })
                    }
                    Err(shamir::ShamirError::DuplicateShare) => {
                        Err(invalid("this share was given already; the progress is kept"))
                    }
                    Err(e) => {
                        unsealing.shares = None;
                        Err(wrong_key(format!(
                            "{e}; the progress is reset: give {threshold} shares again"
                        )))
                    }
                }
            }
        }
    }

    /// Refuses an attempt over the limits (429 `seal.rate_limited`), auditing the first refusal
    /// per client and window.
    fn check_rate(
        &self,
        unsealing: &mut Unsealing,
        ip: Option<IpAddr>,
        request_id: &str,
        client_addr: &str,
        init: bool,
    ) -> ApiResult<()> {
        let verdict = lock(&self.inner.limiter, |limiter| limiter.check(ip, Instant::now()));
        let Err((retry_after, first_refusal)) = verdict else {
            return Ok(());
        };
        if first_refusal {
            let kind = self.inner.source.kind();
            let reason = Some("too many attempts".to_owned());
            let event = sealed_event(init, kind, request_id, client_addr, SealedOutcome::Denied, reason);
            self.remember(unsealing, event);
        }
        Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: codes::SEAL_RATE_LIMITED,
            message: format!("too many unseal attempts; try again in {retry_after} s"),
            retry_after_seconds: Some(retry_after),
        })
    }
}

fn record_matches(record: &RwLock<Option<SealRecord>>, key: &RootKey) -> bool {
    read(record, |record| record.as_ref().is_some_and(|r| r.matches(key)))
}

fn wrong_key(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(codes::SEAL_WRONG_KEY, message)
}

/// The passphrase's root key, derived off the async threads.
async fn derive(kdf: PassphraseKdf, passphrase: SecretString) -> ApiResult<RootKey> {
    tokio::task::spawn_blocking(move || kdf.derive(ROOT_KEY_VERSION, &passphrase))
        .await
        .map_err(|e| internal(e.into()))?
        .map_err(|e| invalid(e.to_string()))
}

fn sealed_event(
    init: bool,
    kind: SealKind,
    request_id: &str,
    client_addr: &str,
    outcome: SealedOutcome,
    reason: Option<String>,
) -> SealedEvent {
    SealedEvent {
        init,
        at_ms: time_now_ms(),
        request_id: request_id.to_owned(),
        client_addr: client_addr.to_owned(),
        seal: kind.as_str(),
        outcome,
        reason,
    }
}

fn time_now_ms() -> i64 {
    use sealbox_core::Clock;
    SystemClock.now_ms()
}

/// Fixed windows: [`ATTEMPTS_PER_CLIENT`] per client address and [`ATTEMPTS_IN_ALL`] in all.
#[derive(Default)]
struct AttemptLimiter {
    window_started: Option<Instant>,
    per_client: HashMap<Option<IpAddr>, u32>,
    in_all: u32,
}

impl AttemptLimiter {
    /// `Err((retry after seconds, first refusal of this client in the window))` over a limit.
    fn check(&mut self, ip: Option<IpAddr>, now: Instant) -> Result<(), (u64, bool)> {
        let started = *self.window_started.get_or_insert(now);
        if now.duration_since(started) >= ATTEMPT_WINDOW {
            self.window_started = Some(now);
            self.per_client.clear();
            self.in_all = 0;
        }
        let retry_after = ATTEMPT_WINDOW
            .saturating_sub(now.duration_since(self.window_started.unwrap_or(now)))
            .as_secs()
            .max(1);
        let count = self.per_client.entry(ip).or_insert(0);
        *count = count.saturating_add(1);
        if *count > ATTEMPTS_PER_CLIENT {
            return Err((retry_after, *count == ATTEMPTS_PER_CLIENT + 1));
        }
        self.in_all += 1;
        if self.in_all > ATTEMPTS_IN_ALL {
            return Err((retry_after, *count == 1));
        }
        Ok(())
    }
}

fn read<T, R>(lock: &RwLock<T>, f: impl FnOnce(&T) -> R) -> R {
    match lock.read() {
        Ok(held) => f(&held),
        Err(poisoned) => f(&poisoned.into_inner()),
    }
}

fn write<T, R>(lock: &RwLock<T>, f: impl FnOnce(&mut T) -> R) -> R {
    match lock.write() {
        Ok(mut held) => f(&mut held),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

fn lock<T, R>(mutex: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
    match mutex.lock() {
        Ok(mut held) => f(&mut held),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_one_client_over_its_limit_and_audits_the_first_refusal_only() {
        let mut limiter = AttemptLimiter::default();
        let now = Instant::now();
        let a = Some(IpAddr::from([127, 0, 0, 2]));
        for _ in 0..ATTEMPTS_PER_CLIENT {
            assert!(limiter.check(a, now).is_ok());
        }
        assert_eq!(limiter.check(a, now), Err((60, true)));
        assert_eq!(limiter.check(a, now), Err((60, false)));
        assert!(
            limiter.check(Some(IpAddr::from([127, 0, 0, 3])), now).is_ok(),
            "another client"
        );
        assert!(limiter.check(a, now + ATTEMPT_WINDOW).is_ok(), "a new window");
    }
}
