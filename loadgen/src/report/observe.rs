//! Evaluates thresholds against what a run measured — a finished run, a run in progress
//! (abortOnFail, on interval boundaries) or merged instances: each expression's observed
//! value and whether it holds. A window threshold is evaluated on every window of the
//! interval histograms; its observed value is the worst window's.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::run::memory::MemSample;
use crate::run::stats::WorkloadStats;
use crate::run::{Interval, RunOutput};
use crate::thresholds::{Agg, Op, Threshold};

/// A window of virtual time, seconds since the start of the measured phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    pub from_s: f64,
    pub to_s: f64,
}

/// A threshold's outcome (stable keys of report.json `thresholds[]`: metric, expr, observed,
/// pass; the others only when they apply).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub metric: String,
    pub expr: String,
    /// In the metric's unit (ms, bytes or plain); `null` if there was nothing to observe.
    /// Window thresholds: the worst window's value.
    pub observed: Option<f64>,
    pub pass: bool,
    /// Window thresholds: the worst window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Window thresholds: how many windows failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_failed: Option<u64>,
    /// This threshold (abortOnFail) stopped the run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub aborted: bool,
}

/// A run stopped early by an abortOnFail threshold (report.json `run.aborted`).
#[derive(Debug, Clone, Serialize)]
pub struct Aborted {
    pub metric: String,
    pub expr: String,
    pub observed: Option<f64>,
    /// The interval boundary at which it was evaluated (virtual seconds since the start).
    pub at_virtual_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
}

/// What thresholds are evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Workload names, in scenario order (`workloads` and interval tags follow it).
    pub names: &'a [String],
    pub workloads: &'a [WorkloadStats],
    /// All workloads merged.
    pub all: &'a WorkloadStats,
    pub idp_requests: u64,
    pub memory: &'a [MemSample],
    pub wall_s: f64,
    pub intervals: &'a [Interval],
}

