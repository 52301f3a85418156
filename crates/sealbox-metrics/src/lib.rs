//! Every metric Sealbox exports, defined once: [`Metrics`] holds them in a `prometheus-client`
//! registry (one per server, no global state, so servers in one test process never mix), and
//! each is recorded through one method here. The store, core and server record into the same
//! `Arc<Metrics>`; the server encodes it in the Prometheus text format at `GET /v1/sys/metrics`.
//!
//! **Architecture Invariant:** no label value comes from a request or a stored value. Labels are
//! `&'static str` from closed sets (outcomes, kinds, operations), the route template of the
//! matched route (never the path), and a workspace's name. A secret's name or value, a token, an
//! e-mail address never becomes a label. No IO, no other sealbox crate.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What a route template is when no route matched (a 404 for an unknown path): one value, so
/// unknown paths cannot grow the label set.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpReasonLabels {
    op: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkspaceLabels {
    workspace: String,
}

/// A store operation, as `op` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// One read statement.
    Read,
    /// One write transaction, from queueing it to its commit.
    Write,
}

impl StoreOp {
    fn as_str(self) -> &'static str {
        match self {
            StoreOp::Read => "read",
            StoreOp::Write => "write",
        }
    }
}

/// The connections of a store at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open now (PostgreSQL's pool; SQLite's read connections).
    pub open: u64,
    /// Of those, the ones idle.
    pub idle: u64,
    /// The most the pool opens.
    pub max: u64,
    /// Writes queued for SQLite's writer thread; `None` on PostgreSQL.
    pub write_queue: Option<u64>,
}

