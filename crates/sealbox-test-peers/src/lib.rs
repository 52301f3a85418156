//! Dev-only: the real local peers the actions tests run against, on 127.0.0.1 and a free port:
//! a private CA ([`Pki`]), aiosmtpd ([`Smtp`], with or without STARTTLS) and moto in server mode
//! ([`Moto`], SQS, KMS and IAM), the last two started as Python subprocesses ([`start_peer`]) that are
//! killed when dropped; a SoftHSM2 token ([`SoftHsm`], one per test process) for PKCS#11; and a
//! local OpenID Connect issuer ([`OidcIssuer`], `oidc.rs`, in process: discovery document and JWKS
//! over HTTPS, rotating RS256/ES256/EdDSA keys, tokens minted with any claims). The Python comes
//! from `SEALBOX_TEST_PYTHON` (default `python3`); when it cannot import a peer's module the test
//! is skipped, or fails under `CI=true` ([`python_with`]). Used by the `tests/it` suites of
//! sealbox-actions, sealbox-seal, sealbox-server and sealbox-cli; depends on no sealbox crate.

// Test support: a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};

mod softhsm;
pub use softhsm::{SOFTHSM_AES128_KEY, SOFTHSM_KEYS, SoftHsm};
mod oidc;
pub use oidc::{OidcIssuer, SigningKey, now as unix_now};

/// A private CA and server certificates signed by it.
pub struct Pki {
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pki {
    pub fn new() -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "sealbox test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for the given DNS names (and IP addresses, when they parse as one).
    pub fn server(&self, names: &[&str]) -> ServerCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}

/// Whether tests must not skip (CI runs them all).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A python3 that can import `module`. Missing under CI=true fails the test; elsewhere the test
/// is skipped with the reason printed. `install` is the pip requirement named in the message.
pub fn python_with(module: &str, install: &str) -> Option<String> {
    let python = std::env::var("SEALBOX_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let message =
        format!("{python} cannot import {module}; install it with: pip install '{install}' (scripts/test does)");
    if in_ci() {
        panic!("{message}; CI=true, so this test fails instead of skipping");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// A child process killed when dropped.
pub struct Peer {
    child: Child,
    pub port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `python args...`; the process prints `READY <port>` on stdout once it listens. Its
/// standard error goes to the test's unless `quiet` (moto logs every request there).
pub fn start_peer(python: &str, args: &[&str], env: &[(&str, &str)], quiet: bool) -> Peer {
    let mut command = Command::new(python);
    let stderr = if quiet { Stdio::null() } else { Stdio::inherit() };
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = line.trim().strip_prefix("READY ") {
                let _ = tx.send(port.parse::<u16>().unwrap());
            }
        }
    });
    let port = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(port) => port,
        Err(_) => {
            let _ = child.kill();
            panic!("the peer {args:?} did not print READY within 60 s");
        }
    };
    Peer { child, port }
}

pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// aiosmtpd (`peers/smtp_peer.py`) with a certificate from its own private CA. It accepts the
/// credentials it was started with, logs every command's verb and writes every accepted message.
pub struct Smtp {
    pub peer: Peer,
    pub pki: Pki,
    /// The private CA's certificate, as a PEM file (for `--extra-ca-file`).
    pub ca_file: PathBuf,
    out: tempfile::TempDir,
}

impl Smtp {
    /// `mode` is `starttls` (STARTTLS and AUTH, with a certificate for `cert_names`) or `plain`
    /// (no STARTTLS); `user` and `password` are the credentials it accepts.
    pub fn start(mode: &str, cert_names: &[&str], user: &str, password: &str) -> Option<Smtp> {
        let python = python_with("aiosmtpd", "aiosmtpd==1.4.6")?;
        let out = tempfile::tempdir().unwrap();
        let pki = Pki::new();
        let cert = pki.server(cert_names);
        let ca_file = write(out.path(), "ca.pem", &pki.ca_pem);
        let cert_path = write(out.path(), "server.crt", &cert.cert_pem);
        let key_path = write(out.path(), "server.key", &cert.key_pem);
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/smtp_peer.py");
        let peer = start_peer(
            &python,
            &[
                script,
                out.path().to_str().unwrap(),
                mode,
                cert_path.to_str().unwrap(),
                key_path.to_str().unwrap(),
            ],
            &[("PEER_USER", user), ("PEER_PASSWORD", password)],
            false,
        );
        Some(Smtp {
            peer,
            pki,
            ca_file,
            out,
        })
    }

