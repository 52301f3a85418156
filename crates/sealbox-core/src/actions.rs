//! Actions: HTTP calls, e-mails and SQS messages that the server makes with secrets, so the caller
//! never receives the values.
//!
//! A definition ([`ActionDefinition`]) is checked once into a [`Compiled`] form (every text field
//! parsed with [`crate::template::parse_with_inputs`]); definitions are stored as given, with
//! references, never values. A run authorises in [`crate::principal::authorize_action_run`],
//! opens the referenced secrets, renders every field, audits the use of each secret (refused if
//! that cannot be recorded, before anything is sent), hands plain data to the [`Dispatcher`]
//! (the server's senders), redacts the reply with [`Redactor`], and records `action.run` with its
//! outcome.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use sealbox_crypto::{ExposeSecret, SecretString};
use sealbox_store::{ActionRow, ActionUpdate, SecretRow, SecretVersionRow, StoreError};
use sealbox_types::{
    ActionDefinition, ActionInfo, ActionKind, ActionRunResponse, EmailRunResult, HeaderPair, HttpRunResult, SecretType,
    SqsRunResult, Visibility, codes,
};
use serde_json::{Value, json};

use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult, ErrorClass};
use crate::principal::{ActionSecret, Permission, Principal, RequestContext, authorize, authorize_action_run};
use crate::template::{Segment, parse_with_inputs};
use crate::validate::{self, SecretName};
use crate::{Sealbox, new_id};

mod input;
use input::{Placement, Placer};

/// How an unsaved action appears in audit events and run responses.
pub const UNSAVED: &str = "(unsaved)";

const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// Headers the HTTP sender sets itself (framing and connection management).
const SENDER_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];
const MAX_FIELD_CHARS: usize = 65_536;
const MAX_ENTRIES: usize = 50;
const MAX_INPUT_CHARS: usize = 8192;
/// The longest text from a destination shown in an error or an e-mail server's reply.
const MAX_PEER_TEXT: usize = 1000;

// ---- what the dispatcher gets and gives back ----

/// A rendered HTTP request. Every rendered field may hold a secret, so each is a `SecretString`.
pub struct HttpRequest {
    pub method: String,
    pub url: SecretString,
    pub headers: Vec<(String, SecretString)>,
    pub query: Vec<(String, SecretString)>,
    pub body: Option<SecretString>,
}

/// What the destination answered, before redaction.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The fields of an `smtp` secret.
pub struct SmtpAccount {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: Option<String>,
}

/// A rendered e-mail.
pub struct EmailMessage {
    pub from: Option<SecretString>,
    pub to: Vec<SecretString>,
    pub cc: Vec<SecretString>,
    pub bcc: Vec<SecretString>,
    pub subject: SecretString,
    pub text: SecretString,
    pub html: Option<SecretString>,
}

pub struct EmailSent {
    pub recipients: usize,
    pub server_reply: String,
}

/// The fields of an `aws_sqs` secret.
pub struct SqsAccount {
    pub aws_region: String,
    pub queue_url: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

/// A rendered SQS message.
pub struct SqsMessage {
    pub body: SecretString,
    pub attributes: BTreeMap<String, SecretString>,
    pub delay_seconds: Option<u32>,
    pub message_group_id: Option<SecretString>,
    pub message_deduplication_id: Option<SecretString>,
}

pub struct SqsSent {
    pub message_id: String,
    pub md5_of_body: Option<String>,
}

/// Why the dispatcher did not deliver. `message` must be safe to show (no value, password,
/// header, body or query string); core redacts it once more anyway.
#[derive(Debug, Clone)]
pub struct DispatchError {
    /// A stable dotted code such as `action.destination_refused`.
    pub code: &'static str,
    pub message: String,
    pub failure: DispatchFailure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchFailure {
    /// The server refused to send (destination not allowed, request invalid): 422.
    Refused,
    /// The destination failed (unreachable, timed out, rejected the request): 424.
    Peer,
}

/// Sends rendered requests. The server implements it with its outbound senders; core decides
/// everything else (who may, what is sent, what comes back).
///
/// The `check_*` methods run before any use of a value is recorded: they refuse what the sender
/// would refuse anyway (a destination the guard does not allow, a request it cannot build), so
/// a refused run records no `secret.use`. They send nothing; the send itself checks again (and
/// connects only to the addresses it checked then).
#[async_trait]
pub trait Dispatcher: Send + Sync + 'static {
    async fn check_http(&self, _request: &HttpRequest) -> Result<(), DispatchError> {
        Ok(())
    }
    async fn check_email(&self, _account: &SmtpAccount, _message: &EmailMessage) -> Result<(), DispatchError> {
        Ok(())
    }
    async fn check_sqs(&self, _account: &SqsAccount, _message: &SqsMessage) -> Result<(), DispatchError> {
        Ok(())
    }
    async fn http(&self, request: HttpRequest) -> Result<HttpResponse, DispatchError>;
    async fn email(&self, account: SmtpAccount, message: EmailMessage) -> Result<EmailSent, DispatchError>;
    async fn sqs(&self, account: SqsAccount, message: SqsMessage) -> Result<SqsSent, DispatchError>;
}

// ---- checked definitions ----

/// One parsed text field, its name as error messages show it (`headers.Authorization`), and how
/// input is put into it.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    segments: Vec<Segment>,
    placement: Placement,
}

