//! A login that stays (issue 11): `sealbox login` keeps the session token per server in the
//! config directory, `SEALBOX_TOKEN` wins over it, `logout` revokes and forgets it, `status`
//! says where the token came from; an unsafe credentials file is refused.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Run, Sealbox, run, setup};

/// `sealbox ARGS` against `sb` with `config` as XDG_CONFIG_HOME and `token` (or none) in
/// SEALBOX_TOKEN.
fn cli(sb: &Sealbox, config: &Path, token: Option<&str>, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = sb.command_as(token, args);
    cmd.env("XDG_CONFIG_HOME", config);
    run(cmd, stdin)
}

/// `sealbox login` as the bootstrapped owner, storing the token under `config`.
fn login(sb: &Sealbox, config: &Path) -> Run {
    let b = &sb.bootstrap;
    cli(
        sb,
        config,
        None,
        &["login", "--email", &b.email, "--workspace", &b.workspace],
        Some(&format!("{}\n", b.password)),
    )
}

fn credentials_file(config: &Path) -> PathBuf {
    config.join("sealbox").join("credentials.json")
}

/// The token stored for `sb`, read as another program would.
fn stored_token(sb: &Sealbox, config: &Path) -> String {
    let text = std::fs::read_to_string(credentials_file(config)).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    let servers = file["servers"].as_object().unwrap();
    let (_, entry) = servers
        .iter()
        .find(|(server, _)| **server == sb.addr)
        .unwrap_or_else(|| panic!("no entry for {} in {text}", sb.addr));
    entry["token"].as_str().unwrap().to_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn issue_11_login_keeps_the_token_so_later_commands_need_no_export() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    let signed_in = login(&sb, config.path());
    signed_in.ok();
    let file = credentials_file(config.path());
    assert!(signed_in.stdout.contains(&file.display().to_string()), "{signed_in:#?}");
    assert!(
        !signed_in.all().contains("sbx_"),
        "the token is never printed: {signed_in:#?}"
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let token = stored_token(&sb, config.path());
    assert!(token.starts_with("sbx_"), "{token}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(&sb.bootstrap.password),
        "the password is not kept: {text}"
    );
    // No temporary file is left beside it.
    let mut names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["credentials.json", "credentials.lock"], "{names:?}");
    assert_eq!(mode(&file.with_file_name("credentials.lock")), 0o600);

    // No SEALBOX_TOKEN: the stored token is used.
    cli(
        &sb,
        config.path(),
        None,
        &["secret", "create", "KEPT", "--type", "text"],
        Some("v-kept-1\n"),
    )
    .ok();
    let who = cli(&sb, config.path(), None, &["whoami"], None);
    assert!(who.ok().contains(&sb.bootstrap.email), "{who:#?}");
    // The same server written with a trailing slash (or the port's default spelt out) is the same.
    let mut slash = sb.command_as(None, &["secret", "list"]);
    slash
        .env("XDG_CONFIG_HOME", config.path())
        .env("SEALBOX_ADDR", format!("{}/", sb.addr));
    let listed = run(slash, None);
    assert!(listed.ok().contains("KEPT"), "{listed:#?}");

    // Another config directory holds nothing: not signed in.
    let elsewhere = tempfile::tempdir().unwrap();
    let none = cli(&sb, elsewhere.path(), None, &["secret", "list"], None);
    assert_eq!(none.status, 4, "{none:#?}");
    assert!(
        none.stderr.contains("not signed in") && none.stderr.contains("sealbox login"),
        "{none:#?}"
    );

    // Signing in again replaces the session: one entry for the server.
    login(&sb, config.path()).ok();
    let again = stored_token(&sb, config.path());
    assert_ne!(again, token);
    let file_json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(file_json["servers"].as_object().unwrap().len(), 1, "{file_json}");
}

#[test]
fn issue_11_login_without_home_or_config_dir_says_what_to_set_and_signs_nobody_in() {
    let sb = setup();
    let b = &sb.bootstrap;
    let mut cmd = sb.command_as(None, &["login", "--email", &b.email]);
    cmd.env_remove("HOME").env_remove("XDG_CONFIG_HOME");
    let refused = run(cmd, Some(&format!("{}\n", b.password)));
    assert_eq!(refused.status, 1, "{refused:#?}");
    assert!(
        refused.stderr.contains("HOME") && refused.stderr.contains("--no-store"),
        "{refused:#?}"
    );
    // Nothing was signed in: the audit log holds only the bootstrap's events.
    let audit = sb.cli(&["--json", "audit", "list", "--action", "auth.login"], None);
    assert!(!audit.ok().contains("success"), "{audit:#?}");
}

