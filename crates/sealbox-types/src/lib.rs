//! Wire types shared by the server and the SDK: request and response bodies and the stable error codes.
//!
//! Everything here is plain data. Validation happens in `sealbox-core`; these types only describe shapes.
//! Timestamps are RFC 3339 strings in UTC.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod codes;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// The one error shape every failing request gets: `{"error": {"code", "message", "request_id"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// A stable, dotted code such as `secret.name_invalid`; see [`codes`].
    pub code: String,
    /// What was wrong and what to do, safe to show to the caller.
    pub message: String,
    pub request_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SecretType {
    Text,
    Smtp,
    AwsSqs,
    Database,
    SshKey,
}

impl SecretType {
    pub const ALL: [SecretType; 5] = [
        SecretType::Text,
        SecretType::Smtp,
        SecretType::AwsSqs,
        SecretType::Database,
        SecretType::SshKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretType::Text => "text",
            SecretType::Smtp => "smtp",
            SecretType::AwsSqs => "aws_sqs",
            SecretType::Database => "database",
            SecretType::SshKey => "ssh_key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Shown as dots; a member may reveal it, and every reveal is audited.
    #[default]
    Masked,
    /// No person can ever read the value back; it can only be replaced or used.
    Restricted,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Masked => "masked",
            Visibility::Restricted => "restricted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "masked" => Some(Visibility::Masked),
            "restricted" => Some(Visibility::Restricted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Editor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            _ => None,
        }
    }
}

/// `POST /v1/secrets`.
///
/// `value` is a JSON string for `text`, and a JSON object of the type's fields for the
/// structured types (the `SecretValue` schema lists them).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSecretRequest {
    pub name: String,
    #[serde(rename = "type")]
    pub secret_type: SecretType,
    pub value: Value,
    #[serde(default)]
    pub visibility: Option<Visibility>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
}

/// `PATCH /v1/secrets/{name}`. Every field is optional; a new `value` makes a new version.
///
/// `name`, `type` and `visibility` are accepted only so that an attempt to change them gets a clear
/// error: they are fixed at creation.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateSecretRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Refuse the update with `secret.version_conflict` unless the current version is this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<SecretType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// A secret's details: everything but the value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SecretDetails {
    pub name: String,
    #[serde(rename = "type")]
    pub secret_type: SecretType,
    pub visibility: Visibility,
    pub description: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Value,
    pub tags: BTreeMap<String, String>,
    /// The non-sensitive fields of a structured value (SMTP host, port, username, from; SQS region
    /// and queue URL). Empty for `text`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: Value,
    /// The current version.
    pub version: u64,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
    /// When an identity or an action last read or used the value, to the minute: a use by the
    /// same reader within a minute of the recorded one is not recorded again.
    pub last_used_at: Option<String>,
    pub last_used_by: Option<String>,
    /// Set while the secret is in the trash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// When a trashed secret will be purged for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_after: Option<String>,
}

/// The query of `GET /v1/secrets`, as the caller sent it: `?prefix=P&type=T&tag=K=V&tag=K2=V2`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SecretListQuery {
    /// Only secrets whose name starts with this, case-sensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Only secrets of this type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
    /// KEY=VALUE; repeat for more
    #[serde(default, rename = "tag", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SecretList {
    pub secrets: Vec<SecretDetails>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SecretVersionInfo {
    pub version: u64,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SecretVersionList {
    pub name: String,
    pub current_version: u64,
    pub versions: Vec<SecretVersionInfo>,
}

/// `POST /v1/secrets/{name}/reveal`. Without `version`, the current one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    #[serde(default)]
    pub version: Option<u64>,
}

/// A revealed value. Deliberately no `Debug`: it holds a secret.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RevealResponse {
    pub name: String,
    #[serde(rename = "type")]
    pub secret_type: SecretType,
    pub version: u64,
    pub value: Value,
}