#[derive(Debug, Clone)]
enum Compiled {
    Http {
        method: Field,
        url: Field,
        headers: Vec<(String, Field)>,
        query: Vec<(String, Field)>,
        body: Option<Field>,
        host: String,
    },
    Email {
        secret: String,
        from: Option<Field>,
        to: Vec<Field>,
        cc: Vec<Field>,
        bcc: Vec<Field>,
        subject: Field,
        text: Field,
        html: Option<Field>,
    },
    Sqs {
        secret: String,
        body: Field,
        attributes: Vec<(String, Field)>,
        delay_seconds: Option<u32>,
        message_group_id: Option<Field>,
        message_deduplication_id: Option<Field>,
    },
}

impl Compiled {
    fn kind(&self) -> ActionKind {
        match self {
            Compiled::Http { .. } => ActionKind::Http,
            Compiled::Email { .. } => ActionKind::Email,
            Compiled::Sqs { .. } => ActionKind::Sqs,
        }
    }

    fn fields(&self) -> Vec<&Field> {
        let mut out = Vec::new();
        match self {
            Compiled::Http {
                method,
                url,
                headers,
                query,
                body,
                ..
            } => {
                out.extend([method, url]);
                out.extend(headers.iter().chain(query).map(|(_, f)| f));
                out.extend(body);
            }
            Compiled::Email {
                from,
                to,
                cc,
                bcc,
                subject,
                text,
                html,
                ..
            } => {
                out.extend(from);
                out.extend(to.iter().chain(cc).chain(bcc));
                out.extend([subject, text]);
                out.extend(html);
            }
            Compiled::Sqs {
                body,
                attributes,
                message_group_id,
                message_deduplication_id,
                ..
            } => {
                out.push(body);
                out.extend(attributes.iter().map(|(_, f)| f));
                out.extend(message_group_id);
                out.extend(message_deduplication_id);
            }
        }
        out
    }

    /// Every secret the definition uses, by name: the account secret and every reference.
    fn secrets(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        if let Compiled::Email { secret, .. } | Compiled::Sqs { secret, .. } = self {
            names.insert(secret.clone());
        }
        for field in self.fields() {
            for segment in &field.segments {
                if let Segment::Secret(r) = segment {
                    names.insert(r.name.clone());
                }
            }
        }
        names.into_iter().collect()
    }

    fn inputs(&self) -> Vec<String> {
        let mut keys = BTreeSet::new();
        for field in self.fields() {
            for segment in &field.segments {
                if let Segment::Input(i) = segment {
                    keys.insert(i.key.clone());
                }
            }
        }
        keys.into_iter().collect()
    }
}

/// Collects every problem of a definition, so one answer names them all.
#[derive(Default)]
struct Checker {
    problems: Vec<String>,
}

impl Checker {
    /// Parses a text field; `one_secret`: at most one `{secrets...}` reference (http fields);
    /// `placement`: how its input is put in.
    fn field(&mut self, name: &str, text: &str, one_secret: bool, placement: Placement) -> Field {
        let mut field = Field {
            name: name.to_owned(),
            segments: Vec::new(),
            placement,
        };
        if text.chars().count() > MAX_FIELD_CHARS {
            self.problems
                .push(format!("{name}: at most {MAX_FIELD_CHARS} characters"));
            return field;
        }
        match parse_with_inputs(text) {
            Ok(segments) => field.segments = segments,
            Err(problems) => {
                self.problems
                    .extend(problems.into_iter().map(|p| format!("{name}: {p}")));
                return field;
            }
        }
        let secrets = field
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Secret(_)))
            .count();
        if one_secret && secrets > 1 {
            self.problems.push(format!(
                "{name}: holds {secrets} secret references; each field may hold at most one"
            ));
        }
        field
    }

    /// The HTTP `Content-Type`, which decides how input is put into the body: given at most once,
    /// and written out (a reference would let a value decide it).
    fn content_type(&mut self, headers: &[(String, Field)]) -> Option<String> {
        let given: Vec<&Field> = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, field)| field)
            .collect();
        let [field] = given.as_slice() else {
            if given.len() > 1 {
                self.problems.push("headers: give Content-Type once".into());
            }
            return None;
        };
        let written = literal(field);
        if written.is_none() {
            self.problems.push(format!(
                "{}: decides how input is put into the body, so it holds no references; write it out",
                field.name
            ));
        }
        written
    }

    fn secret_name(&mut self, field: &str, raw: &str) -> String {
        if let Err(e) = SecretName::parse(raw) {
            self.problems.push(format!("{field}: {}", e.message));
        }
        raw.to_owned()
    }

    fn entries(&mut self, field: &str, n: usize) {
        if n > MAX_ENTRIES {
            self.problems.push(format!("{field}: at most {MAX_ENTRIES} entries"));
        }
    }
}

fn compile(definition: &ActionDefinition) -> CoreResult<Compiled> {
    let (compiled, problems) = check(definition);
    if problems.is_empty() {
        Ok(compiled)
    } else {
        Err(CoreError::invalid(
            codes::ACTION_DEFINITION_INVALID,
            problems.join("; "),
        ))
    }
}

