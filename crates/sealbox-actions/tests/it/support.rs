//! Shared helpers: the outbound under test, a private CA, and the Python peers (aiosmtpd, moto).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use sealbox_actions::{Outbound, OutboundConfig};

pub fn outbound(allow_private: bool) -> Outbound {
    Outbound::new(OutboundConfig {
        allow_private_destinations: allow_private,
        ..OutboundConfig::default()
    })
    .unwrap()
}

pub fn outbound_with(config: OutboundConfig) -> Outbound {
    Outbound::new(config).unwrap()
}

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

/// Whether tests must not skip (CI runs them all).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A python3 that can import `module`. Missing under CI=true fails the test; elsewhere the test
/// is skipped with the reason printed.
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
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `python args...`; the process prints `READY <port>` on stdout once it listens. Its
/// standard error goes to the test's unless `quiet` (moto logs every request there).
pub fn start_peer(
    python: &str,
    args: &[&str],
    env: &[(&str, &str)],
    dir: Option<tempfile::TempDir>,
    quiet: bool,
) -> Peer {
    let mut command = Command::new(python);
    let stderr = if quiet { Stdio::null() } else { Stdio::inherit() };
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if let Some(port) = line.trim().strip_prefix("READY ") {
                        let _ = tx.send(port.parse::<u16>().unwrap());
                    }
                }
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
    Peer { child, port, _dir: dir }
}

pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}
