//! Sealbox's use-cases and every authorisation decision.
//!
//! **Architecture Invariant:** this crate knows nothing of HTTP, cookies, HTML or SQL. It takes
//! validated or plain-data inputs (the `sealbox-types` shapes), decides in [`principal`] whether the
//! caller may act, seals and opens values with `sealbox-crypto`, and persists through the
//! `sealbox_store::Store` trait. Time comes from a [`Clock`].

pub mod actions;
mod audit;
mod auth;
pub mod clock;
mod environment;
pub mod error;
pub mod federation;
mod hashing;
mod identities;
mod keyring;
pub mod kinds;
mod members;
mod operator;
mod policies;
pub mod principal;
mod rekey;
mod secrets;
mod settings;
mod sso;
mod sys;
pub mod template;
mod tokens;
mod trash;
pub mod validate;
mod workspaces;

use std::sync::Arc;

use sealbox_crypto::{RootKey, TokenHasher};
use sealbox_store::{AuditChainKey, Store};

pub use audit::{AuditAction, Outcome, audit_chain_key};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{CoreError, CoreResult, ErrorClass};
pub use operator::{SERVER_WORKSPACE, SealedEvent, SealedOutcome};
pub use principal::{Actor, IdentityActor, MemberActor, Principal, RequestContext};
pub use rekey::{RekeyError, rekey};
pub use sso::{CliHandoff, SSO_START_TTL_MS, SsoBegun, SsoClaims, SsoPending, SsoProviderRefusal, SsoSignedIn};
pub use sys::MetricsScope;
pub use tokens::TokenKind;
pub use workspaces::BootstrapCredentials;

const ROOT_KEY_CHECK: &str = "root_key_check";
/// The meta key of the key source's record (which source, and what it needs to give the root
/// key back: a salt, a threshold, a wrapped key); absent for a root key file. Written by the
/// server's `seal` module and by [`rekey`].
pub const SEAL_CONFIG: &str = "seal";
/// The `meta` row that holds the original root key wrapped by the current one, after a rekey.
pub const ROOT_KEY_ORIGIN: &str = "root_key_origin";

/// The default number of hashing threads is the number of CPUs, but no more than this, so that
/// hashing's memory (19 MiB each) stays small on a large machine.
pub const MAX_PASSWORD_HASH_THREADS: usize = 4;

#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// How long a deleted secret stays in the trash before the sweep purges it.
    pub trash_retention_ms: i64,
    /// Lifetime of a session token from a password login.
    pub session_ttl_ms: i64,
    /// Sign-in attempts for one e-mail from one client address per window; further attempts
    /// from that address are refused without checking the password. A successful sign-in does
    /// not count.
    pub login_max_failures: i64,
    /// Sign-in attempts from one client address (an IPv6 client by its /64), whatever the
    /// e-mail, per window; a successful sign-in does not count.
    pub login_max_failures_per_client: i64,
    /// The length of a rate-limit window; windows start at fixed times (multiples of it).
    pub login_window_ms: i64,
    /// Argon2 operations that run at once (each holds 19 MiB), at least 1.
    pub password_hash_threads: usize,
    /// Argon2 operations that may wait for a thread; beyond them, `auth.busy`.
    pub password_hash_queue: usize,
    /// How long an issuer's fetched keys (JWKS) are used before they are fetched again.
    pub jwks_cache_ttl_ms: i64,
    /// The least time between two fetches of one issuer's keys: a token with an unknown `kid`
    /// fetches again only this long after the last fetch.
    pub jwks_refetch_interval_ms: i64,
    /// The server verifies single sign-on (OpenID Connect); without it, `sso.not_configured`,
    /// and password sign-in cannot be turned off.
    pub sso_enabled: bool,
    /// Break glass: owners may sign in with a password even where a workspace turned passwords
    /// off (`sealbox server --password-break-glass`), for when the identity provider is down.
    pub password_break_glass: bool,
}

impl Default for CoreConfig {
    fn default() -> Self {
        const DAY: i64 = 24 * 60 * 60 * 1000;
        Self {
            trash_retention_ms: 30 * DAY,
            session_ttl_ms: DAY / 2,
            login_max_failures: 5,
            login_max_failures_per_client: 20,
            login_window_ms: 15 * 60 * 1000,
            password_hash_threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .min(MAX_PASSWORD_HASH_THREADS),
            password_hash_queue: 64,
            jwks_cache_ttl_ms: 10 * 60 * 1000,
            jwks_refetch_interval_ms: 30 * 1000,
            sso_enabled: false,
            password_break_glass: false,
        }
    }
}

