//! Behaviour every server-backed L2 store must show, run by the `l2_*` test modules against
//! real servers: binary round trip, TTL expiry, sliding expiry, remove, usage, failing fast
//! while the server is down and recovering by itself once it is back.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokencache::{L2Error, L2Store};

/// Longest an operation against a dead server may take before we call it a hang.
pub const FAIL_FAST: Duration = Duration::from_secs(4);
/// How long a store may take to work again after its server restarts.
pub const RECOVERY: Duration = Duration::from_secs(10);

/// 3 KB of pseudo-random bytes (incompressible; includes 0 and invalid UTF-8).
pub fn blob(seed: u8) -> Bytes {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(seed);
    (0..3072)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// Awaits `fut`, failing the test if it takes longer than `limit` (a hang).
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not return within {limit:?}"),
    }
}

/// Polls `probe` every 100 ms until it returns true; returns how long it took, or panics.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if probe().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not true within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn round_trips_binary_values(store: &dyn L2Store, prefix: &str) {
    let key = format!("{prefix}rt");
    let value = blob(7);
    store.set(&key, value.clone(), None).await.unwrap();
    assert_eq!(store.get(&key, None).await.unwrap(), Some(value));
    // Overwrite with a different value and a TTL.
    let other = blob(8);
    store
        .set(&key, other.clone(), Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(store.get(&key, None).await.unwrap(), Some(other));
    assert_eq!(
        store.get(&format!("{prefix}missing"), None).await.unwrap(),
        None
    );
    // An empty value is a value, not a miss.
    store.set(&key, Bytes::new(), None).await.unwrap();
    assert_eq!(store.get(&key, None).await.unwrap(), Some(Bytes::new()));
}

pub async fn expires_after_its_ttl(store: &dyn L2Store, prefix: &str) {
    let key = format!("{prefix}ttl");
    let start = Instant::now();
    store
        .set(&key, blob(1), Some(Duration::from_millis(1000)))
        .await
        .unwrap();
    store
        .set(&format!("{prefix}forever"), blob(2), None)
        .await
        .unwrap();
    assert!(store.get(&key, None).await.unwrap().is_some());
    eventually(
        Duration::from_secs(4),
        "key with a 1 s TTL expires",
        || async { store.get(&key, None).await.unwrap().is_none() },
    )
    .await;
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "expired too early: {:?}",
        start.elapsed()
    );
    assert!(store
        .get(&format!("{prefix}forever"), None)
        .await
        .unwrap()
        .is_some());
}

