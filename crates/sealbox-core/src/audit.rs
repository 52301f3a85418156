//! The audit log: the records every use-case writes, listing events, and verifying the chain.

use sealbox_crypto::{ExposeSecret, RootKey};
use sealbox_store::{AuditChainKey, AuditFilter, AuditRecord};
use sealbox_types::{AuditEvent, AuditList, AuditOrder, AuditQuery, AuditVerifyResponse, codes};
use serde_json::{Value, json};

use crate::Sealbox;
use crate::clock::{format_ms, parse_ago_ms, parse_rfc3339_ms};
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, authorize};
use crate::validate;

impl Sealbox {
    #[allow(clippy::too_many_arguments)] // one field per column of the event; a builder would only rename them
    pub(crate) fn audit_record(
        &self,
        workspace_id: &str,
        actor: String,
        ctx: &RequestContext,
        action: AuditAction,
        target: String,
        outcome: Outcome,
        detail: Value,
    ) -> AuditRecord {
        AuditRecord {
            workspace_id: workspace_id.to_owned(),
            at: self.now(),
            actor,
            action: action.as_str().to_owned(),
            target,
            outcome: outcome.as_str().to_owned(),
            request_id: ctx.request_id.clone(),
            client_addr: ctx.client_addr.clone(),
            // Every event's detail is an object, `{}` when there is nothing to add.
            detail: if detail.is_null() {
                "{}".to_owned()
            } else {
                detail.to_string()
            },
        }
    }

    /// Records a refusal. Best effort: the operation is refused whether or not this is written.
    pub(crate) async fn audit_denied(&self, p: &Principal, ctx: &RequestContext, action: AuditAction, target: String) {
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            action,
            target,
            Outcome::Denied,
            Value::Null,
        );
        if let Err(e) = self.store.append_audit(record).await {
            tracing::warn!(error = %e, "could not record a denied attempt");
        }
    }

    /// The events matching `query`, oldest first unless it asks for the newest first.
    pub async fn list_audit(&self, p: &Principal, query: AuditQuery) -> CoreResult<Vec<AuditEvent>> {
        Ok(self.list_audit_page(p, query).await?.events)
    }

    /// One page of events, and whether more match beyond it (one more is fetched to know).
    pub async fn list_audit_page(&self, p: &Principal, query: AuditQuery) -> CoreResult<AuditList> {
        authorize(p, Permission::ReadAudit)?;
        let now = self.now();
        let time = |field: &str, raw: Option<String>| -> CoreResult<Option<i64>> {
            raw.map(|s| {
                parse_rfc3339_ms(&s)
                    .or_else(|| parse_ago_ms(&s).map(|ago| now.saturating_sub(ago)))
                    .ok_or_else(|| {
                        CoreError::invalid(
                            codes::AUDIT_QUERY_INVALID,
                            format!(
                                "{field}: must be an RFC 3339 time like 2026-01-31T12:00:00Z, or a time back \
                                 from now like 30m, 1h, 7d or 2w"
                            ),
                        )
                    })
            })
            .transpose()
        };
        let limit = query.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(CoreError::invalid(codes::AUDIT_QUERY_INVALID, "limit: must be 1-1000"));
        }
        let mut target = validate::filter_text("target", codes::AUDIT_QUERY_INVALID, query.target)?;
        // `secret:NAME` also finds the reads of several secrets at once (an environment, a
        // template) that included NAME.
        let secret = target
            .as_deref()
            .and_then(|t| t.strip_prefix("secret:"))
            .and_then(|name| validate::SecretName::parse(name).ok())
            .map(|name| name.as_str().to_owned());
        if secret.is_some() {
            target = None;
        }
        let seq = |s: u64| s.min(i64::MAX as u64) as i64;
        let filter = AuditFilter {
            since: time("since", query.since)?,
            until: time("until", query.until)?,
            actor: validate::filter_text("actor", codes::AUDIT_QUERY_INVALID, query.actor)?,
            action: validate::filter_text("action", codes::AUDIT_QUERY_INVALID, query.action)?,
            target,
            secret,
            after_seq: query.after.map(seq),
            before_seq: query.before.map(seq),
            newest_first: query.order == Some(AuditOrder::Newest),
            limit: limit as i64 + 1,
        };
        let mut rows = self.store.list_audit(p.workspace_id(), &filter).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        Ok(AuditList {
            events: rows.into_iter().map(audit_event).collect(),
            more,
        })
    }

    /// Recomputes the workspace's hash chain from the first event and compares it with the
    /// recorded head, so an edited, inserted or removed event (also the last one) is reported.
    pub async fn verify_audit(&self, p: &Principal) -> CoreResult<AuditVerifyResponse> {
        authorize(p, Permission::ReadAudit)?;
        let broken = |checked: u64, seq: i64, problem: String| AuditVerifyResponse {
            ok: false,
            events_checked: checked,
            first_bad_seq: Some(seq.max(0) as u64),
            problem: Some(problem),
        };
        let mut prev_hash = sealbox_store::GENESIS_HASH.to_vec();
        let mut expected_seq = 1_i64;
        let mut checked = 0_u64;
        loop {
            let filter = AuditFilter {
                after_seq: Some(expected_seq - 1),
                limit: 1000,
                ..AuditFilter::default()
            };
            let page = self.store.list_audit(p.workspace_id(), &filter).await?;
            if page.is_empty() {
                break;
            }
            for event in page {
                if event.seq != expected_seq {
                    return Ok(broken(
                        checked,
                        expected_seq,
                        format!("event {expected_seq} is missing"),
                    ));
                }
                if event.prev_hash != prev_hash {
                    return Ok(broken(
                        checked,
                        event.seq,
                        format!("event {} does not link to the event before it", event.seq),
                    ));
                }
                if sealbox_store::chain_hash(&self.chain_key, &prev_hash, event.seq, &event.record) != event.hash {
                    return Ok(broken(
                        checked,
                        event.seq,
                        format!("event {} was altered after it was written", event.seq),
                    ));
                }
                prev_hash = event.hash;
                expected_seq += 1;
                checked += 1;
            }
        }
        let head = self.store.audit_head(p.workspace_id()).await?;
        let last_seq = expected_seq - 1;
        match head {
            Some((seq, hash)) if seq == last_seq && (seq == 0 || hash == prev_hash) => {}
            None if last_seq == 0 => {}
            Some((seq, _)) if seq > last_seq => {
                return Ok(broken(
                    checked,
                    last_seq + 1,
                    format!("events {} to {seq} are missing", last_seq + 1),
                ));
            }
            _ => {
                return Ok(broken(
                    checked,
                    last_seq,
                    "the chain does not end where the recorded head says".into(),
                ));
            }
        }
        // Events committed but not sealed yet (PostgreSQL seals them shortly after their change):
        // listing the chain above sealed every one that was waiting, so what is left is new, or
        // was not written by Sealbox (its MAC does not match), or no server is sealing.
        let now = self.now();
        for pending in self.store.pending_audit(p.workspace_id()).await? {
            if sealbox_store::pending_mac(&self.chain_key, &pending.record) != pending.mac {
                return Ok(broken(
                    checked,
                    last_seq + 1,
                    format!(
                        "an unsealed event (pending {}) was inserted or altered outside Sealbox",
                        pending.id
                    ),
                ));
            }
            if now - pending.record.at > UNSEALED_FOR_MS {
                return Ok(broken(
                    checked,
                    last_seq + 1,
                    format!(
                        "an event (pending {}) has waited more than {} s to be sealed into the chain",
                        pending.id,
                        UNSEALED_FOR_MS / 1000
                    ),
                ));
            }
        }
        Ok(AuditVerifyResponse {
            ok: true,
            events_checked: checked,
            first_bad_seq: None,
            problem: None,
        })
    }
}

