//! `loadgen compare BASELINE CURRENT`: key metrics of two reports side by side, each with a
//! direction and a tolerance (overridable), as a Markdown table for a PR comment. A latency
//! metric is a regression when it is worse beyond its tolerance AND the two runs' histograms
//! differ significantly (Mann-Whitney U, [`crate::utest`], p < alpha, as benchstat decides);
//! counters and ratios are regressions beyond their tolerance alone. Exit 98 on a regression.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::report::histograms;
use crate::utest::{self, UTest};

/// Significance level of the latency test unless `--alpha` says otherwise.
pub const DEFAULT_ALPHA: f64 = 0.01;

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// A compared metric: its report.json pointer, direction, relative tolerance (fraction) and
/// an absolute floor below which differences are noise.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub better: Better,
    pub tolerance: f64,
    pub floor: f64,
    /// Latency metrics: the report.json `histograms` entry the significance test runs on.
    pub histogram: Option<&'static str>,
}

pub const METRICS: &[Metric] = &[
    Metric {
        name: "durations_ms.total.p50",
        better: Better::Lower,
        tolerance: 0.20,
        floor: 0.05,
        histogram: Some("total"),
    },
    Metric {
        name: "durations_ms.total.p99",
        better: Better::Lower,
        tolerance: 0.20,
        floor: 0.05,
        histogram: Some("total"),
    },
    Metric {
        name: "durations_ms.total.p999",
        better: Better::Lower,
        tolerance: 0.25,
        floor: 0.1,
        histogram: Some("total"),
    },
    Metric {
        name: "durations_ms.in_cache.p99",
        better: Better::Lower,
        tolerance: 0.20,
        floor: 0.05,
        histogram: Some("in_cache"),
    },
    Metric {
        name: "durations_ms.in_http.p99",
        better: Better::Lower,
        tolerance: 0.25,
        floor: 0.5,
        histogram: Some("in_http"),
    },
    Metric {
        name: "token_source.cache_ratio",
        better: Better::Higher,
        tolerance: 0.01,
        floor: 0.0,
        histogram: None,
    },
    Metric {
        name: "acquisitions.failed",
        better: Better::Lower,
        tolerance: 0.0,
        floor: 0.0,
        histogram: None,
    },
    Metric {
        name: "identity_provider.requests",
        better: Better::Lower,
        tolerance: 0.10,
        floor: 1.0,
        histogram: None,
    },
    Metric {
        name: "memory.peak.l1_bytes",
        better: Better::Lower,
        tolerance: 0.10,
        floor: 1024.0,
        histogram: None,
    },
    Metric {
        name: "memory.peak.rss_bytes",
        better: Better::Lower,
        tolerance: 0.25,
        floor: 4_194_304.0,
        histogram: None,
    },
    Metric {
        name: "throughput.acquisitions_per_wall_second",
        better: Better::Higher,
        tolerance: 0.20,
        floor: 0.0,
        histogram: None,
    },
];

/// The significance test of a latency row.
#[derive(Debug, Clone, PartialEq)]
pub enum Significance {
    /// Mann-Whitney U of the two histograms.
    Tested(UTest),
    /// No test: why (e.g. a report written before histograms were embedded).
    Unavailable(String),
}

/// One row of the comparison.
#[derive(Debug, Clone)]
pub struct Row {
    pub metric: Metric,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Latency rows only.
    pub test: Option<Significance>,
    /// Worse than the tolerance allows (and, for a tested latency row, significant).
    pub regression: bool,
}

impl Row {
    /// A tested row whose difference is not significant at `alpha`.
    pub fn insignificant(&self, alpha: f64) -> bool {
        matches!(&self.test, Some(Significance::Tested(t)) if t.p >= alpha)
    }
}

fn get(v: &Value, name: &str) -> Option<f64> {
    v.pointer(&format!("/{}", name.replace('.', "/")))
        .and_then(Value::as_f64)
}

/// Parses `--alpha` (a significance level strictly between 0 and 1).
pub fn parse_alpha(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|a| *a > 0.0 && *a < 1.0)
        .ok_or_else(|| format!("--alpha {s:?}: expected a number between 0 and 1, e.g. 0.01"))
}

/// Parses `--tolerance METRIC=PCT` (e.g. `durations_ms.total.p99=30%`).
pub fn parse_tolerance(s: &str) -> Result<(&'static str, f64), String> {
    let (name, pct) = s
        .split_once('=')
        .ok_or_else(|| format!("--tolerance {s:?}: expected METRIC=PERCENT"))?;
    let m = METRICS
        .iter()
        .find(|m| m.name == name.trim())
        .ok_or_else(|| {
            let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
            let hint = tokencache::config::closest(name.trim(), &names)
                .map(|c| format!(" (did you mean {c:?}?)"))
                .unwrap_or_default();
            format!(
                "--tolerance: unknown metric {name:?}{hint}; known: {}",
                names.join(", ")
            )
        })?;
    let v: f64 = pct
        .trim()
        .trim_end_matches('%')
        .parse()
        .ok()
        .filter(|v: &f64| *v >= 0.0)
        .ok_or_else(|| format!("--tolerance {s:?}: {pct:?} is not a percentage"))?;
    Ok((m.name, v / 100.0))
}