#[test]
fn issue_11_two_servers_keep_two_tokens() {
    let one = setup();
    let two = setup();
    let config = tempfile::tempdir().unwrap();
    login(&one, config.path()).ok();
    login(&two, config.path()).ok();
    assert_ne!(stored_token(&one, config.path()), stored_token(&two, config.path()));

    cli(
        &one,
        config.path(),
        None,
        &["secret", "create", "ON_ONE", "--type", "text"],
        Some("v1\n"),
    )
    .ok();
    cli(
        &two,
        config.path(),
        None,
        &["secret", "create", "ON_TWO", "--type", "text"],
        Some("v2\n"),
    )
    .ok();
    let list_one = cli(&one, config.path(), None, &["secret", "list"], None);
    assert!(
        list_one.ok().contains("ON_ONE") && !list_one.ok().contains("ON_TWO"),
        "{list_one:#?}"
    );
    let list_two = cli(&two, config.path(), None, &["secret", "list"], None);
    assert!(
        list_two.ok().contains("ON_TWO") && !list_two.ok().contains("ON_ONE"),
        "{list_two:#?}"
    );

    // Signing out of one leaves the other signed in.
    cli(&one, config.path(), None, &["logout"], None).ok();
    assert_eq!(cli(&one, config.path(), None, &["secret", "list"], None).status, 4);
    cli(&two, config.path(), None, &["secret", "list"], None).ok();
}

#[test]
fn issue_11_a_file_left_by_a_killed_login_is_replaced() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    let dir = config.path().join("sealbox");
    std::fs::create_dir_all(&dir).unwrap();
    let stale = dir.join(".credentials.json.tmp");
    std::fs::write(&stale, "half a file").unwrap();
    std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o644)).unwrap();
    login(&sb, config.path()).ok();
    assert!(!stale.exists());
    assert_eq!(mode(&credentials_file(config.path())), 0o600);
    cli(&sb, config.path(), None, &["whoami"], None).ok();
}

#[test]
fn issue_11_logins_at_once_to_two_servers_both_stay() {
    let one = setup();
    let two = setup();
    let config = tempfile::tempdir().unwrap();
    for round in 0..12 {
        std::thread::scope(|s| {
            let a = s.spawn(|| login(&one, config.path()));
            let b = s.spawn(|| login(&two, config.path()));
            a.join().unwrap().ok();
            b.join().unwrap().ok();
        });
        let text = std::fs::read_to_string(credentials_file(config.path())).unwrap();
        assert!(
            text.contains(&one.addr) && text.contains(&two.addr),
            "round {round}: {text}"
        );
        cli(&one, config.path(), None, &["logout"], None).ok();
        cli(&two, config.path(), None, &["logout"], None).ok();
    }
}

#[test]
fn issue_11_sealbox_token_wins_over_the_stored_one() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    login(&sb, config.path()).ok();
    sb.cli(&["identity", "create", "ci-bot"], None).ok();
    let bot = sb
        .cli(&["identity", "token", "create", "ci-bot"], None)
        .ok()
        .trim()
        .to_owned();

    let who = cli(&sb, config.path(), Some(&bot), &["whoami"], None);
    assert!(
        who.ok().contains("ci-bot") && !who.ok().contains(&sb.bootstrap.email),
        "{who:#?}"
    );
    let status = cli(&sb, config.path(), Some(&bot), &["--json", "status"], None).json();
    assert_eq!(status["token_source"], "env", "{status}");
    assert_eq!(status["user"], "ci-bot", "{status}");

    // With SEALBOX_TOKEN set the file is not even read: an unsafe one does not stop the command.
    std::fs::set_permissions(credentials_file(config.path()), std::fs::Permissions::from_mode(0o644)).unwrap();
    cli(&sb, config.path(), Some(&bot), &["whoami"], None).ok();
}

#[test]
fn issue_11_logout_revokes_the_session_and_forgets_it() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    login(&sb, config.path()).ok();
    let token = stored_token(&sb, config.path());
    let out = cli(&sb, config.path(), None, &["logout"], None);
    assert!(out.ok().contains("revoked"), "{out:#?}");
    assert!(!out.all().contains(&token), "{out:#?}");
    assert!(
        !credentials_file(config.path()).exists(),
        "the last entry gone, the file is gone"
    );

    // The server refuses the old token; without it the CLI says to sign in.
    sb.cli_as(Some(&token), &["whoami"], None)
        .fails_with("auth.token_revoked");
    let after = cli(&sb, config.path(), None, &["whoami"], None);
    assert_eq!(after.status, 4, "{after:#?}");
    assert!(after.stderr.contains("not signed in"), "{after:#?}");
    // Signing out again has nothing to do.
    let twice = cli(&sb, config.path(), None, &["logout"], None);
    assert!(twice.ok().contains("not signed in"), "{twice:#?}");
}