/// The compiled form and every problem found; a field that does not parse has no segments.
fn check(definition: &ActionDefinition) -> (Compiled, Vec<String>) {
    let mut c = Checker::default();
    let compiled = match definition {
        ActionDefinition::Http(h) => {
            let method = c.field("method", &h.method, true, Placement::Text);
            if literal(&method).is_some_and(|m| !HTTP_METHODS.contains(&m.as_str())) {
                c.problems
                    .push(format!("method: must be one of {}", HTTP_METHODS.join(", ")));
            }
            let url = c.field("url", &h.url, true, Placement::Url);
            let host = match url_host(&url) {
                Ok(host) => host,
                Err(problem) => {
                    c.problems.push(format!("url: {problem}"));
                    String::new()
                }
            };
            c.entries("headers", h.headers.len());
            let headers = h
                .headers
                .iter()
                .map(|(name, value)| {
                    if !is_header_name(name) {
                        c.problems.push(format!(
                            "headers: {} is not a header name (letters, digits and !#$%&'*+-.^_`|~)",
                            validate::quote_for_message(name)
                        ));
                    } else if SENDER_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                        c.problems
                            .push(format!("headers.{name}: set by the server when it sends; leave it out"));
                    }
                    (
                        name.clone(),
                        c.field(&format!("headers.{name}"), value, true, Placement::Header),
                    )
                })
                .collect::<Vec<_>>();
            c.entries("query", h.query.len());
            let query = h
                .query
                .iter()
                .map(|(key, value)| {
                    if key.is_empty() || key.chars().any(char::is_control) || key.len() > 256 {
                        c.problems
                            .push("query: keys are 1-256 characters without control characters".into());
                    }
                    (
                        key.clone(),
                        c.field(&format!("query.{key}"), value, true, Placement::Text),
                    )
                })
                .collect();
            let body_placement = input::body_placement(c.content_type(&headers).as_deref());
            let body = h.body.as_deref().map(|b| c.field("body", b, true, body_placement));
            Compiled::Http {
                method,
                url,
                headers,
                query,
                body,
                host,
            }
        }
        ActionDefinition::Email(e) => {
            let secret = c.secret_name("secret", &e.secret);
            if e.to.is_empty() {
                c.problems.push("to: give at least one recipient".into());
            }
            c.entries("to, cc and bcc", e.to.len() + e.cc.len() + e.bcc.len());
            let list = |c: &mut Checker, what: &str, list: &[String]| -> Vec<Field> {
                list.iter()
                    .enumerate()
                    .map(|(i, r)| c.field(&format!("{what}[{i}]"), r, false, Placement::Address))
                    .collect()
            };
            Compiled::Email {
                from: e.from.as_deref().map(|f| c.field("from", f, false, Placement::Address)),
                to: list(&mut c, "to", &e.to),
                cc: list(&mut c, "cc", &e.cc),
                bcc: list(&mut c, "bcc", &e.bcc),
                subject: c.field("subject", &e.subject, false, Placement::Line),
                text: c.field("text", &e.text, false, Placement::Text),
                html: e.html.as_deref().map(|h| c.field("html", h, false, Placement::Html)),
                secret,
            }
        }
        ActionDefinition::Sqs(q) => {
            let secret = c.secret_name("secret", &q.secret);
            if q.body.is_empty() {
                c.problems.push("body: an SQS message needs a body".into());
            }
            if q.delay_seconds.is_some_and(|d| d > 900) {
                c.problems.push("delay_seconds: 0-900".into());
            }
            if q.attributes.len() > 10 {
                c.problems.push("attributes: at most 10 (an SQS limit)".into());
            }
            let attributes = q
                .attributes
                .iter()
                .map(|(name, value)| {
                    let ok = !name.is_empty()
                        && name.len() <= 256
                        && name.chars().all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch));
                    if !ok {
                        c.problems.push(format!(
                            "attributes: {} is not an attribute name (1-256 letters, digits, '_', '-', '.')",
                            validate::quote_for_message(name)
                        ));
                    }
                    (
                        name.clone(),
                        c.field(&format!("attributes.{name}"), value, false, Placement::Text),
                    )
                })
                .collect();
            Compiled::Sqs {
                body: c.field("body", &q.body, false, input::sqs_body_placement(&q.body)),
                attributes,
                delay_seconds: q.delay_seconds,
                message_group_id: q
                    .message_group_id
                    .as_deref()
                    .map(|g| c.field("message_group_id", g, false, Placement::Text)),
                message_deduplication_id: q
                    .message_deduplication_id
                    .as_deref()
                    .map(|d| c.field("message_deduplication_id", d, false, Placement::Text)),
                secret,
            }
        }
    };
    (compiled, c.problems)
}

/// The field's text when it holds no reference.
fn literal(field: &Field) -> Option<String> {
    match field.segments.as_slice() {
        [] => Some(String::new()),
        [Segment::Text(t)] => Some(t.clone()),
        _ => None,
    }
}

/// The URL's host, from its written-out start: scheme and host must not hold references, so no
/// secret ever goes into a DNS query and the destination is known when the action is defined.
fn url_host(url: &Field) -> Result<String, String> {
    let start = match url.segments.first() {
        Some(Segment::Text(t)) => t.as_str(),
        _ => "",
    };
    let (scheme, rest) = if let Some(rest) = start.strip_prefix("https://") {
        ("https", rest)
    } else if let Some(rest) = start.strip_prefix("http://") {
        ("http", rest)
    } else {
        return Err("must start with http:// or https://".into());
    };
    // Where the sender's URL parser ends the authority (`\` too, for http and https).
    let end = rest.find(['/', '?', '#', '\\']);
    if end.is_none() && url.segments.len() > 1 {
        return Err("the host must be written out; put references after it (in the path or query)".into());
    }
    let authority = &rest[..end.unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed; send them in a header".into());
    }
    let must_name = "must name a host and a valid port, like https://api.example.com/path";
    if authority.is_empty() || authority.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(must_name.into());
    }
    // The host as the sender will read it (percent-escapes decoded, numeric IPv4 forms and
    // IDNs normalised), so the audited destination is the one connected to.
    let parsed = url::Url::parse(&format!("{scheme}://{authority}/")).map_err(|_| must_name.to_owned())?;
    match parsed.host_str() {
        Some(host) if !host.is_empty() => Ok(bare_host(host)),
        _ => Err(must_name.into()),
    }
}

