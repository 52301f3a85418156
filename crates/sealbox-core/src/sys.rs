//! The server's own state, for operators: readiness (and, with metrics, per-workspace counts).

use sealbox_types::{Readiness, codes};

use crate::Sealbox;
use crate::error::{CoreError, CoreResult, ErrorClass};
use crate::principal::{Permission, Principal, authorize};

/// Whose view of the metrics: a member's (owners and admins; the workspace gauges of their own
/// workspace only, so no tenant sees another's), or the operator's (every workspace; served only
/// on the listener the operator chose with `--metrics-listen`).
pub enum MetricsScope<'p> {
    Member(&'p Principal),
    Operator,
}

impl Sealbox {
    /// The metrics in the Prometheus text format, with the store's pool use and the per-workspace
    /// gauges read now (see [`MetricsScope`]).
    pub async fn metrics_text(&self, scope: MetricsScope<'_>) -> CoreResult<String> {
        let workspace = match scope {
            MetricsScope::Member(p) => {
                authorize(p, Permission::ReadMetrics)?;
                Some(p.workspace_id())
            }
            MetricsScope::Operator => None,
        };
        let counts = self.store.workspace_counts(workspace).await?;
        let rotation = self.keyring.status().await?;
        self.metrics
            .key_rotation(rotation.active_version, rotation.done, rotation.remaining);
        self.metrics
            .encode(self.store.pool_status(), &counts)
            .map_err(CoreError::internal)
    }

    /// Whether this server can serve requests: the database answers and has every migration this
    /// version needs. The keys are loaded once a `Sealbox` exists (`open` checks the root key), so
    /// that check passes by construction. The error says which check failed.
    pub async fn readiness(&self) -> CoreResult<Readiness> {
        let pending = self.store.pending_migrations().await.map_err(|e| {
            tracing::warn!(error = %e, "not ready: the database did not answer");
            CoreError::new(
                ErrorClass::Unavailable,
                codes::STORE_UNAVAILABLE,
                "not ready: the database is not reachable",
            )
        })?;
        if !pending.is_empty() {
            return Err(CoreError::new(
                ErrorClass::Unavailable,
                codes::STORE_SCHEMA_OUTDATED,
                format!(
                    "not ready: the database lacks migrations {}; restart this server to apply them",
                    pending.join(", ")
                ),
            ));
        }
        let ok = || "ok".to_owned();
        Ok(Readiness {
            status: "ready".into(),
            database: ok(),
            migrations: ok(),
            keys: ok(),
        })
    }
}
