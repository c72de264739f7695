//! k6-style thresholds: `"metric{workload=name}": ["p(99) < 5ms", "rate < 0.01"]`. Parsed
//! and checked with the scenario; evaluated against a finished run, and — those with
//! `abortOnFail` — on every interval boundary during it. A `window=1m` tag (k6#1136) makes
//! every window of the interval histograms pass on its own.

use std::fmt;
use std::time::Duration;

use crate::scenario::units;

/// How a metric's samples are reduced to one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    Value,
    Count,
    Rate,
    Avg,
    Min,
    Max,
    Med,
    P(f64),
}

impl fmt::Display for Agg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Agg::Value => f.write_str("value"),
            Agg::Count => f.write_str("count"),
            Agg::Rate => f.write_str("rate"),
            Agg::Avg => f.write_str("avg"),
            Agg::Min => f.write_str("min"),
            Agg::Max => f.write_str("max"),
            Agg::Med => f.write_str("med"),
            Agg::P(p) => write!(f, "p({p})"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }
}

/// The unit a metric's values are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds; limits accept duration units ("5ms", "1s").
    Millis,
    /// Bytes; limits accept size units ("256MiB").
    Bytes,
    Plain,
}

/// A metric thresholds can refer to: its name, unit, allowed aggregations (the first is the
/// default) and whether it takes a `{workload=...}` tag.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    pub name: &'static str,
    pub unit: Unit,
    pub aggs: &'static [&'static str],
    pub per_workload: bool,
}

const DURATION_AGGS: &[&str] = &["p(N)", "avg", "min", "max", "med", "count"];
const MEMORY_AGGS: &[&str] = &["max", "avg", "min"];

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "duration_total",
        unit: Unit::Millis,
        aggs: DURATION_AGGS,
        per_workload: true,
    },
    MetricDef {
        name: "duration_total_uncorrected",
        unit: Unit::Millis,
        aggs: DURATION_AGGS,
        per_workload: true,
    },
    MetricDef {
        name: "duration_in_cache",
        unit: Unit::Millis,
        aggs: DURATION_AGGS,
        per_workload: true,
    },
    MetricDef {
        name: "duration_in_http",
        unit: Unit::Millis,
        aggs: DURATION_AGGS,
        per_workload: true,
    },
    MetricDef {
        name: "token_source.cache_ratio",
        unit: Unit::Plain,
        aggs: &["value"],
        per_workload: true,
    },
    MetricDef {
        name: "acquisitions.total",
        unit: Unit::Plain,
        aggs: &["count"],
        per_workload: true,
    },
    MetricDef {
        name: "acquisitions.failed",
        unit: Unit::Plain,
        aggs: &["rate", "count"],
        per_workload: true,
    },
    MetricDef {
        name: "dropped_iterations",
        unit: Unit::Plain,
        aggs: &["count", "rate"],
        per_workload: true,
    },
    MetricDef {
        name: "identity_provider.requests",
        unit: Unit::Plain,
        aggs: &["count"],
        per_workload: false,
    },
    MetricDef {
        name: "throughput.acquisitions_per_wall_second",
        unit: Unit::Plain,
        aggs: &["value"],
        per_workload: false,
    },
    MetricDef {
        name: "memory.l1_bytes",
        unit: Unit::Bytes,
        aggs: MEMORY_AGGS,
        per_workload: false,
    },
    MetricDef {
        name: "memory.l1_entries",
        unit: Unit::Plain,
        aggs: MEMORY_AGGS,
        per_workload: false,
    },
    MetricDef {
        name: "memory.l2_bytes",
        unit: Unit::Bytes,
        aggs: MEMORY_AGGS,
        per_workload: false,
    },
    MetricDef {
        name: "memory.l2_keys",
        unit: Unit::Plain,
        aggs: MEMORY_AGGS,
        per_workload: false,
    },
    MetricDef {
        name: "memory.rss_bytes",
        unit: Unit::Bytes,
        aggs: MEMORY_AGGS,
        per_workload: false,
    },
];

