//! Single sign-on (issue 14) against a small OpenID Connect issuer these tests run on 127.0.0.1:
//! discovery, JWKS, an authorization endpoint that signs in at once, and a token endpoint that
//! checks the client secret, the code (once) and the PKCE verifier, then signs an ID token as
//! the test's plan says (expired, with another key, another nonce, an unverified e-mail ...), so
//! the refusals a real provider cannot be made to produce are tested too. The browser suite
//! (`tests/panel/sso.test.js`) signs in through the certified `oidc-provider` with Chromium.
//! The browser is played here by reqwest: redirects followed by hand, cookies carried by hand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openidconnect::core::{CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey};
use reqwest::redirect::Policy;
use sealbox_server::OidcConfig;
use sealbox_testkit::{Options, TestServer};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::Api;

const CLIENT_ID: &str = "sealbox-test";
const CLIENT_SECRET: &str = "client-secret-9f3b7c1d";
const KID: &str = "key-1";

/// What the next ID token says (and how it is signed).
#[derive(Clone)]
struct Plan {
    email: String,
    email_verified: Value,
    groups: Vec<String>,
    expired: bool,
    /// Signed with a key the JWKS does not hold (under the published `kid`).
    wrong_key: bool,
    /// Another nonce than the one the authorization request carried.
    other_nonce: bool,
}

impl Plan {
    fn for_email(email: &str) -> Self {
        Plan {
            email: email.into(),
            email_verified: json!(true),
            groups: vec![],
            expired: false,
            wrong_key: false,
            other_nonce: false,
        }
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: String,
    challenge: String,
}

struct IssuerState {
    url: String,
    key: CoreRsaPrivateSigningKey,
    other_key: CoreRsaPrivateSigningKey,
    plan: Mutex<Plan>,
    grants: Mutex<HashMap<String, Grant>>,
    /// Codes presented to the token endpoint, in order (a replay shows up twice).
    redeemed: Mutex<Vec<String>>,
}

struct Issuer {
    url: String,
    state: Arc<IssuerState>,
}

impl Issuer {
    async fn start() -> Issuer {
        Self::start_with(None).await
    }

    /// Over HTTPS with a certificate from `pki` (a private CA the server must be told about).
    async fn start_tls(pki: &sealbox_test_peers::Pki) -> Issuer {
        Self::start_with(Some(pki.server(&["127.0.0.1"]))).await
    }

    async fn start_with(tls: Option<sealbox_test_peers::ServerCert>) -> Issuer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let key = |pem: &str| CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(KID.into()))).unwrap();
        let state = Arc::new(IssuerState {
            url: url.clone(),
            key: key(include_str!("sso_keys/issuer_key.pem")),
            other_key: key(include_str!("sso_keys/other_key.pem")),
            plan: Mutex::new(Plan::for_email("nobody@example.com")),
            grants: Mutex::new(HashMap::new()),
            redeemed: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(state.clone());
        match tls {
            None => {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
            Some(cert) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config = axum_server::tls_rustls::RustlsConfig::from_pem(
                    cert.cert_pem.into_bytes(),
                    cert.key_pem.into_bytes(),
                )
                .await
                .unwrap();
                tokio::spawn(axum_server::from_tcp_rustls(listener, config).serve(app.into_make_service()));
            }
        }
        Issuer { url, state }
    }

    fn plan(&self, plan: Plan) {
        *self.state.plan.lock().unwrap() = plan;
    }

    fn config(&self) -> OidcConfig {
        OidcConfig {
            issuer: self.url.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.to_owned().into(),
            redirect_url: String::new(),
            groups_claim: "groups".into(),
            scopes: vec!["email".into()],
        }
    }
}

