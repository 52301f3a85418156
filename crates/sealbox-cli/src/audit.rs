//! `sealbox audit list|verify`.

use anyhow::bail;
use clap::Subcommand;
use sealbox_client::AuditQuery;

use crate::Ctx;
use crate::output::{self, Table, outln};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// List audit events, oldest first.
    List {
        /// Only events at or after this time (RFC 3339, e.g. 2025-01-31T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only events before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Only events by this actor, e.g. member:alice@example.com (a bare e-mail address means
        /// that member).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action, e.g. secret.reveal.
        #[arg(long)]
        action: Option<String>,
        /// Only events about this secret.
        #[arg(long, value_name = "NAME")]
        secret: Option<String>,
        /// Only events after this sequence number (to page on).
        #[arg(long, value_name = "SEQ")]
        after: Option<u64>,
        /// At most this many events.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Check the hash chain; exits with 1 when an event was edited or removed.
    Verify,
}

pub async fn run(ctx: &Ctx, cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::List {
            since,
            until,
            actor,
            action,
            secret,
            after,
            limit,
        } => {
            let query = AuditQuery {
                since,
                until,
                actor: actor.map(|a| {
                    if a.contains('@') && !a.contains(':') {
                        format!("member:{a}")
                    } else {
                        a
                    }
                }),
                action,
                target: secret.map(|name| format!("secret:{name}")),
                after,
                limit,
            };
            let list = ctx.client.audit_list(&query).await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["SEQ", "AT", "ACTOR", "ACTION", "TARGET", "OUTCOME"]);
            for e in &list.events {
                table.row(vec![
                    e.seq.to_string(),
                    e.at.clone(),
                    e.actor.clone(),
                    e.action.clone(),
                    e.target.clone(),
                    e.outcome.clone(),
                ]);
            }
            Ok(table.print("no audit events")?)
        }
        AuditCommand::Verify => {
            let v = ctx.client.audit_verify().await?;
            if ctx.json {
                output::json(&v)?;
            } else if v.ok {
                outln!("audit chain ok: {} events verified", v.events_checked);
            }
            if !v.ok {
                let at = v.first_bad_seq.map(|s| format!(" at event {s}")).unwrap_or_default();
                let why = v.problem.as_deref().map(|p| format!(": {p}")).unwrap_or_default();
                bail!(
                    "the audit chain does not verify{at}{why} ({} events checked); events were edited or removed",
                    v.events_checked
                );
            }
            Ok(())
        }
    }
}
