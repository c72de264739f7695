//! `acquire_token_for_client` served from L1 through the full client API (metadata
//! included), with 1 and 1,000,000 tenants cached: latency percentiles on one thread, and
//! throughput with both cores busy (one current-thread runtime per core).
//! Targets (issue 3): p50 <= 2 us at 1,000,000 tenants; >= 1,000,000 acquisitions/s.
//!
//! Run: `cargo bench -p tokencache --bench client_hit` (env BENCH_TENANTS=1,1000000,
//! BENCH_SECONDS=3).
//!
//! Last figures (2-core shared VM, AMD EPYC, other engineers' builds running: load 2.7-4.9;
//! 2026-11-22, after the dashmap index, fast path and striped hit counter):
//!   tenants          p50      p90      p99     2 threads wall   per CPU-second (x2 cores)
//!   1                0.50 us  0.66 us  0.73 us  1.41-1.73 M/s    1.05-1.59 M (2.1-3.2 M/s)
//!   1,000,000        1.70 us  2.46 us  4.78 us  0.41-0.48 M/s    0.467 M     (0.93 M/s)
//! Quiet machine (helpers' builds done, load 0.03 at start), 2026-11-22 05:52 UTC, with the
//! inline hot tokens in L1 entries:
//!   1                0.50 us  0.65 us  0.71 us  2.83 M/s         1.43 M      (2.86 M/s)
//!   1,000,000        1.13 us  1.82 us  3.55 us  1.38 M/s         0.70 M      (1.40 M/s)
//! Both targets met on the quiet machine. Again at 06:02 UTC (load 0.5-0.9), with the cache
//! alone timed per hit too (TokenCache::l1_access_token, issue 2's L1 hit, clock reads incl.):
//!   tenants    L1 hit p50 / p90 / p99       client p50 / p90 / p99     2 threads wall
//!   1          0.11 / 0.26 / 0.28 us        0.52 / 0.66 / 0.74 us      3.03 M/s
//!   100,000    0.66 / 1.26 / 2.69 us        1.09 / 1.72 / 3.23 us      1.57 M/s
//!   1,000,000  0.89 / 1.60 / 3.60 us        1.28 / 2.00 / 3.99 us      1.23 M/s
//! Under load, earlier:
//! Targets: p50 <= 2 us at 1M tenants (met); >= 1M/s with both cores (met at 1 tenant; at
//! 1M tenants 0.93 M/s per two CPUs' worth of our own threads' time, just short). The wall
//! rate is lower than the per-CPU rate because other processes held the cores. At a million
//! tenants a hit is memory-latency bound: a bare HashMap lookup of the same keys costs
//! 0.7-2.2 us on this machine (benches/l1_hit.rs, `hashmap_floor`).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::*;
use hdrhistogram::Histogram;
use tokencache::client::{
    AcquireOptions, AuthorityClient, AuthorityError, ClientCredential, ClientOptions,
    ConfidentialClient, RawResponse, TokenSource, TransportError,
};
use tokencache::l2::MemoryStore;
use tokencache::model::keys::partition;
use tokencache::{CacheOptions, L1Options, SharedClock, SystemClock, TokenCache};

/// The bench never reaches the authority: every tenant is cached.
#[derive(Debug)]
struct Unreachable;

