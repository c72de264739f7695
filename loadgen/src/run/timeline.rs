//! report.json `timeline`: what happened in each interval of the measured phase (the same
//! intervals as intervals.hlog) — acquisitions, token sources, refresh reasons and
//! identity-provider requests by status. Counters are differences of the cumulative
//! counters at each interval's end; latency percentiles come from the interval histograms
//! when the report is built.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokencache::client::CacheRefreshReason;

use super::drivers::{lock, Shared};
use super::stats::Counts;

/// Counters of one interval (all workloads).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub t_virtual_s: f64,
    pub length_s: f64,
    pub acquisitions: u64,
    pub failed: u64,
    /// cache, identity_provider.
    pub token_source: BTreeMap<String, u64>,
    pub refresh_reason: BTreeMap<String, u64>,
    /// Identity-provider requests by HTTP status.
    pub idp_by_status: BTreeMap<String, u64>,
}

impl Tick {
    /// Adds another instance's tick of the same interval.
    pub fn add(&mut self, o: &Tick) {
        self.length_s = self.length_s.max(o.length_s);
        self.acquisitions += o.acquisitions;
        self.failed += o.failed;
        for (a, b) in [
            (&mut self.token_source, &o.token_source),
            (&mut self.refresh_reason, &o.refresh_reason),
            (&mut self.idp_by_status, &o.idp_by_status),
        ] {
            for (k, v) in b {
                *a.entry(k.clone()).or_insert(0) += v;
            }
        }
    }
}

/// Turns cumulative counters into per-interval ticks.
#[derive(Debug, Default)]
pub struct Timeline {
    prev: Counts,
    prev_idp: BTreeMap<String, u64>,
    pub ticks: Vec<Tick>,
}

impl Timeline {
    /// Closes the interval `[from_s, to_s)`: `idp` is the cumulative count by status.
    pub fn tick(&mut self, shared: &[Shared], idp: &BTreeMap<String, u64>, from_s: f64, to_s: f64) {
        let mut now = Counts::default();
        for s in shared {
            let c = &lock(s).counts;
            now.acquisitions += c.acquisitions;
            now.failed += c.failed;
            for i in 0..now.source.len() {
                now.source[i] += c.source[i];
            }
            for i in 0..now.reason.len() {
                now.reason[i] += c.reason[i];
            }
        }
        let p = &self.prev;
        let tick = Tick {
            t_virtual_s: from_s,
            length_s: (to_s - from_s).max(0.0),
            acquisitions: now.acquisitions.saturating_sub(p.acquisitions),
            failed: now.failed.saturating_sub(p.failed),
            token_source: super::stats::SOURCES
                .iter()
                .enumerate()
                .map(|(i, s)| ((*s).to_owned(), now.source[i].saturating_sub(p.source[i])))
                .collect(),
            refresh_reason: CacheRefreshReason::ALL
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        r.as_str().to_owned(),
                        now.reason[i].saturating_sub(p.reason[i]),
                    )
                })
                .collect(),
            idp_by_status: idp
                .iter()
                .map(|(k, v)| {
                    let before = self.prev_idp.get(k).copied().unwrap_or(0);
                    (k.clone(), v.saturating_sub(before))
                })
                .filter(|(_, v)| *v > 0)
                .collect(),
        };
        self.prev = now;
        self.prev_idp = idp.clone();
        self.ticks.push(tick);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::run::stats::WorkloadStats;

    #[test]
    fn ticks_are_differences_of_the_cumulative_counters() {
        let s: Shared = Arc::new(Mutex::new(WorkloadStats::default()));
        let mut t = Timeline::default();
        {
            let mut st = lock(&s);
            st.counts.acquisitions = 10;
            st.counts.source = [7, 3];
        }
        let idp = BTreeMap::from([("200".to_owned(), 3u64)]);
        t.tick(std::slice::from_ref(&s), &idp, 0.0, 10.0);
        {
            let mut st = lock(&s);
            st.counts.acquisitions = 25;
            st.counts.failed = 1;
            st.counts.source = [20, 4];
        }
        let idp = BTreeMap::from([("200".to_owned(), 4u64), ("429".to_owned(), 2)]);
        t.tick(std::slice::from_ref(&s), &idp, 10.0, 20.0);
        let b = &t.ticks[1];
        assert_eq!((b.t_virtual_s, b.length_s), (10.0, 10.0));
        assert_eq!((b.acquisitions, b.failed), (15, 1));
        assert_eq!(b.token_source["cache"], 13);
        assert_eq!(b.token_source["identity_provider"], 1);
        assert_eq!(b.idp_by_status["200"], 1);
        assert_eq!(b.idp_by_status["429"], 2);
        assert_eq!(t.ticks[0].idp_by_status["200"], 3);
    }
}
