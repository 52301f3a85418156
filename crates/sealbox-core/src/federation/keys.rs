//! The issuers' public keys: the port core fetches them through ([`IssuerKeys`], the server's
//! HTTPS client), and the cache in front of it ([`KeyCache`]).
//!
//! A JWKS is cached per issuer for `ttl`; a token whose `kid` the cached set lacks makes it fetch
//! again, but at most once per `refetch_interval` per issuer (whatever the number of requests or
//! replicas' requests to this process), so a flood of tokens with made-up `kid`s cannot hammer
//! the issuer. The issuers asked for are only those of configured trusts, so the cache is bounded
//! by them. Only public keys are ever held.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use sealbox_types::codes;

use crate::error::{CoreError, CoreResult, ErrorClass};

/// Fetches an issuer's keys: its OIDC discovery document (`{issuer}/.well-known/openid-configuration`)
/// and the JWKS its `jwks_uri` names, over HTTPS. Core never reaches the network itself.
#[async_trait]
pub trait IssuerKeys: Send + Sync {
    /// The JWKS document as JSON text. The error is for the operator's log (no response body).
    async fn fetch_jwks(&self, issuer: &str) -> Result<String, String>;
}

struct Entry {
    keys: Option<Arc<JwkSet>>,
    fetched_at: i64,
    /// The last fetch started (successful or not): the rate limit's clock.
    attempted_at: i64,
}

pub(crate) struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
    ttl_ms: i64,
    refetch_interval_ms: i64,
}

impl KeyCache {
    pub(crate) fn new(ttl_ms: i64, refetch_interval_ms: i64) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl_ms,
            refetch_interval_ms,
        }
    }

    /// The issuer's keys as of `now`: cached while fresh and holding `kid` (when given); else
    /// fetched again unless a fetch for this issuer started less than the refetch interval ago,
    /// in which case whatever is cached is used.
    pub(crate) async fn keys(
        &self,
        fetcher: Option<&dyn IssuerKeys>,
        issuer: &str,
        kid: Option<&str>,
        now: i64,
    ) -> CoreResult<Arc<JwkSet>> {
        let (cached, may_fetch) = {
            let mut entries = self
                .entries
                .lock()
                .map_err(|_| CoreError::internal("key cache poisoned"))?;
            let entry = entries.entry(issuer.to_owned()).or_insert(Entry {
                keys: None,
                fetched_at: 0,
                attempted_at: i64::MIN / 2,
            });
            if let Some(keys) = &entry.keys {
                let fresh = now - entry.fetched_at < self.ttl_ms;
                let has_kid = kid.is_none_or(|kid| keys.find(kid).is_some());
                if fresh && has_kid {
                    return Ok(keys.clone());
                }
            }
            let may_fetch = now - entry.attempted_at >= self.refetch_interval_ms;
            if may_fetch {
                // Claimed before fetching, so concurrent requests do not fetch too.
                entry.attempted_at = now;
            }
            (entry.keys.clone(), may_fetch)
        };
        let unavailable = || {
            CoreError::new(
                ErrorClass::FailedDependency,
                codes::AUTH_JWT_KEYS_UNAVAILABLE,
                "the issuer's keys could not be fetched (its discovery document or JWKS); try again later, or ask an admin to check the trust's issuer (the server log says why)",
            )
        };
        if !may_fetch {
            return cached.ok_or_else(unavailable);
        }
        let Some(fetcher) = fetcher else {
            tracing::warn!(issuer, "no way to fetch issuer keys is configured");
            return cached.ok_or_else(unavailable);
        };
        let fetched = match fetcher.fetch_jwks(issuer).await {
            Ok(text) => parse_jwks(&text).map_err(|e| format!("the JWKS is not usable: {e}")),
            Err(e) => Err(e),
        };
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                if let Ok(mut entries) = self.entries.lock()
                    && let Some(entry) = entries.get_mut(issuer)
                {
                    entry.keys = Some(keys.clone());
                    entry.fetched_at = now;
                }
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(issuer, error = %e, "could not fetch the issuer's keys");
                cached.ok_or_else(unavailable)
            }
        }
    }
}

/// A JWKS document; a key holding private parameters is refused (only public keys are taken).
pub(crate) fn parse_jwks(text: &str) -> Result<JwkSet, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
    let Some(keys) = value.get("keys").and_then(|k| k.as_array()) else {
        return Err("not a JWKS (no \"keys\" array)".to_owned());
    };
    const PRIVATE: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];
    if keys.iter().any(|k| PRIVATE.iter().any(|p| k.get(p).is_some())) {
        return Err("a key holds private parameters; give only public keys".to_owned());
    }
    // Keys of a type this build does not know are left out rather than failing the whole set.
    let usable: Vec<serde_json::Value> = keys
        .iter()
        .filter(|k| serde_json::from_value::<jsonwebtoken::jwk::Jwk>((*k).clone()).is_ok())
        .cloned()
        .collect();
    serde_json::from_value(serde_json::json!({ "keys": usable })).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting {
        calls: AtomicUsize,
        jwks: Mutex<String>,
    }

    #[async_trait]
    impl IssuerKeys for Counting {
        async fn fetch_jwks(&self, _issuer: &str) -> Result<String, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(self.jwks.lock().unwrap().clone())
        }
    }

    fn jwks(kid: &str) -> String {
        serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": kid,
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})
        .to_string()
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn unknown_kids_refetch_at_most_once_per_interval() {
        let fetcher = Counting {
            calls: AtomicUsize::new(0),
            jwks: Mutex::new(jwks("one")),
        };
        let cache = KeyCache::new(600_000, 30_000);
        let keys = cache.keys(Some(&fetcher), "https://i", Some("one"), 0).await.unwrap();
        assert!(keys.find("one").is_some());
        for i in 0..50 {
            let keys = cache
                .keys(Some(&fetcher), "https://i", Some(&format!("bogus{i}")), 1_000 + i)
                .await
                .unwrap();
            assert!(keys.find("one").is_some());
        }
        assert_eq!(
            fetcher.calls.load(Ordering::SeqCst),
            1,
            "a flood of unknown kids fetched again"
        );
        // Rotated at the issuer: after the interval, an unknown kid fetches the new set.
        *fetcher.jwks.lock().unwrap() = jwks("two");
        let keys = cache
            .keys(Some(&fetcher), "https://i", Some("two"), 31_000)
            .await
            .unwrap();
        assert!(keys.find("two").is_some() && keys.find("one").is_none());
        assert_eq!(fetcher.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn private_keys_are_refused() {
        let text = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"}]}"#;
        assert!(parse_jwks(text).unwrap_err().contains("private"));
    }
}
