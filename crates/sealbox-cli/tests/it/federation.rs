//! Federated identities and token lifetimes from the command line (issue 14): `identity
//! federate`, `sealbox run --jwt-file` and `login --jwt-file` against a local OpenID Connect issuer
//! (HTTPS with the test CA), `workspace settings`, and token lists marking expiry.

use std::io::Write as _;

use jsonwebtoken::Algorithm;
use sealbox_test_peers::{OidcIssuer, Pki};

use crate::support::{Sealbox, run, start};

struct Federated {
    sb: Sealbox,
    issuer: OidcIssuer,
    dir: tempfile::TempDir,
}

fn federated() -> Federated {
    let pki = Pki::new();
    let issuer = OidcIssuer::start(&pki);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let sb = start(&["--extra-ca-file", ca.to_str().unwrap()]);
    sb.cli(&["identity", "create", "ci-deploy", "--tag", "team=payments"], None)
        .ok();
    let trust = sb.cli(
        &[
            "identity",
            "federate",
            "ci-deploy",
            "--issuer",
            &issuer.url,
            "--audience",
            "sealbox",
            "--claim",
            "sub=repo:acme/payments:ref:refs/heads/*",
            "--claim",
            "repository_owner=acme",
            "--ttl",
            "15m",
        ],
        None,
    );
    assert!(trust.ok().contains("now trusts JWTs of"), "{trust:#?}");
    Federated { sb, issuer, dir }
}

impl Federated {
    /// A JWT of the issuer for `subject`, written to a file (as a CI runner or the kubelet does).
    fn jwt_file(&self, name: &str, subject: &str) -> (std::path::PathBuf, String) {
        let mut claims = self.issuer.claims("sealbox", subject);
        claims["repository_owner"] = serde_json::json!("acme");
        let jwt = self.issuer.mint(Algorithm::ES256, &claims);
        let path = self.dir.path().join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        writeln!(file, "{jwt}").unwrap();
        (path, jwt)
    }
}

#[test]
fn sealbox_run_exchanges_a_platform_jwt_and_runs_with_the_identitys_secrets() {
    let f = federated();
    let sb = &f.sb;
    sb.cli(
        &[
            "secret",
            "create",
            "DEPLOY_KEY",
            "--type",
            "text",
            "--tag",
            "team=payments",
        ],
        Some("deploy-value-3c7e\n"),
    )
    .ok();
    sb.cli(
        &[
            "policy",
            "create",
            "deploy",
            "--identity-tag",
            "team=payments",
            "--secret-tag",
            "team=payments",
            "--allow",
            "read",
        ],
        None,
    )
    .ok();
    let (path, jwt) = f.jwt_file("token.jwt", "repo:acme/payments:ref:refs/heads/main");

    // No SEALBOX_TOKEN and nothing stored: the JWT is all the workload has.
    let ran = sb.cli_as(
        None,
        &[
            "run",
            "--jwt-file",
            path.to_str().unwrap(),
            "--identity",
            "ci-deploy",
            "--no-redact",
            "--",
            "sh",
            "-c",
            "printf %s \"$DEPLOY_KEY\"",
        ],
        None,
    );
    assert_eq!(ran.ok(), "deploy-value-3c7e", "{ran:#?}");

    // SEALBOX_JWT_FILE and SEALBOX_IDENTITY work too.
    let mut cmd = sb.command_as(None, &["run", "--", "sh", "-c", "printf %s \"$DEPLOY_KEY\""]);
    cmd.env("SEALBOX_JWT_FILE", &path).env("SEALBOX_IDENTITY", "ci-deploy");
    let ran = run(cmd, None);
    assert_eq!(ran.ok(), "*****", "masked by default: {ran:#?}");

    // A branch the trust does not take: refused with the code, the JWT not shown.
    let (other, other_jwt) = f.jwt_file("other.jwt", "repo:acme/other:ref:refs/heads/main");
    let refused = sb.cli_as(
        None,
        &[
            "run",
            "--jwt-file",
            other.to_str().unwrap(),
            "--identity",
            "ci-deploy",
            "--",
            "true",
        ],
        None,
    );
    refused.fails_with("auth.jwt_claims");
    assert!(!refused.all().contains(&other_jwt));
    // --jwt-file without --identity is a usage error.
    let usage = sb.cli_as(None, &["run", "--jwt-file", path.to_str().unwrap(), "--", "true"], None);
    assert_eq!(usage.status, 2, "{usage:#?}");

    // The exchanged tokens are listed with their expiry; audit has the issuer and subject.
    let tokens = sb.cli(&["identity", "token", "list", "ci-deploy"], None);
    assert!(tokens.ok().contains("(expires soon)"), "{tokens:#?}");
    let audit = sb.cli(&["--json", "audit", "list", "--action", "auth.jwt_exchange"], None);
    let text = audit.ok();
    assert!(text.contains("repo:acme/payments:ref:refs/heads/main"), "{audit:#?}");
    assert!(!text.contains(&jwt) && !sb.log().contains(&jwt));
    let signature = jwt.rsplit('.').next().unwrap();
    assert!(!text.contains(signature) && !sb.log().contains(signature));
}

