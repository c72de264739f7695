//! L2 expiry: token-based TTL, sliding expiration extends it, an absolute limit holds even
//! while sliding, and expired blobs read as misses.

use std::time::Duration;

use tokencache::model::keys::partition;
use tokencache::{CacheOptions, L2Store};

use crate::support::*;

#[tokio::test]
async fn sliding_expiration_extends_but_the_absolute_limit_holds() {
    let (clock, mem) = manual_memory();
    let opts = CacheOptions {
        l1: None,
        sliding_expiration: Some(Duration::from_secs(60)),
        absolute_expiration: Some(Duration::from_secs(150)),
        ..CacheOptions::default()
    };
    let cache = cache_over(opts, mem.clone(), clock.clone());
    let key = partition::app("c", Some("t"));
    let exp = t0_plus(Duration::from_secs(3600));
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token("c", "t", "api://a/.default", exp, "s"))
        })
        .await
        .unwrap();
    // Read every 50 s: each read slides the 60 s TTL.
    for _ in 0..2 {
        clock.advance(Duration::from_secs(50));
        assert!(cache.get(&key).await.unwrap().partition.is_some());
    }
    // t = 100 s; unread for 70 s, the sliding TTL lapses.
    clock.advance(Duration::from_secs(70));
    assert!(cache.get(&key).await.unwrap().partition.is_none());

    // Again, reading often: the absolute limit (150 s) ends it even though reads slide.
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token("c", "t", "api://a/.default", exp + 1000, "s"))
        })
        .await
        .unwrap();
    for _ in 0..7 {
        clock.advance(Duration::from_secs(20));
        assert!(cache.get(&key).await.unwrap().partition.is_some());
    }
    clock.advance(Duration::from_secs(20)); // 160 s after the write
    assert!(cache.get(&key).await.unwrap().partition.is_none());
    assert_eq!(cache.stats().decode_errors, 0);
}

#[tokio::test]
async fn without_options_the_l2_ttl_follows_the_latest_token_expiry() {
    let (clock, mem) = manual_memory();
    let cache = cache_over(CacheOptions::default(), mem.clone(), clock.clone());
    let key = partition::app("c", Some("t"));
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token(
                "c",
                "t",
                "api://a/.default",
                t0_plus(Duration::from_secs(600)),
                "a",
            ));
            p.upsert_access_token(app_token(
                "c",
                "t",
                "api://b/.default",
                t0_plus(Duration::from_secs(1200)),
                "b",
            ));
        })
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1199));
    assert!(mem.get(&key, None).await.unwrap().is_some());
    clock.advance(Duration::from_secs(1));
    assert!(mem.get(&key, None).await.unwrap().is_none());
}
