//! Federated identities (issue 14): an identity trusts a local OpenID Connect issuer (discovery
//! document and JWKS over HTTPS with the test CA), and JWTs it mints are exchanged at
//! `POST /v1/auth/jwt`, or refused with a clear code; workspace token lifetimes.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sealbox_test_peers::{OidcIssuer, Pki, unix_now};
use sealbox_testkit::{Options, TestServer};
use serde_json::{Value, json};

use crate::{Api, logs};

const AUDIENCE: &str = "sealbox-test";
const SUBJECT: &str = "repo:acme/payments:ref:refs/heads/main";

struct Setup {
    server: TestServer,
    api: Api,
    issuer: OidcIssuer,
    _ca: tempfile::NamedTempFile,
}

async fn setup(refetch_secs: u64) -> Setup {
    logs::capture();
    let pki = Pki::new();
    let issuer = OidcIssuer::start(&pki);
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut ca, pki.ca_pem.as_bytes()).unwrap();
    let server = TestServer::start_with(Options {
        extra_ca_file: Some(ca.path().to_owned()),
        jwks_refetch_interval_secs: Some(refetch_secs),
        ..Options::default()
    })
    .await;
    let api = Api::new(&server);
    Setup {
        server,
        api,
        issuer,
        _ca: ca,
    }
}

/// Creates `identity` trusting the issuer for `AUDIENCE` and `sub` matching `repo:acme/*:ref:refs/heads/main`.
async fn trusting_identity(s: &Setup, identity: &str) -> Value {
    let owner = &s.server.owner_token;
    s.api
        .post(
            "/v1/identities",
            owner,
            json!({"name": identity, "tags": {"team": "payments"}}),
        )
        .await
        .expect(201);
    s.api
        .post(
            &format!("/v1/identities/{identity}/federations"),
            owner,
            json!({"issuer": s.issuer.url, "audience": AUDIENCE,
                   "claims": {"sub": "repo:acme/*:ref:refs/heads/main", "repository_owner": "acme"}}),
        )
        .await
        .expect(201)
}

fn claims(s: &Setup) -> Value {
    let mut c = s.issuer.claims(AUDIENCE, SUBJECT);
    c["repository_owner"] = json!("acme");
    c
}

async fn exchange(s: &Setup, workspace: &str, identity: &str, jwt: &str) -> crate::Reply {
    s.api
        .send(
            reqwest::Method::POST,
            "/v1/auth/jwt",
            None,
            Some(json!({"workspace": workspace, "identity": identity, "jwt": jwt})),
        )
        .await
}

#[tokio::test]
async fn a_trusted_jwt_becomes_a_short_lived_identity_token_under_the_identitys_policies() {
    let s = setup(30).await;
    let owner = &s.server.owner_token;
    let trust = trusting_identity(&s, "payments-worker").await;
    assert_eq!(trust["keys"], "discovery");
    assert_eq!(trust["ttl_seconds"], 3600);
    s.api.create_text(owner, "PAY_KEY", "pay-value-9f1c").await;
    s.api
        .patch("/v1/secrets/PAY_KEY", owner, json!({"tags": {"team": "payments"}}))
        .await
        .expect(200);
    s.api
        .post(
            "/v1/policies",
            owner,
            json!({"name": "pay", "identity_tags": {"team": "payments"}, "secret_tags": {"team": "payments"}, "allow": ["read"]}),
        )
        .await
        .expect(201);

    let mut jwts = Vec::new();
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let jwt = s.issuer.mint(alg, &claims(&s));
        let reply = exchange(&s, "default", "payments-worker", &jwt).await.expect(200);
        let token = reply["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("sbx_"));
        assert_eq!(reply["identity"], "payments-worker");
        let env = s.api.get("/v1/environment", &token).await.expect(200);
        assert_eq!(env["variables"]["PAY_KEY"], "pay-value-9f1c", "{alg:?}");
        let me = s.api.get("/v1/auth/whoami", &token).await.expect(200);
        assert_eq!(
            (me["kind"].as_str(), me["name"].as_str()),
            (Some("identity"), Some("payments-worker"))
        );
        // An identity token, not a member's: it may not manage anything.
        s.api
            .get("/v1/identities", &token)
            .await
            .expect_error(403, "permission.denied");
        jwts.push(jwt);
    }
    // About an hour, as listed.
    let tokens = s
        .api
        .get("/v1/identities/payments-worker/tokens", owner)
        .await
        .expect(200);
    let listed = tokens["tokens"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|t| t["state"] == "expiring" && t["name"] == "federated"),
        "{tokens}"
    );
    assert_eq!(s.issuer.jwks_requests(), 1, "the keys were fetched once and cached");

    let events = s.api.audit(owner).await;
    let exchanges: Vec<&Value> = events.iter().filter(|e| e["action"] == "auth.jwt_exchange").collect();
    assert_eq!(exchanges.len(), 3, "{events:#?}");
    for e in exchanges {
        assert_eq!(e["outcome"], "success");
        assert_eq!(e["actor"], "identity:payments-worker");
        assert_eq!(e["detail"]["issuer"], s.issuer.url.as_str());
        assert_eq!(e["detail"]["subject"], SUBJECT);
    }
    let audit_text = serde_json::to_string(&events).unwrap();
    for jwt in &jwts {
        let signature = jwt.rsplit('.').next().unwrap();
        assert!(!audit_text.contains(signature), "a JWT reached the audit log");
        logs::assert_clean(&[jwt.as_str(), signature]);
    }
}

