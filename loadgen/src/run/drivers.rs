//! What runs during the measured phase: open-model schedulers, closed-model workers, the
//! memory sampler and the interval logger, all recording into per-workload shared stats.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokencache::client::TokenSource;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use rand::Rng as _;
use tokencache::client::AuthResult;

use super::abort::AbortWatch;
use super::authority::Counting;
use super::flows::{FlowCtx, IterError};
use super::memory::{sample, MemSample};
use super::pick::{Partition, Picker};
use super::schedule::Schedule;
use super::session::Bounds;
use super::stats::{Counts, WorkloadStats};
use super::timeline::Timeline;
use crate::telemetry::traces::{sampled, Sampler};

/// DurationTotal of one workload over one interval (virtual seconds since the start),
/// already encoded as an interval-log line (a few hundred bytes instead of a histogram).
#[derive(Debug, Clone)]
pub struct Interval {
    pub workload: usize,
    pub start_s: f64,
    pub length_s: f64,
    pub line: String,
}

/// Takes every workload's interval histogram for `[from_s, to_s)`; returns the counters of
/// all workloads (errors left out) at the same moment, for the timeline.
pub fn take_intervals(
    shared: &[Shared],
    names: &[String],
    from_s: f64,
    to_s: f64,
    out: &mut Vec<Interval>,
) -> Counts {
    let mut total = Counts::default();
    for (w, s) in shared.iter().enumerate() {
        let hist = {
            let mut st = lock(s);
            total.add_counters(&st.counts);
            let fresh = WorkloadStats::default().hists.interval;
            std::mem::replace(&mut st.hists.interval, fresh)
        };
        let length_s = (to_s - from_s).max(0.0);
        out.push(Interval {
            workload: w,
            start_s: from_s,
            length_s,
            line: crate::report::hlog::line(&hist, &names[w], from_s, length_s),
        });
    }
    total
}

/// Live counters for the progress line.
#[derive(Debug, Default)]
pub struct Live {
    pub acquisitions: AtomicU64,
    pub hits: AtomicU64,
    pub dropped: AtomicU64,
}

pub type Shared = Arc<Mutex<WorkloadStats>>;

pub fn lock(s: &Shared) -> std::sync::MutexGuard<'_, WorkloadStats> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Clone)]
pub struct Driver {
    pub flow: Arc<FlowCtx>,
    pub picker: Arc<Picker>,
    /// This instance's share of the population: picks are local, acquisitions global.
    pub partition: Partition,
    pub stats: Shared,
    /// OpenTelemetry instruments of this workload (None: metrics off).
    pub metrics: Option<Arc<crate::telemetry::WorkloadMetrics>>,
    pub live: Arc<Live>,
    pub stop: Arc<AtomicBool>,
    pub start: Instant,
    pub deadline: Instant,
    pub clock: tokencache::SharedClock,
}

type Met = Option<Arc<crate::telemetry::WorkloadMetrics>>;

fn note(
    live: &Live,
    met: &Met,
    r: &Result<tokencache::client::AuthResult, super::flows::IterError>,
    total: Duration,
) {
    if let Some(m) = met {
        m.record(r, total);
    }
    live.acquisitions.fetch_add(1, Ordering::Relaxed);
    if matches!(r, Ok(a) if a.metadata.token_source == TokenSource::Cache) {
        live.hits.fetch_add(1, Ordering::Relaxed);
    }
}

