//! [`OidcIssuer`]: a local OpenID Connect issuer for the JWT federation tests: its discovery document
//! (`/.well-known/openid-configuration`) and JWKS (`/jwks`) over HTTPS on 127.0.0.1 with a
//! certificate of the test CA, RS256, ES256 and EdDSA signing keys it can rotate (new `kid`s, the
//! old keys gone from the JWKS), and tokens minted with any header and claims. It counts the
//! requests for its JWKS, so a test can see how often the server fetched the keys.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::Pki;

/// One signing key: its `kid`, private key and public forms.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Jwk,
    /// The public key as PEM (`PUBLIC KEY`).
    pub public_pem: String,
}

impl SigningKey {
    pub fn generate(alg: Algorithm, kid: &str) -> SigningKey {
        let (encoding, public_pem) = match alg {
            Algorithm::RS256 => {
                let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
                let der = key.to_pkcs1_der().unwrap();
                let public = key.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
                (EncodingKey::from_rsa_der(der.as_bytes()), public)
            }
            Algorithm::ES256 => {
                let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
                (EncodingKey::from_ec_der(&key.serialize_der()), key.public_key_pem())
            }
            Algorithm::EdDSA => {
                let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
                (EncodingKey::from_ed_der(&key.serialize_der()), key.public_key_pem())
            }
            other => panic!("the test issuer signs with RS256, ES256 or EdDSA, not {other:?}"),
        };
        let mut jwk = match alg {
            // jsonwebtoken derives an Ed25519 JWK only from a PKCS#8 v1 key; ring writes v2.
            Algorithm::EdDSA => ed_jwk(&public_pem),
            _ => Jwk::from_encoding_key(&encoding, alg).unwrap(),
        };
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        SigningKey {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
            public_pem,
        }
    }

    /// A JWT with this key's `alg` and `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

struct State {
    url: String,
    keys: Mutex<Vec<SigningKey>>,
    generation: AtomicUsize,
    jwks_requests: AtomicUsize,
    stop: AtomicBool,
}

/// The issuer, stopped on drop.
pub struct OidcIssuer {
    /// `https://127.0.0.1:PORT`, also its `iss`.
    pub url: String,
    state: Arc<State>,
    port: u16,
}

impl OidcIssuer {
    /// Starts on 127.0.0.1 with a certificate of `pki` and one RS256, one ES256 and one EdDSA key.
    pub fn start(pki: &Pki) -> OidcIssuer {
        let cert = pki.server(&["127.0.0.1", "localhost"]);
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("https://127.0.0.1:{port}");
        let state = Arc::new(State {
            url: url.clone(),
            keys: Mutex::new(Vec::new()),
            generation: AtomicUsize::new(0),
            jwks_requests: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let issuer = OidcIssuer { url, state, port };
        issuer.rotate();
        let state = issuer.state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (state, config) = (state.clone(), config.clone());
                std::thread::spawn(move || serve(stream, &state, config));
            }
        });
        issuer
    }

    /// Replaces every key by new ones with new `kid`s: tokens signed before no longer verify
    /// against the JWKS it serves.
    pub fn rotate(&self) {
        let generation = self.state.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let keys = vec![
            SigningKey::generate(Algorithm::RS256, &format!("rsa-{generation}")),
            SigningKey::generate(Algorithm::ES256, &format!("ec-{generation}")),
            SigningKey::generate(Algorithm::EdDSA, &format!("ed-{generation}")),
        ];
        *self.state.keys.lock().unwrap() = keys;
    }

    /// The current key for `alg` (RS256, ES256 or EdDSA).
    pub fn key(&self, alg: Algorithm) -> SigningKey {
        self.state
            .keys
            .lock()
            .unwrap()
            .iter()
            .find(|k| k.alg == alg)
            .cloned()
            .unwrap()
    }

    /// The JWKS it serves now.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.state.keys.lock().unwrap().iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    /// Claims of a token valid for five minutes from now: `iss` (this issuer), `aud`, `sub`,
    /// `iat`, `nbf`, `exp`; change any of them with [`Value`]'s indexing.
    pub fn claims(&self, audience: &str, subject: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        })
    }

    /// A token signed with the current key for `alg`.
    pub fn mint(&self, alg: Algorithm, claims: &Value) -> String {
        self.key(alg).sign(claims)
    }

    /// How many times its JWKS was fetched.
    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// An Ed25519 public key (PEM, SubjectPublicKeyInfo) as an OKP JWK.
fn ed_jwk(public_pem: &str) -> Jwk {
    let der = rustls::pki_types::SubjectPublicKeyInfoDer::from_pem_slice(public_pem.as_bytes()).unwrap();
    // The SPKI of an Ed25519 key is a 12-byte header and the 32-byte key.
    let raw = &der.as_ref()[der.as_ref().len() - 32..];
    use base64::Engine as _;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "x": x})).unwrap()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn serve(stream: TcpStream, state: &State, config: Arc<rustls::ServerConfig>) {
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut reader = BufReader::new(&mut tls);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let (status, body) = match path.as_str() {
        "/.well-known/openid-configuration" => (
            "200 OK",
            json!({
                "issuer": state.url,
                "jwks_uri": format!("{}/jwks", state.url),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            })
            .to_string(),
        ),
        "/jwks" => {
            state.jwks_requests.fetch_add(1, Ordering::SeqCst);
            let keys: Vec<Jwk> = state.keys.lock().unwrap().iter().map(|k| k.jwk.clone()).collect();
            ("200 OK", serde_json::to_string(&JwkSet { keys }).unwrap())
        }
        _ => ("404 Not Found", "{}".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(response.as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}