/// `POST /v1/secrets/{name}/rollback`: writes a new version holding version `to`'s value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub to: u64,
    #[serde(default)]
    pub expected_version: Option<u64>,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Which workspace to sign in to; `default` when absent.
    #[serde(default)]
    pub workspace: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginResponse {
    /// A session token (`sbx_...`); send it as `Authorization: Bearer ...`.
    pub token: String,
    pub expires_at: String,
    pub workspace: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WhoAmI {
    pub workspace: String,
    /// `member` (identities come later).
    pub kind: String,
    pub name: String,
    pub role: Option<Role>,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceRequest {
    pub name: String,
}

/// The new workspace, with a personal access token of the caller, who is its first owner.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateWorkspaceResponse {
    pub workspace: String,
    pub token: String,
}

/// `GET /v1/auth/sso`: whether this server offers single sign-on (OpenID Connect).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SsoInfo {
    pub enabled: bool,
    /// The provider's issuer URL, when enabled.
    pub issuer: Option<String>,
}

/// `POST /v1/auth/sso/token`: what `sealbox login --sso` sends back after the browser handed it
/// a one-time code on its loopback address.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SsoTokenRequest {
    /// The one-time code from the loopback redirect (valid for a minute, once).
    pub code: String,
    /// The verifier whose SHA-256 (base64url, no padding) the terminal sent as `cli_challenge`
    /// when it began.
    pub verifier: String,
}

/// What a person who signs in with single sign-on and is not a member yet becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CreateMembers {
    /// Refused: only members sign in (the default).
    Off,
    Editor,
    Admin,
}

impl CreateMembers {
    pub fn as_str(self) -> &'static str {
        match self {
            CreateMembers::Off => "off",
            CreateMembers::Editor => "editor",
            CreateMembers::Admin => "admin",
        }
    }

    pub fn role(self) -> Option<Role> {
        match self {
            CreateMembers::Off => None,
            CreateMembers::Editor => Some(Role::Editor),
            CreateMembers::Admin => Some(Role::Admin),
        }
    }
}

/// `GET` and `PATCH /v1/workspace/sso`: a workspace's single sign-on rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SsoSettings {
    /// Members may sign in with a password (owners keep a break-glass path: README
    /// "Single sign-on").
    pub password_sign_in: bool,
    /// What a verified e-mail that is not a member becomes at its first single sign-on.
    pub create_members: CreateMembers,
    /// A value of the provider's groups claim to the role it gives; the highest matching role
    /// wins, at every single sign-on.
    pub group_roles: BTreeMap<String, Role>,
    /// Whether this server is configured for single sign-on (`--oidc-issuer`).
    pub sso_configured: bool,
}

/// `PATCH /v1/workspace/sso`: the fields given are changed, the others kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateSsoSettingsRequest {
    /// Turning it off needs an owner and a server configured for single sign-on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_sign_in: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_members: Option<CreateMembers>,
    /// Replaces the whole mapping (`{}` removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_roles: Option<BTreeMap<String, Role>>,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub email: String,
    pub role: Role,
    /// The new member's password; generated (and returned once) when absent.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MemberInfo {
    pub email: String,
    pub role: Role,
    pub created_at: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddMemberResponse {
    pub member: MemberInfo,
    /// Present only when the server generated the password; shown this once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MemberList {
    pub members: Vec<MemberInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    /// Lifetime in seconds; the token never expires when absent.
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    /// The token's first 8 characters after `sbx_`, to match a leaked token to its row (it does
    /// not help to guess the rest); `null` for tokens made before prefixes were kept.
    #[serde(default)]
    pub prefix: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    /// `active`, `expiring` (within 7 days) or `expired`, as of the answer.
    #[serde(default)]
    pub state: TokenState,
}

/// Where a token stands in its lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    #[default]
    Active,
    /// Expires within 7 days.
    Expiring,
    Expired,
}

impl TokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Expiring => "expiring",
            TokenState::Expired => "expired",
        }
    }
}

