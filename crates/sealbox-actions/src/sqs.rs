//! `sqs` actions: `SendMessage` over the SQS JSON protocol (`X-Amz-Target: AmazonSQS.SendMessage`),
//! signed with [`crate::sigv4`], sent through the same guarded HTTP exchange as `http` actions.

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use crate::http::{Prepared, parse_url};
use crate::model::{SqsAccount, SqsMessage, SqsSent};
use crate::{ActionError, Outbound, sigv4};

const TARGET: &str = "AmazonSQS.SendMessage";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

// EXPOSE (body, attribute values, ids): checked here and put into the message this sender delivers
// to the action's queue, which is what running an action means; errors never quote them.
fn check(account: &SqsAccount, message: &SqsMessage) -> Result<(), ActionError> {
    let region_ok = !account.aws_region.is_empty()
        && account.aws_region.len() <= 32
        && account
            .aws_region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(ActionError::invalid(
            "the aws_region of the SQS secret is not a region name; use one like us-east-1",
        ));
    }
    let key_ok = !account.access_key_id.is_empty() && account.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !key_ok {
        return Err(ActionError::invalid(
            "the access_key_id of the SQS secret is not an access key id; use letters and digits only",
        ));
    }
    if message.body.expose_secret().is_empty() {
        return Err(ActionError::invalid("the SQS message body is empty; give a body"));
    }
    if let Some(delay) = message.delay_seconds
        && delay > 900
    {
        return Err(ActionError::invalid(format!(
            "delay_seconds is {delay}; use 0 to 900 seconds"
        )));
    }
    if message.attributes.len() > 10 {
        return Err(ActionError::invalid(format!(
            "the message has {} attributes; SQS allows at most 10",
            message.attributes.len()
        )));
    }
    for (name, value) in &message.attributes {
        let name_ok = !name.is_empty()
            && name.len() <= 256
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.to_ascii_lowercase().starts_with("aws.")
            && !name.to_ascii_lowercase().starts_with("amazon.");
        if !name_ok {
            return Err(ActionError::invalid(
                "a message attribute name is not valid; use up to 256 letters, digits, _ - and ., not starting with AWS. or Amazon.",
            ));
        }
        if value.expose_secret().is_empty() {
            return Err(ActionError::invalid(format!(
                "the message attribute {name} is empty; SQS needs a value"
            )));
        }
    }
    for (what, value) in [
        ("message_group_id", &message.message_group_id),
        ("message_deduplication_id", &message.message_deduplication_id),
    ] {
        if let Some(value) = value {
            let value = value.expose_secret();
            let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(ActionError::invalid(format!(
                    "{what} must be 1 to 128 printable ASCII characters without spaces"
                )));
            }
        }
    }
    Ok(())
}

// EXPOSE (body, attribute values, ids): the SendMessage payload sent to the action's queue.
fn body_json(queue_url: &str, message: &SqsMessage) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("QueueUrl".into(), json!(queue_url));
    body.insert("MessageBody".into(), json!(message.body.expose_secret()));
    if let Some(delay) = message.delay_seconds {
        body.insert("DelaySeconds".into(), json!(delay));
    }
    if !message.attributes.is_empty() {
        let attributes: Map<String, Value> = message
            .attributes
            .iter()
            .map(|(k, v)| {
                let value = v.expose_secret();
                (k.clone(), json!({ "DataType": "String", "StringValue": value }))
            })
            .collect();
        body.insert("MessageAttributes".into(), Value::Object(attributes));
    }
    if let Some(group) = &message.message_group_id {
        body.insert("MessageGroupId".into(), json!(group.expose_secret()));
    }
    if let Some(dedup) = &message.message_deduplication_id {
        body.insert("MessageDeduplicationId".into(), json!(dedup.expose_secret()));
    }
    Value::Object(body).to_string().into_bytes()
}

impl Outbound {
    /// Checks what [`Outbound::sqs`] checks before it connects (the account and message are
    /// usable, the queue's address is allowed) and sends nothing.
    pub async fn check_sqs(&self, account: &SqsAccount, message: &SqsMessage) -> Result<(), ActionError> {
        check(account, message)?;
        let queue = parse_url(&account.queue_url, "queue_url of the SQS secret")?;
        let host = queue.host_str().unwrap_or_default().to_owned();
        let port = queue.port_or_known_default().unwrap_or(443);
        self.check_destination(&host, port).await
    }