pub async fn sliding_read_extends_the_ttl(store: &dyn L2Store, prefix: &str) {
    let key = format!("{prefix}slide");
    let ttl = Duration::from_millis(1500);
    let start = Instant::now();
    store.set(&key, blob(3), Some(ttl)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // Slide: the key now lives until ~2.5 s after start instead of 1.5 s.
    assert!(store.get(&key, Some(ttl)).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(1700).saturating_sub(start.elapsed())).await;
    assert!(
        store.get(&key, None).await.unwrap().is_some(),
        "a slid key must outlive its original TTL"
    );
    eventually(Duration::from_secs(4), "slid key expires", || async {
        store.get(&key, None).await.unwrap().is_none()
    })
    .await;
}

pub async fn remove_deletes_and_tolerates_missing_keys(store: &dyn L2Store, prefix: &str) {
    let key = format!("{prefix}rm");
    store.set(&key, blob(4), None).await.unwrap();
    store.remove(&key).await.unwrap();
    assert_eq!(store.get(&key, None).await.unwrap(), None);
    store.remove(&key).await.unwrap();
    store.remove(&format!("{prefix}never-there")).await.unwrap();
}

/// Writes `n` 3 KB values under `prefix` and one key outside it; usage counts exactly the
/// `n` keys and reports at least their payload bytes.
pub async fn usage_counts_keys_under_a_prefix(store: &dyn L2Store, prefix: &str, n: usize) {
    for i in 0..n {
        store
            .set(&format!("{prefix}u{i}"), blob(i as u8), None)
            .await
            .unwrap();
    }
    store
        .set("outside-the-prefix", blob(0), None)
        .await
        .unwrap();
    let usage = store.usage(prefix).await.unwrap();
    assert_eq!(usage.keys, n as u64, "{usage:?}");
    assert!(usage.bytes >= (n * 3072) as u64, "{usage:?}");
    assert!(usage.bytes < (n * 3072 * 4 + 1_000_000) as u64, "{usage:?}");
    // A prefix with glob / LIKE metacharacters matches literally.
    assert_eq!(store.usage(&format!("{prefix}*%_")).await.unwrap().keys, 0);
}

/// While the server is down every operation returns an error within [`FAIL_FAST`].
pub async fn fails_fast_while_down(store: &dyn L2Store, key: &str) {
    for round in 0..3 {
        let get = within(FAIL_FAST, "get against a dead server", store.get(key, None)).await;
        assert!(
            get.is_err(),
            "round {round}: get succeeded against a dead server"
        );
        let set = within(
            FAIL_FAST,
            "set against a dead server",
            store.set(key, blob(9), None),
        )
        .await;
        assert!(
            set.is_err(),
            "round {round}: set succeeded against a dead server"
        );
        assert_no_value_or_secret(&set.unwrap_err());
        let rm = within(FAIL_FAST, "remove against a dead server", store.remove(key)).await;
        assert!(rm.is_err());
    }
}

/// After the server is back, the same store object works again within [`RECOVERY`].
pub async fn recovers_by_itself(store: &dyn L2Store, key: &str) -> Duration {
    let start = Instant::now();
    let value = blob(5);
    loop {
        let set = within(
            FAIL_FAST,
            "set while recovering",
            store.set(key, value.clone(), None),
        )
        .await;
        let last = match set {
            Ok(()) => match within(FAIL_FAST, "get while recovering", store.get(key, None)).await {
                Ok(Some(v)) if v == value => return start.elapsed(),
                other => format!("get: {other:?}"),
            },
            Err(e) => format!("set: {e}"),
        };
        assert!(
            start.elapsed() < RECOVERY,
            "store did not recover within {RECOVERY:?} after the server restarted; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Error messages never carry a stored value (our blobs are binary; their text form would
/// show up as a long run of escapes) nor a password.
pub fn assert_no_value_or_secret(err: &L2Error) {
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.len() < 1000, "suspiciously long error: {text}");
}

/// Writes `n` 3 KB values (random bytes: nothing compresses them) under `prefix` and checks
/// that the usage probe reports them plausibly: `bytes` between 0.8× and 2× of what was
/// written (key + value), `method` as named, and, when the store has a server figure, its
/// growth over the writes within the same bounds. Returns (written, usage, server growth).
pub async fn usage_is_plausible_against_bytes_written(
    store: &dyn L2Store,
    prefix: &str,
    n: usize,
    method: &str,
) -> (u64, tokencache::L2Usage, Option<u64>) {
    let before = store.usage(prefix).await.unwrap();
    assert_eq!(before.keys, 0, "{before:?}");
    let mut written = 0u64;
    for i in 0..n {
        let key = format!("{prefix}p{i}");
        written += (key.len() + 3072) as u64;
        store.set(&key, blob(i as u8), None).await.unwrap();
    }
    let usage = store.usage(prefix).await.unwrap();
    assert_eq!(usage.method, method, "{usage:?}");
    assert_eq!(usage.keys, n as u64, "{usage:?}");
    let ratio = usage.bytes as f64 / written as f64;
    assert!(
        (0.8..=2.0).contains(&ratio),
        "{method}: {} bytes reported for {written} written ({ratio:.2}×)",
        usage.bytes
    );
    let growth = match (before.server_bytes, usage.server_bytes) {
        (Some(b), Some(a)) => {
            let growth = a.saturating_sub(b);
            let ratio = growth as f64 / written as f64;
            assert!(
                (0.8..=2.0).contains(&ratio),
                "{method}: the server grew {growth} bytes for {written} written ({ratio:.2}×)"
            );
            Some(growth)
        }
        (None, None) => None,
        other => panic!("server_bytes present only sometimes: {other:?}"),
    };
    (written, usage, growth)
}

/// `list_keys` finds keys under a prefix only, never more than the limit.
pub async fn list_keys_walks_a_prefix_up_to_a_limit(store: &dyn L2Store, prefix: &str) {
    for i in 0..25 {
        store
            .set(&format!("{prefix}k{i:02}"), blob(1), None)
            .await
            .unwrap();
    }
    store.set("elsewhere:k", blob(1), None).await.unwrap();
    let mut all = store.list_keys(prefix, 1000).await.unwrap();
    all.sort();
    let expected: Vec<String> = (0..25).map(|i| format!("{prefix}k{i:02}")).collect();
    assert_eq!(all, expected);
    assert_eq!(store.list_keys(prefix, 7).await.unwrap().len(), 7);
    assert!(store
        .list_keys(&format!("{prefix}*"), 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_memory_store_counts_usage_exactly_and_lists_keys() {
    let store = tokencache::l2::MemoryStore::new(std::sync::Arc::new(tokencache::SystemClock));
    let (written, usage, growth) =
        usage_is_plausible_against_bytes_written(&store, "ts:m:", 50, "exact").await;
    assert_eq!((usage.bytes, growth), (written, None));
    list_keys_walks_a_prefix_up_to_a_limit(&store, "ts:list:").await;
}
