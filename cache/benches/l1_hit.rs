//! L1 hit for an app token with 1, 100,000 and 1,000,000 partitions cached: the whole hit
//! path (partition lookup in L1, validity check on the cache clock, O(1) token lookup by
//! normalized scopes, token clone), through the async `get` and the sync `get_l1`.
//!
//! Run: `cargo bench -p tokencache --bench l1_hit`
//!
//! Last figures (2-core shared VM, AMD EPYC, other builds running: load 2.4-3.6;
//! 2026-11-22; criterion means, `--output-format bencher`), ns per hit:
//!   partitions  get_async  get_l1  get_l1_built_keys  moka_floor  hashmap_floor
//!   1               118      114        158              147          44
//!   100,000       1,640    1,242      1,157            1,575         515
//!   1,000,000     1,660    1,451-1,709  1,692          2,066-2,085   736-741
//!   one partition holding 1 token: 119 ns; holding 100,000 tokens: 719 ns (O(1) index;
//!   the difference is cache misses, not a scan — MSAL scans, ~ms at that size)
//! Quiet machine (load 0.5-1.3), 2026-11-22 05:53 UTC, after inline hot tokens:
//!   partitions  get_l1  l1_access_token  moka_floor  hashmap_floor
//!   1             113        160             145          44
//!   100,000     1,220        848           1,346         525
//!   1,000,000   1,569      1,119           1,643         605
//!   one partition holding 1 token: 115 ns; holding 100,000 tokens: 451 ns
//! Target p50 <= 1 us flat: met at 1 partition and 100k (l1_access_token, 848 ns), NOT met
//! at 1M (1,119 ns mean), and not flat (DRAM misses grow with the working set). Flat
//! between 100k and 1M, below moka alone, about 2.3x a bare std HashMap of the same keys:
//! at this size every hit is a handful of DRAM misses (index, key, entry, partition map,
//! token, secret refcount), and this VM's misses are slow and noisy.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tokencache::l2::MemoryStore;
use tokencache::model::keys::{access_token_index, normalize_scopes, partition};
use tokencache::{CacheOptions, L1Options, SharedClock, SystemClock, TokenCache};

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
        let visit = order(n, 0x9E37_79B9_7F4A_7C15);
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
            let mut t = String::with_capacity(40);
            b.iter(|| {
                i = (i + 1) % visit.len();
                write_tenant(&mut t, visit[i]);
                app_keys(&mut key, &mut index, &t);
                let p = cache.get_l1(&key).expect("hit");
                let at = p.access_token_by_index(&index).expect("token");
                black_box(at.secret.clone())
            })
        });
        // The recommended hot path: one call, token from the L1 entry's inline copy.
        g.bench_with_input(BenchmarkId::new("l1_access_token", n), &n, |b, _| {
            let mut i = 0usize;
            let mut key = String::with_capacity(128);
            let mut index = String::with_capacity(128);
            let mut t = String::with_capacity(40);
            b.iter(|| {
                i = (i + 1) % visit.len();
                write_tenant(&mut t, visit[i]);
                app_keys(&mut key, &mut index, &t);
                black_box(cache.l1_access_token(&key, &index).expect("hit").secret)
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
        let indexes: Vec<String> = order(tokens, 0x9E37_79B9_7F4A_7C15)
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
