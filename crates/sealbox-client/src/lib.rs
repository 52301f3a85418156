//! The Rust SDK for Sealbox: one async method per route of the HTTP API (`docs/api.md`), with the
//! bodies of `sealbox-types`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sealbox_client::ClientError> {
//! use sealbox_client::{Client, SecretListQuery};
//! let token = std::env::var("SEALBOX_TOKEN").ok().map(Into::into);
//! let client = Client::new("http://127.0.0.1:8270", token)?;
//! for secret in client.list_secrets(&SecretListQuery::default()).await?.secrets {
//!     println!("{} v{}", secret.name, secret.version);
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

pub use sealbox_types as types;
use sealbox_types::{
    AddMemberRequest, AddMemberResponse, AuditList, AuditVerifyResponse, CreateFederationRequest,
    CreateIdentityRequest, CreatePolicyRequest, CreateSecretRequest, CreateTokenRequest, CreateWorkspaceRequest,
    CreateWorkspaceResponse, CreatedToken, EnvironmentResponse, ErrorBody, FederationInfo, FederationList, Health,
    IdentityInfo, IdentityList, JwtExchangeRequest, JwtExchangeResponse, LoginRequest, LoginResponse, MemberInfo,
    MemberList, PolicyInfo, PolicyList, Readiness, RenderRequest, RenderResponse, RevealRequest, RevealResponse,
    RevokeTokenRequest, Role, RollbackRequest, SecretDetails, SecretList, SecretVersionList, SetEnvRequest,
    SetRoleRequest, SsoInfo, SsoSettings, SsoTokenRequest, TokenList, UpdateIdentityRequest, UpdateSecretRequest,
    UpdateSsoSettingsRequest, UpdateWorkspaceSettingsRequest, WhoAmI, WorkspaceSettings,
};
pub use sealbox_types::{AuditQuery, SecretListQuery};

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything a call can fail with. `Api` is the server's own error shape; the rest happen on the
/// way there or back.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request with its error shape; `code` is one of `sealbox_types::codes`.
    #[error("{message} ({code})")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    /// The server answered with an error status but without the error shape (a proxy, most likely).
    #[error("the server answered {status} without a sealbox error body (request id {request_id:?})")]
    UnexpectedStatus { status: u16, request_id: String },
    #[error("invalid server address {addr:?}: {reason}")]
    InvalidAddress { addr: String, reason: String },
    /// An argument the client cannot put on the wire, caught before sending.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("the token contains characters that cannot be sent in an HTTP header")]
    InvalidToken,
    #[error("request to the sealbox server failed")]
    Transport(#[from] reqwest::Error),
    #[error("could not decode the server's answer (status {status})")]
    Decode {
        status: u16,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The stable error code, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A connection to one Sealbox server with (optionally) one bearer token. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The server address without a trailing slash; may carry a path prefix.
    base: String,
    token: Option<SecretString>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Client {
    /// `base_url` is the server's address, e.g. `https://sealbox.example.com` or
    /// `http://127.0.0.1:8270`.
    pub fn new(base_url: &str, token: Option<SecretString>) -> Result<Client> {
        let invalid = |reason: &str| ClientError::InvalidAddress {
            addr: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not carry a query or a fragment"));
        }
        if let Some(token) = &token {
            bearer(token)?;
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("sealbox-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            // A bearer token is never carried along a redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Client {
            http,
            base: url.as_str().trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The same server with another token (e.g. the session token `login` returned).
    pub fn with_token(&self, token: Option<SecretString>) -> Result<Client> {
        if let Some(token) = &token {
            bearer(token)?;
        }
        Ok(Client {
            http: self.http.clone(),
            base: self.base.clone(),
            token,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    // ---- system and auth ----

    pub async fn health(&self) -> Result<Health> {
        self.send(self.request(Method::GET, &["sys", "health"])?).await
    }

    /// Readiness: an error (503 `store.unavailable`, `store.schema_outdated`) when not ready.
    pub async fn ready(&self) -> Result<Readiness> {
        self.send(self.request(Method::GET, &["sys", "ready"])?).await
    }

    /// Signs in; the answer holds a session token for `with_token`. Sends no token.
    pub async fn login(&self, body: &LoginRequest) -> Result<LoginResponse> {
        let url = self.url(&["auth", "login"])?;
        self.send(self.http.post(url).json(body)).await
    }

    /// Revokes the calling session token.
    pub async fn logout(&self) -> Result<()> {
        self.send_empty(self.request(Method::POST, &["auth", "logout"])?).await
    }

    pub async fn whoami(&self) -> Result<WhoAmI> {
        self.send(self.request(Method::GET, &["auth", "whoami"])?).await
    }

    pub async fn create_workspace(&self, body: &CreateWorkspaceRequest) -> Result<CreateWorkspaceResponse> {
        self.send(self.request(Method::POST, &["workspaces"])?.json(body)).await
    }

    /// Exchanges a platform's JWT for a short-lived identity token (`with_token` takes it). Sends
    /// no token.
    pub async fn exchange_jwt(&self, body: &JwtExchangeRequest) -> Result<JwtExchangeResponse> {
        let url = self.url(&["auth", "jwt"])?;
        self.send(self.http.post(url).json(body)).await
    }

    /// The caller's workspace's settings (token lifetimes).
    pub async fn workspace_settings(&self) -> Result<WorkspaceSettings> {
        self.send(self.request(Method::GET, &["workspace", "settings"])?).await
    }

    pub async fn update_workspace_settings(&self, body: &UpdateWorkspaceSettingsRequest) -> Result<WorkspaceSettings> {
        self.send(self.request(Method::PATCH, &["workspace", "settings"])?.json(body))
            .await
    }

    // ---- single sign-on ----

    /// Whether the server offers single sign-on. Sends no token.
    pub async fn sso_info(&self) -> Result<SsoInfo> {
        self.send(self.http.get(self.url(&["auth", "sso"])?)).await
    }

    /// The browser page that begins a single sign-on for a terminal waiting on `cli_redirect`
    /// (a loopback address) with the challenge of `verifier`.
    pub fn sso_start_url(&self, workspace: Option<&str>, cli_redirect: &str, verifier: &SsoVerifier) -> Result<Url> {
        let mut url = Url::parse(&format!("{}/sso/start", self.base))
            .map_err(|e| ClientError::InvalidArgument(format!("bad request URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(workspace) = workspace {
                query.append_pair("workspace", workspace);
            }
            query.append_pair("cli_redirect", cli_redirect);
            query.append_pair("cli_challenge", &verifier.challenge());
        }
        Ok(url)
    }

    /// Trades the one-time code the browser brought to the loopback address, with the verifier,
    /// for a session. Sends no token.
    pub async fn sso_token(&self, code: &str, verifier: &SsoVerifier) -> Result<LoginResponse> {
        let body = SsoTokenRequest {
            code: code.to_owned(),
            // EXPOSE: the verifier proves to the server that this terminal began the sign-in.
            verifier: verifier.0.expose_secret().to_owned(),
        };
        self.send(self.http.post(self.url(&["auth", "sso", "token"])?).json(&body))
            .await
    }

    pub async fn sso_settings(&self) -> Result<SsoSettings> {
        self.send(self.request(Method::GET, &["workspace", "sso"])?).await
    }

    pub async fn update_sso_settings(&self, body: &UpdateSsoSettingsRequest) -> Result<SsoSettings> {
        self.send(self.request(Method::PATCH, &["workspace", "sso"])?.json(body))
            .await
    }

    // ---- secrets ----

    pub async fn create_secret(&self, body: &CreateSecretRequest) -> Result<SecretDetails> {
        self.send(self.request(Method::POST, &["secrets"])?.json(body)).await
    }

    /// `tag` repeats, which a serialized struct cannot say, so the query is sent as pairs.
    pub async fn list_secrets(&self, query: &SecretListQuery) -> Result<SecretList> {
        let mut params: Vec<(&str, &str)> = Vec::new();
        if let Some(prefix) = &query.prefix {
            params.push(("prefix", prefix));
        }
        if let Some(secret_type) = &query.secret_type {
            params.push(("type", secret_type));
        }
        for tag in &query.tags {
            params.push(("tag", tag));
        }
        self.send(self.request(Method::GET, &["secrets"])?.query(&params)).await
    }

    pub async fn get_secret(&self, name: &str) -> Result<SecretDetails> {
        self.send(self.request(Method::GET, &["secrets", name])?).await
    }

    pub async fn update_secret(&self, name: &str, body: &UpdateSecretRequest) -> Result<SecretDetails> {
        self.send(self.request(Method::PATCH, &["secrets", name])?.json(body))
            .await
    }

    /// Moves the secret to the trash.
    pub async fn delete_secret(&self, name: &str) -> Result<SecretDetails> {
        self.send(self.request(Method::DELETE, &["secrets", name])?).await
    }

    pub async fn versions(&self, name: &str) -> Result<SecretVersionList> {
        self.send(self.request(Method::GET, &["secrets", name, "versions"])?)
            .await
    }

    /// The value of the current version, or of `version`. Audited by the server.
    pub async fn reveal(&self, name: &str, version: Option<u64>) -> Result<RevealResponse> {
        self.send(
            self.request(Method::POST, &["secrets", name, "reveal"])?
                .json(&RevealRequest { version }),
        )
        .await
    }

    /// Writes a new version holding version `body.to`'s value, server-side.
    pub async fn rollback(&self, name: &str, body: &RollbackRequest) -> Result<SecretDetails> {
        self.send(self.request(Method::POST, &["secrets", name, "rollback"])?.json(body))
            .await
    }

    pub async fn trash(&self) -> Result<SecretList> {
        self.send(self.request(Method::GET, &["trash"])?).await
    }

    pub async fn restore(&self, name: &str) -> Result<SecretDetails> {
        self.send(self.request(Method::POST, &["trash", name, "restore"])?)
            .await
    }

    /// Deletes a trashed secret for good.
    pub async fn purge(&self, name: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["trash", name])?).await
    }

    // ---- members ----

    pub async fn list_members(&self) -> Result<MemberList> {
        self.send(self.request(Method::GET, &["members"])?).await
    }

    pub async fn add_member(&self, body: &AddMemberRequest) -> Result<AddMemberResponse> {
        self.send(self.request(Method::POST, &["members"])?.json(body)).await
    }

    pub async fn set_member_role(&self, email: &str, role: Role) -> Result<MemberInfo> {
        self.send(
            self.request(Method::PATCH, &["members", email])?
                .json(&SetRoleRequest { role }),
        )
        .await
    }

    pub async fn remove_member(&self, email: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["members", email])?)
            .await
    }

    // ---- personal access tokens ----

    pub async fn list_tokens(&self) -> Result<TokenList> {
        self.send(self.request(Method::GET, &["tokens"])?).await
    }

    pub async fn create_token(&self, body: &CreateTokenRequest) -> Result<CreatedToken> {
        self.send(self.request(Method::POST, &["tokens"])?.json(body)).await
    }

    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["tokens", id])?).await
    }

    /// Revokes one of the caller's tokens given the token itself (sent in the body, never in the
    /// URL, so no log along the way holds it).
    pub async fn revoke_token_by_value(&self, token: &SecretString) -> Result<()> {
        // EXPOSE: the token to revoke goes into the request body only.
        let body = RevokeTokenRequest {
            token: token.expose_secret().to_owned(),
        };
        self.send_empty(self.request(Method::POST, &["tokens", "revoke"])?.json(&body))
            .await
    }

    // ---- identities (machine access) ----

    pub async fn list_identities(&self) -> Result<IdentityList> {
        self.send(self.request(Method::GET, &["identities"])?).await
    }

    pub async fn create_identity(&self, body: &CreateIdentityRequest) -> Result<IdentityInfo> {
        self.send(self.request(Method::POST, &["identities"])?.json(body)).await
    }

    pub async fn get_identity(&self, name: &str) -> Result<IdentityInfo> {
        self.send(self.request(Method::GET, &["identities", name])?).await
    }

    /// Replaces the identity's tags.
    pub async fn update_identity(&self, name: &str, body: &UpdateIdentityRequest) -> Result<IdentityInfo> {
        self.send(self.request(Method::PATCH, &["identities", name])?.json(body))
            .await
    }

    /// Deletes the identity with its variables and tokens.
    pub async fn delete_identity(&self, name: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["identities", name])?)
            .await
    }

    /// Sets one of the identity's own (non-secret) environment variables.
    pub async fn set_identity_env(&self, name: &str, key: &str, value: &str) -> Result<IdentityInfo> {
        self.send(
            self.request(Method::PUT, &["identities", name, "env", key])?
                .json(&SetEnvRequest {
                    value: value.to_owned(),
                }),
        )
        .await
    }

    pub async fn unset_identity_env(&self, name: &str, key: &str) -> Result<IdentityInfo> {
        self.send(self.request(Method::DELETE, &["identities", name, "env", key])?)
            .await
    }

    pub async fn list_identity_tokens(&self, name: &str) -> Result<TokenList> {
        self.send(self.request(Method::GET, &["identities", name, "tokens"])?)
            .await
    }

    /// A token for the identity; the answer holds it this once.
    pub async fn create_identity_token(&self, name: &str, body: &CreateTokenRequest) -> Result<CreatedToken> {
        self.send(self.request(Method::POST, &["identities", name, "tokens"])?.json(body))
            .await
    }

    pub async fn revoke_identity_token(&self, name: &str, id: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["identities", name, "tokens", id])?)
            .await
    }

    /// Revokes one of the identity's tokens given the token itself (in the body, not the URL).
    pub async fn revoke_identity_token_by_value(&self, name: &str, token: &SecretString) -> Result<()> {
        // EXPOSE: the token to revoke goes into the request body only.
        let body = RevokeTokenRequest {
            token: token.expose_secret().to_owned(),
        };
        self.send_empty(
            self.request(Method::POST, &["identities", name, "tokens", "revoke"])?
                .json(&body),
        )
        .await
    }

    /// The JWT issuers the identity trusts.
    pub async fn list_federations(&self, name: &str) -> Result<FederationList> {
        self.send(self.request(Method::GET, &["identities", name, "federations"])?)
            .await
    }

    pub async fn create_federation(&self, name: &str, body: &CreateFederationRequest) -> Result<FederationInfo> {
        self.send(
            self.request(Method::POST, &["identities", name, "federations"])?
                .json(body),
        )
        .await
    }

    pub async fn delete_federation(&self, name: &str, id: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["identities", name, "federations", id])?)
            .await
    }

    // ---- policies ----

    pub async fn list_policies(&self) -> Result<PolicyList> {
        self.send(self.request(Method::GET, &["policies"])?).await
    }

    pub async fn create_policy(&self, body: &CreatePolicyRequest) -> Result<PolicyInfo> {
        self.send(self.request(Method::POST, &["policies"])?.json(body)).await
    }

    pub async fn delete_policy(&self, name: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["policies", name])?)
            .await
    }

    // ---- actions ----

    pub async fn list_actions(&self) -> Result<sealbox_types::ActionList> {
        self.send(self.request(Method::GET, &["actions"])?).await
    }

    pub async fn create_action(&self, body: &sealbox_types::CreateActionRequest) -> Result<sealbox_types::ActionInfo> {
        self.send(self.request(Method::POST, &["actions"])?.json(body)).await
    }

    pub async fn get_action(&self, name: &str) -> Result<sealbox_types::ActionInfo> {
        self.send(self.request(Method::GET, &["actions", name])?).await
    }

    pub async fn update_action(
        &self,
        name: &str,
        body: &sealbox_types::UpdateActionRequest,
    ) -> Result<sealbox_types::ActionInfo> {
        self.send(self.request(Method::PATCH, &["actions", name])?.json(body))
            .await
    }

    pub async fn delete_action(&self, name: &str) -> Result<()> {
        self.send_empty(self.request(Method::DELETE, &["actions", name])?).await
    }

    /// Runs a saved action; the server sends it and returns the destination's redacted reply.
    pub async fn run_action(
        &self,
        name: &str,
        body: &sealbox_types::RunActionRequest,
    ) -> Result<sealbox_types::ActionRunResponse> {
        self.send(self.request(Method::POST, &["actions", name, "run"])?.json(body))
            .await
    }

    /// Runs a definition without saving it.
    pub async fn run_unsaved_action(
        &self,
        body: &sealbox_types::RunUnsavedActionRequest,
    ) -> Result<sealbox_types::ActionRunResponse> {
        self.send(self.request(Method::POST, &["actions", "run"])?.json(body))
            .await
    }

    // ---- the context environment ----

    /// `NAME -> value` for every secret the caller may read, with an identity's own variables
    /// laid over them. Every value handed out is audited by the server.
    pub async fn environment(&self) -> Result<EnvironmentResponse> {
        self.send(self.request(Method::GET, &["environment"])?).await
    }

    /// [`Client::environment`] for just the variables named: the server reads, audits and marks
    /// as used only those secrets, and refuses a name the caller has no variable for.
    pub async fn environment_only(&self, names: &[String]) -> Result<EnvironmentResponse> {
        let only = names.join(",");
        self.send(self.request(Method::GET, &["environment"])?.query(&[("only", only)]))
            .await
    }

    /// Creates or updates text secrets; with `dry_run`, only reports what would happen.
    pub async fn import(&self, body: &sealbox_types::ImportRequest) -> Result<sealbox_types::ImportResponse> {
        self.send(self.request(Method::POST, &["import"])?.json(body)).await
    }

    /// Renders `{secrets.NAME}` / `{secrets.NAME.field}` references server-side.
    pub async fn render(&self, body: &RenderRequest) -> Result<RenderResponse> {
        self.send(self.request(Method::POST, &["render"])?.json(body)).await
    }

    // ---- audit ----

    pub async fn audit_list(&self, query: &AuditQuery) -> Result<AuditList> {
        self.send(self.request(Method::GET, &["audit"])?.query(query)).await
    }

    pub async fn audit_verify(&self) -> Result<AuditVerifyResponse> {
        self.send(self.request(Method::GET, &["audit", "verify"])?).await
    }

    // ---- operating the server ----

    /// A backup file of the whole database (owners of the server's first workspace only).
    pub async fn backup(&self) -> Result<Vec<u8>> {
        let (_, body) = self.exchange(self.request(Method::POST, &["sys", "backup"])?).await?;
        Ok(body)
    }

    /// Starts a key rotation: a new keyring version, active at once; stored data keys are
    /// rewrapped in the background (owners of the server's first workspace only).
    pub async fn rotate(&self) -> Result<sealbox_types::RotationStatus> {
        self.send(self.request(Method::POST, &["sys", "rotate"])?).await
    }

    /// The keyring's active version and the rewrapping's progress.
    pub async fn rotation_status(&self) -> Result<sealbox_types::RotationStatus> {
        self.send(self.request(Method::GET, &["sys", "rotate"])?).await
    }

    /// Whether the server is sealed, its key source and (Shamir) the shares it holds. No token.
    pub async fn seal_status(&self) -> Result<sealbox_types::SealStatus> {
        let url = self.url(&["sys", "seal-status"])?;
        self.send(self.http.get(url)).await
    }

    /// Sets up a new database's passphrase or Shamir key source; the shares come back this once.
    pub async fn init(&self, body: &sealbox_types::InitRequest) -> Result<sealbox_types::InitResponse> {
        let url = self.url(&["sys", "init"])?;
        self.send(self.http.post(url).json(body)).await
    }

    /// One unseal step: a share, the passphrase, or nothing (a source that unseals by itself).
    pub async fn unseal(&self, body: &sealbox_types::UnsealRequest) -> Result<sealbox_types::SealStatus> {
        let url = self.url(&["sys", "unseal"])?;
        self.send(self.http.post(url).json(body)).await
    }

    /// Seals the server: it drops every key (owners of the server's first workspace only).
    pub async fn seal(&self) -> Result<()> {
        self.send_empty(self.request(Method::POST, &["sys", "seal"])?).await
    }

    // ---- plumbing ----

    /// `{base}/v1/{segments}`, each segment percent-encoded as one path segment.
    fn url(&self, segments: &[&str]) -> Result<Url> {
        let mut url = format!("{}/v1", self.base);
        for segment in segments {
            url.push('/');
            url.push_str(&encode_segment(segment)?);
        }
        Url::parse(&url).map_err(|e| ClientError::InvalidArgument(format!("bad request URL: {e}")))
    }

    fn request(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        let mut req = self.http.request(method, self.url(segments)?);
        if let Some(token) = &self.token {
            req = req.header(AUTHORIZATION, bearer(token)?);
        }
        Ok(req)
    }

    async fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T> {
        let (status, body) = self.exchange(req).await?;
        serde_json::from_slice(&body).map_err(|source| ClientError::Decode {
            status: status.as_u16(),
            source,
        })
    }

    async fn send_empty(&self, req: RequestBuilder) -> Result<()> {
        self.exchange(req).await.map(|_| ())
    }

    async fn exchange(&self, req: RequestBuilder) -> Result<(StatusCode, Vec<u8>)> {
        let resp = req.send().await?;
        let status = resp.status();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.bytes().await?.to_vec();
        if status.is_success() {
            return Ok((status, body));
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error }) => Err(ClientError::Api {
                status: status.as_u16(),
                code: error.code,
                message: error.message,
                request_id: if error.request_id.is_empty() {
                    request_id
                } else {
                    error.request_id
                },
            }),
            Err(_) => Err(ClientError::UnexpectedStatus {
                status: status.as_u16(),
                request_id,
            }),
        }
    }
}

