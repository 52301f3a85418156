//! The context environment an identity (or a member) receives, and template rendering: the
//! values the caller may read, each read audited before it is handed out.

use std::collections::BTreeMap;

use sealbox_crypto::{ExposeSecret, SecretBox, SecretString};
use sealbox_types::{EnvironmentResponse, PolicyAccess, Visibility, codes};
use secrecy::zeroize::{Zeroize, Zeroizing};
use serde_json::json;

use crate::audit::{AuditAction, Outcome};
use crate::error::{CoreError, CoreResult};
use crate::principal::{Actor, Permission, Principal, RequestContext, authorize, identity_may, readable_tag_sets};
use crate::validate;
use crate::{Sealbox, kinds, parse_map};

impl Sealbox {
    /// `NAME -> value` for every secret the caller may read: for an identity, what its policies
    /// allow it to `read`, with its own variables laid over them; for a member, every masked
    /// secret (each counted as a reveal). `secrets` names the variables that hold a secret's
    /// value (so `sealbox run` masks those and not the identity's own variables). With `only`,
    /// just those variables: the others are neither opened nor audited nor marked as used, and a
    /// name the caller has no variable for is refused, with nothing read. Every value handed out
    /// is audited first, in one transaction, and refused if that fails.
    pub async fn environment(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        only: Option<&[String]>,
    ) -> CoreResult<EnvironmentResponse> {
        let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
        let own_env: BTreeMap<String, String> = match p.actor() {
            Actor::Identity(identity) => self
                .store
                .identity_env(&identity.id)
                .await?
                .into_iter()
                .filter(|(name, _)| wanted(name))
                .collect(),
            Actor::Member(_) => BTreeMap::new(),
        };
        // A secret overridden by one of the identity's variables is neither opened nor counted as read.
        let readable: Vec<_> = self
            .readable_secrets(p)
            .await?
            .into_iter()
            .filter(|(row, _)| wanted(&row.name) && !own_env.contains_key(&row.name))
            .collect();
        if let Some(names) = only {
            check_only(names, |name| {
                own_env.contains_key(name) || readable.iter().any(|(row, _)| row.name == name)
            })?;
        }
        let mut values = BTreeMap::new();
        for (row, version) in &readable {
            let value = kinds::stored_kind(&row.secret_type)?.whole_text(&self.open_value(row, version.clone()).await?);
            values.insert(row.name.clone(), SecretString::from(value));
        }
        self.record_reads(p, ctx, &readable, "environment").await?;
        let secrets: Vec<String> = values.keys().cloned().collect();
        // EXPOSE: the caller asked for these values and each read was just audited.
        let mut variables: BTreeMap<String, String> = values
            .into_iter()
            .map(|(k, v)| (k, v.expose_secret().to_owned()))
            .collect();
        variables.extend(own_env);
        Ok(EnvironmentResponse {
            variables,
            secrets: Some(secrets),
        })
    }

