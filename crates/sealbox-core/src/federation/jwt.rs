//! Verifying a platform's JWT with the `jsonwebtoken` crate: the signature (RS256, ES256 or
//! EdDSA with a key of the matching type; `none` and HMAC algorithms refused before any key is
//! looked at), then `exp`, `nbf` and `iat` against core's clock with [`CLOCK_SKEW_SECONDS`], then
//! the trust's audience and claims. Nothing here reaches the network or keeps the token, and no
//! error repeats it.

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sealbox_types::codes;
use serde_json::{Map, Value};

use crate::error::{CoreError, CoreResult};

/// How far `exp`, `nbf` and `iat` may be off from the server's clock.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// The longest JWT taken; platform tokens are a few KiB.
const MAX_JWT_BYTES: usize = 16 * 1024;

/// What a token says before anything of it is verified: used to pick the trust and the key, and
/// for the audit of a refusal (marked unverified there).
pub(crate) struct Unverified {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
}

fn refuse(code: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::unauthenticated(code, message)
}

fn malformed() -> CoreError {
    refuse(
        codes::AUTH_JWT_MALFORMED,
        "the jwt is not a JSON Web Token (three base64url parts: header, claims, signature); give the platform's token as it was issued",
    )
}

fn json_part(part: &str) -> CoreResult<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| malformed())?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(malformed()),
    }
}

/// Reads the header and claims without verifying them; refuses what is not a JWT and every
/// algorithm but RS256, ES256 and EdDSA.
pub(crate) fn peek(jwt: &str) -> CoreResult<Unverified> {
    if jwt.len() > MAX_JWT_BYTES {
        return Err(malformed());
    }
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, _signature] = parts[..] else {
        return Err(malformed());
    };
    let header = json_part(header)?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        Some("EdDSA") => Algorithm::EdDSA,
        Some(other) => {
            let shown = if other.len() <= 16 && other.chars().all(|c| c.is_ascii_alphanumeric()) {
                other.to_owned()
            } else {
                "its".to_owned()
            };
            return Err(refuse(
                codes::AUTH_JWT_ALGORITHM,
                format!(
                    "the token's algorithm {shown} is not accepted: Sealbox takes RS256, ES256 and EdDSA only (never none or an HMAC algorithm)"
                ),
            ));
        }
        None => return Err(malformed()),
    };
    let claims = json_part(claims)?;
    let text = |map: &Map<String, Value>, k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Unverified {
        alg,
        kid: text(&header, "kid"),
        issuer: text(&claims, "iss"),
        subject: text(&claims, "sub"),
    })
}

/// Whether `key` is of the type `alg` needs (and, when it says so, meant for `alg` and signing).
fn key_fits(alg: Algorithm, key: &Jwk) -> bool {
    let type_fits = match (alg, &key.algorithm) {
        (Algorithm::RS256, AlgorithmParameters::RSA(_)) => true,
        (Algorithm::ES256, AlgorithmParameters::EllipticCurve(p)) => p.curve == EllipticCurve::P256,
        (Algorithm::EdDSA, AlgorithmParameters::OctetKeyPair(p)) => p.curve == EllipticCurve::Ed25519,
        _ => false,
    };
    let alg_fits = match key.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => alg == Algorithm::EdDSA,
        Some(_) => false,
    };
    let use_fits = !matches!(
        key.common.public_key_use,
        Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
    );
    type_fits && alg_fits && use_fits
}