#[tokio::test]
async fn bad_jwts_are_refused_each_with_its_code_and_the_jwt_is_never_repeated() {
    let s = setup(30).await;
    let owner = &s.server.owner_token;
    trusting_identity(&s, "payments-worker").await;
    let now = unix_now();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims(&s);
        edit(&mut c);
        c
    };
    let rsa = s.issuer.key(Algorithm::RS256);
    let part = |v: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    // alg none: the claims are fine, there is no signature.
    let none = format!("{}.{}.", part(json!({"alg": "none", "kid": rsa.kid})), part(claims(&s)));
    // HS256 "signed" with the RSA public key as the HMAC secret (the classic confusion).
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(rsa.kid.clone());
    let hs256 = jsonwebtoken::encode(
        &header,
        &claims(&s),
        &EncodingKey::from_secret(rsa.public_pem.as_bytes()),
    )
    .unwrap();
    // A key the issuer never published.
    let stranger = sealbox_test_peers::SigningKey::generate(Algorithm::ES256, "not-published");
    // The EC key's kid on an RS256 token: a key of the wrong type.
    let ec_kid = s.issuer.key(Algorithm::ES256).kid;
    let mut wrong_type = Header::new(Algorithm::RS256);
    wrong_type.kid = Some(ec_kid);
    let rsa_private = {
        // The RSA key signs, but the header names the EC key.
        rsa.sign(&claims(&s))
    };
    let wrong_type_jwt = {
        let parts: Vec<&str> = rsa_private.split('.').collect();
        format!(
            "{}.{}.{}",
            part(serde_json::to_value(&wrong_type).unwrap()),
            parts[1],
            parts[2]
        )
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "expired",
            s.issuer.mint(Algorithm::RS256, &with(&|c| c["exp"] = json!(now - 120))),
            401,
            "auth.jwt_expired",
        ),
        (
            "no exp",
            s.issuer.mint(
                Algorithm::RS256,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
            401,
            "auth.jwt_expired",
        ),
        (
            "not yet valid",
            s.issuer.mint(Algorithm::ES256, &with(&|c| c["nbf"] = json!(now + 600))),
            401,
            "auth.jwt_not_yet_valid",
        ),
        (
            "issued in the future",
            s.issuer.mint(Algorithm::ES256, &with(&|c| c["iat"] = json!(now + 600))),
            401,
            "auth.jwt_not_yet_valid",
        ),
        (
            "wrong audience",
            s.issuer
                .mint(Algorithm::RS256, &with(&|c| c["aud"] = json!("someone-else"))),
            401,
            "auth.jwt_audience",
        ),
        (
            "wrong issuer",
            s.issuer.mint(
                Algorithm::RS256,
                &with(&|c| c["iss"] = json!("https://token.actions.githubusercontent.com")),
            ),
            401,
            "auth.jwt_issuer_untrusted",
        ),
        (
            "claim does not match",
            s.issuer.mint(
                Algorithm::RS256,
                &with(&|c| c["sub"] = json!("repo:acme/payments:ref:refs/heads/dev")),
            ),
            401,
            "auth.jwt_claims",
        ),
        (
            "claim missing",
            s.issuer.mint(
                Algorithm::RS256,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("repository_owner");
                }),
            ),
            401,
            "auth.jwt_claims",
        ),
        ("alg none", none, 401, "auth.jwt_algorithm"),
        ("HS256 with the public key", hs256, 401, "auth.jwt_algorithm"),
        ("unknown kid", stranger.sign(&claims(&s)), 401, "auth.jwt_unknown_key"),
        ("key of the wrong type", wrong_type_jwt, 401, "auth.jwt_key_type"),
        ("not a JWT", "sbx_not-a-jwt".to_owned(), 401, "auth.jwt_malformed"),
    ];
    let mut refused = Vec::new();
    for (what, jwt, status, code) in &cases {
        let reply = exchange(&s, "default", "payments-worker", jwt).await;
        assert_eq!(reply.code(), *code, "{what}: {}", reply.body);
        reply.expect_error(*status, code);
        assert!(!reply.message().contains(jwt.as_str()), "{what}: the JWT is repeated");
        refused.push(jwt.clone());
    }
    // A signature that does not verify: the right kid, another token's signature.
    let good = s.issuer.mint(Algorithm::RS256, &claims(&s));
    let other = s.issuer.mint(
        Algorithm::RS256,
        &with(&|c| c["sub"] = json!("repo:acme/other:ref:refs/heads/main")),
    );
    let (g, o): (Vec<&str>, Vec<&str>) = (good.split('.').collect(), other.split('.').collect());
    let spliced = format!("{}.{}.{}", g[0], g[1], o[2]);
    exchange(&s, "default", "payments-worker", &spliced)
        .await
        .expect_error(401, "auth.jwt_signature");
    // An identity that does not exist, in a workspace that does not exist: the same refusal.
    exchange(&s, "default", "nobody", &good)
        .await
        .expect_error(401, "auth.jwt_issuer_untrusted");
    exchange(&s, "no-such-workspace", "payments-worker", &good)
        .await
        .expect_error(401, "auth.jwt_issuer_untrusted");
    for odd in ["pay\u{0}ments", "../payments-worker", &"x".repeat(300)] {
        exchange(&s, "default", odd, &good)
            .await
            .expect_error(401, "auth.jwt_issuer_untrusted");
    }
    // Bad bodies: 4xx, never 5xx.
    for body in [
        json!({}),
        json!({"workspace": "default", "identity": "payments-worker"}),
        json!({"workspace": 1, "identity": "x", "jwt": "y"}),
    ] {
        let reply = s
            .api
            .send(reqwest::Method::POST, "/v1/auth/jwt", None, Some(body))
            .await;
        assert!(reply.status.is_client_error(), "{}", reply.body);
    }

    // Refusals are audited (issuer and subject as claimed), never with the token.
    let events = s.api.audit(owner).await;
    let denied: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "auth.jwt_exchange" && e["outcome"] == "denied")
        .collect();
    assert!(denied.len() >= 10, "{events:#?}");
    assert!(
        denied
            .iter()
            .any(|e| e["detail"]["reason"] == "auth.jwt_audience" && e["detail"]["subject"] == SUBJECT)
    );
    let audit_text = serde_json::to_string(&events).unwrap();
    for jwt in &refused {
        if let Some(signature) = jwt.rsplit('.').next().filter(|s| s.len() > 20) {
            assert!(!audit_text.contains(signature));
            logs::assert_clean(&[signature]);
        }
    }
    // Nothing was issued.
    let tokens = s
        .api
        .get("/v1/identities/payments-worker/tokens", owner)
        .await
        .expect(200);
    assert_eq!(tokens["tokens"].as_array().unwrap().len(), 0, "{tokens}");
}