#[test]
fn issue_11_logout_from_a_server_that_does_not_answer_forgets_the_token_and_says_it_stays_valid() {
    let mut sb = setup();
    let config = tempfile::tempdir().unwrap();
    login(&sb, config.path()).ok();
    sb.stop_with("TERM");
    let out = cli(&sb, config.path(), None, &["logout"], None);
    out.ok();
    assert!(
        out.stderr.contains("not revoked") && out.stderr.contains("until it expires"),
        "{out:#?}"
    );
    assert!(!credentials_file(config.path()).exists(), "{out:#?}");
}

#[test]
fn issue_11_a_credentials_file_others_may_read_is_refused() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    login(&sb, config.path()).ok();
    let file = credentials_file(config.path());
    let token = stored_token(&sb, config.path());
    for unsafe_mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(unsafe_mode)).unwrap();
        let refused = cli(&sb, config.path(), None, &["secret", "list"], None);
        assert_eq!(refused.status, 1, "{refused:#?}");
        assert!(
            refused.stderr.contains(&file.display().to_string())
                && refused.stderr.contains(&format!("mode {unsafe_mode:04o}"))
                && refused.stderr.contains("sealbox login"),
            "{refused:#?}"
        );
        assert!(!refused.all().contains(&token), "{refused:#?}");
        // Nor is a new session written into it.
        let login_refused = login(&sb, config.path());
        assert_eq!(login_refused.status, 1, "{login_refused:#?}");
        assert_eq!(stored_token(&sb, config.path()), token);
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    cli(&sb, config.path(), None, &["secret", "list"], None).ok();
}

#[test]
fn issue_11_a_symlinked_credentials_file_is_refused() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    login(&sb, config.path()).ok();
    let file = credentials_file(config.path());
    let token = stored_token(&sb, config.path());
    let elsewhere = config.path().join("real-credentials.json");
    std::fs::rename(&file, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    let refused = cli(&sb, config.path(), None, &["whoami"], None);
    assert_eq!(refused.status, 1, "{refused:#?}");
    assert!(refused.stderr.contains("symbolic link"), "{refused:#?}");
    assert!(!refused.all().contains(&token), "{refused:#?}");
    // Login neither writes through the link nor replaces it.
    assert_eq!(login(&sb, config.path()).status, 1);
    assert!(std::fs::symlink_metadata(&file).unwrap().file_type().is_symlink());
    assert!(
        std::fs::read_to_string(&elsewhere).unwrap().contains(&token),
        "the link's target is untouched"
    );

    // A directory in its place is refused too, and a FIFO does not hang the command.
    std::fs::remove_file(&file).unwrap();
    let status = std::process::Command::new("mkfifo").arg(&file).status().unwrap();
    assert!(status.success());
    let fifo = cli(&sb, config.path(), None, &["whoami"], None);
    assert_eq!(fifo.status, 1, "{fifo:#?}");
    assert!(fifo.stderr.contains("not a regular file"), "{fifo:#?}");

    // A file that is not one of ours is refused without quoting it.
    std::fs::remove_file(&file).unwrap();
    std::fs::write(
        &file,
        r#"{"version": 1, "servers": "sbx_quoted_back_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let garbled = cli(&sb, config.path(), None, &["whoami"], None);
    assert_eq!(garbled.status, 1, "{garbled:#?}");
    assert!(
        garbled.stderr.contains("not a sealbox credentials file"),
        "{garbled:#?}"
    );
    assert!(!garbled.all().contains("sbx_quoted_back"), "{garbled:#?}");
}

#[test]
fn issue_11_status_says_where_the_token_came_from() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();

    // None: it still says what it knows, then fails as unauthenticated.
    let none = cli(&sb, config.path(), None, &["status"], None);
    assert_eq!(none.status, 4, "{none:#?}");
    assert!(
        none.stdout.contains(&sb.addr) && none.stdout.contains("answers"),
        "{none:#?}"
    );
    assert!(
        none.stdout.contains("token:") && none.stdout.contains("none"),
        "{none:#?}"
    );
    assert!(none.stderr.contains("not signed in"), "{none:#?}");
    let none_json = cli(&sb, config.path(), None, &["--json", "status"], None);
    assert_eq!(none_json.status, 4);
    let body: Value = serde_json::from_str(&none_json.stdout).unwrap();
    assert_eq!(body["token_source"], "none", "{body}");
    assert_eq!(body["answers"], true, "{body}");

    // Stored: user, workspace, file and expiry.
    let signed_in = cli(
        &sb,
        config.path(),
        None,
        &["--json", "login", "--email", &sb.bootstrap.email],
        Some(&sb.bootstrap.password),
    )
    .json();
    assert!(signed_in.get("token").is_none(), "{signed_in}");
    let expires_at = signed_in["expires_at"].as_str().unwrap().to_owned();
    let stored = cli(&sb, config.path(), None, &["status"], None);
    let text = stored.ok();
    for expected in [
        sb.addr.as_str(),
        "answers",
        sb.bootstrap.email.as_str(),
        "owner",
        sb.bootstrap.workspace.as_str(),
        "stored by `sealbox login`",
        &credentials_file(config.path()).display().to_string(),
        &expires_at,
    ] {
        assert!(text.contains(expected), "{expected:?} in {stored:#?}");
    }
    let token = stored_token(&sb, config.path());
    assert!(!stored.all().contains(&token), "{stored:#?}");
    let body = cli(&sb, config.path(), None, &["--json", "status"], None).json();
    assert_eq!(body["token_source"], "stored", "{body}");
    assert_eq!(body["user"], sb.bootstrap.email.as_str(), "{body}");
    assert_eq!(body["workspace"], sb.bootstrap.workspace.as_str(), "{body}");
    assert_eq!(body["expires_at"], expires_at.as_str(), "{body}");

    // Env.
    let env = cli(&sb, config.path(), Some(&sb.bootstrap.token), &["status"], None);
    assert!(env.ok().contains("from SEALBOX_TOKEN"), "{env:#?}");
    assert!(!env.all().contains(&sb.bootstrap.token), "{env:#?}");

    // A server that does not answer.
    let mut sb = sb;
    sb.stop_with("TERM");
    let down = cli(&sb, config.path(), None, &["status"], None);
    assert_eq!(down.status, 6, "{down:#?}");
    assert!(down.stdout.contains("does not answer"), "{down:#?}");
    assert!(down.stderr.contains("cannot reach"), "{down:#?}");
}

