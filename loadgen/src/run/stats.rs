//! What a run measures per workload: HdrHistograms (3 significant digits, nanoseconds,
//! growing as needed) of DurationTotal / InCache / InHttp, per token source and cache level,
//! and the counters of sources, levels, refresh reasons, failures and dropped iterations.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokencache::client::{AuthResult, CacheRefreshReason, TokenSource};
use tokencache::CacheLevel;

use super::flows::IterError;

fn hist() -> Histogram<u64> {
    let mut h = Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"));
    h.auto(true);
    h
}

/// Records into an auto-resizing histogram (which only fails beyond u64 range).
trait RecordOk {
    fn record_ok(&mut self, v: u64);
}

impl RecordOk for Histogram<u64> {
    fn record_ok(&mut self, v: u64) {
        let _ = self.record(v);
    }
}

fn ns(d: Duration) -> u64 {
    (d.as_nanos() as u64).max(1)
}

/// Histograms of one workload (or of the whole run once merged).
#[derive(Debug, Clone)]
pub struct Hists {
    /// DurationTotal; in the open model measured from the intended start.
    pub total: Histogram<u64>,
    /// DurationTotal since the last interval was taken (intervals.hlog).
    pub interval: Histogram<u64>,
    /// DurationTotal as the client measured it (from the actual start).
    pub total_uncorrected: Histogram<u64>,
    pub in_cache: Histogram<u64>,
    pub in_http: Histogram<u64>,
    /// DurationTotal by token source: cache, identity_provider.
    pub by_source: [Histogram<u64>; 2],
    /// DurationTotal by cache level: none, l1, l2.
    pub by_level: [Histogram<u64>; 3],
}

impl Default for Hists {
    fn default() -> Self {
        Hists {
            total: hist(),
            interval: hist(),
            total_uncorrected: hist(),
            in_cache: hist(),
            in_http: hist(),
            by_source: [hist(), hist()],
            by_level: [hist(), hist(), hist()],
        }
    }
}

/// Counters of one workload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Iterations that ran (succeeded + failed).
    pub acquisitions: u64,
    pub failed: u64,
    /// cache, identity_provider.
    pub source: [u64; 2],
    /// none, l1, l2.
    pub level: [u64; 3],
    /// In the order of [`CacheRefreshReason::ALL`].
    pub reason: [u64; 6],
    /// Open model: arrivals not started because `max_in_flight` were running.
    pub dropped: u64,
    /// Failure messages (first line) and how often each happened.
    pub errors: BTreeMap<String, u64>,
}

/// Everything measured for one workload.
#[derive(Debug, Clone, Default)]
pub struct WorkloadStats {
    pub hists: Hists,
    pub counts: Counts,
}

pub const SOURCES: [&str; 2] = ["cache", "identity_provider"];
pub const LEVELS: [&str; 3] = ["none", "l1", "l2"];

fn level_index(l: CacheLevel) -> usize {
    match l {
        CacheLevel::None => 0,
        CacheLevel::L1 => 1,
        CacheLevel::L2 => 2,
    }
}

impl Counts {
    /// Adds another workload's counters (not its error messages).
    pub fn add_counters(&mut self, d: &Counts) {
        self.acquisitions += d.acquisitions;
        self.failed += d.failed;
        self.dropped += d.dropped;
        for i in 0..self.source.len() {
            self.source[i] += d.source[i];
        }
        for i in 0..self.level.len() {
            self.level[i] += d.level[i];
        }
        for i in 0..self.reason.len() {
            self.reason[i] += d.reason[i];
        }
    }
}

impl WorkloadStats {
    /// Records one iteration; `total` is DurationTotal as the run counts it (from the
    /// intended start in the open model).
    pub fn record(&mut self, r: &Result<AuthResult, IterError>, total: Duration) {
        let c = &mut self.counts;
        c.acquisitions += 1;
        let h = &mut self.hists;
        let t = ns(total);
        h.total.record_ok(t);
        h.interval.record_ok(t);
        match r {
            Ok(res) => {
                let m = &res.metadata;
                let s = usize::from(m.token_source == TokenSource::IdentityProvider);
                let l = level_index(m.cache_level);
                c.source[s] += 1;
                c.level[l] += 1;
                if let Some(i) = CacheRefreshReason::ALL
                    .iter()
                    .position(|x| *x == m.cache_refresh_reason)
                {
                    c.reason[i] += 1;
                }
                h.total_uncorrected.record_ok(ns(m.duration_total));
                h.in_cache.record_ok(ns(m.duration_in_cache));
                h.in_http.record_ok(ns(m.duration_in_http));
                h.by_source[s].record_ok(t);
                h.by_level[l].record_ok(t);
            }
            Err(e) => {
                c.failed += 1;
                let msg = match e {
                    IterError::Acquire(e) => e.to_string(),
                    IterError::Setup(s) => s.clone(),
                };
                let msg: String = msg.lines().next().unwrap_or("").chars().take(200).collect();
                if c.errors.len() < 20 || c.errors.contains_key(&msg) {
                    *c.errors.entry(msg).or_insert(0) += 1;
                }
            }
        }
    }

    pub fn merge(&mut self, o: &WorkloadStats) {
        let (a, b) = (&mut self.hists, &o.hists);
        let add = |x: &mut Histogram<u64>, y: &Histogram<u64>| {
            let _ = x.add(y);
        };
        add(&mut a.total, &b.total);
        add(&mut a.interval, &b.interval);
        add(&mut a.total_uncorrected, &b.total_uncorrected);
        add(&mut a.in_cache, &b.in_cache);
        add(&mut a.in_http, &b.in_http);
        for i in 0..2 {
            add(&mut a.by_source[i], &b.by_source[i]);
        }
        for i in 0..3 {
            add(&mut a.by_level[i], &b.by_level[i]);
        }
        let (c, d) = (&mut self.counts, &o.counts);
        c.add_counters(d);
        for (k, v) in &d.errors {
            *c.errors.entry(k.clone()).or_insert(0) += v;
        }
    }

    /// Cache hits / successful acquisitions (1.0 when there were none).
    pub fn cache_ratio(&self) -> f64 {
        let ok = self.counts.source[0] + self.counts.source[1];
        if ok == 0 {
            1.0
        } else {
            self.counts.source[0] as f64 / ok as f64
        }
    }
}