fn bearer(token: &SecretString) -> Result<HeaderValue> {
    // EXPOSE: the token goes only into a header marked sensitive, which hides it from Debug.
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| ClientError::InvalidToken)?;
    value.set_sensitive(true);
    Ok(value)
}

/// The terminal's proof that it began a single sign-on (PKCE's verifier, RFC 7636): 32 random
/// bytes, base64url; the server is given only its SHA-256 (`challenge`) until the end.
pub struct SsoVerifier(SecretString);

impl SsoVerifier {
    pub fn generate() -> Self {
        use base64::Engine as _;
        let bytes: [u8; 32] = rand::random();
        Self(SecretString::from(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    /// `S256`: base64url(SHA-256(verifier)), no padding.
    pub fn challenge(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        // EXPOSE: hashed; the hash is what the server keeps until the verifier is shown.
        let digest = sha2::Sha256::digest(self.0.expose_secret().as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    }
}

impl fmt::Debug for SsoVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SsoVerifier([redacted])")
    }
}

/// Percent-encodes everything but unreserved characters, so `/`, `?`, `#` and `%` in a name stay
/// inside one segment. `.` and `..` cannot be sent as a segment at all (URLs normalise them away,
/// encoded or not), and neither can an empty one, so they are refused here.
fn encode_segment(segment: &str) -> Result<String> {
    if segment.is_empty() || segment == "." || segment == ".." {
        return Err(ClientError::InvalidArgument(format!(
            "{segment:?} cannot be used as a name in a request path"
        )));
    }
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::new(base, Some(SecretString::from("sbx_secret-token".to_owned()))).unwrap()
    }

    #[test]
    fn segments_are_encoded_as_one() {
        let c = client("http://127.0.0.1:8270/");
        let url = c.url(&["secrets", "../x", "reveal"]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8270/v1/secrets/..%2Fx/reveal");
        let url = c.url(&["members", "a+b@example.com"]).unwrap();
        assert_eq!(url.path(), "/v1/members/a%2Bb%40example.com");
        let url = c.url(&["secrets", "a?b#c%d é"]).unwrap();
        assert_eq!(url.path(), "/v1/secrets/a%3Fb%23c%25d%20%C3%A9");
    }

    #[test]
    fn nested_identity_paths_are_encoded() {
        let c = client("http://127.0.0.1:8270");
        let url = c.url(&["identities", "a/b", "env", "K?"]).unwrap();
        assert_eq!(url.path(), "/v1/identities/a%2Fb/env/K%3F");
        let url = c.url(&["identities", "w", "tokens", "x y"]).unwrap();
        assert_eq!(url.path(), "/v1/identities/w/tokens/x%20y");
        let url = c.url(&["policies", "p#1"]).unwrap();
        assert_eq!(url.path(), "/v1/policies/p%231");
    }

    #[test]
    fn dot_segments_and_empty_names_are_refused() {
        let c = client("http://127.0.0.1:8270");
        for bad in ["", ".", ".."] {
            assert!(matches!(c.url(&["secrets", bad]), Err(ClientError::InvalidArgument(_))));
        }
    }

    #[test]
    fn base_path_prefix_is_kept() {
        let c = client("https://example.com/sealbox/");
        assert_eq!(
            c.url(&["secrets"]).unwrap().as_str(),
            "https://example.com/sealbox/v1/secrets"
        );
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in ["127.0.0.1:8270", "ftp://x", "http://x/?a=b", "not a url"] {
            assert!(matches!(
                Client::new(bad, None),
                Err(ClientError::InvalidAddress { .. })
            ));
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let shown = format!("{:?}", client("http://127.0.0.1:8270"));
        assert!(!shown.contains("sbx_secret-token"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn api_error_display() {
        let e = ClientError::Api {
            status: 409,
            code: "secret.version_conflict".into(),
            message: "the secret is at version 3, not 2".into(),
            request_id: "r1".into(),
        };
        assert_eq!(
            e.to_string(),
            "the secret is at version 3, not 2 (secret.version_conflict)"
        );
        assert_eq!(e.code(), Some("secret.version_conflict"));
    }
}
