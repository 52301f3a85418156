//! Actions: HTTP calls, e-mails and SQS messages that the server makes with secrets, so the caller
//! never receives the values.
//!
//! This module holds the use-cases (create, list, get, update, delete, run), their authorisation
//! and audit. A definition is checked once into a `Compiled` form by its kind's module
//! (`http.rs`, `email.rs`, `sqs.rs`, listed in `kind.rs`); definitions are stored as given, with
//! references, never values. A run authorises in [`crate::principal::authorize_action_run`],
//! opens the referenced secrets, renders every field (`render.rs`, input placed by `input.rs`),
//! asks the [`Dispatcher`] what its sender would refuse, audits the use of each secret (refused
//! if that cannot be recorded, before anything is sent), hands the rendered request to the
//! [`Dispatcher`] (`dispatch.rs`, the server's senders), redacts the reply with [`Redactor`]
//! (`redact.rs`), and records `action.run` with its outcome.

use std::collections::BTreeMap;

use sealbox_store::{ActionRow, ActionUpdate, StoreError};
use sealbox_types::{ActionDefinition, ActionInfo, ActionRunResponse, codes};
use serde_json::json;

use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult, ErrorClass};
use crate::principal::{ActionSecret, Permission, Principal, RequestContext, authorize, authorize_action_run};
use crate::secrets::Secret;
use crate::validate;
use crate::{Sealbox, new_id};

mod definition;
mod dispatch;
mod email;
mod http;
mod input;
mod kind;
mod redact;
mod render;
mod sqs;

use definition::{Compiled, check, compile};
pub use dispatch::{
    DispatchError, DispatchFailure, Dispatcher, EmailMessage, EmailSent, HttpRequest, HttpResponse, SmtpAccount,
    SqsAccount, SqsMessage, SqsSent,
};
use dispatch::{dispatch_failure, unavailable};
use redact::redactor_for;
pub use redact::{REDACTED, Redactor};
use render::{Opened, render};

/// How an unsaved action appears in audit events and run responses.
pub const UNSAVED: &str = "(unsaved)";