async fn discovery(State(s): State<Arc<IssuerState>>) -> axum::Json<Value> {
    let u = &s.url;
    axum::Json(json!({
        "issuer": u,
        "authorization_endpoint": format!("{u}/authorize"),
        "token_endpoint": format!("{u}/token"),
        "jwks_uri": format!("{u}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<Arc<IssuerState>>) -> axum::Json<Value> {
    axum::Json(json!({ "keys": [s.key.as_verification_key()] }))
}

/// Signs in at once: the person is whoever the plan says.
async fn authorize(State(s): State<Arc<IssuerState>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    assert_eq!(get("response_type"), "code");
    assert_eq!(get("code_challenge_method"), "S256", "PKCE S256 is always used");
    assert!(get("scope").split(' ').any(|s| s == "openid"));
    assert!(!get("nonce").is_empty() && !get("state").is_empty());
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    s.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            nonce: get("nonce"),
            challenge: get("code_challenge"),
        },
    );
    let mut to = url::Url::parse(&get("redirect_uri")).unwrap();
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    Redirect::to(to.as_str()).into_response()
}

async fn token(State(s): State<Arc<IssuerState>>, headers: HeaderMap, body: Bytes) -> Response {
    let f: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap();
    let refuse = |error: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": error }))).into_response();
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let expected = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    s.redeemed.lock().unwrap().push(get("code"));
    // A code works once.
    let Some(grant) = s.grants.lock().unwrap().remove(&get("code")) else {
        return refuse("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
    if grant.client_id != CLIENT_ID || grant.redirect_uri != get("redirect_uri") || challenge != grant.challenge {
        return refuse("invalid_grant");
    }
    let plan = s.plan.lock().unwrap().clone();
    // The issuer is a peer with its own clock, like a real provider, not the server's Clock.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (iat, exp) = if plan.expired {
        (now - 600, now - 300)
    } else {
        (now, now + 300)
    };
    let nonce = if plan.other_nonce {
        "another-nonce".to_owned()
    } else {
        grant.nonce
    };
    let claims: CoreIdTokenClaims = serde_json::from_value(json!({
        "iss": s.url,
        "aud": [CLIENT_ID],
        "sub": format!("subject-of-{}", plan.email),
        "iat": iat,
        "exp": exp,
        "nonce": nonce,
        "email": plan.email,
        "email_verified": plan.email_verified,
    }))
    .unwrap();
    let key = if plan.wrong_key { &s.other_key } else { &s.key };
    let id_token = CoreIdToken::new(claims, key, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, None, None).unwrap();
    // The groups claim is not a standard one: add it by re-signing the payload with it.
    let id_token = with_groups(&id_token.to_string(), &plan.groups, key);
    axum::Json(json!({
        "access_token": "access-token-not-used",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

/// The same JWT with a `groups` claim added to its payload, signed again (RS256) by `key`.
fn with_groups(jwt: &str, groups: &[String], key: &CoreRsaPrivateSigningKey) -> String {
    if groups.is_empty() {
        return jwt.to_owned();
    }
    let mut parts = jwt.split('.');
    let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["groups"] = json!(groups);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = key
        .sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, signing_input.as_bytes())
        .unwrap();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A browser: no redirect followed by itself, its cookies kept by hand.
struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

/// Where one step of a sign-in ended.
struct Step {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Self {
        Browser {
            http: reqwest::Client::builder().redirect(Policy::none()).build().unwrap(),
            cookies: HashMap::new(),
        }
    }

    async fn get(&mut self, url: &str) -> Step {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = self.http.get(url);
        if !cookie.is_empty() {
            req = req.header(header::COOKIE, cookie);
        }
        let resp = req.send().await.unwrap();
        for set in resp.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = resp.text().await.unwrap();
        assert!(status.as_u16() < 500, "server error {status}: {body}");
        Step { status, location, body }
    }

    /// `/sso/start` to the provider's redirect back, not followed: the callback URL.
    async fn through_provider(&mut self, server: &TestServer, query: &str) -> String {
        let start = self.get(&format!("{}/sso/start?{query}", server.url)).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
        let at_provider = self.get(&start.location.unwrap()).await;
        assert_eq!(at_provider.status, StatusCode::SEE_OTHER);
        at_provider.location.unwrap()
    }

    fn session(&self) -> Option<String> {
        self.cookies.get("sealbox_session").cloned()
    }
}

async fn server_with(issuer: &Issuer, options: Options) -> TestServer {
    TestServer::start_with(Options {
        oidc: Some(issuer.config()),
        ..options
    })
    .await
}

async fn audit(api: &Api, server: &TestServer, action: &str) -> Vec<Value> {
    let body = api
        .get(&format!("/v1/audit?action={action}"), &server.owner_token)
        .await
        .expect(200);
    body["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_member_signs_in_with_sso_and_the_session_works_once() {
    let issuer = Issuer::start().await;
    let server = server_with(&issuer, Options::default()).await;
    let api = Api::new(&server);
    // Some providers (Amazon Cognito) send "true" as a string; it counts as verified.
    issuer.plan(Plan {
        email_verified: json!("true"),
        ..Plan::for_email(&server.owner_email.to_uppercase())
    });

    let mut browser = Browser::new();
    let callback = browser.through_provider(&server, "workspace=default").await;
    assert!(callback.starts_with(&format!("{}/sso/callback?", server.url)));
    let done = browser.get(&callback).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("signed in to workspace default"), "{}", done.body);
    let session = browser.session().expect("a session cookie");
    assert!(
        !browser.cookies.contains_key("sealbox_sso"),
        "the state cookie is cleared"
    );
    let me = api.get("/v1/auth/whoami", &session).await.expect(200);
    assert_eq!(me["name"], json!(server.owner_email));
    assert_eq!(me["role"], json!("owner"));
    // The panel takes the cookie like a password session's.
    let page = browser.get(&format!("{}/", server.url)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&server.owner_email));

    // The same callback again (a replayed code and state): refused, no second session.
    let mut replay = Browser::new();
    replay.cookies = browser.cookies.clone();
    replay.cookies.remove("sealbox_session");
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    replay.cookies.insert("sealbox_sso".into(), state);
    let again = replay.get(&callback).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
    assert!(again.body.contains("used already or has expired"), "{}", again.body);
    assert!(replay.session().is_none());
    assert_eq!(
        issuer.state.redeemed.lock().unwrap().len(),
        1,
        "the code went to the provider once"
    );
    // The used code slipped into another browser's own fresh sign-in: the provider refuses it
    // (used, and bound to the other sign-in's PKCE challenge).
    let used_code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let mut other = Browser::new();
    let fresh = url::Url::parse(&other.through_provider(&server, "").await).unwrap();
    let mut swapped = fresh.clone();
    swapped
        .query_pairs_mut()
        .clear()
        .extend_pairs(fresh.query_pairs().map(|(k, v)| {
            (
                k.clone().into_owned(),
                if k == "code" { used_code.clone() } else { v.into_owned() },
            )
        }));
    let refused = other.get(swapped.as_str()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(
        refused.body.contains("did not verify") || refused.body.contains("refused"),
        "{}",
        refused.body
    );
    assert!(other.session().is_none());
    assert_eq!(issuer.state.redeemed.lock().unwrap().len(), 2);

    let events = audit(&api, &server, "auth.sso_login").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["outcome"], json!("failure"));
    assert_eq!(events[1]["detail"]["reason"], json!("code_exchange_failed"));
    let e = &events[0];
    assert_eq!(e["outcome"], json!("success"));
    assert_eq!(e["actor"], json!(format!("member:{}", server.owner_email)));
    assert_eq!(e["detail"]["issuer"], json!(issuer.url));
    assert_eq!(
        e["detail"]["subject"],
        json!(format!("subject-of-{}", server.owner_email.to_uppercase()))
    );
    // No code, state, nonce, verifier or token in the audit log.
    let all = api
        .get("/v1/audit?limit=1000", &server.owner_token)
        .await
        .expect(200)
        .to_string();
    assert!(!all.contains(&session) && !all.contains("code-") && !all.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn a_forged_or_foreign_state_is_refused_and_the_real_one_still_works() {
    let issuer = Issuer::start().await;
    let server = server_with(&issuer, Options::default()).await;
    issuer.plan(Plan::for_email(&server.owner_email));
    let mut victim = Browser::new();
    let callback = victim.through_provider(&server, "").await;

    // Another browser (no state cookie, or its own) brought the victim's callback link.
    let mut attacker = Browser::new();
    let refused = attacker.get(&callback).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("not begun in this browser"), "{}", refused.body);
    let _ = attacker.through_provider(&server, "").await;
    assert!(attacker.cookies.contains_key("sealbox_sso"));
    let refused = attacker.get(&callback).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(attacker.session().is_none());

    // A made-up state, with a cookie to match it.
    let mut forger = Browser::new();
    forger.cookies.insert("sealbox_sso".into(), "forged-state".into());
    let forged = forger
        .get(&format!("{}/sso/callback?code=x&state=forged-state", server.url))
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(forged.body.contains("used already or has expired"));

    // The victim's own browser still finishes: the refusals did not use the state up.
    let done = victim.get(&callback).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(victim.session().is_some());
}

#[tokio::test]
async fn bad_id_tokens_and_unverified_emails_are_refused_and_audited() {
    let issuer = Issuer::start().await;
    let server = server_with(&issuer, Options::default()).await;
    let api = Api::new(&server);
    let owner = server.owner_email.clone();
    let cases = [
        (
            "nonce",
            Plan {
                other_nonce: true,
                ..Plan::for_email(&owner)
            },
            "sso.provider_refused",
        ),
        (
            "expired",
            Plan {
                expired: true,
                ..Plan::for_email(&owner)
            },
            "sso.provider_refused",
        ),
        (
            "wrong key",
            Plan {
                wrong_key: true,
                ..Plan::for_email(&owner)
            },
            "sso.provider_refused",
        ),
        (
            "unverified",
            Plan {
                email_verified: json!(false),
                ..Plan::for_email(&owner)
            },
            "sso.email_unverified",
        ),
        (
            "no email_verified",
            Plan {
                email_verified: Value::Null,
                ..Plan::for_email(&owner)
            },
            "sso.email_unverified",
        ),
        (
            "string false verified",
            Plan {
                email_verified: json!("false"),
                ..Plan::for_email(&owner)
            },
            "sso.email_unverified",
        ),
    ];
    for (what, plan, _code) in cases.iter().cloned() {
        issuer.plan(plan);
        let mut browser = Browser::new();
        let callback = browser.through_provider(&server, "").await;
        let refused = browser.get(&callback).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{what}: {}", refused.body);
        assert!(browser.session().is_none(), "{what}");
        let message = if what.contains("verified") {
            "email_verified"
        } else {
            "did not verify"
        };
        assert!(refused.body.contains(message), "{what}: {}", refused.body);
    }
    let failures = audit(&api, &server, "auth.sso_login").await;
    let reasons: Vec<&str> = failures
        .iter()
        .map(|e| {
            assert_eq!(e["outcome"], json!("failure"));
            e["detail"]["reason"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "id_token_invalid",
            "id_token_invalid",
            "id_token_invalid",
            "email_unverified",
            "email_unverified",
            "email_unverified"
        ]
    );
    // The unverified ones name the e-mail tried, the others the client.
    assert_eq!(failures[3]["target"], json!(format!("member:{owner}")));
    assert_eq!(failures[0]["target"], json!("client:127.0.0.1"));
    // Nobody was signed in along the way.
    assert!(audit(&api, &server, "auth.login").await.is_empty());
}

#[tokio::test]
async fn unknown_emails_are_refused_unless_the_workspace_creates_members_with_mapped_roles() {
    let issuer = Issuer::start().await;
    let server = server_with(&issuer, Options::default()).await;
    let api = Api::new(&server);
    issuer.plan(Plan {
        groups: vec!["devs".into(), "ops".into()],
        ..Plan::for_email("New.Person@Example.com")
    });
    let mut browser = Browser::new();
    let callback = browser.through_provider(&server, "").await;
    let refused = browser.get(&callback).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("new.person@example.com is not a member of workspace default")
    );

    let settings = api
        .patch(
            "/v1/workspace/sso",
            &server.owner_token,
            json!({"create_members": "editor", "group_roles": {"ops": "admin", "devs": "editor"}}),
        )
        .await
        .expect(200);
    assert_eq!(settings["create_members"], json!("editor"));
    assert_eq!(settings["sso_configured"], json!(true));
    let callback = browser.through_provider(&server, "").await;
    assert_eq!(browser.get(&callback).await.status, StatusCode::OK);
    let session = browser.session().unwrap();
    let me = api.get("/v1/auth/whoami", &session).await.expect(200);
    assert_eq!(me["name"], json!("new.person@example.com"));
    assert_eq!(me["role"], json!("admin"), "the highest mapped role");
    let added = audit(&api, &server, "member.add").await;
    let added = added.last().unwrap();
    assert_eq!(added["actor"], json!("system:sso"));
    assert_eq!(added["detail"]["role"], json!("admin"));

    // Out of the ops group at the provider: the next sign-in maps to editor.
    issuer.plan(Plan {
        groups: vec!["devs".into()],
        ..Plan::for_email("new.person@example.com")
    });
    let mut browser = Browser::new();
    let callback = browser.through_provider(&server, "").await;
    assert_eq!(browser.get(&callback).await.status, StatusCode::OK);
    let me = api
        .get("/v1/auth/whoami", &browser.session().unwrap())
        .await
        .expect(200);
    assert_eq!(me["role"], json!("editor"));
    let changed = audit(&api, &server, "member.role_change").await;
    assert_eq!(changed.last().unwrap()["detail"]["to"], json!("editor"));
}

#[tokio::test]
async fn password_sign_in_turned_off_leaves_owners_a_break_glass_path() {
    let issuer = Issuer::start().await;
    let server = server_with(&issuer, Options::default()).await;
    let api = Api::new(&server);
    let admin = api
        .post(
            "/v1/members",
            &server.owner_token,
            json!({"email": "adm@example.com", "role": "admin", "password": "admin-password-123"}),
        )
        .await
        .expect(201);
    assert_eq!(admin["member"]["role"], json!("admin"));
    let login = |email: &str, password: &str| json!({"email": email, "password": password});
    let admin_token = api
        .send(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(login("adm@example.com", "admin-password-123")),
        )
        .await
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not before the owner signed in with SSO once: it must be known to work.
    api.patch(
        "/v1/workspace/sso",
        &server.owner_token,
        json!({"password_sign_in": false}),
    )
    .await
    .expect_error(400, "sso.settings_invalid");
    issuer.plan(Plan::for_email(&server.owner_email));
    let mut browser = Browser::new();
    let callback = browser.through_provider(&server, "").await;
    assert_eq!(browser.get(&callback).await.status, StatusCode::OK);
    // Only owners turn it off.
    api.patch("/v1/workspace/sso", &admin_token, json!({"password_sign_in": false}))
        .await
        .expect_error(403, "permission.denied");
    let off = api
        .patch(
            "/v1/workspace/sso",
            &server.owner_token,
            json!({"password_sign_in": false}),
        )
        .await
        .expect(200);
    assert_eq!(off["password_sign_in"], json!(false));
    let refused = api
        .send(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(login(&server.owner_email, &server.owner_password)),
        )
        .await;
    refused.expect_error(403, "auth.password_sign_in_off");
    assert!(refused.message().contains("single sign-on"));
    // SSO still signs the owner in.
    issuer.plan(Plan::for_email(&server.owner_email));
    let mut browser = Browser::new();
    let callback = browser.through_provider(&server, "").await;
    assert_eq!(browser.get(&callback).await.status, StatusCode::OK);

    // The same data behind a server started with --password-break-glass: owners only.
    let data_dir = server.data_dir();
    let owner = (server.owner_email.clone(), server.owner_password.clone());
    let _kept = server.stop().await;
    let glass = server_with(
        &issuer,
        Options {
            data_dir: Some(data_dir),
            password_break_glass: true,
            ..Options::default()
        },
    )
    .await;
    let api = Api::new(&glass);
    let token = api
        .send(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(login(&owner.0, &owner.1)),
        )
        .await
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    api.send(
        reqwest::Method::POST,
        "/v1/auth/login",
        None,
        Some(login("adm@example.com", "admin-password-123")),
    )
    .await
    .expect_error(403, "auth.password_sign_in_off");
    let events = api.get("/v1/audit?action=auth.login", &token).await.expect(200);
    let glass_event = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["detail"]["break_glass"] == json!(true))
        .expect("the break-glass sign-in is audited as such");
    assert_eq!(glass_event["outcome"], json!("success"));
}

#[tokio::test]
async fn a_server_without_sso_cannot_turn_passwords_off_and_says_so() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let info = api
        .send(reqwest::Method::GET, "/v1/auth/sso", None, None)
        .await
        .expect(200);
    assert_eq!(info["enabled"], json!(false));
    api.patch(
        "/v1/workspace/sso",
        &server.owner_token,
        json!({"password_sign_in": false}),
    )
    .await
    .expect_error(400, "sso.settings_invalid");
    api.patch(
        "/v1/workspace/sso",
        &server.owner_token,
        json!({"group_roles": {"": "admin"}}),
    )
    .await
    .expect_error(400, "sso.settings_invalid");
    let mut browser = Browser::new();
    let page = browser.get(&format!("{}/sso/start", server.url)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let login = browser.get(&format!("{}/login", server.url)).await;
    assert!(!login.body.contains("Sign in with SSO"));
}

#[tokio::test]
async fn the_terminal_gets_a_one_time_code_that_needs_its_verifier() {
    let issuer = Issuer::start().await;
    let server = server_with(&issuer, Options::default()).await;
    let api = Api::new(&server);
    issuer.plan(Plan::for_email(&server.owner_email));
    let verifier = sealbox_client::SsoVerifier::generate();
    let client = sealbox_client::Client::new(&server.url, None).unwrap();
    let loopback = "http://127.0.0.1:9/callback";

    // Not a loopback address: refused before anyone is sent to the provider.
    for bad in [
        "http://evil.example:9/callback",
        "https://127.0.0.1:9/callback",
        "http://localhost:9/cb",
    ] {
        let url = client.sso_start_url(None, bad, &verifier).unwrap();
        let mut browser = Browser::new();
        let step = browser.get(url.as_str()).await;
        assert_eq!(step.status, StatusCode::BAD_REQUEST, "{bad}: {}", step.body);
        assert!(step.body.contains("cli_redirect"), "{}", step.body);
    }

    // Someone with the code but not the verifier gets nothing, and the code is spent.
    let code = terminal_code(&server, loopback, &verifier).await;
    let stolen = sealbox_client::SsoVerifier::generate();
    let Err(e) = client.sso_token(&code, &stolen).await else {
        panic!("a code without its verifier signed in");
    };
    assert!(e.to_string().contains("sso.state_invalid"), "{e}");
    assert!(client.sso_token(&code, &verifier).await.is_err());

    let code = terminal_code(&server, loopback, &verifier).await;
    let session = client.sso_token(&code, &verifier).await.unwrap();
    let me = api.get("/v1/auth/whoami", &session.token).await.expect(200);
    assert_eq!(me["name"], json!(server.owner_email));
    assert!(client.sso_token(&code, &verifier).await.is_err(), "once");
    let events = audit(&api, &server, "auth.sso_login").await;
    assert_eq!(events.last().unwrap()["detail"]["via"], json!("terminal"));
}

/// A terminal's sign-in through a browser: the one-time code the server sends to `loopback`.
async fn terminal_code(server: &TestServer, loopback: &str, verifier: &sealbox_client::SsoVerifier) -> String {
    let mut browser = Browser::new();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("cli_redirect", loopback)
        .append_pair("cli_challenge", &verifier.challenge())
        .finish();
    let callback = browser.through_provider(server, &query).await;
    let step = browser.get(&callback).await;
    assert_eq!(step.status, StatusCode::SEE_OTHER, "{}", step.body);
    assert!(browser.session().is_none(), "the browser gets no session");
    let to = step.location.unwrap();
    assert!(to.starts_with(&format!("{loopback}?code=")), "{to}");
    url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn one_address_cannot_fill_the_table_with_sign_ins_begun() {
    let issuer = Issuer::start().await;
    let server = server_with(&issuer, Options::default()).await;
    let mut browser = Browser::new();
    for i in 0..60 {
        let step = browser.get(&format!("{}/sso/start", server.url)).await;
        assert_eq!(step.status, StatusCode::SEE_OTHER, "begin {i}: {}", step.body);
    }
    let refused = browser.get(&format!("{}/sso/start", server.url)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.body);
    assert!(
        refused.body.contains("too many single sign-ons begun"),
        "{}",
        refused.body
    );
    // Another address is not affected.
    let mut elsewhere = Browser::new();
    elsewhere.http = reqwest::Client::builder()
        .redirect(Policy::none())
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let step = elsewhere.get(&format!("{}/sso/start", server.url)).await;
    assert_eq!(step.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_https_issuer_of_a_private_ca_is_trusted_through_extra_ca_file_only() {
    let pki = sealbox_test_peers::Pki::new();
    let issuer = Issuer::start_tls(&pki).await;
    assert!(issuer.url.starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();

    // Without the CA the provider cannot be reached: the sign-in page says so, nothing starts.
    let untrusting = server_with(&issuer, Options::default()).await;
    let mut browser = Browser::new();
    let step = browser.get(&format!("{}/sso/start", untrusting.url)).await;
    assert_eq!(step.status, StatusCode::FAILED_DEPENDENCY, "{}", step.body);
    assert!(
        step.body.contains("identity provider cannot be reached"),
        "{}",
        step.body
    );

    let server = server_with(
        &issuer,
        Options {
            extra_ca_file: Some(ca_file),
            ..Options::default()
        },
    )
    .await;
    issuer.plan(Plan::for_email(&server.owner_email));
    // The browser trusts the CA too (it visits the provider's pages).
    let mut browser = Browser::new();
    browser.http = reqwest::Client::builder()
        .redirect(Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let callback = browser.through_provider(&server, "").await;
    assert_eq!(browser.get(&callback).await.status, StatusCode::OK);
    assert!(browser.session().is_some());
}
