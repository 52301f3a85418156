//! `sealbox server`: flags and `SEALBOX_*` variables into `sealbox_server::Config`.

use std::path::PathBuf;

use clap::Args;
use clap::builder::BoolishValueParser;
use clap::builder::TypedValueParser as _;

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
    };
    sealbox_server::run(config).await
}
