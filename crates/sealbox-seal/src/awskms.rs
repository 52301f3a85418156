//! AWS KMS as the root key's protector: `Encrypt` to wrap, `Decrypt` to unwrap, each preceded by
//! `DescribeKey` (a disabled or deleted key is named as such, whatever the KMS says on `Decrypt`).
//!
//! A small client of KMS's JSON 1.1 protocol (`POST /`, `X-Amz-Target: TrentService.<Op>`), signed
//! with sealbox-actions' Signature Version 4 signer, instead of the AWS SDK. Credentials come from
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
//!
//! The blob stored is KMS's `CiphertextBlob` as it is, encrypted with the encryption context
//! `{"sealbox": "root-key"}`: `aws kms decrypt` with that context opens it too. `Decrypt` names the
//! key (`KeyId`), so a blob sealed under another key is refused rather than opened with it.

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sealbox_actions::sigv4;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::{ProtectorError, root_cause, shorten};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The encryption context every wrap binds its blob to (and every unwrap must present).
const CONTEXT_KEY: &str = "sealbox";
const CONTEXT_VALUE: &str = "root-key";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// KMS `Encrypt` takes at most 4096 bytes of plaintext.
const MAX_PLAINTEXT: usize = 4096;

/// `--seal awskms`: the key and where to reach KMS.
#[derive(Clone, Debug)]
pub struct AwsKmsConfig {
    /// A key id, key ARN, alias name (`alias/sealbox`) or alias ARN.
    pub key_id: String,
    /// Another endpoint than `https://kms.<region>.amazonaws.com` (a VPC endpoint, a test peer).
    pub endpoint: Option<String>,
    /// The region; else the key ARN's, else `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
}

