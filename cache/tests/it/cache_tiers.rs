//! L1 → L2 → miss: where reads are served from, L1 filled from L2, L1 disabled, and L1
//! entries that never outlive their tokens.

use std::sync::Arc;
use std::time::Duration;

use tokencache::model::keys::{normalize_scopes, partition};
use tokencache::{CacheLevel, CacheOptions};

use crate::support::*;

const CLIENT: &str = "c1";
const SCOPE: &str = "api://a/.default";

#[tokio::test]
async fn update_then_read_hits_l1_and_a_second_process_reads_l2() {
    let (clock, store) = manual_memory();
    let cache = cache_over(CacheOptions::default(), store.clone(), clock.clone());
    let key = partition::app(CLIENT, Some("t1"));
    assert_eq!(cache.get(&key).await.unwrap().level, CacheLevel::None);

    let exp = t0_plus(Duration::from_secs(3600));
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token(CLIENT, "t1", SCOPE, exp, "at-1"))
        })
        .await
        .unwrap();
    let hit = cache.get(&key).await.unwrap();
    assert_eq!(hit.level, CacheLevel::L1);
    let p = hit.partition.unwrap();
    let at = p
        .find_access_token("", CLIENT, "t1", &normalize_scopes([SCOPE]))
        .unwrap();
    assert_eq!(at.secret.expose(), "at-1");

    // Another process over the same L2: first read from L2, then from its own L1.
    let other = cache_over(CacheOptions::default(), store, clock);
    assert_eq!(other.get(&key).await.unwrap().level, CacheLevel::L2);
    assert_eq!(other.get(&key).await.unwrap().level, CacheLevel::L1);
    let s = other.stats();
    assert_eq!((s.l1_hits, s.l1_misses, s.l2_hits), (1, 1, 1));
    assert!(s.l1_bytes > 0 && s.l1_entries == 1, "{s:?}");
}

#[tokio::test]
async fn with_l1_disabled_every_read_goes_to_l2() {
    let (clock, store) = manual_memory();
    let opts = CacheOptions {
        l1: None,
        ..CacheOptions::default()
    };
    let cache = cache_over(opts, store, clock);
    let key = partition::app(CLIENT, Some("t1"));
    let exp = t0_plus(Duration::from_secs(3600));
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token(CLIENT, "t1", SCOPE, exp, "x"))
        })
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(cache.get(&key).await.unwrap().level, CacheLevel::L2);
    }
    let s = cache.stats();
    assert_eq!((s.l1_hits, s.l2_hits, s.l1_entries), (0, 3, 0));
}

#[tokio::test]
async fn an_l1_entry_never_outlives_the_tokens_it_holds() {
    let (clock, store) = manual_memory();
    let cache = cache_over(CacheOptions::default(), store, clock.clone());
    let key = partition::app(CLIENT, Some("t1"));
    let exp = t0_plus(Duration::from_secs(600));
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token(CLIENT, "t1", SCOPE, exp, "x"))
        })
        .await
        .unwrap();
    clock.advance(Duration::from_secs(599));
    assert_eq!(cache.get(&key).await.unwrap().level, CacheLevel::L1);
    clock.advance(Duration::from_secs(1));
    // The token expired: L1 drops the entry, and L2 (whose TTL followed the token) has nothing.
    let after = cache.get(&key).await.unwrap();
    assert_eq!(after.level, CacheLevel::None);
    assert!(after.partition.is_none());
}

#[tokio::test]
async fn refresh_token_partitions_stay_for_the_retention_not_forever() {
    let (clock, store) = manual_memory();
    let opts = CacheOptions {
        refresh_token_retention: Duration::from_secs(7 * 24 * 3600),
        ..CacheOptions::default()
    };
    let cache = cache_over(opts, store.clone(), clock.clone());
    let key = partition::user("uid.utid");
    cache
        .update(&key, |p| {
            p.upsert_refresh_token(refresh_token(CLIENT, "uid.utid", "rt"))
        })
        .await
        .unwrap();
    clock.advance(Duration::from_secs(6 * 24 * 3600));
    assert!(cache.get(&key).await.unwrap().partition.is_some());
    clock.advance(Duration::from_secs(2 * 24 * 3600));
    // Past the retention: gone from L1 and from L2.
    let fresh = cache_over(CacheOptions::default(), store, clock);
    assert!(fresh.get(&key).await.unwrap().partition.is_none());
    assert!(cache.get(&key).await.unwrap().partition.is_none());
}

