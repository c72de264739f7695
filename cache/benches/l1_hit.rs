//! L1 hit for an app token with 1, 100,000 and 1,000,000 partitions cached: the whole hit
//! path (partition lookup in L1, validity check on the cache clock, O(1) token lookup by
//! normalized scopes, token clone), through the async `get` and the sync `get_l1`.
//!
//! Run: `cargo bench -p tokencache --bench l1_hit`
//!
//! Last figures (2-core shared VM, rustc 1.95, 2026-11-22), median time per hit:
//!   see the table written by the session that last ran it in its closing note; filled in below.
//!   partitions      get().await     get_l1()
//!   1               (pending)       (pending)
//!   100,000         (pending)       (pending)
//!   1,000,000       (pending)       (pending)

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tokencache::l2::MemoryStore;
use tokencache::model::entries::{AccessToken, Secret, Timestamp};
use tokencache::model::keys::{access_token_index, normalize_scopes, partition};
use tokencache::{CacheOptions, L1Options, SharedClock, SystemClock, TokenCache};

const CLIENT: &str = "6f1c2a9e-8a42-4c55-9b1e-2d6b1b0c7a11";
const SCOPE: &str = "api://graph/.default";

fn tenant(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i, i)
}

fn token(tenant: &str, expires_on: u64) -> AccessToken {
    AccessToken {
        credential_type: "AccessToken".into(),
        // A realistic JWT-sized secret.
        secret: Secret::new("e".repeat(1200)),
        home_account_id: None,
        environment: "login.microsoftonline.com".into(),
        client_id: CLIENT.into(),
        target: SCOPE.into(),
        realm: tenant.into(),
        token_type: Some("Bearer".into()),
        cached_at: Timestamp(expires_on - 3600),
        expires_on: Timestamp(expires_on),
        extended_expires_on: Some(Timestamp(expires_on + 3600)),
        ext_expires_on: None,
        refresh_on: None,
        user_assertion_hash: None,
        user_assertion_hash_node: None,
        extra: Default::default(),
    }
}

fn populated(rt: &tokio::runtime::Runtime, n: usize) -> (TokenCache, Vec<(String, String)>) {
    let clock: SharedClock = Arc::new(SystemClock);
    let opts = CacheOptions {
        l1: Some(L1Options {
            max_bytes: 16 * 1024 * 1024 * 1024,
        }),
        ..CacheOptions::default()
    };
    let cache = TokenCache::new(
        opts,
        Arc::new(MemoryStore::new(clock.clone())),
        clock.clone(),
    );
    let exp = clock.now_secs() + 24 * 3600;
    let scopes = normalize_scopes([SCOPE]);
    let keys: Vec<(String, String)> = rt.block_on(async {
        let mut keys = Vec::with_capacity(n);
        for i in 0..n {
            let t = tenant(i);
            let key = partition::app(CLIENT, Some(&t));
            cache
                .update(&key, |p| p.upsert_access_token(token(&t, exp)))
                .await
                .expect("memory store never fails");
            keys.push((key, access_token_index("", CLIENT, &t, &scopes)));
        }
        keys
    });
    // Let moka apply the queued inserts now, not during the measurement.
    let _ = cache.stats();
    (cache, keys)
}