impl Sealbox {
    pub async fn create_action(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        definition: ActionDefinition,
    ) -> CoreResult<ActionInfo> {
        authorize(p, Permission::ManageActions)?;
        let name = crate::validate::object_name(codes::ACTION_NAME_INVALID, "action", name)?;
        if name == "run" {
            return Err(CoreError::invalid(
                codes::ACTION_NAME_INVALID,
                "action name \"run\" is reserved (POST /v1/actions/run runs unsaved actions); choose another",
            ));
        }
        let compiled = compile(&definition)?;
        let now = self.now();
        let row = ActionRow {
            id: new_id(),
            workspace_id: p.workspace_id().to_owned(),
            name: name.clone(),
            kind: definition.kind().as_str().to_owned(),
            spec: serde_json::to_string(&definition).map_err(CoreError::internal)?,
            created_at: now,
            created_by: p.label(),
            updated_at: now,
            updated_by: p.label(),
        };
        let record = self.action_audit(p, ctx, AuditAction::ActionCreate, &name, &definition, &compiled);
        match self.store.insert_action(row.clone(), record).await {
            Ok(()) => action_info(&row),
            Err(StoreError::Duplicate(_)) => Err(CoreError::conflict(
                codes::ACTION_EXISTS,
                format!("an action named {name} already exists; change it with PATCH or choose another name"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_actions(&self, p: &Principal) -> CoreResult<Vec<ActionInfo>> {
        authorize(p, Permission::ViewActions)?;
        self.store
            .list_actions(p.workspace_id())
            .await?
            .iter()
            .map(action_info)
            .collect()
    }

    pub async fn get_action(&self, p: &Principal, name: &str) -> CoreResult<ActionInfo> {
        authorize(p, Permission::ViewActions)?;
        action_info(&self.action_row(p, name).await?)
    }

    pub async fn update_action(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        definition: ActionDefinition,
    ) -> CoreResult<ActionInfo> {
        authorize(p, Permission::ManageActions)?;
        let row = self.action_row(p, name).await?;
        let compiled = compile(&definition)?;
        let update = ActionUpdate {
            workspace_id: p.workspace_id().to_owned(),
            action_id: row.id.clone(),
            kind: definition.kind().as_str().to_owned(),
            spec: serde_json::to_string(&definition).map_err(CoreError::internal)?,
            updated_at: self.now(),
            updated_by: p.label(),
        };
        let record = self.action_audit(p, ctx, AuditAction::ActionUpdate, &row.name, &definition, &compiled);
        let updated = ActionRow {
            kind: update.kind.clone(),
            spec: update.spec.clone(),
            updated_at: update.updated_at,
            updated_by: update.updated_by.clone(),
            ..row
        };
        match self.store.update_action(update, record).await {
            Ok(()) => action_info(&updated),
            Err(StoreError::NotFound) => Err(deleted_meanwhile(name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_action(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageActions)?;
        let row = self.action_row(p, name).await?;
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::ActionDelete,
            format!("action:{}", row.name),
            Outcome::Success,
            json!({ "kind": row.kind }),
        );
        match self.store.delete_action(p.workspace_id(), &row.id, record).await {
            Err(StoreError::NotFound) => Err(deleted_meanwhile(name)),
            other => Ok(other?),
        }
    }

    /// Runs a saved action with `input` for its `{input.KEY}` references.
    pub async fn run_action(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        input: BTreeMap<String, String>,
    ) -> CoreResult<ActionRunResponse> {
        let row = match p.identity() {
            // Identities do not list actions; a missing one is reported like any other.
            Some(_) => self.action_row(p, name).await?,
            None => {
                authorize(p, Permission::RunActions)?;
                self.action_row(p, name).await?
            }
        };
        let definition: ActionDefinition =
            serde_json::from_str(&row.spec).map_err(|_| CoreError::internal("stored action definition is invalid"))?;
        let compiled = match compile(&definition) {
            Ok(compiled) => compiled,
            Err(e) => {
                return Err(self
                    .refused_run(p, ctx, &row.name, &check(&definition).0, None, &input, e)
                    .await);
            }
        };
        self.run(p, ctx, &row.name, &compiled, input, false).await
    }

    /// Runs a definition that is not saved (audited as `(unsaved)`).
    pub async fn run_unsaved_action(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        definition: ActionDefinition,
        input: BTreeMap<String, String>,
    ) -> CoreResult<ActionRunResponse> {
        if p.identity().is_none() {
            authorize(p, Permission::RunActions)?;
        }
        let compiled = match compile(&definition) {
            Ok(compiled) => compiled,
            Err(e) => {
                return Err(self
                    .refused_run(p, ctx, UNSAVED, &check(&definition).0, None, &input, e)
                    .await);
            }
        };
        self.run(p, ctx, UNSAVED, &compiled, input, true).await
    }

    async fn run(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        compiled: &Compiled,
        input: BTreeMap<String, String>,
        unsaved: bool,
    ) -> CoreResult<ActionRunResponse> {
        let secret_names = compiled.secrets();
        let mut rows = Vec::new();
        for secret in &secret_names {
            let found = self.store.secret_with_version(p.workspace_id(), secret, None).await?;
            let live = match found {
                Some((row, Some(version))) if row.deleted_at.is_none() => Some((Secret::decode(row)?, version)),
                _ => None,
            };
            rows.push((secret.as_str(), live));
        }
        let policies = match p.identity() {
            Some(_) => self.policies_of(p.workspace_id()).await?,
            None => Vec::new(),
        };
        let checks: Vec<ActionSecret<'_>> = rows
            .iter()
            .map(|(name, live)| ActionSecret {
                name,
                found: live.as_ref().map(|(secret, _)| (&secret.tags, secret.visibility)),
            })
            .collect();
        let target = format!("action:{name}");
        if let Err(e) = authorize_action_run(p, &policies, &checks, unsaved) {
            if e.class == ErrorClass::Forbidden {
                self.metrics.action_run(compiled.kind().as_str(), "denied");
                self.audit_denied(p, ctx, AuditAction::ActionRun, target).await;
                return Err(e);
            }
            return Err(self.refused_run(p, ctx, name, compiled, None, &input, e).await);
        }
        let mut opened = BTreeMap::new();
        for (secret, live) in rows {
            if let Some((secret_row, version)) = live {
                let value = self.open_value(&secret_row.row, version.clone()).await?;
                opened.insert(
                    secret.to_owned(),
                    Opened {
                        secret: secret_row,
                        version,
                        value,
                    },
                );
            }
        }
        if let Err(e) = compiled.check_input(&input) {
            return Err(self.refused_run(p, ctx, name, compiled, None, &input, e).await);
        }
        let redactor = redactor_for(&opened, compiled);
        let request = match render(compiled, &opened, &input) {
            Ok(request) => request,
            Err(e) => return Err(self.refused_run(p, ctx, name, compiled, None, &input, e).await),
        };
        // What the sender would refuse is refused before any use is recorded.
        let checked = match self.dispatcher.as_ref() {
            Some(dispatcher) => request.check(&**dispatcher).await,
            None => Err(unavailable()),
        };
        if let Err(e) = checked {
            let destination = request.destination();
            let e = dispatch_failure(e, &redactor);
            return Err(self
                .refused_run(p, ctx, name, compiled, Some(&destination), &input, e)
                .await);
        }

        // Every value about to leave is audited first, as one event naming each secret and
        // version, with the use record in the same transaction; if that fails nothing is sent.
        if !opened.is_empty() {
            let secrets: serde_json::Map<String, serde_json::Value> = opened
                .values()
                .map(|o| (o.secret.row.name.clone(), o.version.version.into()))
                .collect();
            let actor = p.label();
            let record = self.audit_record(
                p.workspace_id(),
                actor.clone(),
                ctx,
                AuditAction::SecretUse,
                format!("action:{name}"),
                Outcome::Success,
                json!({ "secrets": secrets, "via": "action" }),
            );
            let ids: Vec<String> = opened.values().map(|o| o.secret.row.id.clone()).collect();
            self.store.append_read(record, &ids, self.now(), &actor).await?;
        }

        let destination = request.destination();
        let kind = compiled.kind();
        let result = match self.dispatcher.as_ref() {
            Some(dispatcher) => request.send(&**dispatcher, &redactor).await,
            None => Err(unavailable()),
        };
        let mut detail = json!({
            "kind": kind.as_str(),
            "secrets": secret_names,
            "destination": destination,
            "input_keys": input.keys().collect::<Vec<_>>(),
        });
        let outcome = match &result {
            Ok(reply) => {
                reply.audit(&mut detail);
                Outcome::Success
            }
            Err(e) => {
                detail["code"] = json!(e.code);
                Outcome::Failure
            }
        };
        self.metrics
            .action_run(kind.as_str(), if result.is_ok() { "success" } else { "failure" });
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::ActionRun,
            target,
            outcome,
            detail,
        );
        // The run happened; what it gave back is only returned once it is on record.
        self.store.append_audit(record).await?;
        match result {
            Ok(reply) => Ok(reply.into_response(name, kind, destination)),
            Err(e) => Err(dispatch_failure(e, &redactor)),
        }
    }

    /// Records a run refused before anything was sent or any use recorded (`action.run`,
    /// outcome `failure`, with the error's code) and gives back the error, or the audit's error
    /// if the record cannot be written.
    #[allow(clippy::too_many_arguments)]
    async fn refused_run(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        compiled: &Compiled,
        destination: Option<&str>,
        input: &BTreeMap<String, String>,
        error: CoreError,
    ) -> CoreError {
        self.metrics.action_run(compiled.kind().as_str(), "refused");
        let destination = destination
            .map(str::to_owned)
            .or_else(|| compiled.written_destination());
        let detail = json!({
            "kind": compiled.kind().as_str(),
            "secrets": compiled.secrets(),
            "destination": destination,
            // Only keys the action takes: a refused run may carry any text as a key.
            "input_keys": input.keys().filter(|k| compiled.inputs().contains(k)).collect::<Vec<_>>(),
            "code": error.code,
        });
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::ActionRun,
            format!("action:{name}"),
            Outcome::Failure,
            detail,
        );
        match self.store.append_audit(record).await {
            Ok(_) => error,
            Err(e) => e.into(),
        }
    }

    async fn action_row(&self, p: &Principal, name: &str) -> CoreResult<ActionRow> {
        let missing = || {
            CoreError::not_found(
                codes::ACTION_NOT_FOUND,
                format!(
                    "no action named {} in this workspace",
                    validate::quote_for_message(name)
                ),
            )
        };
        // A name no action can have is not looked up (PostgreSQL refuses NUL characters).
        if crate::validate::object_name(codes::ACTION_NAME_INVALID, "action", name).is_err() {
            return Err(missing());
        }
        self.store
            .action_by_name(p.workspace_id(), name)
            .await?
            .ok_or_else(missing)
    }

    fn action_audit(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        action: AuditAction,
        name: &str,
        definition: &ActionDefinition,
        compiled: &Compiled,
    ) -> sealbox_store::AuditRecord {
        self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            action,
            format!("action:{name}"),
            Outcome::Success,
            json!({
                "kind": definition.kind().as_str(),
                "secrets": compiled.secrets(),
                "inputs": compiled.inputs(),
            }),
        )
    }
}

fn deleted_meanwhile(name: &str) -> CoreError {
    CoreError::not_found(
        codes::ACTION_NOT_FOUND,
        format!("action {} was deleted meanwhile", validate::quote_for_message(name)),
    )
}

fn action_info(row: &ActionRow) -> CoreResult<ActionInfo> {
    let definition: ActionDefinition =
        serde_json::from_str(&row.spec).map_err(|_| CoreError::internal("stored action definition is invalid"))?;
    // Shown even if today's rules refuse it (a run then names what to fix).
    let (compiled, _) = check(&definition);
    Ok(ActionInfo {
        name: row.name.clone(),
        kind: definition.kind(),
        secrets: compiled.secrets(),
        inputs: compiled.inputs(),
        definition,
        created_at: format_ms(row.created_at),
        created_by: row.created_by.clone(),
        updated_at: format_ms(row.updated_at),
        updated_by: row.updated_by.clone(),
    })
}