#[tokio::test]
async fn expired_access_tokens_are_dropped_when_a_partition_is_rewritten() {
    let (clock, store) = manual_memory();
    let cache = cache_over(CacheOptions::default(), store, clock.clone());
    let key = partition::app(CLIENT, Some("t1"));
    let exp = t0_plus(Duration::from_secs(600));
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token(CLIENT, "t1", "api://old/.default", exp, "old"))
        })
        .await
        .unwrap();
    clock.advance(Duration::from_secs(601));
    let (p, ()) = cache
        .update(&key, |p| {
            p.upsert_access_token(app_token(CLIENT, "t1", SCOPE, exp + 3600, "new"))
        })
        .await
        .unwrap();
    assert_eq!(p.access_tokens().count(), 1);
    assert_eq!(p.access_tokens().next().unwrap().secret.expose(), "new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_to_one_partition_lose_nothing_with_synchronization() {
    let (clock, store) = manual_memory();
    let cache = cache_over(CacheOptions::default(), store.clone(), clock.clone());
    let key = partition::app(CLIENT, Some("t1"));
    let exp = t0_plus(Duration::from_secs(3600));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let cache = cache.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            cache
                .update(&key, |p| {
                    p.upsert_access_token(app_token(
                        CLIENT,
                        "t1",
                        &format!("api://r{i}/.default"),
                        exp,
                        "s",
                    ))
                })
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let p = cache.get(&key).await.unwrap().partition.unwrap();
    assert_eq!(p.access_tokens().count(), 100);
    // And L2 holds the same 100.
    let other = cache_over(CacheOptions::default(), store, clock);
    let p2 = other.get(&key).await.unwrap().partition.unwrap();
    assert_eq!(p2.access_tokens().count(), 100);
    let _ = Arc::strong_count(&p2);
}

#[tokio::test]
async fn l1_access_token_finds_exactly_the_requested_token_inline_or_in_the_partition() {
    let (clock, store) = manual_memory();
    let cache = cache_over(CacheOptions::default(), store, clock.clone());
    let exp = t0_plus(Duration::from_secs(3600));
    let index = |scope: &str| {
        tokencache::model::keys::access_token_index("", CLIENT, "t1", &normalize_scopes([scope]))
    };
    let key = partition::app(CLIENT, Some("t1"));
    // Two tokens: both kept inline in the L1 entry.
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token(CLIENT, "t1", "api://a/.default", exp, "sa"));
            p.upsert_access_token(app_token(CLIENT, "t1", "api://b/.default", exp + 60, "sb"));
        })
        .await
        .unwrap();
    let a = cache
        .l1_access_token(&key, &index("api://a/.default"))
        .unwrap();
    let b = cache
        .l1_access_token(&key, &index("api://b/.default"))
        .unwrap();
    assert_eq!((a.secret.expose(), a.expires_on), ("sa", exp));
    assert_eq!((b.secret.expose(), b.expires_on), ("sb", exp + 60));
    assert!(cache
        .l1_access_token(&key, &index("api://c/.default"))
        .is_none());
    // A prefix of a stored index is not a match.
    let a_index = index("api://a/.default");
    assert!(cache
        .l1_access_token(&key, &a_index[..a_index.len() - 1])
        .is_none());

    // A third token: no inline copies any more, found through the partition, and the
    // replaced token is the new one.
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token(CLIENT, "t1", "api://c/.default", exp, "sc"));
            p.upsert_access_token(app_token(
                CLIENT,
                "t1",
                "api://a/.default",
                exp + 120,
                "sa2",
            ));
        })
        .await
        .unwrap();
    let a = cache
        .l1_access_token(&key, &index("api://a/.default"))
        .unwrap();
    assert_eq!((a.secret.expose(), a.expires_on), ("sa2", exp + 120));
    assert_eq!(
        cache
            .l1_access_token(&key, &index("api://c/.default"))
            .unwrap()
            .secret
            .expose(),
        "sc"
    );
    // Past the latest expiry the entry serves nothing.
    clock.advance(Duration::from_secs(3600 + 121));
    assert!(cache
        .l1_access_token(&key, &index("api://a/.default"))
        .is_none());
    assert_eq!(cache.stats().l1_hits, 5);
}