    /// Renders `{secrets.NAME}` / `{secrets.NAME.field}` references with the values the caller may
    /// read. Every problem (syntax, unknown or forbidden secrets, missing fields) is reported at
    /// once with its line, and nothing is rendered unless all references resolve. Each secret
    /// used is audited before the text is returned.
    pub async fn render(&self, p: &Principal, ctx: &RequestContext, template: &str) -> CoreResult<String> {
        use crate::template::{Segment, parse};
        let segments =
            parse(template).map_err(|problems| CoreError::invalid(codes::TEMPLATE_INVALID, problems.join("; ")))?;
        let readable = self.readable_secrets(p).await?;
        let by_name: BTreeMap<&str, &(sealbox_store::SecretRow, sealbox_store::SecretVersionRow)> =
            readable.iter().map(|entry| (entry.0.name.as_str(), entry)).collect();
        let mut problems = Vec::new();
        let mut opened: BTreeMap<String, (&dyn kinds::SecretKind, SecretBox<OpenedValue>)> = BTreeMap::new();
        let mut used = Vec::new();
        for segment in &segments {
            let Segment::Secret(r) = segment else { continue };
            let Some((row, version)) = by_name.get(r.name.as_str()) else {
                problems.push(format!(
                    "line {}: {}: no such secret, or this token may not read it",
                    r.line,
                    r.written()
                ));
                continue;
            };
            if !opened.contains_key(&r.name) {
                let kind = kinds::stored_kind(&row.secret_type)?;
                opened.insert(r.name.clone(), (kind, self.open_secret(row, version.clone()).await?));
                used.push((row.clone(), version.clone()));
            }
        }
        // Wiped on drop, so a refused render (a bad reference, an audit that failed) leaves nothing.
        let mut out = Zeroizing::new(String::with_capacity(template.len()));
        for segment in &segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                // `parse` never gives input references; only action fields take them.
                Segment::Input(_) => {}
                Segment::Secret(r) => {
                    let Some((kind, value)) = opened.get(&r.name) else {
                        continue;
                    };
                    // EXPOSE: written into the output, which is returned only once every read is audited.
                    match kind.reference_text(&value.expose_secret().0, r.field.as_deref()) {
                        Ok(text) => out.push_str(&Zeroizing::new(text)),
                        Err(problem) => problems.push(format!(
                            "line {}: {}: {}",
                            r.line,
                            r.written(),
                            problem.message(r.field.as_deref())
                        )),
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(CoreError::invalid(
                codes::TEMPLATE_REFERENCE_INVALID,
                problems.join("; "),
            ));
        }
        self.record_reads(p, ctx, &used, "template").await?;
        // The text leaves now: the caller asked for it and each read was just audited.
        Ok(std::mem::take(&mut *out))
    }

    /// A secret's value decoded as plain data, for a caller authorised to receive or use it that
    /// hands it on at once (a reveal's answer, an action's rendering); [`Sealbox::open_secret`]
    /// keeps it wrapped.
    pub(crate) async fn open_value(
        &self,
        row: &sealbox_store::SecretRow,
        version: sealbox_store::SecretVersionRow,
    ) -> CoreResult<serde_json::Value> {
        let kind = kinds::stored_kind(&row.secret_type)?;
        let plaintext = self.open_sealed(row, version).await?;
        // EXPOSE: decoded for a caller that was authorised to receive or use the value.
        kind.decode(plaintext.expose_secret())
    }

    /// A secret's value decoded and kept in a wrapper that wipes it on drop.
    pub(crate) async fn open_secret(
        &self,
        row: &sealbox_store::SecretRow,
        version: sealbox_store::SecretVersionRow,
    ) -> CoreResult<SecretBox<OpenedValue>> {
        Ok(SecretBox::new(Box::new(OpenedValue(
            self.open_value(row, version).await?,
        ))))
    }

    /// Audits the values handed out as one event (refused if it cannot be written), naming every
    /// secret and version read, and records their use in the same transaction: `secret.read` for
    /// identities, `secret.reveal` for members; the target is what was read (`environment`,
    /// `template`, `secret:NAME`).
    pub(crate) async fn record_reads(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        read: &[(sealbox_store::SecretRow, sealbox_store::SecretVersionRow)],
        via: &str,
    ) -> CoreResult<()> {
        if read.is_empty() {
            return Ok(());
        }
        let action = if p.identity().is_some() {
            AuditAction::SecretRead
        } else {
            AuditAction::SecretReveal
        };
        let secrets: serde_json::Map<String, serde_json::Value> = read
            .iter()
            .map(|(row, version)| (row.name.clone(), version.version.into()))
            .collect();
        let actor = p.label();
        let record = self.audit_record(
            p.workspace_id(),
            actor.clone(),
            ctx,
            action,
            via.to_owned(),
            Outcome::Success,
            json!({ "secrets": secrets }),
        );
        let used: Vec<String> = match p.identity() {
            Some(_) => read.iter().map(|(row, _)| row.id.clone()).collect(),
            None => Vec::new(),
        };
        self.store.append_read(record, &used, self.now(), &actor).await?;
        Ok(())
    }

    /// The live secrets (with their current version) whose values the caller may receive. For an
    /// identity the store reads only the secrets carrying a readable policy's tags (through its
    /// tag index), so the cost follows the answer, not the workspace; each is still checked here.
    async fn readable_secrets(
        &self,
        p: &Principal,
    ) -> CoreResult<Vec<(sealbox_store::SecretRow, sealbox_store::SecretVersionRow)>> {
        match p.actor() {
            Actor::Member(_) => {
                authorize(p, Permission::RevealMasked)?;
                let all = self.store.live_secrets_with_current_version(p.workspace_id()).await?;
                Ok(all
                    .into_iter()
                    .filter(|(row, _)| row.visibility == Visibility::Masked.as_str())
                    .collect())
            }
            Actor::Identity(identity) => {
                let policies = self.policies_of(p.workspace_id()).await?;
                let candidates = match readable_tag_sets(identity, &policies) {
                    Some(sets) if sets.is_empty() => Vec::new(),
                    Some(sets) => self.store.live_secrets_tagged(p.workspace_id(), &sets).await?,
                    None => self.store.live_secrets_with_current_version(p.workspace_id()).await?,
                };
                let mut out = Vec::new();
                for (row, version) in candidates {
                    let tags = parse_map(&row.tags)?;
                    if identity_may(identity, &policies, &tags, PolicyAccess::Read) {
                        out.push((row, version));
                    }
                }
                Ok(out)
            }
        }
    }
}

/// `only` must name one or more variables, each one the caller has: every other name is listed
/// in the refusal (a secret it may not read looks like one that does not exist).
fn check_only(names: &[String], has: impl Fn(&str) -> bool) -> CoreResult<()> {
    if names.is_empty() {
        return Err(CoreError::invalid(
            codes::ENVIRONMENT_ONLY_INVALID,
            "only: give one or more variable names, separated by commas",
        ));
    }
    let missing: Vec<String> = names
        .iter()
        .filter(|name| !has(name))
        .map(|name| validate::quote_for_message(name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CoreError::invalid(
        codes::ENVIRONMENT_ONLY_INVALID,
        format!(
            "only: no such secret or variable, or this token may not read it: {}; nothing was read",
            missing.join(", ")
        ),
    ))
}

/// A decoded secret value (a text, or a structured value's fields) while core holds it: inside a
/// `SecretBox` its `Debug` is redacted and its strings are wiped on drop.
pub(crate) struct OpenedValue(pub(crate) serde_json::Value);

impl Zeroize for OpenedValue {
    fn zeroize(&mut self) {
        fn wipe(value: &mut serde_json::Value) {
            match value {
                serde_json::Value::String(text) => text.zeroize(),
                serde_json::Value::Array(items) => items.iter_mut().for_each(wipe),
                // Field names are the type's (host, password ...), not secret.
                serde_json::Value::Object(fields) => fields.values_mut().for_each(wipe),
                serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
            }
        }
        wipe(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opened_value_wipes_every_string_in_it() {
        let mut opened =
            OpenedValue(json!({"host": "smtp.example.com", "password": "hunter2", "port": 587, "list": ["a"]}));
        opened.zeroize();
        assert_eq!(opened.0, json!({"host": "", "password": "", "port": 587, "list": [""]}));
        let boxed = SecretBox::new(Box::new(OpenedValue(json!("hunter2"))));
        assert!(!format!("{boxed:?}").contains("hunter2"));
    }
}