/// `GET /v1/workspace/settings`: the caller's workspace's token lifetimes, in seconds, for
/// personal access tokens and identity tokens (exchanged ones included). `null`: no default (a
/// token never expires unless asked to) / no maximum.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkspaceSettings {
    pub workspace: String,
    pub default_token_ttl_seconds: Option<u64>,
    pub max_token_ttl_seconds: Option<u64>,
    /// When and by whom they were last changed; `null` when never.
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
}

/// `PATCH /v1/workspace/settings`: a field left out stays as it is; `null` removes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspaceSettingsRequest {
    /// Lifetime of a token created without one (60 s to 10 years, at most the maximum).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub default_token_ttl_seconds: Option<Option<u64>>,
    /// The longest lifetime a token may be given (60 s to 10 years); no expiry is then refused.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub max_token_ttl_seconds: Option<Option<u64>>,
}

/// A field that is present (`Some`), with its value or `null` (`Some(None)`); absent is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

/// `POST /v1/identities/{name}/federations`: the identity trusts JWTs of `issuer` for `audience`
/// whose claims match.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateFederationRequest {
    /// The issuer (`iss`) exactly as its tokens carry it, e.g.
    /// `https://token.actions.githubusercontent.com`. Without `static_keys`, an `https` URL whose
    /// `/.well-known/openid-configuration` names its JWKS.
    pub issuer: String,
    /// The audience (`aud`) the tokens must carry.
    pub audience: String,
    /// Claims the token must carry as strings: each value exact, or a glob where `*` matches any
    /// run of characters (`repo:acme/*:ref:refs/heads/main`).
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    /// Lifetime of an exchanged token (60 s to 10 years; one hour when absent), never above the
    /// workspace's maximum.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// The issuer's public keys, a JWKS (JSON) or PEM public keys, for an issuer the server cannot
    /// reach; its discovery document is then never fetched.
    #[serde(default)]
    pub static_keys: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FederationInfo {
    pub id: String,
    pub identity: String,
    pub issuer: String,
    pub audience: String,
    pub claims: BTreeMap<String, String>,
    /// Lifetime of an exchanged token in seconds, as the trust asks (an exchange caps it at the
    /// workspace's maximum).
    pub ttl_seconds: u64,
    /// `discovery` (fetched from the issuer) or `static` (given with the trust).
    pub keys: String,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FederationList {
    pub federations: Vec<FederationInfo>,
}

/// `POST /v1/auth/jwt`: exchange a platform's JWT for a short-lived token of `identity`. No
/// `Debug`: it holds the JWT.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JwtExchangeRequest {
    pub workspace: String,
    pub identity: String,
    /// The platform's token (a JWS in compact form).
    pub jwt: String,
}

/// The exchanged token, shown this once. No `Debug`: it holds the token.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JwtExchangeResponse {
    /// An identity token (`sbx_...`); send it as `Authorization: Bearer ...`.
    pub token: String,
    pub expires_at: String,
    pub workspace: String,
    pub identity: String,
}

/// Revokes a token by its value (`POST /v1/tokens/revoke`), e.g. one that leaked: the token goes
/// in the body, never in a URL, so it is not logged.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenRequest {
    /// The token itself, `sbx_...`.
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// A token, shown this once; only its hash is stored.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedToken {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEvent {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    pub request_id: String,
    pub client_addr: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: Value,
    /// The event's chain hash (hex): HMAC over the previous event's hash, `seq` and the fields.
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditList {
    pub events: Vec<AuditEvent>,
    /// True when more events match than were returned: page on with `before` (newest first) or
    /// `after` (oldest first) from the last `seq` here.
    #[serde(default)]
    pub more: bool,
}

