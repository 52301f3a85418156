//! Machine access: identities (their tags, variables and tokens), tag policies, and the context
//! environment an identity (or a member) receives.

use std::collections::BTreeMap;

use sealbox_crypto::{ExposeSecret, SecretString};
use sealbox_store::{IdentityRow, PolicyRow, StoreError};
use sealbox_types::{
    CreatePolicyRequest, CreatedToken, EnvironmentResponse, IdentityInfo, PolicyAccess, PolicyInfo, TokenInfo,
    Visibility, codes,
};
use serde_json::json;

use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::principal::{Actor, IdentityActor, Permission, Policy, Principal, RequestContext, authorize, identity_may};
use crate::validate::{self, SecretName};
use crate::{Sealbox, kinds, new_id};

/// Identity and policy names: 1-64 of letters, digits, `-`, `_`, `.`, starting with a letter or digit.
pub(crate) fn object_name(code: &'static str, what: &str, raw: &str) -> CoreResult<String> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && raw.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        return Err(CoreError::invalid(
            code,
            format!(
                "{what} name {}: 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
                validate::quote_for_message(raw)
            ),
        ));
    }
    Ok(raw.to_owned())
}

pub(crate) fn parse_map(text: &str) -> CoreResult<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|_| CoreError::internal("stored tags are invalid"))
}

fn json_text<T: serde::Serialize>(v: &T) -> CoreResult<String> {
    serde_json::to_string(v).map_err(CoreError::internal)
}

impl Sealbox {
    // ---- identities ----

