//! Evaluates thresholds against a finished run: each expression's observed value and
//! whether it holds.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::run::stats::WorkloadStats;
use crate::run::RunOutput;
use crate::scenario::Scenario;
use crate::thresholds::{Agg, Threshold};

/// A threshold's outcome (stable keys of report.json `thresholds[]`).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub metric: String,
    pub expr: String,
    /// In the metric's unit (ms, bytes or plain); `null` if there was nothing to observe.
    pub observed: Option<f64>,
    pub pass: bool,
}

/// All workloads merged.
pub fn overall(out: &RunOutput) -> WorkloadStats {
    let mut all = WorkloadStats::default();
    for w in &out.workloads {
        all.merge(w);
    }
    all
}

fn hist_agg(h: &Histogram<u64>, agg: Agg) -> Option<f64> {
    if h.is_empty() && agg != Agg::Count {
        return None;
    }
    let ms = |ns: u64| ns as f64 / 1e6;
    Some(match agg {
        Agg::P(p) => ms(h.value_at_quantile(p / 100.0)),
        Agg::Med => ms(h.value_at_quantile(0.5)),
        Agg::Avg => h.mean() / 1e6,
        Agg::Min => ms(h.min()),
        Agg::Max => ms(h.max()),
        Agg::Count => h.len() as f64,
        Agg::Value | Agg::Rate => return None,
    })
}

fn observe(t: &Threshold, scn: &Scenario, out: &RunOutput, all: &WorkloadStats) -> Option<f64> {
    let stats = match &t.workload {
        Some(w) => &out.workloads[scn.workloads.iter().position(|x| &x.name == w)?],
        None => all,
    };
    let c = &stats.counts;
    let h = &stats.hists;
    let mem = |f: fn(&crate::run::memory::MemSample) -> u64| {
        let v: Vec<f64> = out.memory.iter().map(|s| f(s) as f64).collect();
        if v.is_empty() {
            return None;
        }
        Some(match t.agg {
            Agg::Max => v.iter().copied().fold(f64::MIN, f64::max),
            Agg::Min => v.iter().copied().fold(f64::MAX, f64::min),
            _ => v.iter().sum::<f64>() / v.len() as f64,
        })
    };
    match t.name {
        "duration_total" => hist_agg(&h.total, t.agg),
        "duration_total_uncorrected" => hist_agg(&h.total_uncorrected, t.agg),
        "duration_in_cache" => hist_agg(&h.in_cache, t.agg),
        "duration_in_http" => hist_agg(&h.in_http, t.agg),
        "token_source.cache_ratio" => Some(stats.cache_ratio()),
        "acquisitions.total" => Some(c.acquisitions as f64),
        "acquisitions.failed" => Some(match t.agg {
            Agg::Count => c.failed as f64,
            _ => c.failed as f64 / (c.acquisitions.max(1)) as f64,
        }),
        "dropped_iterations" => Some(match t.agg {
            Agg::Rate => c.dropped as f64 / (c.acquisitions + c.dropped).max(1) as f64,
            _ => c.dropped as f64,
        }),
        "identity_provider.requests" => Some(out.idp_by_status.values().sum::<u64>() as f64),
        "throughput.acquisitions_per_wall_second" => {
            Some(all.counts.acquisitions as f64 / out.wall.as_secs_f64().max(1e-9))
        }
        "memory.l1_bytes" => mem(|s| s.l1_bytes),
        "memory.l1_entries" => mem(|s| s.l1_entries),
        "memory.l2_bytes" => mem(|s| s.l2_bytes),
        "memory.l2_keys" => mem(|s| s.l2_keys),
        "memory.rss_bytes" => mem(|s| s.rss_bytes),
        _ => None,
    }
}

/// Every threshold's outcome; a threshold with nothing to observe fails.
pub fn evaluate(scn: &Scenario, out: &RunOutput, all: &WorkloadStats) -> Vec<Outcome> {
    scn.thresholds
        .iter()
        .map(|t| {
            let observed = observe(t, scn, out, all);
            Outcome {
                metric: t.metric.clone(),
                expr: t.expr.clone(),
                observed,
                pass: observed.is_some_and(|v| t.op.holds(v, t.limit)),
            }
        })
        .collect()
}
