//! report.json `timeline`: one entry per interval (the intervals of intervals.hlog) with the
//! counters of [`crate::run::timeline::Tick`] and DurationTotal percentiles of the interval,
//! overall and per workload, decoded from the interval histograms.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

use super::observe::interval_histogram;
use crate::run::RunOutput;

fn key(t: f64) -> u64 {
    (t * 1000.0).round() as u64
}

fn pcts(h: &Histogram<u64>) -> Value {
    let ms = |q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1e6
        }
    };
    json!({"count": h.len(), "p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99)})
}

/// The `timeline` array of report.json.
pub fn build(out: &RunOutput, names: &[String]) -> Value {
    // interval start (ms) → per workload histogram
    let mut by_start: BTreeMap<u64, BTreeMap<usize, Histogram<u64>>> = BTreeMap::new();
    for i in &out.intervals {
        let Some(h) = interval_histogram(&i.line) else {
            continue;
        };
        let slot = by_start.entry(key(i.start_s)).or_default();
        match slot.get_mut(&i.workload) {
            Some(sum) => {
                let _ = sum.add(&h);
            }
            None => {
                slot.insert(i.workload, h);
            }
        }
    }
    let entries = out.timeline.iter().map(|t| {
        let hists = by_start.get(&key(t.t_virtual_s));
        let mut all =
            Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!("3 digits is valid"));
        all.auto(true);
        let mut flows = Map::new();
        for (w, name) in names.iter().enumerate() {
            let h = hists.and_then(|m| m.get(&w));
            if let Some(h) = h {
                let _ = all.add(h);
            }
            let empty = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
            flows.insert(name.clone(), pcts(h.unwrap_or(&empty)));
        }
        let idp: u64 = t.idp_by_status.values().sum();
        json!({
            "t_virtual_s": t.t_virtual_s,
            "length_s": t.length_s,
            "acquisitions": t.acquisitions,
            "failed": t.failed,
            "token_source": t.token_source,
            "refresh_reason": t.refresh_reason,
            "identity_provider": {"requests": idp, "by_status": t.idp_by_status},
            "latency_ms": pcts(&all),
            "latency_ms_by_flow": flows,
        })
    });
    Value::Array(entries.collect())
}