    /// Sends one message to the account's queue, signed for the current time.
    pub async fn sqs(&self, account: &SqsAccount, message: &SqsMessage) -> Result<SqsSent, ActionError> {
        let now = crate::outbound::system_now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        self.sqs_at(account, message, now).await
    }

    /// As [`Outbound::sqs`], signed for the given time (milliseconds since the Unix epoch).
    pub async fn sqs_at(
        &self,
        account: &SqsAccount,
        message: &SqsMessage,
        now_unix_ms: i64,
    ) -> Result<SqsSent, ActionError> {
        check(account, message)?;
        let queue = parse_url(&account.queue_url, "queue_url of the SQS secret")?;
        let host = queue.host_str().unwrap_or_default().to_owned();
        // The JSON protocol posts to the service endpoint; the queue is named in the body.
        let mut endpoint = queue.clone();
        endpoint.set_path("/");
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        let host_header = match queue.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };

        let payload = body_json(queue.as_str(), message);
        let amz_date = sigv4::amz_date(now_unix_ms.div_euclid(1000));
        let signed_headers = vec![
            ("content-type".to_owned(), CONTENT_TYPE.to_owned()),
            ("host".to_owned(), host_header),
            ("x-amz-target".to_owned(), TARGET.to_owned()),
        ];
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                path: "/",
                query: &[],
                headers: &signed_headers,
                payload: &payload,
            },
            &sigv4::Credentials {
                access_key_id: &account.access_key_id,
                secret_access_key: &account.secret_access_key,
                session_token: None,
            },
            &sigv4::Scope {
                amz_date: &amz_date,
                region: &account.aws_region,
                service: "sqs",
            },
        );

        let mut headers = HeaderMap::new();
        // `host` is set by the HTTP client from the URL, to the same value.
        for (name, value) in signed_headers
            .iter()
            .filter(|(n, _)| n != "host")
            .chain(signed.headers_to_add.iter())
        {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ActionError::invalid("an SQS request header could not be built"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ActionError::invalid("an SQS request header could not be built"))?;
            headers.insert(name, value);
        }

        let reply = self
            .exchange(Prepared {
                method: Method::POST,
                url: endpoint,
                headers,
                body: Some(payload),
            })
            .await?;
        let parsed: Option<Value> = serde_json::from_slice(&reply.body).ok();
        if (200..300).contains(&reply.status) {
            let message_id = parsed
                .as_ref()
                .and_then(|v| v.get("MessageId"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ActionError::Sqs {
                    status: reply.status,
                    code: "InvalidResponse".into(),
                    message: "the answer has no MessageId; check that queue_url points at SQS".into(),
                })?;
            let md5_of_body = parsed
                .as_ref()
                .and_then(|v| v.get("MD5OfMessageBody"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Ok(SqsSent {
                message_id,
                md5_of_body,
            });
        }
        Err(sqs_error(reply.status, parsed.as_ref(), &reply.headers, &reply.body))
    }
}

/// The text of the first `<tag>...</tag>` in an XML document (AWS's query-protocol errors, which
/// authentication failures may still use: `<Error><Code>...</Code><Message>...</Message></Error>`).
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    let text = xml[start..end]
        .trim()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    (!text.is_empty()).then_some(text)
}

