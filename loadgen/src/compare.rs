//! `loadgen compare BASELINE CURRENT`: key metrics of two reports side by side, each with a
//! direction and a tolerance (overridable), as a Markdown table for a PR comment; a change
//! beyond its tolerance in the bad direction is a regression (exit 98).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

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
}

pub const METRICS: &[Metric] = &[
    Metric {
        name: "durations_ms.total.p50",
        better: Better::Lower,
        tolerance: 0.20,
        floor: 0.05,
    },
    Metric {
        name: "durations_ms.total.p99",
        better: Better::Lower,
        tolerance: 0.20,
        floor: 0.05,
    },
    Metric {
        name: "durations_ms.total.p999",
        better: Better::Lower,
        tolerance: 0.25,
        floor: 0.1,
    },
    Metric {
        name: "durations_ms.in_cache.p99",
        better: Better::Lower,
        tolerance: 0.20,
        floor: 0.05,
    },
    Metric {
        name: "durations_ms.in_http.p99",
        better: Better::Lower,
        tolerance: 0.25,
        floor: 0.5,
    },
    Metric {
        name: "token_source.cache_ratio",
        better: Better::Higher,
        tolerance: 0.01,
        floor: 0.0,
    },
    Metric {
        name: "acquisitions.failed",
        better: Better::Lower,
        tolerance: 0.0,
        floor: 0.0,
    },
    Metric {
        name: "identity_provider.requests",
        better: Better::Lower,
        tolerance: 0.10,
        floor: 1.0,
    },
    Metric {
        name: "memory.peak.l1_bytes",
        better: Better::Lower,
        tolerance: 0.10,
        floor: 1024.0,
    },
    Metric {
        name: "memory.peak.rss_bytes",
        better: Better::Lower,
        tolerance: 0.25,
        floor: 4_194_304.0,
    },
    Metric {
        name: "throughput.acquisitions_per_wall_second",
        better: Better::Higher,
        tolerance: 0.20,
        floor: 0.0,
    },
];

/// One row of the comparison.
#[derive(Debug, Clone)]
pub struct Row {
    pub metric: Metric,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    pub regression: bool,
}

fn get(v: &Value, name: &str) -> Option<f64> {
    v.pointer(&format!("/{}", name.replace('.', "/")))
        .and_then(Value::as_f64)
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

/// Compares two reports.
pub fn compare(baseline: &Value, current: &Value, tolerances: &[(&str, f64)]) -> Vec<Row> {
    METRICS
        .iter()
        .map(|m| {
            let mut m = *m;
            if let Some((_, t)) = tolerances.iter().rev().find(|(n, _)| *n == m.name) {
                m.tolerance = *t;
            }
            let (b, c) = (get(baseline, m.name), get(current, m.name));
            let regression = match (b, c) {
                (Some(b), Some(c)) => {
                    let worse = match m.better {
                        Better::Lower => c - b,
                        Better::Higher => b - c,
                    };
                    worse > m.floor && worse > m.tolerance * b.abs()
                }
                _ => false,
            };
            Row {
                metric: m,
                baseline: b,
                current: c,
                regression,
            }
        })
        .collect()
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// The Markdown table.
pub fn markdown(rows: &[Row], baseline: &str, current: &str) -> String {
    let mut s = format!("### loadgen: `{current}` against `{baseline}`\n\n");
    s.push_str(
        "| metric | baseline | current | change | tolerance | |\n|---|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let change = match (r.baseline, r.current) {
            (Some(b), Some(c)) if b != 0.0 => format!("{:+.1}%", (c - b) / b.abs() * 100.0),
            (Some(_), Some(0.0)) => "0%".into(),
            (Some(_), Some(_)) => "new".into(),
            _ => "n/a".into(),
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
            "| `{}` ({dir}) | {} | {} | {change} | {:.0}% | {verdict} |",
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