#[test]
fn login_with_a_jwt_keeps_the_identitys_token_and_trusts_are_listed_and_removed() {
    let f = federated();
    let sb = &f.sb;
    let (path, _) = f.jwt_file("token.jwt", "repo:acme/payments:ref:refs/heads/main");
    let login = sb.cli_as(
        None,
        &["login", "--jwt-file", path.to_str().unwrap(), "--identity", "ci-deploy"],
        None,
    );
    assert!(login.ok().contains("as identity ci-deploy"), "{login:#?}");
    let me = sb.cli_as(None, &["whoami"], None);
    assert!(me.ok().contains("ci-deploy (identity)"), "{me:#?}");

    let list = sb
        .cli(&["--json", "identity", "federation", "list", "ci-deploy"], None)
        .json();
    let trust = &list["federations"][0];
    assert_eq!(trust["ttl_seconds"], 900);
    assert_eq!(trust["claims"]["repository_owner"], "acme");
    let id = trust["id"].as_str().unwrap();
    let table = sb.cli(&["identity", "federation", "list", "ci-deploy"], None);
    assert!(table.ok().contains(&f.issuer.url), "{table:#?}");
    sb.cli(&["identity", "federation", "remove", "ci-deploy", id], None)
        .ok();
    sb.cli(&["identity", "federation", "remove", "ci-deploy", id], None)
        .fails_with("federation.not_found");
    let refused = sb.cli_as(
        None,
        &[
            "login",
            "--no-store",
            "--jwt-file",
            path.to_str().unwrap(),
            "--identity",
            "ci-deploy",
        ],
        None,
    );
    refused.fails_with("auth.jwt_issuer_untrusted");
    // A trust whose issuer is not https is refused before anything is stored.
    sb.cli(
        &[
            "identity",
            "federate",
            "ci-deploy",
            "--issuer",
            "http://example.com",
            "--audience",
            "x",
        ],
        None,
    )
    .fails_with("federation.invalid");
}

#[test]
fn workspace_settings_bound_token_lifetimes_and_lists_mark_expiry() {
    let f = federated();
    let sb = &f.sb;
    let shown = sb.cli(&["workspace", "settings"], None);
    assert!(shown.ok().contains("none"), "{shown:#?}");
    let set = sb.cli(
        &[
            "workspace",
            "settings",
            "--max-token-ttl",
            "90d",
            "--default-token-ttl",
            "30d",
        ],
        None,
    );
    let out = set.ok();
    assert!(out.contains("90d") && out.contains("30d"), "{set:#?}");
    sb.cli(&["token", "create", "ci", "--ttl", "1y"], None)
        .fails_with("token.ttl_above_maximum");
    let refused = sb.cli(&["identity", "token", "create", "ci-deploy", "--ttl", "91d"], None);
    assert!(
        refused.fails_with("token.ttl_above_maximum").contains("90d"),
        "{refused:#?}"
    );
    let created = sb.cli(&["--json", "token", "create", "ci"], None).json();
    assert!(created["expires_at"].is_string(), "the default applies: {created}");
    sb.cli(&["token", "create", "soon", "--ttl", "2d"], None).ok();
    let list = sb.cli(&["token", "list"], None);
    assert!(list.ok().contains("(expires soon)"), "{list:#?}");
    let bad = sb.cli(&["workspace", "settings", "--max-token-ttl", "forever"], None);
    assert_eq!(bad.status, 2, "{bad:#?}");
    let cleared = sb.cli(
        &[
            "--json",
            "workspace",
            "settings",
            "--max-token-ttl",
            "none",
            "--default-token-ttl",
            "none",
        ],
        None,
    );
    assert_eq!(cleared.json()["max_token_ttl_seconds"], serde_json::Value::Null);
    sb.cli(&["token", "create", "forever"], None).ok();
}