/// One checked threshold expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The key as written, e.g. `duration_total{workload=daemon}`.
    pub metric: String,
    pub name: &'static str,
    pub unit: Unit,
    pub workload: Option<String>,
    /// The expression as written, e.g. `p(99) < 5ms`.
    pub expr: String,
    pub agg: Agg,
    pub op: Op,
    /// The limit in the metric's unit (ms, bytes or plain).
    pub limit: f64,
    /// `{window=1m}`: every window of this length (virtual time) must pass on its own.
    pub window: Option<Duration>,
    /// k6's `abortOnFail`: evaluated on every interval boundary; a failure stops the run.
    pub abort_on_fail: bool,
    /// k6's `delayAbortEval`: no abort before this much virtual time has run.
    pub delay_abort_eval: Duration,
}

/// The tags of a threshold key: `{workload=name, window=1m}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tags {
    pub workload: Option<String>,
    pub window: Option<Duration>,
}

/// Metrics whose windows can be evaluated: the interval histograms hold DurationTotal.
pub const WINDOWED: &[&str] = &["duration_total"];

/// Splits `name{workload=x,window=1m}` and finds the metric. Errors carry a did-you-mean.
pub fn parse_metric(key: &str) -> Result<(&'static MetricDef, Tags), String> {
    let (name, tags) = match key.split_once('{') {
        Some((n, rest)) => {
            let tags = rest
                .strip_suffix('}')
                .ok_or_else(|| format!("{key:?}: tags must end with '}}'"))?;
            (n.trim(), Some(tags))
        }
        None => (key.trim(), None),
    };
    let Some(def) = METRICS.iter().find(|m| m.name == name) else {
        let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        let hint = tokencache::config::closest(name, &names)
            .map(|c| format!(" (did you mean {c:?}?)"))
            .unwrap_or_default();
        return Err(format!(
            "unknown metric {name:?}{hint}; known: {}",
            names.join(", ")
        ));
    };
    let mut out = Tags::default();
    for t in tags.into_iter().flat_map(|t| t.split(',')) {
        let (k, v) = t
            .split_once(['=', ':'])
            .ok_or_else(|| format!("tag {t:?} is not name=value"))?;
        let (k, v) = (k.trim(), v.trim());
        match k {
            "workload" => {
                if !def.per_workload {
                    return Err(format!("metric {name:?} has no per-workload values"));
                }
                if out.workload.replace(v.to_owned()).is_some() {
                    return Err("tag workload given twice".into());
                }
            }
            "window" => {
                if !WINDOWED.contains(&def.name) {
                    return Err(format!(
                        "metric {name:?} has no windows: window thresholds run on the interval histograms, which hold {}",
                        WINDOWED.join(", ")
                    ));
                }
                let d = units::duration(v).map_err(|e| format!("tag window: {e}"))?;
                if d.is_zero() {
                    return Err("tag window: must be greater than zero".into());
                }
                if out.window.replace(d).is_some() {
                    return Err("tag window given twice".into());
                }
            }
            k => {
                let hint = tokencache::config::closest(k, &["workload", "window"])
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown tag {k:?}{hint}: the tags are workload and window"
                ));
            }
        }
    }
    Ok((def, out))
}

