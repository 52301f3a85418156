//! What an action kind is: a module (`http.rs`, `email.rs`, `sqs.rs`) with its checked definition
//! ([`CheckedKind`]: its own checks, fields and rendering) and its rendered request
//! ([`RenderedKind`]: destination, the dispatcher's check and send, the reply). This file is the
//! one place that lists the kinds: [`check`] picks the module for a definition, and [`Reply`]
//! has one part per kind, as the run response does.
//!
//! Adding a kind: its module (declared in `mod.rs`), a line in [`check`] and a part of [`Reply`];
//! outside core, its wire types in sealbox-types, its model and sender in sealbox-actions, and a
//! [`Dispatcher`] method the server passes to that sender.

use std::fmt::Debug;

use async_trait::async_trait;
use sealbox_types::{
    ActionDefinition, ActionKind, ActionRunResponse, EmailRunResult, HttpRunResult, SecretType, SqsRunResult,
};
use serde_json::{Value, json};

use super::definition::{Checker, Field};
use super::dispatch::{DispatchError, Dispatcher};
use super::redact::Redactor;
use super::render::Renderer;
use super::{email, http, sqs};
use crate::error::CoreResult;

/// A definition checked into its kind's form.
pub(super) fn check(definition: &ActionDefinition, c: &mut Checker) -> Box<dyn CheckedKind> {
    match definition {
        ActionDefinition::Http(spec) => Box::new(http::HttpAction::check(spec, c)),
        ActionDefinition::Email(spec) => Box::new(email::EmailAction::check(spec, c)),
        ActionDefinition::Sqs(spec) => Box::new(sqs::SqsAction::check(spec, c)),
    }
}

/// One kind's checked definition. It holds references, never values.
pub(super) trait CheckedKind: Debug + Send + Sync {
    fn kind(&self) -> ActionKind;

    /// Every text field, in the order the definition has them.
    fn fields(&self) -> Vec<&Field>;

    /// The secret the kind sends through (an e-mail's `smtp` secret, an SQS `aws_sqs` one).
    fn account(&self) -> Option<&AccountSecret> {
        None
    }

    /// Where the definition says it goes, known before rendering (an HTTP URL's written host).
    fn written_destination(&self) -> Option<String> {
        None
    }

    /// Renders every field with `r`, which collects the problems; an account secret that is
    /// missing or of another type is an error at once.
    fn render(&self, r: &mut Renderer<'_>) -> CoreResult<Box<dyn RenderedKind>>;
}

/// The secret an action sends through: its name and the type it must have (its sensitive fields
/// are redacted from replies whatever their length).
#[derive(Debug)]
pub(super) struct AccountSecret {
    pub(super) name: String,
    pub(super) secret_type: SecretType,
}

/// One kind's rendered request, every rendered field a `SecretString`.
#[async_trait]
pub(super) trait RenderedKind: Send + Sync {
    /// The host the sender connects to, as it will read it (audited).
    fn destination(&self) -> String;

    /// Asks the dispatcher whether its sender would refuse the request; sends nothing.
    async fn check(&self, dispatcher: &dyn Dispatcher) -> Result<(), DispatchError>;

    /// Sends it and gives back the reply, redacted.
    async fn send(self: Box<Self>, dispatcher: &dyn Dispatcher, redactor: &Redactor) -> Result<Reply, DispatchError>;
}

/// A redacted reply: the run response's part of its kind.
#[derive(Default)]
pub(super) struct Reply {
    pub(super) http: Option<HttpRunResult>,
    pub(super) email: Option<EmailRunResult>,
    pub(super) sqs: Option<SqsRunResult>,
}

impl Reply {
    /// What `action.run`'s audit detail records of the reply (an HTTP status).
    pub(super) fn audit(&self, detail: &mut Value) {
        if let Some(http) = &self.http {
            detail["status"] = json!(http.status);
        }
    }

    pub(super) fn into_response(self, action: &str, kind: ActionKind, destination: String) -> ActionRunResponse {
        ActionRunResponse {
            action: action.to_owned(),
            kind,
            destination,
            http: self.http,
            email: self.email,
            sqs: self.sqs,
        }
    }
}

/// A host as `Url::host_str` gives it, without the brackets of an IPv6 literal.
pub(super) fn bare_host(host: &str) -> String {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_owned()
}
