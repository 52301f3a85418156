//! The web panel's HTTP rules: the session cookie, CSRF, security headers, HTML errors with the
//! request id, editors refused by core, and no value in a page unless revealed. The browser flows
//! are in `tests/panel/` (scripts/test-panel).

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use crate::{Api, setup};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// A browser-like client: no automatic redirects, cookies sent by hand.
struct Browser {
    url: String,
    http: reqwest::Client,
    cookie: String,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The first hidden `csrf` field of the page.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        self.body[at..at + 64].to_owned()
    }
}

impl Browser {
    fn new(api: &Api) -> Self {
        Self {
            url: api.url.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: String::new(),
        }
    }

    fn with_session(api: &Api, token: &str) -> Self {
        let mut b = Self::new(api);
        b.cookie = format!("sealbox_session={token}");
        b
    }

    /// A browser whose requests come from `local` (another loopback address, another client).
    fn from_address(api: &Api, local: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(local.parse::<std::net::IpAddr>().unwrap())
                .build()
                .unwrap(),
            ..Self::new(api)
        }
    }

    async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap();
        // The one 5xx a page may have: the sign-in form when the server is too busy to check.
        let busy = status.as_u16() == 503 && body.contains("busy checking other passwords");
        assert!(status.as_u16() < 500 || busy, "server error {status}: {body}");
        Page { status, headers, body }
    }

    /// Opens the sign-in form: afterwards the browser holds its cookie; returns its CSRF token.
    async fn open_sign_in(&mut self) -> String {
        let login = self.get("/login").await;
        let nonce = login
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("sealbox_login="))
            .expect("a sign-in cookie");
        self.cookie = nonce.split(';').next().unwrap().to_owned();
        login.csrf()
    }

    async fn get(&self, path: &str) -> Page {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        Self::page(resp).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        Self::page(resp).await
    }

    /// Signs in through the form; returns the response to the POST.
    async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let csrf = self.open_sign_in().await;
        let reply = self
            .post("/login", &[("csrf", &csrf), ("email", email), ("password", password)])
            .await;
        if let Some(session) = reply
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("sealbox_session=sbx_"))
        {
            self.cookie = session.split(';').next().unwrap().to_owned();
        }
        reply
    }
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_that_expires_and_sign_out_revokes_it() {
    let (server, api) = setup().await;
    let mut b = Browser::new(&api);
    assert_eq!(
        b.get("/").await.header("location"),
        "/login",
        "signed out: to the sign-in page"
    );
    let reply = b.sign_in(&server.owner_email, &server.owner_password).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers.get(LOCATION).unwrap(), "/");
    let cookie = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sealbox_session=sbx_"))
        .unwrap();
    // The 12-hour session plus an hour, so a request just after expiry is told the session ended.
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=46800"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing: {cookie}"
        );
    }
    assert!(!cookie.contains("Secure"), "plain HTTP on loopback: no Secure flag");
    let page = b.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&server.owner_email));
    let token = b.cookie.trim_start_matches("sealbox_session=").to_owned();
    api.get("/v1/auth/whoami", &token).await.expect(200);

    let out = b.post("/logout", &[("csrf", &page.csrf())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("sealbox_session=;") && c.contains("Max-Age=0"))
    );
    api.get("/v1/auth/whoami", &token)
        .await
        .expect_error(401, "auth.token_revoked");
    assert_eq!(
        b.get("/").await.header("location"),
        "/login?notice=session_ended",
        "the revoked cookie signs nobody in"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_under_tls_or_behind_a_tls_proxy() {
    // --insecure-http: a proxy in front terminates TLS.
    let server = sealbox_testkit::TestServer::start_with(sealbox_testkit::Options {
        insecure_http: true,
        ..Default::default()
    })
    .await;
    let api = Api::new(&server);
    let mut b = Browser::new(&api);
    let reply = b.sign_in(&server.owner_email, &server.owner_password).await;
    let cookie = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sealbox_session=sbx_"))
        .unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_wrong_password_shows_the_error_on_the_form_and_sign_in_is_rate_limited() {
    let (server, api) = setup().await;
    let mut b = Browser::new(&api);
    let reply = b.sign_in(&server.owner_email, "wrong-password").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.header("content-type").starts_with("text/html"));
    assert!(
        reply.body.contains("e-mail, password or workspace is wrong"),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains(&format!("value=\"{}\"", server.owner_email)),
        "the e-mail is kept"
    );
    assert!(!reply.body.contains("wrong-password"), "the password is never put back");
    for _ in 0..4 {
        b.sign_in(&server.owner_email, "wrong-password").await;
    }
    // Core's limit applies to the panel too: even the right password is refused now.
    let reply = b.sign_in(&server.owner_email, &server.owner_password).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.body.contains("too many failed sign-ins"), "{}", reply.body);
    let failures = api
        .audit(&server.owner_token)
        .await
        .into_iter()
        .filter(|e| e["action"] == "auth.login" && e["outcome"] == "failure")
        .count();
    assert_eq!(failures, 5, "each failure is audited");
}