/// A fixed pseudo-random visiting order, so large caches are read all over memory.
fn order(n: usize) -> Vec<usize> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n.min(1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("l1_hit");
    g.measurement_time(Duration::from_secs(4));
    g.warm_up_time(Duration::from_secs(1));
    // `cargo test --all-targets` runs benches once without `--bench`: keep that quick.
    let sizes: &[usize] = if std::env::args().any(|a| a == "--bench") {
        &[1, 100_000, 1_000_000]
    } else {
        &[1, 1_000]
    };
    for &n in sizes {
        let (cache, keys) = populated(&rt, n);
        let visit = order(n);
        let now = cache.clock().now_secs();
        g.bench_with_input(BenchmarkId::new("get_async", n), &n, |b, _| {
            let mut i = 0usize;
            b.to_async(&rt).iter(|| {
                i = (i + 1) % visit.len();
                let (key, index) = &keys[visit[i]];
                let cache = &cache;
                async move {
                    let p = cache.get(key).await.expect("hit").partition.expect("hit");
                    let at = p.access_token_by_index(index).expect("token");
                    assert!(at.expires_on.0 > now);
                    black_box(at.secret.clone())
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("get_l1", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) % visit.len();
                let (key, index) = &keys[visit[i]];
                let p = cache.get_l1(key).expect("hit");
                let at = p.access_token_by_index(index).expect("token");
                black_box(at.secret.clone())
            })
        });
        // As a caller does it: the keys are built per request from the tenant id (hot in
        // the caller's cache), not read from a million-entry table of prebuilt strings.
        g.bench_with_input(BenchmarkId::new("get_l1_built_keys", n), &n, |b, _| {
            let mut i = 0usize;
            let mut key = String::with_capacity(128);
            let mut index = String::with_capacity(128);
            b.iter(|| {
                use std::fmt::Write as _;
                i = (i + 1) % visit.len();
                let t = visit[i];
                key.clear();
                index.clear();
                let _ = write!(
                    key,
                    "{CLIENT}_{:08x}-0000-4000-8000-{:012x}_AppTokenCache",
                    t, t
                );
                let _ = write!(
                    index,
                    "|{CLIENT}|{:08x}-0000-4000-8000-{:012x}|{SCOPE}",
                    t, t
                );
                let p = cache.get_l1(&key).expect("hit");
                let at = p.access_token_by_index(&index).expect("token");
                black_box(at.secret.clone())
            })
        });
        // The floor: moka alone, same keys, same order, no partition or token work.
        let floor: moka::sync::Cache<String, Arc<u64>> =
            moka::sync::Cache::builder().max_capacity(u64::MAX).build();
        for (k, _) in &keys {
            floor.insert(k.clone(), Arc::new(1));
        }
        g.bench_with_input(BenchmarkId::new("moka_floor", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) % visit.len();
                black_box(floor.get(&keys[visit[i]].0).expect("hit"))
            })
        });
        let map: std::collections::HashMap<String, Arc<u64>> =
            keys.iter().map(|(k, _)| (k.clone(), Arc::new(1))).collect();
        g.bench_with_input(BenchmarkId::new("hashmap_floor", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) % visit.len();
                black_box(map.get(&keys[visit[i]].0).expect("hit").clone())
            })
        });
        drop(cache);
    }
    // One partition holding many tokens (one report shows 164,663 in one app partition):
    // finding one of them costs the same as in a one-token partition.
    let big_sizes: &[usize] = if std::env::args().any(|a| a == "--bench") {
        &[1, 100_000]
    } else {
        &[1, 100]
    };
    for &tokens in big_sizes {
        let clock: SharedClock = Arc::new(SystemClock);
        let cache = TokenCache::new(
            CacheOptions {
                l1: Some(L1Options {
                    max_bytes: 16 << 30,
                }),
                ..CacheOptions::default()
            },
            Arc::new(MemoryStore::new(clock.clone())),
            clock.clone(),
        );
        let exp = clock.now_secs() + 24 * 3600;
        let t = tenant(7);
        let key = partition::app(CLIENT, Some(&t));
        let mut big = tokencache::Partition::new();
        for r in 0..tokens {
            let mut at = token(&t, exp);
            at.target = format!("api://resource-{r}/.default");
            big.upsert_access_token(at);
        }
        rt.block_on(cache.update(&key, move |p| *p = big))
            .expect("write");
        let indexes: Vec<String> = order(tokens)
            .into_iter()
            .map(|r| {
                access_token_index(
                    "",
                    CLIENT,
                    &t,
                    &normalize_scopes([format!("api://resource-{r}/.default").as_str()]),
                )
            })
            .collect();
        g.bench_with_input(
            BenchmarkId::new("tokens_in_one_partition", tokens),
            &tokens,
            |b, _| {
                let mut i = 0usize;
                b.iter(|| {
                    i = (i + 1) % indexes.len();
                    let p = cache.get_l1(&key).expect("hit");
                    black_box(
                        p.access_token_by_index(&indexes[i])
                            .expect("token")
                            .secret
                            .clone(),
                    )
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
