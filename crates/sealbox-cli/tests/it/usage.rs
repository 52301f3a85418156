//! The small things a new user trips on (issue 9, item 16): help, usage lines, lifetimes,
//! policies for missing identities, and the audit list's order and paging.

use serde_json::Value;

use crate::support::setup;

#[test]
fn issue_9_help_describes_each_command_on_its_own_line() {
    let sb = setup();
    let help = sb.cli(&["--help"], None);
    let line = |command: &str| {
        help.ok()
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{command} ")))
            .unwrap_or_else(|| panic!("no line for {command}: {help:#?}"))
            .to_owned()
    };
    assert!(line("inject").contains("template"), "{}", line("inject"));
    assert!(line("import").contains(".env"), "{}", line("import"));
    assert!(!line("import").contains("template"), "{}", line("import"));

    // `sealbox server` is not a client: no --addr, no --json in its help.
    let server = sb.cli(&["server", "--help"], None);
    assert!(server.ok().contains("--listen"), "{server:#?}");
    for client_flag in ["--addr", "--json"] {
        assert!(!server.ok().contains(client_flag), "{client_flag}: {server:#?}");
    }
}

#[test]
fn issue_9_usage_lines_do_not_show_addr_as_required() {
    let sb = setup();
    // SEALBOX_ADDR is set (by `cli`), as it is for anyone who followed the README.
    for args in [
        &["secret", "create", "X"][..],
        &["run"][..],
        &["policy", "create", "p"][..],
    ] {
        let run = sb.cli(args, None);
        assert_eq!(run.status, 2, "{run:#?}");
        let usage = run
            .stderr
            .lines()
            .find(|l| l.starts_with("Usage:"))
            .unwrap_or_else(|| panic!("{run:#?}"));
        assert!(!usage.contains("--addr"), "{usage}");
    }
    // --addr still wins over SEALBOX_ADDR.
    let run = sb.cli(&["--addr", "http://127.0.0.1:9", "whoami"], None);
    assert!(run.stderr.contains("http://127.0.0.1:9"), "{run:#?}");
}

#[test]
fn issue_9_ttl_takes_years_up_to_ten() {
    let sb = setup();
    let created = sb
        .cli(&["--json", "token", "create", "yearly", "--ttl", "1y"], None)
        .json();
    let year = |t: &Value| t.as_str().unwrap()[..4].parse::<i32>().unwrap();
    assert_eq!(
        year(&created["expires_at"]) - year(&created["created_at"]),
        1,
        "{created}"
    );
    sb.cli(&["token", "create", "decade", "--ttl", "10y"], None).ok();
    sb.cli(&["token", "create", "too-long", "--ttl", "11y"], None)
        .fails_with("token.ttl_invalid");
    sb.cli(&["identity", "create", "w"], None).ok();
    sb.cli(&["identity", "token", "create", "w", "--ttl", "2y"], None).ok();
}

#[test]
fn issue_9_a_policy_for_a_missing_identity_is_refused_with_its_name() {
    let sb = setup();
    let run = sb.cli(
        &[
            "policy",
            "create",
            "p",
            "--identity",
            "ghost",
            "--secret-tag",
            "team=x",
            "--allow",
            "read",
        ],
        None,
    );
    let stderr = run.fails_with("policy.invalid");
    assert!(stderr.contains("\"ghost\""), "{stderr}");
    assert_eq!(sb.cli(&["policy", "list"], None).ok().trim(), "no policies");
}

#[test]
fn issue_9_audit_list_is_newest_first_says_when_there_is_more_and_takes_relative_times() {
    let sb = setup();
    for name in ["A1", "A2", "A3", "A4", "A5"] {
        sb.cli(&["secret", "create", name, "--type", "text"], Some("v")).ok();
    }
    let seqs = |args: &[&str]| -> Vec<u64> {
        let mut all = vec!["--json", "audit", "list"];
        all.extend(args);
        sb.cli(&all, None).json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    let newest_first = seqs(&[]);
    assert!(newest_first.len() >= 5, "{newest_first:?}");
    assert!(
        newest_first.windows(2).all(|w| w[0] > w[1]),
        "newest first: {newest_first:?}"
    );
    let mut oldest_first = newest_first.clone();
    oldest_first.reverse();
    assert_eq!(seqs(&["--reverse"]), oldest_first);

    // More events than shown: the table says so on stderr, with the flag for the next page.
    let page = sb.cli(&["audit", "list", "--limit", "2"], None);
    assert_eq!(page.ok().lines().count(), 3, "a header and two events: {page:#?}");
    let next = format!("--before {}", newest_first[1]);
    assert!(
        page.stderr.contains("showing the 2 newest") && page.stderr.contains(&next),
        "{page:#?}"
    );
    let json = sb.cli(&["--json", "audit", "list", "--limit", "2"], None).json();
    assert_eq!(json["more"], true, "{json}");
    let rest = seqs(&["--before", &newest_first[1].to_string(), "--limit", "1000"]);
    assert_eq!(rest, newest_first[2..]);
    let reversed_page = sb.cli(&["audit", "list", "--reverse", "--limit", "2"], None);
    assert!(
        reversed_page
            .stderr
            .contains(&format!("--reverse --after {}", oldest_first[1])),
        "{reversed_page:#?}"
    );
    // All of them shown: nothing more to say.
    let whole = sb.cli(&["audit", "list", "--limit", "1000"], None);
    assert_eq!(whole.stderr, "", "{whole:#?}");

    // Relative times, as well as RFC 3339.
    assert_eq!(seqs(&["--since", "1h"]), newest_first);
    assert_eq!(seqs(&["--since", "30m"]), newest_first);
    assert_eq!(seqs(&["--since", "7d"]), newest_first);
    assert_eq!(seqs(&["--until", "1h"]), Vec::<u64>::new());
    assert_eq!(seqs(&["--since", "2000-01-01T00:00:00Z"]), newest_first);
    let bad = sb.cli(&["audit", "list", "--since", "an hour ago"], None);
    assert!(bad.fails_with("audit.query_invalid").contains("1h"), "{bad:#?}");
}
