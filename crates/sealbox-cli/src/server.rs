//! `sealbox server`: flags and `SEALBOX_*` variables into `sealbox_server::Config`.

use std::path::PathBuf;

use clap::Args;
use clap::builder::BoolishValueParser;
use clap::builder::TypedValueParser as _;
use secrecy::SecretString;

#[derive(Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        env = "SEALBOX_LISTEN",
        default_value = "127.0.0.1:8270",
        value_name = "ADDR:PORT"
    )]
    listen: String,
    /// Where the SQLite database, root key file and bootstrap credentials live.
    #[arg(long, env = "SEALBOX_DATA_DIR", default_value = "./sealbox-data", value_name = "DIR")]
    data_dir: PathBuf,
    /// PostgreSQL instead of the embedded SQLite, e.g. postgres://user@host/sealbox.
    #[arg(long, env = "SEALBOX_DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,
    /// Seconds a request waits for PostgreSQL (a connection, one statement) before it fails with
    /// 503 store.unavailable, e.g. while the database is down.
    #[arg(long, env = "SEALBOX_DATABASE_TIMEOUT_SECS", default_value_t = 5, value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=300))]
    database_timeout_secs: u64,
    /// The root key file (created on first start); kept in the data directory when absent.
    #[arg(long, env = "SEALBOX_ROOT_KEY_FILE", value_name = "PATH")]
    root_key_file: Option<PathBuf>,
    /// Where the root key comes from: `file` reads the root key file (or SEALBOX_ROOT_KEY).
    #[arg(long, env = "SEALBOX_SEAL", default_value = "file", value_name = "SOURCE",
        value_parser = clap::builder::PossibleValuesParser::new(sealbox_server::SealKind::NAMES)
            .try_map(|name: String| name.parse::<sealbox_server::SealKind>()))]
    seal: sealbox_server::SealKind,
    #[command(flatten)]
    protector: ProtectorArgs,
    /// Allow plain HTTP on a non-loopback address.
    #[arg(long, env = "SEALBOX_INSECURE_HTTP", value_parser = BoolishValueParser::new())]
    insecure_http: bool,
    /// TLS certificate chain (PEM).
    #[arg(long, env = "SEALBOX_TLS_CERT", value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "SEALBOX_TLS_KEY", value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Days a deleted secret stays in the trash before it is purged.
    #[arg(
        long,
        env = "SEALBOX_TRASH_RETENTION_DAYS",
        default_value_t = 30,
        value_name = "DAYS"
    )]
    trash_retention_days: u32,
    /// Log filter, e.g. info or sealbox_server=debug.
    #[arg(long, env = "SEALBOX_LOG", default_value = "info", value_name = "FILTER")]
    log_level: String,
    /// Logs as JSON lines.
    #[arg(long, env = "SEALBOX_LOG_JSON", value_parser = BoolishValueParser::new())]
    log_json: bool,
    /// Seconds the web panel shows a revealed value before hiding it (1-300; tests use a short one).
    #[arg(
        long,
        env = "SEALBOX_PANEL_REVEAL_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..=300),
        value_name = "SECONDS",
        hide = true
    )]
    panel_reveal_seconds: u32,
    /// Let actions reach loopback, private, link-local and cloud-metadata addresses.
    #[arg(long, env = "SEALBOX_ALLOW_PRIVATE_DESTINATIONS", value_parser = BoolishValueParser::new())]
    allow_private_destinations: bool,
    /// Time limit for one action's whole exchange with its destination.
    #[arg(long, env = "SEALBOX_ACTION_TIMEOUT_SECS", default_value_t = 10, value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=600))]
    action_timeout_secs: u64,
    /// Largest response an HTTP action accepts (a larger one is an error, not truncated).
    #[arg(long, env = "SEALBOX_ACTION_MAX_RESPONSE_BYTES", default_value_t = 1_048_576, value_name = "BYTES",
        value_parser = clap::value_parser!(u64).range(1..=268_435_456))]
    action_max_response_bytes: u64,
    /// PEM certificates that actions (SMTP and HTTPS) and fetches of JWT issuers' keys trust
    /// besides the public roots, e.g. a private CA.
    #[arg(long, env = "SEALBOX_EXTRA_CA_FILE", value_name = "PATH")]
    extra_ca_file: Option<PathBuf>,
    /// How long a JWT issuer's keys (its JWKS), once fetched, are used before they are fetched again.
    #[arg(long, env = "SEALBOX_JWKS_CACHE_SECS", default_value_t = 600, value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    jwks_cache_secs: u64,
    /// The least time between two fetches of one JWT issuer's keys: a token whose key id is not
    /// among the cached keys fetches them again, at most this often.
    #[arg(long, env = "SEALBOX_JWKS_REFETCH_INTERVAL_SECS", default_value_t = 30, value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=3_600))]
    jwks_refetch_interval_secs: u64,
    /// Also serve GET /v1/sys/metrics WITHOUT a token, with every workspace's gauges, on this
    /// address (e.g. 127.0.0.1:9270 for a local Prometheus); keep it off untrusted networks.
    #[arg(long, env = "SEALBOX_METRICS_LISTEN", value_name = "ADDR:PORT")]
    metrics_listen: Option<String>,
    /// Also append every audit event, once committed, as a JSON line to this file (created 0600;
    /// a symbolic link is refused), for log shippers.
    #[arg(long, env = "SEALBOX_AUDIT_FILE", value_name = "PATH")]
    audit_file: Option<PathBuf>,
    /// Single sign-on: the OpenID Connect provider's issuer URL (https://; plain http only on a
    /// loopback address). Needs --oidc-client-id, --oidc-redirect-url and a client secret
    /// (SEALBOX_OIDC_CLIENT_SECRET or --oidc-client-secret-file); its CA may be --extra-ca-file.
    #[arg(long, env = "SEALBOX_OIDC_ISSUER", value_name = "URL")]
    oidc_issuer: Option<String>,
    /// The client id registered with the provider for this server.
    #[arg(long, env = "SEALBOX_OIDC_CLIENT_ID", value_name = "ID")]
    oidc_client_id: Option<String>,
    /// A file holding the client secret (not readable by others); or set SEALBOX_OIDC_CLIENT_SECRET.
    #[arg(long, env = "SEALBOX_OIDC_CLIENT_SECRET_FILE", value_name = "PATH")]
    oidc_client_secret_file: Option<PathBuf>,
    /// Where the provider sends people back, as registered with it: this server's address as
    /// browsers reach it, then /sso/callback (e.g. https://sealbox.example.com/sso/callback).
    #[arg(long, env = "SEALBOX_OIDC_REDIRECT_URL", value_name = "URL")]
    oidc_redirect_url: Option<String>,
    /// The ID token claim that lists a person's groups (for `sealbox workspace sso --group-role`).
    #[arg(
        long,
        env = "SEALBOX_OIDC_GROUPS_CLAIM",
        default_value = "groups",
        value_name = "CLAIM"
    )]
    oidc_groups_claim: String,
    /// Scopes asked for besides openid, space-separated (email is needed to match members).
    #[arg(
        long,
        env = "SEALBOX_OIDC_SCOPES",
        default_value = "email profile",
        value_name = "SCOPES"
    )]
    oidc_scopes: String,
    /// Break glass: owners may sign in with their password even in workspaces that turned
    /// password sign-in off (e.g. while the identity provider is down); each such sign-in is
    /// audited with break_glass. Start without it again afterwards.
    #[arg(long, env = "SEALBOX_PASSWORD_BREAK_GLASS", value_parser = BoolishValueParser::new())]
    password_break_glass: bool,
}