#[tokio::test]
async fn a_token_for_another_workspaces_trust_is_refused() {
    let s = setup(30).await;
    let owner = &s.server.owner_token;
    trusting_identity(&s, "payments-worker").await;
    let other = s
        .api
        .post("/v1/workspaces", owner, json!({"name": "other"}))
        .await
        .expect(201);
    let other_owner = other["token"].as_str().unwrap();
    s.api
        .post("/v1/identities", other_owner, json!({"name": "payments-worker"}))
        .await
        .expect(201);
    s.api
        .post(
            "/v1/identities/payments-worker/federations",
            other_owner,
            json!({"issuer": s.issuer.url, "audience": "sealbox-other", "claims": {"sub": "repo:other/*"}}),
        )
        .await
        .expect(201);
    // Meant for the other workspace's trust (its audience and subject).
    let mut meant_for_other = s.issuer.claims("sealbox-other", "repo:other/app:ref:refs/heads/main");
    meant_for_other["repository_owner"] = json!("other");
    let jwt = s.issuer.mint(Algorithm::ES256, &meant_for_other);
    exchange(&s, "default", "payments-worker", &jwt)
        .await
        .expect_error(401, "auth.jwt_audience");
    // It works where it is meant to, and only there.
    let reply = exchange(&s, "other", "payments-worker", &jwt).await.expect(200);
    assert_eq!(reply["workspace"], "other");
    // And the default workspace's token does not work in the other workspace.
    let mine = s.issuer.mint(Algorithm::ES256, &claims(&s));
    exchange(&s, "other", "payments-worker", &mine)
        .await
        .expect_error(401, "auth.jwt_audience");
}

