//! `email` actions: a message sent through an `smtp` secret's server. Fields may hold several
//! references; input goes into addresses, the subject line and HTML only in forms that cannot
//! change the message's structure.

use async_trait::async_trait;
use sealbox_crypto::SecretString;
use sealbox_types::{ActionKind, EmailActionSpec, EmailRunResult, SecretType};
use serde_json::Value;

use super::definition::{Checker, Field};
use super::dispatch::{DispatchError, Dispatcher, EmailMessage, SmtpAccount};
use super::input::Placement;
use super::kind::{AccountSecret, CheckedKind, RenderedKind, Reply};
use super::redact::{Redactor, peer_text};
use super::render::{Renderer, text_of};
use crate::error::CoreResult;

#[derive(Debug)]
pub(super) struct EmailAction {
    account: AccountSecret,
    from: Option<Field>,
    to: Vec<Field>,
    cc: Vec<Field>,
    bcc: Vec<Field>,
    subject: Field,
    text: Field,
    html: Option<Field>,
}

impl EmailAction {
    pub(super) fn check(e: &EmailActionSpec, c: &mut Checker) -> Self {
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
        EmailAction {
            from: e.from.as_deref().map(|f| c.field("from", f, false, Placement::Address)),
            to: list(c, "to", &e.to),
            cc: list(c, "cc", &e.cc),
            bcc: list(c, "bcc", &e.bcc),
            subject: c.field("subject", &e.subject, false, Placement::Line),
            text: c.field("text", &e.text, false, Placement::Text),
            html: e.html.as_deref().map(|h| c.field("html", h, false, Placement::Html)),
            account: AccountSecret {
                name: secret,
                secret_type: SecretType::Smtp,
            },
        }
    }
}

impl CheckedKind for EmailAction {
    fn kind(&self) -> ActionKind {
        ActionKind::Email
    }

    fn fields(&self) -> Vec<&Field> {
        let mut out = Vec::new();
        out.extend(&self.from);
        out.extend(self.to.iter().chain(&self.cc).chain(&self.bcc));
        out.extend([&self.subject, &self.text]);
        out.extend(&self.html);
        out
    }

    fn account(&self) -> Option<&AccountSecret> {
        Some(&self.account)
    }

    fn render(&self, r: &mut Renderer<'_>) -> CoreResult<Box<dyn RenderedKind>> {
        let fields = r.account(&self.account)?;
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
            from: r.optional(&self.from),
            to: r.list(&self.to),
            cc: r.list(&self.cc),
            bcc: r.list(&self.bcc),
            subject: r.field(&self.subject),
            text: r.field(&self.text),
            html: r.optional(&self.html),
        };
        Ok(Box::new(RenderedEmail { account, message }))
    }
}

struct RenderedEmail {
    account: SmtpAccount,
    message: EmailMessage,
}

#[async_trait]
impl RenderedKind for RenderedEmail {
    fn destination(&self) -> String {
        self.account.host.trim().to_owned()
    }

    async fn check(&self, dispatcher: &dyn Dispatcher) -> Result<(), DispatchError> {
        dispatcher.check_email(&self.account, &self.message).await
    }

    async fn send(self: Box<Self>, dispatcher: &dyn Dispatcher, redactor: &Redactor) -> Result<Reply, DispatchError> {
        let sent = dispatcher.email(self.account, self.message).await?;
        Ok(Reply {
            email: Some(EmailRunResult {
                recipients: sent.recipients,
                server_reply: peer_text(redactor, &sent.server_reply),
            }),
            ..Reply::default()
        })
    }
}
