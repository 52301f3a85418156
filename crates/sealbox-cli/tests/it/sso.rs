//! Single sign-on from the CLI (issue 14): `sealbox workspace sso` shows and changes the rules,
//! refuses what the server refuses, and `sealbox login --sso` says when the server has no single
//! sign-on. The whole `login --sso` flow through a browser is in the browser suite
//! (`crates/sealbox-server/tests/panel/sso.test.js`), against a real provider.

use crate::support::setup;

#[test]
fn workspace_sso_shows_and_changes_the_rules() {
    let sb = setup();
    let shown = sb.cli(&["workspace", "sso"], None);
    let out = shown.ok();
    assert!(out.contains("not configured on this server"), "{out}");
    assert!(out.contains("password sign-in") && out.contains("on"), "{out}");

    let changed = sb.cli(
        &[
            "--json",
            "workspace",
            "sso",
            "--create-members",
            "editor",
            "--group-role",
            "platform-admins=admin",
            "--group-role",
            "devs=editor",
        ],
        None,
    );
    let v = changed.json();
    assert_eq!(v["create_members"], "editor");
    assert_eq!(v["group_roles"]["platform-admins"], "admin");
    assert_eq!(v["group_roles"]["devs"], "editor");

    let cleared = sb.cli(&["--json", "workspace", "sso", "--no-group-roles"], None).json();
    assert_eq!(cleared["group_roles"], serde_json::json!({}));
    assert_eq!(cleared["create_members"], "editor", "the rest is kept");

    // Passwords cannot be turned off without single sign-on on the server.
    sb.cli(&["workspace", "sso", "--password-sign-in", "off"], None)
        .fails_with("sso.settings_invalid");
    // A mapping the CLI can see is wrong never reaches the server.
    let bad = sb.cli(&["workspace", "sso", "--group-role", "ops=root"], None);
    assert_eq!(bad.status, 2, "{bad:#?}");
    assert!(bad.stderr.contains("owner, admin or editor"), "{bad:#?}");
    let bad = sb.cli(&["workspace", "sso", "--group-role", "ops"], None);
    assert_eq!(bad.status, 2, "{bad:#?}");
    assert!(bad.stderr.contains("GROUP=ROLE"), "{bad:#?}");
}

#[test]
fn login_sso_says_when_the_server_has_no_single_sign_on() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    let mut cmd = sb.command_as(None, &["login", "--sso", "--no-browser"]);
    cmd.env("XDG_CONFIG_HOME", config.path());
    let run = crate::support::run(cmd, None);
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("has no single sign-on"), "{run:#?}");
    assert!(run.stderr.contains("sealbox login --email"), "{run:#?}");
    // --email and --sso are one or the other.
    let both = sb.cli(&["login", "--sso", "--email", "a@example.com"], None);
    assert_eq!(both.status, 2, "{both:#?}");
}

/// `sealbox server` with single sign-on settings that cannot work stops before it starts, saying
/// which flag is wrong; the client secret never reaches its output.
#[test]
fn server_refuses_incomplete_or_unsafe_sso_settings() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secret_file = dir.path().join("client-secret");
    std::fs::write(&secret_file, "s3cr3t-client-value\n").unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = |args: &[&str], secret: Option<&str>| {
        let mut cmd = Command::new(crate::support::bin());
        cmd.env_clear().envs(crate::support::clean_env());
        cmd.args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(args);
        if let Some(secret) = secret {
            cmd.env("SEALBOX_OIDC_CLIENT_SECRET", secret);
        }
        crate::support::run(cmd, None)
    };
    let issuer = ["--oidc-issuer", "https://id.example.com"];
    let full = [
        "--oidc-issuer",
        "https://id.example.com",
        "--oidc-client-id",
        "sealbox",
        "--oidc-redirect-url",
        "https://sealbox.example.com/sso/callback",
    ];
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (issuer.to_vec(), Some("x"), "--oidc-issuer needs --oidc-client-id"),
        (vec!["--oidc-client-id", "sealbox"], None, "need --oidc-issuer"),
        (full.to_vec(), None, "needs the client secret"),
        (
            [&full[..], &["--oidc-client-secret-file", secret_file.to_str().unwrap()]].concat(),
            None,
            "others may read it",
        ),
        (
            [&full[..], &["--oidc-client-secret-file", secret_file.to_str().unwrap()]].concat(),
            Some("s3cr3t-client-value"),
            "not both",
        ),
        (
            [
                "--oidc-issuer",
                "http://id.example.com",
                "--oidc-client-id",
                "sealbox",
                "--oidc-redirect-url",
                "https://sealbox.example.com/sso/callback",
            ]
            .to_vec(),
            Some("s3cr3t-client-value"),
            "must be https://",
        ),
    ];
    for (args, secret, expected) in cases {
        let run = server(&args, secret);
        assert_ne!(run.status, 0, "{args:?}: {run:#?}");
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected {expected:?}: {run:#?}"
        );
        assert!(!run.all().contains("s3cr3t-client-value"), "{run:#?}");
    }
}
