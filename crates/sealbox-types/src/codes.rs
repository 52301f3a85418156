//! Stable error codes. Clients match on these; the messages beside them may change.

pub const REQUEST_INVALID: &str = "request.invalid";
pub const REQUEST_BODY_TOO_LARGE: &str = "request.body_too_large";
pub const REQUEST_NOT_FOUND: &str = "request.not_found";
pub const REQUEST_METHOD_NOT_ALLOWED: &str = "request.method_not_allowed";

pub const AUTH_MISSING_TOKEN: &str = "auth.missing_token";
pub const AUTH_INVALID_TOKEN: &str = "auth.invalid_token";
pub const AUTH_TOKEN_EXPIRED: &str = "auth.token_expired";
pub const AUTH_TOKEN_REVOKED: &str = "auth.token_revoked";
pub const AUTH_BAD_CREDENTIALS: &str = "auth.bad_credentials";
pub const AUTH_RATE_LIMITED: &str = "auth.rate_limited";
pub const AUTH_BUSY: &str = "auth.busy";
/// The workspace turned password sign-in off; sign in with single sign-on.
pub const AUTH_PASSWORD_SIGN_IN_OFF: &str = "auth.password_sign_in_off";

/// Single sign-on is not configured on this server (`--oidc-issuer`).
pub const SSO_NOT_CONFIGURED: &str = "sso.not_configured";
/// The sign-in's `state` (or the terminal's one-time code) is unknown, used or expired, or the
/// browser that came back is not the one that began.
pub const SSO_STATE_INVALID: &str = "sso.state_invalid";
/// The provider refused, or its answer did not verify (ID token signature, issuer, audience,
/// expiry, nonce).
pub const SSO_PROVIDER_REFUSED: &str = "sso.provider_refused";
/// The provider did not vouch for the e-mail (`email_verified` is not true, or no e-mail).
pub const SSO_EMAIL_UNVERIFIED: &str = "sso.email_unverified";
/// The e-mail is not a member of the workspace, which does not create members at sign-in.
pub const SSO_NOT_A_MEMBER: &str = "sso.not_a_member";
/// A `cli_redirect` that is not `http://127.0.0.1:PORT/...` (or `[::1]`), or a bad challenge.
pub const SSO_REQUEST_INVALID: &str = "sso.request_invalid";
/// The settings asked for are not allowed (e.g. password sign-in off without single sign-on).
pub const SSO_SETTINGS_INVALID: &str = "sso.settings_invalid";
pub const PERMISSION_DENIED: &str = "permission.denied";

pub const SECRET_NAME_INVALID: &str = "secret.name_invalid";
pub const SECRET_NAME_TAKEN: &str = "secret.name_taken";
pub const SECRET_NAME_IN_TRASH: &str = "secret.name_in_trash";
pub const SECRET_NAME_IMMUTABLE: &str = "secret.name_immutable";
pub const SECRET_TYPE_IMMUTABLE: &str = "secret.type_immutable";
pub const SECRET_VISIBILITY_IMMUTABLE: &str = "secret.visibility_immutable";
pub const SECRET_VALUE_INVALID: &str = "secret.value_invalid";
pub const SECRET_DESCRIPTION_INVALID: &str = "secret.description_invalid";
pub const SECRET_METADATA_INVALID: &str = "secret.metadata_invalid";
pub const SECRET_TAGS_INVALID: &str = "secret.tags_invalid";
pub const SECRET_NOT_FOUND: &str = "secret.not_found";
pub const SECRET_VERSION_NOT_FOUND: &str = "secret.version_not_found";
pub const SECRET_VERSION_CONFLICT: &str = "secret.version_conflict";
pub const SECRET_RESTRICTED: &str = "secret.restricted";
pub const SECRET_NOTHING_TO_UPDATE: &str = "secret.nothing_to_update";

pub const MEMBER_NOT_FOUND: &str = "member.not_found";
pub const MEMBER_EXISTS: &str = "member.exists";
pub const MEMBER_EMAIL_INVALID: &str = "member.email_invalid";
pub const MEMBER_PASSWORD_INVALID: &str = "member.password_invalid";
pub const MEMBER_LAST_OWNER: &str = "member.last_owner";