    /// The verbs of the commands the server received, in order.
    pub fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.out.path().join("commands.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The messages the server accepted, in order (`tls`, `login`, `mail_from`, `rcpt_tos`, `data`).
    pub fn messages(&self) -> Vec<Value> {
        let mut found: Vec<(PathBuf, Value)> = std::fs::read_dir(self.out.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_message(p))
            .map(|p| {
                let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                (p, v)
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.into_iter().map(|(_, v)| v).collect()
    }
}

fn is_message(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.starts_with("message-") && name.ends_with(".json")
}

const MOTO: &str = "\
import time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
server.start()
print('READY %d' % server.get_host_and_port()[1], flush=True)
while True:
    time.sleep(3600)
";

/// moto in server mode (SQS, KMS and IAM), signature checking off until [`Moto::enforce_auth`].
pub struct Moto {
    pub peer: Peer,
    http: reqwest::Client,
}

impl Moto {
    pub fn start() -> Option<Moto> {
        let python = python_with("moto.server", "moto[server]==5.2.5")?;
        let peer = start_peer(
            &python,
            &["-c", MOTO],
            &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
            true,
        );
        Some(Moto {
            peer,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        })
    }

    /// One SQS JSON-protocol call, straight to moto (the test's own reading and set-up): the
    /// status and the body (JSON, or the text when it is not).
    pub async fn call(&self, action: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.peer.port))
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// One IAM query-protocol call (unsigned; moto routes it by the credential scope).
    async fn iam(&self, form: &[(&str, &str)]) -> String {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.peer.port))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{text}");
        text
    }

    /// From now on moto checks every request's signature (with botocore) and its IAM permissions
    /// (`on`), or stops checking (`!on`).
    pub async fn enforce_auth(&self, on: bool) {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/moto-api/reset-auth", self.peer.port))
            .body(if on { "0" } else { "inf" })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap());
    }

    /// An IAM user allowed sqs:*, and its access key (id, secret).
    pub async fn iam_user_key(&self) -> (String, String) {
        self.iam_user_key_allowed("sealbox", "sqs:*").await
    }

    /// A new IAM user `user` allowed `action` (e.g. `kms:*`) on every resource, and its access
    /// key (id, secret).
    pub async fn iam_user_key_allowed(&self, user: &str, action: &str) -> (String, String) {
        self.iam(&[("Action", "CreateUser"), ("UserName", user), ("Version", "2010-05-08")])
            .await;
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]
        })
        .to_string();
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", user),
            ("PolicyName", "allowed"),
            ("PolicyDocument", &policy),
            ("Version", "2010-05-08"),
        ])
        .await;
        let xml = self
            .iam(&[
                ("Action", "CreateAccessKey"),
                ("UserName", user),
                ("Version", "2010-05-08"),
            ])
            .await;
        let between = |tag: &str| {
            let start = xml.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
            let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
            xml[start..end].to_owned()
        };
        (between("AccessKeyId"), between("SecretAccessKey"))
    }

    /// One KMS JSON-protocol call (`TrentService.<action>`, region us-east-1), straight to moto
    /// (the test's own set-up): the status and the body (JSON, or the text when it is not).
    pub async fn kms(&self, action: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.peer.port))
            .header("x-amz-target", format!("TrentService.{action}"))
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A new symmetric encryption key in us-east-1: its key id and ARN.
    pub async fn create_kms_key(&self, description: &str) -> (String, String) {
        let (status, v) = self.kms("CreateKey", json!({"Description": description})).await;
        assert_eq!(status, 200, "{v}");
        let meta = &v["KeyMetadata"];
        (
            meta["KeyId"].as_str().unwrap().to_owned(),
            meta["Arn"].as_str().unwrap().to_owned(),
        )
    }

    /// `DisableKey` (`enable` false) or `EnableKey` (`enable` true).
    pub async fn set_kms_key_enabled(&self, key_id: &str, enable: bool) {
        let action = if enable { "EnableKey" } else { "DisableKey" };
        let (status, v) = self.kms(action, json!({"KeyId": key_id})).await;
        assert_eq!(status, 200, "{v}");
    }

    /// Creates the queue; its URL.
    pub async fn create_queue(&self, name: &str, attributes: Value) -> String {
        let (status, v) = self
            .call("CreateQueue", json!({"QueueName": name, "Attributes": attributes}))
            .await;
        assert_eq!(status, 200, "{v}");
        v["QueueUrl"].as_str().unwrap().to_owned()
    }

    /// Up to 10 visible messages, with all their message and system attributes.
    pub async fn receive(&self, queue_url: &str) -> Vec<Value> {
        let (status, v) = self
            .call(
                "ReceiveMessage",
                json!({
                    "QueueUrl": queue_url,
                    "MaxNumberOfMessages": 10,
                    "MessageAttributeNames": ["All"],
                    "MessageSystemAttributeNames": ["All"],
                    "AttributeNames": ["All"],
                    "WaitTimeSeconds": 0
                }),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v.get("Messages").and_then(Value::as_array).cloned().unwrap_or_default()
    }
}