impl<'a> Inputs<'a> {
    /// The inputs of a finished run (`names` in scenario order, `all` from [`overall`]).
    pub fn of(out: &'a RunOutput, names: &'a [String], all: &'a WorkloadStats) -> Self {
        Inputs {
            names,
            workloads: &out.workloads,
            all,
            idp_requests: out.idp_by_status.values().sum(),
            memory: &out.memory,
            wall_s: out.wall.as_secs_f64(),
            intervals: &out.intervals,
        }
    }
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

fn observe(t: &Threshold, inp: &Inputs<'_>) -> Option<f64> {
    let stats = match &t.workload {
        Some(w) => &inp.workloads[inp.names.iter().position(|x| x == w)?],
        None => inp.all,
    };
    let c = &stats.counts;
    let h = &stats.hists;
    let mem = |f: fn(&MemSample) -> u64| {
        let v: Vec<f64> = inp.memory.iter().map(|s| f(s) as f64).collect();
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
        "identity_provider.requests" => Some(inp.idp_requests as f64),
        "throughput.acquisitions_per_wall_second" => {
            Some(inp.all.counts.acquisitions as f64 / inp.wall_s.max(1e-9))
        }
        "memory.l1_bytes" => mem(|s| s.l1_bytes),
        "memory.l1_entries" => mem(|s| s.l1_entries),
        "memory.l2_bytes" => mem(|s| s.l2_bytes),
        "memory.l2_keys" => mem(|s| s.l2_keys),
        "memory.rss_bytes" => mem(|s| s.rss_bytes),
        _ => None,
    }
}

/// The histogram of an interval-log line (its last field is the base64 payload).
pub fn interval_histogram(line: &str) -> Option<Histogram<u64>> {
    let payload = line.rsplit(',').next()?;
    super::histograms::decode(payload).ok()
}

/// DurationTotal per window of `len_s` seconds (window k = [k·len, (k+1)·len)), of one
/// workload or of all.
fn windows(
    intervals: &[Interval],
    workload: Option<usize>,
    len_s: f64,
) -> BTreeMap<u64, Histogram<u64>> {
    let mut out: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
    for i in intervals {
        if workload.is_some_and(|w| w != i.workload) {
            continue;
        }
        let Some(h) = interval_histogram(&i.line) else {
            continue;
        };
        let k = (i.start_s / len_s + 1e-9).floor() as u64;
        match out.get_mut(&k) {
            Some(acc) => {
                let _ = acc.add(&h);
            }
            None => {
                out.insert(k, h);
            }
        }
    }
    out
}

/// Every window's value; the worst one (the failing one farthest from the limit) is observed.
fn observe_windows(t: &Threshold, inp: &Inputs<'_>, len_s: f64) -> Outcome {
    let workload = match &t.workload {
        Some(w) => inp.names.iter().position(|x| x == w),
        None => None,
    };
    let values: Vec<(Window, f64)> = windows(inp.intervals, workload, len_s)
        .into_iter()
        .filter_map(|(k, h)| {
            let from_s = k as f64 * len_s;
            let w = Window {
                from_s,
                to_s: from_s + len_s,
            };
            hist_agg(&h, t.agg).map(|v| (w, v))
        })
        .collect();
    let failed = values
        .iter()
        .filter(|(_, v)| !t.op.holds(*v, t.limit))
        .count() as u64;
    let worst = match t.op {
        Op::Lt | Op::Le => values.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
        Op::Gt | Op::Ge => values.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
        Op::Eq | Op::Ne => values
            .iter()
            .find(|(_, v)| !t.op.holds(*v, t.limit))
            .or(values.first()),
    };
    Outcome {
        metric: t.metric.clone(),
        expr: t.expr.clone(),
        observed: worst.map(|w| w.1),
        pass: worst.is_some() && failed == 0,
        window: worst.map(|w| w.0),
        windows_failed: Some(failed),
        aborted: false,
    }
}

/// One threshold's outcome; a threshold with nothing to observe fails.
pub fn evaluate_one(t: &Threshold, inp: &Inputs<'_>) -> Outcome {
    if let Some(w) = t.window {
        return observe_windows(t, inp, w.as_secs_f64());
    }
    let observed = observe(t, inp);
    Outcome {
        metric: t.metric.clone(),
        expr: t.expr.clone(),
        observed,
        pass: observed.is_some_and(|v| t.op.holds(v, t.limit)),
        window: None,
        windows_failed: None,
        aborted: false,
    }
}

/// Every threshold's outcome. The threshold that aborted the run (if any) fails, whatever
/// the whole run's value turned out to be.
pub fn evaluate(
    thresholds: &[Threshold],
    inp: &Inputs<'_>,
    aborted: Option<&Aborted>,
) -> Vec<Outcome> {
    let mut abort_marked = false;
    thresholds
        .iter()
        .map(|t| {
            let mut o = evaluate_one(t, inp);
            if let Some(a) = aborted {
                if !abort_marked && a.metric == t.metric && a.expr == t.expr {
                    abort_marked = true;
                    o.aborted = true;
                    o.pass = false;
                }
            }
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thresholds::{parse_expr, parse_metric};

    fn threshold(metric: &str, expr: &str) -> Threshold {
        let (def, tags) = parse_metric(metric).unwrap();
        let (agg, op, limit) = parse_expr(def, expr).unwrap();
        Threshold {
            metric: metric.into(),
            name: def.name,
            unit: def.unit,
            workload: tags.workload,
            expr: expr.into(),
            agg,
            op,
            limit,
            window: tags.window,
            abort_on_fail: false,
            delay_abort_eval: std::time::Duration::ZERO,
        }
    }

    /// Intervals of 10 s for workloads a and b with these DurationTotal values (ms).
    fn intervals(per_interval: &[(usize, &[u64])]) -> Vec<Interval> {
        let names = ["a", "b"];
        per_interval
            .iter()
            .enumerate()
            .map(|(k, (w, values))| {
                let mut h = Histogram::<u64>::new(3).unwrap();
                h.auto(true);
                for v in *values {
                    h.record(v * 1_000_000).unwrap();
                }
                let start_s = (k / 2) as f64 * 10.0;
                Interval {
                    workload: *w,
                    start_s,
                    length_s: 10.0,
                    line: crate::report::hlog::line(&h, names[*w], start_s, 10.0),
                }
            })
            .collect()
    }

    fn eval(t: &Threshold, iv: &[Interval]) -> Outcome {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let stats = vec![WorkloadStats::default(), WorkloadStats::default()];
        let all = WorkloadStats::default();
        let inputs = Inputs {
            names: &names,
            workloads: &stats,
            all: &all,
            idp_requests: 0,
            memory: &[],
            wall_s: 1.0,
            intervals: iv,
        };
        evaluate_one(t, &inputs)
    }

    #[test]
    fn the_worst_window_is_observed_and_named() {
        // Intervals [0,10) [10,20) [20,30): workload a fast, slow, fast; b always fast.
        let iv = intervals(&[
            (0, &[1, 1, 1]),
            (1, &[2]),
            (0, &[50, 50, 50]),
            (1, &[2]),
            (0, &[1, 3]),
            (1, &[2]),
        ]);
        let o = eval(
            &threshold("duration_total{window=10s}", "p(50) < 20ms"),
            &iv,
        );
        assert!(!o.pass);
        assert_eq!(o.windows_failed, Some(1));
        assert_eq!(
            o.window,
            Some(Window {
                from_s: 10.0,
                to_s: 20.0
            })
        );
        assert!((o.observed.unwrap() - 50.0).abs() < 0.1, "{o:?}");
        // Workload b alone never fails; its worst window for `>` is the smallest value.
        let o = eval(
            &threshold("duration_total{window=10s,workload=b}", "max > 1ms"),
            &iv,
        );
        assert!(o.pass, "{o:?}");
        assert_eq!(o.windows_failed, Some(0));
        // 20 s windows: [0,20) holds 3 fast and 3 slow samples of a plus 2 fast of b → median fast.
        let o = eval(
            &threshold("duration_total{window=20s}", "p(50) < 20ms"),
            &iv,
        );
        assert!(o.pass, "{o:?}");
        assert_eq!(o.windows_failed, Some(0));
        let o = eval(&threshold("duration_total{window=20s}", "count == 8"), &iv);
        assert!(!o.pass, "the second window holds 3 samples: {o:?}");
        assert_eq!(o.observed, Some(3.0));
    }

    #[test]
    fn a_window_threshold_with_no_intervals_fails() {
        let o = eval(&threshold("duration_total{window=10s}", "p(99) < 5ms"), &[]);
        assert!(!o.pass);
        assert_eq!(o.observed, None);
    }
}