/// Parses `[agg] op limit` for a metric.
pub fn parse_expr(def: &MetricDef, expr: &str) -> Result<(Agg, Op, f64), String> {
    let s = expr.trim();
    let (agg, rest) = if let Some(r) = s.strip_prefix("p(") {
        let (n, rest) = r
            .split_once(')')
            .ok_or_else(|| format!("{expr:?}: p( without )"))?;
        let p: f64 = n
            .trim()
            .parse()
            .ok()
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| format!("{expr:?}: percentile {n:?} is not in 0..100"))?;
        (Agg::P(p), rest)
    } else {
        let word_end = s
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(s.len());
        let (word, rest) = s.split_at(word_end);
        let agg = match word {
            "" => None,
            "value" => Some(Agg::Value),
            "count" => Some(Agg::Count),
            "rate" => Some(Agg::Rate),
            "avg" => Some(Agg::Avg),
            "min" => Some(Agg::Min),
            "max" => Some(Agg::Max),
            "med" => Some(Agg::Med),
            w => return Err(format!("{expr:?}: unknown aggregation {w:?} (use p(N), avg, min, max, med, count, rate or value)")),
        };
        let default = match def.aggs[0] {
            "p(N)" => Agg::P(99.0),
            "count" => Agg::Count,
            "rate" => Agg::Rate,
            "max" => Agg::Max,
            _ => Agg::Value,
        };
        (agg.unwrap_or(default), rest)
    };
    let agg_name = match agg {
        Agg::P(_) => "p(N)".to_owned(),
        a => a.to_string(),
    };
    if !def.aggs.contains(&agg_name.as_str()) {
        return Err(format!(
            "{expr:?}: {} has no {agg_name}; use {}",
            def.name,
            def.aggs.join(", ")
        ));
    }
    let rest = rest.trim();
    let ops = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let (op, limit) = ops
        .iter()
        .find_map(|(t, op)| rest.strip_prefix(t).map(|l| (*op, l.trim())))
        .ok_or_else(|| format!("{expr:?}: expected a comparison (<, <=, >, >=, ==, !=)"))?;
    let limit = match def.unit {
        Unit::Millis if limit.ends_with(|c: char| c.is_ascii_alphabetic()) => {
            units::duration(limit)?.as_secs_f64() * 1000.0
        }
        Unit::Bytes => units::size(limit)? as f64,
        _ => limit
            .parse()
            .map_err(|_| format!("{expr:?}: {limit:?} is not a number"))?,
    };
    Ok((agg, op, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_like_k6() {
        let (def, tags) = parse_metric("duration_total{workload=daemon}").unwrap();
        assert_eq!(
            (def.name, tags.workload.as_deref()),
            ("duration_total", Some("daemon"))
        );
        assert_eq!(
            parse_expr(def, "p(99) < 5ms").unwrap(),
            (Agg::P(99.0), Op::Lt, 5.0)
        );
        assert_eq!(
            parse_expr(def, "avg<=0.5").unwrap(),
            (Agg::Avg, Op::Le, 0.5)
        );
        let (def, _) = parse_metric("token_source.cache_ratio").unwrap();
        assert_eq!(
            parse_expr(def, ">= 0.99").unwrap(),
            (Agg::Value, Op::Ge, 0.99)
        );
        let (def, _) = parse_metric("memory.l1_bytes").unwrap();
        assert_eq!(parse_expr(def, "max < 1KiB").unwrap().2, 1024.0);
        assert!(parse_metric("duration_totl")
            .unwrap_err()
            .contains("did you mean \"duration_total\""));
        assert!(parse_expr(def, "p(99) < 3")
            .unwrap_err()
            .contains("has no p(N)"));
    }

    #[test]
    fn window_tags_parse_and_are_checked() {
        let (_, tags) = parse_metric("duration_total{window=1m, workload=api}").unwrap();
        assert_eq!(tags.window, Some(Duration::from_secs(60)));
        assert_eq!(tags.workload.as_deref(), Some("api"));
        assert!(parse_metric("token_source.cache_ratio{window=1m}")
            .unwrap_err()
            .contains("has no windows"));
        assert!(parse_metric("duration_total{window=0s}")
            .unwrap_err()
            .contains("greater than zero"));
        assert!(parse_metric("duration_total{windo=1m}")
            .unwrap_err()
            .contains("did you mean \"window\""));
        assert!(parse_metric("duration_total{window=soon}")
            .unwrap_err()
            .contains("tag window"));
    }
}