#[test]
fn issue_11_an_ended_stored_session_says_to_sign_in_again() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    login(&sb, config.path()).ok();
    let token = stored_token(&sb, config.path());
    // Signed out elsewhere: the same session revoked through SEALBOX_TOKEN (the stored copy stays).
    cli(&sb, config.path(), Some(&token), &["logout"], None).ok();
    assert!(credentials_file(config.path()).exists());
    for args in [&["secret", "list"][..], &["status"][..]] {
        let run = cli(&sb, config.path(), None, args, None);
        assert_eq!(run.status, 4, "{args:?}: {run:#?}");
        let said = run.fails_with("auth.token_revoked");
        assert!(
            said.contains("was revoked") && said.contains(&format!("sealbox login --email {}", sb.bootstrap.email)),
            "{args:?}: {run:#?}"
        );
        assert!(!run.all().contains(&token), "{run:#?}");
    }

    // A token the server does not know (another server now answers at the address).
    let other = setup();
    let mut cmd = other.command_as(None, &["whoami"]);
    cmd.env("XDG_CONFIG_HOME", config.path());
    // The stored entry is for `sb`'s address: copy it under `other`'s.
    let text = std::fs::read_to_string(credentials_file(config.path()))
        .unwrap()
        .replace(&sb.addr, &other.addr);
    std::fs::write(credentials_file(config.path()), text).unwrap();
    let unknown = run(cmd, None);
    assert_eq!(unknown.status, 4, "{unknown:#?}");
    assert!(
        unknown
            .fails_with("auth.invalid_token")
            .contains("is not known to this server"),
        "{unknown:#?}"
    );
}

#[test]
fn issue_11_login_to_another_workspace_keeps_that_workspace_session() {
    let sb = setup();
    let config = tempfile::tempdir().unwrap();
    sb.cli(&["workspace", "create", "team-two"], None).ok();
    let b = &sb.bootstrap;
    let signed_in = cli(
        &sb,
        config.path(),
        None,
        &["login", "--email", &b.email, "--workspace", "team-two"],
        Some(&format!("{}\n", b.password)),
    );
    assert!(signed_in.ok().contains("in workspace team-two"), "{signed_in:#?}");
    let status = cli(&sb, config.path(), None, &["--json", "status"], None).json();
    assert_eq!(status["workspace"], "team-two", "{status}");
    cli(
        &sb,
        config.path(),
        None,
        &["secret", "create", "IN_TWO", "--type", "text"],
        Some("v2\n"),
    )
    .ok();
    // The bootstrap token is for the default workspace, which does not see it.
    let default_list = sb.cli(&["secret", "list"], None);
    assert!(!default_list.ok().contains("IN_TWO"), "{default_list:#?}");

    // SEALBOX_WORKSPACE is the same as --workspace; signing in again replaces the session.
    let mut cmd = sb.command_as(None, &["login", "--email", &b.email]);
    cmd.env("XDG_CONFIG_HOME", config.path())
        .env("SEALBOX_WORKSPACE", &b.workspace);
    run(cmd, Some(&format!("{}\n", b.password))).ok();
    let status = cli(&sb, config.path(), None, &["--json", "status"], None).json();
    assert_eq!(status["workspace"], b.workspace.as_str(), "{status}");
}