#[async_trait]
impl AuthorityClient for Unreachable {
    async fn token_endpoint(&self, tenant: &str) -> Result<Arc<str>, AuthorityError> {
        Err(AuthorityError::Discovery {
            tenant: tenant.into(),
            message: "the bench has no authority".into(),
        })
    }
    async fn post_token(
        &self,
        endpoint: &str,
        _form: &[(&'static str, String)],
        _headers: &[(&'static str, String)],
    ) -> Result<RawResponse, TransportError> {
        Err(TransportError::Other {
            endpoint: endpoint.into(),
            message: "unreachable".into(),
        })
    }
}

/// This thread's time on a CPU, in ns (Linux `/proc/thread-self/schedstat`, first field).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`: a quick smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = std::env::var("BENCH_TENANTS")
        .unwrap_or_else(|_| {
            if smoke {
                "1,1000".into()
            } else {
                "1,1000000".into()
            }
        })
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for n in sizes {
        run(
            n,
            if smoke {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(seconds)
            },
        );
    }
}

fn run(n: usize, dur: Duration) {
    let clock: SharedClock = Arc::new(SystemClock);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
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
    let tenants: Vec<String> = (0..n).map(tenant).collect();
    let fill = Instant::now();
    rt.block_on(async {
        for t in &tenants {
            cache
                .update(&partition::app(CLIENT, Some(t)), |p| {
                    p.upsert_access_token(token(t, exp))
                })
                .await
                .expect("fill");
        }
    });
    // Let moka apply the million queued inserts now, not during the measurement.
    let _ = cache.stats();
    let filled_in = fill.elapsed();
    let client = ConfidentialClient::with_meter(
        ClientOptions::new(CLIENT, ClientCredential::secret("unused")),
        Arc::new(Unreachable),
        Some(cache.clone()),
        clock.clone(),
        None,
    );
    let opts = AcquireOptions::default();

    // Latency, one thread.
    let visit = order(n, 0x9E37_79B9_7F4A_7C15);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("hist");
    rt.block_on(async {
        let deadline = Instant::now() + dur;
        let mut i = 0usize;
        // The tenant id arrives with each request (hot in the caller's cache), so it is
        // written into a reused buffer rather than read from a million-string table.
        let mut t = String::with_capacity(40);
        while Instant::now() < deadline {
            for _ in 0..1000 {
                i = (i + 1) % visit.len();
                write_tenant(&mut t, visit[i]);
                let s = Instant::now();
                let r = client
                    .acquire_token_for_client(&t, &[SCOPE], &opts)
                    .await
                    .expect("hit");
                hist.saturating_record(s.elapsed().as_nanos() as u64);
                assert_eq!(r.metadata.token_source, TokenSource::Cache);
            }
        }
    });

    // The cache alone (issue 2's L1 hit): `TokenCache::l1_access_token` with keys built per
    // request, timed one by one (the two clock reads, ~40 ns, are included).
    let mut l1_hist = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("hist");
    {
        let deadline = Instant::now() + dur;
        let (mut i, mut t) = (0usize, String::with_capacity(40));
        let (mut key, mut index) = (String::with_capacity(128), String::with_capacity(128));
        while Instant::now() < deadline {
            for _ in 0..1000 {
                i = (i + 1) % visit.len();
                write_tenant(&mut t, visit[i]);
                app_keys(&mut key, &mut index, &t);
                let s = Instant::now();
                let hit = cache.l1_access_token(&key, &index).expect("hit");
                l1_hist.saturating_record(s.elapsed().as_nanos() as u64);
                std::hint::black_box(hit);
            }
        }
    }

    // Throughput, both cores.
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let cpu = Arc::new(AtomicU64::new(0));
    drop(tenants);
    let started = Instant::now();
    let threads: Vec<_> = (0..2u64)
        .map(|k| {
            let (client, stop, total, cpu, n) =
                (client.clone(), stop.clone(), total.clone(), cpu.clone(), n);
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("rt");
                let visit = order(n, 0xDEAD_BEEF + k);
                let opts = AcquireOptions::default();
                let cpu0 = thread_cpu_ns();
                rt.block_on(async {
                    let mut i = 0usize;
                    let mut done = 0u64;
                    let mut t = String::with_capacity(40);
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..1000 {
                            i = (i + 1) % visit.len();
                            write_tenant(&mut t, visit[i]);
                            client
                                .acquire_token_for_client(&t, &[SCOPE], &opts)
                                .await
                                .expect("hit");
                        }
                        done += 1000;
                    }
                    total.fetch_add(done, Ordering::Relaxed);
                });
                cpu.fetch_add(thread_cpu_ns().saturating_sub(cpu0), Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("thread");
    }
    let done = total.load(Ordering::Relaxed) as f64;
    let rate = done / started.elapsed().as_secs_f64();
    // Other processes share these 2 cores: per CPU-second of our own threads is the figure
    // that does not depend on them (x2 = what two dedicated cores would do).
    let per_cpu_s = done / (cpu.load(Ordering::Relaxed) as f64 / 1e9);
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "tenants {n:>9}: L1 hit (TokenCache::l1_access_token): p50 {:.2} us  p90 {:.2} us  p99 {:.2} us",
        l1_hist.value_at_quantile(0.5) as f64 / 1000.0,
        l1_hist.value_at_quantile(0.9) as f64 / 1000.0,
        l1_hist.value_at_quantile(0.99) as f64 / 1000.0,
    );
    println!(
        "tenants {n:>9}: p50 {:.2} us  p90 {:.2} us  p99 {:.2} us  p99.9 {:.2} us  | 2 threads {:.0} acquisitions/s wall, {:.0} per CPU-second (x2 cores = {:.0}/s)  (filled in {:.1} s)",
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        rate,
        per_cpu_s,
        2.0 * per_cpu_s,
        filled_in.as_secs_f64()
    );
}
