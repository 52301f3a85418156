//! The server's [`Dispatcher`]: core's rendered requests handed to `sealbox_actions::Outbound`
//! (the outbound guard and the HTTP, SMTP and SQS senders).

use std::sync::Arc;

use async_trait::async_trait;
use sealbox_actions::{ActionError, Outbound};
use sealbox_core::Clock;
use sealbox_core::actions::{
    DispatchError, DispatchFailure, Dispatcher, EmailMessage, EmailSent, HttpRequest, HttpResponse, SmtpAccount,
    SqsAccount, SqsMessage, SqsSent,
};
use secrecy::{ExposeSecret, SecretString};

pub struct OutboundDispatcher {
    outbound: Outbound,
    /// SigV4 signs for the time core's clock gives.
    clock: Arc<dyn Clock>,
}

impl OutboundDispatcher {
    /// The senders as `sealbox server`'s flags set them up; a bad `--extra-ca-file` stops start-up.
    pub fn from_config(config: &crate::Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        use anyhow::Context;
        let extra_ca_pem = match &config.extra_ca_file {
            Some(path) => {
                Some(std::fs::read(path).with_context(|| format!("--extra-ca-file: cannot read {}", path.display()))?)
            }
            None => None,
        };
        let outbound = Outbound::new(sealbox_actions::OutboundConfig {
            allow_private_destinations: config.allow_private_destinations,
            timeout: std::time::Duration::from_secs(config.action_timeout_secs),
            max_response_bytes: config.action_max_response_bytes,
            extra_ca_pem,
        })
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("cannot set up the action senders (check --extra-ca-file)")?;
        Ok(Self { outbound, clock })
    }
}

// EXPOSE (every call below): the rendered request is handed to the sender, which sends it to the
// action's destination; that is what running an action means.
fn exposed(s: &SecretString) -> String {
    s.expose_secret().to_owned()
}

fn dispatch_error(e: ActionError) -> DispatchError {
    let code = e.code();
    let failure = match code {
        "action.destination_refused" | "action.request_invalid" => DispatchFailure::Refused,
        _ => DispatchFailure::Peer,
    };
    // The senders' messages never hold a value, password, header, body or query string.
    DispatchError {
        code,
        message: e.to_string(),
        failure,
    }
}

fn http_call(request: &HttpRequest) -> sealbox_actions::HttpCall {
    sealbox_actions::HttpCall {
        method: request.method.clone(),
        url: exposed(&request.url),
        headers: request.headers.iter().map(|(k, v)| (k.clone(), exposed(v))).collect(),
        query: request.query.iter().map(|(k, v)| (k.clone(), exposed(v))).collect(),
        body: request.body.as_ref().map(exposed),
    }
}

fn smtp_account(account: &SmtpAccount) -> sealbox_actions::SmtpAccount {
    sealbox_actions::SmtpAccount {
        host: account.host.clone(),
        port: account.port,
        username: account.username.clone(),
        password: account.password.clone(),
        from: account.from.clone(),
    }
}

fn email(message: &EmailMessage) -> sealbox_actions::Email {
    let all = |list: &[SecretString]| list.iter().map(exposed).collect::<Vec<_>>();
    sealbox_actions::Email {
        from: message.from.as_ref().map(exposed),
        to: all(&message.to),
        cc: all(&message.cc),
        bcc: all(&message.bcc),
        subject: exposed(&message.subject),
        text: exposed(&message.text),
        html: message.html.as_ref().map(exposed),
    }
}

fn sqs_account(account: &SqsAccount) -> sealbox_actions::SqsAccount {
    sealbox_actions::SqsAccount {
        aws_region: account.aws_region.clone(),
        queue_url: account.queue_url.clone(),
        access_key_id: account.access_key_id.clone(),
        secret_access_key: account.secret_access_key.clone(),
    }
}

fn sqs_message(message: &SqsMessage) -> sealbox_actions::SqsMessage {
    sealbox_actions::SqsMessage {
        body: exposed(&message.body),
        attributes: message
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), exposed(v)))
            .collect(),
        delay_seconds: message.delay_seconds,
        message_group_id: message.message_group_id.as_ref().map(exposed),
        message_deduplication_id: message.message_deduplication_id.as_ref().map(exposed),
    }
}

#[async_trait]
impl Dispatcher for OutboundDispatcher {
    async fn check_http(&self, request: &HttpRequest) -> Result<(), DispatchError> {
        self.outbound
            .check_http(http_call(request))
            .await
            .map_err(dispatch_error)
    }

    async fn check_email(&self, account: &SmtpAccount, message: &EmailMessage) -> Result<(), DispatchError> {
        self.outbound
            .check_email(&smtp_account(account), &email(message))
            .await
            .map_err(dispatch_error)
    }

    async fn check_sqs(&self, account: &SqsAccount, message: &SqsMessage) -> Result<(), DispatchError> {
        self.outbound
            .check_sqs(&sqs_account(account), &sqs_message(message))
            .await
            .map_err(dispatch_error)
    }

    async fn http(&self, request: HttpRequest) -> Result<HttpResponse, DispatchError> {
        let reply = self.outbound.http(http_call(&request)).await.map_err(dispatch_error)?;
        Ok(HttpResponse {
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        })
    }

    async fn email(&self, account: SmtpAccount, message: EmailMessage) -> Result<EmailSent, DispatchError> {
        let sent = self
            .outbound
            .email(&smtp_account(&account), &email(&message))
            .await
            .map_err(dispatch_error)?;
        Ok(EmailSent {
            recipients: sent.recipients,
            server_reply: sent.server_reply,
        })
    }

    async fn sqs(&self, account: SqsAccount, message: SqsMessage) -> Result<SqsSent, DispatchError> {
        let sent = self
            .outbound
            .sqs_at(&sqs_account(&account), &sqs_message(&message), self.clock.now_ms())
            .await
            .map_err(dispatch_error)?;
        Ok(SqsSent {
            message_id: sent.message_id,
            md5_of_body: sent.md5_of_body,
        })
    }
}