/// A host as `Url::host_str` gives it, without the brackets of an IPv6 literal.
fn bare_host(host: &str) -> String {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_owned()
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

// ---- redaction ----

/// Replaces every occurrence of secret values in what a destination answered with `[REDACTED]`,
/// however the peer may have spelt them: the matcher is `sealbox_redact::Redactor`, the one
/// `sealbox run` uses too (its documentation lists the spellings).
pub struct Redactor(sealbox_redact::Redactor);

pub const REDACTED: &str = "[REDACTED]";

impl Redactor {
    /// `values`: each referenced secret's value (a structured one as its JSON text) and, for
    /// structured secrets, each field of 4 characters or more; every one is redacted, whatever
    /// its length.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        Self(sealbox_redact::Redactor::new(values))
    }

    pub fn bytes(&self, input: &[u8]) -> Vec<u8> {
        self.0.redact(input, REDACTED.as_bytes())
    }

    pub fn text(&self, input: &str) -> String {
        self.0.redact_text(input, REDACTED)
    }
}

// ---- use-cases ----

struct Opened {
    row: SecretRow,
    version: SecretVersionRow,
    value: Value,
}

impl Sealbox {
    pub async fn create_action(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        definition: ActionDefinition,
    ) -> CoreResult<ActionInfo> {
        authorize(p, Permission::ManageActions)?;
        let name = crate::machines::object_name(codes::ACTION_NAME_INVALID, "action", name)?;
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
            workspace_id: p.workspace_id.clone(),
            name: name.clone(),
            kind: definition.kind().as_str().to_owned(),
            spec: serde_json::to_string(&definition).map_err(CoreError::internal)?,
            created_at: now,
            created_by: p.label(),
            updated_at: now,
            updated_by: p.label(),
        };
        let record = self.action_audit(p, ctx, "action.create", &name, &definition, &compiled);
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
            .list_actions(&p.workspace_id)
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
            workspace_id: p.workspace_id.clone(),
            action_id: row.id.clone(),
            kind: definition.kind().as_str().to_owned(),
            spec: serde_json::to_string(&definition).map_err(CoreError::internal)?,
            updated_at: self.now(),
            updated_by: p.label(),
        };
        let record = self.action_audit(p, ctx, "action.update", &row.name, &definition, &compiled);
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
            &p.workspace_id,
            p.label(),
            ctx,
            "action.delete",
            format!("action:{}", row.name),
            "success",
            json!({ "kind": row.kind }),
        );
        match self.store.delete_action(&p.workspace_id, &row.id, record).await {
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
            let found = self.store.secret_with_version(&p.workspace_id, secret, None).await?;
            let live = match found {
                Some((row, Some(version))) if row.deleted_at.is_none() => {
                    let tags = crate::machines::parse_map(&row.tags)?;
                    let visibility = Visibility::parse(&row.visibility)
                        .ok_or_else(|| CoreError::internal("stored visibility is unknown"))?;
                    Some((row, version, tags, visibility))
                }
                _ => None,
            };
            rows.push((secret.as_str(), live));
        }
        let policies = match p.identity() {
            Some(_) => self.policies_of(&p.workspace_id).await?,
            None => Vec::new(),
        };
        let checks: Vec<ActionSecret<'_>> = rows
            .iter()
            .map(|(name, live)| ActionSecret {
                name,
                found: live.as_ref().map(|(_, _, tags, visibility)| (tags, *visibility)),
            })
            .collect();
        let target = format!("action:{name}");
        if let Err(e) = authorize_action_run(p, &policies, &checks, unsaved) {
            if e.class == ErrorClass::Forbidden {
                self.audit_denied(p, ctx, "action.run", target).await;
                return Err(e);
            }
            return Err(self.refused_run(p, ctx, name, compiled, None, &input, e).await);
        }
        let mut opened = BTreeMap::new();
        for (secret, live) in rows {
            if let Some((row, version, _, _)) = live {
                let value = self.open_value(&row, version.clone())?;
                opened.insert(secret.to_owned(), Opened { row, version, value });
            }
        }
        if let Err(e) = check_input(compiled, &input) {
            return Err(self.refused_run(p, ctx, name, compiled, None, &input, e).await);
        }
        let redactor = redactor_for(&opened, compiled);
        let request = match render_request(compiled, &opened, &input) {
            Ok(request) => request,
            Err(e) => return Err(self.refused_run(p, ctx, name, compiled, None, &input, e).await),
        };
        // What the sender would refuse is refused before any use is recorded.
        let checked = match self.dispatcher.as_ref() {
            Some(dispatcher) => request.check(&**dispatcher).await,
            None => Err(DispatchError {
                code: codes::ACTION_UNAVAILABLE,
                message: "this server cannot send actions".into(),
                failure: DispatchFailure::Peer,
            }),
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
                .map(|o| (o.row.name.clone(), o.version.version.into()))
                .collect();
            let actor = p.label();
            let record = self.audit_record(
                &p.workspace_id,
                actor.clone(),
                ctx,
                "secret.use",
                format!("action:{name}"),
                "success",
                json!({ "secrets": secrets, "via": "action" }),
            );
            let ids: Vec<String> = opened.values().map(|o| o.row.id.clone()).collect();
            self.store.append_read(record, &ids, self.now(), &actor).await?;
        }

        let destination = request.destination();
        let kind = request.kind();
        let result = match self.dispatcher.as_ref() {
            Some(dispatcher) => request.send(&**dispatcher, &redactor).await,
            None => Err(DispatchError {
                code: codes::ACTION_UNAVAILABLE,
                message: "this server cannot send actions".into(),
                failure: DispatchFailure::Peer,
            }),
        };
        let mut detail = json!({
            "kind": kind.as_str(),
            "secrets": secret_names,
            "destination": destination,
            "input_keys": input.keys().collect::<Vec<_>>(),
        });
        let outcome = match &result {
            Ok(reply) => {
                if let Some(http) = &reply.http {
                    detail["status"] = json!(http.status);
                }
                "success"
            }
            Err(e) => {
                detail["code"] = json!(e.code);
                "failure"
            }
        };
        let record = self.audit_record(&p.workspace_id, p.label(), ctx, "action.run", target, outcome, detail);
        // The run happened; what it gave back is only returned once it is on record.
        self.store.append_audit(record).await?;
        match result {
            Ok(reply) => Ok(ActionRunResponse {
                action: name.to_owned(),
                kind,
                destination,
                http: reply.http,
                email: reply.email,
                sqs: reply.sqs,
            }),
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
        let destination = destination.map(str::to_owned).or_else(|| match compiled {
            Compiled::Http { host, .. } if !host.is_empty() => Some(host.clone()),
            _ => None,
        });
        let detail = json!({
            "kind": compiled.kind().as_str(),
            "secrets": compiled.secrets(),
            "destination": destination,
            // Only keys the action takes: a refused run may carry any text as a key.
            "input_keys": input.keys().filter(|k| compiled.inputs().contains(k)).collect::<Vec<_>>(),
            "code": error.code,
        });
        let record = self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            "action.run",
            format!("action:{name}"),
            "failure",
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
        if crate::machines::object_name(codes::ACTION_NAME_INVALID, "action", name).is_err() {
            return Err(missing());
        }
        self.store
            .action_by_name(&p.workspace_id, name)
            .await?
            .ok_or_else(missing)
    }

    fn action_audit(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        action: &str,
        name: &str,
        definition: &ActionDefinition,
        compiled: &Compiled,
    ) -> sealbox_store::AuditRecord {
        self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            action,
            format!("action:{name}"),
            "success",
            json!({
                "kind": definition.kind().as_str(),
                "secrets": compiled.secrets(),
                "inputs": compiled.inputs(),
            }),
        )
    }
}