#[tokio::test]
async fn keys_rotated_at_the_issuer_are_picked_up_and_unknown_kids_do_not_hammer_it() {
    let s = setup(2).await;
    trusting_identity(&s, "payments-worker").await;
    let old = s.issuer.mint(Algorithm::RS256, &claims(&s));
    exchange(&s, "default", "payments-worker", &old).await.expect(200);
    assert_eq!(s.issuer.jwks_requests(), 1);
    // A flood of tokens with made-up kids: refused, and the issuer is asked at most once more.
    for i in 0..30 {
        let bogus = sealbox_test_peers::SigningKey::generate(Algorithm::ES256, &format!("bogus-{i}"));
        exchange(&s, "default", "payments-worker", &bogus.sign(&claims(&s)))
            .await
            .expect_error(401, "auth.jwt_unknown_key");
    }
    assert!(
        s.issuer.jwks_requests() <= 2,
        "fetched {} times",
        s.issuer.jwks_requests()
    );

    s.issuer.rotate();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The new kid is fetched without restarting the server.
    let new = s.issuer.mint(Algorithm::RS256, &claims(&s));
    exchange(&s, "default", "payments-worker", &new).await.expect(200);
    // The old kid is gone from the issuer's keys now.
    exchange(&s, "default", "payments-worker", &old)
        .await
        .expect_error(401, "auth.jwt_unknown_key");
}