pub const TOKEN_NOT_FOUND: &str = "token.not_found";
pub const TOKEN_NAME_INVALID: &str = "token.name_invalid";
pub const TOKEN_TTL_INVALID: &str = "token.ttl_invalid";
/// The lifetime asked for (or no expiry) is above the workspace's maximum token lifetime.
pub const TOKEN_TTL_ABOVE_MAXIMUM: &str = "token.ttl_above_maximum";

/// `PATCH /v1/workspace/settings`: a lifetime out of range, or a default above the maximum.
pub const WORKSPACE_SETTINGS_INVALID: &str = "workspace.settings_invalid";

/// A trust (`POST /v1/identities/{name}/federations`) is invalid: issuer, audience, a claim, the
/// lifetime or the static keys; the message says which.
pub const FEDERATION_INVALID: &str = "federation.invalid";
pub const FEDERATION_NOT_FOUND: &str = "federation.not_found";

/// `POST /v1/auth/jwt` refusals. The JWT is never repeated in a message, a log line or the audit.
/// Not a JWT (three base64url parts, a JSON header and claims).
pub const AUTH_JWT_MALFORMED: &str = "auth.jwt_malformed";
/// The header's `alg` is not RS256, ES256 or EdDSA (`none` and HMAC algorithms are refused).
pub const AUTH_JWT_ALGORITHM: &str = "auth.jwt_algorithm";
/// The identity has no trust for the token's issuer (or no such identity or workspace).
pub const AUTH_JWT_ISSUER_UNTRUSTED: &str = "auth.jwt_issuer_untrusted";
/// The issuer has no key with the token's `kid` (even after fetching its keys again).
pub const AUTH_JWT_UNKNOWN_KEY: &str = "auth.jwt_unknown_key";
/// The key with the token's `kid` is not of the type its `alg` needs (e.g. an EC key for RS256).
pub const AUTH_JWT_KEY_TYPE: &str = "auth.jwt_key_type";
/// The signature does not verify with the issuer's key.
pub const AUTH_JWT_SIGNATURE: &str = "auth.jwt_signature";
/// `exp` is missing or past (beyond the clock skew).
pub const AUTH_JWT_EXPIRED: &str = "auth.jwt_expired";
/// `nbf` or `iat` is in the future (beyond the clock skew).
pub const AUTH_JWT_NOT_YET_VALID: &str = "auth.jwt_not_yet_valid";
/// `aud` does not hold the trust's audience.
pub const AUTH_JWT_AUDIENCE: &str = "auth.jwt_audience";
/// A claim the trust requires is missing, not a string, or does not match.
pub const AUTH_JWT_CLAIMS: &str = "auth.jwt_claims";
/// The issuer's keys could not be fetched (discovery document or JWKS); 424.
pub const AUTH_JWT_KEYS_UNAVAILABLE: &str = "auth.jwt_keys_unavailable";

pub const WORKSPACE_NAME_INVALID: &str = "workspace.name_invalid";
pub const WORKSPACE_EXISTS: &str = "workspace.exists";

pub const AUDIT_QUERY_INVALID: &str = "audit.query_invalid";
/// The audit event could not be recorded, so the operation that needed it was refused.
pub const AUDIT_UNAVAILABLE: &str = "audit.unavailable";

/// The database could not be reached or did not answer in time; nothing was changed, and
/// retrying later may succeed (`GET /v1/sys/ready` says when it is back).
pub const STORE_UNAVAILABLE: &str = "store.unavailable";
/// The database lacks migrations this server needs (`GET /v1/sys/ready` only).
pub const STORE_SCHEMA_OUTDATED: &str = "store.schema_outdated";