/// How long an event may wait, committed but not sealed into its chain, before `verify` reports
/// it: a chainer seals events within milliseconds of their commit, and `verify` itself seals the
/// ones waiting before it checks.
const UNSEALED_FOR_MS: i64 = 60_000;

fn audit_event(row: sealbox_store::AuditEventRow) -> AuditEvent {
    let r = row.record;
    AuditEvent {
        seq: row.seq.max(0) as u64,
        at: format_ms(r.at),
        actor: r.actor,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        request_id: r.request_id,
        client_addr: r.client_addr,
        detail: serde_json::from_str(&r.detail).unwrap_or_else(|_| json!({})),
        hash: hex::encode(&row.hash),
    }
}

/// The key the store seals audit events with; give it to `SqliteStore::open` or
/// `PostgresStore::connect` with the same root key that `Sealbox::open` gets.
pub fn audit_chain_key(root_key: &RootKey) -> AuditChainKey {
    // EXPOSE: the subkey is handed to the store, which keeps it in memory to key the chain's HMAC.
    AuditChainKey::new(*root_key.audit_chain_key().expose_secret())
}

/// What an audit event records as its action: a closed set, so every use-case names one of
/// these and the log has no action nobody declared. The dotted names are stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    WorkspaceCreate,
    AuthLogin,
    /// A sign-in with single sign-on (OpenID Connect), with the provider's issuer and subject.
    AuthSsoLogin,
    AuthLogout,
    /// A workspace's single sign-on rules changed.
    WorkspaceSsoUpdate,
    MemberAdd,
    MemberRoleChange,
    MemberRemove,
    TokenCreate,
    TokenRevoke,
    IdentityCreate,
    IdentityUpdate,
    IdentityDelete,
    IdentityEnvSet,
    IdentityEnvUnset,
    IdentityTokenCreate,
    IdentityTokenRevoke,
    PolicyCreate,
    PolicyDelete,
    SecretCreate,
    SecretUpdate,
    /// A member saw a value (a reveal, or an environment or template read).
    SecretReveal,
    /// An identity received a value (its environment, a template, one secret).
    SecretRead,
    SecretRollback,
    SecretDelete,
    SecretRestore,
    SecretPurge,
    SecretImport,
    /// An action was about to send values.
    SecretUse,
    ActionCreate,
    ActionUpdate,
    ActionDelete,
    ActionRun,
    /// An owner took a backup of the whole database.
    ServerBackup,
    /// A new keyring version (key rotation).
    ServerRotate,
    /// An owner sealed the running server.
    ServerSeal,
    /// An unseal attempt (recorded once the server is unsealed; refused attempts too).
    ServerUnseal,
    /// A passphrase or Shamir key source was set up on a new database.
    ServerInit,
    /// The workspace's token lifetimes changed.
    WorkspaceSettingsUpdate,
    /// An identity was given a trust in a JWT issuer.
    IdentityFederate,
    IdentityFederationRemove,
    /// A platform's JWT exchanged for an identity token (or refused).
    AuthJwtExchange,
}