/// The variable that holds the client secret itself (a flag would show it in process listings).
const OIDC_CLIENT_SECRET_ENV: &str = "SEALBOX_OIDC_CLIENT_SECRET";

/// `--oidc-*` into the server's single sign-on settings; `None` without `--oidc-issuer`.
fn oidc_config(args: &ServerArgs) -> anyhow::Result<Option<sealbox_server::OidcConfig>> {
    let Some(issuer) = args.oidc_issuer.clone() else {
        if args.oidc_client_id.is_some() || args.oidc_redirect_url.is_some() || args.oidc_client_secret_file.is_some() {
            anyhow::bail!("--oidc-client-id, --oidc-redirect-url and --oidc-client-secret-file need --oidc-issuer");
        }
        return Ok(None);
    };
    let Some(client_id) = args.oidc_client_id.clone() else {
        anyhow::bail!("--oidc-issuer needs --oidc-client-id (the client registered with the provider)");
    };
    let Some(redirect_url) = args.oidc_redirect_url.clone() else {
        anyhow::bail!(
            "--oidc-issuer needs --oidc-redirect-url: this server's address as browsers reach it, then /sso/callback"
        );
    };
    let from_env = std::env::var(OIDC_CLIENT_SECRET_ENV).ok().filter(|v| !v.is_empty());
    let client_secret = match (&args.oidc_client_secret_file, from_env) {
        (Some(_), Some(_)) => {
            anyhow::bail!(
                "give the client secret once: --oidc-client-secret-file or {OIDC_CLIENT_SECRET_ENV}, not both"
            )
        }
        (Some(path), None) => read_secret_file(path)?,
        (None, Some(secret)) => SecretString::from(secret),
        (None, None) => anyhow::bail!(
            "--oidc-issuer needs the client secret: set {OIDC_CLIENT_SECRET_ENV} or give --oidc-client-secret-file"
        ),
    };
    let mut scopes: Vec<String> = args.oidc_scopes.split_whitespace().map(str::to_owned).collect();
    scopes.retain(|s| s != "openid");
    if !scopes.iter().any(|s| s == "email") {
        scopes.push("email".into());
    }
    Ok(Some(sealbox_server::OidcConfig {
        issuer,
        client_id,
        client_secret,
        redirect_url,
        groups_claim: args.oidc_groups_claim.clone(),
        scopes,
    }))
}