/// The server is sealed: it holds no key until `sealbox operator unseal` (503).
pub const SERVER_SEALED: &str = "server.sealed";
/// The passphrase or the Shamir shares given do not make this server's root key.
pub const SEAL_WRONG_KEY: &str = "seal.wrong_key";
/// A share, passphrase or init request that cannot be used as given (the message says why).
pub const SEAL_INPUT_INVALID: &str = "seal.input_invalid";
/// `init` on a database that already has its key, or for a source that needs none.
pub const SEAL_ALREADY_INITIALIZED: &str = "seal.already_initialized";
/// `unseal` before `init` set up the passphrase or Shamir source.
pub const SEAL_NOT_INITIALIZED: &str = "seal.not_initialized";
/// Too many unseal attempts; wait `Retry-After` seconds.
pub const SEAL_RATE_LIMITED: &str = "seal.rate_limited";
/// The key source could not be reached (AWS KMS, PKCS#11); the server retries by itself.
pub const SEAL_SOURCE_UNAVAILABLE: &str = "seal.source_unavailable";

pub const INTERNAL: &str = "internal";
pub const UNAVAILABLE: &str = "unavailable";

pub const IDENTITY_NAME_INVALID: &str = "identity.name_invalid";
pub const IDENTITY_EXISTS: &str = "identity.exists";
pub const IDENTITY_NOT_FOUND: &str = "identity.not_found";
pub const IDENTITY_TAGS_INVALID: &str = "identity.tags_invalid";
pub const IDENTITY_ENV_INVALID: &str = "identity.env_invalid";
pub const IDENTITY_ENV_NOT_FOUND: &str = "identity.env_not_found";

pub const POLICY_INVALID: &str = "policy.invalid";
pub const POLICY_EXISTS: &str = "policy.exists";
pub const POLICY_NOT_FOUND: &str = "policy.not_found";

/// A template's syntax is wrong (the message lists every problem with its line).
pub const TEMPLATE_INVALID: &str = "template.invalid";
/// A template names secrets that do not exist or that the caller may not read.
pub const TEMPLATE_REFERENCE_INVALID: &str = "template.reference_invalid";

/// `GET /v1/environment?only=` names variables the caller does not have (or none at all).
pub const ENVIRONMENT_ONLY_INVALID: &str = "environment.only_invalid";

/// An import names a secret of another type than text, or one that is restricted or in the trash.
pub const IMPORT_INVALID: &str = "import.invalid";

pub const ACTION_NAME_INVALID: &str = "action.name_invalid";
pub const ACTION_EXISTS: &str = "action.exists";
pub const ACTION_NOT_FOUND: &str = "action.not_found";
/// A definition is malformed (the message names every bad field), e.g. two secret references in
/// one http field.
pub const ACTION_DEFINITION_INVALID: &str = "action.definition_invalid";
/// A run's input is missing a key the definition uses, names an unknown key, or is too long.
pub const ACTION_INPUT_INVALID: &str = "action.input_invalid";
/// A definition references secrets that do not exist, are of the wrong type, or that the caller
/// may not use.
pub const ACTION_REFERENCE_INVALID: &str = "action.reference_invalid";
/// The server was started without a way to send (only in embedded tests).
pub const ACTION_UNAVAILABLE: &str = "action.unavailable";
// From the senders (`sealbox-actions`), passed through as they are: 422 for a request the server
// refuses to send, 424 when the destination failed.
pub const ACTION_DESTINATION_REFUSED: &str = "action.destination_refused";
pub const ACTION_REQUEST_INVALID: &str = "action.request_invalid";
pub const ACTION_TIMEOUT: &str = "action.timeout";
pub const ACTION_RESPONSE_TOO_LARGE: &str = "action.response_too_large";
pub const ACTION_CONNECT_FAILED: &str = "action.connect_failed";
pub const ACTION_TLS_FAILED: &str = "action.tls_failed";
pub const ACTION_STARTTLS_UNAVAILABLE: &str = "action.starttls_unavailable";
pub const ACTION_SMTP_REJECTED: &str = "action.smtp_rejected";
pub const ACTION_SQS_FAILED: &str = "action.sqs_failed";
pub const ACTION_CONFIG_INVALID: &str = "action.config_invalid";
