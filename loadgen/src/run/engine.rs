//! The run: populate, then the measured phase (open-model schedulers and closed-model
//! workers per workload, a memory sampler, the progress line) until the virtual duration
//! is over or the run is interrupted.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokencache::client::TokenSource;
use tokencache::CacheStats;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::flows::FlowCtx;
use super::memory::{sample, MemSample};
use super::pick::{rng, Picker};
use super::progress::Progress;
use super::schedule::Schedule;
use super::setup::{build, Parts};
use super::stats::WorkloadStats;
use crate::scenario::model::{Arrival, Scenario};

/// What a finished (or interrupted) run measured.
#[derive(Debug)]
pub struct RunOutput {
    pub started_at: SystemTime,
    pub wall: Duration,
    pub virtual_secs: f64,
    pub interrupted: bool,
    /// Per workload, in scenario order.
    pub workloads: Vec<WorkloadStats>,
    pub idp_by_status: std::collections::BTreeMap<String, u64>,
    /// Cache counters of the measured phase (populate excluded).
    pub cache: CacheStats,
    pub memory: Vec<MemSample>,
    /// Interval histograms of DurationTotal per workload, in time order.
    pub intervals: Vec<Interval>,
    /// Iterations of the populate phase and how many failed.
    pub populated: (u64, u64),
}

/// DurationTotal of one workload over one interval (virtual seconds since the start).
#[derive(Debug, Clone)]
pub struct Interval {
    pub workload: usize,
    pub start_s: f64,
    pub length_s: f64,
    pub hist: hdrhistogram::Histogram<u64>,
}

/// Takes every workload's interval histogram for `[from_s, to_s)`.
fn take_intervals(shared: &[Shared], from_s: f64, to_s: f64, out: &mut Vec<Interval>) {
    for (w, s) in shared.iter().enumerate() {
        let mut st = lock(s);
        let fresh = WorkloadStats::default().hists.interval;
        let hist = std::mem::replace(&mut st.hists.interval, fresh);
        out.push(Interval {
            workload: w,
            start_s: from_s,
            length_s: (to_s - from_s).max(0.0),
            hist,
        });
    }
}

/// Live counters for the progress line.
#[derive(Debug, Default)]
pub struct Live {
    pub acquisitions: AtomicU64,
    pub hits: AtomicU64,
    pub dropped: AtomicU64,
}

