//! `HttpsIssuerKeys`: core's [`IssuerKeys`] port over HTTPS. An issuer's keys are its OIDC
//! discovery document (`{issuer}/.well-known/openid-configuration`, whose `issuer` must be the
//! issuer) and the JWKS at its `jwks_uri`, both `https`, trusted like the actions' senders
//! (webpki roots plus `--extra-ca-file`), without redirects, within a time limit and a size cap.
//! Core caches what this returns and decides when to ask again. Issuers are set by admins; a
//! response body never reaches a client or the log.

use std::time::Duration;

use async_trait::async_trait;
use sealbox_core::federation::IssuerKeys;

/// The largest discovery document or JWKS read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

pub struct HttpsIssuerKeys {
    http: reqwest::Client,
}

impl HttpsIssuerKeys {
    /// Trusts what `--extra-ca-file` adds to the public roots; a bad file stops start-up.
    pub fn from_config(config: &crate::Config) -> anyhow::Result<Self> {
        use anyhow::Context;
        let extra_ca_pem = match &config.extra_ca_file {
            Some(path) => {
                Some(std::fs::read(path).with_context(|| format!("--extra-ca-file: cannot read {}", path.display()))?)
            }
            None => None,
        };
        let tls = sealbox_actions::https_client_config(extra_ca_pem.as_deref())
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("cannot set up HTTPS for JWT issuers' keys (check --extra-ca-file)")?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("sealbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTPS client for JWT issuers' keys")?;
        Ok(Self { http })
    }

    async fn get(&self, url: &str) -> Result<String, String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| "not a URL".to_owned())?;
        if parsed.scheme() != "https" {
            return Err(format!("{} is not https", parsed.origin().ascii_serialization()));
        }
        let mut response = self
            .http
            .get(parsed)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {}", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading failed: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| "not UTF-8".to_owned())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl IssuerKeys for HttpsIssuerKeys {
    async fn fetch_jwks(&self, issuer: &str) -> Result<String, String> {
        let base = issuer.trim_end_matches('/');
        let discovery_url = format!("{base}/.well-known/openid-configuration");
        let text = self
            .get(&discovery_url)
            .await
            .map_err(|e| format!("discovery document: {e}"))?;
        let document: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| "the discovery document is not JSON".to_owned())?;
        let said = document.get("issuer").and_then(|v| v.as_str()).unwrap_or_default();
        if said.trim_end_matches('/') != base {
            return Err("the discovery document names another issuer".to_owned());
        }
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| "the discovery document has no jwks_uri".to_owned())?;
        self.get(jwks_uri).await.map_err(|e| format!("JWKS: {e}"))
    }
}
