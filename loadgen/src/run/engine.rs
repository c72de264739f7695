//! The run: populate, then the measured phase (open-model schedulers and closed-model
//! workers per workload, a memory sampler, the progress line) until the virtual duration
//! is over or the run is interrupted.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokencache::CacheStats;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::abort::AbortWatch;
pub use super::drivers::Interval;
use super::drivers::{
    closed_worker, interval_logger, lock, open_model, sampler, take_intervals, Driver, Live, Shared,
};
use super::memory::{baseline, sample, L2Baseline, MemSample, PopulateStep};
use super::pick::{rng, stream_seed, Partition, Picker};
use super::progress::Progress;
use super::schedule::Schedule;
use super::setup::{build, Parts};
use super::stats::WorkloadStats;
use super::timeline::{Tick, Timeline};
use crate::report::observe::Aborted;
use crate::scenario::model::{Arrival, Scenario};
use crate::telemetry::Telemetry;

/// What a finished (or interrupted) run measured.
#[derive(Debug)]
pub struct RunOutput {
    pub started_at: SystemTime,
    pub wall: Duration,
    pub virtual_secs: f64,
    pub interrupted: bool,
    /// An abortOnFail threshold failed and stopped the run.
    pub aborted: Option<Aborted>,
    /// Per workload, in scenario order.
    pub workloads: Vec<WorkloadStats>,
    pub idp_by_status: std::collections::BTreeMap<String, u64>,
    /// Cache counters of the measured phase (populate excluded).
    pub cache: CacheStats,
    pub memory: Vec<MemSample>,
    /// The L2 usage method and the server's size before anything was written.
    pub l2_baseline: L2Baseline,
    /// Interval histograms of DurationTotal per workload, in time order.
    pub intervals: Vec<Interval>,
    /// Counters per interval (the intervals of `intervals`), in time order.
    pub timeline: Vec<Tick>,
    /// Iterations of the populate phase and how many failed.
    pub populated: (u64, u64),
    /// Memory before and after each workload's populate (empty without populate).
    pub populate_steps: Vec<PopulateStep>,
    /// Identity-provider requests of the measured phase by grant type.
    pub idp_by_grant: std::collections::BTreeMap<String, u64>,
    /// The run id (report.json `run.id`, resource attribute `loadgen.run.id`).
    pub run_id: String,
}

/// Runs a scenario without telemetry export; `interrupt` (Ctrl-C) ends the measured phase
/// early.
pub async fn run(scn: &Scenario, interrupt: impl Future<Output = ()>) -> anyhow::Result<RunOutput> {
    let tel = Telemetry::off(crate::telemetry::new_run_id(), &scn.name);
    run_with(scn, interrupt, &tel).await
}