/// The client secret file: its first line; refused when others may read it.
fn read_secret_file(path: &std::path::Path) -> anyhow::Result<SecretString> {
    use std::os::unix::fs::PermissionsExt as _;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("--oidc-client-secret-file {shown}: {e}"))?;
    if meta.permissions().mode() & 0o004 != 0 {
        anyhow::bail!("--oidc-client-secret-file {shown}: others may read it; chmod o-r (or 600) it first");
    }
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--oidc-client-secret-file {shown}: {e}"))?;
    let secret = text.lines().next().unwrap_or_default().trim().to_owned();
    if secret.is_empty() {
        anyhow::bail!("--oidc-client-secret-file {shown}: the file is empty");
    }
    Ok(SecretString::from(secret))
}

/// The settings of the key protectors (`--seal awskms`, `--seal pkcs11`), shared by `sealbox
/// server` and `sealbox operator rekey`.
#[derive(clap::Args, Clone, Default)]
pub struct ProtectorArgs {
    /// --seal awskms: the KMS key that wraps the root key (key id, ARN or alias/NAME).
    /// Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
    #[arg(long, env = "SEALBOX_KMS_KEY_ID", value_name = "ID")]
    pub kms_key_id: Option<String>,
    /// --seal awskms: another KMS endpoint (a VPC endpoint); https, or http to this machine only.
    #[arg(long, env = "SEALBOX_KMS_ENDPOINT", value_name = "URL")]
    pub kms_endpoint: Option<String>,
    /// --seal awskms: the region; else the key ARN's, else AWS_REGION or AWS_DEFAULT_REGION.
    #[arg(long, env = "SEALBOX_KMS_REGION", value_name = "REGION")]
    pub kms_region: Option<String>,
    /// --seal pkcs11: the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so.
    #[arg(long, env = "SEALBOX_PKCS11_LIB", value_name = "PATH")]
    pub pkcs11_lib: Option<PathBuf>,
    /// --seal pkcs11: the token's slot number.
    #[arg(long, env = "SEALBOX_PKCS11_SLOT", value_name = "N")]
    pub pkcs11_slot: Option<u64>,
    /// --seal pkcs11: the label of the AES-256 key in the token that wraps the root key.
    #[arg(long, env = "SEALBOX_PKCS11_KEY_LABEL", value_name = "LABEL")]
    pub pkcs11_key_label: Option<String>,
    /// --seal pkcs11: a file holding the user PIN (SEALBOX_PKCS11_PIN takes precedence; never
    /// a flag's value).
    #[arg(long, env = "SEALBOX_PKCS11_PIN_FILE", value_name = "PATH")]
    pub pkcs11_pin_file: Option<PathBuf>,
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let oidc = oidc_config(&args)?;
    let config = sealbox_server::Config {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        database_timeout_secs: args.database_timeout_secs,
        root_key_file: args.root_key_file,
        seal: args.seal,
        kms_key_id: args.protector.kms_key_id,
        kms_endpoint: args.protector.kms_endpoint,
        kms_region: args.protector.kms_region,
        pkcs11_lib: args.protector.pkcs11_lib,
        pkcs11_slot: args.protector.pkcs11_slot,
        pkcs11_key_label: args.protector.pkcs11_key_label,
        pkcs11_pin_file: args.protector.pkcs11_pin_file,
        insecure_http: args.insecure_http,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        trash_retention_days: args.trash_retention_days,
        log_level: args.log_level,
        log_json: args.log_json,
        panel_reveal_seconds: args.panel_reveal_seconds,
        allow_private_destinations: args.allow_private_destinations,
        action_timeout_secs: args.action_timeout_secs,
        action_max_response_bytes: usize::try_from(args.action_max_response_bytes)?,
        extra_ca_file: args.extra_ca_file,
        jwks_cache_secs: args.jwks_cache_secs,
        jwks_refetch_interval_secs: args.jwks_refetch_interval_secs,
        metrics_listen: args.metrics_listen,
        audit_file: args.audit_file,
        oidc,
        password_break_glass: args.password_break_glass,
    };
    sealbox_server::run(config).await
}
