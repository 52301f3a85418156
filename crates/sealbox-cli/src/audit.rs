//! `sealbox audit list|verify`.

use anyhow::bail;
use clap::Subcommand;
use sealbox_client::AuditQuery;
use sealbox_types::AuditOrder;

use crate::Ctx;
use crate::output::{self, Table, outln};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first (--reverse: oldest first).
    #[command(
        long_about = "List audit events, newest first (--reverse: oldest first), at most --limit of \
        them (100 by default). When more events match than are shown, a line on stderr says so and \
        gives the flag that shows the next page (--before SEQ, or --after SEQ with --reverse); \
        --since narrows the window. Times are RFC 3339 (2026-01-31T12:00:00Z) or a time back from \
        now: 90s, 30m, 1h, 7d, 2w."
    )]
    List {
        /// Only events at or after this time: RFC 3339, or back from now (30m, 1h, 7d, 2w).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only events before this time: RFC 3339, or back from now (30m, 1h, 7d, 2w).
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
        /// Only events after this sequence number (to page on with --reverse).
        #[arg(long, value_name = "SEQ")]
        after: Option<u64>,
        /// Only events before this sequence number (to page back to older events).
        #[arg(long, value_name = "SEQ")]
        before: Option<u64>,
        /// Oldest first instead of newest first.
        #[arg(long)]
        reverse: bool,
        /// At most this many events (1-1000; 100 when absent).
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
            before,
            reverse,
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
                before,
                order: (!reverse).then_some(AuditOrder::Newest),
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
            table.print("no audit events")?;
            if let (true, Some(last)) = (list.more, list.events.last()) {
                let (which, next) = if reverse {
                    ("oldest", format!("--reverse --after {}", last.seq))
                } else {
                    ("newest", format!("--before {}", last.seq))
                };
                eprintln!(
                    "showing the {} {which} matching events; more match: add {next} for the next page, \
                     or narrow with --since or --limit",
                    list.events.len()
                );
            }
            Ok(())
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
