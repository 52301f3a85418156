//! `sealbox audit list|verify`.

use serde_json::Value;

use crate::support::setup;

fn events(list: &Value) -> &Vec<Value> {
    list["events"].as_array().unwrap()
}

#[test]
fn audit_trail() {
    let sb = setup();
    sb.cli(
        &["secret", "create", "AUDITED", "--type", "text"],
        Some("audited-value-Pp70\n"),
    )
    .ok();
    sb.cli(&["secret", "create", "OTHER", "--type", "text"], Some("other\n"))
        .ok();
    sb.cli(&["secret", "reveal", "AUDITED"], None).ok();

    let table = sb.cli(&["audit", "list"], None);
    assert!(table.ok().starts_with("SEQ"), "{table:#?}");
    assert!(table.ok().contains("secret:AUDITED"), "{table:#?}");

    let all = sb.cli(&["--json", "audit", "list"], None).json();
    assert!(
        !all.to_string().contains("audited-value-Pp70"),
        "value in the audit log: {all}"
    );
    let reveal = events(&all)
        .iter()
        .find(|e| e["target"] == "secret:AUDITED" && e["action"].as_str().unwrap().contains("reveal"))
        .unwrap_or_else(|| panic!("no reveal event: {all}"));
    let actor = format!("member:{}", sb.bootstrap.email);
    assert_eq!(reveal["actor"], actor.as_str(), "{reveal}");
    assert_eq!(reveal["outcome"], "success");

    // Filters: by secret, by action, by actor, a limit, and paging with --after.
    let only = sb.cli(&["--json", "audit", "list", "--secret", "AUDITED"], None).json();
    assert!(events(&only).len() >= 2, "{only}");
    assert!(events(&only).iter().all(|e| e["target"] == "secret:AUDITED"), "{only}");
    let action = reveal["action"].as_str().unwrap();
    let by_action = sb.cli(&["--json", "audit", "list", "--action", action], None).json();
    assert_eq!(events(&by_action).len(), 1, "{by_action}");
    let by_actor = sb
        .cli(&["--json", "audit", "list", "--actor", &sb.bootstrap.email], None)
        .json();
    assert!(events(&by_actor).len() >= 3, "{by_actor}");
    let nobody = sb
        .cli(&["--json", "audit", "list", "--actor", "nobody@example.com"], None)
        .json();
    assert!(events(&nobody).is_empty(), "{nobody}");
    let one = sb
        .cli(&["--json", "audit", "list", "--reverse", "--limit", "1"], None)
        .json();
    assert_eq!(events(&one).len(), 1, "{one}");
    let first = events(&one)[0]["seq"].as_u64().unwrap();
    let rest = sb
        .cli(&["--json", "audit", "list", "--after", &first.to_string()], None)
        .json();
    let seqs = |list: &Value| {
        events(list)
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(seqs(&rest).iter().all(|s| *s > first), "{rest}");
    assert!(
        seqs(&all)
            .iter()
            .filter(|s| **s != first)
            .all(|s| seqs(&rest).contains(s)),
        "{rest}"
    );
    let future = sb
        .cli(&["--json", "audit", "list", "--since", "2999-01-01T00:00:00Z"], None)
        .json();
    assert!(events(&future).is_empty(), "{future}");
    sb.cli(&["audit", "list", "--since", "yesterday"], None)
        .fails_with("audit.query_invalid");

    // The chain verifies.
    let verify = sb.cli(&["audit", "verify"], None);
    assert!(verify.ok().contains("ok"), "{verify:#?}");
    let verify = sb.cli(&["--json", "audit", "verify"], None).json();
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(verify["events_checked"].as_u64().unwrap() >= 3, "{verify}");
}