/// Runs a scenario recording on `tel`'s instruments (when it has any).
pub async fn run_with(
    scn: &Scenario,
    interrupt: impl Future<Output = ()>,
    tel: &Telemetry,
) -> anyhow::Result<RunOutput> {
    let parts = build(scn, tel).await?;
    let l2_baseline = baseline(&parts.cache).await;
    tokio::pin!(interrupt);
    let mut interrupted = false;
    let (populated, populate_steps) = if scn.populate {
        tokio::select! {
            r = populate(&parts, scn) => r,
            () = &mut interrupt => {
                interrupted = true;
                ((0, 0), Vec::new())
            }
        }
    } else {
        ((0, 0), Vec::new())
    };
    parts.idp.reset();
    parts.idp.start_metrics(tel.idp_counter());
    let base_stats = parts.cache.stats();
    let clock = parts.clock.clone();

    // The phase starts on a whole virtual second.
    let now_v = clock.now_millis();
    let start_v = now_v.div_ceil(1000) * 1000;
    align_fault_windows(&parts, start_v);
    let start = Instant::now() + clock.to_real(Duration::from_millis(start_v - now_v));
    let deadline = start + clock.to_real(scn.duration);
    if !interrupted {
        tokio::time::sleep_until(start.into()).await;
    }
    let started_at = SystemTime::now();

    // Interrupted while populating: the measured phase ends as it starts.
    let stop = Arc::new(AtomicBool::new(interrupted));
    let live = Arc::new(Live::default());
    let shared: Vec<Shared> = scn.workloads.iter().map(|_| Shared::default()).collect();
    let mut drivers = JoinSet::new();
    // Instances draw from their own generators (and their own members).
    let seed = match scn.instance {
        Some(i) => scn.seed ^ u64::from(i.index + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
        None => scn.seed,
    };
    for (w, wl) in scn.workloads.iter().enumerate() {
        let partition = partition(scn, wl.flow.pick_stride());
        let picker = Arc::new(Picker::new(
            pick_of(&wl.flow),
            partition.local_population(wl.flow.members()),
        ));
        let flow = parts.flows[w].clone();
        let ctx = Driver {
            flow,
            picker,
            partition,
            stats: shared[w].clone(),
            metrics: tel.workload(&wl.name, cache_flow(&wl.flow)),
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
                    rng(seed, w, 0),
                    wl.max_in_flight as usize,
                    tel.sampler(stream_seed(seed, w, 0)),
                ));
            }
            None => {
                let Arrival::Concurrency(n) = wl.arrival else {
                    unreachable!("closed model")
                };
                // Instance I of N runs callers I, I+N, ... (their union is the whole run's).
                let (first, step) = (partition.index as u32, partition.count as u32);
                for k in (first..n).step_by(step as usize) {
                    let k = u64::from(k) + 1;
                    drivers.spawn(closed_worker(
                        ctx.clone(),
                        rng(seed, w, k),
                        tel.sampler(stream_seed(seed, w, k)),
                    ));
                }
            }
        }
    }
    let first = sample(&parts.cache, start, start_v, &*clock).await;
    tel.memory_sample(&first);
    let memory = Arc::new(Mutex::new(vec![first]));
    let intervals = Arc::new(Mutex::new(Vec::new()));
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let names: Vec<String> = scn.workloads.iter().map(|w| w.name.clone()).collect();
    let aborted = Arc::new(Mutex::new(None));
    let abort_on_fail: Vec<_> = scn
        .thresholds
        .iter()
        .filter(|t| t.abort_on_fail)
        .cloned()
        .collect();
    let watch = (!abort_on_fail.is_empty()).then(|| AbortWatch {
        thresholds: abort_on_fail,
        names: names.clone(),
        idp: parts.idp.clone(),
        memory: memory.clone(),
        start,
        stop: stop.clone(),
        aborted: aborted.clone(),
    });
    let interval_task = tokio::spawn(interval_logger(
        shared.clone(),
        names.clone(),
        intervals.clone(),
        stop.clone(),
        start,
        clock.to_real(scn.interval),
        scn.interval.as_secs_f64(),
        watch,
        timeline.clone(),
        parts.idp.clone(),
    ));
    let sampler = tokio::spawn(sampler(
        parts.cache.clone(),
        memory.clone(),
        stop.clone(),
        start,
        start_v,
        clock.clone(),
        clock.to_real(scn.memory_sample_every),
        tel.latest_sample(),
    ));
    let progress = Progress::start(scn, live.clone(), shared.clone(), stop.clone(), start);

    loop {
        tokio::select! {
            r = drivers.join_next() => if r.is_none() { break },
            () = &mut interrupt, if !interrupted => {
                interrupted = true;
                stop.store(true, Ordering::SeqCst);
            }
        }
    }
    // The phase lasts its duration even when the last arrival came earlier (unless a
    // threshold aborts it meanwhile).
    if !interrupted {
        tokio::select! {
            () = until_deadline_or_stop(deadline, &stop) => {}
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
    let aborted = aborted.lock().unwrap_or_else(|p| p.into_inner()).take();
    let mut memory = std::mem::take(&mut *memory.lock().unwrap_or_else(|p| p.into_inner()));
    let last = sample(&parts.cache, start, start_v, &*clock).await;
    tel.memory_sample(&last);
    memory.push(last);
    parts.cache.shutdown().await;
    let end_stats = parts.cache.stats();
    let counts = take_intervals(
        &shared,
        &names,
        last_s,
        virtual_secs.max(last_s),
        &mut intervals,
    );
    let timeline = {
        let mut t = timeline.lock().unwrap_or_else(|p| p.into_inner());
        t.tick(
            &counts,
            &parts.idp.snapshot(),
            last_s,
            virtual_secs.max(last_s),
        );
        std::mem::take(&mut t.ticks)
    };
    Ok(RunOutput {
        started_at,
        wall,
        virtual_secs: if interrupted || aborted.is_some() {
            virtual_secs.min(scn.duration.as_secs_f64())
        } else {
            scn.duration.as_secs_f64()
        },
        interrupted,
        aborted,
        workloads: shared.iter().map(|s| lock(s).clone()).collect(),
        idp_by_status: parts.idp.snapshot(),
        idp_by_grant: parts.idp.grants(),
        cache: delta(&end_stats, &base_stats),
        memory,
        l2_baseline,
        intervals,
        timeline,
        populated,
        populate_steps,
        run_id: tel.run_id.clone(),
    })
}

/// Fault windows (`authority.embedded.faults[].window`) count from the start of the measured
/// phase, not from when the mock was built (before populate and the alignment to a whole
/// virtual second): the mock's rules are re-installed shifted by the difference.
fn align_fault_windows(parts: &Parts, start_v: u64) {
    let Some((mock, mock_start_v)) = &parts.mock else {
        return;
    };
    let mut rules = mock.faults();
    if !rules.iter().any(|r| r.when.window.is_some()) {
        return;
    }
    let shift = start_v.saturating_sub(*mock_start_v) as f64 / 1000.0;
    for r in &mut rules {
        if let Some(w) = &mut r.when.window {
            w.from_s += shift;
            w.to_s += shift;
        }
    }
    // The rules were valid when the mock was built; shifted windows stay valid.
    let _ = mock.set_faults(rules);
}

/// Sleeps until `deadline` or until the run is stopped (interrupt or abort).
async fn until_deadline_or_stop(deadline: Instant, stop: &AtomicBool) {
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_millis(10))).await;
    }
}