/// One workspace's gauges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceCounts {
    pub workspace: String,
    /// Live secrets (not in the trash).
    pub secrets: u64,
    pub identities: u64,
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    logins: Family<OutcomeLabels, Counter>,
    rate_limited: Family<LimitLabels, Counter>,
    action_runs: Family<ActionLabels, Counter>,
    audit_writes: Family<OutcomeLabels, Counter>,
    audit_write_duration: Histogram,
    audit_file_write_failures: Counter,
    store_duration: Family<OpLabels, Histogram>,
    store_failures: Family<OpReasonLabels, Counter>,
    store_connections: Family<StateLabels, Gauge>,
    store_connections_max: Gauge,
    store_write_queue: Gauge,
    keyring_active_version: Gauge,
    key_rotation_data_keys: Family<StateLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Latency buckets from 0.5 ms to about 16 s.
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sealbox");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            http_duration.clone(),
        );
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "logins",
            "Password sign-ins by outcome: success, failure, rate_limited, busy",
            logins.clone(),
        );
        let rate_limited = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by limit: login_client, login_email_from_client",
            rate_limited.clone(),
        );
        let action_runs = Family::<ActionLabels, Counter>::default();
        registry.register(
            "action_runs",
            "Action runs by kind (http, email, sqs) and outcome: success, failure (sent, the destination failed), refused (nothing sent), denied",
            action_runs.clone(),
        );
        let audit_writes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "audit_writes",
            "Audit events written (outcome ok) or not (failed: the operation was refused)",
            audit_writes.clone(),
        );
        let audit_write_duration = seconds_histogram();
        registry.register(
            "audit_write_duration_seconds",
            "Time of a write transaction that carries audit events, to its commit",
            audit_write_duration.clone(),
        );
        let audit_file_write_failures = Counter::default();
        registry.register(
            "audit_file_write_failures",
            "Audit events that could not be appended to the audit file (they are in the database)",
            audit_file_write_failures.clone(),
        );
        let store_duration = Family::<OpLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        registry.register(
            "store_query_duration_seconds",
            "Database time: each read statement, each write transaction to its commit",
            store_duration.clone(),
        );
        let store_failures = Family::<OpReasonLabels, Counter>::default();
        registry.register(
            "store_query_failures",
            "Database operations that failed, by op and reason: unavailable (no answer in time), database (an error)",
            store_failures.clone(),
        );
        let store_connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "store_connections",
            "Database connections open, by state: idle, busy",
            store_connections.clone(),
        );
        let store_connections_max = Gauge::default();
        registry.register(
            "store_connections_max",
            "The most database connections the pool opens",
            store_connections_max.clone(),
        );
        let store_write_queue = Gauge::default();
        registry.register(
            "store_write_queue",
            "Writes waiting for SQLite's writer thread (0 on PostgreSQL)",
            store_write_queue.clone(),
        );
        let keyring_active_version = Gauge::default();
        registry.register(
            "keyring_active_version",
            "The keyring version new data keys are wrapped with",
            keyring_active_version.clone(),
        );
        let key_rotation_data_keys = Family::<StateLabels, Gauge>::default();
        registry.register(
            "key_rotation_data_keys",
            "Stored data keys by state: done (wrapped by the active keyring version), remaining (still to rewrap)",
            key_rotation_data_keys.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            logins,
            rate_limited,
            action_runs,
            audit_writes,
            audit_write_duration,
            audit_file_write_failures,
            store_duration,
            store_failures,
            store_connections,
            store_connections_max,
            store_write_queue,
            keyring_active_version,
            key_rotation_data_keys,
        }
    }

    /// The keyring's active version and how many data keys are (not yet) wrapped by it.
    pub fn key_rotation(&self, active_version: u32, done: u64, remaining: u64) {
        self.keyring_active_version.set(i64::from(active_version));
        for (state, n) in [("done", done), ("remaining", remaining)] {
            self.key_rotation_data_keys
                .get_or_create(&StateLabels { state })
                .set(gauge(n));
        }
    }

    /// An HTTP request answered. `route` is the matched route's template (`/v1/secrets/{name}`),
    /// or [`UNMATCHED_ROUTE`]; never the request's path.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = known_method(method);
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A password sign-in ended: `success`, `failure`, `rate_limited` or `busy`.
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// A request refused by the rate limit `limit`.
    pub fn rate_limited(&self, limit: &'static str) {
        self.rate_limited.get_or_create(&LimitLabels { limit }).inc();
    }

    /// An action run of `kind` ended with `outcome`.
    pub fn action_run(&self, kind: &'static str, outcome: &'static str) {
        self.action_runs.get_or_create(&ActionLabels { kind, outcome }).inc();
    }

    /// `events` audit events were committed (`ok`) or not, in a write that took `elapsed`.
    pub fn audit_write(&self, events: u64, ok: bool, elapsed: Duration) {
        let outcome = if ok { "ok" } else { "failed" };
        self.audit_writes
            .get_or_create(&OutcomeLabels { outcome })
            .inc_by(events);
        self.audit_write_duration.observe(elapsed.as_secs_f64());
    }

    /// An audit event could not be appended to the audit file.
    pub fn audit_file_write_failed(&self) {
        self.audit_file_write_failures.inc();
    }

    /// A store operation took `elapsed`; `failure` names why it failed (`unavailable`,
    /// `database`), `None` when it succeeded or the database gave a domain answer.
    pub fn store_query(&self, op: StoreOp, elapsed: Duration, failure: Option<&'static str>) {
        let op = op.as_str();
        self.store_duration
            .get_or_create(&OpLabels { op })
            .observe(elapsed.as_secs_f64());
        if let Some(reason) = failure {
            self.store_failures.get_or_create(&OpReasonLabels { op, reason }).inc();
        }
    }

    /// The metrics in the Prometheus text format (OpenMetrics 1.0), with the store's pool
    /// status and `workspaces`' gauges as they are now.
    pub fn encode(&self, pool: PoolStatus, workspaces: &[WorkspaceCounts]) -> Result<String, std::fmt::Error> {
        let busy = pool.open.saturating_sub(pool.idle);
        self.store_connections
            .get_or_create(&StateLabels { state: "idle" })
            .set(gauge(pool.idle));
        self.store_connections
            .get_or_create(&StateLabels { state: "busy" })
            .set(gauge(busy));
        self.store_connections_max.set(gauge(pool.max));
        self.store_write_queue.set(gauge(pool.write_queue.unwrap_or(0)));
        // The workspace gauges are made per call: a caller may be shown only its own workspace.
        let mut per_workspace = Registry::with_prefix("sealbox");
        let secrets = Family::<WorkspaceLabels, Gauge>::default();
        per_workspace.register(
            "secrets",
            "Live secrets (not in the trash) per workspace",
            secrets.clone(),
        );
        let identities = Family::<WorkspaceLabels, Gauge>::default();
        per_workspace.register("identities", "Identities per workspace", identities.clone());
        for counts in workspaces {
            let labels = WorkspaceLabels {
                workspace: counts.workspace.clone(),
            };
            secrets.get_or_create(&labels).set(gauge(counts.secrets));
            identities.get_or_create(&labels).set(gauge(counts.identities));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)?;
        prometheus_client::encoding::text::encode_registry(&mut text, &per_workspace)?;
        prometheus_client::encoding::text::encode_eof(&mut text)?;
        Ok(text)
    }
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The standard methods as themselves; anything else (a client may send any token) as `other`.
fn known_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_one_label() {
        assert_eq!(known_method("GET"), "GET");
        assert_eq!(known_method("SECRET_NAME"), "other");
    }
}