#[tokio::test]
async fn a_trust_with_static_keys_needs_no_reachable_issuer_and_the_workspace_maximum_caps_the_lifetime() {
    let s = setup(30).await;
    let owner = &s.server.owner_token;
    s.api
        .post("/v1/identities", owner, json!({"name": "k8s-worker"}))
        .await
        .expect(201);
    let key = sealbox_test_peers::SigningKey::generate(Algorithm::RS256, "cluster-key");
    let issuer = "https://kubernetes.default.svc.cluster.local";
    // A private key is refused.
    let private = s
        .api
        .post(
            "/v1/identities/k8s-worker/federations",
            owner,
            json!({"issuer": issuer, "audience": "sealbox", "static_keys": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}),
        )
        .await;
    private.expect_error(400, "federation.invalid");
    // Without keys an issuer must be an https URL the server fetches from.
    s.api
        .post(
            "/v1/identities/k8s-worker/federations",
            owner,
            json!({"issuer": "kubernetes", "audience": "sealbox"}),
        )
        .await
        .expect_error(400, "federation.invalid");
    let trust = s
        .api
        .post(
            "/v1/identities/k8s-worker/federations",
            owner,
            json!({"issuer": issuer, "audience": "sealbox", "ttl_seconds": 7200,
                   "claims": {"sub": "system:serviceaccount:payments:worker"}, "static_keys": key.public_pem}),
        )
        .await
        .expect(201);
    assert_eq!(trust["keys"], "static");
    s.api
        .patch("/v1/workspace/settings", owner, json!({"max_token_ttl_seconds": 1800}))
        .await
        .expect(200);
    let now = unix_now();
    let jwt = key.sign(
        &json!({"iss": issuer, "aud": ["sealbox"], "sub": "system:serviceaccount:payments:worker",
        "iat": now, "exp": now + 600, "kubernetes.io": {"namespace": "payments"}}),
    );
    let reply = exchange(&s, "default", "k8s-worker", &jwt).await.expect(200);
    let tokens = s.api.get("/v1/identities/k8s-worker/tokens", owner).await.expect(200);
    assert_eq!(tokens["tokens"][0]["expires_at"], reply["expires_at"]);
    // 30 minutes (the maximum), not the trust's 2 hours: check through the listed expiry.
    let expires = reply["expires_at"].as_str().unwrap();
    let listed = s
        .api
        .get("/v1/identities/k8s-worker/federations", owner)
        .await
        .expect(200);
    assert_eq!(listed["federations"][0]["ttl_seconds"], 7200);
    let events = s.api.audit(owner).await;
    let issued = events
        .iter()
        .rev()
        .find(|e| e["action"] == "auth.jwt_exchange")
        .unwrap();
    assert_eq!(issued["detail"]["expires_at"], expires);
    let at = |text: &str| -> i64 {
        // RFC 3339 with milliseconds, UTC: compare as seconds of the day span.
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap();
        t.unix_timestamp()
    };
    let lifetime = at(expires) - at(issued["at"].as_str().unwrap());
    assert!((1795..=1800).contains(&lifetime), "lived {lifetime} s");
    // The trust removed: refused from then on.
    let id = trust["id"].as_str().unwrap();
    s.api
        .delete(&format!("/v1/identities/k8s-worker/federations/{id}"), owner)
        .await
        .expect(204);
    exchange(&s, "default", "k8s-worker", &jwt)
        .await
        .expect_error(401, "auth.jwt_issuer_untrusted");
    s.api
        .delete(&format!("/v1/identities/k8s-worker/federations/{id}"), owner)
        .await
        .expect_error(404, "federation.not_found");
}