/// Issue 9: sign-ins beyond what the server can check at once (a few hashing threads and a
/// queue of 64) are refused with 503 `auth.busy`; on the panel that is the sign-in form with the
/// message, like a wrong password or the rate limit, never an error page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_refused_as_busy_show_the_form_with_the_reason() {
    let (_server, api) = setup().await;
    // 150 forms from 30 addresses, 5 e-mails each (under every rate limit), sent at once.
    let mut forms = Vec::new();
    for client in 1..=30 {
        for n in 0..5 {
            let mut b = Browser::from_address(&api, &format!("127.0.3.{client}"));
            let csrf = b.open_sign_in().await;
            forms.push((b, csrf, format!("visitor{n}@example.com")));
        }
    }
    let sent: Vec<_> = forms
        .into_iter()
        .map(|(b, csrf, email)| {
            tokio::spawn(async move {
                let fields = [
                    ("csrf", csrf.as_str()),
                    ("email", &email),
                    ("password", "not the password"),
                ];
                (b.post("/login", &fields).await, email)
            })
        })
        .collect();
    let mut busy = 0;
    for task in sent {
        let (reply, email) = task.await.unwrap();
        assert!(reply.header("content-type").starts_with("text/html"));
        assert!(
            reply.body.contains(&format!("value=\"{email}\"")),
            "the form again: {}",
            reply.body
        );
        match reply.status.as_u16() {
            401 => assert!(reply.body.contains("e-mail, password or workspace is wrong")),
            503 => {
                busy += 1;
                assert!(reply.body.contains("try again in a moment"), "{}", reply.body);
                assert_eq!(reply.header("retry-after"), "1");
            }
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    // 150 at once against at most 4 running and 64 waiting: some must have been refused.
    assert!(busy > 0, "no sign-in was refused as busy");
}

#[tokio::test]
async fn sign_in_without_its_form_token_is_refused() {
    let (server, api) = setup().await;
    let b = Browser::new(&api);
    let reply = b
        .post(
            "/login",
            &[
                ("email", server.owner_email.as_str()),
                ("password", &server.owner_password),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        reply
            .set_cookies()
            .iter()
            .all(|c| !c.starts_with("sealbox_session=sbx_"))
    );
}

#[tokio::test]
async fn a_personal_access_token_in_the_cookie_is_not_a_session() {
    let (server, api) = setup().await;
    let b = Browser::with_session(&api, &server.owner_token);
    let reply = b.get("/").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        "/login",
        "only sign-in sessions live in the cookie"
    );
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let form = [
        ("name", "FORGED"),
        ("type", "text"),
        ("value", "v"),
        ("visibility", "masked"),
    ];
    let missing = b.post("/secrets", &form).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(
        missing.body.contains("security token is missing or wrong"),
        "{}",
        missing.body
    );
    let other = api.login(&server.owner_email, &server.owner_password).await;
    let other_csrf = Browser::with_session(&api, &other).get("/").await.csrf();
    let mut wrong = form.to_vec();
    wrong.push(("csrf", &other_csrf));
    let reply = b.post("/secrets", &wrong).await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "another session's token does not do"
    );
    let mut garbage = form.to_vec();
    garbage.push(("csrf", "not-hex"));
    assert_eq!(b.post("/secrets", &garbage).await.status, StatusCode::FORBIDDEN);
    api.get("/v1/secrets/FORGED", owner)
        .await
        .expect_error(404, "secret.not_found");
    // Sign-out is a POST too.
    assert_eq!(b.post("/logout", &[]).await.status, StatusCode::FORBIDDEN);
    api.get("/v1/auth/whoami", &session).await.expect(200);
    // With the page's own token it works.
    let csrf = b.get("/").await.csrf();
    let mut good = form.to_vec();
    good.push(("csrf", &csrf));
    let reply = b.post("/secrets", &good).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    api.get("/v1/secrets/FORGED", owner).await.expect(200);
}

#[tokio::test]
async fn every_page_has_the_security_headers_and_no_store() {
    let (server, api) = setup().await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    api.create_text(&server.owner_token, "HEADERS", "v").await;
    for path in [
        "/",
        "/login",
        "/secrets/HEADERS",
        "/trash",
        "/identities",
        "/policies",
        "/members",
        "/audit",
        "/nope",
        "/secrets/MISSING",
        "/static/app.css",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.header("content-security-policy"), CSP, "{path}");
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
    }
    let css = b.get("/static/app.css").await;
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    let js = b.get("/static/app.js").await;
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(b.get("/static/icon.svg").await.header("content-type"), "image/svg+xml");
    // No inline script or style anywhere in a page: the CSP would block them.
    let page = b.get("/").await;
    assert!(
        !page.body.contains("<script>") && !page.body.contains("style=\""),
        "{}",
        page.body
    );
    for external in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!page.body.contains(external), "no external asset: {external}");
    }
}