/// Verifies the signature with the issuer's key for the token's `kid` (a key without a `kid`,
/// as from a PEM, is tried for any token) and returns the claims.
pub(crate) fn verify_signature(jwt: &str, token: &Unverified, keys: &JwkSet) -> CoreResult<Map<String, Value>> {
    let candidates: Vec<&Jwk> = keys
        .keys
        .iter()
        .filter(|k| match (&token.kid, &k.common.key_id) {
            (Some(kid), Some(key_id)) => kid == key_id,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(refuse(
            codes::AUTH_JWT_UNKNOWN_KEY,
            "the issuer has no key with the token's kid (keys are fetched again at most every few seconds); get a fresh token from the platform",
        ));
    }
    let fitting: Vec<&Jwk> = candidates.into_iter().filter(|k| key_fits(token.alg, k)).collect();
    if fitting.is_empty() {
        return Err(refuse(
            codes::AUTH_JWT_KEY_TYPE,
            format!(
                "the issuer's key for this token is not of the type {:?} needs, so the token is refused",
                token.alg
            ),
        ));
    }
    let mut validation = Validation::new(token.alg);
    // Times, issuer and audience are checked below against core's clock and the trust.
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    for key in fitting {
        let Ok(decoding) = DecodingKey::from_jwk(key) else {
            continue;
        };
        if let Ok(data) = jsonwebtoken::decode::<Map<String, Value>>(jwt, &decoding, &validation) {
            return Ok(data.claims);
        }
    }
    Err(refuse(
        codes::AUTH_JWT_SIGNATURE,
        "the token's signature does not verify with the issuer's key",
    ))
}

/// `exp` (required), `nbf` and `iat` against `now` (seconds), each with the clock skew.
pub(crate) fn check_times(claims: &Map<String, Value>, now: i64) -> CoreResult<()> {
    let number = |k: &str| claims.get(k).and_then(Value::as_f64).map(|v| v as i64);
    match number("exp") {
        None => {
            return Err(refuse(
                codes::AUTH_JWT_EXPIRED,
                "the token has no exp (expiry) claim; only expiring tokens are taken",
            ));
        }
        Some(exp) if now > exp + CLOCK_SKEW_SECONDS => {
            return Err(refuse(
                codes::AUTH_JWT_EXPIRED,
                "the token has expired; get a fresh one from the platform",
            ));
        }
        Some(_) => {}
    }
    if number("nbf").is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECONDS) {
        return Err(refuse(
            codes::AUTH_JWT_NOT_YET_VALID,
            "the token is not valid yet (nbf is in the future); check the clocks",
        ));
    }
    if number("iat").is_some_and(|iat| iat > now + CLOCK_SKEW_SECONDS) {
        return Err(refuse(
            codes::AUTH_JWT_NOT_YET_VALID,
            "the token was issued in the future (iat); check the clocks",
        ));
    }
    Ok(())
}

/// `aud` (a string or an array of strings) holds `audience`.
pub(crate) fn check_audience(claims: &Map<String, Value>, audience: &str) -> CoreResult<()> {
    let holds = match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if holds {
        Ok(())
    } else {
        Err(refuse(
            codes::AUTH_JWT_AUDIENCE,
            format!("the token's audience (aud) is not {audience}, the one this identity's trust requires"),
        ))
    }
}

/// Every required claim is a string matching its pattern (exact, or `*` globs).
pub(crate) fn check_claims(claims: &Map<String, Value>, wanted: &BTreeMap<String, String>) -> CoreResult<()> {
    for (name, pattern) in wanted {
        let matches = claims
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(|value| glob_match(pattern, value));
        if !matches {
            return Err(refuse(
                codes::AUTH_JWT_CLAIMS,
                format!("the token's claim {name} does not match the trust's {name}={pattern}"),
            ));
        }
    }
    Ok(())
}

/// `*` matches any run of characters (`/` and `:` included); everything else matches itself.
pub(crate) fn glob_match(pattern: &str, value: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('*').collect();
    if pieces.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if value.len() < first.len() + last.len() || !value.starts_with(first) || !value.ends_with(last) {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "repo:acme/*:ref:refs/heads/main",
            "repo:acme/pay:ref:refs/heads/main"
        ));
        assert!(!glob_match(
            "repo:acme/*:ref:refs/heads/main",
            "repo:acme/pay:ref:refs/heads/dev"
        ));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "a-b-b-c"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match(
            "system:serviceaccount:*:worker",
            "system:serviceaccount:prod:worker"
        ));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn none_and_hmac_are_refused_before_any_key() {
        let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let claims = part(serde_json::json!({"iss": "https://i", "sub": "s"}));
        for alg in ["none", "HS256", "HS512", "RS512"] {
            let jwt = format!("{}.{claims}.", part(serde_json::json!({"alg": alg})));
            let Err(e) = peek(&jwt) else { panic!("{alg} taken") };
            assert_eq!(e.code, codes::AUTH_JWT_ALGORITHM, "{alg}");
        }
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(peek(bad).err().unwrap().code, codes::AUTH_JWT_MALFORMED, "{bad}");
        }
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn times_have_a_skew_of_a_minute() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let now = 1_000_000;
        assert!(check_times(&claims(serde_json::json!({"exp": now - 59})), now).is_ok());
        assert_eq!(
            check_times(&claims(serde_json::json!({"exp": now - 61})), now)
                .unwrap_err()
                .code,
            codes::AUTH_JWT_EXPIRED
        );
        assert_eq!(
            check_times(&claims(serde_json::json!({})), now).unwrap_err().code,
            codes::AUTH_JWT_EXPIRED
        );
        assert_eq!(
            check_times(&claims(serde_json::json!({"exp": now + 600, "nbf": now + 61})), now)
                .unwrap_err()
                .code,
            codes::AUTH_JWT_NOT_YET_VALID
        );
        assert_eq!(
            check_times(&claims(serde_json::json!({"exp": now + 600, "iat": now + 120})), now)
                .unwrap_err()
                .code,
            codes::AUTH_JWT_NOT_YET_VALID
        );
        assert!(
            check_times(
                &claims(serde_json::json!({"exp": now + 600, "nbf": now + 30, "iat": now + 30})),
                now
            )
            .is_ok()
        );
    }
}
