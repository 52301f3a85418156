//! Sign-in, members and roles, personal access tokens, workspaces.

use crate::support::setup;

#[cfg(unix)]
#[test]
fn bootstrap_credentials_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let sb = setup();
    let meta = std::fs::metadata(sb.data_dir().join("bootstrap.json")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(sb.bootstrap.token.starts_with("sbx_"), "{}", sb.bootstrap.token);
}

#[test]
fn login_and_logout() {
    let sb = setup();
    let b = &sb.bootstrap;
    let session = sb.login(&b.email, &b.password);
    assert!(session.starts_with("sbx_"), "{session}");
    let who = sb.cli_as(Some(&session), &["whoami"], None);
    assert!(who.ok().contains(&b.email), "{who:#?}");

    let bad = sb.cli_as(
        None,
        &["login", "--email", &b.email, "--workspace", &b.workspace],
        Some("wrong password\n"),
    );
    bad.fails_with("auth.bad_credentials");
    assert!(bad.stdout.is_empty(), "{bad:#?}");

    // --json gives the API's answer.
    let json = sb
        .cli_as(
            None,
            &[
                "--json",
                "login",
                "--no-store",
                "--email",
                &b.email,
                "--workspace",
                &b.workspace,
            ],
            Some(&b.password),
        )
        .json();
    assert!(json["token"].as_str().unwrap().starts_with("sbx_"), "{json}");

    sb.cli_as(Some(&session), &["logout"], None).ok();
    let after = sb.cli_as(Some(&session), &["whoami"], None);
    assert_eq!(after.status, 4, "unauthenticated: {after:#?}");
    assert!(after.stderr.contains("(auth."), "{after:#?}");
}

#[test]
fn members_and_editor_permissions() {
    let sb = setup();
    sb.cli(
        &["secret", "create", "SHARED", "--type", "text"],
        Some("shared-value-Ee31\n"),
    )
    .ok();
    sb.cli(
        &[
            "secret",
            "create",
            "LOCKED",
            "--type",
            "text",
            "--visibility",
            "restricted",
        ],
        Some("locked-value\n"),
    )
    .ok();

    // The generated password is printed once, on stdout alone.
    let added = sb.cli(&["member", "add", "editor@example.com", "--role", "editor"], None);
    let password = added.ok().trim().to_owned();
    assert!(!password.is_empty() && !password.contains(' '), "{added:#?}");
    sb.cli(&["member", "add", "editor@example.com", "--role", "editor"], None)
        .fails_with("member.exists");
    let list = sb.cli(&["member", "list"], None);
    assert!(list.ok().contains("editor@example.com"), "{list:#?}");
    assert!(list.ok().contains(&sb.bootstrap.email), "{list:#?}");
    assert!(!list.all().contains(&password), "{list:#?}");
    let run = sb.cli(&["member", "add", "x@example.com", "--role", "boss"], None);
    assert_eq!(run.status, 2, "{run:#?}");

    let editor = sb.login("editor@example.com", &password);
    let as_editor = |args: &[&str], stdin: Option<&str>| sb.cli_as(Some(&editor), args, stdin);
    let who = as_editor(&["--json", "whoami"], None).json();
    assert_eq!(who["role"], "editor");

    // An editor lists, reads details and reveals masked values ...
    assert!(as_editor(&["secret", "list"], None).ok().contains("SHARED"));
    as_editor(&["secret", "get", "SHARED"], None).ok();
    assert_eq!(
        as_editor(&["secret", "reveal", "SHARED"], None).ok(),
        "shared-value-Ee31\n"
    );
    as_editor(&["secret", "reveal", "LOCKED"], None).fails_with("secret.restricted");
    // ... but changes nothing and manages nobody.
    as_editor(&["secret", "create", "MINE", "--type", "text"], Some("v\n")).fails_with("permission.denied");
    as_editor(&["secret", "update", "SHARED", "--description", "x"], None).fails_with("permission.denied");
    as_editor(&["secret", "delete", "SHARED"], None).fails_with("permission.denied");
    as_editor(&["member", "add", "y@example.com", "--role", "editor"], None).fails_with("permission.denied");
    as_editor(&["audit", "list"], None).fails_with("permission.denied");
    sb.cli(&["secret", "get", "MINE"], None).fails_with("secret.not_found");

    // Roles change; removal locks the person out.
    let promoted = sb.cli(&["member", "set-role", "editor@example.com", "admin"], None);
    assert!(promoted.ok().contains("admin"), "{promoted:#?}");
    let list = sb.cli(&["--json", "member", "list"], None).json();
    let role = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "editor@example.com")
        .map(|m| m["role"].clone());
    assert_eq!(role, Some("admin".into()), "{list}");
    sb.cli(&["member", "remove", "editor@example.com"], None).ok();
    assert!(!sb.cli(&["member", "list"], None).ok().contains("editor@example.com"));
    let gone = as_editor(&["secret", "list"], None);
    assert_eq!(gone.status, 4, "unauthenticated: {gone:#?}");
    sb.cli(&["member", "remove", "editor@example.com"], None)
        .fails_with("member.not_found");
    // The only owner cannot be removed.
    sb.cli(&["member", "remove", &sb.bootstrap.email], None)
        .fails_with("member.last_owner");
}