/// AWS's JSON error: `{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "..."}`; the
/// query-compatible code may also come in `x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender`,
/// and authentication errors may come as XML.
fn sqs_error(status: u16, body: Option<&Value>, headers: &[(String, String)], raw: &[u8]) -> ActionError {
    let xml = std::str::from_utf8(raw).unwrap_or_default();
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| body.and_then(|b| b.get(*n)).and_then(Value::as_str).map(str::to_owned))
            .or_else(|| names.iter().find_map(|n| xml_text(xml, n)))
    };
    let code = field(&["__type", "code", "Code"])
        .map(|t| t.rsplit('#').next().unwrap_or(&t).to_owned())
        .or_else(|| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("x-amzn-query-error"))
                .and_then(|(_, v)| v.split(';').next().map(str::to_owned))
        })
        .unwrap_or_else(|| format!("HTTP{status}"));
    // Not shortened here: AWS echoes parameter values, and a value cut short could no longer be
    // redacted. Core redacts, then shortens and puts the message on one line.
    let message = field(&["message", "Message"]).unwrap_or_else(|| "no error message in the answer".to_owned());
    ActionError::Sqs { status, code, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use std::collections::BTreeMap;

    fn account() -> SqsAccount {
        SqsAccount {
            aws_region: "us-east-1".into(),
            queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: SecretString::from("x"),
        }
    }

    fn message() -> SqsMessage {
        SqsMessage {
            body: "hello".into(),
            attributes: BTreeMap::new(),
            delay_seconds: None,
            message_group_id: None,
            message_deduplication_id: None,
        }
    }

    #[test]
    fn the_json_body_has_every_field() {
        let mut m = message();
        m.attributes.insert("kind".into(), "greeting".into());
        m.delay_seconds = Some(5);
        m.message_group_id = Some("g1".into());
        m.message_deduplication_id = Some("d1".into());
        let v: Value = serde_json::from_slice(&body_json("https://q/1/q.fifo", &m)).unwrap();
        assert_eq!(
            v,
            json!({
                "QueueUrl": "https://q/1/q.fifo",
                "MessageBody": "hello",
                "DelaySeconds": 5,
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "greeting"}},
                "MessageGroupId": "g1",
                "MessageDeduplicationId": "d1"
            })
        );
    }

    #[test]
    fn bad_input_is_refused_before_sending() {
        let mut m = message();
        m.delay_seconds = Some(901);
        assert_eq!(
            check(&account(), &m).unwrap_err().to_string(),
            "delay_seconds is 901; use 0 to 900 seconds"
        );
        let mut m = message();
        m.body = "".into();
        assert_eq!(check(&account(), &m).unwrap_err().code(), "action.request_invalid");
        let mut m = message();
        m.attributes.insert("AWS.trace".into(), "v".into());
        assert!(
            check(&account(), &m)
                .unwrap_err()
                .to_string()
                .contains("attribute name")
        );
        let mut a = account();
        a.aws_region = "US East".into();
        assert!(check(&a, &message()).unwrap_err().to_string().contains("aws_region"));
        let mut m = message();
        m.message_group_id = Some("has space".into());
        assert!(
            check(&account(), &m)
                .unwrap_err()
                .to_string()
                .contains("message_group_id")
        );
    }

    #[test]
    fn errors_carry_the_aws_code_and_message() {
        let body =
            json!({"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."});
        let err = sqs_error(400, Some(&body), &[], b"");
        assert_eq!(err.code(), "action.sqs_failed");
        assert_eq!(
            err.to_string(),
            "SQS refused the message (400): QueueDoesNotExist: The specified queue does not exist."
        );
        let err = sqs_error(
            403,
            None,
            &[(
                "x-amzn-query-error".into(),
                "AWS.SimpleQueueService.NonExistentQueue;Sender".into(),
            )],
            b"",
        );
        assert_eq!(
            err.to_string(),
            "SQS refused the message (403): AWS.SimpleQueueService.NonExistentQueue: no error message in the answer"
        );
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match &amp; so on</Message></Error></ErrorResponse>";
        let err = sqs_error(403, None, &[], xml);
        assert_eq!(
            err.to_string(),
            "SQS refused the message (403): SignatureDoesNotMatch: The request signature we calculated does not match & so on"
        );
        // AWS echoes parameter values in its messages; nothing is cut here, where the values
        // are unknown (a cut value could not be redacted): core redacts, then shortens.
        let echoed = format!("{} Value s3cr3t-message-body is invalid", "x".repeat(290));
        let body = json!({"__type": "InvalidParameterValue", "message": echoed});
        let err = sqs_error(400, Some(&body), &[], b"");
        assert!(
            err.to_string().ends_with("Value s3cr3t-message-body is invalid"),
            "{err}"
        );
    }
}
