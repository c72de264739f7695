//! L1 is bounded by bytes (weight = serialized size); evicted partitions come back from L2.

use std::time::Duration;

use tokencache::model::keys::partition;
use tokencache::{CacheLevel, CacheOptions, L1Options};

use crate::support::*;

#[tokio::test]
async fn l1_stays_under_its_byte_budget_and_evicted_partitions_come_from_l2() {
    let (clock, mem) = manual_memory();
    let budget = 64 * 1024;
    let cache = cache_over(
        CacheOptions {
            l1: Some(L1Options { max_bytes: budget }),
            ..CacheOptions::default()
        },
        mem,
        clock,
    );
    let exp = t0_plus(Duration::from_secs(3600));
    let secret = "x".repeat(1500);
    for i in 0..500 {
        let key = partition::app("c", Some(&format!("t{i}")));
        cache
            .update(&key, |p| {
                p.upsert_access_token(app_token(
                    "c",
                    &format!("t{i}"),
                    "api://a/.default",
                    exp,
                    &secret,
                ))
            })
            .await
            .unwrap();
    }
    let s = cache.stats();
    assert!(s.l1_bytes <= budget, "{} > {budget}", s.l1_bytes);
    assert!(s.l1_entries > 10 && s.l1_entries < 500, "{}", s.l1_entries);
    let mut from_l2 = 0;
    for i in 0..500 {
        let key = partition::app("c", Some(&format!("t{i}")));
        let r = cache.get(&key).await.unwrap();
        assert!(r.partition.is_some(), "partition {i} lost");
        if r.level == CacheLevel::L2 {
            from_l2 += 1;
        }
    }
    assert!(from_l2 > 0);
}