/// One histogram of a report's `histograms`, or why there is none.
fn histogram(
    report: &Value,
    which: &str,
    name: &str,
) -> Result<Option<hdrhistogram::Histogram<u64>>, String> {
    match report.get("histograms").and_then(|h| h.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => histograms::decode(text)
            .map(Some)
            .map_err(|e| format!("{which}: histograms.{name}: {e:#}")),
        Some(_) => Err(format!("{which}: histograms.{name} is not a string")),
    }
}

/// Compares two reports. A latency metric is a regression only when it is worse beyond its
/// tolerance and the Mann-Whitney U test of its histograms gives p < `alpha`. Errors name a
/// broken embedded histogram.
pub fn compare(
    baseline: &Value,
    current: &Value,
    tolerances: &[(&str, f64)],
    alpha: f64,
) -> Result<Vec<Row>, String> {
    let mut tests: Vec<(&str, Significance)> = Vec::new();
    for name in METRICS.iter().filter_map(|m| m.histogram) {
        if tests.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let b = histogram(baseline, "baseline", name)?;
        let c = histogram(current, "current", name)?;
        let sig = match (b, c) {
            (Some(b), Some(c)) => match utest::from_histograms(&b, &c) {
                Some(t) => Significance::Tested(t),
                None => Significance::Unavailable("no samples".into()),
            },
            (None, _) => Significance::Unavailable("no histograms in the baseline".into()),
            (_, None) => Significance::Unavailable("no histograms in the current report".into()),
        };
        tests.push((name, sig));
    }
    Ok(METRICS
        .iter()
        .map(|m| {
            let mut m = *m;
            if let Some((_, t)) = tolerances.iter().rev().find(|(n, _)| *n == m.name) {
                m.tolerance = *t;
            }
            let (b, c) = (get(baseline, m.name), get(current, m.name));
            let beyond = match (b, c) {
                (Some(b), Some(c)) => {
                    let worse = match m.better {
                        Better::Lower => c - b,
                        Better::Higher => b - c,
                    };
                    worse > m.floor && worse > m.tolerance * b.abs()
                }
                _ => false,
            };
            let test = m
                .histogram
                .and_then(|h| tests.iter().find(|(n, _)| *n == h).map(|(_, s)| s.clone()));
            let significant = match &test {
                Some(Significance::Tested(t)) => t.p < alpha,
                // Older reports: the tolerance alone decides, as before.
                Some(Significance::Unavailable(_)) | None => true,
            };
            Row {
                metric: m,
                baseline: b,
                current: c,
                test,
                regression: beyond && significant,
            }
        })
        .collect())
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn p_value(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// The Markdown table. As in benchstat, a latency change that is not significant at `alpha`
/// shows `~` instead of its percentage.
pub fn markdown(rows: &[Row], baseline: &str, current: &str, alpha: f64) -> String {
    let mut s = format!("### loadgen: `{current}` against `{baseline}`\n\n");
    s.push_str(
        "| metric | baseline | current | change | p-value | effect: Cliff's δ (PS) | tolerance | |\n|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let change = match (r.baseline, r.current) {
            _ if r.insignificant(alpha) => "~ (not significant)".into(),
            (Some(b), Some(c)) if b != 0.0 => format!("{:+.1}%", (c - b) / b.abs() * 100.0),
            (Some(_), Some(0.0)) => "0%".into(),
            (Some(_), Some(_)) => "new".into(),
            _ => "n/a".into(),
        };
        let (p, effect) = match &r.test {
            None => ("".to_owned(), "".to_owned()),
            Some(Significance::Tested(t)) => (
                format!("{} (n={}+{})", p_value(t.p), t.n1, t.n2),
                format!("{:+.2} (PS {:.2})", t.cliffs_delta, t.ps),
            ),
            Some(Significance::Unavailable(why)) => (format!("n/a ({why})"), "n/a".into()),
        };
        let dir = match r.metric.better {
            Better::Lower => "lower is better",
            Better::Higher => "higher is better",
        };
        let verdict = if r.regression {
            "❌ regression"
        } else {
            "✅"
        };
        let _ = writeln!(
            s,
            "| `{}` ({dir}) | {} | {} | {change} | {p} | {effect} | {:.0}% | {verdict} |",
            r.metric.name,
            num(r.baseline),
            num(r.current),
            r.metric.tolerance * 100.0
        );
    }
    let n = rows.iter().filter(|r| r.regression).count();
    let _ = writeln!(
        s,
        "\n{}",
        if n == 0 {
            "No regression.".to_owned()
        } else {
            format!("**{n} regression(s).**")
        }
    );
    if rows.iter().any(|r| r.test.is_some()) {
        let _ = writeln!(
            s,
            "\nLatency rows: Mann-Whitney U test of the two runs' DurationTotal / InCache / InHttp histograms (two-sided, normal approximation with tie correction); \
             a latency change is a regression only when it exceeds its tolerance and p < α = {alpha}. \
             `~`: not significant. PS, the probability of superiority, is P(current > baseline) + ½·P(equal); Cliff's δ = 2·PS − 1 > 0: the current run is slower."
        );
    }
    s
}

/// Reads a report for comparison.
pub fn read(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    if v.get("schema_version").is_none() {
        return Err(format!(
            "{}: not a loadgen report (no schema_version)",
            path.display()
        ));
    }
    Ok(v)
}
