//! report.json `timeline`: what happened in each interval of the measured phase (the same
//! intervals as intervals.hlog) — acquisitions, token sources, refresh reasons and
//! identity-provider requests by status. Counters are differences of the cumulative
//! counters at each interval's end; latency percentiles come from the interval histograms
//! when the report is built.

use std::collections::BTreeMap;

use serde::Deserialize;
use tokencache::client::CacheRefreshReason;

use super::stats::Counts;

/// Counters of one interval (all workloads).
#[derive(Debug, Clone, Default, PartialEq)]
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

/// A `timeline` entry of report.json, as far as the counters go.
#[derive(Deserialize)]
struct Entry {
    t_virtual_s: f64,
    length_s: f64,
    acquisitions: u64,
    failed: u64,
    token_source: BTreeMap<String, u64>,
    refresh_reason: BTreeMap<String, u64>,
    identity_provider: EntryIdp,
}

#[derive(Deserialize)]
struct EntryIdp {
    by_status: BTreeMap<String, u64>,
}

impl Tick {
    /// The counters of one `timeline` entry of a report (for merging instances).
    pub fn from_report(v: &serde_json::Value) -> Result<Tick, serde_json::Error> {
        let e = Entry::deserialize(v)?;
        Ok(Tick {
            t_virtual_s: e.t_virtual_s,
            length_s: e.length_s,
            acquisitions: e.acquisitions,
            failed: e.failed,
            token_source: e.token_source,
            refresh_reason: e.refresh_reason,
            idp_by_status: e.identity_provider.by_status,
        })
    }

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
    /// Closes the interval `[from_s, to_s)`: `now` are the cumulative counters of all
    /// workloads at its end, `idp` the cumulative identity-provider requests by status.
    pub fn tick(&mut self, now: &Counts, idp: &BTreeMap<String, u64>, from_s: f64, to_s: f64) {
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
        self.prev = now.clone();
        self.prev_idp = idp.clone();
        self.ticks.push(tick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_differences_of_the_cumulative_counters() {
        let mut t = Timeline::default();
        let mut c = Counts {
            acquisitions: 10,
            source: [7, 3],
            ..Counts::default()
        };
        let idp = BTreeMap::from([("200".to_owned(), 3u64)]);
        t.tick(&c, &idp, 0.0, 10.0);
        c.acquisitions = 25;
        c.failed = 1;
        c.source = [20, 4];
        let idp = BTreeMap::from([("200".to_owned(), 4u64), ("429".to_owned(), 2)]);
        t.tick(&c, &idp, 10.0, 20.0);
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