/// A sender's refusal or failure as core's error, its message redacted once more.
fn dispatch_failure(e: DispatchError, redactor: &Redactor) -> CoreError {
    let class = match e.failure {
        DispatchFailure::Refused => ErrorClass::Unprocessable,
        DispatchFailure::Peer => ErrorClass::FailedDependency,
    };
    CoreError::new(class, e.code, peer_text(redactor, &e.message))
}

/// Text that may come from the destination, as it is shown: every value redacted first, then
/// control characters dropped and the text shortened to [`MAX_PEER_TEXT`] characters (in that
/// order: a value cut short could no longer be recognised).
fn peer_text(redactor: &Redactor, text: &str) -> String {
    let redacted = redactor.text(text);
    let mut out = String::with_capacity(redacted.len().min(MAX_PEER_TEXT * 4));
    let mut count = 0;
    let mut last_space = false;
    for c in redacted.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        if count == MAX_PEER_TEXT {
            out.push('…');
            break;
        }
        last_space = c == ' ';
        out.push(c);
        count += 1;
    }
    out
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

fn check_input(compiled: &Compiled, input: &BTreeMap<String, String>) -> CoreResult<()> {
    let wanted = compiled.inputs();
    let mut problems = Vec::new();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|k| !input.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        problems.push(format!("missing: {}", missing.join(", ")));
    }
    let unknown: Vec<String> = input
        .keys()
        .filter(|k| !wanted.contains(k))
        .map(|k| validate::quote_for_message(k))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!("not used by this action: {}", unknown.join(", ")));
    }
    for (key, value) in input {
        if value.chars().count() > MAX_INPUT_CHARS || value.contains('\0') {
            problems.push(format!(
                "{}: at most {MAX_INPUT_CHARS} characters, without NUL characters",
                validate::quote_for_message(key)
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let wanted = if wanted.is_empty() {
        "none".to_owned()
    } else {
        wanted.join(", ")
    };
    Err(CoreError::invalid(
        codes::ACTION_INPUT_INVALID,
        format!("input: {}; this action takes: {wanted}", problems.join("; ")),
    ))
}

fn redactor_for(opened: &BTreeMap<String, Opened>, compiled: &Compiled) -> Redactor {
    let mut values: Vec<String> = Vec::new();
    // Every field the action references, whatever its length: it is sent; and the credential
    // of the account secret of an e-mail or SQS action.
    let account = match compiled {
        Compiled::Email { secret, .. } | Compiled::Sqs { secret, .. } => Some(secret),
        Compiled::Http { .. } => None,
    };
    if let Some(o) = account.and_then(|secret| opened.get(secret))
        && let Ok(kind) = crate::kinds::stored_kind(&o.row.secret_type)
    {
        values.extend(kind.sensitive_texts(&o.value));
    }
    for field in compiled.fields() {
        for segment in &field.segments {
            if let Segment::Secret(r) = segment
                && let (Some(o), Some(name)) = (opened.get(&r.name), &r.field)
                && let Ok(kind) = crate::kinds::stored_kind(&o.row.secret_type)
                && let Ok(text) = kind.reference_text(&o.value, Some(name))
            {
                values.push(text);
            }
        }
    }
    for o in opened.values() {
        match &o.value {
            Value::String(text) => values.push(text.clone()),
            structured => {
                values.push(structured.to_string());
                if let Value::Object(fields) = structured {
                    for field in fields.values() {
                        let text = match field {
                            Value::String(s) => s.clone(),
                            Value::Null => continue,
                            other => other.to_string(),
                        };
                        if text.chars().count() >= 4 {
                            values.push(text);
                        }
                    }
                }
            }
        }
    }
    Redactor::new(values.iter().map(String::as_str))
}

/// A fully rendered request, ready for the dispatcher.
enum Rendered {
    Http(HttpRequest, String),
    Email(SmtpAccount, EmailMessage),
    Sqs(SqsAccount, SqsMessage),
}

#[derive(Default)]
struct Reply {
    http: Option<HttpRunResult>,
    email: Option<EmailRunResult>,
    sqs: Option<SqsRunResult>,
}

impl Rendered {
    fn kind(&self) -> ActionKind {
        match self {
            Rendered::Http(..) => ActionKind::Http,
            Rendered::Email(..) => ActionKind::Email,
            Rendered::Sqs(..) => ActionKind::Sqs,
        }
    }

    fn destination(&self) -> String {
        match self {
            Rendered::Http(_, host) => host.clone(),
            Rendered::Email(account, _) => account.host.trim().to_owned(),
            // As the sender parses it.
            Rendered::Sqs(account, _) => url::Url::parse(account.queue_url.trim())
                .ok()
                .and_then(|u| u.host_str().map(bare_host))
                .unwrap_or_default(),
        }
    }

    async fn check(&self, d: &dyn Dispatcher) -> Result<(), DispatchError> {
        match self {
            Rendered::Http(request, _) => d.check_http(request).await,
            Rendered::Email(account, message) => d.check_email(account, message).await,
            Rendered::Sqs(account, message) => d.check_sqs(account, message).await,
        }
    }

    async fn send(self, d: &dyn Dispatcher, redactor: &Redactor) -> Result<Reply, DispatchError> {
        Ok(match self {
            Rendered::Http(request, _) => {
                let response = d.http(request).await?;
                Reply {
                    http: Some(HttpRunResult {
                        status: response.status,
                        headers: response
                            .headers
                            .iter()
                            .map(|(name, value)| HeaderPair {
                                name: redactor.text(name),
                                value: redactor.text(value),
                            })
                            .collect(),
                        body: String::from_utf8_lossy(&redactor.bytes(&response.body)).into_owned(),
                    }),
                    ..Reply::default()
                }
            }
            Rendered::Email(account, message) => {
                let sent = d.email(account, message).await?;
                Reply {
                    email: Some(EmailRunResult {
                        recipients: sent.recipients,
                        server_reply: peer_text(redactor, &sent.server_reply),
                    }),
                    ..Reply::default()
                }
            }
            Rendered::Sqs(account, message) => {
                let sent = d.sqs(account, message).await?;
                Reply {
                    sqs: Some(SqsRunResult {
                        message_id: redactor.text(&sent.message_id),
                        md5_of_body: sent.md5_of_body.map(|m| redactor.text(&m)),
                    }),
                    ..Reply::default()
                }
            }
        })
    }
}

/// Renders fields, collecting every problem (a missing field of a secret, a text secret used
/// with a field; input that cannot go where it lands) so nothing is sent half-rendered.
struct Renderer<'a> {
    opened: &'a BTreeMap<String, Opened>,
    input: &'a BTreeMap<String, String>,
    problems: Vec<String>,
    input_problems: Vec<String>,
}

impl Renderer<'_> {
    fn field(&mut self, field: &Field) -> SecretString {
        let mut out = String::new();
        let mut placer = Placer::new(field.placement);
        for segment in &field.segments {
            match segment {
                Segment::Text(t) => {
                    placer.text(t);
                    out.push_str(t);
                }
                Segment::Input(i) => {
                    let value = self.input.get(&i.key).map_or("", String::as_str);
                    if let Err(problem) = placer.input(&mut out, &i.key, value) {
                        self.input_problem(&i.key, field, &problem);
                    }
                }
                Segment::Secret(r) => match self.opened.get(&r.name) {
                    None => self
                        .problems
                        .push(format!("{}: {}: no such secret", field.name, r.written())),
                    Some(o) => match crate::kinds::stored_kind(&o.row.secret_type)
                        .map(|kind| kind.reference_text(&o.value, r.field.as_deref()))
                    {
                        Ok(Ok(text)) => out.push_str(&text),
                        Ok(Err(problem)) => self.problems.push(format!(
                            "{}: {}: {}",
                            field.name,
                            r.written(),
                            problem.message(r.field.as_deref())
                        )),
                        Err(_) => self
                            .problems
                            .push(format!("{}: {}: no such secret", field.name, r.written())),
                    },
                },
            }
        }
        for (key, problem) in placer.finish(&out) {
            self.input_problem(&key, field, &problem);
        }
        SecretString::from(out)
    }

    fn input_problem(&mut self, key: &str, field: &Field, problem: &str) {
        let problem = format!("{key}: in {}: {problem}", field.name);
        if !self.input_problems.contains(&problem) {
            self.input_problems.push(problem);
        }
    }

    fn optional(&mut self, field: &Option<Field>) -> Option<SecretString> {
        field.as_ref().map(|f| self.field(f))
    }

    fn list(&mut self, fields: &[Field]) -> Vec<SecretString> {
        fields.iter().map(|f| self.field(f)).collect()
    }
}

fn account_fields<'a>(
    opened: &'a BTreeMap<String, Opened>,
    secret: &str,
    wanted: SecretType,
) -> CoreResult<&'a serde_json::Map<String, Value>> {
    let wrong = || {
        CoreError::new(
            ErrorClass::Unprocessable,
            codes::ACTION_REFERENCE_INVALID,
            format!(
                "secret: {secret} must be a secret of type {}; create one or name another",
                wanted.as_str()
            ),
        )
    };
    let o = opened.get(secret).ok_or_else(wrong)?;
    if SecretType::parse(&o.row.secret_type) != Some(wanted) {
        return Err(wrong());
    }
    o.value.as_object().ok_or_else(wrong)
}

