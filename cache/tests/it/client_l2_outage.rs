//! An L2 outage during acquisitions loses none: the L2 store starts failing (or hanging)
//! in the middle of a run of concurrent acquisitions; every acquisition still returns a
//! token, from L1 or the identity provider, and failures are counted. When L2 comes back,
//! another instance reads what was written before the outage.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokencache::client::{
    AcquireError, AcquireOptions, CacheRefreshReason, ConfidentialClient, TokenSource,
};
use tokencache::l2::{Fault, FaultyStore};
use tokencache::{CacheLevel, CacheOptions, FailurePolicy, TokenCache};

use crate::client_support::{check_metadata, Harness, SCOPE};

fn tenant(i: usize) -> String {
    format!("tenant-{i:03}")
}

fn client_over(h: &Harness, store: &FaultyStore, policy: FailurePolicy) -> ConfidentialClient {
    let cache = TokenCache::new(
        CacheOptions {
            timeout: Duration::from_millis(50),
            on_failure: policy,
            ..CacheOptions::default()
        },
        Arc::new(store.clone()),
        h.shared_clock(),
    );
    ConfidentialClient::new(h.options(), h.http(), Some(cache), h.shared_clock())
}

/// 400 concurrent acquisitions: the first 200 over 20 tenants; once 100 of them have
/// returned the store switches to `fault`, and only then do the other 200 start, over
/// those 20 tenants and 20 new ones (which need L2, and meet the outage).
async fn outage_midway(fault: Fault, policy: FailurePolicy) {
    let h = Harness::start().await;
    let store = FaultyStore::new(h.store.clone());
    let client = client_over(&h, &store, policy);
    let done = Arc::new(AtomicUsize::new(0));
    let faulted = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..400 {
        let (c, d, f, s) = (client.clone(), done.clone(), faulted.clone(), store.clone());
        tasks.push(tokio::spawn(async move {
            let t = if i < 200 { i % 20 } else { i % 40 };
            if i >= 200 {
                while f.load(Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            let r = c
                .acquire_token_for_client(&tenant(t), &[SCOPE], &AcquireOptions::default())
                .await;
            if d.fetch_add(1, Ordering::SeqCst) + 1 == 100 {
                s.set_fault(fault);
                f.store(1, Ordering::SeqCst);
            }
            r
        }));
    }
    let started = Instant::now();
    let mut from_idp = 0;
    for t in tasks {
        let r = t
            .await
            .unwrap()
            .expect("no acquisition fails during an L2 outage");
        check_metadata(&r);
        from_idp += usize::from(r.metadata.token_source == TokenSource::IdentityProvider);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // Tenants are never fetched twice by this instance: its L1 carried it through.
    assert_eq!(h.token_request_count().await, 40);
    assert!(from_idp >= 40);
    let stats = client.cache().unwrap().stats();
    assert!(stats.l2_errors + stats.l2_timeouts > 0, "{stats:?}");

    // Another instance during the outage: L2 fails, the identity provider answers.
    let other = client_over(&h, &store, policy);
    for i in 0..5 {
        let r = other
            .acquire_token_for_client(&tenant(i), &[SCOPE], &AcquireOptions::default())
            .await
            .expect("no acquisition fails during an L2 outage");
        check_metadata(&r);
        assert_eq!(
            (r.metadata.token_source, r.metadata.cache_refresh_reason),
            (
                TokenSource::IdentityProvider,
                CacheRefreshReason::NoCachedAccessToken
            )
        );
    }
    assert_eq!(h.token_request_count().await, 45);

    // L2 back: a third instance finds in L2 what was written before the outage.
    store.set_fault(Fault::None);
    let third = client_over(&h, &store, policy);
    let mut from_l2 = 0;
    for i in 0..40 {
        let r = third
            .acquire_token_for_client(&tenant(i), &[SCOPE], &AcquireOptions::default())
            .await
            .unwrap();
        check_metadata(&r);
        from_l2 += usize::from(r.metadata.cache_level == CacheLevel::L2);
    }
    assert!(
        from_l2 >= 1,
        "nothing written before the outage was found in L2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_errors_midway_lose_no_acquisition() {
    outage_midway(Fault::Error, FailurePolicy::RetryThenMiss).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_errors_midway_lose_no_acquisition_without_retries() {
    outage_midway(Fault::Error, FailurePolicy::Miss).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_hanging_midway_loses_no_acquisition() {
    outage_midway(Fault::Hang, FailurePolicy::RetryThenMiss).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_fail_policy_an_l2_failure_is_a_typed_cache_error() {
    // The one documented exception: `FailurePolicy::Fail` makes L2 failures fail the call.
    let h = Harness::start().await;
    let store = FaultyStore::new(h.store.clone());
    let client = client_over(&h, &store, FailurePolicy::Fail);
    store.set_fault(Fault::Error);
    let err = client
        .acquire_token_for_client(&tenant(0), &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AcquireError::Cache(_)), "{err:?}");
    assert_eq!(h.token_request_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_midway_loses_no_acquisition() {
    let h = Harness::start().await;
    let server = tokio::task::spawn_blocking(testkit::RedisServer::start)
        .await
        .unwrap();
    let store = Arc::new(
        tokencache::l2::RedisStore::connect(&server.url())
            .await
            .unwrap(),
    );
    let cache = TokenCache::new(
        CacheOptions {
            namespace: "client-outage".into(),
            timeout: Duration::from_millis(200),
            ..CacheOptions::default()
        },
        store,
        h.shared_clock(),
    );
    let client = ConfidentialClient::new(h.options(), h.http(), Some(cache), h.shared_clock());
    let done = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (d, k) = (done.clone(), killed.clone());
        tokio::spawn(async move {
            while d.load(Ordering::SeqCst) < 50 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let mut server = server;
            let server = tokio::task::spawn_blocking(move || {
                server.kill();
                server
            })
            .await
            .unwrap();
            k.store(1, Ordering::SeqCst);
            server
        })
    };
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (c, d, k) = (client.clone(), done.clone(), killed.clone());
        tasks.push(tokio::spawn(async move {
            // The first half runs against Redis; the second half, over 20 more tenants,
            // only once Redis is dead.
            let t = if i < 100 { i % 20 } else { i % 40 };
            if i >= 100 {
                while k.load(Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            let r = c
                .acquire_token_for_client(&tenant(t), &[SCOPE], &AcquireOptions::default())
                .await;
            d.fetch_add(1, Ordering::SeqCst);
            r
        }));
    }
    for t in tasks {
        let r = t
            .await
            .unwrap()
            .expect("no acquisition fails when Redis dies");
        check_metadata(&r);
    }
    let server = killer.await.unwrap();
    assert!(!server.is_running());
    // Tenants fetched after the kill could not reach L2; none was fetched twice.
    assert_eq!(h.token_request_count().await, 40);
    let stats = client.cache().unwrap().stats();
    assert!(stats.l2_errors + stats.l2_timeouts > 0, "{stats:?}");
    let late = client
        .acquire_token_for_client(&tenant(99), &[SCOPE], &AcquireOptions::default())
        .await
        .expect("a miss during the outage goes to the identity provider");
    check_metadata(&late);
    assert_eq!(late.metadata.token_source, TokenSource::IdentityProvider);
}