/// The query of `GET /v1/audit`, as the caller sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// An RFC 3339 time, or a time back from now such as `30m`, `1h`, `7d` or `2w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// As `since`; only events before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// e.g. `secret:API_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Only events after this sequence number (to page on, oldest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// Only events before this sequence number (to page back, newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// `oldest` (default) or `newest` first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<AuditOrder>,
    /// 1-1000, default 100. `more` in the answer says whether more events match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// The order of `GET /v1/audit`: `oldest` first (the default) or `newest` first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuditOrder {
    #[default]
    Oldest,
    Newest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditVerifyResponse {
    /// True when every event's hash and link to its predecessor check out.
    pub ok: bool,
    pub events_checked: u64,
    /// The first event that does not verify (or the sequence number where one is missing).
    pub first_bad_seq: Option<u64>,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Health {
    /// `ok`, or `sealed` while the server waits to be unsealed (it answers, but serves nothing).
    pub status: String,
    pub version: String,
    pub sealed: bool,
}

/// `GET /v1/sys/seal-status`, and the answer of `POST /v1/sys/init` and `POST /v1/sys/unseal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SealStatus {
    pub sealed: bool,
    /// The key source (`--seal`): `file`, `passphrase`, `shamir`, `awskms` or `pkcs11`.
    pub seal: String,
    /// False until `sealbox operator init` set up a passphrase or Shamir source on a new database.
    pub initialized: bool,
    /// Shamir: shares given so far towards `threshold` (0 otherwise).
    pub progress: u8,
    /// Shamir: shares needed to unseal (0 otherwise).
    pub threshold: u8,
    /// Why an automatic source (file, AWS KMS, PKCS#11) has not unsealed the server yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /v1/sys/init`: set up a new database's passphrase or Shamir key source.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    /// `--seal shamir`: how many shares to make (2 to 255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_shares: Option<u8>,
    /// `--seal shamir`: how many of them unseal (2 to `key_shares`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_threshold: Option<u8>,
    /// `--seal passphrase`: the passphrase the root key is derived from (at least 12 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

impl std::fmt::Debug for InitRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitRequest")
            .field("key_shares", &self.key_shares)
            .field("key_threshold", &self.key_threshold)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The answer to `POST /v1/sys/init`. The shares are shown this once and kept nowhere.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InitResponse {
    /// `--seal shamir`: the key shares, one per holder; empty for a passphrase.
    pub shares: Vec<String>,
    pub status: SealStatus,
}

impl std::fmt::Debug for InitResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitResponse")
            .field("shares", &self.shares.len())
            .field("status", &self.status)
            .finish()
    }
}

/// `POST /v1/sys/unseal`: one Shamir share, or the passphrase; nothing for a source that
/// unseals by itself (file, AWS KMS, PKCS#11: it is asked again).
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UnsealRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// Forget the shares given so far.
    #[serde(default)]
    pub reset: bool,
}

impl std::fmt::Debug for UnsealRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsealRequest")
            .field("share", &self.share.as_ref().map(|_| "[redacted]"))
            .field("passphrase", &self.passphrase.as_ref().map(|_| "[redacted]"))
            .field("reset", &self.reset)
            .finish()
    }
}

/// `POST /v1/sys/rotate` and `GET /v1/sys/rotate`: the keyring's active version and how far the
/// data keys are from being all wrapped by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RotationStatus {
    /// The keyring version new data keys are wrapped with.
    pub active_version: u32,
    /// Stored data keys (one per secret version).
    pub total: u64,
    /// Data keys wrapped by the active version.
    pub done: u64,
    /// Data keys still to rewrap (`total - done`); 0 when the rotation is complete.
    pub remaining: u64,
    /// Data keys rewrapped per second by this server since its rewrapping started (0 when idle).
    pub rate_per_second: f64,
    /// Seconds left at that rate; absent when nothing remains or the rate is not known yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<u64>,
}

/// `GET /v1/sys/ready` when the server can serve requests: each check is `ok`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    /// The database answered.
    pub database: String,
    /// Every migration this version needs is applied.
    pub migrations: String,
    /// The root key and the keys derived from it are loaded.
    pub keys: String,
}

/// `POST /v1/identities`: a non-human principal (a script, agent, build or service).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityRequest {
    pub name: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `PATCH /v1/identities/{name}`: replaces the identity's tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateIdentityRequest {
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IdentityInfo {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// The identity's own (non-secret) environment variables, laid over its secrets.
    pub env: BTreeMap<String, String>,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IdentityList {
    pub identities: Vec<IdentityInfo>,
}

/// `PUT /v1/identities/{name}/env/{key}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetEnvRequest {
    pub value: String,
}