/// This run's share of a population with `stride` indexes per member.
fn partition(scn: &Scenario, stride: u64) -> Partition {
    match scn.instance {
        Some(i) => Partition {
            index: u64::from(i.index),
            count: u64::from(i.count),
            stride: stride.max(1),
        },
        None => Partition::whole(stride),
    }
}

/// `tokencache.flow` of a workload's acquisitions (web-app sessions mix sign-in and silent
/// calls: none).
fn cache_flow(f: &crate::scenario::model::FlowSpec) -> Option<&'static str> {
    use crate::scenario::model::FlowSpec::*;
    match f {
        ClientCredentials { .. } => Some("client_credentials"),
        OnBehalfOf { .. } => Some("on_behalf_of"),
        WebApp { .. } => None,
    }
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

/// Acquires every partition × resource of this instance's share once, 64 at a time (not
/// measured). Workloads populate one after another, with a memory sample before and after
/// each (writes flushed), so each flow's bytes per partition can be told apart.
async fn populate(parts: &Parts, scn: &Scenario) -> ((u64, u64), Vec<PopulateStep>) {
    let sem = Arc::new(Semaphore::new(64));
    let failed = Arc::new(AtomicU64::new(0));
    let mut n = 0;
    let start = Instant::now();
    let start_v = parts.clock.now_millis();
    let mut steps = Vec::with_capacity(parts.flows.len());
    for (flow, wl) in parts.flows.iter().zip(&scn.workloads) {
        let before = sample(&parts.cache, start, start_v, &*parts.clock).await;
        let failed_before = failed.load(Ordering::Relaxed);
        let mut set = JoinSet::new();
        let part = partition(scn, flow.spec.resource_count());
        let mut acquisitions = 0;
        for local in 0..part.local_population(flow.spec.members()) {
            let i = part.global(local);
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            let (flow, failed) = (flow.clone(), failed.clone());
            acquisitions += 1;
            set.spawn(async move {
                if flow.acquire(i).await.is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                drop(permit);
            });
            while set.try_join_next().is_some() {}
        }
        while set.join_next().await.is_some() {}
        parts.cache.flush().await;
        n += acquisitions;
        steps.push(PopulateStep {
            workload: wl.name.clone(),
            flow: wl.flow.name().to_owned(),
            acquisitions,
            failed: failed.load(Ordering::Relaxed) - failed_before,
            before,
            after: sample(&parts.cache, start, start_v, &*parts.clock).await,
        });
    }
    ((n, failed.load(Ordering::Relaxed)), steps)
}
