//! An L2 outage seen through the whole cache: Redis is killed in the middle of a run of
//! lookups and writes, then restarted. No lookup fails, cached partitions keep being served
//! from L1, every failure is counted and reported, and the same cache recovers by itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::RedisServer;
use tokencache::l2::RedisStore;
use tokencache::model::keys::partition;
use tokencache::{CacheLevel, CacheOptions, L2FailureHook, SharedClock, SystemClock, TokenCache};

use crate::support::app_token;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run_loses_no_lookup_and_recovers() {
    let mut server = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let store = Arc::new(RedisStore::connect(&server.url()).await.unwrap());
    let failures = Arc::new(AtomicU64::new(0));
    let f = failures.clone();
    let hook: L2FailureHook = Arc::new(move |_| {
        f.fetch_add(1, Ordering::SeqCst);
    });
    let clock: SharedClock = Arc::new(SystemClock);
    let opts = CacheOptions {
        namespace: "outage".into(),
        timeout: Duration::from_millis(200),
        on_l2_failure: Some(hook),
        ..CacheOptions::default()
    };
    let cache = TokenCache::new(opts.clone(), store.clone(), clock.clone());
    let exp = clock.now_secs() + 3600;
    let keys: Vec<String> = (0..50)
        .map(|i| partition::app("c", Some(&format!("t{i}"))))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        cache
            .update(key, |p| {
                p.upsert_access_token(app_token(
                    "c",
                    &format!("t{i}"),
                    "api://a/.default",
                    exp,
                    "s",
                ))
            })
            .await
            .unwrap();
    }

    let mut server = tokio::task::spawn_blocking(move || {
        server.kill();
        server
    })
    .await
    .unwrap();

    // During the outage: every cached partition is still served, uncached ones are misses,
    // writes succeed into L1, nothing fails and nothing hangs.
    let started = Instant::now();
    for key in &keys {
        let r = cache
            .get(key)
            .await
            .expect("no lookup fails during an L2 outage");
        assert_eq!(r.level, CacheLevel::L1);
    }
    let r = cache
        .get("never-cached")
        .await
        .expect("a miss, not an error");
    assert!(r.partition.is_none());
    cache
        .update("written-during-outage", |p| {
            p.upsert_access_token(app_token("c", "tx", "api://a/.default", exp, "s"))
        })
        .await
        .expect("writes degrade to L1");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let s = cache.stats();
    assert!(s.l2_errors >= 2 && s.l2_lost_writes == 1, "{s:?}");
    assert_eq!(failures.load(Ordering::SeqCst), s.l2_errors);

    // Restart on the same port: the same cache recovers by itself (no rebuild), and writes
    // land in Redis again, where a second process can read them.
    server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let reader = TokenCache::new(opts, store.clone(), clock.clone());
    loop {
        cache
            .update("after-restart", |p| {
                p.upsert_access_token(app_token("c", "ty", "api://a/.default", exp, "s"))
            })
            .await
            .unwrap();
        if reader.get("after-restart").await.unwrap().level == CacheLevel::L2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the store did not recover within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
}