/// What a policy lets its identities do with its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicyAccess {
    /// Receive the value (environment, templates, `sealbox run`).
    Read,
    /// Drive server-side actions with the secret without ever receiving it.
    Use,
}

/// `POST /v1/policies`. Identities are chosen by name and/or by tags (every listed tag must
/// match); secrets by tags (every listed tag must match).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePolicyRequest {
    pub name: String,
    #[serde(default)]
    pub identities: Vec<String>,
    #[serde(default)]
    pub identity_tags: BTreeMap<String, String>,
    #[serde(default)]
    pub secret_tags: BTreeMap<String, String>,
    pub allow: Vec<PolicyAccess>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PolicyInfo {
    pub name: String,
    pub identities: Vec<String>,
    pub identity_tags: BTreeMap<String, String>,
    pub secret_tags: BTreeMap<String, String>,
    pub allow: Vec<PolicyAccess>,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PolicyList {
    pub policies: Vec<PolicyInfo>,
}

/// `GET /v1/environment`: `NAME -> value` for every secret the caller may read (structured
/// values as a JSON object string), with an identity's own variables laid over them.
/// Deliberately no `Debug`: it holds values.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnvironmentResponse {
    pub variables: BTreeMap<String, String>,
    /// The names in `variables` whose value is a secret's (the rest are an identity's own,
    /// non-secret variables), sorted. Always sent; absent only from servers older than the
    /// field, whose variables a client must then treat as all secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<String>>,
}

/// `POST /v1/render`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    /// Text with `{secrets.NAME}` and `{secrets.NAME.field}` references; `{{` and `}}` for braces.
    pub template: String,
}

/// The rendered text. Deliberately no `Debug`: it holds values.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RenderResponse {
    pub rendered: String,
}

/// `POST /v1/import`: creates or updates `text` secrets from `NAME -> value` pairs. The server
/// compares with the stored values itself, and only where the caller may reveal them (masked
/// values); a restricted secret is never compared: it is reported `changed` (and `not_compared`)
/// and an import writes its value as a new version. Every import, dry run included, is audited
/// as one `secret.import` event.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub secrets: BTreeMap<String, String>,
    /// Only report what would happen.
    #[serde(default)]
    pub dry_run: bool,
    /// Tags for the secrets this import creates (so policies reach them); secrets that exist
    /// already keep their tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportResponse {
    pub created: Vec<String>,
    /// Values that differ from the stored ones, and restricted secrets (never compared).
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    /// The secrets in `changed` whose stored value was not compared with the given one because
    /// nobody may read it back (restricted): an import replaces it as a new version.
    #[serde(default)]
    pub not_compared: Vec<String>,
    pub dry_run: bool,
}

// ---- actions ----

/// What an action does: an HTTP call, an e-mail through an `smtp` secret, or an SQS message
/// through an `aws_sqs` secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Http,
    Email,
    Sqs,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Email => "email",
            Self::Sqs => "sqs",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "http" => Some(Self::Http),
            "email" => Some(Self::Email),
            "sqs" => Some(Self::Sqs),
            _ => None,
        }
    }
}

/// An action's definition: `kind` and that kind's fields. Text fields may hold
/// `{secrets.NAME}`, `{secrets.NAME.field}` and `{input.KEY}` references (`{{` / `}}` for
/// literal braces); references, never values, are stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionDefinition {
    Http(HttpActionSpec),
    Email(EmailActionSpec),
    Sqs(SqsActionSpec),
}

impl ActionDefinition {
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::Http(_) => ActionKind::Http,
            Self::Email(_) => ActionKind::Email,
            Self::Sqs(_) => ActionKind::Sqs,
        }
    }
}