#[tokio::test]
async fn workspace_token_lifetimes_bound_personal_and_identity_tokens() {
    let s = setup(30).await;
    let owner = &s.server.owner_token;
    let settings = s.api.get("/v1/workspace/settings", owner).await.expect(200);
    assert_eq!(settings["max_token_ttl_seconds"], Value::Null);
    // Any lifetime, and no expiry, before a maximum is set.
    s.api
        .post("/v1/tokens", owner, json!({"name": "forever"}))
        .await
        .expect(201);

    let bad = s
        .api
        .patch(
            "/v1/workspace/settings",
            owner,
            json!({"max_token_ttl_seconds": 86400, "default_token_ttl_seconds": 172800}),
        )
        .await;
    bad.expect_error(400, "workspace.settings_invalid");
    assert!(
        bad.message().contains("2d") && bad.message().contains("1d"),
        "{}",
        bad.message()
    );
    s.api
        .patch("/v1/workspace/settings", owner, json!({"max_token_ttl_seconds": 5}))
        .await
        .expect_error(400, "workspace.settings_invalid");
    let set = s
        .api
        .patch(
            "/v1/workspace/settings",
            owner,
            json!({"max_token_ttl_seconds": 7776000, "default_token_ttl_seconds": 2592000}),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            set["max_token_ttl_seconds"].as_u64(),
            set["default_token_ttl_seconds"].as_u64()
        ),
        (Some(7776000), Some(2592000))
    );
    assert_eq!(set["updated_by"], format!("member:{}", s.server.owner_email));

    // No lifetime: the default (30 days).
    let t = s
        .api
        .post("/v1/tokens", owner, json!({"name": "default-ttl"}))
        .await
        .expect(201);
    assert!(t["expires_at"].is_string(), "{t}");
    // More than the maximum: refused, the limit named.
    let r = s
        .api
        .post(
            "/v1/tokens",
            owner,
            json!({"name": "long", "expires_in_seconds": 100 * 86400}),
        )
        .await;
    r.expect_error(400, "token.ttl_above_maximum");
    assert!(r.message().contains("90d"), "{}", r.message());
    s.api
        .post("/v1/identities", owner, json!({"name": "worker"}))
        .await
        .expect(201);
    let r = s
        .api
        .post(
            "/v1/identities/worker/tokens",
            owner,
            json!({"name": "x", "expires_in_seconds": 91 * 86400}),
        )
        .await;
    r.expect_error(400, "token.ttl_above_maximum");
    // No expiry while there is a maximum (and no default): refused.
    s.api
        .patch(
            "/v1/workspace/settings",
            owner,
            json!({"default_token_ttl_seconds": null}),
        )
        .await
        .expect(200);
    let r = s
        .api
        .post("/v1/identities/worker/tokens", owner, json!({"name": "x"}))
        .await;
    r.expect_error(400, "token.ttl_above_maximum");
    assert!(r.message().contains("90d"), "{}", r.message());
    s.api
        .post(
            "/v1/identities/worker/tokens",
            owner,
            json!({"name": "x", "expires_in_seconds": 3600}),
        )
        .await
        .expect(201);

    // Editors read the settings but may not change them; the change is audited.
    let editor = s.api.member_token(owner, "ed@example.com", "editor").await;
    s.api.get("/v1/workspace/settings", &editor).await.expect(200);
    s.api
        .patch(
            "/v1/workspace/settings",
            &editor,
            json!({"max_token_ttl_seconds": null}),
        )
        .await
        .expect_error(403, "permission.denied");
    s.api
        .patch("/v1/workspace/settings", owner, json!({"unknown": 1}))
        .await
        .expect_error(400, "request.invalid");
    let events = s.api.audit(owner).await;
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "workspace.settings_update")
        .collect();
    assert_eq!(changes.len(), 2, "{events:#?}");
    assert_eq!(changes[0]["detail"]["max_token_ttl_seconds"], 7776000);

    // Lists mark expiry.
    let list = s.api.get("/v1/tokens", owner).await.expect(200);
    assert!(
        list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"].is_string()),
        "{list}"
    );
}

/// The same on PostgreSQL: settings, a trust, an exchange and its audit, through the real server.
#[tokio::test]
async fn an_exchange_on_postgresql() {
    let Some(url) = sealbox_testkit::postgres_url().await else {
        return;
    };
    let server = TestServer::start_with(Options {
        database_url: Some(url),
        ..Options::default()
    })
    .await;
    let api = Api::new(&server);
    let owner = &server.owner_token;
    api.patch("/v1/workspace/settings", owner, json!({"max_token_ttl_seconds": 600}))
        .await
        .expect(200);
    api.post("/v1/identities", owner, json!({"name": "k8s-worker"}))
        .await
        .expect(201);
    let key = sealbox_test_peers::SigningKey::generate(Algorithm::ES256, "cluster-key");
    let jwks = json!({"keys": [key.jwk]}).to_string();
    api.post(
        "/v1/identities/k8s-worker/federations",
        owner,
        json!({"issuer": "https://kubernetes.default.svc", "audience": "sealbox", "static_keys": jwks}),
    )
    .await
    .expect(201);
    let now = unix_now();
    let jwt = key.sign(&json!({"iss": "https://kubernetes.default.svc", "aud": "sealbox",
        "sub": "system:serviceaccount:payments:worker", "iat": now, "exp": now + 600}));
    let reply = api
        .send(
            reqwest::Method::POST,
            "/v1/auth/jwt",
            None,
            Some(json!({"workspace": "default", "identity": "k8s-worker", "jwt": jwt})),
        )
        .await
        .expect(200);
    let me = api
        .get("/v1/auth/whoami", reply["token"].as_str().unwrap())
        .await
        .expect(200);
    assert_eq!(me["name"], "k8s-worker");
    let events = api.audit(owner).await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "auth.jwt_exchange" && e["outcome"] == "success")
    );
    let verified = api.get("/v1/audit/verify", owner).await.expect(200);
    assert_eq!(verified["ok"], true, "{verified}");
}
