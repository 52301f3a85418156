//! `sqs` actions: a message sent to an `aws_sqs` secret's queue. Fields may hold several
//! references; a body written as JSON takes input as JSON.

use async_trait::async_trait;
use sealbox_crypto::SecretString;
use sealbox_types::{ActionKind, SecretType, SqsActionSpec, SqsRunResult};

use super::definition::{Checker, Field};
use super::dispatch::{DispatchError, Dispatcher, SqsAccount, SqsMessage};
use super::input::{self, Placement};
use super::kind::{AccountSecret, CheckedKind, RenderedKind, Reply, bare_host};
use super::redact::Redactor;
use super::render::{Renderer, text_of};
use crate::error::CoreResult;
use crate::validate;

#[derive(Debug)]
pub(super) struct SqsAction {
    account: AccountSecret,
    body: Field,
    attributes: Vec<(String, Field)>,
    delay_seconds: Option<u32>,
    message_group_id: Option<Field>,
    message_deduplication_id: Option<Field>,
}

impl SqsAction {
    pub(super) fn check(q: &SqsActionSpec, c: &mut Checker) -> Self {
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
        SqsAction {
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
            account: AccountSecret {
                name: secret,
                secret_type: SecretType::AwsSqs,
            },
        }
    }
}

impl CheckedKind for SqsAction {
    fn kind(&self) -> ActionKind {
        ActionKind::Sqs
    }

    fn fields(&self) -> Vec<&Field> {
        let mut out = vec![&self.body];
        out.extend(self.attributes.iter().map(|(_, f)| f));
        out.extend(&self.message_group_id);
        out.extend(&self.message_deduplication_id);
        out
    }

    fn account(&self) -> Option<&AccountSecret> {
        Some(&self.account)
    }

    fn render(&self, r: &mut Renderer<'_>) -> CoreResult<Box<dyn RenderedKind>> {
        let fields = r.account(&self.account)?;
        let account = SqsAccount {
            aws_region: text_of(fields, "aws_region").unwrap_or_default(),
            queue_url: text_of(fields, "queue_url").unwrap_or_default(),
            access_key_id: text_of(fields, "access_key_id").unwrap_or_default(),
            secret_access_key: SecretString::from(text_of(fields, "secret_access_key").unwrap_or_default()),
        };
        let message = SqsMessage {
            body: r.field(&self.body),
            attributes: self.attributes.iter().map(|(n, f)| (n.clone(), r.field(f))).collect(),
            delay_seconds: self.delay_seconds,
            message_group_id: r.optional(&self.message_group_id),
            message_deduplication_id: r.optional(&self.message_deduplication_id),
        };
        Ok(Box::new(RenderedSqs { account, message }))
    }
}

struct RenderedSqs {
    account: SqsAccount,
    message: SqsMessage,
}

#[async_trait]
impl RenderedKind for RenderedSqs {
    /// The queue URL's host, as the sender parses it.
    fn destination(&self) -> String {
        url::Url::parse(self.account.queue_url.trim())
            .ok()
            .and_then(|u| u.host_str().map(bare_host))
            .unwrap_or_default()
    }

    async fn check(&self, dispatcher: &dyn Dispatcher) -> Result<(), DispatchError> {
        dispatcher.check_sqs(&self.account, &self.message).await
    }

    async fn send(self: Box<Self>, dispatcher: &dyn Dispatcher, redactor: &Redactor) -> Result<Reply, DispatchError> {
        let sent = dispatcher.sqs(self.account, self.message).await?;
        Ok(Reply {
            sqs: Some(SqsRunResult {
                message_id: redactor.text(&sent.message_id),
                md5_of_body: sent.md5_of_body.map(|m| redactor.text(&m)),
            }),
            ..Reply::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_audited_destination_is_the_host_the_sender_connects_to() {
        let sqs = |queue_url: &str| {
            RenderedSqs {
                account: SqsAccount {
                    aws_region: "us-east-1".into(),
                    queue_url: queue_url.into(),
                    access_key_id: "A".into(),
                    secret_access_key: SecretString::from("s"),
                },
                message: SqsMessage {
                    body: SecretString::from("b"),
                    attributes: BTreeMap::new(),
                    delay_seconds: None,
                    message_group_id: None,
                    message_deduplication_id: None,
                },
            }
            .destination()
        };
        assert_eq!(sqs("http://[::1]/1/q"), "::1");
        assert_eq!(sqs("https://u@SQS.example.com:443/1/q"), "sqs.example.com");
        assert_eq!(sqs(" https://sqs.example.com/1/q"), "sqs.example.com");
    }
}