/// The schema by hand: each kind's fields (no others, as serde refuses unknown fields) plus its
/// `kind`. The derived one would put `kind` beside objects that allow no other property.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ActionDefinition {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
        fn with_kind(kind: &str, fields: RefOr<Schema>) -> RefOr<Schema> {
            let mut object = match fields {
                RefOr::T(Schema::Object(object)) => object,
                _ => ObjectBuilder::new().build(),
            };
            let tag = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind]))
                .build();
            object
                .properties
                .insert("kind".to_owned(), RefOr::T(Schema::Object(tag)));
            object.required.insert(0, "kind".to_owned());
            RefOr::T(Schema::Object(object))
        }
        OneOfBuilder::new()
            .item(with_kind("http", <HttpActionSpec as utoipa::PartialSchema>::schema()))
            .item(with_kind("email", <EmailActionSpec as utoipa::PartialSchema>::schema()))
            .item(with_kind("sqs", <SqsActionSpec as utoipa::PartialSchema>::schema()))
            .description(Some("`kind` (`http`, `email` or `sqs`) and that kind's fields"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl ToSchema for ActionDefinition {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ActionDefinition")
    }
}

/// `kind: http`. Each of `method`, `url`, every header value, every query value and `body` may
/// hold at most one secret reference. The URL's scheme and host are written out (no references).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HttpActionSpec {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD` or `OPTIONS`.
    pub method: String,
    /// `http://` or `https://` URL; `query` is appended to it.
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// `kind: email`: sent through the `smtp` secret named by `secret` (STARTTLS required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmailActionSpec {
    /// The name of an `smtp` secret (host, port, username, password, from).
    pub secret: String,
    /// The sender; the secret's `from` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    pub subject: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// `kind: sqs`: sent to the `queue_url` of the `aws_sqs` secret named by `secret`, signed with
/// AWS Signature Version 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SqsActionSpec {
    /// The name of an `aws_sqs` secret (aws_region, queue_url, access_key_id, secret_access_key).
    pub secret: String,
    pub body: String,
    /// String message attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// 0-900.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    /// For FIFO queues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
    /// For FIFO queues without content-based deduplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_deduplication_id: Option<String>,
}

/// `POST /v1/actions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateActionRequest {
    pub name: String,
    pub definition: ActionDefinition,
}

/// `PATCH /v1/actions/{name}`: replaces the definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateActionRequest {
    pub definition: ActionDefinition,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ActionInfo {
    pub name: String,
    pub kind: ActionKind,
    pub definition: ActionDefinition,
    /// The secrets the definition references, by name.
    pub secrets: Vec<String>,
    /// The `{input.KEY}` keys a run must give.
    pub inputs: Vec<String>,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ActionList {
    pub actions: Vec<ActionInfo>,
}

/// `POST /v1/actions/{name}/run`: the values of the action's `{input.KEY}` references.
/// Deliberately no `Debug`: inputs may be sensitive.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunActionRequest {
    #[serde(default)]
    pub input: BTreeMap<String, String>,
}

/// `POST /v1/actions/run`: runs a definition that is not saved.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunUnsavedActionRequest {
    pub definition: ActionDefinition,
    #[serde(default)]
    pub input: BTreeMap<String, String>,
}

/// One response header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HeaderPair {
    pub name: String,
    pub value: String,
}

/// What a run did. Every occurrence of a referenced secret's value (and of its fields, its
/// standard base64 and URL-encoded forms) in what the destination answered is `[REDACTED]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ActionRunResponse {
    /// The action's name, or `(unsaved)`.
    pub action: String,
    pub kind: ActionKind,
    /// The host the request went to.
    pub destination: String,
    /// For `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpRunResult>,
    /// For `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailRunResult>,
    /// For `sqs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs: Option<SqsRunResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HttpRunResult {
    /// The destination's status; redirects are not followed, so a 3xx comes back as it is.
    pub status: u16,
    pub headers: Vec<HeaderPair>,
    /// The response body as UTF-8 (invalid sequences replaced by U+FFFD).
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EmailRunResult {
    pub recipients: usize,
    /// The SMTP server's last reply.
    pub server_reply: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SqsRunResult {
    pub message_id: String,
    pub md5_of_body: Option<String>,
}