type Shared = Arc<Mutex<WorkloadStats>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, WorkloadStats> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs a scenario; `interrupt` (Ctrl-C) ends the measured phase early.
pub async fn run(scn: &Scenario, interrupt: impl Future<Output = ()>) -> anyhow::Result<RunOutput> {
    let parts = build(scn).await?;
    let populated = if scn.populate {
        populate(&parts).await
    } else {
        (0, 0)
    };
    parts.idp.reset();
    let base_stats = parts.cache.stats();
    let clock = parts.clock.clone();

    // The phase starts on a whole virtual second.
    let now_v = clock.now_millis();
    let start_v = now_v.div_ceil(1000) * 1000;
    let start = Instant::now() + clock.to_real(Duration::from_millis(start_v - now_v));
    let deadline = start + clock.to_real(scn.duration);
    tokio::time::sleep_until(start.into()).await;
    let started_at = SystemTime::now();

    let stop = Arc::new(AtomicBool::new(false));
    let live = Arc::new(Live::default());
    let shared: Vec<Shared> = scn.workloads.iter().map(|_| Shared::default()).collect();
    let mut drivers = JoinSet::new();
    for (w, wl) in scn.workloads.iter().enumerate() {
        let picker = Arc::new(Picker::new(pick_of(&wl.flow), wl.flow.population()));
        let flow = parts.flows[w].clone();
        let ctx = Driver {
            flow,
            picker,
            stats: shared[w].clone(),
            live: live.clone(),
            stop: stop.clone(),
            start,
            deadline,
            clock: clock.clone(),
        };
        match Schedule::new(&wl.arrival, scn.duration) {
            Some(schedule) => {
                drivers.spawn(open_model(
                    ctx,
                    schedule,
                    rng(scn.seed, w, 0),
                    wl.max_in_flight as usize,
                ));
            }
            None => {
                let Arrival::Concurrency(n) = wl.arrival else {
                    unreachable!("closed model")
                };
                for k in 0..n {
                    drivers.spawn(closed_worker(
                        ctx.clone(),
                        rng(scn.seed, w, u64::from(k) + 1),
                    ));
                }
            }
        }
    }
    let memory = Arc::new(Mutex::new(vec![
        sample(&parts.cache, start, start_v, &*clock).await,
    ]));
    let intervals = Arc::new(Mutex::new(Vec::new()));
    let interval_task = tokio::spawn(interval_logger(
        shared.clone(),
        intervals.clone(),
        stop.clone(),
        start,
        clock.to_real(scn.interval),
        scn.interval.as_secs_f64(),
    ));
    let sampler = tokio::spawn(sampler(
        parts.cache.clone(),
        memory.clone(),
        stop.clone(),
        start,
        start_v,
        clock.clone(),
        clock.to_real(scn.memory_sample_every),
    ));
    let progress = Progress::start(scn, live.clone(), shared.clone(), stop.clone(), start);

    tokio::pin!(interrupt);
    let mut interrupted = false;
    loop {
        tokio::select! {
            r = drivers.join_next() => if r.is_none() { break },
            () = &mut interrupt, if !interrupted => {
                interrupted = true;
                stop.store(true, Ordering::SeqCst);
            }
        }
    }
    // The phase lasts its duration even when the last arrival came earlier.
    if !interrupted {
        tokio::select! {
            () = tokio::time::sleep_until(deadline.into()) => {}
            () = &mut interrupt => interrupted = true,
        }
    }
    stop.store(true, Ordering::SeqCst);
    let wall = start.elapsed();
    let virtual_secs = (clock.now_millis().saturating_sub(start_v)) as f64 / 1000.0;
    let _ = sampler.await;
    let (mut intervals, last_s) = interval_task.await.unwrap_or_else(|_| {
        (
            std::mem::take(&mut *intervals.lock().unwrap_or_else(|p| p.into_inner())),
            0.0,
        )
    });
    progress.finish();
    let mut memory = std::mem::take(&mut *memory.lock().unwrap_or_else(|p| p.into_inner()));
    memory.push(sample(&parts.cache, start, start_v, &*clock).await);
    parts.cache.shutdown().await;
    let end_stats = parts.cache.stats();
    take_intervals(&shared, last_s, virtual_secs.max(last_s), &mut intervals);
    Ok(RunOutput {
        started_at,
        wall,
        virtual_secs: if interrupted {
            virtual_secs.min(scn.duration.as_secs_f64())
        } else {
            scn.duration.as_secs_f64()
        },
        interrupted,
        workloads: shared.iter().map(|s| lock(s).clone()).collect(),
        idp_by_status: parts.idp.snapshot(),
        cache: delta(&end_stats, &base_stats),
        memory,
        intervals,
        populated,
    })
}

fn pick_of(f: &crate::scenario::model::FlowSpec) -> crate::scenario::model::Pick {
    use crate::scenario::model::FlowSpec::*;
    match f {
        ClientCredentials { pick, .. } | OnBehalfOf { pick, .. } | WebApp { pick, .. } => *pick,
    }
}

fn delta(end: &CacheStats, base: &CacheStats) -> CacheStats {
    CacheStats {
        l1_hits: end.l1_hits - base.l1_hits,
        l1_misses: end.l1_misses - base.l1_misses,
        l2_reads: end.l2_reads - base.l2_reads,
        l2_hits: end.l2_hits - base.l2_hits,
        l2_misses: end.l2_misses - base.l2_misses,
        l2_writes: end.l2_writes - base.l2_writes,
        l2_removes: end.l2_removes - base.l2_removes,
        l2_errors: end.l2_errors - base.l2_errors,
        l2_timeouts: end.l2_timeouts - base.l2_timeouts,
        l2_lost_writes: end.l2_lost_writes - base.l2_lost_writes,
        decode_errors: end.decode_errors - base.decode_errors,
        ..*end
    }
}

/// Acquires every partition × resource once, 64 at a time (not measured).
async fn populate(parts: &Parts) -> (u64, u64) {
    let sem = Arc::new(Semaphore::new(64));
    let mut set = JoinSet::new();
    let failed = Arc::new(AtomicU64::new(0));
    let mut n = 0;
    for flow in &parts.flows {
        for i in 0..flow.spec.population() {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            let (flow, failed) = (flow.clone(), failed.clone());
            n += 1;
            set.spawn(async move {
                if flow.acquire(i).await.is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                drop(permit);
            });
            while set.try_join_next().is_some() {}
        }
    }
    while set.join_next().await.is_some() {}
    (n, failed.load(Ordering::Relaxed))
}

#[derive(Debug, Clone)]
struct Driver {
    flow: Arc<FlowCtx>,
    picker: Arc<Picker>,
    stats: Shared,
    live: Arc<Live>,
    stop: Arc<AtomicBool>,
    start: Instant,
    deadline: Instant,
    clock: tokencache::SharedClock,
}