#[tokio::test]
async fn panel_errors_are_html_pages_with_the_request_id_and_the_api_keeps_json() {
    let (server, api) = setup().await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    for (path, status) in [("/nope", 404), ("/secrets/MISSING", 404), ("/static/nope.js", 404)] {
        let page = b.get(path).await;
        assert_eq!(page.status.as_u16(), status, "{path}");
        assert!(page.header("content-type").starts_with("text/html"), "{path}");
        let request_id = page.header("x-request-id").to_owned();
        assert!(page.body.contains(&request_id), "{path}: the page shows the request id");
    }
    let missing = b.get("/secrets/MISSING").await;
    assert!(missing.body.contains("no secret named MISSING") || missing.body.contains("MISSING"));
    // Method not allowed on a panel route is HTML too.
    let wrong = b.post("/trash", &[]).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong.header("content-type").starts_with("text/html"));
    // The JSON API's boundary is untouched.
    let r = api.get("/v1/nope", &server.owner_token).await;
    r.expect_error(404, "request.not_found");
    let r = api.get("/v1/secrets/MISSING", &server.owner_token).await;
    r.expect_error(404, "secret.not_found");
}

#[tokio::test]
async fn an_editors_forged_posts_are_refused_by_core() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "KEEP", "editor-sees-dots").await;
    let editor = api.member_token(owner, "ed@example.com", "editor").await;
    let b = Browser::with_session(&api, &editor);
    let page = b.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("New Secret"), "no create control for editors");
    let detail = b.get("/secrets/KEEP").await;
    assert!(!detail.body.contains("id=\"edit-form\"") && !detail.body.contains("confirm-delete"));
    let csrf = page.csrf();
    for (path, form) in [
        (
            "/secrets",
            vec![
                ("name", "NEW"),
                ("type", "text"),
                ("value", "x"),
                ("visibility", "masked"),
            ],
        ),
        ("/secrets/KEEP/edit", vec![("value", "changed"), ("description", "x")]),
        ("/secrets/KEEP/delete", vec![("confirm_name", "KEEP")]),
        ("/secrets/KEEP/rollback", vec![("to", "1")]),
        ("/members", vec![("email", "x@example.com"), ("role", "owner")]),
        ("/identities", vec![("name", "bot")]),
    ] {
        let mut form = form;
        form.push(("csrf", &csrf));
        let reply = b.post(path, &form).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}: {}", reply.body);
        assert!(
            reply.body.contains("your role (editor) may not"),
            "{path}: {}",
            reply.body
        );
        assert!(reply.body.contains(reply.header("x-request-id")), "{path}");
    }
    api.get("/v1/secrets/NEW", owner)
        .await
        .expect_error(404, "secret.not_found");
    let kept = api.get("/v1/secrets/KEEP", owner).await.expect(200);
    assert_eq!(kept["version"], 1);
    assert_eq!(api.reveal(owner, "KEEP").await.expect(200)["value"], "editor-sees-dots");
}