impl AuditAction {
    /// The name stored in the event and matched by the audit filter's `action`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::WorkspaceCreate => "workspace.create",
            AuditAction::AuthLogin => "auth.login",
            AuditAction::AuthSsoLogin => "auth.sso_login",
            AuditAction::WorkspaceSsoUpdate => "workspace.sso_update",
            AuditAction::AuthLogout => "auth.logout",
            AuditAction::MemberAdd => "member.add",
            AuditAction::MemberRoleChange => "member.role_change",
            AuditAction::MemberRemove => "member.remove",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::IdentityCreate => "identity.create",
            AuditAction::IdentityUpdate => "identity.update",
            AuditAction::IdentityDelete => "identity.delete",
            AuditAction::IdentityEnvSet => "identity.env_set",
            AuditAction::IdentityEnvUnset => "identity.env_unset",
            AuditAction::IdentityTokenCreate => "identity.token_create",
            AuditAction::IdentityTokenRevoke => "identity.token_revoke",
            AuditAction::PolicyCreate => "policy.create",
            AuditAction::PolicyDelete => "policy.delete",
            AuditAction::SecretCreate => "secret.create",
            AuditAction::SecretUpdate => "secret.update",
            AuditAction::SecretReveal => "secret.reveal",
            AuditAction::SecretRead => "secret.read",
            AuditAction::SecretRollback => "secret.rollback",
            AuditAction::SecretDelete => "secret.delete",
            AuditAction::SecretRestore => "secret.restore",
            AuditAction::SecretPurge => "secret.purge",
            AuditAction::SecretImport => "secret.import",
            AuditAction::SecretUse => "secret.use",
            AuditAction::ActionCreate => "action.create",
            AuditAction::ActionUpdate => "action.update",
            AuditAction::ActionDelete => "action.delete",
            AuditAction::ActionRun => "action.run",
            AuditAction::ServerBackup => "server.backup",
            AuditAction::ServerRotate => "server.rotate",
            AuditAction::ServerSeal => "server.seal",
            AuditAction::ServerUnseal => "server.unseal",
            AuditAction::ServerInit => "server.init",
            AuditAction::WorkspaceSettingsUpdate => "workspace.settings_update",
            AuditAction::IdentityFederate => "identity.federate",
            AuditAction::IdentityFederationRemove => "identity.federation_remove",
            AuditAction::AuthJwtExchange => "auth.jwt_exchange",
        }
    }
}

/// How the audited operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Attempted and failed (a wrong password, a run that was refused or failed).
    Failure,
    /// Refused by authorisation or a rate limit.
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action (`as_str`'s match makes sure each has a name).
    const ALL: [AuditAction; 40] = [
        AuditAction::WorkspaceCreate,
        AuditAction::AuthLogin,
        AuditAction::AuthLogout,
        AuditAction::MemberAdd,
        AuditAction::MemberRoleChange,
        AuditAction::MemberRemove,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::IdentityCreate,
        AuditAction::IdentityUpdate,
        AuditAction::IdentityDelete,
        AuditAction::IdentityEnvSet,
        AuditAction::IdentityEnvUnset,
        AuditAction::IdentityTokenCreate,
        AuditAction::IdentityTokenRevoke,
        AuditAction::PolicyCreate,
        AuditAction::PolicyDelete,
        AuditAction::SecretCreate,
        AuditAction::SecretUpdate,
        AuditAction::SecretReveal,
        AuditAction::SecretRead,
        AuditAction::SecretRollback,
        AuditAction::SecretDelete,
        AuditAction::SecretRestore,
        AuditAction::SecretPurge,
        AuditAction::SecretImport,
        AuditAction::SecretUse,
        AuditAction::ActionCreate,
        AuditAction::ActionUpdate,
        AuditAction::ActionDelete,
        AuditAction::ActionRun,
        AuditAction::ServerBackup,
        AuditAction::ServerRotate,
        AuditAction::ServerSeal,
        AuditAction::ServerUnseal,
        AuditAction::ServerInit,
        AuditAction::WorkspaceSettingsUpdate,
        AuditAction::IdentityFederate,
        AuditAction::IdentityFederationRemove,
        AuditAction::AuthJwtExchange,
    ];

    #[test]
    fn audit_actions_have_distinct_dotted_names() {
        let names: std::collections::BTreeSet<&str> = ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), ALL.len(), "two actions share a name");
        for name in names {
            let (area, verb) = name.split_once('.').unwrap();
            assert!(
                [area, verb]
                    .iter()
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')),
                "{name}"
            );
        }
    }
}
