//! Sign-in attempt counters: atomic per key and window, given back, and old windows deleted.

use std::sync::Arc;

use sealbox_store::Store;

use crate::harness::Db;

conformance!(
    attempts_are_counted_per_key_and_window,
    concurrent_attempts_each_get_their_own_count,
);

const WINDOW: i64 = 900_000;

async fn attempts_are_counted_per_key_and_window(db: Db) {
    let s = &*db.store;
    let (client, member) = (
        "client:192.0.2.7".to_owned(),
        "member:w:a@example.com:client:192.0.2.7".to_owned(),
    );
    let both = [client.clone(), member.clone()];
    assert_eq!(s.count_login_attempt(&both, WINDOW).await.unwrap(), [1, 1]);
    assert_eq!(s.count_login_attempt(&both[..1], WINDOW).await.unwrap(), [2]);
    assert_eq!(s.count_login_attempt(&both, WINDOW).await.unwrap(), [3, 2]);
    assert_eq!(
        s.count_login_attempt(&both, 2 * WINDOW).await.unwrap(),
        [1, 1],
        "a new window starts from one"
    );

    s.refund_login_attempt(&both, WINDOW).await.unwrap();
    assert_eq!(
        s.count_login_attempt(&both, WINDOW).await.unwrap(),
        [3, 2],
        "given back"
    );
    s.refund_login_attempt(&["client:unknown".to_owned()], WINDOW)
        .await
        .unwrap();
    assert_eq!(
        s.count_login_attempt(&["client:unknown".to_owned()], WINDOW)
            .await
            .unwrap(),
        [1]
    );

    assert_eq!(s.delete_login_attempts_before(2 * WINDOW).await.unwrap(), 3);
    assert_eq!(s.delete_login_attempts_before(2 * WINDOW).await.unwrap(), 0);
    assert_eq!(
        s.count_login_attempt(&both, 2 * WINDOW).await.unwrap(),
        [2, 2],
        "the current window is kept"
    );
    s.refund_login_attempt(&both, WINDOW).await.unwrap();
    assert_eq!(
        s.count_login_attempt(&both, WINDOW).await.unwrap(),
        [1, 1],
        "a refund for a deleted window changes nothing"
    );
}

/// 30 attempts at once, half through a second store on the same database (another replica):
/// each gets a different count, so exactly the first few are under any limit.
async fn concurrent_attempts_each_get_their_own_count(db: Db) {
    let stores: [Arc<dyn Store>; 2] = [db.store.clone(), db.open_again().await];
    let key = vec![
        "client:198.51.100.1".to_owned(),
        "member:w:b@example.com:client:198.51.100.1".to_owned(),
    ];
    let attempts = (0..30).map(|i| {
        let (store, key) = (stores[i % 2].clone(), key.clone());
        tokio::spawn(async move { store.count_login_attempt(&key, WINDOW).await.unwrap() })
    });
    let mut counts = Vec::new();
    for attempt in attempts {
        counts.push(attempt.await.unwrap());
    }
    assert!(counts.iter().all(|c| c[0] == c[1]), "{counts:?}");
    let mut firsts: Vec<i64> = counts.iter().map(|c| c[0]).collect();
    firsts.sort_unstable();
    assert_eq!(firsts, (1..=30).collect::<Vec<i64>>());
}
