//! The audit log page: the newest events, filtered, and the chain check.

use std::collections::VecDeque;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use sealbox_types::{AuditEvent, AuditQuery, AuditVerifyResponse};

use super::forms::{Fields, form_error};
use super::{Layout, PanelResult, Session, render, short_time};
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

struct AuditEventView {
    seq: u64,
    at: String,
    actor: String,
    action: String,
    target: String,
    outcome: String,
    request_id: String,
    request_short: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    rows: Vec<AuditEventView>,
    verify: AuditVerifyResponse,
    typed: Fields,
    error: Option<String>,
    truncated: bool,
}

const AUDIT_SHOWN: usize = 200;
const AUDIT_PAGE: u64 = 1000;
const AUDIT_MAX_PAGES: usize = 50;

/// `2026-12-01T08:00` (a datetime-local input) as RFC 3339 UTC; anything else as typed.
fn time_filter(raw: Option<&str>) -> Option<String> {
    raw.map(|t| {
        if t.len() == 16 && t.as_bytes().get(10) == Some(&b'T') {
            format!("{t}:00Z")
        } else {
            t.to_owned()
        }
    })
}

/// The table shows a member as their e-mail (without core's `member:` prefix); an actor typed
/// that way is filtered as the member it names. Other labels (`identity:bot`, `token:...`,
/// `anonymous`) are taken as typed.
fn actor_filter(typed: &str) -> String {
    if typed.contains('@') && !typed.contains(':') {
        format!("member:{typed}")
    } else {
        typed.to_owned()
    }
}

/// The newest matching events, newest first. Core pages forward from the oldest, so the panel
/// reads pages and keeps the last [`AUDIT_SHOWN`].
async fn list(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let p = &session.principal;
    let verify = s.core.verify_audit(p).await?;
    let target = q.opt("secret").map(|n| format!("secret:{n}"));
    let mut events: VecDeque<AuditEvent> = VecDeque::new();
    let mut after = None;
    let mut error = None;
    let mut truncated = false;
    for page in 0..AUDIT_MAX_PAGES {
        let query = AuditQuery {
            since: time_filter(q.opt("since")),
            until: time_filter(q.opt("until")),
            actor: q.opt("actor").map(actor_filter),
            action: q.opt("action").map(str::to_owned),
            target: target.clone(),
            after,
            before: None,
            order: None,
            limit: Some(AUDIT_PAGE),
        };
        match s.core.list_audit(p, query).await {
            Ok(batch) => {
                let n = batch.len() as u64;
                after = batch.last().map(|e| e.seq);
                for e in batch {
                    events.push_back(e);
                    if events.len() > AUDIT_SHOWN {
                        events.pop_front();
                        truncated = true;
                    }
                }
                if n < AUDIT_PAGE {
                    break;
                }
                truncated |= page + 1 == AUDIT_MAX_PAGES;
            }
            Err(e) => {
                error = Some(form_error(e)?);
                break;
            }
        }
    }
    let rows = events
        .into_iter()
        .rev()
        .map(|e| AuditEventView {
            seq: e.seq,
            at: short_time(&e.at),
            actor: e.actor.strip_prefix("member:").unwrap_or(&e.actor).to_owned(),
            action: e.action,
            target: e.target,
            outcome: e.outcome,
            request_short: e.request_id.chars().take(8).collect(),
            request_id: e.request_id,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = AuditPage {
        l: Layout::new(&session, "audit", "Audit log"),
        rows,
        verify,
        typed: q,
        error,
        truncated,
    };
    render(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_becomes_rfc3339() {
        assert_eq!(
            time_filter(Some("2026-12-01T08:00")).as_deref(),
            Some("2026-12-01T08:00:00Z")
        );
        assert_eq!(
            time_filter(Some("2026-12-01T08:00:00Z")).as_deref(),
            Some("2026-12-01T08:00:00Z")
        );
        assert_eq!(time_filter(None), None);
    }

    #[test]
    fn an_e_mail_filters_as_the_member() {
        assert_eq!(actor_filter("ann@example.com"), "member:ann@example.com");
        assert_eq!(actor_filter("member:ann@example.com"), "member:ann@example.com");
        assert_eq!(actor_filter("identity:bot"), "identity:bot");
        assert_eq!(actor_filter("anonymous"), "anonymous");
    }
}