    pub async fn create_identity(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let name = object_name(codes::IDENTITY_NAME_INVALID, "identity", name)?;
        let tags =
            validate::tags(Some(tags)).map_err(|e| CoreError::invalid(codes::IDENTITY_TAGS_INVALID, e.message))?;
        let row = IdentityRow {
            id: new_id(),
            workspace_id: p.workspace_id.clone(),
            name: name.clone(),
            tags: json_text(&tags)?,
            created_at: self.now(),
            created_by: p.label(),
        };
        let record = self.identity_audit(p, ctx, "identity.create", &name, json!({ "tags": tags }));
        match self.store.insert_identity(row.clone(), record).await {
            Ok(()) => self.identity_info(row).await,
            Err(StoreError::Duplicate(_)) => Err(CoreError::conflict(
                codes::IDENTITY_EXISTS,
                format!("an identity named {name} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_identities(&self, p: &Principal) -> CoreResult<Vec<IdentityInfo>> {
        authorize(p, Permission::ManageMachineAccess)?;
        let mut out = Vec::new();
        for row in self.store.list_identities(&p.workspace_id).await? {
            out.push(self.identity_info(row).await?);
        }
        Ok(out)
    }

    pub async fn get_identity(&self, p: &Principal, name: &str) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let row = self.identity_row(p, name).await?;
        self.identity_info(row).await
    }

    pub async fn set_identity_tags(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let mut row = self.identity_row(p, name).await?;
        let tags =
            validate::tags(Some(tags)).map_err(|e| CoreError::invalid(codes::IDENTITY_TAGS_INVALID, e.message))?;
        row.tags = json_text(&tags)?;
        let record = self.identity_audit(p, ctx, "identity.update", &row.name, json!({ "tags": tags }));
        self.store
            .set_identity_tags(&p.workspace_id, &row.id, &row.tags, record)
            .await
            .map_err(|e| identity_error(e, name))?;
        self.identity_info(row).await
    }

    /// Deletes the identity with its variables and tokens (which stop working at once).
    pub async fn delete_identity(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let row = self.identity_row(p, name).await?;
        let record = self.identity_audit(p, ctx, "identity.delete", &row.name, json!({}));
        self.store
            .delete_identity(&p.workspace_id, &row.id, record)
            .await
            .map_err(|e| identity_error(e, name))
    }

    /// Sets one of the identity's own variables. Keys follow the secret-name rule, so every key is
    /// a valid environment variable name; values are not secret (use a secret for that).
    pub async fn set_identity_env(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        key: &str,
        value: &str,
    ) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let row = self.identity_row(p, name).await?;
        let key = SecretName::parse(key)
            .map_err(|e| CoreError::invalid(codes::IDENTITY_ENV_INVALID, e.message.replacen("name", "key", 1)))?;
        if value.chars().count() > 4096 || value.contains('\0') {
            return Err(CoreError::invalid(
                codes::IDENTITY_ENV_INVALID,
                "value: at most 4096 characters, without NUL characters",
            ));
        }
        let record = self.identity_audit(p, ctx, "identity.env_set", &row.name, json!({ "key": key.as_str() }));
        self.store
            .set_identity_env(&p.workspace_id, &row.id, key.as_str(), value, record)
            .await
            .map_err(|e| identity_error(e, name))?;
        self.identity_info(row).await
    }

    pub async fn unset_identity_env(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        key: &str,
    ) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let row = self.identity_row(p, name).await?;
        let record = self.identity_audit(p, ctx, "identity.env_unset", &row.name, json!({ "key": key }));
        match self
            .store
            .unset_identity_env(&p.workspace_id, &row.id, key, record)
            .await
        {
            Ok(()) => self.identity_info(row).await,
            Err(StoreError::NotFound) => Err(CoreError::not_found(
                codes::IDENTITY_ENV_NOT_FOUND,
                format!(
                    "identity {} has no variable {}",
                    row.name,
                    validate::quote_for_message(key)
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }

    // ---- identity tokens ----

    pub async fn create_identity_token(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        token_name: &str,
        expires_in_seconds: Option<u64>,
    ) -> CoreResult<CreatedToken> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, name).await?;
        let token_name = validate::token_name(token_name)?;
        let expires_at = self.token_expiry(expires_in_seconds)?;
        let owner = crate::access::TokenOwner::Identity(&identity.id);
        let (token, row) = self.new_token(&p.workspace_id, owner, "identity", &token_name, expires_at);
        let info = token_info(&row);
        let record = self.identity_audit(
            p,
            ctx,
            "identity.token_create",
            &identity.name,
            json!({ "token_id": row.id, "name": token_name, "expires_at": info.expires_at }),
        );
        self.store.insert_token(row, Some(record)).await?;
        Ok(CreatedToken {
            // EXPOSE: a new token is shown to the admin who made it exactly once.
            token: token.expose_secret().to_owned(),
            info,
        })
    }

    pub async fn list_identity_tokens(&self, p: &Principal, name: &str) -> CoreResult<Vec<TokenInfo>> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, name).await?;
        let rows = self.store.list_identity_tokens(&p.workspace_id, &identity.id).await?;
        Ok(rows.iter().map(token_info).collect())
    }

    /// Revokes one of the identity's tokens by its id.
    pub async fn revoke_identity_token(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        token_id: &str,
    ) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, name).await?;
        let not_found = || {
            CoreError::not_found(
                codes::TOKEN_NOT_FOUND,
                format!("identity {} has no token with that id", identity.name),
            )
        };
        if !crate::access::is_token_id(token_id) {
            return Err(not_found());
        }
        self.revoke_token_of_identity(p, ctx, &identity, token_id, json!({ "token_id": token_id }), not_found)
            .await
    }

    /// Revokes one of the identity's tokens given the token itself (a leaked one, pasted). A
    /// token of another identity or workspace, already revoked or unknown is "not found" alike.
    pub async fn revoke_identity_token_by_value(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        token: &str,
    ) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, name).await?;
        let not_found = || {
            CoreError::not_found(
                codes::TOKEN_NOT_FOUND,
                format!("that is not a live token of identity {}", identity.name),
            )
        };
        let owner = crate::access::TokenOwner::Identity(&identity.id);
        let Some(token_id) = self.token_id_by_value(&p.workspace_id, owner, token).await? else {
            return Err(not_found());
        };
        let detail = json!({ "token_id": token_id, "by": "value" });
        self.revoke_token_of_identity(p, ctx, &identity, &token_id, detail, not_found)
            .await
    }

    async fn revoke_token_of_identity(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        identity: &IdentityRow,
        token_id: &str,
        detail: serde_json::Value,
        not_found: impl Fn() -> CoreError,
    ) -> CoreResult<()> {
        let record = self.identity_audit(p, ctx, "identity.token_revoke", &identity.name, detail);
        match self
            .store
            .revoke_identity_token(&p.workspace_id, &identity.id, token_id, self.now(), record)
            .await
        {
            Err(StoreError::NotFound) => Err(not_found()),
            other => Ok(other?),
        }
    }

    // ---- policies ----

    pub async fn create_policy(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        req: CreatePolicyRequest,
    ) -> CoreResult<PolicyInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let name = object_name(codes::POLICY_INVALID, "policy", &req.name)?;
        let invalid = |m: String| CoreError::invalid(codes::POLICY_INVALID, m);
        for identity in &req.identities {
            object_name(codes::POLICY_INVALID, "identity", identity)?;
        }
        if req.identities.is_empty() && req.identity_tags.is_empty() {
            return Err(invalid("identities: name at least one identity or identity tag".into()));
        }
        if req.secret_tags.is_empty() {
            return Err(invalid(
                "secret_tags: give at least one tag; a policy covers the secrets carrying all of them".into(),
            ));
        }
        if req.allow.is_empty() {
            return Err(invalid("allow: give read and/or use".into()));
        }
        let identity_tags = validate::tags(Some(req.identity_tags)).map_err(|e| invalid(e.message))?;
        let secret_tags = validate::tags(Some(req.secret_tags)).map_err(|e| invalid(e.message))?;
        let mut allow = req.allow;
        allow.sort();
        allow.dedup();
        let mut identities = req.identities;
        identities.sort();
        identities.dedup();
        // A policy naming an identity that does not exist would silently cover nobody (or,
        // later, whoever is created with that name): refuse it, naming every such identity.
        let mut missing = Vec::new();
        for identity in &identities {
            if self.store.identity_by_name(&p.workspace_id, identity).await?.is_none() {
                missing.push(validate::quote_for_message(identity));
            }
        }
        if !missing.is_empty() {
            return Err(invalid(format!(
                "identities: no identity named {} in this workspace; create it first (`sealbox identity create NAME`) or cover identities by tag",
                missing.join(", ")
            )));
        }
        let row = PolicyRow {
            id: new_id(),
            workspace_id: p.workspace_id.clone(),
            name: name.clone(),
            identity_names: json_text(&identities)?,
            identity_tags: json_text(&identity_tags)?,
            secret_tags: json_text(&secret_tags)?,
            allow: json_text(&allow)?,
            created_at: self.now(),
            created_by: p.label(),
        };
        let record = self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            "policy.create",
            format!("policy:{name}"),
            "success",
            json!({ "identities": identities, "identity_tags": identity_tags, "secret_tags": secret_tags, "allow": allow }),
        );
        match self.store.insert_policy(row.clone(), record).await {
            Ok(()) => policy_info(&row),
            Err(StoreError::Duplicate(_)) => Err(CoreError::conflict(
                codes::POLICY_EXISTS,
                format!("a policy named {name} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_policies(&self, p: &Principal) -> CoreResult<Vec<PolicyInfo>> {
        authorize(p, Permission::ManageMachineAccess)?;
        self.store
            .list_policies(&p.workspace_id)
            .await?
            .iter()
            .map(policy_info)
            .collect()
    }

    pub async fn delete_policy(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let policies = self.store.list_policies(&p.workspace_id).await?;
        let policy = policies.iter().find(|r| r.name == name).ok_or_else(|| {
            CoreError::not_found(
                codes::POLICY_NOT_FOUND,
                format!(
                    "no policy named {} in this workspace",
                    validate::quote_for_message(name)
                ),
            )
        })?;
        let record = self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            "policy.delete",
            format!("policy:{}", policy.name),
            "success",
            json!({}),
        );
        match self.store.delete_policy(&p.workspace_id, &policy.id, record).await {
            Err(StoreError::NotFound) => Err(CoreError::not_found(
                codes::POLICY_NOT_FOUND,
                "the policy was deleted meanwhile",
            )),
            other => Ok(other?),
        }
    }

    // ---- the context environment ----

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
        let own_env: BTreeMap<String, String> = match &p.actor {
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
            let value = kinds::stored_kind(&row.secret_type)?.whole_text(&self.open_value(row, version.clone())?);
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
        let mut opened: BTreeMap<String, (&dyn kinds::SecretKind, serde_json::Value)> = BTreeMap::new();
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
                opened.insert(r.name.clone(), (kind, self.open_value(row, version.clone())?));
                used.push((row.clone(), version.clone()));
            }
        }
        let mut out = String::with_capacity(template.len());
        for segment in &segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                // `parse` never gives input references; only action fields take them.
                Segment::Input(_) => {}
                Segment::Secret(r) => {
                    let Some((kind, value)) = opened.get(&r.name) else {
                        continue;
                    };
                    match kind.reference_text(value, r.field.as_deref()) {
                        Ok(text) => out.push_str(&text),
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
        Ok(out)
    }

    pub(crate) fn open_value(
        &self,
        row: &sealbox_store::SecretRow,
        version: sealbox_store::SecretVersionRow,
    ) -> CoreResult<serde_json::Value> {
        let kind = kinds::stored_kind(&row.secret_type)?;
        let plaintext = self.open_sealed(row, version)?;
        kind.decode(plaintext.expose_secret())
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
            "secret.read"
        } else {
            "secret.reveal"
        };
        let secrets: serde_json::Map<String, serde_json::Value> = read
            .iter()
            .map(|(row, version)| (row.name.clone(), version.version.into()))
            .collect();
        let actor = p.label();
        let record = self.audit_record(
            &p.workspace_id,
            actor.clone(),
            ctx,
            action,
            via.to_owned(),
            "success",
            json!({ "secrets": secrets }),
        );
        let used: Vec<String> = match p.identity() {
            Some(_) => read.iter().map(|(row, _)| row.id.clone()).collect(),
            None => Vec::new(),
        };
        self.store.append_read(record, &used, self.now(), &actor).await?;
        Ok(())
    }

    /// The live secrets (with their current version) whose values the caller may receive.
    async fn readable_secrets(
        &self,
        p: &Principal,
    ) -> CoreResult<Vec<(sealbox_store::SecretRow, sealbox_store::SecretVersionRow)>> {
        let all = self.store.live_secrets_with_current_version(&p.workspace_id).await?;
        match &p.actor {
            Actor::Member(_) => {
                authorize(p, Permission::RevealMasked)?;
                Ok(all
                    .into_iter()
                    .filter(|(row, _)| row.visibility == Visibility::Masked.as_str())
                    .collect())
            }
            Actor::Identity(identity) => {
                let policies = self.policies_of(&p.workspace_id).await?;
                let mut out = Vec::new();
                for (row, version) in all {
                    let tags = parse_map(&row.tags)?;
                    if identity_may(identity, &policies, &tags, PolicyAccess::Read) {
                        out.push((row, version));
                    }
                }
                Ok(out)
            }
        }
    }

    pub(crate) async fn policies_of(&self, workspace_id: &str) -> CoreResult<Vec<Policy>> {
        let rows = self.store.list_policies(workspace_id).await?;
        rows.iter()
            .map(|r| {
                let bad = |_| CoreError::internal("stored policy is invalid");
                Ok(Policy {
                    identities: serde_json::from_str(&r.identity_names).map_err(bad)?,
                    identity_tags: serde_json::from_str(&r.identity_tags).map_err(bad)?,
                    secret_tags: serde_json::from_str(&r.secret_tags).map_err(bad)?,
                    allow: serde_json::from_str(&r.allow).map_err(bad)?,
                })
            })
            .collect()
    }

    /// Turns an identity token's rows into the identity acting.
    pub(crate) fn identity_actor(row: &IdentityRow) -> CoreResult<IdentityActor> {
        Ok(IdentityActor {
            id: row.id.clone(),
            name: row.name.clone(),
            tags: parse_map(&row.tags)?,
        })
    }

    async fn identity_row(&self, p: &Principal, name: &str) -> CoreResult<IdentityRow> {
        self.store
            .identity_by_name(&p.workspace_id, name)
            .await?
            .ok_or_else(|| {
                CoreError::not_found(
                    codes::IDENTITY_NOT_FOUND,
                    format!(
                        "no identity named {} in this workspace",
                        validate::quote_for_message(name)
                    ),
                )
            })
    }

    async fn identity_info(&self, row: IdentityRow) -> CoreResult<IdentityInfo> {
        let env = self.store.identity_env(&row.id).await?.into_iter().collect();
        Ok(IdentityInfo {
            tags: parse_map(&row.tags)?,
            name: row.name,
            env,
            created_at: format_ms(row.created_at),
            created_by: row.created_by,
        })
    }

    fn identity_audit(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        action: &str,
        name: &str,
        detail: serde_json::Value,
    ) -> sealbox_store::AuditRecord {
        self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            action,
            format!("identity:{name}"),
            "success",
            detail,
        )
    }
}

fn identity_error(e: StoreError, name: &str) -> CoreError {
    match e {
        StoreError::NotFound => CoreError::not_found(
            codes::IDENTITY_NOT_FOUND,
            format!("identity {} was deleted meanwhile", validate::quote_for_message(name)),
        ),
        other => other.into(),
    }
}

fn policy_info(row: &PolicyRow) -> CoreResult<PolicyInfo> {
    let bad = |_| CoreError::internal("stored policy is invalid");
    Ok(PolicyInfo {
        name: row.name.clone(),
        identities: serde_json::from_str(&row.identity_names).map_err(bad)?,
        identity_tags: serde_json::from_str(&row.identity_tags).map_err(bad)?,
        secret_tags: serde_json::from_str(&row.secret_tags).map_err(bad)?,
        allow: serde_json::from_str(&row.allow).map_err(bad)?,
        created_at: format_ms(row.created_at),
        created_by: row.created_by.clone(),
    })
}

pub(crate) fn token_info(row: &sealbox_store::TokenRow) -> TokenInfo {
    TokenInfo {
        id: row.id.clone(),
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        created_at: format_ms(row.created_at),
        expires_at: row.expires_at.map(format_ms),
        last_used_at: row.last_used_at.map(format_ms),
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
