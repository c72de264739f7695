//! L2 failures degrade, are counted, reach the hook and a tracing event, and follow the
//! failure policy: retry_then_miss retries once, miss does not, fail fails. Hangs time out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokencache::l2::{Fault, FaultyStore};
use tokencache::model::keys::partition;
use tokencache::{CacheLevel, CacheOptions, FailurePolicy, L2FailureHook};

use crate::support::*;

const SCOPE: &str = "api://a/.default";

/// What the hook saw: (error text, will_retry) per failure.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

fn recording_hook() -> (L2FailureHook, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let hook: L2FailureHook = Arc::new(move |f| {
        s.lock().unwrap().push((f.error.to_string(), f.will_retry));
    });
    (hook, seen)
}

#[tokio::test]
async fn retry_then_miss_retries_once_then_reads_as_a_miss_and_reports_both() {
    let (clock, mem) = manual_memory();
    let faulty = FaultyStore::new(mem);
    let (hook, seen) = recording_hook();
    let opts = CacheOptions {
        on_failure: FailurePolicy::RetryThenMiss,
        on_l2_failure: Some(hook),
        ..CacheOptions::default()
    };
    let cache = cache_over(opts, Arc::new(faulty.clone()), clock);
    faulty.set_fault(Fault::Error);
    let key = partition::app("c", Some("t"));
    let r = cache.get(&key).await.unwrap();
    assert_eq!(r.level, CacheLevel::None);
    assert_eq!(faulty.calls(), 2);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0].1 && !seen[1].1,
        "first will retry, second will not: {seen:?}"
    );
    assert!(seen[0].0.contains("memory get failed"), "{}", seen[0].0);
    let s = cache.stats();
    assert_eq!((s.l2_errors, s.l2_misses, s.l2_reads), (2, 1, 1));
}

#[tokio::test]
async fn miss_policy_does_not_retry_and_fail_policy_fails() {
    let (clock, mem) = manual_memory();
    let faulty = FaultyStore::new(mem);
    faulty.set_fault(Fault::Error);
    let key = partition::app("c", Some("t"));

    let miss = cache_over(
        CacheOptions {
            on_failure: FailurePolicy::Miss,
            ..CacheOptions::default()
        },
        Arc::new(faulty.clone()),
        clock.clone(),
    );
    assert!(miss.get(&key).await.unwrap().partition.is_none());
    assert_eq!(faulty.calls(), 1);

    let fail = cache_over(
        CacheOptions {
            on_failure: FailurePolicy::Fail,
            ..CacheOptions::default()
        },
        Arc::new(faulty.clone()),
        clock,
    );
    let err = fail.get(&key).await.unwrap_err();
    assert!(err.to_string().contains("get failed"), "{err}");
    let exp = t0_plus(Duration::from_secs(3600));
    let err = fail
        .update(&key, |p| {
            p.upsert_access_token(app_token("c", "t", SCOPE, exp, "s"))
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("get failed"), "{err}");
}

#[tokio::test]
async fn a_hanging_l2_times_out_within_the_operation_timeout() {
    let (clock, mem) = manual_memory();
    let faulty = FaultyStore::new(mem);
    faulty.set_fault(Fault::Hang);
    let opts = CacheOptions {
        timeout: Duration::from_millis(50),
        ..CacheOptions::default()
    };
    let cache = cache_over(opts, Arc::new(faulty), clock);
    let started = Instant::now();
    let r = cache.get(&partition::app("c", Some("t"))).await.unwrap();
    assert!(r.partition.is_none());
    // Two attempts of 50 ms each, with generous slack for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let s = cache.stats();
    assert_eq!((s.l2_timeouts, s.l2_errors), (2, 2));
}

#[tokio::test]
async fn a_failed_write_keeps_the_token_in_l1_and_counts_the_lost_write() {
    let (clock, mem) = manual_memory();
    let faulty = FaultyStore::new(mem.clone());
    let cache = cache_over(
        CacheOptions::default(),
        Arc::new(faulty.clone()),
        clock.clone(),
    );
    faulty.set_fault(Fault::WritesFail);
    let key = partition::app("c", Some("t"));
    let exp = t0_plus(Duration::from_secs(3600));
    cache
        .update(&key, |p| {
            p.upsert_access_token(app_token("c", "t", SCOPE, exp, "s"))
        })
        .await
        .unwrap();
    assert_eq!(cache.get(&key).await.unwrap().level, CacheLevel::L1);
    let s = cache.stats();
    assert_eq!((s.l2_lost_writes, s.l2_errors), (1, 2));
    // The L2 really did not get it.
    let other = cache_over(CacheOptions::default(), mem, clock);
    assert!(other.get(&key).await.unwrap().partition.is_none());
}
