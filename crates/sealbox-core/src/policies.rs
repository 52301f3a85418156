//! Policies: which identities (by name or tags) may `read` or `use` which secrets (by tags).

use sealbox_store::{PolicyRow, StoreError};
use sealbox_types::{CreatePolicyRequest, PolicyInfo, codes};
use serde_json::json;

use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Policy, Principal, RequestContext, authorize};
use crate::validate::{self, object_name};
use crate::{Sealbox, json_text, new_id};

impl Sealbox {
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
            if self.store.identity_by_name(p.workspace_id(), identity).await?.is_none() {
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
            workspace_id: p.workspace_id().to_owned(),
            name: name.clone(),
            identity_names: json_text(&identities)?,
            identity_tags: json_text(&identity_tags)?,
            secret_tags: json_text(&secret_tags)?,
            allow: json_text(&allow)?,
            created_at: self.now(),
            created_by: p.label(),
        };
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::PolicyCreate,
            format!("policy:{name}"),
            Outcome::Success,
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
            .list_policies(p.workspace_id())
            .await?
            .iter()
            .map(policy_info)
            .collect()
    }

    pub async fn delete_policy(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let policies = self.store.list_policies(p.workspace_id()).await?;
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
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::PolicyDelete,
            format!("policy:{}", policy.name),
            Outcome::Success,
            json!({}),
        );
        match self.store.delete_policy(p.workspace_id(), &policy.id, record).await {
            Err(StoreError::NotFound) => Err(CoreError::not_found(
                codes::POLICY_NOT_FOUND,
                "the policy was deleted meanwhile",
            )),
            other => Ok(other?),
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