fn note(live: &Live, r: &Result<tokencache::client::AuthResult, super::flows::IterError>) {
    live.acquisitions.fetch_add(1, Ordering::Relaxed);
    if matches!(r, Ok(a) if a.metadata.token_source == TokenSource::Cache) {
        live.hits.fetch_add(1, Ordering::Relaxed);
    }
}

/// Open model: arrivals on schedule, latency from the intended start, drops when
/// `max_in_flight` iterations are running.
async fn open_model(
    d: Driver,
    schedule: Schedule,
    mut rng: rand::rngs::StdRng,
    max_in_flight: usize,
) {
    let sem = Arc::new(Semaphore::new(max_in_flight));
    let mut tasks = JoinSet::new();
    let mut k = 0u64;
    while let Some(off) = schedule.offset(k) {
        k += 1;
        let intended = d.start + d.clock.to_real(Duration::from_secs_f64(off));
        if intended >= d.deadline || d.stop.load(Ordering::Relaxed) {
            break;
        }
        wait_until(intended).await;
        if d.stop.load(Ordering::Relaxed) {
            break;
        }
        let idx = d.picker.pick(&mut rng);
        let Ok(permit) = sem.clone().try_acquire_owned() else {
            lock(&d.stats).counts.dropped += 1;
            d.live.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (flow, stats, live) = (d.flow.clone(), d.stats.clone(), d.live.clone());
        tasks.spawn(async move {
            let r = flow.acquire(idx).await;
            let total = intended.elapsed();
            note(&live, &r);
            lock(&stats).record(&r, total);
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Sleeps until `t` precisely: tokio's timer has millisecond granularity and would add up
/// to a millisecond of scheduler lag to every latency measured from the intended start, so
/// the last stretch is spent yielding.
async fn wait_until(t: Instant) {
    let slack = Duration::from_millis(2);
    let now = Instant::now();
    if t > now + slack {
        tokio::time::sleep_until((t - slack).into()).await;
    }
    while Instant::now() < t {
        tokio::task::yield_now().await;
    }
}

/// Closed model: one caller in a loop; measurements are batched locally.
async fn closed_worker(d: Driver, mut rng: rand::rngs::StdRng) {
    let mut local = WorkloadStats::default();
    let mut last_flush = Instant::now();
    let mut pending = 0u32;
    while Instant::now() < d.deadline && !d.stop.load(Ordering::Relaxed) {
        let idx = d.picker.pick(&mut rng);
        let t0 = Instant::now();
        let r = d.flow.acquire(idx).await;
        let total = r
            .as_ref()
            .map_or_else(|_| t0.elapsed(), |a| a.metadata.duration_total);
        note(&d.live, &r);
        local.record(&r, total);
        pending += 1;
        if pending >= 16_384 || last_flush.elapsed() > Duration::from_millis(100) {
            lock(&d.stats).merge(&local);
            // Fresh histograms start small (they grow to the largest value recorded), which
            // is cheaper than resetting grown ones.
            local = WorkloadStats::default();
            pending = 0;
            last_flush = Instant::now();
            tokio::task::yield_now().await;
        }
    }
    lock(&d.stats).merge(&local);
}

async fn sampler(
    cache: tokencache::TokenCache,
    out: Arc<Mutex<Vec<MemSample>>>,
    stop: Arc<AtomicBool>,
    start: Instant,
    start_v: u64,
    clock: tokencache::SharedClock,
    every: Duration,
) {
    let every = every.max(Duration::from_millis(20));
    let mut next = start + every;
    loop {
        while Instant::now() < next {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20).min(every)).await;
        }
        let s = sample(&cache, start, start_v, &*clock).await;
        out.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        next += every;
    }
}

/// Every `every` (real; `every_v` virtual seconds), moves each workload's interval histogram
/// into the log. Returns the log and where its last interval ended (virtual seconds).
async fn interval_logger(
    shared: Vec<Shared>,
    out: Arc<Mutex<Vec<Interval>>>,
    stop: Arc<AtomicBool>,
    start: Instant,
    every: Duration,
    every_v: f64,
) -> (Vec<Interval>, f64) {
    let every = every.max(Duration::from_millis(20));
    let mut k = 1u32;
    loop {
        let next = start + every * k;
        while Instant::now() < next {
            if stop.load(Ordering::Relaxed) {
                let log = std::mem::take(&mut *out.lock().unwrap_or_else(|p| p.into_inner()));
                return (log, f64::from(k - 1) * every_v);
            }
            tokio::time::sleep(Duration::from_millis(10).min(every)).await;
        }
        let mut log = out.lock().unwrap_or_else(|p| p.into_inner());
        take_intervals(
            &shared,
            f64::from(k - 1) * every_v,
            f64::from(k) * every_v,
            &mut log,
        );
        k += 1;
    }
}