/// The credentials requests are signed with. `Debug` shows the access key id only.
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .field("session_token", &self.session_token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl AwsCredentials {
    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optional) `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<AwsCredentials, ProtectorError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<AwsCredentials, ProtectorError> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let (Some(access_key_id), Some(secret)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) else {
            return Err(ProtectorError::Refused(
                "no AWS credentials for KMS: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
                 AWS_SESSION_TOKEN for temporary credentials) in the server's environment"
                    .into(),
            ));
        };
        Ok(AwsCredentials {
            access_key_id: access_key_id.trim().to_owned(),
            secret_access_key: SecretString::from(secret),
            session_token: get("AWS_SESSION_TOKEN").map(SecretString::from),
        })
    }
}

/// AWS KMS wrapping and unwrapping the root key. `Debug` shows no credentials.
pub struct AwsKms {
    key_id: String,
    region: String,
    endpoint: url::Url,
    /// `host[:port]`, as signed and as the HTTP client sends it.
    host: String,
    credentials: AwsCredentials,
    http: reqwest::Client,
    total_timeout: Duration,
    /// The key's ARN, once `DescribeKey` has told it (for [`AwsKms::describe`]).
    arn: OnceLock<String>,
}

impl std::fmt::Debug for AwsKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKms")
            .field("key_id", &self.key_id)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint.as_str())
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// Which call failed, for messages.
#[derive(Clone, Copy, PartialEq)]
enum Op {
    Describe,
    Encrypt,
    Decrypt,
}

impl Op {
    fn target(self) -> &'static str {
        match self {
            Op::Describe => "TrentService.DescribeKey",
            Op::Encrypt => "TrentService.Encrypt",
            Op::Decrypt => "TrentService.Decrypt",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Describe => "DescribeKey",
            Op::Encrypt => "Encrypt",
            Op::Decrypt => "Decrypt",
        }
    }
}

#[derive(Deserialize)]
struct DescribeOutput {
    #[serde(rename = "KeyMetadata")]
    metadata: KeyMetadata,
}

#[derive(Deserialize)]
struct KeyMetadata {
    #[serde(rename = "Arn")]
    arn: Option<String>,
    #[serde(rename = "KeyState")]
    key_state: Option<String>,
    #[serde(rename = "Enabled")]
    enabled: Option<bool>,
    #[serde(rename = "KeyUsage")]
    key_usage: Option<String>,
    #[serde(rename = "KeySpec")]
    key_spec: Option<String>,
}

#[derive(Deserialize)]
struct EncryptOutput {
    #[serde(rename = "CiphertextBlob")]
    ciphertext_blob: String,
}

#[derive(Deserialize)]
struct DecryptOutput {
    #[serde(rename = "Plaintext")]
    plaintext: String,
}

impl AwsKms {
    /// Credentials and (when the config has none) the region from the environment.
    pub fn new(config: AwsKmsConfig) -> Result<AwsKms, ProtectorError> {
        Self::build(config, AwsCredentials::from_env()?, &|name| std::env::var(name).ok())
    }

    /// With the given credentials; the region, when the config and the key ARN have none, still
    /// comes from `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub fn with_credentials(config: AwsKmsConfig, credentials: AwsCredentials) -> Result<AwsKms, ProtectorError> {
        Self::build(config, credentials, &|name| std::env::var(name).ok())
    }

    /// Other timeouts than 3 s to connect and 10 s for a whole call.
    pub fn with_timeouts(mut self, connect: Duration, total: Duration) -> Result<AwsKms, ProtectorError> {
        self.http = http_client(connect, total)?;
        self.total_timeout = total;
        Ok(self)
    }

    fn build(
        config: AwsKmsConfig,
        credentials: AwsCredentials,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AwsKms, ProtectorError> {
        let key_id = config.key_id.trim().to_owned();
        if key_id.is_empty() || key_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ProtectorError::Refused(
                "the AWS KMS key id is empty or has spaces: give --kms-key-id a key id, key ARN or alias (alias/NAME)"
                    .into(),
            ));
        }
        let region = resolve_region(config.region.as_deref(), &key_id, env)?;
        let endpoint = match config.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(given) => parse_endpoint(given)?,
            None => {
                let suffix = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                parse_endpoint(&format!("https://kms.{region}.{suffix}/"))?
            }
        };
        let host = match (endpoint.host_str(), endpoint.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => {
                return Err(ProtectorError::Refused(format!(
                    "the AWS KMS endpoint {endpoint} has no host: give --kms-endpoint as https://HOST[:PORT]"
                )));
            }
        };
        Ok(AwsKms {
            key_id,
            region,
            endpoint,
            host,
            credentials,
            http: http_client(CONNECT_TIMEOUT, TOTAL_TIMEOUT)?,
            total_timeout: TOTAL_TIMEOUT,
            arn: OnceLock::new(),
        })
    }

    /// The key id as configured (an id, ARN or alias).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// "AWS KMS key arn:aws:kms:... in eu-west-1" (the ARN once known, else the id as given).
    pub fn describe(&self) -> String {
        let key = self.arn.get().unwrap_or(&self.key_id);
        let mut text = format!("AWS KMS key {key} in {}", self.region);
        if !self
            .endpoint
            .as_str()
            .starts_with(&format!("https://kms.{}.", self.region))
        {
            text.push_str(&format!(" at {}", self.endpoint.as_str().trim_end_matches('/')));
        }
        text
    }

    /// KMS `Encrypt` of the root key's bytes; the blob to store in the database.
    pub async fn wrap(&self, root_key: &[u8]) -> Result<Vec<u8>, ProtectorError> {
        if root_key.is_empty() || root_key.len() > MAX_PLAINTEXT {
            return Err(ProtectorError::Refused(format!(
                "AWS KMS encrypts 1 to {MAX_PLAINTEXT} bytes; the key to wrap has {}",
                root_key.len()
            )));
        }
        self.check_key().await?;
        // EXPOSE: the root key goes, base64-encoded, into the body of the signed Encrypt request
        // to KMS (over TLS unless the endpoint is this machine); the copies here are wiped.
        let plaintext = Zeroizing::new(BASE64.encode(root_key));
        let body = Zeroizing::new(format!(
            r#"{{"KeyId":{},"Plaintext":"{}","EncryptionContext":{{"{CONTEXT_KEY}":"{CONTEXT_VALUE}"}}}}"#,
            Value::from(self.key_id.as_str()),
            plaintext.as_str()
        ));
        let reply = self.call(Op::Encrypt, body.as_bytes()).await?;
        let out: EncryptOutput = serde_json::from_slice(&reply).map_err(|_| self.garbled(Op::Encrypt))?;
        let blob = BASE64
            .decode(out.ciphertext_blob.as_bytes())
            .map_err(|_| self.garbled(Op::Encrypt))?;
        if blob.is_empty() {
            return Err(self.garbled(Op::Encrypt));
        }
        Ok(blob)
    }

    /// KMS `Decrypt` of a blob from [`AwsKms::wrap`] with this key; the root key, wiped on drop.
    pub async fn unwrap(&self, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        if blob.is_empty() {
            return Err(ProtectorError::Refused(
                "the sealed root key is empty: the database does not hold a key sealed by AWS KMS".into(),
            ));
        }
        self.check_key().await?;
        let body = serde_json::json!({
            "KeyId": self.key_id,
            "CiphertextBlob": BASE64.encode(blob),
            "EncryptionContext": { CONTEXT_KEY: CONTEXT_VALUE },
        })
        .to_string();
        let reply = self.call(Op::Decrypt, body.as_bytes()).await?;
        let out: DecryptOutput = serde_json::from_slice(&reply).map_err(|_| self.garbled(Op::Decrypt))?;
        let plaintext = Zeroizing::new(out.plaintext);
        let key = BASE64
            .decode(plaintext.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| self.garbled(Op::Decrypt))?;
        if key.is_empty() {
            return Err(self.garbled(Op::Decrypt));
        }
        Ok(key)
    }

    /// `DescribeKey`: the key exists, is enabled, and is a symmetric encryption key. KMS refuses
    /// `Encrypt`/`Decrypt` with a disabled key too, but not every KMS-compatible service does, and
    /// this way the message says which state the key is in.
    async fn check_key(&self) -> Result<(), ProtectorError> {
        let body = serde_json::json!({ "KeyId": self.key_id }).to_string();
        let reply = self.call(Op::Describe, body.as_bytes()).await?;
        let out: DescribeOutput = serde_json::from_slice(&reply).map_err(|_| self.garbled(Op::Describe))?;
        let meta = out.metadata;
        if let Some(arn) = meta.arn {
            let _ = self.arn.set(arn);
        }
        let key = self.key_name();
        let state = meta.key_state.unwrap_or_else(|| {
            if meta.enabled == Some(false) {
                "Disabled"
            } else {
                "Enabled"
            }
            .to_owned()
        });
        match state.as_str() {
            "Enabled" => {}
            "Disabled" => return Err(self.disabled()),
            "PendingDeletion" | "PendingReplicaDeletion" => {
                return Err(ProtectorError::Refused(format!(
                    "AWS KMS key {key} is scheduled for deletion: cancel it (aws kms cancel-key-deletion \
                     --key-id {key}, then aws kms enable-key) or start with the key that sealed this server"
                )));
            }
            "PendingImport" => {
                return Err(ProtectorError::Refused(format!(
                    "AWS KMS key {key} has no key material yet: import it (aws kms import-key-material) or use another key"
                )));
            }
            "Creating" | "Updating" | "Unavailable" => {
                return Err(ProtectorError::Unavailable(format!(
                    "AWS KMS key {key} is not usable at the moment (state {state}); retrying"
                )));
            }
            other => {
                return Err(ProtectorError::Refused(format!(
                    "AWS KMS key {key} is in state {}: sealbox needs an enabled key",
                    shorten(other, 40)
                )));
            }
        }
        if meta.key_usage.as_deref().is_some_and(|u| u != "ENCRYPT_DECRYPT")
            || meta.key_spec.as_deref().is_some_and(|s| s != "SYMMETRIC_DEFAULT")
        {
            return Err(ProtectorError::Refused(format!(
                "AWS KMS key {key} is not a symmetric encryption key (KeySpec SYMMETRIC_DEFAULT, KeyUsage \
                 ENCRYPT_DECRYPT): create one with aws kms create-key and no --key-spec"
            )));
        }
        Ok(())
    }

    /// One signed JSON 1.1 call; the reply's body on 2xx, else the error it stands for.
    async fn call(&self, op: Op, payload: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        let amz_date = sigv4::amz_date(now_unix());
        let signed_headers = [
            ("content-type".to_owned(), CONTENT_TYPE.to_owned()),
            ("host".to_owned(), self.host.clone()),
            ("x-amz-target".to_owned(), op.target().to_owned()),
        ];
        // EXPOSE: the session token is a header of the signed request, as AWS requires.
        let token = self.credentials.session_token.as_ref().map(|t| t.expose_secret());
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                path: self.endpoint.path(),
                query: &[],
                headers: &signed_headers,
                payload,
            },
            &sigv4::Credentials {
                access_key_id: &self.credentials.access_key_id,
                secret_access_key: &self.credentials.secret_access_key,
                session_token: token,
            },
            &sigv4::Scope {
                amz_date: &amz_date,
                region: &self.region,
                service: "kms",
            },
        );
        let mut headers = HeaderMap::new();
        // `host` is set by the HTTP client from the URL, to the same value.
        for (name, value) in signed_headers
            .iter()
            .filter(|(n, _)| n != "host")
            .chain(signed.headers_to_add.iter())
        {
            let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
                return Err(ProtectorError::Refused(
                    "an AWS KMS request header could not be built: check AWS_ACCESS_KEY_ID and AWS_SESSION_TOKEN \
                     for characters that are not printable ASCII"
                        .into(),
                ));
            };
            headers.insert(name, value);
        }
        let response = self
            .http
            .post(self.endpoint.clone())
            .headers(headers)
            .body(payload.to_vec())
            .send()
            .await
            .map_err(|e| self.transport(op, &e))?;
        let status = response.status().as_u16();
        // `Vec::from` takes the buffer over when it can, so the one wiped is the one received.
        let body = Zeroizing::new(Vec::from(response.bytes().await.map_err(|e| self.transport(op, &e))?));
        if (200..300).contains(&status) {
            return Ok(body);
        }
        Err(self.refusal(op, status, &body))
    }

    fn key_name(&self) -> &str {
        self.arn.get().map(String::as_str).unwrap_or(&self.key_id)
    }

    fn disabled(&self) -> ProtectorError {
        let key = self.key_name();
        ProtectorError::Refused(format!(
            "AWS KMS key {key} is disabled: enable it (aws kms enable-key --key-id {key}) or start with the key \
             that sealed this server"
        ))
    }

    /// A 2xx answer that is not KMS's: a wrong endpoint, which retrying does not mend.
    fn garbled(&self, op: Op) -> ProtectorError {
        ProtectorError::Refused(format!(
            "AWS KMS at {} gave an answer to {} that is not KMS's: check --kms-endpoint",
            self.endpoint.as_str(),
            op.name()
        ))
    }

    fn transport(&self, op: Op, error: &reqwest::Error) -> ProtectorError {
        let endpoint = self.endpoint.as_str();
        if error.is_timeout() {
            return ProtectorError::Unavailable(format!(
                "AWS KMS at {endpoint} did not answer {} within {} s: check the network and --kms-endpoint",
                op.name(),
                self.total_timeout.as_secs_f32()
            ));
        }
        ProtectorError::Unavailable(format!(
            "cannot reach AWS KMS at {endpoint} ({}): check the network, the region and --kms-endpoint",
            shorten(&root_cause(error), 200)
        ))
    }

    /// AWS's JSON error `{"__type": "...#Code", "message": "..."}` (or, for authentication
    /// failures, its XML `<Error><Code>..</Code><Message>..</Message></Error>`) into a protector
    /// error.
    fn refusal(&self, op: Op, status: u16, body: &[u8]) -> ProtectorError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let xml = std::str::from_utf8(body).unwrap_or_default();
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| {
                    parsed
                        .as_ref()
                        .and_then(|v| v.get(*n))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .or_else(|| names.iter().find_map(|n| xml_text(xml, n)))
        };
        let code = field(&["__type", "code", "Code"])
            .map(|t| t.rsplit('#').next().unwrap_or(&t).to_owned())
            .unwrap_or_default();
        let detail = match (code.as_str(), field(&["message", "Message"])) {
            ("", None) => String::new(),
            ("", Some(m)) => format!(" ({})", shorten(&m, 300)),
            (c, None) => format!(" ({c})"),
            (c, Some(m)) => format!(" ({c}: {})", shorten(&m, 300)),
        };
        let key = self.key_name().to_owned();
        let region = &self.region;
        let what = op.name();
        match code.as_str() {
            "ThrottlingException"
            | "Throttling"
            | "LimitExceededException"
            | "KMSInternalException"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "DependencyTimeoutException"
            | "KeyUnavailableException"
            | "RequestTimeout"
            | "RequestTimeoutException" => ProtectorError::Unavailable(format!(
                "AWS KMS could not {what} with key {key} for now{detail}; retrying"
            )),
            "NotFoundException" => ProtectorError::Refused(format!(
                "AWS KMS key {key} does not exist in {region}{detail}: check --kms-key-id and --kms-region"
            )),
            "DisabledException" => self.disabled(),
            "KMSInvalidStateException" => ProtectorError::Refused(format!(
                "AWS KMS key {key} cannot be used in its present state{detail}: enable it (aws kms enable-key) or \
                 start with the key that sealed this server"
            )),
            "IncorrectKeyException" => ProtectorError::Refused(format!(
                "AWS KMS key {key} cannot decrypt the sealed root key{detail}: it was sealed with another key; \
                 start with the key that sealed this server"
            )),
            "InvalidCiphertextException" => ProtectorError::Refused(format!(
                "AWS KMS key {key} cannot decrypt the sealed root key{detail}: it is damaged or was sealed with \
                 another key; start with the key that sealed this server, or restore the database from a backup"
            )),
            "InvalidKeyUsageException" => ProtectorError::Refused(format!(
                "AWS KMS key {key} is not a symmetric encryption key{detail}: create one with aws kms create-key"
            )),
            "AccessDeniedException" | "AccessDenied" if op == Op::Decrypt => ProtectorError::Refused(format!(
                "AWS KMS key {key} cannot decrypt the sealed root key{detail}: it was sealed with another key, or \
                 these credentials may not use kms:Decrypt on it; start with the key that sealed this server"
            )),
            "AccessDeniedException" | "AccessDenied" => ProtectorError::Refused(format!(
                "AWS KMS refused {what} on key {key}{detail}: allow kms:Encrypt, kms:Decrypt and kms:DescribeKey \
                 on it for these credentials"
            )),
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "MissingAuthenticationToken"
            | "MissingAuthenticationTokenException" => ProtectorError::Refused(format!(
                "AWS refused the credentials for KMS{detail}: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and \
                 AWS_SESSION_TOKEN"
            )),
            "ExpiredTokenException" | "ExpiredToken" => ProtectorError::Refused(format!(
                "the AWS session token has expired{detail}: give the server fresh credentials"
            )),
            "RequestExpired" | "RequestTimeTooSkewed" => ProtectorError::Refused(format!(
                "AWS KMS refused the request's time{detail}: check this machine's clock"
            )),
            _ if status >= 500 || status == 429 => ProtectorError::Unavailable(format!(
                "AWS KMS at {} failed {what} with HTTP {status}{detail}; retrying",
                self.endpoint.as_str()
            )),
            _ => ProtectorError::Refused(format!("AWS KMS refused {what} with key {key} (HTTP {status}){detail}")),
        }
    }
}