/// The application: one per server process, shared by every request.
pub struct Sealbox {
    store: Arc<dyn Store>,
    root_key: Arc<RootKey>,
    /// The KEKs the root key unwraps; new data keys are wrapped by the active one.
    keyring: keyring::Keyring,
    token_hasher: TokenHasher,
    chain_key: AuditChainKey,
    clock: Arc<dyn Clock>,
    config: CoreConfig,
    /// Every Argon2 operation runs here, bounded.
    hashing: hashing::PasswordHashing,
    /// Sends actions; `None` until [`Sealbox::with_dispatcher`] (runs then fail with `action.unavailable`).
    dispatcher: Option<Arc<dyn actions::Dispatcher>>,
    /// Where sign-ins, rate-limit refusals and action runs are counted.
    metrics: Arc<sealbox_metrics::Metrics>,
    /// Fetches JWT issuers' keys; `None` until [`Sealbox::with_issuer_keys`] (then only trusts
    /// with static keys can exchange).
    issuer_keys: Option<Arc<dyn federation::IssuerKeys>>,
    key_cache: federation::KeyCache,
    jwt_refusals: federation::RefusalBudget,
}

impl std::fmt::Debug for Sealbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealbox")
            .field("store", &self.store.kind())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    WrongRootKey(sealbox_crypto::CryptoError),
    #[error("cannot read the root-key check value: {0}")]
    Store(#[from] sealbox_store::StoreError),
    #[error("the keyring cannot be used: {0}")]
    Keyring(String),
    #[error("cannot start the password-hashing threads: {0}")]
    Hashing(String),
}

impl Sealbox {
    /// Ties a store to a root key. On the first start the key's check value is stored; on every
    /// later start it must verify, so a wrong key is refused here and never returns garbage.
    pub async fn open(
        store: Arc<dyn Store>,
        root_key: RootKey,
        clock: Arc<dyn Clock>,
        config: CoreConfig,
    ) -> Result<Self, OpenError> {
        let check_key = format!("{ROOT_KEY_CHECK}:v{}", root_key.version());
        match store.get_meta(&check_key).await? {
            Some(check) => root_key.verify_check_value(&check).map_err(OpenError::WrongRootKey)?,
            None => {
                if !store.put_meta_if_absent(&check_key, &root_key.check_value()).await? {
                    // Another replica stored its check value first: ours must match it.
                    let check = store.get_meta(&check_key).await?.unwrap_or_default();
                    root_key.verify_check_value(&check).map_err(OpenError::WrongRootKey)?;
                }
            }
        }
        // After a rekey, token hashes and the audit chain stay keyed by the original root key.
        let origin = match store.get_meta(ROOT_KEY_ORIGIN).await? {
            Some(wrapped) => Some(sealbox_crypto::unwrap_origin(&root_key, &wrapped).map_err(OpenError::WrongRootKey)?),
            None => None,
        };
        let identity = origin.as_ref().unwrap_or(&root_key);
        let token_hasher = identity.token_hasher();
        let chain_key = audit_chain_key(identity);
        // A store opened while the server was sealed has no chain key until now.
        store.use_audit_chain_key(chain_key.clone());
        let hashing = hashing::PasswordHashing::start(config.password_hash_threads, config.password_hash_queue)
            .map_err(OpenError::Hashing)?;
        let root_key = Arc::new(root_key);
        let keyring = keyring::Keyring::open(store.clone(), root_key.clone(), clock.clone()).await?;
        let key_cache = federation::KeyCache::new(config.jwks_cache_ttl_ms, config.jwks_refetch_interval_ms);
        Ok(Self {
            store,
            root_key,
            keyring,
            token_hasher,
            chain_key,
            clock,
            config,
            hashing,
            dispatcher: None,
            metrics: Default::default(),
            issuer_keys: None,
            key_cache,
            jwt_refusals: Default::default(),
        })
    }

    /// Gives the application its way to send actions (the server's outbound senders).
    pub fn with_dispatcher(mut self, dispatcher: Arc<dyn actions::Dispatcher>) -> Self {
        self.dispatcher = Some(dispatcher);
        self
    }

    /// Gives the application its way to fetch JWT issuers' keys (the server's HTTPS client).
    pub fn with_issuer_keys(mut self, issuer_keys: Arc<dyn federation::IssuerKeys>) -> Self {
        self.issuer_keys = Some(issuer_keys);
        self
    }

    /// Records into `metrics` (the server's, shared with its store) instead of a private set.
    pub fn with_metrics(mut self, metrics: Arc<sealbox_metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn metrics(&self) -> &Arc<sealbox_metrics::Metrics> {
        &self.metrics
    }

    /// Whether a root key (of `version`) was already tied to this store by an earlier start.
    pub async fn root_key_recorded(store: &dyn Store, version: u32) -> Result<bool, sealbox_store::StoreError> {
        Ok(store.get_meta(&format!("{ROOT_KEY_CHECK}:v{version}")).await?.is_some())
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Tags as a row stores them (JSON text), an identity's or a secret's.
pub(crate) fn parse_map(text: &str) -> CoreResult<std::collections::BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|_| CoreError::internal("stored tags are invalid"))
}

/// A value as the JSON text a column stores.
fn json_text<T: serde::Serialize>(v: &T) -> CoreResult<String> {
    serde_json::to_string(v).map_err(CoreError::internal)
}
