//! Write-behind L2 writes: reads see acknowledged writes before they land, writes to one
//! partition coalesce, and flush/shutdown write everything acknowledged.

use std::sync::Arc;
use std::time::Duration;

use tokencache::l2::{Fault, FaultyStore};
use tokencache::model::keys::partition;
use tokencache::{CacheLevel, CacheOptions, L2Store};

use crate::support::*;

fn opts() -> CacheOptions {
    CacheOptions {
        l1: None,
        async_write: true,
        ..CacheOptions::default()
    }
}

#[tokio::test]
async fn flush_writes_every_acknowledged_partition() {
    let (clock, mem) = manual_memory();
    let cache = cache_over(opts(), mem.clone(), clock.clone());
    let exp = t0_plus(Duration::from_secs(3600));
    for i in 0..500 {
        let key = partition::app("c", Some(&format!("t{i}")));
        cache
            .update(&key, |p| {
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
        // Readable at once, from the pending queue, even with L1 off.
        assert!(cache.get(&key).await.unwrap().partition.is_some());
    }
    cache.shutdown().await;
    assert_eq!(cache.stats().l2_pending_writes, 0);
    let usage = mem.usage("").await.unwrap();
    assert_eq!(usage.keys, 500);
    let reader = cache_over(CacheOptions::default(), mem, clock);
    for i in 0..500 {
        let key = partition::app("c", Some(&format!("t{i}")));
        assert_eq!(reader.get(&key).await.unwrap().level, CacheLevel::L2);
    }
}

#[tokio::test]
async fn writes_to_one_partition_coalesce_to_the_newest() {
    let (clock, mem) = manual_memory();
    let faulty = FaultyStore::new(mem.clone());
    let cache = cache_over(
        CacheOptions {
            timeout: Duration::from_millis(300),
            ..opts()
        },
        Arc::new(faulty.clone()),
        clock.clone(),
    );
    let key = partition::app("c", Some("t"));
    let exp = t0_plus(Duration::from_secs(3600));
    let add = |i: usize| {
        let cache = cache.clone();
        let key = key.clone();
        async move {
            cache
                .update(&key, |p| {
                    p.upsert_access_token(app_token(
                        "c",
                        "t",
                        &format!("api://r{i}/.default"),
                        exp,
                        "s",
                    ))
                })
                .await
                .unwrap();
        }
    };
    // The first write hangs in the store; the next 49 pile up behind it.
    faulty.set_fault(Fault::Hang);
    add(0).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    for i in 1..50 {
        add(i).await;
    }
    faulty.set_fault(Fault::None);
    cache.flush().await;
    let reader = cache_over(CacheOptions::default(), mem, clock);
    let p = reader.get(&key).await.unwrap().partition.unwrap();
    assert_eq!(
        p.access_tokens().count(),
        50,
        "the newest blob holds every token"
    );
    // The first update's read (2 attempts, both hang and time out), its hung write and the
    // write's retry, then ONE coalesced write for the other 49 updates: 5 store calls.
    assert_eq!(faulty.calls(), 5);
}

#[tokio::test]
async fn flush_with_a_dead_l2_reports_lost_writes_instead_of_hanging() {
    let (clock, mem) = manual_memory();
    let faulty = FaultyStore::new(mem);
    faulty.set_fault(Fault::Error);
    let cache = cache_over(opts(), Arc::new(faulty), clock);
    let exp = t0_plus(Duration::from_secs(3600));
    for i in 0..10 {
        let key = partition::app("c", Some(&format!("t{i}")));
        cache
            .update(&key, |p| {
                p.upsert_access_token(app_token("c", "t", "api://a/.default", exp, "s"))
            })
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), cache.shutdown())
        .await
        .expect("shutdown must not hang on a dead L2");
    let s = cache.stats();
    assert_eq!(s.l2_lost_writes, 10);
    assert_eq!(s.l2_pending_writes, 0);
}