/// The text of the first `<tag>...</tag>` in an XML document, entities decoded.
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

fn http_client(connect: Duration, total: Duration) -> Result<reqwest::Client, ProtectorError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ProtectorError::Refused(format!("the HTTP client for AWS KMS could not be built: {e}")))
}

/// The region: given, else the key ARN's (`arn:aws:kms:REGION:...`), else `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`.
fn resolve_region(
    given: Option<&str>,
    key_id: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ProtectorError> {
    let from_arn = key_id
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').nth(2))
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let region = given
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .or(from_arn)
        .or_else(|| env("AWS_REGION").filter(|r| !r.trim().is_empty()))
        .or_else(|| env("AWS_DEFAULT_REGION").filter(|r| !r.trim().is_empty()))
        .ok_or_else(|| {
            ProtectorError::Refused(
                "no AWS region for KMS: give --kms-region (e.g. eu-west-1), a key ARN, or set AWS_REGION".into(),
            )
        })?;
    let region = region.trim().to_owned();
    let valid = region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(ProtectorError::Refused(format!(
            "the AWS region {} is not a region name: use one like eu-west-1",
            shorten(&region, 40)
        )));
    }
    Ok(region)
}

/// An `https://` endpoint, or `http://` to this machine only: the root key crosses the wire in
/// `Encrypt` requests and `Decrypt` answers.
fn parse_endpoint(given: &str) -> Result<url::Url, ProtectorError> {
    let url = url::Url::parse(given).map_err(|e| {
        ProtectorError::Refused(format!(
            "the AWS KMS endpoint {} is not a URL ({e}): give --kms-endpoint as https://HOST[:PORT]",
            shorten(given, 100)
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(ProtectorError::Refused(
            "the AWS KMS endpoint must be https://HOST[:PORT] without user, query or fragment".into(),
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(ProtectorError::Refused(format!(
            "the AWS KMS endpoint {url} is plain HTTP to another machine: the root key would cross the network \
             unencrypted; use https://"
        ))),
        other => Err(ProtectorError::Refused(format!(
            "the AWS KMS endpoint's scheme {other} is not https: give --kms-endpoint as https://HOST[:PORT]"
        ))),
    }
}

/// Seconds since the Unix epoch, for the signature (AWS refuses requests more than 5 minutes off).
/// The crate does not depend on sealbox-core's `Clock`: this is its one clock read.
#[allow(clippy::disallowed_methods)]
fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    }

    fn config(key_id: &str, region: Option<&str>, endpoint: Option<&str>) -> AwsKmsConfig {
        AwsKmsConfig {
            key_id: key_id.into(),
            endpoint: endpoint.map(str::to_owned),
            region: region.map(str::to_owned),
        }
    }

    fn credentials() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Some(SecretString::from("FwoGZXIvYXdzEXAMPLETOKEN")),
        }
    }

    #[test]
    fn the_region_comes_from_the_config_then_the_arn_then_the_environment() {
        let none = env(&[]);
        let both = env(&[("AWS_REGION", "eu-west-1"), ("AWS_DEFAULT_REGION", "us-east-2")]);
        let default_only = env(&[("AWS_DEFAULT_REGION", "us-east-2")]);
        assert_eq!(resolve_region(Some("ap-south-1"), "k", &both).unwrap(), "ap-south-1");
        let arn = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(resolve_region(None, arn, &both).unwrap(), "eu-central-1");
        assert_eq!(resolve_region(None, "alias/sealbox", &both).unwrap(), "eu-west-1");
        assert_eq!(
            resolve_region(None, "alias/sealbox", &default_only).unwrap(),
            "us-east-2"
        );
        let err = resolve_region(None, "alias/sealbox", &none).unwrap_err();
        assert!(!err.is_transient());
        assert!(err.to_string().contains("--kms-region"), "{err}");
        let err = resolve_region(Some("EU West"), "k", &none).unwrap_err();
        assert!(err.to_string().contains("not a region name"), "{err}");
    }

    #[test]
    fn credentials_come_from_the_standard_variables() {
        let found = AwsCredentials::from_lookup(&env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t-access-key"),
            ("AWS_SESSION_TOKEN", "s3ss10n-t0ken"),
        ]))
        .unwrap();
        assert_eq!(found.access_key_id, "AKIDEXAMPLE");
        assert_eq!(found.secret_access_key.expose_secret(), "s3cr3t-access-key");
        let shown = format!("{found:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("s3ss10n"), "{shown}");
        let err = AwsCredentials::from_lookup(&env(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")])).unwrap_err();
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    }

    #[test]
    fn the_default_endpoint_is_the_regional_one_and_plain_http_only_to_this_machine() {
        let kms = AwsKms::build(
            config("alias/sealbox", Some("eu-west-1"), None),
            credentials(),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(kms.endpoint.as_str(), "https://kms.eu-west-1.amazonaws.com/");
        assert_eq!(kms.host, "kms.eu-west-1.amazonaws.com");
        assert_eq!(kms.describe(), "AWS KMS key alias/sealbox in eu-west-1");
        let kms = AwsKms::build(config("k", Some("cn-north-1"), None), credentials(), &env(&[])).unwrap();
        assert_eq!(kms.endpoint.as_str(), "https://kms.cn-north-1.amazonaws.com.cn/");
        let kms = AwsKms::build(
            config("k", Some("us-east-1"), Some("http://127.0.0.1:4566")),
            credentials(),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(kms.host, "127.0.0.1:4566");
        assert_eq!(kms.describe(), "AWS KMS key k in us-east-1 at http://127.0.0.1:4566");
        let err = AwsKms::build(
            config("k", Some("us-east-1"), Some("http://kms.internal:80")),
            credentials(),
            &env(&[]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("use https://"), "{err}");
        let err = AwsKms::build(config(" ", Some("us-east-1"), None), credentials(), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("--kms-key-id"), "{err}");
    }

    #[test]
    fn debug_shows_no_credentials() {
        let kms = AwsKms::build(config("k", Some("us-east-1"), None), credentials(), &env(&[])).unwrap();
        let shown = format!("{kms:?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(!shown.contains("wJalr") && !shown.contains("FwoGZX"), "{shown}");
    }

    #[test]
    fn aws_error_codes_are_sorted_into_transient_and_final() {
        let kms = AwsKms::build(
            config("alias/sealbox", Some("us-east-1"), None),
            credentials(),
            &env(&[]),
        )
        .unwrap();
        let err = |status: u16, code: &str| {
            let body = serde_json::json!({"__type": code, "message": "m"}).to_string();
            kms.refusal(Op::Decrypt, status, body.as_bytes())
        };
        for (status, code) in [
            (400, "ThrottlingException"),
            (500, "KMSInternalException"),
            (500, "DependencyTimeoutException"),
            (503, "SomethingNew"),
            (429, "TooManyRequests"),
        ] {
            assert!(err(status, code).is_transient(), "{code}");
        }
        for (status, code) in [
            (400, "NotFoundException"),
            (400, "DisabledException"),
            (400, "com.amazon.coral.service#AccessDeniedException"),
            (400, "InvalidCiphertextException"),
            (400, "IncorrectKeyException"),
            (400, "UnrecognizedClientException"),
            (403, "SomethingNew"),
        ] {
            assert!(!err(status, code).is_transient(), "{code}");
        }
        assert_eq!(
            err(400, "DisabledException").to_string(),
            "AWS KMS key alias/sealbox is disabled: enable it (aws kms enable-key --key-id alias/sealbox) or start \
             with the key that sealed this server"
        );
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The \
                    request signature we calculated does not match &amp; so on</Message></Error></ErrorResponse>";
        let auth = kms.refusal(Op::Decrypt, 403, xml);
        assert!(!auth.is_transient());
        assert_eq!(
            auth.to_string(),
            "AWS refused the credentials for KMS (SignatureDoesNotMatch: The request signature we calculated does \
             not match & so on): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
        );
        let bare = kms.refusal(Op::Describe, 403, b"");
        assert_eq!(
            bare.to_string(),
            "AWS KMS refused DescribeKey with key alias/sealbox (HTTP 403)"
        );
        let garbage = kms.refusal(Op::Encrypt, 502, b"<html>bad gateway</html>");
        assert!(garbage.is_transient());
        assert!(garbage.to_string().contains("HTTP 502"), "{garbage}");
    }
}
