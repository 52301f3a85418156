//! Single sign-on's side of the network: the OpenID Connect relying party, with the
//! `openidconnect` crate (discovery, the authorization request with PKCE, `state` and `nonce`,
//! the code exchange, and the ID token's verification: signature from the provider's JWKS,
//! `iss`, `aud`, `exp`, `nonce`). No token is verified by hand here.
//!
//! Core decides who the verified claims sign in (`sealbox_core::Sealbox::sso_complete`); this
//! module only talks to the provider. The discovery document and JWKS are fetched when first
//! needed (the server starts while the provider is down), kept an hour, and fetched again when
//! an ID token's signature does not verify with the keys kept (the provider rotated its keys),
//! at most once a minute.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
};
use sealbox_core::{SsoBegun, SsoClaims, SsoPending, SsoProviderRefusal};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How long the discovery document and keys are kept.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches forced by an unknown key.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
/// Time limit for each request to the provider.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// `sealbox server`'s single sign-on settings (`--oidc-*`).
#[derive(Clone)]
pub struct OidcConfig {
    /// The provider's issuer URL: `https://...`, or `http://` on a loopback address only.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where the provider sends people back: this server's `/sso/callback`, as registered with
    /// the provider.
    pub redirect_url: String,
    /// The ID token claim that lists a person's groups.
    pub groups_claim: String,
    /// Scopes asked for besides `openid` (`email` at least, for the e-mail claims).
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_url", &self.redirect_url)
            .field("groups_claim", &self.groups_claim)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Every claim of the ID token beyond the standard ones, to read the groups claim by its name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party: one per server.
pub struct Oidc {
    config: OidcConfig,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(Instant, Arc<CoreProviderMetadata>)>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    /// Checks the settings (a bad one stops the start with the flag named) and sets up the HTTP
    /// client: redirects not followed, the public roots plus `--extra-ca-file`.
    pub fn new(config: OidcConfig, extra_ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let issuer_url = url::Url::parse(&config.issuer).map_err(|_| {
            anyhow::anyhow!(
                "--oidc-issuer {:?}: expected a URL like https://id.example.com",
                config.issuer
            )
        })?;
        let loopback_http = issuer_url.scheme() == "http"
            && match issuer_url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
        if issuer_url.scheme() != "https" && !loopback_http {
            anyhow::bail!(
                "--oidc-issuer {:?}: must be https:// (plain http only for a provider on this machine's loopback address)",
                config.issuer
            );
        }
        let issuer = IssuerUrl::new(config.issuer.trim_end_matches('/').to_owned())
            .with_context(|| format!("--oidc-issuer {:?}", config.issuer))?;
        let redirect = RedirectUrl::new(config.redirect_url.clone()).map_err(|_| {
            anyhow::anyhow!(
                "--oidc-redirect-url {:?}: expected this server's address followed by /sso/callback",
                config.redirect_url
            )
        })?;
        if !config.redirect_url.ends_with("/sso/callback") {
            anyhow::bail!(
                "--oidc-redirect-url {:?}: must end with /sso/callback (the page that finishes the sign-in)",
                config.redirect_url
            );
        }
        if config.client_id.trim().is_empty() {
            anyhow::bail!("--oidc-client-id: must not be empty");
        }
        let mut http = reqwest::Client::builder()
            // Following redirects would let the provider's answers send the server elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT);
        if let Some(path) = extra_ca_file {
            let pem =
                std::fs::read(path).with_context(|| format!("--extra-ca-file: cannot read {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("--extra-ca-file {}: not PEM certificates", path.display()))?;
            for cert in certs {
                http = http.add_root_certificate(cert);
            }
        }
        let http = http.build().context("cannot set up the single sign-on HTTP client")?;
        Ok(Self {
            config,
            issuer,
            redirect,
            http,
            metadata: tokio::sync::Mutex::new(None),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The provider's discovery document and keys: kept ones, or fetched (`refresh`: fetched
    /// again unless that happened within the last minute).
    async fn metadata(&self, refresh: bool) -> Result<Arc<CoreProviderMetadata>, String> {
        let mut kept = self.metadata.lock().await;
        if let Some((at, metadata)) = kept.as_ref() {
            let age = at.elapsed();
            if age < METADATA_TTL && (!refresh || age < REFRESH_AT_MOST_EVERY) {
                return Ok(metadata.clone());
            }
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| format!("discovery at {} failed: {}", self.config.issuer, error_chain(&e)))?;
        let metadata = Arc::new(metadata);
        *kept = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(&self, metadata: &CoreProviderMetadata) -> OidcClient {
        OidcClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            // EXPOSE: the client secret authenticates the code exchange to the provider.
            Some(ClientSecret::new(self.config.client_secret.expose_secret().to_owned())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Where to send the person: the provider's authorization endpoint with the Authorization
    /// Code flow, PKCE (S256), and the `state` and `nonce` core gave.
    pub async fn authorize_url(&self, begun: &SsoBegun) -> Result<url::Url, String> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        // EXPOSE: the verifier only becomes its S256 challenge, which the URL carries.
        let verifier = PkceCodeVerifier::new(begun.pkce_verifier.expose_secret().to_owned());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        // EXPOSE: the state and nonce go to the provider in the authorization request, as OIDC requires.
        let (state, nonce) = (
            begun.state.expose_secret().to_owned(),
            begun.nonce.expose_secret().to_owned(),
        );
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        Ok(url)
    }

    /// Exchanges the code (with the PKCE verifier and the client secret) and verifies the ID
    /// token against the nonce; the refusal's reason is for the audit log, the detail is logged.
    pub async fn finish(&self, code: &str, pending: &SsoPending) -> Result<SsoClaims, SsoProviderRefusal> {
        let refuse = |reason: &'static str, detail: String| {
            tracing::warn!(reason, detail = %detail, "single sign-on refused");
            SsoProviderRefusal { reason }
        };
        let metadata = self
            .metadata(false)
            .await
            .map_err(|e| refuse("provider_unreachable", e))?;
        let client = self.client(&metadata);
        // EXPOSE: the verifier goes to the provider's token endpoint, which checks it against the challenge.
        let verifier = PkceCodeVerifier::new(pending.pkce_verifier.expose_secret().to_owned());
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| refuse("code_exchange_failed", error_chain(&e)))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            // Only the top line: a parse error's sources could quote the provider's answer.
            .map_err(|e| refuse("code_exchange_failed", e.to_string()))?;
        let id_token = openidconnect::TokenResponse::id_token(&response)
            .ok_or_else(|| refuse("id_token_missing", "the token response holds no ID token".into()))?;
        // EXPOSE: compared with the token's nonce claim.
        let nonce = Nonce::new(pending.nonce.expose_secret().to_owned());
        let algs = [
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ];
        let verified = {
            let verifier = client.id_token_verifier().set_allowed_algs(algs.clone());
            id_token.claims(&verifier, &nonce).cloned()
        };
        let claims = match verified {
            Ok(claims) => claims,
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(first)) => {
                // Perhaps the provider rotated its keys: fetch them again (rate limited) and retry.
                let metadata = self
                    .metadata(true)
                    .await
                    .map_err(|e| refuse("provider_unreachable", e))?;
                let client = self.client(&metadata);
                let verifier = client.id_token_verifier().set_allowed_algs(algs);
                id_token
                    .claims(&verifier, &nonce)
                    .cloned()
                    .map_err(|e| refuse("id_token_invalid", format!("{} (first: {first})", error_chain(&e))))?
            }
            Err(e) => return Err(refuse("id_token_invalid", error_chain(&e))),
        };
        let groups = match claims.additional_claims().claims.get(&self.config.groups_claim) {
            Some(serde_json::Value::Array(values)) => {
                values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(SsoClaims {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified(),
            groups,
        })
    }
}

/// An error and its sources on one line, for the log (never a token: the crate's errors name
/// what failed, and a token endpoint's error body is the provider's error code).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str) -> OidcConfig {
        OidcConfig {
            issuer: issuer.into(),
            client_id: "sealbox".into(),
            client_secret: SecretString::from("very-secret-client-value".to_owned()),
            redirect_url: "https://sealbox.example.com/sso/callback".into(),
            groups_claim: "groups".into(),
            scopes: vec!["email".into()],
        }
    }

    #[test]
    fn the_client_secret_never_shows_in_debug() {
        let shown = format!("{:?}", config("https://id.example.com"));
        assert!(!shown.contains("very-secret-client-value"), "{shown}");
        assert!(shown.contains("[redacted]"));
        let oidc = Oidc::new(config("https://id.example.com"), None).unwrap();
        assert!(!format!("{oidc:?}").contains("very-secret-client-value"));
    }

    #[test]
    fn plain_http_issuers_are_taken_only_on_loopback() {
        for ok in [
            "https://id.example.com",
            "http://127.0.0.1:5556",
            "http://[::1]:5556/dex",
            "http://localhost:8080",
        ] {
            assert!(Oidc::new(config(ok), None).is_ok(), "{ok}");
        }
        for bad in [
            "http://id.example.com",
            "ftp://127.0.0.1",
            "not a url",
            "http://10.0.0.1",
        ] {
            let e = Oidc::new(config(bad), None).unwrap_err().to_string();
            assert!(e.contains("--oidc-issuer"), "{bad}: {e}");
        }
        let mut wrong = config("https://id.example.com");
        wrong.redirect_url = "https://sealbox.example.com/elsewhere".into();
        assert!(
            Oidc::new(wrong, None)
                .unwrap_err()
                .to_string()
                .contains("/sso/callback")
        );
    }
}