fn text_of(fields: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn render_request(
    compiled: &Compiled,
    opened: &BTreeMap<String, Opened>,
    input: &BTreeMap<String, String>,
) -> CoreResult<Rendered> {
    let mut r = Renderer {
        opened,
        input,
        problems: Vec::new(),
        input_problems: Vec::new(),
    };
    let rendered = match compiled {
        Compiled::Http {
            method,
            url,
            headers,
            query,
            body,
            host,
        } => {
            let rendered_method = r.field(method);
            // EXPOSE: compared with the list of methods; never shown, since a reference could put a value here.
            let method_text = rendered_method.expose_secret().to_owned();
            if !HTTP_METHODS.contains(&method_text.as_str()) {
                r.problems.push(format!(
                    "method: rendered to something other than {}",
                    HTTP_METHODS.join(", ")
                ));
            }
            Rendered::Http(
                HttpRequest {
                    method: method_text,
                    url: r.field(url),
                    headers: headers.iter().map(|(n, f)| (n.clone(), r.field(f))).collect(),
                    query: query.iter().map(|(k, f)| (k.clone(), r.field(f))).collect(),
                    body: r.optional(body),
                },
                host.clone(),
            )
        }
        Compiled::Email {
            secret,
            from,
            to,
            cc,
            bcc,
            subject,
            text,
            html,
        } => {
            let fields = account_fields(opened, secret, SecretType::Smtp)?;
            let account = SmtpAccount {
                host: text_of(fields, "host").unwrap_or_default(),
                port: fields
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(587),
                username: text_of(fields, "username"),
                password: text_of(fields, "password").map(SecretString::from),
                from: text_of(fields, "from"),
            };
            let message = EmailMessage {
                from: r.optional(from),
                to: r.list(to),
                cc: r.list(cc),
                bcc: r.list(bcc),
                subject: r.field(subject),
                text: r.field(text),
                html: r.optional(html),
            };
            Rendered::Email(account, message)
        }
        Compiled::Sqs {
            secret,
            body,
            attributes,
            delay_seconds,
            message_group_id,
            message_deduplication_id,
        } => {
            let fields = account_fields(opened, secret, SecretType::AwsSqs)?;
            let account = SqsAccount {
                aws_region: text_of(fields, "aws_region").unwrap_or_default(),
                queue_url: text_of(fields, "queue_url").unwrap_or_default(),
                access_key_id: text_of(fields, "access_key_id").unwrap_or_default(),
                secret_access_key: SecretString::from(text_of(fields, "secret_access_key").unwrap_or_default()),
            };
            let message = SqsMessage {
                body: r.field(body),
                attributes: attributes.iter().map(|(n, f)| (n.clone(), r.field(f))).collect(),
                delay_seconds: *delay_seconds,
                message_group_id: r.optional(message_group_id),
                message_deduplication_id: r.optional(message_deduplication_id),
            };
            Rendered::Sqs(account, message)
        }
    };
    if !r.input_problems.is_empty() {
        return Err(CoreError::invalid(
            codes::ACTION_INPUT_INVALID,
            format!("input: {}", r.input_problems.join("; ")),
        ));
    }
    if r.problems.is_empty() {
        Ok(rendered)
    } else {
        Err(CoreError::new(
            ErrorClass::Unprocessable,
            codes::ACTION_REFERENCE_INVALID,
            r.problems.join("; "),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbox_types::{EmailActionSpec, HttpActionSpec, SqsActionSpec};

    fn http(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> ActionDefinition {
        ActionDefinition::Http(HttpActionSpec {
            method: method.into(),
            url: url.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            query: BTreeMap::new(),
            body: body.map(Into::into),
        })
    }

    fn problems_of(definition: &ActionDefinition) -> String {
        let e = compile(definition).unwrap_err();
        assert_eq!(e.code, codes::ACTION_DEFINITION_INVALID);
        e.message
    }

    #[test]
    fn a_field_with_two_secret_references_is_refused_by_name() {
        let two = http(
            "POST",
            "https://api.example.com/v1",
            &[("Authorization", "{secrets.USER}:{secrets.PASS}")],
            Some("{secrets.A} and {secrets.B}"),
        );
        let message = problems_of(&two);
        assert!(
            message.contains("headers.Authorization: holds 2 secret references"),
            "{message}"
        );
        assert!(message.contains("body: holds 2 secret references"), "{message}");
        let one_each = http(
            "POST",
            "https://api.example.com/{input.path}?k={secrets.KEY}",
            &[("Authorization", "Bearer {secrets.TOKEN}")],
            Some("{{\"id\": \"{input.id}\", \"k\": \"{secrets.KEY}\"}}"),
        );
        let c = compile(&one_each).unwrap();
        assert_eq!(c.secrets(), ["KEY", "TOKEN"]);
        assert_eq!(c.inputs(), ["id", "path"]);
        let Compiled::Http { host, .. } = c else { panic!() };
        assert_eq!(host, "api.example.com");
        // E-mail and SQS fields may hold several.
        let mail = ActionDefinition::Email(EmailActionSpec {
            secret: "MAIL".into(),
            from: None,
            to: vec!["{input.to}".into()],
            cc: vec![],
            bcc: vec![],
            subject: "{secrets.A} {secrets.B}".into(),
            text: "hi".into(),
            html: None,
        });
        assert_eq!(compile(&mail).unwrap().secrets(), ["A", "B", "MAIL"]);
    }

    #[test]
    fn urls_write_out_their_scheme_and_host() {
        for (url, problem) in [
            ("{secrets.URL}", "must start with http"),
            ("ftp://example.com/", "must start with http"),
            ("https://{input.host}/x", "host must be written out"),
            ("https:///x", "must name a host"),
            ("https://api.{input.zone}.example.com/x", "host must be written out"),
            ("https://user:pw@example.com/", "credentials in the URL"),
        ] {
            let message = problems_of(&http("GET", url, &[], None));
            assert!(message.contains(problem), "{url}: {message}");
        }
        for (url, host) in [
            ("https://API.example.com:8443/a?b", "api.example.com"),
            ("http://127.0.0.1:9/{input.x}", "127.0.0.1"),
            ("http://[::1]:80/", "::1"),
            ("https://example.com", "example.com"),
            // The host the request goes to, as the sender's URL parser reads it: `\` ends the
            // host, percent-escapes are decoded, numeric IPv4 forms normalised.
            ("https://evil.example\\.api.example.com/x", "evil.example"),
            ("https://evil.example\\{input.x}", "evil.example"),
            ("https://%65vil.example/", "evil.example"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
            ("https://API.example.com./", "api.example.com."),
        ] {
            let Compiled::Http { host: h, .. } = compile(&http("GET", url, &[], None)).unwrap() else {
                panic!()
            };
            assert_eq!(h, host, "{url}");
        }
        assert!(problems_of(&http("GET", "https://example.com:99999/", &[], None)).contains("url:"));
        // The audited destination of an SQS or e-mail run is the host the sender connects to.
        let sqs = |queue_url: &str| {
            Rendered::Sqs(
                SqsAccount {
                    aws_region: "us-east-1".into(),
                    queue_url: queue_url.into(),
                    access_key_id: "A".into(),
                    secret_access_key: SecretString::from("s"),
                },
                SqsMessage {
                    body: SecretString::from("b"),
                    attributes: BTreeMap::new(),
                    delay_seconds: None,
                    message_group_id: None,
                    message_deduplication_id: None,
                },
            )
            .destination()
        };
        assert_eq!(sqs("http://[::1]/1/q"), "::1");
        assert_eq!(sqs("https://u@SQS.example.com:443/1/q"), "sqs.example.com");
        assert_eq!(sqs(" https://sqs.example.com/1/q"), "sqs.example.com");
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let message = problems_of(&http("FETCH", "nope", &[("Bad Header", "{oops}"), ("Host", "x")], None));
        assert!(message.contains("headers.Host: set by the server"), "{message}");
        assert!(message.contains("method: must be one of"), "{message}");
        assert!(message.contains("url: must start with"), "{message}");
        assert!(message.contains("\"Bad Header\" is not a header name"), "{message}");
        assert!(message.contains("headers.Bad Header: line 1:"), "{message}");
        let sqs = ActionDefinition::Sqs(SqsActionSpec {
            secret: "1bad".into(),
            body: String::new(),
            attributes: BTreeMap::from([("has space".to_string(), "x".to_string())]),
            delay_seconds: Some(901),
            message_group_id: None,
            message_deduplication_id: None,
        });
        let message = problems_of(&sqs);
        for part in [
            "secret:",
            "body:",
            "delay_seconds: 0-900",
            "\"has space\" is not an attribute name",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
    }

    #[test]
    fn replies_are_redacted_by_the_shared_engine_with_core_replacement() {
        // The spellings are sealbox-redact's table (run there whole and streamed); here: core's
        // replacement text, and every value given is redacted, however short (referenced fields).
        let r = Redactor::new(["s3cr3t value/+&=", "tiny"]);
        assert_eq!(
            r.text("a s3cr3t%20value%2F%2B%26%3D b s3cr3t+value%2F%2B%26%3D c tiny"),
            "a [REDACTED] b [REDACTED] c [REDACTED]"
        );
        assert_eq!(r.bytes(b"\xff nothing \xfe"), b"\xff nothing \xfe");
    }

    #[test]
    fn inputs_must_match_what_the_action_takes() {
        let c = compile(&http("GET", "https://example.com/{input.id}", &[], None)).unwrap();
        assert!(check_input(&c, &BTreeMap::from([("id".into(), "7".into())])).is_ok());
        let e = check_input(&c, &BTreeMap::new()).unwrap_err();
        assert!(e.message.contains("missing: id"), "{}", e.message);
        let e = check_input(
            &c,
            &BTreeMap::from([("id".into(), "7".into()), ("x".into(), "1".into())]),
        )
        .unwrap_err();
        assert!(e.message.contains("not used by this action: \"x\""), "{}", e.message);
    }
}
