//! Sign-in limits (issue 9): attempts are counted before any password is checked, per client
//! address and per e-mail from that address, so concurrent attempts cannot slip past the limit,
//! one client cannot try e-mail after e-mail, and nobody can lock a member out from elsewhere.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Api, Reply, setup};

async fn sign_in(api: &Api, email: &str, password: &str) -> Reply {
    api.send(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

/// `attempts` (e-mail, password) all at once from `api`'s address.
async fn at_once(api: &Api, attempts: Vec<(String, String)>) -> Vec<Reply> {
    let tasks: Vec<_> = attempts
        .into_iter()
        .map(|(email, password)| {
            let api = api.clone();
            tokio::spawn(async move { sign_in(&api, &email, &password).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

fn count(replies: &[Reply], status: u16) -> usize {
    replies.iter().filter(|r| r.status.as_u16() == status).count()
}

fn login_events<'a>(events: &'a [Value], outcome: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["action"] == "auth.login" && e["outcome"] == outcome)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_9_concurrent_sign_ins_for_one_email_check_no_more_than_the_limit() {
    let (server, _) = setup().await;
    let api = Api::from_address(&server, "127.0.0.2");
    let mut attempts: Vec<(String, String)> = (0..29)
        .map(|n| (server.owner_email.clone(), format!("wrong password {n}")))
        .collect();
    attempts.insert(15, (server.owner_email.clone(), server.owner_password.clone()));
    let replies = at_once(&api, attempts).await;

    let (checked_wrong, signed_in, refused) = (count(&replies, 401), count(&replies, 200), count(&replies, 429));
    assert_eq!(checked_wrong + signed_in + refused, 30, "only 401, 200 or 429");
    // Every attempt is counted before its password is checked: no more than 5 wrong passwords
    // are ever checked. (A right one, if it was among the first 5, gives its attempt back, as
    // any successful sign-in does, so at most one more attempt can be checked after it.)
    assert!(checked_wrong <= 5, "{checked_wrong} wrong passwords were checked");
    assert!(checked_wrong + signed_in <= 6, "{checked_wrong} + {signed_in} checked");
    for r in replies.iter().filter(|r| r.status.as_u16() == 429) {
        // Past the 20th attempt the client's own limit refuses first.
        r.expect_error(429, "auth.rate_limited");
        assert!(
            r.message().contains("from your address; try again in"),
            "{}",
            r.message()
        );
    }

    let events = api.audit(&server.owner_token).await;
    assert_eq!(login_events(&events, "failure").len(), checked_wrong);
    let denied = login_events(&events, "denied");
    let for_the_email: Vec<_> = denied
        .iter()
        .filter(|e| e["target"] == format!("member:{}", server.owner_email))
        .collect();
    assert!(
        (1..=2).contains(&for_the_email.len()),
        "the refusals are audited once (twice if a success gave its attempt back): {denied:?}"
    );
    assert_eq!(
        for_the_email[0]["detail"],
        json!({"reason": "rate_limited", "limit": "email_from_client"})
    );
    assert!(denied.len() <= for_the_email.len() + 1, "{denied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_9_one_client_is_cut_off_after_20_attempts_whatever_the_email() {
    let (server, api) = setup().await;
    let attempts = (0..40)
        .map(|n| (format!("guess{n}@example.com"), "a wrong password".to_owned()))
        .collect();
    let replies = at_once(&api, attempts).await;
    assert_eq!((count(&replies, 401), count(&replies, 429)), (20, 20));
    let refused = replies.iter().find(|r| r.status.as_u16() == 429).unwrap();
    refused.expect_error(429, "auth.rate_limited");
    assert!(
        refused.message().contains("from your address; try again in"),
        "{}",
        refused.message()
    );

    // The audit log grows by at most the limit's worth of failures and one `denied` per window.
    let events = api.audit(&server.owner_token).await;
    assert_eq!(login_events(&events, "failure").len(), 20);
    let denied = login_events(&events, "denied");
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["target"], "client:127.0.0.1");
    assert_eq!(denied[0]["client_addr"], "127.0.0.1");
    assert_eq!(
        denied[0]["detail"],
        json!({"reason": "rate_limited", "limit": "client"})
    );

    // Even a right password waits from that address; another address is not affected.
    sign_in(&api, &server.owner_email, &server.owner_password)
        .await
        .expect_error(429, "auth.rate_limited");
    let elsewhere = Api::from_address(&server, "127.0.0.3");
    sign_in(&elsewhere, &server.owner_email, &server.owner_password)
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_9_wrong_passwords_from_one_client_do_not_lock_the_member_out_elsewhere() {
    let (server, _) = setup().await;
    let attacker = Api::from_address(&server, "127.0.0.4");
    for n in 0..5 {
        sign_in(&attacker, &server.owner_email, &format!("guess {n}"))
            .await
            .expect_error(401, "auth.bad_credentials");
    }
    let locked = sign_in(&attacker, &server.owner_email, &server.owner_password).await;
    locked.expect_error(429, "auth.rate_limited");
    assert!(locked.message().contains("try again in"), "{}", locked.message());

    // The member, from their own address, signs in as usual.
    let member = Api::from_address(&server, "127.0.0.5");
    let session = sign_in(&member, &server.owner_email, &server.owner_password)
        .await
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(session.starts_with("sbx_"));
    // Successful sign-ins do not count: the member can sign in again and again.
    for _ in 0..6 {
        sign_in(&member, &server.owner_email, &server.owner_password)
            .await
            .expect(200);
    }
}