#[tokio::test]
async fn no_value_is_in_a_page_except_on_an_explicit_reveal() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "TEXT_ONE", "value-text-1234").await;
    api.post(
        "/v1/secrets",
        owner,
        serde_json::json!({"name": "MAIL", "type": "smtp", "value": {"host": "smtp.example.com", "password": "value-smtp-5678"}}),
    )
    .await
    .expect(201);
    api.post(
        "/v1/secrets",
        owner,
        serde_json::json!({"name": "LOCKED", "type": "text", "value": "value-restricted-9", "visibility": "restricted"}),
    )
    .await
    .expect(201);
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    for path in [
        "/",
        "/secrets/TEXT_ONE",
        "/secrets/MAIL",
        "/secrets/LOCKED",
        "/audit",
        "/?q=TEXT",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for v in ["value-text-1234", "value-smtp-5678", "value-restricted-9"] {
            assert!(!page.body.contains(v), "{path} holds a value");
        }
    }
    let csrf = b.get("/").await.csrf();
    // A reveal without JavaScript: a page, not cached, that goes back after the reveal time.
    let shown = b.post("/secrets/TEXT_ONE/reveal", &[("csrf", &csrf)]).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("value-text-1234"));
    assert!(
        shown
            .body
            .contains("http-equiv=\"refresh\" content=\"30;url=/secrets/TEXT_ONE\"")
    );
    assert_eq!(shown.header("cache-control"), "no-store");
    // The script's reveal: JSON.
    let resp = b
        .http
        .post(format!("{}/secrets/MAIL/reveal", b.url))
        .header("cookie", &b.cookie)
        .header("accept", "application/json")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let json: serde_json::Value = resp.json().await.unwrap();
    assert!(json["value"].as_str().unwrap().contains("password: value-smtp-5678"));
    assert_eq!(json["seconds"], 30);
    // A restricted value is refused for everyone, and the refusal is audited by core.
    let refused = b.post("/secrets/LOCKED/reveal", &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains("value-restricted-9"));
    let events = api.audit(owner).await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "secret.reveal" && e["target"] == "secret:LOCKED" && e["outcome"] == "denied")
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["action"] == "secret.reveal" && e["outcome"] == "success")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_form_with_errors_comes_back_with_them_beside_the_fields() {
    let (server, api) = setup().await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let csrf = b.get("/").await.csrf();
    let reply = b
        .post(
            "/secrets",
            &[
                ("csrf", &csrf),
                ("name", "OK_NAME"),
                ("type", "smtp"),
                ("host", "smtp.example.com"),
                ("port", "99999"),
                ("from", "not-an-address"),
                ("visibility", "masked"),
                ("tags", "env=prod"),
                ("metadata", "{broken"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.header("content-type").starts_with("text/html"),
        "not rewritten into JSON"
    );
    assert!(reply.body.contains("id=\"err-metadata\""), "{}", reply.body);
    assert!(reply.body.contains("value=\"smtp.example.com\""), "typed input is kept");
    assert!(
        reply.body.contains("class=\"sidepanel open\""),
        "the side panel is open again"
    );
    // Metadata fixed: now core's value rules speak, each beside its field.
    let reply = b
        .post(
            "/secrets",
            &[
                ("csrf", &csrf),
                ("name", "OK_NAME"),
                ("type", "smtp"),
                ("host", "smtp.example.com"),
                ("port", "99999"),
                ("from", "not-an-address"),
                ("visibility", "masked"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("must be 1-65535"), "{}", reply.body);
    // Each bad field is marked invalid and points at its message (for screen readers and focus).
    for (input, error) in [("n-port", "err-n-port"), ("n-from", "err-n-from")] {
        let at = reply.body.find(&format!("id=\"{input}\"")).unwrap();
        let tag = &reply.body[at..at + reply.body[at..].find('>').unwrap()];
        assert!(
            tag.contains(&format!("aria-invalid=\"true\" aria-describedby=\"{error}\"")),
            "{tag}"
        );
        assert!(reply.body.contains(&format!("id=\"{error}\"")), "{input}");
    }
    assert!(reply.body.contains("must be an e-mail address"), "{}", reply.body);
    api.get("/v1/secrets/OK_NAME", &server.owner_token)
        .await
        .expect_error(404, "secret.not_found");
}

#[tokio::test]
async fn delete_needs_the_typed_name_on_the_server_too() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "DOOMED", "v").await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let csrf = b.get("/").await.csrf();
    let reply = b
        .post("/secrets/DOOMED/delete", &[("csrf", &csrf), ("confirm_name", "doomed")])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("type the secret&#39;s name") || reply.body.contains("type the secret"));
    api.get("/v1/secrets/DOOMED", owner).await.expect(200);
    let reply = b
        .post("/secrets/DOOMED/delete", &[("csrf", &csrf), ("confirm_name", "DOOMED")])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/trash?notice=deleted");
    let trash = b.get("/trash").await;
    assert!(trash.body.contains("DOOMED"));
    let reply = b.post("/trash/DOOMED/restore", &[("csrf", &csrf)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    api.get("/v1/secrets/DOOMED", owner).await.expect(200);
    // Purge: the same typed-name check, then gone for good.
    api.delete("/v1/secrets/DOOMED", owner).await.expect(200);
    let reply = b
        .post("/trash/DOOMED/purge", &[("csrf", &csrf), ("confirm_name", "")])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body.contains("class=\"modal open\""),
        "the confirmation is shown again"
    );
    assert_eq!(
        api.get("/v1/trash", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let reply = b
        .post("/trash/DOOMED/purge", &[("csrf", &csrf), ("confirm_name", "DOOMED")])
        .await;
    assert_eq!(reply.header("location"), "/trash?notice=purged");
    assert_eq!(
        api.get("/v1/trash", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // A name in the URL that is not in the trash opens nothing and is not echoed.
    let page = b.get("/trash?purge=%3Cscript%3E").await;
    assert!(!page.body.contains("<script>") && !page.body.contains("class=\"modal open\""));
}

#[tokio::test]
async fn saving_an_untouched_edit_form_changes_nothing_and_says_so() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.post(
        "/v1/secrets",
        owner,
        serde_json::json!({"name": "SAME", "type": "text", "value": "v1-value", "description": "d", "tags": {"env": "prod"}}),
    )
    .await
    .expect(201);
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let csrf = b.get("/secrets/SAME").await.csrf();
    let untouched = [
        ("csrf", csrf.as_str()),
        ("version", "1"),
        ("description", "d"),
        ("tags", "env=prod"),
        ("metadata", ""),
    ];
    let reply = b.post("/secrets/SAME/edit", &untouched).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("nothing changed"), "{}", reply.body);
    let updates = api
        .audit(owner)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.update")
        .count();
    assert_eq!(updates, 0);
    // A new value alone: a new version, the rest kept.
    let mut changed = untouched.to_vec();
    changed.push(("value", "v2-value"));
    let reply = b.post("/secrets/SAME/edit", &changed).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let d = api.get("/v1/secrets/SAME", owner).await.expect(200);
    assert_eq!(d["version"], 2);
    assert_eq!(d["tags"]["env"], "prod");
    assert_eq!(api.reveal(owner, "SAME").await.expect(200)["value"], "v2-value");
    // A stale form (version 1 while the secret is at 2) is refused with a message, not applied.
    let mut stale = untouched.to_vec();
    stale.push(("value", "v3-value"));
    let reply = b.post("/secrets/SAME/edit", &stale).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("someone changed this secret"), "{}", reply.body);
    assert_eq!(api.reveal(owner, "SAME").await.expect(200)["value"], "v2-value");
}

/// The value the page put into the input `id` (HTML-unescaped), as a browser would send it back.
fn input_value(body: &str, id: &str) -> String {
    let at = body.find(&format!("id=\"{id}\"")).expect("the input");
    let rest = &body[at..];
    let v = rest.find("value=\"").expect("a value") + 7;
    let end = rest[v..].find('"').unwrap();
    rest[v..v + end]
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn saving_the_edit_form_keeps_tags_and_a_description_the_form_cannot_show_as_stored() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    // Set through the API: a tag value with a comma and an `=`, one with spaces at its ends, and a
    // description on two lines (an `<input type=text>` drops line breaks).
    api.post(
        "/v1/secrets",
        owner,
        serde_json::json!({"name": "ODD", "type": "text", "value": "v1-value",
            "description": "line one\nline two",
            "tags": {"owners": "core, ops=yes", "note": " padded "}}),
    )
    .await
    .expect(201);
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let page = b.get("/secrets/ODD").await;
    let tags = input_value(&page.body, "e-tags");
    let description = input_value(&page.body, "e-desc").replace(['\r', '\n'], "");
    // Only a new value is typed; everything else goes back as the page showed it.
    let reply = b
        .post(
            "/secrets/ODD/edit",
            &[
                ("csrf", &page.csrf()),
                ("version", "1"),
                ("value", "v2-value"),
                ("description", &description),
                ("tags", &tags),
                ("metadata", ""),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let d = api.get("/v1/secrets/ODD", owner).await.expect(200);
    assert_eq!(d["version"], 2);
    assert_eq!(
        d["tags"],
        serde_json::json!({"owners": "core, ops=yes", "note": " padded "}),
        "untouched tags are not rewritten"
    );
    assert_eq!(
        d["description"], "line one\nline two",
        "an untouched description is kept"
    );
    // Changing the tags on purpose still works.
    let page = b.get("/secrets/ODD").await;
    let reply = b
        .post(
            "/secrets/ODD/edit",
            &[
                ("csrf", &page.csrf()),
                ("version", "2"),
                ("description", &input_value(&page.body, "e-desc")),
                ("tags", "env=prod"),
                ("metadata", ""),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let d = api.get("/v1/secrets/ODD", owner).await.expect(200);
    assert_eq!(d["tags"], serde_json::json!({"env": "prod"}));
    assert_eq!(d["description"], "line one\nline two");
}

#[tokio::test]
async fn an_ended_session_goes_back_to_sign_in_and_says_why() {
    let (server, api) = setup().await;
    api.create_text(&server.owner_token, "AFTER", "v").await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let csrf = b.get("/").await.csrf();
    // Signed out elsewhere (or expired): the cookie names a session that has ended.
    api.post("/v1/auth/logout", &session, serde_json::json!({}))
        .await
        .expect(204);
    for reply in [
        b.get("/secrets/AFTER").await,
        b.post("/secrets/AFTER/reveal", &[("csrf", &csrf)]).await,
    ] {
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let to = reply.header("location").to_owned();
        assert!(to.starts_with("/login"), "{to}");
        assert!(
            reply
                .set_cookies()
                .iter()
                .any(|c| c.starts_with("sealbox_session=;") && c.contains("Max-Age=0")),
            "the dead cookie is cleared"
        );
        let login = Browser::new(&api).get(&to).await;
        assert_eq!(login.status, StatusCode::OK);
        assert!(
            login.body.contains("Your session has ended"),
            "the sign-in page says why: {}",
            login.body
        );
    }
    // Never signed in: the plain sign-in page, no such message.
    let fresh = Browser::new(&api).get("/").await;
    assert_eq!(fresh.header("location"), "/login");
}

#[tokio::test]
async fn text_from_users_is_escaped_in_every_page() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let evil = "<img src=x onerror=alert(1)>\"'";
    api.post(
        "/v1/secrets",
        owner,
        serde_json::json!({"name": "XSS", "type": "smtp",
            "value": {"host": "smtp.example.com", "port": 25, "username": evil, "password": "p", "from": "a@b.c"},
            "description": evil, "tags": {"t": evil}, "metadata": {"m": "<b>h</b>"}}),
    )
    .await
    .expect(201);
    api.post(
        "/v1/members",
        owner,
        serde_json::json!({"email": "<img/src=x/onerror=alert(1)>@example.com", "role": "editor"}),
    )
    .await
    .expect(201);
    api.post(
        "/v1/identities",
        owner,
        serde_json::json!({"name": "bot", "tags": {"k": evil}}),
    )
    .await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    for path in [
        "/",
        "/secrets/XSS",
        "/members",
        "/audit",
        "/identities",
        "/identities/bot",
        "/?q=%3Cimg%3E&tag=%22%3E%3Cimg%3E",
    ] {
        let page = b.get(path).await;
        assert!(page.status.is_success(), "{path}: {}", page.status);
        for raw in ["<img src=x", "<img/src=x", "<b>h", ">\"'"] {
            if let Some(at) = page.body.find(raw) {
                panic!(
                    "{path} holds {raw} unescaped: {}",
                    &page.body[at.saturating_sub(300)..at + 100]
                );
            }
        }
    }
}

#[tokio::test]
async fn no_odd_form_or_path_makes_the_panel_fail() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "ODD_INPUT", "v").await;
    api.post("/v1/identities", owner, serde_json::json!({"name": "bot"}))
        .await
        .expect(201);
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let csrf = b.get("/").await.csrf();
    let raw = |path: &str, body: Vec<u8>| {
        let req = b
            .http
            .post(format!("{}{path}", b.url))
            .header("cookie", &b.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        async move { Browser::page(req.send().await.unwrap()).await }
    };
    let with_csrf = |rest: &[u8]| {
        let mut body = format!("csrf={csrf}&").into_bytes();
        body.extend_from_slice(rest);
        body
    };
    // Invalid UTF-8, raw and percent-encoded; duplicated and missing fields; a huge body.
    for (path, body) in [
        (
            "/secrets",
            with_csrf(b"name=%FF%FE&type=text&value=\xff\xfe&visibility=masked"),
        ),
        (
            "/secrets",
            with_csrf(b"name=A&name=B&type=text&type=smtp&value=x&visibility=masked"),
        ),
        ("/secrets", with_csrf(b"")),
        ("/secrets", with_csrf(b"type=nope&visibility=nope&port=x&metadata=[1]")),
        (
            "/secrets/ODD_INPUT/edit",
            with_csrf(b"version=zz&metadata=%FF&tags=%00=%00"),
        ),
        ("/secrets/ODD_INPUT/rollback", with_csrf(b"to=-1")),
        ("/secrets/ODD_INPUT/rollback", with_csrf(b"to=99999999999999999999")),
        ("/secrets/ODD_INPUT/delete", with_csrf(b"confirm_name=%FF")),
        (
            "/identities/bot/tokens",
            with_csrf(b"name=%E2%80%AE&expires_days=18446744073709551615"),
        ),
        ("/identities/bot/env", with_csrf(b"key=&value=")),
        ("/members", with_csrf(b"email=%00&role=owner&password=x")),
        ("/policies", with_csrf(b"name=&allow=nope&identity_tags=x")),
        ("/secrets", with_csrf(&vec![b'a'; 300 * 1024])),
        ("/login", b"csrf=%FF&email=%FF&password=\xff".to_vec()),
    ] {
        let page = raw(path, body).await;
        let first_wins = page.status == StatusCode::SEE_OTHER && page.header("location").starts_with("/secrets/A?");
        assert!(
            page.status.is_client_error() || first_wins,
            "{path}: {} {}",
            page.status,
            page.body
        );
        assert!(
            first_wins || page.header("content-type").starts_with("text/html"),
            "{path}"
        );
    }
    // Odd path segments: invalid UTF-8, control and bidi characters, slashes, very long names.
    let long = "A".repeat(4000);
    for path in [
        "/secrets/%FF",
        "/secrets/%00",
        "/secrets/%E2%80%AE",
        "/secrets/a%2Fb",
        &format!("/secrets/{long}"),
        "/identities/%FF",
        "/audit?since=garbage&until=%FF&actor=%00",
        "/audit?since=2026-13-45T99:99",
        "/?q=%FF&tag=%3D&type=%00&visibility=x",
        "/trash?purge=%FF",
    ] {
        let page = b.get(path).await;
        assert!(page.status.as_u16() < 500, "{path}");
    }
    for path in [
        "/secrets/%FF/reveal",
        "/members/%FF/role",
        "/members/%E2%80%AE/remove",
        "/identities/bot/env/%FF/delete",
        "/identities/bot/tokens/%00/revoke",
        "/policies/%FF/delete",
        "/trash/%FF/restore",
    ] {
        let page = b.post(path, &[("csrf", &csrf), ("role", "admin")]).await;
        assert!(page.status.is_client_error(), "{path}: {}", page.status);
    }
    api.get("/v1/secrets/ODD_INPUT", owner).await.expect(200);
}

#[tokio::test]
async fn the_audit_actor_filter_takes_the_e_mail_the_table_shows() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "AUDITED", "v").await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let rows = |page: &Page| page.body.matches("data-label=\"Actor\"").count();
    let all = b.get("/audit").await;
    assert!(rows(&all) > 0);
    // The table shows `admin@...` without core's `member:` prefix; typing that must find them.
    let typed = b.get(&format!("/audit?actor={}", server.owner_email)).await;
    assert_eq!(typed.status, StatusCode::OK);
    assert!(
        typed.body.contains("secret.create") && rows(&typed) > 0,
        "{}",
        typed.body
    );
    let prefixed = b.get(&format!("/audit?actor=member:{}", server.owner_email)).await;
    assert_eq!(rows(&prefixed), rows(&typed), "the full label finds the same events");
    let nobody = b.get("/audit?actor=nobody@example.com").await;
    assert_eq!(rows(&nobody), 0);
}

#[tokio::test]
async fn a_policy_form_with_errors_keeps_the_chosen_access() {
    let (server, api) = setup().await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let fresh = b.get("/policies").await;
    let checked = |page: &Page, v: &str| {
        let at = page.body.find(&format!("name=\"allow\" value=\"{v}\"")).unwrap();
        let tag = &page.body[at..at + page.body[at..].find('>').unwrap()];
        tag.contains("checked")
    };
    assert!(
        checked(&fresh, "read") && !checked(&fresh, "use"),
        "read is the default"
    );
    let reply = b
        .post(
            "/policies",
            &[
                ("csrf", &fresh.csrf()),
                ("name", ""),
                ("secret_tags", "env=prod"),
                ("allow", "use"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.body.contains("value=\"env=prod\""), "typed tags are kept");
    assert!(
        checked(&reply, "use") && !checked(&reply, "read"),
        "the access chosen is kept, not reset to the default"
    );
}

#[tokio::test]
async fn a_text_value_from_the_form_keeps_its_line_breaks_as_typed_and_counted() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let csrf = b.get("/").await.csrf();
    // A browser sends a textarea's line breaks as CRLF whatever was typed or pasted; the page's
    // counter counts each as one character, like core does for "\n".
    let lines = "x".repeat(47);
    let typed = vec![lines.as_str(); 42].join("\r\n"); // 42*47 + 41 = 2015 characters counted
    let reply = b
        .post(
            "/secrets",
            &[
                ("csrf", csrf.as_str()),
                ("name", "MULTI"),
                ("type", "text"),
                ("value", &typed),
                ("visibility", "masked"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let value = api.reveal(owner, "MULTI").await.expect(200)["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        value,
        typed.replace("\r\n", "\n"),
        "stored with the LF line breaks typed"
    );
    // The same for a new value on the edit form; a 2048-character value with line breaks fits.
    let long = vec!["y".repeat(63).as_str(); 32].join("\r\n"); // 32*63 + 31 = 2047
    let reply = b
        .post(
            "/secrets/MULTI/edit",
            &[
                ("csrf", csrf.as_str()),
                ("version", "1"),
                ("value", &format!("{long}z")),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let value = api.reveal(owner, "MULTI").await.expect(200)["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(value.chars().count(), 2048);
    assert!(!value.contains('\r'));
}

#[tokio::test]
async fn an_identity_tags_form_with_an_error_keeps_what_was_typed() {
    let (server, api) = setup().await;
    api.post(
        "/v1/identities",
        &server.owner_token,
        serde_json::json!({"name": "bot", "tags": {"env": "prod"}}),
    )
    .await
    .expect(201);
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let page = b.get("/identities/bot").await;
    assert_eq!(input_value(&page.body, "t-tags"), "env=prod");
    let reply = b
        .post(
            "/identities/bot/tags",
            &[("csrf", &page.csrf()), ("tags", "env=prod, team core")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.body.contains("key=value"), "{}", reply.body);
    assert_eq!(
        input_value(&reply.body, "t-tags"),
        "env=prod, team core",
        "the typed tags are kept to fix, not replaced by the stored ones"
    );
}

#[tokio::test]
async fn deleting_an_identity_needs_its_typed_name() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.post("/v1/identities", owner, serde_json::json!({"name": "deploy-bot"}))
        .await
        .expect(201);
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let page = b.get("/identities/deploy-bot").await;
    assert!(
        page.body.contains(&format!("by {}</p>", server.owner_email)),
        "the creator is shown as the e-mail, as elsewhere: {}",
        page.body
    );
    assert!(
        page.body
            .contains("href=\"/identities/deploy-bot?delete=1#confirm-delete\""),
        "the button opens a confirmation, it does not delete: {}",
        page.body
    );
    let csrf = page.csrf();
    for typed in [None, Some("deploy"), Some("DEPLOY-BOT")] {
        let mut form = vec![("csrf", csrf.as_str())];
        if let Some(t) = typed {
            form.push(("confirm_name", t));
        }
        let reply = b.post("/identities/deploy-bot/delete", &form).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{typed:?}");
        assert!(
            reply.body.contains("class=\"modal open\""),
            "the confirmation is shown again"
        );
        assert!(reply.body.contains("type the identity"), "{}", reply.body);
        api.get("/v1/identities/deploy-bot", owner).await.expect(200);
    }
    let opened = b.get("/identities/deploy-bot?delete=1").await;
    assert!(opened.body.contains("class=\"modal open\""), "open without JavaScript");
    let reply = b
        .post(
            "/identities/deploy-bot/delete",
            &[("csrf", csrf.as_str()), ("confirm_name", "deploy-bot")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/identities?notice=identity_deleted");
    api.get("/v1/identities/deploy-bot", owner)
        .await
        .expect_error(404, "identity.not_found");
}

/// The forms are derived from each type's fields: a database and an SSH key secret are created
/// and edited through them like the others (issue 10).
#[tokio::test]
async fn database_and_ssh_key_secrets_through_the_derived_forms() {
    let (server, api) = setup().await;
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let b = Browser::with_session(&api, &session);
    let list = b.get("/").await;
    let csrf = list.csrf();
    for input in [
        "n-db_engine",
        "n-db_host",
        "n-db_port",
        "n-db_password",
        "n-ssh_private_key",
        "n-host",
        "n-value",
    ] {
        assert!(list.body.contains(&format!("id=\"{input}\"")), "{input}");
    }
    assert!(
        list.body.contains("<option value=\"database\""),
        "the type select lists it"
    );
    let reply = b
        .post(
            "/secrets",
            &[
                ("csrf", &csrf),
                ("name", "APP_DB"),
                ("type", "database"),
                ("db_engine", "mysql"),
                ("db_host", "db.internal"),
                ("db_port", ""),
                ("db_username", "app"),
                ("db_password", "db-password-1"),
                ("host", "ignored-smtp-host"),
                ("visibility", "masked"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let revealed = api.reveal(&server.owner_token, "APP_DB").await.expect(200);
    assert_eq!(
        revealed["value"],
        serde_json::json!({"engine": "mysql", "host": "db.internal", "port": 3306, "username": "app", "password": "db-password-1"})
    );
    let page = b.get("/secrets/APP_DB").await;
    assert!(
        page.body.contains("<dt>Engine</dt><dd class=\"mono\">mysql</dd>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<dt>Port</dt><dd class=\"mono\">3306</dd>"));
    assert!(!page.body.contains("db-password-1"));
    assert!(
        page.body.contains("id=\"e-db_password\""),
        "the edit form has the type's inputs"
    );
    assert!(!page.body.contains("id=\"e-host\""), "and no other type's");
    // A bad field comes back beside its input.
    let csrf = page.csrf();
    let reply = b
        .post(
            "/secrets/APP_DB/edit",
            &[
                ("csrf", &csrf),
                ("db_engine", "mysql"),
                ("db_host", "bad host"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body.contains("aria-describedby=\"err-e-db_host\""),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("must be a host name or IP address"));
    // The edit form as the page renders it (the engine chosen, the other value inputs empty)
    // changes only what was typed: the value and its version stay.
    assert!(
        page.body.contains("<option value=\"mysql\" selected>"),
        "the stored engine is chosen"
    );
    assert!(
        page.body
            .contains("id=\"e-db_host\" name=\"db_host\" type=\"text\" value=\"\"")
    );
    let reply = b
        .post(
            "/secrets/APP_DB/edit",
            &[
                ("csrf", &csrf),
                ("db_engine", "mysql"),
                ("db_host", ""),
                ("db_port", ""),
                ("db_password", ""),
                ("description", "the app's database"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let details = api.get("/v1/secrets/APP_DB", &server.owner_token).await.expect(200);
    assert_eq!(details["version"], 1);
    assert_eq!(details["description"], "the app's database");

    let (private, public) = crate::kinds::keygen("");
    let reply = b
        .post(
            "/secrets",
            &[
                ("csrf", &csrf),
                ("name", "DEPLOY_KEY"),
                ("type", "ssh_key"),
                ("ssh_private_key", &private.replace('\n', "\r\n")),
                ("visibility", "restricted"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let page = b.get("/secrets/DEPLOY_KEY").await;
    let key_part = public.split(' ').nth(1).unwrap();
    assert!(page.body.contains(key_part), "the public key is a detail");
    assert!(
        !page.body.contains("PRIVATE KEY-----\n"),
        "the private key is never in the page"
    );
}

/// Issue 14: an identity's page marks tokens that expire within 7 days.
#[tokio::test]
async fn an_identitys_page_marks_tokens_that_expire_soon() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.post("/v1/identities", owner, serde_json::json!({"name": "bot"}))
        .await
        .expect(201);
    for (name, ttl) in [("short", 86_400), ("long", 90 * 86_400)] {
        api.post(
            "/v1/identities/bot/tokens",
            owner,
            serde_json::json!({"name": name, "expires_in_seconds": ttl}),
        )
        .await
        .expect(201);
    }
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let page = Browser::with_session(&api, &session).get("/identities/bot").await;
    assert_eq!(page.body.matches("(expires soon)").count(), 1, "{}", page.body);
}
