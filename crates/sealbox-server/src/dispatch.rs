//! The server's [`Dispatcher`]: core's rendered requests, which are sealbox-actions' model, handed
//! as they are to `sealbox_actions::Outbound` (the outbound guard and the HTTP, SMTP and SQS
//! senders).

use std::sync::Arc;

use async_trait::async_trait;
use sealbox_actions::{ActionError, Outbound};
use sealbox_core::Clock;
use sealbox_core::actions::{
    DispatchError, DispatchFailure, Dispatcher, EmailMessage, EmailSent, HttpRequest, HttpResponse, SmtpAccount,
    SqsAccount, SqsMessage, SqsSent,
};

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

#[async_trait]
impl Dispatcher for OutboundDispatcher {
    async fn check_http(&self, request: &HttpRequest) -> Result<(), DispatchError> {
        self.outbound.check_http(request).await.map_err(dispatch_error)
    }

    async fn check_email(&self, account: &SmtpAccount, message: &EmailMessage) -> Result<(), DispatchError> {
        self.outbound
            .check_email(account, message)
            .await
            .map_err(dispatch_error)
    }

    async fn check_sqs(&self, account: &SqsAccount, message: &SqsMessage) -> Result<(), DispatchError> {
        self.outbound.check_sqs(account, message).await.map_err(dispatch_error)
    }

    async fn http(&self, request: HttpRequest) -> Result<HttpResponse, DispatchError> {
        self.outbound.http(request).await.map_err(dispatch_error)
    }

    async fn email(&self, account: SmtpAccount, message: EmailMessage) -> Result<EmailSent, DispatchError> {
        self.outbound.email(&account, &message).await.map_err(dispatch_error)
    }

    async fn sqs(&self, account: SqsAccount, message: SqsMessage) -> Result<SqsSent, DispatchError> {
        self.outbound
            .sqs_at(&account, &message, self.clock.now_ms())
            .await
            .map_err(dispatch_error)
    }
}