#[test]
fn personal_access_tokens() {
    let sb = setup();
    let created = sb.cli(&["token", "create", "ci", "--ttl", "30d"], None);
    let token = created.ok().trim().to_owned();
    assert!(token.starts_with("sbx_"), "{created:#?}");
    assert!(created.stderr.contains("shown this once"), "{created:#?}");

    let list = sb.cli(&["token", "list"], None);
    assert!(list.ok().contains("ci"), "{list:#?}");
    assert!(!list.all().contains(&token), "{list:#?}");
    let list = sb.cli(&["--json", "token", "list"], None).json();
    let ci = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .cloned()
        .unwrap_or_else(|| panic!("no ci token: {list}"));
    assert!(ci["expires_at"].is_string(), "{ci}");
    let id = ci["id"].as_str().unwrap();

    sb.cli_as(Some(&token), &["secret", "list"], None).ok();
    sb.cli(&["token", "revoke", id], None).ok();
    let revoked = sb.cli_as(Some(&token), &["secret", "list"], None);
    assert_eq!(revoked.status, 4, "unauthenticated: {revoked:#?}");
    assert!(
        revoked.stderr.contains("(auth.token_revoked)") || revoked.stderr.contains("(auth.invalid_token)"),
        "{revoked:#?}"
    );
    sb.cli(&["token", "revoke", id], None).fails_with("token.not_found");

    // No expiry without --ttl; a bad --ttl is a usage error.
    let forever = sb.cli(&["--json", "token", "create", "forever"], None).json();
    assert!(forever["expires_at"].is_null(), "{forever}");
    for bad in ["30", "1w", "0d", "-5m"] {
        let run = sb.cli(&["token", "create", "bad", "--ttl", bad], None);
        assert_eq!(run.status, 2, "{bad}: {run:#?}");
    }
}

#[test]
fn workspaces_are_isolated() {
    let sb = setup();
    sb.cli(&["secret", "create", "HOME_ONLY", "--type", "text"], Some("home\n"))
        .ok();
    let created = sb.cli(&["workspace", "create", "team2"], None);
    let line = created.ok().trim();
    let token = line
        .strip_prefix("export SEALBOX_TOKEN=")
        .unwrap_or_else(|| panic!("{created:#?}"))
        .to_owned();
    let who = sb.cli_as(Some(&token), &["--json", "whoami"], None).json();
    assert_eq!(who["workspace"], "team2");
    assert_eq!(who["role"], "owner");

    let list = sb.cli_as(Some(&token), &["secret", "list"], None);
    assert_eq!(list.ok().trim(), "no secrets");
    sb.cli_as(Some(&token), &["secret", "get", "HOME_ONLY"], None)
        .fails_with("secret.not_found");
    sb.cli_as(
        Some(&token),
        &["secret", "create", "AWAY", "--type", "text"],
        Some("away\n"),
    )
    .ok();
    sb.cli(&["secret", "get", "AWAY"], None).fails_with("secret.not_found");
    sb.cli(&["workspace", "create", "team2"], None)
        .fails_with("workspace.exists");
}

/// Issue 9, item 10: a leaked token is revoked by pasting it, and lists show the first
/// characters of each token so it can be matched to its row.
#[test]
fn issue_9_tokens_are_revoked_by_pasting_them_and_listed_by_prefix() {
    let sb = setup();
    let leaked = sb.cli(&["token", "create", "leaky"], None).ok().trim().to_owned();
    let shown = format!("sbx_{}...", &leaked[4..12]);
    let list = sb.cli(&["token", "list"], None);
    let row = list
        .ok()
        .lines()
        .find(|l| l.contains("leaky"))
        .unwrap_or_else(|| panic!("{list:#?}"));
    assert!(row.contains(&shown), "{list:#?}");
    assert!(
        list.ok().starts_with("ID") && list.ok().contains("STARTS WITH"),
        "{list:#?}"
    );
    assert!(!list.all().contains(&leaked), "{list:#?}");

    // Someone else's token is "not found" and keeps working.
    let password = sb
        .cli(&["member", "add", "ann@example.com", "--role", "admin"], None)
        .ok()
        .trim()
        .to_owned();
    let anns = sb.login("ann@example.com", &password);
    let elsewhere = sb
        .cli(&["workspace", "create", "elsewhere"], None)
        .ok()
        .trim()
        .replace("export SEALBOX_TOKEN=", "");
    for foreign in [&anns, &elsewhere] {
        let run = sb.cli(&["token", "revoke", foreign], None);
        assert_eq!(run.status, 3, "not found: {run:#?}");
        run.fails_with("token.not_found");
        sb.cli_as(Some(foreign), &["whoami"], None).ok();
    }

    let revoked = sb.cli(&["token", "revoke", &leaked], None);
    assert_eq!(revoked.ok().trim(), format!("revoked token {shown}"), "{revoked:#?}");
    assert!(!revoked.all().contains(&leaked), "{revoked:#?}");
    sb.cli_as(Some(&leaked), &["whoami"], None)
        .fails_with("auth.token_revoked");

    // From stdin with `-`, for an identity's token.
    sb.cli(&["identity", "create", "bot"], None).ok();
    let bot = sb
        .cli(&["identity", "token", "create", "bot"], None)
        .ok()
        .trim()
        .to_owned();
    let list = sb.cli(&["identity", "token", "list", "bot"], None);
    assert!(list.ok().contains(&format!("sbx_{}...", &bot[4..12])), "{list:#?}");
    sb.cli(&["identity", "token", "revoke", "bot", &leaked], None)
        .fails_with("token.not_found");
    let revoked = sb.cli(
        &["--json", "identity", "token", "revoke", "bot", "-"],
        Some(&format!("{bot}\n")),
    );
    assert_eq!(revoked.json()["identity"], "bot", "{revoked:#?}");
    sb.cli_as(Some(&bot), &["env"], None).fails_with("auth.token_revoked");
}
