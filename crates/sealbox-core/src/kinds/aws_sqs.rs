//! `aws_sqs`: `{aws_region, queue_url, access_key_id, secret_access_key}`, all required.
//! Region and queue URL are public details; the keys are the secret part.

use serde_json::{Value, json};

use sealbox_types::SecretType;

use super::{Description, FieldSpec, Fields, Input, SecretKind, ValidatedValue};

pub struct AwsSqs;

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: lower-case words joined by '-', ending in a number.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn is_http_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or_default();
        !host.is_empty() && !s.contains(char::is_whitespace)
    })
}

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "aws_region",
        form: "region",
        label: "Region",
        input: Input::Text,
        sensitive: false,
        required: true,
        default: None,
        placeholder: "us-east-1",
        max_chars: 64,
    },
    FieldSpec {
        name: "queue_url",
        form: "queue",
        label: "Queue URL",
        input: Input::Url,
        sensitive: false,
        required: true,
        default: None,
        placeholder: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
        max_chars: 2048,
    },
    FieldSpec {
        name: "access_key_id",
        form: "akid",
        label: "Access key id",
        input: Input::Text,
        sensitive: true,
        required: true,
        default: None,
        placeholder: "",
        max_chars: 128,
    },
    FieldSpec {
        name: "secret_access_key",
        form: "sak",
        label: "Secret access key",
        input: Input::Password,
        sensitive: true,
        required: true,
        default: None,
        placeholder: "",
        max_chars: 256,
    },
];

const DESCRIPTION: Description = Description {
    secret_type: SecretType::AwsSqs,
    label: "AWS SQS",
    structured: true,
    fields: FIELDS,
};

impl SecretKind for AwsSqs {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn validate(&self, value: &Value) -> Result<ValidatedValue, Vec<String>> {
        let mut f = Fields::new(self, value)?;
        let region = f.string("aws_region");
        if region.as_deref().is_some_and(|r| !is_region(r)) {
            f.problem("aws_region", "must be an AWS region like us-east-1");
        }
        let queue_url = f.string("queue_url");
        if queue_url.as_deref().is_some_and(|u| !is_http_url(u)) {
            f.problem("queue_url", "must be an http(s) URL");
        }
        let access_key_id = f.string("access_key_id");
        if access_key_id
            .as_deref()
            .is_some_and(|k| !k.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            f.problem("access_key_id", "only letters and digits");
        }
        let secret_access_key = f.string("secret_access_key");
        let canonical = json!({
            "aws_region": region, "queue_url": queue_url,
            "access_key_id": access_key_id, "secret_access_key": secret_access_key,
        });
        f.finish(canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_four_fields_are_required_and_checked() {
        let ok = json!({"aws_region": "us-east-1", "queue_url": "https://sqs.us-east-1.amazonaws.com/1/q",
                        "access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t/key"});
        let v = AwsSqs.validate(&ok).unwrap();
        assert_eq!(
            v.details,
            json!({"aws_region": "us-east-1", "queue_url": "https://sqs.us-east-1.amazonaws.com/1/q"})
        );
        let problems = AwsSqs
            .validate(&json!({"aws_region": "US_EAST", "queue_url": "ftp://x"}))
            .err()
            .unwrap();
        assert!(problems.contains(&"aws_sqs.aws_region: must be an AWS region like us-east-1".to_owned()));
        assert!(problems.contains(&"aws_sqs.queue_url: must be an http(s) URL".to_owned()));
        assert!(problems.contains(&"aws_sqs.access_key_id: is required".to_owned()));
        assert!(problems.contains(&"aws_sqs.secret_access_key: is required".to_owned()));
    }
}