/// Open model: arrivals on schedule, latency from the intended start, drops when
/// `max_in_flight` iterations are running. Instance `I` of `N` takes arrivals I, I+N, ...
/// of the whole schedule (1/N of the rate; the instances' union is the whole run's).
pub async fn open_model(
    d: Driver,
    schedule: Schedule,
    mut rng: rand::rngs::StdRng,
    max_in_flight: usize,
    mut sampler: Sampler,
) {
    let sem = Arc::new(Semaphore::new(max_in_flight));
    let mut tasks = JoinSet::new();
    let (mut k, step) = (d.partition.index, d.partition.count);
    while let Some(off) = schedule.offset(k) {
        k += step;
        let intended = d.start + d.clock.to_real(Duration::from_secs_f64(off));
        if intended >= d.deadline || d.stop.load(Ordering::Relaxed) {
            break;
        }
        wait_until(intended).await;
        if d.stop.load(Ordering::Relaxed) {
            break;
        }
        let idx = d.partition.global(d.picker.pick(&mut rng));
        let seed: Option<u64> = d.flow.session_spec().map(|_| rng.random());
        let traced = sampler.sample();
        let Ok(permit) = sem.clone().try_acquire_owned() else {
            lock(&d.stats).counts.dropped += 1;
            d.live.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (flow, stats, live) = (d.flow.clone(), d.stats.clone(), d.live.clone());
        let met = d.metrics.clone();
        if let Some(seed) = seed {
            let (clock, stop, deadline) = (d.clock.clone(), d.stop.clone(), d.deadline);
            tasks.spawn(async move {
                let mut record = |r: &Result<_, _>, total| {
                    note(&live, &met, r, total);
                    lock(&stats).record(r, total);
                };
                let bounds = Bounds {
                    deadline,
                    stop: &stop,
                };
                sampled(
                    traced,
                    flow.session(idx, seed, intended, &clock, bounds, &mut record),
                )
                .await;
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
            continue;
        }
        tasks.spawn(async move {
            let r = sampled(traced, flow.acquire(idx)).await;
            let total = intended.elapsed();
            note(&live, &met, &r, total);
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
pub async fn wait_until(t: Instant) {
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
pub async fn closed_worker(d: Driver, mut rng: rand::rngs::StdRng, mut sampler: Sampler) {
    let mut local = WorkloadStats::default();
    let mut last_flush = Instant::now();
    let mut pending = 0u32;
    while Instant::now() < d.deadline && !d.stop.load(Ordering::Relaxed) {
        let idx = d.partition.global(d.picker.pick(&mut rng));
        if d.flow.session_spec().is_some() {
            let seed = rng.random();
            let bounds = Bounds {
                deadline: d.deadline,
                stop: &d.stop,
            };
            let mut record = |r: &Result<AuthResult, IterError>, total: Duration| {
                let total = r.as_ref().map_or(total, |a| a.metadata.duration_total);
                note(&d.live, &d.metrics, r, total);
                local.record(r, total);
                pending += 1;
            };
            let traced = sampler.sample();
            sampled(
                traced,
                d.flow
                    .session(idx, seed, Instant::now(), &d.clock, bounds, &mut record),
            )
            .await;
        } else {
            let t0 = Instant::now();
            let traced = sampler.sample();
            let r = sampled(traced, d.flow.acquire(idx)).await;
            let total = r
                .as_ref()
                .map_or_else(|_| t0.elapsed(), |a| a.metadata.duration_total);
            note(&d.live, &d.metrics, &r, total);
            local.record(&r, total);
            pending += 1;
        }
        if pending >= 16_384 || last_flush.elapsed() > Duration::from_millis(100) {
            lock(&d.stats).merge(&local);
            // Fresh histograms start small (they grow to the largest value recorded), which
            // is cheaper than resetting grown ones.
            local = WorkloadStats::default();
            pending = 0;
            last_flush = Instant::now();
        }
        // A cache hit completes without awaiting anything: yield now and then so the
        // open-model schedulers sharing the runtime start their arrivals on time.
        if pending.is_multiple_of(32) {
            tokio::task::yield_now().await;
        }
    }
    lock(&d.stats).merge(&local);
}

#[allow(clippy::too_many_arguments)]
pub async fn sampler(
    cache: tokencache::TokenCache,
    out: Arc<Mutex<Vec<MemSample>>>,
    stop: Arc<AtomicBool>,
    start: Instant,
    start_v: u64,
    clock: tokencache::SharedClock,
    every: Duration,
    latest: Option<Arc<Mutex<Option<MemSample>>>>,
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
        if let Some(l) = &latest {
            *l.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
        }
        out.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        next += every;
    }
}

/// Every `every` (real; `every_v` virtual seconds), moves each workload's interval histogram
/// into the log, then evaluates the abortOnFail thresholds (`watch`). Returns the log and
/// where its last interval ended (virtual seconds).
#[allow(clippy::too_many_arguments)]
pub async fn interval_logger(
    shared: Vec<Shared>,
    names: Vec<String>,
    out: Arc<Mutex<Vec<Interval>>>,
    stop: Arc<AtomicBool>,
    start: Instant,
    every: Duration,
    every_v: f64,
    watch: Option<AbortWatch>,
    timeline: Arc<Mutex<Timeline>>,
    idp: Arc<Counting>,
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
        let counts = take_intervals(
            &shared,
            &names,
            f64::from(k - 1) * every_v,
            f64::from(k) * every_v,
            &mut log,
        );
        timeline.lock().unwrap_or_else(|p| p.into_inner()).tick(
            &counts,
            &idp.snapshot(),
            f64::from(k - 1) * every_v,
            f64::from(k) * every_v,
        );
        if let Some(w) = &watch {
            if w.check(&shared, &log, f64::from(k) * every_v) {
                let log = std::mem::take(&mut *log);
                return (log, f64::from(k) * every_v);
            }
        }
        k += 1;
    }
}
